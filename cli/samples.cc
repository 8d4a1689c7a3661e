#include "cli/samples.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "simdjson.h"

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

namespace {

// `object` minified without the members named in `drop`, with `replace` members set.
std::string Reemit(const simdjson::dom::object& object, const std::vector<std::string>& drop,
                   const std::vector<std::pair<std::string, std::string>>& replace) {
  std::vector<std::string> members;
  for (auto field : object) {
    std::string key(field.key);
    if (std::find(drop.begin(), drop.end(), key) != drop.end()) continue;
    std::string value = simdjson::minify(field.value);
    for (const auto& [k, v] : replace) {
      if (k == key) value = v;
    }
    members.push_back(absl::StrCat("\"", key, "\":", value));
  }
  return absl::StrCat("{", absl::StrJoin(members, ","), "}");
}

}  // namespace

absl::Status AddSyntheaPatient(const std::string& bundle_json, const std::vector<std::string>& orgs,
                               SampleSet* set) {
  simdjson::dom::parser parser;
  simdjson::dom::element bundle;
  if (parser.parse(bundle_json).get(bundle)) return absl::InvalidArgumentError("not JSON");
  simdjson::dom::array entries;
  if (bundle["entry"].get_array().get(entries)) return absl::InvalidArgumentError("no entries");
  const size_t practices = std::min<size_t>(orgs.size(), 3);
  struct Item {
    std::string url, type, id, json;
    int practice = -1;  // -1: every practice
  };
  std::vector<Item> items;
  std::map<std::string, int> encounter_practice;  // fullUrl -> practice
  std::string patient_url, patient_name;
  simdjson::dom::object patient_object;
  bool have_patient = false;
  for (simdjson::dom::element e : entries) {
    std::string_view url, type, id;
    if (e["fullUrl"].get_string().get(url) ||
        e["resource"]["resourceType"].get_string().get(type)) {
      continue;
    }
    if (e["resource"]["id"].get_string().get(id)) id = "";
    Item item{std::string(url), std::string(type), std::string(id),
              simdjson::minify(e["resource"])};
    if (type == "Patient") {
      patient_url = item.url;
      have_patient = !e["resource"].get_object().get(patient_object);
      std::string_view family, given;
      if (!e["resource"]["name"].at(0)["family"].get_string().get(family) &&
          !e["resource"]["name"].at(0)["given"].at(0).get_string().get(given)) {
        patient_name = absl::StrCat(std::string(given), " ", std::string(family));
      }
      continue;
    }
    if (type == "Encounter") {
      std::string_view code;
      int practice = 2;
      if (!e["resource"]["class"]["code"].get_string().get(code)) {
        if (code == "AMB" || code == "WELLNESS" || code == "VR") practice = 0;
        if (code == "EMER" || code == "IMP" || code == "ACUTE") practice = 1;
      }
      item.practice = std::min<int>(practice, static_cast<int>(practices) - 1);
      encounter_practice[item.url] = item.practice;
    }
    items.push_back(std::move(item));
  }
  if (!have_patient || patient_url.size() < 8) {
    return absl::InvalidArgumentError("the bundle has no Patient with a fullUrl");
  }
  // Each clinical record goes where its (first named) encounter took place.
  for (auto& item : items) {
    if (item.practice >= 0) continue;
    if (item.json.find(patient_url) == std::string::npos) continue;  // providers: everywhere
    item.practice = 0;
    size_t best = std::string::npos;
    for (const auto& [url, practice] : encounter_practice) {
      size_t at = item.json.find(absl::StrCat("\"", url, "\""));
      if (at < best) {
        best = at;
        item.practice = practice;
      }
    }
  }
  std::map<std::string, std::string> type_of;  // fullUrl -> Type/id
  for (const auto& item : items) type_of[item.url] = absl::StrCat(item.type, "/", item.id);
  SamplePatient patient{patient_name.empty() ? "Synthea patient" : patient_name,
                        "a Synthea record spread over the practices",
                        {},
                        ""};
  std::string short_id = patient_url.substr(patient_url.size() - 8);
  static const char* kPrefix[] = {"GP-S", "H-S", "SP-S"};
  for (size_t p = 0; p < practices; ++p) {
    std::string local_id = absl::StrCat(kPrefix[p], short_id);
    std::vector<std::string> drop;
    if (p == 1) drop = {"identifier"};
    if (p == 2) drop = {"telecom"};
    std::vector<std::string> out = {
        absl::StrCat(R"({"fullUrl":")", patient_url, R"(","resource":)",
                     Reemit(patient_object, drop, {{"id", absl::StrCat("\"", local_id, "\"")}}),
                     R"(,"request":{"method":"PUT","url":"Patient"}})")};
    std::set<std::string> here = {patient_url};
    for (const auto& item : items) {
      if (item.practice < 0 || item.practice == static_cast<int>(p)) here.insert(item.url);
    }
    for (const auto& item : items) {
      if (!here.contains(item.url)) continue;
      std::string json = item.json;
      // References to what another practice holds become relative references.
      size_t at = 0;
      while ((at = json.find("\"urn:uuid:", at)) != std::string::npos) {
        size_t end = json.find('"', at + 1);
        std::string url = json.substr(at + 1, end - at - 1);
        if (!here.contains(url) && type_of.contains(url)) {
          json.replace(at + 1, url.size(), type_of[url]);
        }
        at = end;
      }
      out.push_back(absl::StrCat(R"({"fullUrl":")", item.url, R"(","resource":)", json,
                                 R"(,"request":{"method":"PUT","url":")", item.type, R"("}})"));
    }
    patient.registrations.emplace_back(orgs[p], local_id);
    set->bundles.push_back(
        {orgs[p], local_id, patient.name,
         absl::StrCat(R"({"resourceType":"Bundle","type":"transaction","entry":[)",
                      absl::StrJoin(out, ","), "]}")});
  }
  set->patients.push_back(std::move(patient));
  return absl::OkStatus();
}

}  // namespace hie::cli
