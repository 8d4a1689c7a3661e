// A patient's sharing choices as the portal offers them, and the FHIR R4 Consent
// (scope patient-privacy) that states them at the consent service: share my records
// across the exchange or not, and for each sensitive category whether it is shared.
// The consent service's own parser (consent::ParseConsent) reads what is built here;
// this module only writes the resource and reads the choices back from one it wrote.
//
// Per practice: the practices holding the patient's records are named to no one but
// through a consent decision (docs/consent.md, "Holders, sensitive organisations and the
// grant"). The portal lists them from the grant the consent service issues to this
// practice for the patient's own request (DisclosureAccounting::PatientPractices), so
// the patient sees exactly the practices a decision lets this practice know, and may
// say of each that it must not see their records.
//
// The Consent built (nested provisions decide by depth; deeper wins, docs/consent.md):
//   provision.type            permit (share) or deny (do not share)
//     permit, purpose PATRQT  only when not sharing: the patient's own request through
//                             the portal still goes through (the opt-out does not cut
//                             the patient off from their own record)
//     per category shared:     permit with its securityLabels (releases the category,
//                             42CFRPart2 included for substance use)
//     per category not shared: deny with its securityLabels, and nested in it a permit
//                             for PATRQT with the same labels: the restriction keeps
//                             the category from practices, not from the patient
#ifndef HIE_NODE_DOMAIN_SHARING_CHOICES_H_
#define HIE_NODE_DOMAIN_SHARING_CHOICES_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "consent/domain/directive.h"

namespace hie::node {

// A sensitive category the portal offers, with the codes the labeler and the consent
// engine use for it.
struct SensitiveCategory {
  const char* key;    // the form's field suffix: "substance-use"
  const char* words;  // for the patient: "Substance-use treatment"
  std::vector<std::string> codes;
};

// Substance use (42CFRPart2, ETH), mental health (PSY), HIV (HIV), sexual and
// reproductive health (SEX), in that order.
const std::vector<SensitiveCategory>& SensitiveCategories();

struct SharingChoices {
  // Share my records with the practices of the exchange (opt in) or not (opt out).
  bool share = true;
  // The keys (SensitiveCategory::key) of the categories shared; the others are not.
  std::vector<std::string> shared_categories;
  // The org ids of the practices that may not see the patient's records, whatever the
  // choices above; every other practice may (as the choices above say).
  std::vector<std::string> denied_practices;

  bool Shares(absl::string_view category_key) const;
  bool MaySee(absl::string_view org_id) const;
};

// The id prefix of the directives the portal files: the patient's portal directive is
// replaced (a new version of the same id) rather than piled up.
inline constexpr char kPortalDirectivePrefix[] = "portal-";

// A new portal directive id: kPortalDirectivePrefix and 24 random hex digits (a FHIR
// id; it says nothing about the patient, since other practices see directive ids).
// Errors: Unavailable if the random generator fails.
absl::StatusOr<std::string> NewPortalDirectiveId();

// The Consent resource (JSON) stating `choices` for the patient `patient_local_id` (as
// this practice knows them), with id `directive_id`, dated `now` (milliseconds: a
// change supersedes one made a second before).
std::string SharingConsentJson(const SharingChoices& choices, absl::string_view directive_id,
                               absl::string_view patient_local_id, absl::Time now);

// The choices a Consent built by SharingConsentJson states; nullopt for a directive of
// another shape (filed some other way), which the portal describes only by its status.
std::optional<SharingChoices> ChoicesOf(const consent::ConsentDirective& directive);

// A directive as the consent service lists it to this practice (another practice's
// directive comes without its filer and its resource).
struct DirectiveInfo {
  std::string id;
  int64_t version = 0;
  std::string status;
  std::string filed_by_org;  // empty when filed elsewhere
  std::string consent_json;  // empty when filed elsewhere
  absl::Time recorded_at = absl::InfinitePast();
};

// The consent service's directive calls for this practice's own patients
// (ConsentService.ListDirectives, PutDirective). Implementations are thread-safe; each
// call reports to `done` exactly once, on any thread, and never blocks on the service.
class DirectiveClient {
 public:
  virtual ~DirectiveClient() = default;
  // The patient's current directives, newest first. Errors: the service's; Unavailable
  // or DeadlineExceeded when it cannot be reached.
  virtual void List(const std::string& local_patient_id,
                    std::function<void(absl::StatusOr<std::vector<DirectiveInfo>>)> done) = 0;
  // Files `consent_json` for the patient. Errors: the service's (InvalidArgument with
  // the FHIR paths of an invalid resource; NotFound for a patient the MPI does not know).
  virtual void Put(const std::string& local_patient_id, const std::string& consent_json,
                   std::function<void(absl::StatusOr<DirectiveInfo>)> done) = 0;
};

// The patient's portal directive among `directives` (filed by `own_org` with the
// portal's id prefix), or null.
const DirectiveInfo* PortalDirective(const std::vector<DirectiveInfo>& directives,
                                     absl::string_view own_org);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_SHARING_CHOICES_H_
