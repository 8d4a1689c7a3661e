// The consent decision: DESIGN.md's "Consent semantics", deterministically.
//
// 1. Only active Consent resources count, and only those whose base provision applies
//    to the request (its period covers now; the actors, purposes and actions it states
//    match). Of those, the one with the latest dateTime governs (ties: the greater id).
//    Our reading: FHIR scopes a consent by its base provision, so a base provision
//    naming one organisation ("withdraw consent for Good Health Clinic") says nothing
//    about requests from others, which fall to the policy as if no consent were on file.
// 2. No governing consent: opt-out permits the policy's purposes without consent and
//    denies the rest; opt-in denies.
// 3. A governing consent: the base type decides unless a nested provision applies
//    (every criterion it states matches, and its parent applies: a nested provision is
//    an exception to its parent). Among applicable provisions without securityLabel,
//    the deepest decides the whole request; deny wins at equal depth. A provision with
//    securityLabel withholds (deny) or releases (permit) those categories, per category
//    by the same deepest-then-deny rule. A deny with dataPeriod withholds the data of
//    that period (only the labelled categories, if it has labels).
// 4. Actors are organisations as Organization/<org-id>; as recipient (any role but CST
//    and AUT) they match the requester, as custodian (CST, AUT) the holder. Users match
//    by NPI or role. Several actors of one kind: any matches; of different kinds: each
//    kind must match.
// 5. ETREAT needs a reason (not only whitespace), always, and a user role the policy lists for
//    break-the-glass. With both, when the policy allows break-the-glass, it is permitted
//    over the policy's deny (and over a patient's directive only if the policy says
//    so), withholds the policy's categories. Every permitted ETREAT, over a deny or
//    not, is flagged for the audit's alert.
// 6. A permit lists the categories withheld: the policy's defaults not released by the
//    patient plus those the patient withheld.
#ifndef HIE_CONSENT_DOMAIN_ENGINE_H_
#define HIE_CONSENT_DOMAIN_ENGINE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/fhir/datetime.h"
#include "consent/domain/directive.h"
#include "consent/domain/policy.h"

namespace hie::consent {

struct DecisionRequest {
  std::string requester_org;
  // The holder this decision is for; empty to decide for no holder in particular (then
  // provisions that name a custodian never apply).
  std::string holder_org;
  // A v3 PurposeOfUse code.
  std::string purpose;
  std::string user_role;
  std::string user_npi;
  std::string break_glass_reason;
  absl::Time now;
};

struct WithheldData {
  fhir::Period data_period;
  std::vector<std::string> categories;  // empty: everything from the period
  std::string provision_path;
};

struct Decision {
  bool permit = false;
  // Sorted, unique.
  std::vector<std::string> withheld;
  std::vector<WithheldData> withheld_data;
  // ETREAT permitted (over a deny or not): the audit raises an alert.
  bool break_glass = false;
  // For a person: which rule decided and how.
  std::string reason;
  // The governing directive and the provision that decided the whole request (empty
  // when the policy decided).
  std::string directive_id;
  std::string provision_path;
  // True if an applicable permitting provision names the holder as custodian: the
  // patient's consent covers this requester seeing that holder (needed to name a
  // holder the directory marks sensitive).
  bool holder_named = false;
};

// Decides `request` under `policy` and the patient's `directives` (any status; the
// engine picks the governing one). Errors: InvalidArgument for a purpose that is not a
// v3 PurposeOfUse code.
absl::StatusOr<Decision> Decide(const Policy& policy,
                                const std::vector<const ConsentDirective*>& directives,
                                const DecisionRequest& request);

}  // namespace hie::consent

#endif  // HIE_CONSENT_DOMAIN_ENGINE_H_
