// The exchange's consent policy: what holds where a patient has not said otherwise.
#ifndef HIE_CONSENT_DOMAIN_POLICY_H_
#define HIE_CONSENT_DOMAIN_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/hie/v1/config.pb.h"

namespace hie::consent {

enum class Model { kOptOut, kOptIn };

struct Policy {
  Model model = Model::kOptOut;
  // Under opt-out, purposes allowed without a consent on file. PATRQT is the patient's
  // own request (the portal's record and its accounting of disclosures).
  std::vector<std::string> purposes_without_consent = {"TREAT", "ETREAT", "PATRQT"};
  // Categories withheld unless the patient's consent releases them (sorted). 42CFRPart2
  // is always among them (PolicyFromConfig adds it): only a consent that names it
  // releases a Part 2 record.
  std::vector<std::string> withheld_categories = {"42CFRPart2", "ETH"};
  // ETREAT with a reason overrides a deny (and is audited as an alert).
  bool break_glass_allowed = true;
  // The user roles (lower case) that may use ETREAT at all (sorted). "clinician" is the
  // role of a node's web-app clinician account.
  std::vector<std::string> break_glass_roles = {"clinician", "nurse",     "nurse-practitioner",
                                                "paramedic", "physician", "physician-assistant"};
  // Break-the-glass may override a patient's own deny (a directive), not only the
  // policy's default deny.
  bool break_glass_overrides_directives = false;
};

// The policy a ConsentPolicy config section describes, defaults filled in.
// Errors: InvalidArgument naming the field ("withheld_categories: \"XYZ\" is not a v3
// sensitivity code").
absl::StatusOr<Policy> PolicyFromConfig(const hie::v1::ConsentPolicy& config);

// "opt-out" / "opt-in".
const char* ModelName(Model model);

}  // namespace hie::consent

#endif  // HIE_CONSENT_DOMAIN_POLICY_H_
