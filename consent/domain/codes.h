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
// Sensitivity (ETH, PSY, HIV, SDV, GDIS, STD, SEX, ...), confidentiality (U L M N R V), or
// the privacy law 42CFRPart2: the categories a consent or the policy can name. A record
// category outside this set (an unknown security label) can never be released.
bool IsSensitivityCategory(absl::string_view code);

// Confidentiality is a high-water mark (HL7 Security Labeling Service): a record in one
// of these categories is at least restricted (R), so a consent that withholds R withholds
// it: the sensitive categories (ETH and the substance-use codes, 42CFRPart2, HIV, STD,
// PSY and the mental-health codes, SEX, SDV, MST, GDIS, SICKLE, SCA, TBOO) and V.
bool ImpliesRestricted(absl::string_view category);

// The categories a record labelled `categories` is withheld by: its own, the broader
// categories of the v3 sensitivity hierarchy they belong to (ALCOHOLUD, DRGUD, ETHUD and
// OPIOIDUD are substance-use information, ETH; MH and PSYTHPN are PSY), the
// narrower ones a broad label may stand for (BH, behavioural health, may be ETH or PSY:
// withheld wherever either is), and R where one of them implies it (ImpliesRestricted).
// Sorted and unique. The labeler stores these; a holder applies them again at every
// disclosure, so records labelled before a rule existed are covered too.
std::vector<std::string> EffectiveCategories(const std::vector<std::string>& categories);

// The confidentiality code that ImpliesRestricted categories imply.
inline constexpr char kRestricted[] = "R";
// 42 CFR Part 2 (v3 ActCode _ActPrivacyLaw): the policy always withholds it; only a
// consent provision that names it (permit, securityLabel 42CFRPart2) releases it.
inline constexpr char kPart2[] = "42CFRPart2";

// Every known purpose and category, sorted (for help text and error messages).
const std::vector<std::string>& PurposeCodes();
const std::vector<std::string>& CategoryCodes();

// The purpose of break-the-glass access.
inline constexpr char kEmergencyPurpose[] = "ETREAT";

// True if `purpose` is `ancestor` or one of its specializations in the v3 PurposeOfUse
// hierarchy: TREAT covers CLINTRL, COC, ETREAT and POPHLTH; ETREAT covers BTG and
// ERTREAT; HRESCH covers CLINTRCH and the other research purposes; HOPERAT covers
// CAREMGT and the other operations purposes. A consent or a policy that names a purpose
// governs its specializations too, so "deny TREAT" also denies COC and ETREAT.
bool PurposeWithin(absl::string_view purpose, absl::string_view ancestor);

// True for emergency treatment, ETREAT and its specializations (BTG, ERTREAT): the
// purposes that break the glass.
bool IsEmergencyPurpose(absl::string_view purpose);

}  // namespace hie::consent

#endif  // HIE_CONSENT_DOMAIN_CODES_H_
