#include "cli/samples.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace hie::cli {
namespace {

struct Person {
  std::string family, given, gender, birth, phone, line, city, postal, ssn;
};

std::string PatientJson(const std::string& id, const Person& p, int variant) {
  // Three front desks: as written; upper case with a middle initial and another phone
  // format; no identifier and a shortened street.
  std::string family = variant == 1 ? absl::AsciiStrToUpper(p.family) : p.family;
  std::string given = variant == 1 ? absl::StrCat("\"", absl::AsciiStrToUpper(p.given), "\",\"M\"")
                                   : absl::StrCat("\"", p.given, "\"");
  std::string phone = p.phone;
  if (variant == 1) phone = absl::StrCat("(", p.phone.substr(0, 3), ") ", p.phone.substr(4));
  if (variant == 2)
    phone = absl::StrCat(p.phone.substr(0, 3), p.phone.substr(4, 3), p.phone.substr(8));
  std::string line = p.line;
  if (variant == 2) {
    size_t at = line.rfind("Street");
    if (at != std::string::npos) line = line.substr(0, at) + "St";
  }
  std::string identifier =
      variant == 2
          ? ""
          : absl::StrCat(R"("identifier":[{"system":"http://hl7.org/fhir/sid/us-ssn","value":")",
                         p.ssn, R"("}],)");
  return absl::StrCat(
      R"({"resourceType":"Patient","id":")", id, R"(",)", identifier, R"("name":[{"family":")",
      family, R"(","given":[)", given, R"(]}],"gender":")", p.gender, R"(","birthDate":")", p.birth,
      R"(","telecom":[{"system":"phone","value":")", phone, R"("}],"address":[{"line":[")", line,
      R"("],"city":")", p.city, R"(","postalCode":")", p.postal, R"("}]})");
}

std::string Entry(const std::string& url, const std::string& resource) {
  return absl::StrCat(R"({"fullUrl":"urn:uuid:)", url, R"(","resource":)", resource,
                      R"(,"request":{"method":"PUT","url":"X"}})");
}

std::string Coded(const std::string& type, const std::string& id, const std::string& system,
                  const std::string& code, const std::string& display, const std::string& date,
                  const std::string& extra = "") {
  std::string date_field = type == "Observation" ? "effectiveDateTime"
                           : type == "Condition" ? "onsetDateTime"
                           : type == "Procedure" ? "performedDateTime"
                                                 : "authoredOn";
  std::string code_field = type == "MedicationRequest" ? "medicationCodeableConcept" : "code";
  std::string status = type == "Observation"         ? R"("status":"final",)"
                       : type == "Procedure"         ? R"("status":"completed",)"
                       : type == "MedicationRequest" ? R"("status":"active","intent":"order",)"
                                                     : "";
  return absl::StrCat(R"({"resourceType":")", type, R"(","id":")", id, R"(",)", status, "\"",
                      code_field, R"(":{"coding":[{"system":")", system, R"(","code":")", code,
                      R"(","display":")", display, R"("}],"text":")", display,
                      R"("},"subject":{"reference":"urn:uuid:patient"},")", date_field, R"(":")",
                      date, "\"", extra, "}");
}

constexpr char kLoinc[] = "http://loinc.org";
constexpr char kSnomed[] = "http://snomed.info/sct";
constexpr char kIcd10[] = "http://hl7.org/fhir/sid/icd-10-cm";
constexpr char kRxnorm[] = "http://www.nlm.nih.gov/research/umls/rxnorm";

