// Feeds arbitrary bytes to FHIR ingest as a JSON document and as NDJSON: every outcome is
// records or problems with a path, never a crash; a refused transaction yields no record;
// every record names a known type and carries the JSON it was made from.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "node/domain/fhir_ingest.h"
#include "node/domain/resource_types.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hie::node::Labeler* labeler = [] {
    auto l = hie::node::Labeler::FromConfig({});
    return new hie::node::Labeler(*std::move(l));
  }();
  hie::node::FhirIngester ingester(labeler, {.max_resource_bytes = 2048});
  std::string text(reinterpret_cast<const char*>(data), size);
  for (bool ndjson : {false, true}) {
    hie::node::IngestBatch batch =
        ndjson ? ingester.ParseNdjson(text, "fuzz") : ingester.ParseJson(text, "fuzz");
    if (batch.transaction_refused && !batch.records.empty()) std::abort();
    for (const auto& p : batch.problems) {
      if (p.path.empty() || p.message.empty()) std::abort();
    }
    for (const auto& r : batch.records) {
      if (!hie::node::IsFhirR4ResourceType(r.resource_type()) || r.fhir_json().empty())
        std::abort();
      if (r.resource_id().empty()) std::abort();
    }
    (void)hie::node::OperationOutcomeJson(batch.problems);
  }
  return 0;
}
