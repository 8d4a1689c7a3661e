#include "node/domain/labeler.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "consent/domain/codes.h"

namespace hie::node {
namespace {

constexpr char kIcd10Cm[] = "http://hl7.org/fhir/sid/icd-10-cm";
constexpr char kIcd10[] = "http://hl7.org/fhir/sid/icd-10";
constexpr char kSnomed[] = "http://snomed.info/sct";
constexpr char kLoinc[] = "http://loinc.org";
constexpr char kRxNorm[] = "http://www.nlm.nih.gov/research/umls/rxnorm";

// The form a code system is compared in: trimmed, without a trailing '/', and the HL7
// OIDs of the systems the rules use (as C-CDA and HL7 v2 send them, "urn:oid:..." or
// bare) mapped to their FHIR URIs.
std::string CanonicalSystem(absl::string_view system) {
  system = absl::StripAsciiWhitespace(system);
  while (absl::ConsumeSuffix(&system, "/")) {
  }
  absl::string_view oid = system;
  absl::ConsumePrefix(&oid, "urn:oid:");
  static constexpr std::pair<const char*, const char*> kOids[] = {
      {"2.16.840.1.113883.6.90", kIcd10Cm},
      {"2.16.840.1.113883.6.3", kIcd10},
      {"2.16.840.1.113883.6.96", kSnomed},
      {"2.16.840.1.113883.6.1", kLoinc},
      {"2.16.840.1.113883.6.88", kRxNorm}};
  for (const auto& [known, uri] : kOids) {
    if (oid == known) return uri;
  }
  return std::string(system);
}

// The form a code is compared in: trimmed, upper case, without dots ("f11.20 " and
// "F1120" are ICD-10's F11.20; codes of the other systems have no dots or letters that
// this could confuse).
std::string CanonicalCode(absl::string_view code) {
  std::string out;
  for (char c : absl::StripAsciiWhitespace(code)) {
    if (c != '.') out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

// The v3 code systems of security labels, by their FHIR R4 URL and the one before it.
bool IsV3System(absl::string_view system, absl::string_view name) {
  return system == absl::StrCat("http://terminology.hl7.org/CodeSystem/v3-", name) ||
         system == absl::StrCat("http://hl7.org/fhir/v3/", name);
}

bool In(std::initializer_list<absl::string_view> codes, absl::string_view code) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

// v3 ActCode labels that restrict nothing the exchange does: obligations it fulfils
// itself (it audits every disclosure, and encrypts every transmission), and privacy-law
// references its treatment disclosures already comply with.
bool IsFulfilledActCode(absl::string_view code) {
  return In({"AUDIT", "AUDTR", "ENCRYPTT", "HIPAANOPP", "CommonRule"}, code);
}

// v3 ObservationValue labels about a record's integrity and provenance: they say how far
// to trust the record, not who may see it.
bool IsIntegrityLabel(absl::string_view code) {
  return In(
      {"ABSTRED",   "AGGRED",    "ANONYED",    "MAPPED",    "MASKED",    "PSEUDED", "REDACTED",
       "SUBSETTED", "SYNTAC",    "TRSLT",      "VERSIONED", "CRYTOHASH", "DIGSIG",  "HRELIABLE",
       "RELIABLE",  "UNCERTREL", "UNRELIABLE", "CLINAST",   "DEVAST",    "HCPAST",  "PACQAST",
       "PATAST",    "PAYAST",    "PROAST",     "SDMAST",    "CLINRPT",   "DEVRPT",  "HCPRPT",
       "PACQRPT",   "PATRPT",    "PAYRPT",     "PRORPT",    "SDMRPT"},
      code);
}

// What one meta.security label adds to a record's categories (see docs/labelling.md):
// a category a consent can name, nothing, or, for every other label, "system|code",
// which no consent can release.
void SecurityLabel(absl::string_view system, absl::string_view code,
                   std::vector<std::string>& out) {
  if (IsV3System(system, "Confidentiality")) {
    if (In({"U", "L", "M", "N"}, code)) return;
    if (In({"R", "V"}, code)) {
      out.emplace_back(code);
      return;
    }
  } else if (IsV3System(system, "ActCode")) {
    if (IsFulfilledActCode(code)) return;
    if (consent::IsSensitivityCategory(code) && !In({"U", "L", "M", "N", "R", "V"}, code)) {
      out.emplace_back(code);
      return;
    }
  } else if (IsV3System(system, "ObservationValue")) {
    if (IsIntegrityLabel(code)) return;
  } else if (IsV3System(system, "ActReason")) {
    // HTEST marks test data. Other v3 ActReason codes in meta.security are purposes of
    // use the record is restricted to, which a grant does not check: withheld below.
    if (code == "HTEST") return;
  }
  out.push_back(absl::StrCat(system, "|", code));
}

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
    // HIV disease (B20-B24), asymptomatic infection (Z21), inconclusive test (R75),
    // HIV complicating pregnancy (O98.7), exposure (Z20.6), screening (Z11.4),
    // counselling (Z71.7).
    rules.push_back(Rule(
        icd, "HIV", {},
        {"B20", "B21", "B22", "B23", "B24", "Z21", "R75", "O98.7", "Z20.6", "Z11.4", "Z71.7"}));
    rules.push_back(Rule(icd, "STD", {}, Range("A", 50, 64)));
    // Mental and behavioural disorders: F20-F69 but F64 (GDIS below) and F90-F99 (F01-F09
    // organic disorders such as dementia and F70-F89 intellectual and developmental
    // disorders are not).
    std::vector<std::string> psy;
    for (auto& f : Range("F", 20, 69)) {
      if (f != "F64") psy.push_back(std::move(f));
    }
    for (auto& f : Range("F", 90, 99)) psy.push_back(std::move(f));
    rules.push_back(Rule(icd, "PSY", {}, std::move(psy)));
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
  // RxNorm: medications for substance-use disorder, by ingredient (IN) and by the clinical
  // and branded drugs (SCD, SBD) that contain them, wherever the record codes them
  // (medicationCodeableConcept, a contained Medication's code or ingredient...). Every
  // human product of the ingredient counts, pain formulations included: a medication
  // record does not say why it was prescribed. Product codes from the CDC Opioid
  // Prescribing Support value set "Buprenorphine and Methadone medications" (RxNorm
  // 2023-03) and the VSAC eCQM value set "Opiate Antagonists"
  // (2.16.840.1.113883.3.464.1003.198.12.1132); docs/labelling.md says how to add more.
  rules.push_back(Rule(
      kRxNorm, "ETH",
      {// ingredients: buprenorphine, methadone, naltrexone
       "1819", "6813", "7243",
       // buprenorphine, buprenorphine / naloxone
       "1010600", "1010603", "1010604", "1010606", "1307056", "1307058", "1307061", "1307063",
       "1431076", "1431083", "1431102", "1431104", "1432969", "1432971", "1542390", "1542396",
       "1542997", "1542999", "1544851", "1544853", "1544854", "1544856", "1597568", "1597570",
       "1597573", "1597575", "1655032", "1666338", "1666385", "1716057", "1716063", "1716065",
       "1716067", "1716069", "1716071", "1716073", "1716075", "1716077", "1716079", "1716081",
       "1716083", "1716086", "1716090", "1797650", "1797655", "1864412", "1864414", "1996184",
       "1996189", "1996192", "1996193", "205533", "238129", "246474", "250426", "351264", "351265",
       "351266", "351267", "904870", "904874", "904876", "904878", "904880", "904882",
       // methadone
       "864706", "864708", "864712", "864714", "864718", "864720", "864737", "864761", "864769",
       "864826", "864978", "864980", "864984", "991147", "991149", "1990745",
       // naltrexone
       "637213", "1483744",
       // disulfiram
       "197623", "197624",
       // acamprosate
       "835726"}));
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
  const std::string system = CanonicalSystem(rule.system());
  for (const auto& code : rule.codes()) {
    exact_[absl::StrCat(system, "|", CanonicalCode(code))].push_back(rule.category());
  }
  for (const auto& prefix : rule.code_prefixes()) {
    prefixes_.push_back({system, CanonicalCode(prefix), rule.category()});
  }
}

void Labeler::Match(absl::string_view raw_system, absl::string_view raw_code,
                    std::vector<std::string>& out) const {
  const std::string system = CanonicalSystem(raw_system);
  const std::string code = CanonicalCode(raw_code);
  if (auto it = exact_.find(absl::StrCat(system, "|", code)); it != exact_.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  for (const Prefix& p : prefixes_) {
    if (p.system == system && absl::StartsWith(code, p.prefix)) out.push_back(p.category);
  }
}

void Labeler::Walk(const simdjson::dom::element& value, bool is_meta,
                   std::vector<std::string>& out) const {
  if (value.is_array()) {
    simdjson::dom::array items = value.get_array().value_unsafe();
    for (auto item : items) Walk(item, false, out);
    return;
  }
  if (!value.is_object()) return;
  simdjson::dom::object object = value.get_object().value_unsafe();
  std::string_view system, code;
  bool has_system = !object["system"].get_string().get(system);
  bool has_code = !object["code"].get_string().get(code);
  if (has_code && has_system) {
    Match(absl::string_view(system.data(), system.size()),
          absl::string_view(code.data(), code.size()), out);
  }
  for (auto field : object) {
    if (is_meta && field.key == "security") {
      Security(field.value, out);
      continue;
    }
    if (field.value.is_object() || field.value.is_array()) {
      Walk(field.value, field.key == "meta", out);
    }
  }
}

void Labeler::Security(const simdjson::dom::element& labels, std::vector<std::string>& out) const {
  simdjson::dom::array items;
  if (labels.get_array().get(items)) {
    out.push_back("meta.security|");  // not a list of Codings: unknown
    return;
  }
  for (auto item : items) {
    std::string_view system, code;
    if (item["system"].get_string().get(system)) system = {};  // absent: no system
    if (item["code"].get_string().get(code)) code = {};
    SecurityLabel(absl::string_view(system.data(), system.size()),
                  absl::string_view(code.data(), code.size()), out);
  }
}

std::vector<std::string> Labeler::Label(const simdjson::dom::element& resource) const {
  std::vector<std::string> out;
  Walk(resource, false, out);
  // The sensitivity hierarchy, and confidentiality as a high-water mark (R).
  return consent::EffectiveCategories(out);
}

}  // namespace hie::node
