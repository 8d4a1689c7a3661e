// The federated query's merge over records that holders sent: a holder may be broken
// or hostile, so each line of the input is the FHIR JSON of one record, from one of
// three holders in turn. Properties checked: the merged answer is always one valid
// JSON searchset Bundle whose entries (each an object tagged with its sources) plus
// the folded duplicates and the records left out account for every record; the
// clinical date of a record and the period filter never fail on what a record holds.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/crypto/hash.h"
#include "node/domain/disclosure.h"
#include "node/domain/merge.h"
#include "simdjson.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  static constexpr const char* kTypes[] = {"Observation", "Condition", "Patient", "Immunization"};
  hie::v1::Period period;
  period.mutable_start()->set_seconds(946684800);  // 2000-01-01
  period.mutable_end()->set_seconds(1893456000);   // 2030-01-01
  std::vector<hie::v1::RecordEnvelope> records;
  int i = 0;
  for (absl::string_view line : absl::StrSplit(input, '\n')) {
    if (records.size() == 32) break;
    hie::v1::RecordEnvelope r;
    r.set_resource_type(kTypes[i % 4]);
    r.set_resource_id(absl::StrCat("r", i / 2));
    r.set_source_org(absl::StrCat("org-", i % 3));
    r.set_fhir_json(std::string(line));
    r.set_content_sha256(hie::crypto::Sha256(line));
    r.mutable_last_updated()->set_seconds(1700000000 + i);
    (void)hie::node::ClinicalDate(r.fhir_json());
    (void)hie::node::OutsidePeriod(r, period);
    records.push_back(std::move(r));
    ++i;
  }
  size_t count = records.size();
  hie::node::MergedBundle merged = hie::node::MergeRecords(std::move(records));
  Check(merged.entries >= 0 && merged.duplicates_folded >= 0);
  Check(static_cast<size_t>(merged.entries + merged.duplicates_folded + merged.unreadable) ==
        count);

  simdjson::dom::parser parser;
  simdjson::dom::element bundle;
  Check(!parser.parse(merged.bundle_json).get(bundle));
  std::string_view type;
  Check(!bundle["resourceType"].get_string().get(type) && type == "Bundle");
  simdjson::dom::array entries;
  Check(!bundle["entry"].get_array().get(entries));
  int64_t n = 0;
  for (auto entry : entries) {
    simdjson::dom::array tags;
    Check(!entry["resource"]["meta"]["tag"].get_array().get(tags));
    ++n;
  }
  Check(n == merged.entries);
  return 0;
}
