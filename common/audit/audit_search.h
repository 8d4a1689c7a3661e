// Searching an audit chain as FHIR searches AuditEvents (IHE BALP): by patient, by the
// time recorded (date, with FHIR's prefixes), by agent (an organisation or user that
// acted, or the other party), by subtype (the hie audit action) and by action (FHIR's
// C/R/U/D/E), oldest first, paged by sequence so a page link stays valid while the
// chain grows.
#ifndef HIE_COMMON_AUDIT_AUDIT_SEARCH_H_
#define HIE_COMMON_AUDIT_AUDIT_SEARCH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/audit/audit_log.h"
#include "common/fhir/date_search.h"

namespace hie::audit {

struct AuditSearch {
  std::optional<PatientKey> patient;
  std::vector<fhir::DateParam> dates;          // each must hold
  std::vector<std::string> agents;             // any (comma-separated values of one param)
  std::vector<hie::v1::AuditAction> subtypes;  // any
  std::vector<std::string> actions;            // any of C R U D E
  size_t count = 100;                          // 1..1000
  uint64_t after = 0;                          // entries with a higher sequence only
};

// The search parameters (name, value) of GET /AuditEvent: patient (Patient/<id> or <id>,
// a local id of `own_org`), date, agent, subtype, action, _count, _after (the cursor a
// next link carries). Errors: InvalidArgument naming the parameter (unknown, repeated
// where it may not be, or a malformed value).
absl::StatusOr<AuditSearch> ParseAuditSearch(
    const std::vector<std::pair<std::string, std::string>>& params, const std::string& own_org);

struct AuditPage {
  std::vector<hie::v1::AuditEntry> entries;
  // The cursor for the next page (the last sequence looked at); 0 when the search is done.
  uint64_t next_after = 0;
};

// Runs `search`: at most search.count entries, and at most `max_scanned` entries looked
// at (a page may then be short and still have a next).
absl::StatusOr<AuditPage> RunAuditSearch(const AuditLog& log, const AuditSearch& search,
                                         size_t max_scanned = 100000);

}  // namespace hie::audit

#endif  // HIE_COMMON_AUDIT_AUDIT_SEARCH_H_
