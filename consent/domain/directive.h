// A patient's directive: a FHIR R4 Consent resource (scope patient-privacy), parsed
// into the parts the decision engine reads. Parsing validates the whole resource first
// and refuses it with every problem's FHIR path; a directive is never half-understood.
//
// What we read, and how (docs/consent.md says the same for operators):
//   Consent.status          only "active" counts in a decision
//   Consent.dateTime        required: the most recent active consent governs
//   Consent.policyRule      OPTIN/OPTINR (permit) or OPTOUT/OPTOUTE (deny): the base
//                           provision's type when provision.type is absent
//   provision.type          permit | deny; a nested provision without a type is an
//                           exception to its parent and takes the opposite type
//   provision.period        when the provision applies (checked against "now")
//   provision.actor         Organization/<org-id> with role CST (custodian) or AUT
//                           (author) names the record holder; with any other role
//                           (PRCP, IRCP, ...) the requester. An identifier with system
//                           http://hl7.org/fhir/sid/us-npi names the requesting user by
//                           NPI; system urn:hie:user-role names the user's role.
//   provision.action        applies only if it lists access, use or disclose
//   provision.purpose       v3 PurposeOfUse codes
//   provision.securityLabel sensitivity / confidentiality codes: the provision then
//                           withholds (deny) or releases (permit) those categories
//   provision.dataPeriod    on a deny: withhold the data from that period
// Refused as unsupported, with their path: provision.data, provision.class,
// provision.code, any modifierExtension, actors we cannot identify (Practitioner/123
// means nothing outside the practice that wrote it), dataPeriod on a permit.
#ifndef HIE_CONSENT_DOMAIN_DIRECTIVE_H_
#define HIE_CONSENT_DOMAIN_DIRECTIVE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fhir/datetime.h"

namespace hie::consent {

enum class ProvisionType { kPermit, kDeny };

absl::string_view ProvisionTypeName(ProvisionType type);  // "permit" / "deny"

struct Provision {
  // Where it is in the resource: "Consent.provision", "Consent.provision.provision[1]".
  std::string path;
  // As stated, or the opposite of the parent's for an exception without a type.
  ProvisionType type = ProvisionType::kDeny;
  // Nesting depth: 0 for the base provision.
  int depth = 0;
  std::optional<fhir::Period> period;
  // Organisations named as receiving the data (the requester) and as holding it.
  std::vector<std::string> recipient_orgs;
  std::vector<std::string> custodian_orgs;
  // The requesting user, by NPI or by role (lower case).
  std::vector<std::string> user_npis;
  std::vector<std::string> user_roles;
  // False if the provision lists actions and none is a disclosure (access/use/disclose).
  bool covers_disclosure = true;
  std::vector<std::string> purposes;
  std::vector<std::string> security_labels;
  std::optional<fhir::Period> data_period;
  std::vector<Provision> provisions;
};

struct ConsentDirective {
  std::string id;  // may be empty before the store assigns one
  std::string status;
  absl::Time date_time;
  std::string date_time_text;
  Provision provision;  // the base provision (depth 0)
};

// The largest Consent resource accepted, and the deepest nesting of provisions.
inline constexpr size_t kMaxConsentBytes = 256 * 1024;
inline constexpr int kMaxProvisionDepth = 8;

// Parses and validates a Consent resource. Errors: InvalidArgument with an
// ErrorDetail (reason INVALID_RESOURCE) whose field violations name each problem's path
// ("Consent.provision.provision[0].purpose[0].code"); the message names the first.
absl::StatusOr<ConsentDirective> ParseConsent(absl::string_view json);

}  // namespace hie::consent

#endif  // HIE_CONSENT_DOMAIN_DIRECTIVE_H_
