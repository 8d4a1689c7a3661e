// The federated query's answer: the practice's own records and every holder's, as one
// FHIR R4 searchset Bundle. Each entry says where it came from (meta.tag with system
// http://hie.example/source-org, code = the org; the display adds when that org last
// updated it). True duplicates are folded into one entry that keeps every source: the
// same content, or the same clinical fact (same type, same code, same clinical date,
// same value) recorded at two places. A record whose JSON is not an object (a broken or
// hostile holder) is left out and counted, so the Bundle is always valid JSON.
//
// The Bundle can be far larger than any message (a thousand scanned letters), so it is
// made in pieces: BundleWriter groups the records once and renders one entry at a time
// as its text is asked for; the whole Bundle never exists as one string.
#ifndef HIE_NODE_DOMAIN_MERGE_H_
#define HIE_NODE_DOMAIN_MERGE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/hie/v1/record.pb.h"
#include "simdjson.h"

namespace hie::node {

inline constexpr char kSourceOrgSystem[] = "http://hie.example/source-org";

struct MergedBundle {
  std::string bundle_json;
  int64_t entries = 0;
  int64_t duplicates_folded = 0;
  // Records left out because their JSON is not an object.
  int64_t unreadable = 0;
};

// The merged Bundle's JSON text, produced piece by piece. Owns the records. Not
// thread-safe. The text is exactly what MergeRecords returns.
class BundleWriter {
 public:
  // `records` carry source_org. Groups them (the counts below are known from here on).
  explicit BundleWriter(std::vector<hie::v1::RecordEnvelope> records);
  BundleWriter(const BundleWriter&) = delete;
  BundleWriter& operator=(const BundleWriter&) = delete;

  int64_t entries() const { return static_cast<int64_t>(groups_.size()); }
  int64_t duplicates_folded() const { return duplicates_folded_; }
  int64_t unreadable() const { return unreadable_; }

  // Appends the next at most `max_bytes` (> 0) bytes of the text to `out`. False, with
  // nothing appended, once the whole text was given. A piece may end anywhere.
  bool Next(size_t max_bytes, std::string* out);
  // Bytes given so far (the Bundle's size once Next returned false).
  int64_t bytes_written() const { return written_; }

 private:
  // Fills `pending_` with the next part of the text: the opening, an entry, the close.
  bool Render();

  std::vector<hie::v1::RecordEnvelope> records_;
  std::vector<std::vector<const hie::v1::RecordEnvelope*>> groups_;
  int64_t duplicates_folded_ = 0;
  int64_t unreadable_ = 0;
  simdjson::dom::parser parser_;
  // -1: the opening not yet made; groups_.size(): the close made.
  int64_t next_group_ = -1;
  bool closed_ = false;
  std::string pending_;
  size_t pending_offset_ = 0;
  int64_t written_ = 0;
};

// Records left out of an answer because each is larger than the size limit: how many,
// and the first kMaxSkippedNamed as "Type/id".
inline constexpr size_t kMaxSkippedNamed = 100;
struct SkippedRecords {
  int64_t count = 0;
  std::vector<std::string> references;

  void Add(const hie::v1::RecordEnvelope& record);
  // Another party's count and names (a holder's summary), added to these.
  void Add(int64_t count, const std::vector<std::string>& references);
};

// Removes from `records` each one whose FHIR JSON is longer than `max_bytes`, noting it
// in `skipped`; the others keep their order.
void LeaveOutLarger(std::vector<hie::v1::RecordEnvelope>* records, size_t max_bytes,
                    SkippedRecords* skipped);

// `records` carry source_org. Entries are ordered by resource type, then source, then id.
// The whole Bundle as one string: for small answers and tests.
MergedBundle MergeRecords(std::vector<hie::v1::RecordEnvelope> records);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_MERGE_H_
