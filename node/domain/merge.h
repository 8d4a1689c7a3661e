// The federated query's answer: the practice's own records and every holder's, as one
// FHIR R4 searchset Bundle. Each entry says where it came from (meta.tag with system
// http://hie.example/source-org, code = the org; the display adds when that org last
// updated it). True duplicates are folded into one entry that keeps every source: the
// same content, or the same clinical fact (same type, same code, same clinical date,
// same value) recorded at two places. A record whose JSON is not an object (a broken or
// hostile holder) is left out and counted, so the Bundle is always valid JSON.
#ifndef HIE_NODE_DOMAIN_MERGE_H_
#define HIE_NODE_DOMAIN_MERGE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/hie/v1/record.pb.h"

namespace hie::node {

inline constexpr char kSourceOrgSystem[] = "http://hie.example/source-org";

struct MergedBundle {
  std::string bundle_json;
  int64_t entries = 0;
  int64_t duplicates_folded = 0;
  // Records left out because their JSON is not an object.
  int64_t unreadable = 0;
};

// `records` carry source_org. Entries are ordered by resource type, then source, then id.
MergedBundle MergeRecords(std::vector<hie::v1::RecordEnvelope> records);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_MERGE_H_
