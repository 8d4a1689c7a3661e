#include "consent/domain/codes.h"

#include <algorithm>

namespace hie::consent {
namespace {

bool Contains(const std::vector<std::string>& sorted, absl::string_view code) {
  return std::binary_search(sorted.begin(), sorted.end(), code,
                            [](absl::string_view a, absl::string_view b) { return a < b; });
}

}  // namespace

const std::vector<std::string>& PurposeCodes() {
  // v3 PurposeOfUse (HL7 v3 ActReason, the codes FHIR's Consent.provision.purpose uses).
  static const auto* codes = [] {
    auto* v = new std::vector<std::string>{
        "BTG",     "CAREMGT", "CLINTRCH",  "CLINTRL",  "COC",      "COVERAGE", "DECEASED",
        "DONAT",   "ETREAT",  "FAMRQT",    "HDIRECT",  "HLEGAL",   "HMARKT",   "HOPERAT",
        "HPAYMT",  "HRESCH",  "HSYSADMIN", "MEMADMIN", "PATADMIN", "PATRQT",   "POPHLTH",
        "PUBHLTH", "PWATRNY", "SUPNWK",    "SYSDEV",   "TREAT",    "TRAIN",    "ERTREAT"};
    std::sort(v->begin(), v->end());
    return v;
  }();
  return *codes;
}

const std::vector<std::string>& CategoryCodes() {
  // v3 ActCode InformationSensitivityPolicy, v3 Confidentiality, and the one v3 ActCode
  // privacy law a consent can release (42CFRPart2).
  static const auto* codes = [] {
    auto* v = new std::vector<std::string>{
        kPart2, "ALCOHOLUD", "BH",       "COMPT", "DRGUD",   "DEMO", "DIA", "EMPL",
        "ETH",  "ETHUD",     "GDIS",     "HIV",   "HRCOMPT", "L",    "M",   "MH",
        "MST",  "N",         "OPIOIDUD", "PSY",   "PSYTHPN", "R",    "SCA", "SDV",
        "SEX",  "SICKLE",    "SPI",      "STD",   "TBOO",    "U",    "V"};
    std::sort(v->begin(), v->end());
    return v;
  }();
  return *codes;
}

bool IsPurposeOfUse(absl::string_view code) { return Contains(PurposeCodes(), code); }
bool IsSensitivityCategory(absl::string_view code) { return Contains(CategoryCodes(), code); }

bool ImpliesRestricted(absl::string_view category) {
  static const auto* codes = [] {
    auto* v = new std::vector<std::string>{
        kPart2,     "ALCOHOLUD", "BH",      "DRGUD", "ETH", "ETHUD", "GDIS",   "HIV", "MH",   "MST",
        "OPIOIDUD", "PSY",       "PSYTHPN", "SCA",   "SDV", "SEX",   "SICKLE", "STD", "TBOO", "V"};
    std::sort(v->begin(), v->end());
    return v;
  }();
  return Contains(*codes, category);
}

std::vector<std::string> EffectiveCategories(const std::vector<std::string>& categories) {
  // Narrower -> broader (v3 ActInformationSensitivityPolicy), and a broad label -> what it
  // may stand for.
  static const auto* implied = new std::vector<std::pair<std::string, std::string>>{
      {"ALCOHOLUD", "ETH"}, {"DRGUD", "ETH"},   {"ETHUD", "ETH"}, {"OPIOIDUD", "ETH"},
      {"MH", "PSY"},        {"PSYTHPN", "PSY"}, {"BH", "ETH"},    {"BH", "PSY"}};
  std::vector<std::string> out = categories;
  for (const std::string& category : categories) {
    for (const auto& [narrow, broad] : *implied) {
      if (narrow == category) out.push_back(broad);
    }
  }
  if (std::any_of(out.begin(), out.end(),
                  [](const std::string& c) { return ImpliesRestricted(c); })) {
    out.push_back(kRestricted);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool PurposeWithin(absl::string_view purpose, absl::string_view ancestor) {
  // Child -> parent (v3 ActReason, _PurposeOfUse), for the codes PurposeCodes() knows.
  static const auto* parent = new std::vector<std::pair<std::string, std::string>>{
      {"CLINTRL", "TREAT"},    {"COC", "TREAT"},        {"ETREAT", "TREAT"},
      {"POPHLTH", "TREAT"},    {"BTG", "ETREAT"},       {"ERTREAT", "ETREAT"},
      {"CLINTRCH", "HRESCH"},  {"CAREMGT", "HOPERAT"},  {"DONAT", "HOPERAT"},
      {"HDIRECT", "HOPERAT"},  {"HLEGAL", "HOPERAT"},   {"HSYSADMIN", "HOPERAT"},
      {"MEMADMIN", "HOPERAT"}, {"PATADMIN", "HOPERAT"}, {"SYSDEV", "HOPERAT"},
      {"TRAIN", "HOPERAT"}};
  std::string current(purpose);
  for (int depth = 0; depth < 8; ++depth) {  // the hierarchy is shallow; no cycles
    if (current == ancestor) return true;
    auto it = std::find_if(parent->begin(), parent->end(),
                           [&](const auto& edge) { return edge.first == current; });
    if (it == parent->end()) return false;
    current = it->second;
  }
  return false;
}

bool IsEmergencyPurpose(absl::string_view purpose) {
  return PurposeWithin(purpose, kEmergencyPurpose);
}

}  // namespace hie::consent