std::string Bp(const std::string& id, int systolic, const std::string& date) {
  return Coded(
      "Observation", id, kLoinc, "8480-6", "Systolic blood pressure", date,
      absl::StrCat(R"(,"valueQuantity":{"value":)", systolic,
                   R"(,"unit":"mm[Hg]","system":"http://unitsofmeasure.org","code":"mm[Hg]"})"));
}

}  // namespace

SampleSet MakeSamples(const std::vector<std::string>& orgs) {
  auto org = [&](size_t i) { return orgs[std::min(i, orgs.size() - 1)]; };
  auto local = [&](size_t i, int n) {
    static const char* kPrefix[] = {"GP-", "H-", "SP-"};
    return absl::StrCat(kPrefix[std::min<size_t>(i, 2)], n);
  };
  SampleSet set;
  auto add = [&](size_t practice, int n, const Person& p, const std::string& name,
                 std::vector<std::string> resources) {
    std::string id = local(practice, n);
    std::vector<std::string> entries = {
        Entry("patient", PatientJson(id, p, static_cast<int>(practice)))};
    int k = 0;
    for (auto& r : resources) entries.push_back(Entry(absl::StrCat("r", ++k), r));
    set.bundles.push_back(
        {org(practice), id, name,
         absl::StrCat(R"({"resourceType":"Bundle","type":"transaction","entry":[)",
                      absl::StrJoin(entries, ","), "]}")});
    return std::make_pair(org(practice), id);
  };

  // 1. Jane Oyelaran: seen by her GP, the hospital's emergency department, a cardiologist.
  Person jane{"Oyelaran",       "Jane",        "female", "1984-06-02", "217-555-0143",
              "12 Main Street", "Springfield", "62701",  "999-41-2209"};
  SamplePatient p1{"Jane Oyelaran", "care spread over a GP, a hospital and a specialist", {}, ""};
  p1.registrations.push_back(
      add(0, 1001, jane, p1.name,
          {Bp("gp-1001-bp1", 128, "2025-03-04T09:10:00Z"),
           Bp("gp-1001-bp2", 142, "2025-09-12T09:30:00Z"),
           Coded("Condition", "gp-1001-htn", kSnomed, "38341003", "Hypertension", "2025-09-12")}));
  if (orgs.size() > 1) {
    p1.registrations.push_back(add(1, 88812, jane, p1.name,
                                   {Coded("Condition", "h-88812-cp", kSnomed, "29857009",
                                          "Chest pain", "2025-10-02T22:14:00Z"),
                                    Coded("Procedure", "h-88812-ecg", kSnomed, "29303009",
                                          "Electrocardiographic procedure", "2025-10-02T22:40:00Z"),
                                    // The same reading the GP recorded, sent by the hospital too.
                                    Bp("h-88812-bp", 142, "2025-09-12T09:30:00Z")}));
  }
  if (orgs.size() > 2) {
    p1.registrations.push_back(add(2, 42, jane, p1.name,
                                   {Coded("Procedure", "sp-42-echo", kSnomed, "40701008",
                                          "Echocardiography", "2025-11-03T14:00:00Z")}));
  }
  set.patients.push_back(p1);

  // 2. Marcus Brandt: opted out; nothing about him leaves any practice.
  Person marcus{"Brandt",       "Marcus",      "male",  "1971-11-23", "217-555-0178",
                "7 Elm Street", "Springfield", "62702", "999-63-1187"};
  SamplePatient p2{"Marcus Brandt", "opted out of the exchange", {}, ""};
  p2.registrations.push_back(
      add(0, 1002, marcus, p2.name, {Bp("gp-1002-bp", 131, "2025-05-20T10:00:00Z")}));
  if (orgs.size() > 1) {
    p2.registrations.push_back(add(1, 90211, marcus, p2.name,
                                   {Coded("Condition", "h-90211-fx", kSnomed, "263225007",
                                          "Fracture of wrist", "2025-07-01")}));
  }
  p2.consent_json =
      R"({"resourceType":"Consent","id":"optout-marcus-brandt","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],"dateTime":"2025-01-15","policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTOUT"}]}})";
  set.patients.push_back(p2);

  // 3. Luis Ferreira: treated for alcohol dependence at the hospital's programme; those
  // records (and the medication for it) are withheld unless he releases them.
  Person luis{"Ferreira",        "Luis",        "male",  "1990-02-14", "217-555-0199",
              "88 River Street", "Springfield", "62703", "999-27-5531"};
  SamplePatient p3{"Luis Ferreira", "substance-use records withheld (42 CFR Part 2)", {}, ""};
  p3.registrations.push_back(
      add(0, 1003, luis, p3.name, {Bp("gp-1003-bp", 118, "2025-02-11T08:45:00Z")}));
  if (orgs.size() > 1) {
    p3.registrations.push_back(add(
        1, 91377, luis, p3.name,
        {Coded("Condition", "h-91377-aud", kIcd10, "F10.20", "Alcohol dependence, uncomplicated",
               "2025-04-08"),
         absl::StrCat(
             R"({"resourceType":"MedicationRequest","id":"h-91377-naltrexone","status":"active","intent":"order",)",
             R"("medicationCodeableConcept":{"coding":[{"system":")", kRxnorm,
             R"(","code":"1483744","display":"naltrexone 50 MG Oral Tablet"}]},)",
             R"("subject":{"reference":"urn:uuid:patient"},"authoredOn":"2025-04-08",)",
             R"("reasonReference":[{"reference":"urn:uuid:r1"}]})"),
         Coded("Observation", "h-91377-alt", kLoinc, "1742-6", "ALT", "2025-04-08T08:00:00Z",
               R"(,"valueQuantity":{"value":41,"unit":"U/L"})")}));
  }
  set.patients.push_back(p3);
  return set;
}

}  // namespace hie::cli
