// The coded values the consent service understands: v3 PurposeOfUse codes for the
// purpose of a request, and v3 ActCode sensitivity / Confidentiality codes for the
// categories a record can be labelled with.
#ifndef HIE_CONSENT_DOMAIN_CODES_H_
#define HIE_CONSENT_DOMAIN_CODES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace hie::consent {

// v3 PurposeOfUse: TREAT, ETREAT, HPAYMT, HOPERAT, PUBHLTH, HRESCH, ...
bool IsPurposeOfUse(absl::string_view code);
// Sensitivity (ETH, PSY, HIV, SDV, GDIS, STD, SEX, ...) or confidentiality (U L M N R V).
bool IsSensitivityCategory(absl::string_view code);

// Every known purpose and category, sorted (for help text and error messages).
const std::vector<std::string>& PurposeCodes();
const std::vector<std::string>& CategoryCodes();

// The purpose of break-the-glass access.
inline constexpr char kEmergencyPurpose[] = "ETREAT";

}  // namespace hie::consent

#endif  // HIE_CONSENT_DOMAIN_CODES_H_
