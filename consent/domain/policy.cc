#include "consent/domain/policy.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "consent/domain/codes.h"

namespace hie::consent {

absl::StatusOr<Policy> PolicyFromConfig(const hie::v1::ConsentPolicy& config) {
  Policy policy;
  policy.model =
      config.model() == hie::v1::ConsentPolicy::MODEL_OPT_IN ? Model::kOptIn : Model::kOptOut;
  if (config.has_purposes_without_consent()) {
    policy.purposes_without_consent.clear();
    for (const std::string& code : config.purposes_without_consent().codes()) {
      if (!IsPurposeOfUse(code)) {
        return absl::InvalidArgumentError(
            absl::StrCat("purposes_without_consent: \"", code, "\" is not a v3 PurposeOfUse code"));
      }
      policy.purposes_without_consent.push_back(code);
    }
  }
  if (config.has_withheld_categories()) {
    policy.withheld_categories.clear();
    for (const std::string& code : config.withheld_categories().codes()) {
      if (!IsSensitivityCategory(code)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "withheld_categories: \"", code, "\" is not a v3 sensitivity or confidentiality code"));
      }
      policy.withheld_categories.push_back(code);
    }
  }
  // Part 2 records need the patient's explicit consent: no policy releases them.
  policy.withheld_categories.push_back(kPart2);
  std::sort(policy.withheld_categories.begin(), policy.withheld_categories.end());
  policy.withheld_categories.erase(
      std::unique(policy.withheld_categories.begin(), policy.withheld_categories.end()),
      policy.withheld_categories.end());
  if (config.has_break_glass_allowed()) policy.break_glass_allowed = config.break_glass_allowed();
  if (config.has_break_glass_roles()) {
    policy.break_glass_roles.clear();
    for (const std::string& role : config.break_glass_roles().codes()) {
      std::string lower = absl::AsciiStrToLower(role);
      if (lower.empty() || lower.find_first_of(" \t\n") != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("break_glass_roles: \"", role, "\" is not a role name"));
      }
      policy.break_glass_roles.push_back(std::move(lower));
    }
    std::sort(policy.break_glass_roles.begin(), policy.break_glass_roles.end());
  }
  if (config.has_break_glass_overrides_directives()) {
    policy.break_glass_overrides_directives = config.break_glass_overrides_directives();
  }
  return policy;
}

const char* ModelName(Model model) { return model == Model::kOptIn ? "opt-in" : "opt-out"; }

}  // namespace hie::consent
