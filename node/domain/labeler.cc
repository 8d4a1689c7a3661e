#include "node/domain/labeler.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "consent/domain/codes.h"

namespace hie::node {
namespace {

constexpr char kIcd10Cm[] = "http://hl7.org/fhir/sid/icd-10-cm";
constexpr char kIcd10[] = "http://hl7.org/fhir/sid/icd-10";
constexpr char kSnomed[] = "http://snomed.info/sct";
constexpr char kLoinc[] = "http://loinc.org";

hie::v1::SensitivityRule Rule(const char* system, const char* category,
                              std::vector<std::string> codes,
                              std::vector<std::string> prefixes = {}) {
  hie::v1::SensitivityRule rule;
  rule.set_system(system);
  rule.set_category(category);
  for (auto& c : codes) rule.add_codes(std::move(c));
  for (auto& p : prefixes) rule.add_code_prefixes(std::move(p));
  return rule;
}

std::vector<std::string> Range(const char* letter, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(absl::StrCat(letter, i < 10 ? "0" : "", i));
  return out;
}

}  // namespace

std::vector<hie::v1::SensitivityRule> DefaultSensitivityRules() {
  std::vector<hie::v1::SensitivityRule> rules;
  for (const char* icd : {kIcd10Cm, kIcd10}) {
    rules.push_back(Rule(icd, "ETH", {}, Range("F", 10, 19)));  // substance use (42 CFR Part 2)
    rules.push_back(Rule(icd, "HIV", {}, {"B20", "Z21"}));
    rules.push_back(Rule(icd, "STD", {}, Range("A", 50, 64)));
    rules.push_back(Rule(icd, "PSY", {}, Range("F", 20, 39)));
    rules.push_back(Rule(icd, "SEX", {}, Range("O", 0, 8)));  // abortive outcomes of pregnancy
    rules.push_back(Rule(icd, "SDV", {}, {"T74", "T76"}));    // abuse, neglect
    rules.push_back(Rule(icd, "GDIS", {}, {"F64"}));
  }
  // SNOMED CT: diagnoses and the procedures and tests that reveal them.
  rules.push_back(Rule(kSnomed, "ETH",
                       {"7200002", "66590003", "191816009", "55680006", "24165007", "5602001",
                        "26416006", "228390007", "361055000"}));
  rules.push_back(Rule(kSnomed, "HIV",
                       {"86406008", "165816005", "62479008", "31676001", "91947003", "40780007"}));
  rules.push_back(Rule(
      kSnomed, "STD",
      {"269828009", "165829005", "310861008", "76272004", "15628003", "240589008", "186731009"}));
  rules.push_back(Rule(kSnomed, "SEX",
                       {"714812005", "10383002", "5880005", "19169002", "79586000", "445912000",
                        "65200003", "46706006"}));
  rules.push_back(Rule(kSnomed, "PSY",
                       {"35489007", "370143000", "58214004", "13746004", "36923009", "191736004"}));
  rules.push_back(Rule(kSnomed, "SDV", {"95930005", "248110009", "371772001"}));
  // LOINC: HIV and syphilis tests.
  rules.push_back(Rule(kLoinc, "HIV",
                       {"5221-7", "7917-8", "7918-6", "20447-9", "48345-3", "75622-1", "25836-8",
                        "56888-1", "68961-2", "29893-5"}));
  rules.push_back(Rule(kLoinc, "STD", {"20507-0", "5292-8", "22587-0", "24110-9", "21613-5"}));
  return rules;
}

absl::StatusOr<Labeler> Labeler::FromConfig(const hie::v1::LabellingConfig& config) {
  Labeler labeler;
  if (!config.has_use_default_rules() || config.use_default_rules()) {
    for (const auto& rule : DefaultSensitivityRules()) labeler.AddRule(rule);
  }
  for (int i = 0; i < config.rules_size(); ++i) {
    const auto& rule = config.rules(i);
    if (!consent::IsSensitivityCategory(rule.category())) {
      return absl::InvalidArgumentError(absl::StrCat("rules[", i, "].category: \"", rule.category(),
                                                     "\" is not a v3 sensitivity code"));
    }
    if (rule.system().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("rules[", i, "].system: is required"));
    }
    if (rule.codes().empty() && rule.code_prefixes().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("rules[", i, "].codes: give codes or code_prefixes"));
    }
    labeler.AddRule(rule);
  }
  labeler.inherit_ =
      !config.has_inherit_through_references() || config.inherit_through_references();
  return labeler;
}

void Labeler::AddRule(const hie::v1::SensitivityRule& rule) {
  for (const auto& code : rule.codes()) {
    exact_[absl::StrCat(rule.system(), "|", code)].push_back(rule.category());
  }
  for (const auto& prefix : rule.code_prefixes()) {
    prefixes_.push_back({rule.system(), prefix, rule.category()});
  }
}

void Labeler::Match(absl::string_view system, absl::string_view code,
                    std::vector<std::string>& out) const {
  if (auto it = exact_.find(absl::StrCat(system, "|", code)); it != exact_.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  for (const Prefix& p : prefixes_) {
    if (p.system == system && absl::StartsWith(code, p.prefix)) out.push_back(p.category);
  }
}

void Labeler::Walk(const simdjson::dom::element& value, bool in_meta_security,
                   std::vector<std::string>& out) const {
  if (value.is_array()) {
    simdjson::dom::array items = value.get_array().value_unsafe();
    for (auto item : items) Walk(item, in_meta_security, out);
    return;
  }
  if (!value.is_object()) return;
  simdjson::dom::object object = value.get_object().value_unsafe();
  std::string_view system, code;
  bool has_system = !object["system"].get_string().get(system);
  bool has_code = !object["code"].get_string().get(code);
  if (has_code) {
    absl::string_view c(code.data(), code.size());
    if (in_meta_security && consent::IsSensitivityCategory(c)) out.emplace_back(c);
    if (has_system) Match(absl::string_view(system.data(), system.size()), c, out);
  }
  for (auto field : object) {
    bool security = field.key == "security";
    if (field.value.is_object() || field.value.is_array()) Walk(field.value, security, out);
  }
}

std::vector<std::string> Labeler::Label(const simdjson::dom::element& resource) const {
  std::vector<std::string> out;
  Walk(resource, false, out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace hie::node
