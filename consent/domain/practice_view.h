// What a practice may read of the consent service's audit about its patient. The
// consent service's log holds every organisation's decisions, directive changes and
// query entries for a patient under the patient's EUID; a practice that asks for the
// accounting of its own patient sees who looked (requester, user, purpose, time,
// outcome, break-the-glass alerts) but never which other organisations hold the
// patient, nor their local ids: a sensitive programme is not revealed by the audit any
// more than by a grant (docs/consent.md).
#ifndef HIE_CONSENT_DOMAIN_PRACTICE_VIEW_H_
#define HIE_CONSENT_DOMAIN_PRACTICE_VIEW_H_

#include <optional>
#include <string>

#include "proto/hie/v1/audit.pb.h"
#include "proto/hie/v1/consent.pb.h"

namespace hie::consent {

// `entry` as practice `org` may read it, or nullopt if it may not read it at all:
//  - its own entries (actor_org == org), and entries about its own registration
//    (patient.org_id == org: a refusal naming its patient, an operator's change), whole;
//  - another organisation's access (AUTHORIZE, QUERY, BREAK_GLASS: the actor is the
//    requester) without patient (the requester's local id), without the detail of a
//    permit or a query (they name holders; a deny's reason and a break-the-glass alert's
//    requester, user and reason stay), and without counterpart_org unless that is `org`;
//  - anything else of another organisation (a directive it filed, a disclosure it made:
//    the actor is a holder) not at all.
// The hashes are those of the whole entry (Verify is for operators, who read it whole).
std::optional<hie::v1::AuditEntry> PracticeView(hie::v1::AuditEntry entry, const std::string& org);

// Directive `d` as practice `org` may read it (ListDirectives): whole if `org` filed it
// or it names `org`'s own registration; otherwise without patient (the filer's local
// id), filed_by_org, reason and consent_json (the resource names the filer's patient
// reference and may name holders as actors), keeping directive_id, version, euid,
// status and recorded_at: the practice learns that the patient has such a directive,
// not where.
hie::v1::Directive PracticeView(hie::v1::Directive d, const std::string& org);

}  // namespace hie::consent

#endif  // HIE_CONSENT_DOMAIN_PRACTICE_VIEW_H_
