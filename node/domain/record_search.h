// FHIR R4 search over a practice's own records: a search (a type and its query
// parameters) parsed into a SearchQuery, run against the RecordStore one page at a time.
//
//   SearchQuery::Parse("Observation", {{"patient", "p-1"}, {"date", "ge2020"},
//                                      {"_sort", "-date"}, {"_count", "20"}})
//
// What each type answers is one table (SearchParamsFor): Patient by identifier, family,
// given, name, birthdate and gender; clinical types by patient / subject, date, code and
// category where the type has such an element, and a few of FHIR's own names for the
// same elements (vaccine-code, onset-date, created...); every type by _id. A parameter
// the table does not define for the type is refused, never ignored.
//
// Semantics (FHIR R4 search, 3.1.1):
//   token      code | system|code | |code (no system) | system|  against Coding.system and
//              .code (CodeableConcept.coding[]), Identifier.system and .value, and plain
//              codes (with the code system the table gives them, e.g. gender's).
//   string     starts-with, ignoring case and accents (José = jose = JOSE); :exact is the
//              whole value, case and accents included; :contains anywhere in the value.
//   date       [prefix]value, the value's precision as a range (2020 is the whole year);
//              prefixes eq (default), ne, gt, lt, ge, le, sa, eb, as FHIR compares ranges;
//              a Period element is the range from its start to its end.
//   reference  patient / subject: Patient/<id> or <id> (or a URL ending in Patient/<id>):
//              the patient the node filed the record under.
//   a,b        either value (OR); the same parameter twice: both (AND).
// Result parameters: _count (default 50, at most 1000; larger is taken as 1000),
// _sort (_id, the default; or a date parameter of the type: date, -date, birthdate...;
// - for descending), _include=<Type>:patient|subject (the Patients the page's matches
// are about), _cursor (a next link's position).
//
// Paging is keyset: a page ends with a cursor naming the sort position of its last entry,
// and the next page starts after that position, so records added, changed or deleted
// between pages never make another record repeat or go missing. Under a date sort a
// record changed during paging keeps the position its version at the start of the paging
// had, so it cannot come twice either (it is returned as it is now). Cursors are signed
// (HMAC-SHA256 with the node's key) and bound to their search: a cursor is refused with any
// other query.
#ifndef HIE_NODE_DOMAIN_RECORD_SEARCH_H_
#define HIE_NODE_DOMAIN_RECORD_SEARCH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "node/domain/record_store.h"
#include "proto/hie/v1/record.pb.h"

namespace hie::node {

// One query parameter, percent-decoded: name (with its modifier, "family:exact") and value.
struct SearchParam {
  std::string name;
  std::string value;
};

// One search parameter a type answers, as a CapabilityStatement lists it.
struct SearchParamInfo {
  std::string name;
  std::string type;           // FHIR SearchParamType: "token", "string", "date", "reference"
  std::string documentation;  // the elements it reads, and how
};

// The parameters `type` answers (its rows of the table, then _id), in table order.
std::vector<SearchParamInfo> SearchParamsFor(absl::string_view type);

// The types with rows in the table (every other type answers _id only).
std::vector<std::string> SearchableTypes();

// The _include values `type` answers ("Observation:patient", "Observation:subject").
std::vector<std::string> SearchIncludesFor(absl::string_view type);

// A parsed search. Copyable, immutable, thread-safe.
class SearchQuery {
 public:
  static constexpr int kDefaultCount = 50;
  static constexpr int kMaxCount = 1000;

  // Parses the query parameters of a search on `type`.
  // Errors: NotFound if `type` is not an R4 resource type; InvalidArgument naming the
  // parameter for: a parameter the type does not answer (or a result parameter this node
  // does not serve: _summary, _revinclude...), a modifier the parameter does not take,
  // an empty value, a date or prefix that does not parse, a reference to anything but a
  // Patient, a _count that is not a number >= 0, a _sort or _include the type does not
  // answer, or _count, _sort or _cursor given twice.
  static absl::StatusOr<SearchQuery> Parse(absl::string_view type,
                                           const std::vector<SearchParam>& params);

  const std::string& type() const;
  // Entries per page (0: the total only).
  int count() const;
  // True when _include asks for the Patients the matches are about.
  bool includes_patients() const;
  // The parameters as a link repeats them: as given, in order, without _cursor, with
  // _count as taken.
  std::vector<SearchParam> LinkParams() const;
  // The _cursor given ("" on a first page).
  const std::string& cursor() const;

  struct Parsed;  // internal

 private:
  friend class RecordSearch;
  explicit SearchQuery(std::shared_ptr<const Parsed> parsed) : parsed_(std::move(parsed)) {}
  std::shared_ptr<const Parsed> parsed_;
};

struct SearchPage {
  // This page's matches, in sort order, as they are now.
  std::vector<hie::v1::RecordEnvelope> matches;
  // With _include: the Patients the matches are about, each once (missing or deleted
  // ones left out).
  std::vector<hie::v1::RecordEnvelope> included;
  // The _cursor of the next page; empty on the last one.
  std::string next_cursor;
  // Every current match of the search (all pages).
  int64_t total = 0;
};

// Runs searches against a practice's records. Thread-safe.
class RecordSearch {
 public:
  // How long before a first page the paging's snapshot is taken. The store stamps a write
  // before it commits, so every write stamped before the snapshot must be visible to the
  // first page: the margin is longer than a synced write takes. The price: under a date
  // sort, a record changed within the margin before the paging began sorts by its previous
  // version (it is returned as it is now).
  static constexpr absl::Duration kSnapshotMargin = absl::Seconds(5);

  // `records` and `clock` (the store's) must outlive the search; `cursor_key` (secret,
  // at least 16 bytes) signs cursors: see CursorKey.
  RecordSearch(const RecordStore* records, const Clock* clock, std::string cursor_key);

  // The node's cursor key: read from `store` (key ("search", "cursor-key")), or made
  // (random, 32 bytes) and stored (synced) the first time, so that next links stay valid
  // across restarts. Errors: the store's; DataLoss for a stored key of the wrong size.
  // REQUIRES: not called concurrently for one store (it is read once, at start-up).
  static absl::StatusOr<std::string> CursorKey(store::KvStore* store);

  // One page of `query`: the first page, or the one after query.cursor().
  // Errors: InvalidArgument if the cursor is malformed, not signed by this node's key or
  // issued for another search; the store's.
  absl::StatusOr<SearchPage> Run(const SearchQuery& query) const;

  // Conditional create (If-None-Exist): the current records of `type` matching
  // `condition`, a query string ("identifier=http://x|1&family=Doe", percent-encoded as a
  // URL's query is), in id order, at most `limit` of them.
  // Errors: as SearchQuery::Parse; InvalidArgument for a condition that is empty, does
  // not decode, or holds result parameters (_count, _sort, _include, _cursor); the store's.
  absl::StatusOr<std::vector<hie::v1::RecordEnvelope>> FindExisting(absl::string_view type,
                                                                    absl::string_view condition,
                                                                    size_t limit) const;

 private:
  const RecordStore* const records_;
  const Clock* const clock_;
  const std::string cursor_key_;
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_RECORD_SEARCH_H_
