// An NDJSON import as it arrives from a practice's feed: split into chunks anywhere.
// The first input byte chooses the chunk sizes; the rest is the NDJSON. The same text
// is imported once whole and once in chunks, each into its own in-memory store with an
// outbox to the MPI. Properties checked: line joining across chunks does not change
// the outcome (every resource named in the input is stored with the same content, or
// absent, in both; the same number of lines refused; the same patients changed);
// every refusal names a line within the input; an endless line is refused at the
// resource limit. (How many lines count as accepted may differ: within one batch a
// later line with the same type and id supersedes an earlier one before it is stored.)
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/time/clock.h"
#include "node/domain/importer.h"
#include "simdjson.h"
#include "tests/fuzz/memory_kv_store.h"

namespace {

constexpr size_t kMaxResourceBytes = 1024;

void Check(bool ok) {
  if (!ok) std::abort();
}

struct Run {
  hie::fuzz::MemoryKvStore kv;
  hie::node::RecordStore records{&kv, hie::Clock::Real()};
  std::unique_ptr<hie::node::Outbox> outbox = *hie::node::Outbox::Open(&kv);
  hie::node::ImportTotals totals;
};

void Import(const hie::node::FhirIngester& ingester, absl::string_view text, size_t chunk,
            Run& run) {
  hie::node::Importer importer(&ingester, &run.records, run.outbox.get());
  while (!text.empty()) {
    size_t n = std::min(chunk, text.size());
    Check(importer.AddNdjson(text.substr(0, n), "fuzz.ndjson").ok());
    text.remove_prefix(n);
  }
  Check(importer.Finish().ok());
  run.totals = importer.totals();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 16384) return 0;
  static const hie::node::Labeler* labeler = [] {
    auto l = hie::node::Labeler::FromConfig({});
    return new hie::node::Labeler(*std::move(l));
  }();
  hie::node::FhirIngester ingester(labeler, {.max_resource_bytes = kMaxResourceBytes});
  size_t chunk = 1 + data[0] % 97;
  absl::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  Run whole, split;
  Import(ingester, text, text.size() + 1, whole);
  Import(ingester, text, chunk, split);

  int64_t lines = std::count(text.begin(), text.end(), '\n') + 1;
  for (const Run* run : {&whole, &split}) {
    for (const auto& p : run->totals.rejected) {
      Check(p.position >= 1 && p.position <= lines && !p.message.empty());
    }
  }
  simdjson::dom::parser parser;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::string_view type, id;
    simdjson::dom::element resource;
    if (parser.parse(line.data(), line.size()).get(resource) ||
        resource["resourceType"].get_string().get(type) || resource["id"].get_string().get(id)) {
      continue;
    }
    auto a = whole.records.Get(std::string(type), std::string(id));
    auto b = split.records.Get(std::string(type), std::string(id));
    Check(a.ok() == b.ok());
    if (a.ok()) Check(a->fhir_json() == b->fhir_json());
  }
  Check(whole.totals.rejected.size() == split.totals.rejected.size());
  Check(whole.totals.patients_changed == split.totals.patients_changed);
  return 0;
}
