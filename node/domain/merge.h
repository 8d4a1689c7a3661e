// The federated query's answer: the practice's own records and every holder's, as one
// FHIR R4 searchset Bundle. Each entry says where it came from: meta.source is the
// organisation that sent it as a URI (urn:hie:org:<org>; for a folded duplicate, its
// first source), and meta.tag has one tag per source (system
// http://hie.example/source-org, code = the org; the display adds when that org last
// updated it). True duplicates are folded into one entry that keeps every source: the
// same content, or the same clinical fact (same type, same code, same clinical date,
// same value) recorded at two places. A record whose JSON is not an object (a broken or
// hostile holder) is left out and counted, so the Bundle is always valid JSON.
//
// The Bundle can be far larger than any message (a thousand scanned letters), so it is
// made in pieces: BundleWriter groups the records once and renders one entry at a time
// as its text is asked for; the whole Bundle never exists as one string. A front that
// pages the answer selects a range of entries at a time (BundleWriter::SelectPage) and
// adds what belongs to that page: a Provenance per source (ProvenanceEntries), links,
// outcomes.
#ifndef HIE_NODE_DOMAIN_MERGE_H_
#define HIE_NODE_DOMAIN_MERGE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/hie/v1/record.pb.h"
#include "simdjson.h"

namespace hie::node {

inline constexpr char kSourceOrgSystem[] = "http://hie.example/source-org";
// The identifier system of an organisation's exchange id (a Provenance's agent).
inline constexpr char kOrgIdentifierSystem[] = "urn:hie:org";
// The identifier system of a federated query's id (a Provenance's entity).
inline constexpr char kQueryIdentifierSystem[] = "urn:hie:query";

// An organisation as the URI an entry's meta.source holds: "urn:hie:org:<org>".
std::string SourceOrgUri(absl::string_view org);

// One of a Bundle's links ("self", "next").
struct BundleLink {
  std::string relation;
  std::string url;
};

// What one page of the Bundle holds: the merged entries [begin, end) (clamped to the
// Bundle's), then `more_entries` (each an entry's JSON object text, such as the page's
// Provenance entries or an OperationOutcome), and `links` as Bundle.link.
struct BundlePage {
  int64_t begin = 0;
  int64_t end = 0;
  std::vector<BundleLink> links;
  std::vector<std::string> more_entries;
};

struct MergedBundle {
  std::string bundle_json;
  int64_t entries = 0;
  int64_t duplicates_folded = 0;
  // Records left out because their JSON is not an object.
  int64_t unreadable = 0;
};

// The merged Bundle's JSON text, produced piece by piece. Owns the records. Next and
// SelectPage need exclusive access; the const members may be called together from any
// thread. Until SelectPage, the text is the whole Bundle, exactly what MergeRecords
// returns. Bundle.total is always entries(); a Bundle without entries has no "entry"
// member (FHIR JSON has no empty arrays).
class BundleWriter {
 public:
  // `records` carry source_org. Groups them (the counts below are known from here on).
  explicit BundleWriter(std::vector<hie::v1::RecordEnvelope> records);
  BundleWriter(const BundleWriter&) = delete;
  BundleWriter& operator=(const BundleWriter&) = delete;

  int64_t entries() const { return static_cast<int64_t>(groups_.size()); }
  int64_t duplicates_folded() const { return duplicates_folded_; }
  int64_t unreadable() const { return unreadable_; }
  // The record text held (the sum of the records' FHIR JSON sizes): what keeping the
  // answer costs in memory, near enough.
  size_t record_bytes() const { return record_bytes_; }

  // Entry `i`'s fullUrl, unique in the Bundle: urn:uuid:<id> for a record whose id is a
  // UUID, else urn:hie:<org>:<type>/<id> of its first source. REQUIRES: 0 <= i < entries().
  const std::string& full_url(int64_t i) const { return full_urls_[i]; }
  // The organisations entry `i` came from, each once, its first source (its meta.source)
  // first. REQUIRES: 0 <= i < entries().
  std::vector<std::string> sources(int64_t i) const;
  // The record entry `i` shows: its first source's, as that source sent it (a reader
  // that renders the answer, such as the web app's record view, reads its text).
  // REQUIRES: 0 <= i < entries().
  const hie::v1::RecordEnvelope& record(int64_t i) const { return *groups_[i].front(); }
  // How many more records were folded into entry `i` as duplicates of record(i) (0 when
  // it holds one). REQUIRES: 0 <= i < entries().
  int64_t folded(int64_t i) const { return static_cast<int64_t>(groups_[i].size()) - 1; }

  // From here on Next gives the text of `page` from its start: the Bundle with the entries
  // page.begin to page.end, then page.more_entries, and page.links. bytes_written()
  // starts again from zero.
  void SelectPage(BundlePage page);

  // Appends the next at most `max_bytes` (> 0) bytes of the text to `out`. False, with
  // nothing appended, once the whole text was given. A piece may end anywhere.
  bool Next(size_t max_bytes, std::string* out);
  // Bytes given so far (the Bundle's or page's size once Next returned false).
  int64_t bytes_written() const { return written_; }

 private:
  // Fills `pending_` with the next part of the text: the opening, an entry, the close.
  bool Render();

  std::vector<hie::v1::RecordEnvelope> records_;
  std::vector<std::vector<const hie::v1::RecordEnvelope*>> groups_;
  std::vector<std::string> full_urls_;  // by group
  int64_t duplicates_folded_ = 0;
  int64_t unreadable_ = 0;
  size_t record_bytes_ = 0;
  simdjson::dom::parser parser_;
  BundlePage page_;
  // -1: the opening not yet made; then the next group of the page to render.
  int64_t next_group_ = -1;
  size_t next_more_ = 0;  // the next of page_.more_entries
  bool first_entry_ = true;
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

// One Provenance entry (search.mode "include") for each organisation that sent any of
// `bundle`'s entries [begin, end) (clamped), in the order they first appear: its target
// is every one of those entries it sent, by fullUrl (a folded duplicate counts for each
// of its sources); recorded is `recorded` (when the answer was assembled); the agent is
// the organisation (custodian; who.identifier system kOrgIdentifierSystem); the entity
// is the query (role source; identifier system kQueryIdentifierSystem). Each says
// where it came from as every entry does: `assembler`, the organisation whose node
// assembled the answer, is its meta.source and its source-org tag. Each entry's fullUrl
// is a urn:uuid made from the query, the organisation and the range: the same page of
// the same answer gives the same text.
std::vector<std::string> ProvenanceEntries(const BundleWriter& bundle, int64_t begin, int64_t end,
                                           absl::Time recorded, absl::string_view query_id,
                                           absl::string_view assembler);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_MERGE_H_
