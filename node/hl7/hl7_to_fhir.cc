#include "node/hl7/hl7_to_fhir.h"

#include <algorithm>
#include <map>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/crypto/hash.h"
#include "common/fhir/datetime.h"
#include "common/json/json_writer.h"

namespace hie::node::hl7 {
namespace {

constexpr char kV2Table[] = "http://terminology.hl7.org/CodeSystem/v2-";
constexpr char kInterpretation[] =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

bool IsFhirId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return true;
}

std::string HashId(absl::string_view prefix, const std::vector<std::string>& parts) {
  return absl::StrCat(prefix, crypto::Sha256Hex(absl::StrJoin(parts, "\x1F")).substr(0, 32));
}

// A JSON object that leaves out empty members.
class Obj {
 public:
  Obj& Str(absl::string_view key, absl::string_view value) {
    if (!value.empty()) {
      o_.Add(key, value);
      ++n_;
    }
    return *this;
  }
  Obj& Raw(absl::string_view key, const std::string& json) {
    if (!json.empty() && json != "{}" && json != "[]") {
      o_.AddRaw(key, json);
      ++n_;
    }
    return *this;
  }
  Obj& Bool(absl::string_view key, bool value) {
    o_.Add(key, value);
    ++n_;
    return *this;
  }
  bool empty() const { return n_ == 0; }
  std::string Build() const { return n_ == 0 ? "" : o_.Build(); }

 private:
  JsonObject o_;
  int n_ = 0;
};

std::string Array(std::vector<std::string> items) {
  items.erase(std::remove(items.begin(), items.end(), ""), items.end());
  return items.empty() ? "" : JsonArray(items);
}

std::string Ref(const std::string& type, const std::string& id) {
  return JsonObject().Add("reference", absl::StrCat(type, "/", id)).Build();
}

// The FHIR URI of an HL7 coding-system name (table 0396), or "" when unknown.
std::string CodingSystem(const std::string& name) {
  static const auto* known = new std::map<std::string, std::string>{
      {"LN", "http://loinc.org"},
      {"LOINC", "http://loinc.org"},
      {"SCT", "http://snomed.info/sct"},
      {"SNM", "http://snomed.info/sct"},
      {"SNM3", "http://snomed.info/sct"},
      {"SNOMED", "http://snomed.info/sct"},
      {"SNOMEDCT", "http://snomed.info/sct"},
      {"I10", "http://hl7.org/fhir/sid/icd-10"},
      {"ICD10", "http://hl7.org/fhir/sid/icd-10"},
      {"I10C", "http://hl7.org/fhir/sid/icd-10-cm"},
      {"ICD10CM", "http://hl7.org/fhir/sid/icd-10-cm"},
      {"I10-CM", "http://hl7.org/fhir/sid/icd-10-cm"},
      {"I9", "http://hl7.org/fhir/sid/icd-9-cm"},
      {"I9C", "http://hl7.org/fhir/sid/icd-9-cm"},
      {"I9CM", "http://hl7.org/fhir/sid/icd-9-cm"},
      {"ICD9", "http://hl7.org/fhir/sid/icd-9-cm"},
      {"UCUM", "http://unitsofmeasure.org"},
      {"RXNORM", "http://www.nlm.nih.gov/research/umls/rxnorm"},
      {"RXN", "http://www.nlm.nih.gov/research/umls/rxnorm"},
      {"CVX", "http://hl7.org/fhir/sid/cvx"},
      {"NDC", "http://hl7.org/fhir/sid/ndc"},
      {"C4", "http://www.ama-assn.org/go/cpt"},
      {"CPT", "http://www.ama-assn.org/go/cpt"},
      {"CDCREC", "urn:oid:2.16.840.1.113883.6.238"},
  };
  std::string upper = absl::AsciiStrToUpper(name);
  if (auto it = known->find(upper); it != known->end()) return it->second;
  if (absl::StartsWith(upper, "HL7") && upper.size() >= 7) {
    std::string table = upper.substr(3);
    if (!table.empty() && table[0] == '-') table.erase(0, 1);
    if (table.size() == 4 && std::all_of(table.begin(), table.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      return absl::StrCat(kV2Table, table);
    }
  }
  if (!name.empty() && absl::ascii_isdigit(static_cast<unsigned char>(name[0])) &&
      name.find_first_not_of("0123456789.") == std::string::npos) {
    return absl::StrCat("urn:oid:", name);
  }
  return "";
}

// A FHIR decimal from an HL7 NM, or nullopt.
std::optional<std::string> Decimal(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  bool negative = !text.empty() && text[0] == '-';
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) text.remove_prefix(1);
  if (text.empty() || text.find_first_not_of("0123456789.") != absl::string_view::npos ||
      std::count(text.begin(), text.end(), '.') > 1 || text == ".") {
    return std::nullopt;
  }
  std::string s(text);
  size_t dot = s.find('.');
  std::string whole = s.substr(0, dot);
  std::string fraction = dot == std::string::npos ? "" : s.substr(dot + 1);
  whole.erase(0, std::min(whole.find_first_not_of('0'), whole.size()));
  if (whole.empty()) whole = "0";
  std::string out =
      negative && (whole != "0" || fraction.find_first_not_of('0') != std::string::npos)
          ? "-" + whole
          : whole;
  if (!fraction.empty()) absl::StrAppend(&out, ".", fraction);
  return out;
}

// Context for one message.
class Mapper {
 public:
  Mapper(const Hl7Message& m, const Hl7MapOptions& options, Hl7Issue* issue)
      : m_(m), options_(options), issue_(issue) {}

  absl::StatusOr<Hl7Conversion> Run();

 private:
  absl::Status Fail(const std::string& segment, int sequence, int field, int code, bool reject,
                    std::string reason) {
    if (issue_ != nullptr) {
      issue_->segment = segment;
      issue_->segment_sequence = sequence;
      issue_->field = field;
      issue_->component = 0;
      issue_->code = code;
      issue_->reject = reject;
      issue_->reason = reason;
    }
    return absl::InvalidArgumentError(reason);
  }

  // An OBX without OBX-3 is left out; the sender hears of it in the AA's ERR segment.
  void WarnObxWithoutIdentifier(int sequence) {
    Hl7Issue warning;
    warning.segment = "OBX";
    warning.segment_sequence = sequence;
    warning.field = 3;
    warning.code = 101;
    warning.reason = "OBX-3 (observation identifier) is empty: this OBX was not stored";
    warnings_.push_back(std::move(warning));
  }

  std::string V(const Hl7Segment& s, int field, int component = 1, int sub = 1) const {
    return m_.Value(s, field, component, sub);
  }
  std::string T(absl::string_view raw) const { return m_.Text(raw); }
  std::string C(absl::string_view raw, int n) const { return m_.Text(m_.Component(raw, n)); }
  std::string Sub(absl::string_view raw, int comp, int sub) const {
    return m_.Text(m_.Subcomponent(m_.Component(raw, comp), sub));
  }
  std::vector<absl::string_view> Reps(const Hl7Segment& s, int field) const {
    std::vector<absl::string_view> out;
    for (absl::string_view r : m_.Repetitions(s.Field(field))) {
      if (!absl::StripAsciiWhitespace(r).empty()) out.push_back(r);
    }
    return out;
  }

  void Add(const std::string& type, const std::string& id, const std::string& json,
           const std::string& segment, int sequence) {
    std::string key = absl::StrCat(type, "/", id);
    if (auto it = index_.find(key); it != index_.end()) {
      entries_[it->second] = json;  // the later segment wins
      return;
    }
    index_[key] = entries_.size();
    entries_.push_back(json);
    keys_.push_back(key);
    sources_.push_back({segment, sequence});
  }

  // Codings of a CWE/CE/CNE (primary and alternate triplets) and its text.
  std::string CodeableConcept(absl::string_view raw, const std::string& default_system = "") const;
  std::string Identifier(absl::string_view cx) const;
  std::string HumanName(absl::string_view xpn) const;
  std::string Address(absl::string_view xad) const;
  std::string Telecom(absl::string_view xtn, const std::string& default_use) const;
  std::string PatientIdOf(const Hl7Segment& pid) const;

  absl::StatusOr<std::string> Patient(const Hl7Segment& pid, int sequence,
                                      const std::vector<const Hl7Segment*>& nk1,
                                      const std::string& link_json);
  std::string Encounter(const Hl7Segment& pv1, int sequence, const std::string& patient);
  void Allergy(const Hl7Segment& al1, int sequence, const std::string& patient);
  void Condition(const Hl7Segment& dg1, int sequence, const std::string& patient,
                 const std::string& encounter);
  std::string Observation(const Hl7Segment& obx, int sequence, const std::string& patient,
                          const std::string& group_key, const std::string& default_time,
                          const std::vector<std::string>& notes);
  std::string Report(const Hl7Segment& obr, int sequence, const std::string& patient,
                     const std::vector<std::string>& results);

  absl::StatusOr<Hl7Conversion> Adt(const std::string& event);
  absl::StatusOr<Hl7Conversion> Merge();
  absl::StatusOr<Hl7Conversion> Oru();
  Hl7Conversion Finish();

  const Hl7Message& m_;
  const Hl7MapOptions& options_;
  Hl7Issue* issue_;
  std::vector<std::string> entries_;  // resource JSON
  std::vector<std::string> keys_;     // Type/id
  std::vector<Hl7Conversion::Source> sources_;
  absl::flat_hash_map<std::string, size_t> index_;
  std::vector<Hl7Merge> merges_;
  std::vector<std::string> patients_;
  std::vector<Hl7Issue> warnings_;
  std::string encounter_status_;
};

std::string Mapper::CodeableConcept(absl::string_view raw,
                                    const std::string& default_system) const {
  std::vector<std::string> codings;
  std::string first_display;
  for (int base : {1, 4}) {
    std::string code = C(raw, base), display = C(raw, base + 1), system_name = C(raw, base + 2);
    if (code.empty() && display.empty()) continue;
    if (first_display.empty()) first_display = display;
    if (code.empty()) continue;
    std::string system = system_name.empty() ? default_system : CodingSystem(system_name);
    codings.push_back(
        Obj().Str("system", system).Str("code", code).Str("display", display).Build());
  }
  std::string text = C(raw, 9);
  if (text.empty()) text = first_display;
  return Obj().Raw("coding", Array(codings)).Str("text", text).Build();
}

std::string Mapper::Identifier(absl::string_view cx) const {
  std::string value = C(cx, 1);
  if (value.empty()) return "";
  std::string type = C(cx, 5);
  std::string namespace_id = Sub(cx, 4, 1), universal = Sub(cx, 4, 2),
              universal_type = absl::AsciiStrToUpper(Sub(cx, 4, 3));
  std::string system;
  if (!universal.empty() && (universal_type == "ISO" ||
                             universal.find_first_not_of("0123456789.") == std::string::npos)) {
    system = absl::StrCat("urn:oid:", universal);
  } else if (!universal.empty() && universal_type == "UUID") {
    system = absl::StrCat("urn:uuid:", universal);
  } else if (!universal.empty() && (universal_type == "URI" || universal_type == "URL")) {
    system = universal;
  } else if (type == "SS") {
    system = "http://hl7.org/fhir/sid/us-ssn";
  } else if (!namespace_id.empty()) {
    // No universal id: the authority's local name, as a URN of this exchange.
    std::string name;
    for (char c : namespace_id) {
      name.push_back(
          absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_');
    }
    system = absl::StrCat("urn:hie:hl7:assigning-authority:", name);
  }
  std::string type_json;
  if (!type.empty()) {
    type_json = Obj()
                    .Raw("coding", Array({Obj()
                                              .Str("system", absl::StrCat(kV2Table, "0203"))
                                              .Str("code", type)
                                              .Build()}))
                    .Build();
  }
  std::string assigner =
      namespace_id.empty() ? "" : JsonObject().Add("display", namespace_id).Build();
  return Obj()
      .Raw("type", type_json)
      .Str("system", system)
      .Str("value", value)
      .Raw("assigner", assigner)
      .Build();
}

std::string Mapper::HumanName(absl::string_view xpn) const {
  std::string family = Sub(xpn, 1, 1);
  std::vector<std::string> given;
  for (int c : {2, 3}) {
    std::string g = C(xpn, c);
    if (!g.empty()) given.push_back(JsonQuote(g));
  }
  std::vector<std::string> suffix;
  for (int c : {4, 6}) {
    std::string s = C(xpn, c);
    if (!s.empty()) suffix.push_back(JsonQuote(s));
  }
  std::string prefix = C(xpn, 5);
  if (family.empty() && given.empty()) return "";
  static const auto* uses = new std::map<std::string, std::string>{
      {"L", "official"}, {"D", "usual"},     {"A", "usual"}, {"M", "maiden"},
      {"N", "nickname"}, {"S", "anonymous"}, {"B", "old"},   {"C", "old"}};
  std::string use;
  if (auto it = uses->find(absl::AsciiStrToUpper(C(xpn, 7))); it != uses->end()) use = it->second;
  return Obj()
      .Str("use", use)
      .Str("family", family)
      .Raw("given", Array(given))
      .Raw("prefix", prefix.empty() ? "" : JsonArray({JsonQuote(prefix)}))
      .Raw("suffix", Array(suffix))
      .Build();
}

std::string Mapper::Address(absl::string_view xad) const {
  std::vector<std::string> lines;
  for (std::string l : {Sub(xad, 1, 1), C(xad, 2)}) {
    if (!l.empty()) lines.push_back(JsonQuote(l));
  }
  static const auto* uses = new std::map<std::string, std::string>{
      {"H", "home"}, {"B", "work"}, {"O", "work"}, {"C", "temp"}, {"BA", "old"}};
  std::string use, type;
  std::string code = absl::AsciiStrToUpper(C(xad, 7));
  if (auto it = uses->find(code); it != uses->end()) use = it->second;
  if (code == "M") type = "postal";
  Obj address;
  address.Raw("line", Array(lines))
      .Str("city", C(xad, 3))
      .Str("district", C(xad, 9))
      .Str("state", C(xad, 4))
      .Str("postalCode", C(xad, 5))
      .Str("country", C(xad, 6));
  if (address.empty()) return "";
  return Obj()
      .Str("use", use)
      .Str("type", type)
      .Raw("line", Array(lines))
      .Str("city", C(xad, 3))
      .Str("district", C(xad, 9))
      .Str("state", C(xad, 4))
      .Str("postalCode", C(xad, 5))
      .Str("country", C(xad, 6))
      .Build();
}

std::string Mapper::Telecom(absl::string_view xtn, const std::string& default_use) const {
  std::string equipment = absl::AsciiStrToUpper(C(xtn, 3));
  std::string email = C(xtn, 4);
  std::string system, value;
  if (equipment == "INTERNET" || equipment == "X.400" ||
      (!email.empty() && C(xtn, 1).empty() && C(xtn, 7).empty())) {
    system = "email";
    value = email;
  } else {
    value = C(xtn, 1);
    if (value.empty() && !C(xtn, 7).empty()) {
      value = C(xtn, 6).empty() ? C(xtn, 7) : absl::StrCat("(", C(xtn, 6), ") ", C(xtn, 7));
      if (!C(xtn, 8).empty()) absl::StrAppend(&value, " x", C(xtn, 8));
    }
    if (value.empty()) value = C(xtn, 12);
    system = equipment == "FX" ? "fax" : equipment == "BP" ? "pager" : "phone";
  }
  if (value.empty()) return "";
  std::string use_code = absl::AsciiStrToUpper(C(xtn, 2));
  std::string use = use_code == "WPN" ? "work" : use_code == "PRN" ? "home" : default_use;
  if (equipment == "CP" || use_code == "ORN") use = equipment == "CP" ? "mobile" : use;
  return Obj().Str("system", system).Str("value", value).Str("use", use).Build();
}

std::string Mapper::PatientIdOf(const Hl7Segment& pid) const {
  std::string value;
  for (absl::string_view cx : Reps(pid, 3)) {
    if (C(cx, 1).empty()) continue;
    if (value.empty() || absl::AsciiStrToUpper(C(cx, 5)) == "MR") {
      value = C(cx, 1);
      if (absl::AsciiStrToUpper(C(cx, 5)) == "MR") break;
    }
  }
  for (int field : {2, 4}) {  // deprecated external / alternate ids, when PID-3 is empty
    if (!value.empty()) break;
    value = V(pid, field, 1);
  }
  if (value.empty()) return "";
  std::string id = PatientIdFor(value);
  if (options_.survivor_of) {
    if (std::string survivor = options_.survivor_of(id); !survivor.empty()) return survivor;
  }
  return id;
}

absl::StatusOr<std::string> Mapper::Patient(const Hl7Segment& pid, int sequence,
                                            const std::vector<const Hl7Segment*>& nk1,
                                            const std::string& link_json) {
  std::string id = PatientIdOf(pid);
  if (id.empty()) {
    return Fail("PID", sequence, 3, 101, false,
                "PID-3 (patient identifier list) is empty: the patient cannot be identified");
  }
  std::vector<std::string> identifiers;
  std::vector<std::string> seen;
  auto add_identifier = [&](absl::string_view cx) {
    std::string json = Identifier(cx);
    if (json.empty() ||
        std::find(seen.begin(), seen.end(), C(cx, 1) + "|" + C(cx, 4)) != seen.end())
      return;
    seen.push_back(C(cx, 1) + "|" + C(cx, 4));
    identifiers.push_back(json);
  };
  for (absl::string_view cx : Reps(pid, 3)) add_identifier(cx);
  for (int field : {2, 4}) {
    for (absl::string_view cx : Reps(pid, field)) add_identifier(cx);
  }
  if (std::string ssn = V(pid, 19); !ssn.empty()) {
    identifiers.push_back(
        Obj()
            .Raw("type",
                 Obj()
                     .Raw("coding", Array({Obj()
                                               .Str("system", absl::StrCat(kV2Table, "0203"))
                                               .Str("code", "SS")
                                               .Build()}))
                     .Build())
            .Str("system", "http://hl7.org/fhir/sid/us-ssn")
            .Str("value", ssn)
            .Build());
  }
  std::vector<std::string> names;
  for (absl::string_view xpn : Reps(pid, 5)) names.push_back(HumanName(xpn));
  std::string gender;
  std::string sex = absl::AsciiStrToUpper(V(pid, 8));
  if (sex == "M") gender = "male";
  if (sex == "F") gender = "female";
  if (sex == "O" || sex == "A") gender = "other";
  if (sex == "U" || sex == "N") gender = "unknown";
  std::string birth = FhirDateTime(V(pid, 7));
  if (birth.size() > 10) birth = birth.substr(0, 10);
  if (!V(pid, 7).empty() && birth.empty()) {
    return Fail("PID", sequence, 7, 102, false,
                absl::StrCat("PID-7 (date of birth) \"", V(pid, 7), "\" is not a date"));
  }
  std::vector<std::string> addresses;
  for (absl::string_view xad : Reps(pid, 11)) addresses.push_back(Address(xad));
  std::vector<std::string> telecom;
  for (absl::string_view xtn : Reps(pid, 13)) telecom.push_back(Telecom(xtn, "home"));
  for (absl::string_view xtn : Reps(pid, 14)) telecom.push_back(Telecom(xtn, "work"));
  std::vector<std::string> contacts;
  for (const Hl7Segment* nk : nk1) {
    std::vector<std::string> contact_telecom;
    for (absl::string_view xtn : Reps(*nk, 5)) contact_telecom.push_back(Telecom(xtn, "home"));
    for (absl::string_view xtn : Reps(*nk, 6)) contact_telecom.push_back(Telecom(xtn, "work"));
    std::vector<absl::string_view> name_reps = Reps(*nk, 2);
    std::vector<absl::string_view> address_reps = Reps(*nk, 4);
    std::string relationship = CodeableConcept(nk->Field(3), absl::StrCat(kV2Table, "0063"));
    std::string contact =
        Obj()
            .Raw("relationship", relationship.empty() ? "" : JsonArray({relationship}))
            .Raw("name", name_reps.empty() ? "" : HumanName(name_reps.front()))
            .Raw("telecom", Array(contact_telecom))
            .Raw("address", address_reps.empty() ? "" : Address(address_reps.front()))
            .Build();
    contacts.push_back(contact);
  }
  Obj patient;
  patient.Str("resourceType", "Patient")
      .Str("id", id)
      .Raw("identifier", Array(identifiers))
      .Bool("active", true)
      .Raw("name", Array(names))
      .Raw("telecom", Array(telecom))
      .Str("gender", gender)
      .Str("birthDate", birth);
  std::string death_flag = absl::AsciiStrToUpper(V(pid, 30));
  if (std::string died = FhirDateTime(V(pid, 29)); !died.empty()) {
    patient.Str("deceasedDateTime", died);
  } else if (death_flag == "Y" || death_flag == "N") {
    patient.Bool("deceasedBoolean", death_flag == "Y");
  }
  patient.Raw("address", Array(addresses));
  std::string birth_order = V(pid, 25), multiple = absl::AsciiStrToUpper(V(pid, 24));
  int order = 0;
  if (!birth_order.empty() && absl::SimpleAtoi(birth_order, &order) && order > 0) {
    patient.Raw("multipleBirthInteger", absl::StrCat(order));
  } else if (multiple == "Y" || multiple == "N") {
    patient.Bool("multipleBirthBoolean", multiple == "Y");
  }
  patient.Raw("contact", Array(contacts)).Raw("link", link_json);
  Add("Patient", id, patient.Build(), "PID", sequence);
  if (std::find(patients_.begin(), patients_.end(), id) == patients_.end()) patients_.push_back(id);
  return id;
}

std::string Mapper::Encounter(const Hl7Segment& pv1, int sequence, const std::string& patient) {
  std::string visit = V(pv1, 19);
  std::string admit = FhirDateTime(V(pv1, 44)), discharge = FhirDateTime(V(pv1, 45));
  std::string klass = absl::AsciiStrToUpper(V(pv1, 2));
  std::string location = absl::StrJoin(
      std::vector<std::string>{V(pv1, 3, 1), V(pv1, 3, 2), V(pv1, 3, 3), V(pv1, 3, 4)}, " ");
  location = std::string(absl::StripAsciiWhitespace(location));
  if (visit.empty() && admit.empty() && klass.empty() && location.empty()) return "";  // empty PV1
  std::string id = HashId(
      "hl7-enc-", {patient, visit.empty() ? V(pv1, 44) : visit, visit.empty() ? location : ""});
  static const auto* classes = new std::map<std::string, std::pair<std::string, std::string>>{
      {"I", {"IMP", "inpatient encounter"}}, {"O", {"AMB", "ambulatory"}},
      {"E", {"EMER", "emergency"}},          {"P", {"PRENC", "pre-admission"}},
      {"R", {"AMB", "ambulatory"}},          {"B", {"IMP", "inpatient encounter"}},
      {"N", {"AMB", "ambulatory"}}};
  std::string class_json;
  if (auto it = classes->find(klass); it != classes->end()) {
    class_json = Obj()
                     .Str("system", "http://terminology.hl7.org/CodeSystem/v3-ActCode")
                     .Str("code", it->second.first)
                     .Str("display", it->second.second)
                     .Build();
  } else {
    class_json = Obj()
                     .Str("system", "http://terminology.hl7.org/CodeSystem/v3-NullFlavor")
                     .Str("code", "UNK")
                     .Build();
  }
  std::string status = encounter_status_;
  if (status.empty())
    status = !discharge.empty() ? "finished" : !admit.empty() ? "in-progress" : "unknown";
  std::string period = Obj().Str("start", admit).Str("end", discharge).Build();
  std::string attending;
  if (std::string doctor_id = V(pv1, 7, 1), family = V(pv1, 7, 2), given = V(pv1, 7, 3);
      !doctor_id.empty() || !family.empty()) {
    std::string display = std::string(absl::StripAsciiWhitespace(absl::StrCat(given, " ", family)));
    attending = JsonArray(
        {Obj()
             .Raw("type", JsonArray({Obj()
                                         .Raw("coding",
                                              JsonArray({Obj()
                                                             .Str("system",
                                                                  "http://terminology.hl7.org/"
                                                                  "CodeSystem/v3-ParticipationType")
                                                             .Str("code", "ATND")
                                                             .Build()}))
                                         .Build()}))
             .Raw("individual",
                  Obj()
                      .Raw("identifier",
                           doctor_id.empty() ? "" : JsonObject().Add("value", doctor_id).Build())
                      .Str("display", display)
                      .Build())
             .Build()});
  }
  std::string encounter =
      Obj()
          .Str("resourceType", "Encounter")
          .Str("id", id)
          .Raw("identifier",
               visit.empty() ? "" : JsonArray({JsonObject().Add("value", visit).Build()}))
          .Str("status", status)
          .Raw("class", class_json)
          .Raw("subject", Ref("Patient", patient))
          .Raw("participant", attending)
          .Raw("period", period)
          .Raw("location",
               location.empty()
                   ? ""
                   : JsonArray({Obj()
                                    .Raw("location", JsonObject().Add("display", location).Build())
                                    .Build()}))
          .Build();
  Add("Encounter", id, encounter, "PV1", sequence);
  return id;
}

void Mapper::Allergy(const Hl7Segment& al1, int sequence, const std::string& patient) {
  std::string code = CodeableConcept(al1.Field(3));
  if (code.empty()) return;
  std::string id = HashId("hl7-alg-", {patient, V(al1, 3, 1), V(al1, 3, 2)});
  std::string type = absl::AsciiStrToUpper(V(al1, 2));
  std::string category = type == "DA" || type == "MA" ? "medication"
                         : type == "FA"               ? "food"
                         : type == "EA" || type == "AA" || type == "PA" || type == "LA"
                             ? "environment"
                             : "";
  std::string severity = absl::AsciiStrToUpper(V(al1, 4));
  std::string criticality = severity == "SV"                         ? "high"
                            : (severity == "MO" || severity == "MI") ? "low"
                                                                     : "";
  std::vector<std::string> reactions;
  for (absl::string_view r : Reps(al1, 5)) {
    std::string text = T(r);
    if (!text.empty())
      reactions.push_back(
          Obj().Raw("manifestation", JsonArray({JsonObject().Add("text", text).Build()})).Build());
  }
  std::string clinical =
      Obj()
          .Raw("coding", JsonArray({Obj()
                                        .Str("system",
                                             "http://terminology.hl7.org/CodeSystem/"
                                             "allergyintolerance-clinical")
                                        .Str("code", "active")
                                        .Build()}))
          .Build();
  std::string json = Obj()
                         .Str("resourceType", "AllergyIntolerance")
                         .Str("id", id)
                         .Raw("clinicalStatus", clinical)
                         .Raw("category", category.empty() ? "" : JsonArray({JsonQuote(category)}))
                         .Str("criticality", criticality)
                         .Raw("code", code)
                         .Raw("patient", Ref("Patient", patient))
                         .Str("onsetDateTime", FhirDateTime(V(al1, 6)))
                         .Raw("reaction", Array(reactions))
                         .Build();
  Add("AllergyIntolerance", id, json, "AL1", sequence);
}

void Mapper::Condition(const Hl7Segment& dg1, int sequence, const std::string& patient,
                       const std::string& encounter) {
  std::string method = V(dg1, 2);  // v2.3: the coding method when DG1-3 names none
  std::string code = CodeableConcept(dg1.Field(3), method.empty() ? "" : CodingSystem(method));
  std::string description = V(dg1, 4);
  if (code.empty() && description.empty()) return;
  if (code.empty()) code = JsonObject().Add("text", description).Build();
  std::string id = HashId("hl7-dx-", {patient, V(dg1, 3, 1), description, V(dg1, 5)});
  std::string category = JsonArray(
      {Obj()
           .Raw("coding",
                JsonArray(
                    {Obj()
                         .Str("system", "http://terminology.hl7.org/CodeSystem/condition-category")
                         .Str("code", "encounter-diagnosis")
                         .Build()}))
           .Build()});
  std::string json = Obj()
                         .Str("resourceType", "Condition")
                         .Str("id", id)
                         .Raw("category", category)
                         .Raw("code", code)
                         .Raw("subject", Ref("Patient", patient))
                         .Raw("encounter", encounter.empty() ? "" : Ref("Encounter", encounter))
                         .Str("onsetDateTime", FhirDateTime(V(dg1, 5)))
                         .Build();
  Add("Condition", id, json, "DG1", sequence);
}

std::string ObservationStatus(const std::string& code) {
  static const auto* map = new std::map<std::string, std::string>{
      {"F", "final"},       {"C", "corrected"},        {"P", "preliminary"},
      {"R", "preliminary"}, {"S", "preliminary"},      {"I", "registered"},
      {"O", "registered"},  {"D", "entered-in-error"}, {"W", "entered-in-error"},
      {"X", "cancelled"},   {"A", "amended"}};
  auto it = map->find(absl::AsciiStrToUpper(code));
  return it == map->end() ? "unknown" : it->second;
}

std::string ReportStatus(const std::string& code) {
  static const auto* map = new std::map<std::string, std::string>{
      {"O", "registered"},  {"I", "registered"},  {"S", "registered"},
      {"P", "preliminary"}, {"R", "preliminary"}, {"A", "partial"},
      {"F", "final"},       {"C", "corrected"},   {"X", "cancelled"}};
  auto it = map->find(absl::AsciiStrToUpper(code));
  return it == map->end() ? "unknown" : it->second;
}

std::string Mapper::Observation(const Hl7Segment& obx, int sequence, const std::string& patient,
                                const std::string& group_key, const std::string& default_time,
                                const std::vector<std::string>& notes) {
  std::string code = CodeableConcept(obx.Field(3));
  if (code.empty()) return "";
  std::string id = HashId("hl7-obs-", {patient, group_key, absl::StrCat(sequence)});
  std::string value_type = absl::AsciiStrToUpper(V(obx, 2));
  std::vector<absl::string_view> values = Reps(obx, 5);
  std::string units_raw(m_.Repetitions(obx.Field(6)).front());
  std::string unit_code = C(units_raw, 1), unit_text = C(units_raw, 2),
              unit_system = CodingSystem(C(units_raw, 3));
  auto quantity = [&](const std::string& number, const std::string& comparator) {
    return Obj()
        .Raw("value", number)
        .Str("comparator", comparator)
        .Str("unit", unit_text.empty() ? unit_code : unit_text)
        .Str("system", unit_code.empty() ? "" : unit_system)
        .Str("code", unit_system.empty() ? "" : unit_code)
        .Build();
  };
  Obj obs;
  obs.Str("resourceType", "Observation").Str("id", id);
  obs.Str("status", ObservationStatus(V(obx, 11)));
  obs.Raw("category",
          JsonArray(
              {Obj()
                   .Raw("coding",
                        JsonArray(
                            {Obj()
                                 .Str("system",
                                      "http://terminology.hl7.org/CodeSystem/observation-category")
                                 .Str("code", "laboratory")
                                 .Build()}))
                   .Build()}));
  obs.Raw("code", code).Raw("subject", Ref("Patient", patient));
  std::string when = FhirDateTime(V(obx, 14));
  obs.Str("effectiveDateTime", when.empty() ? default_time : when);
  if (!values.empty()) {
    absl::string_view first = values.front();
    if (value_type == "NM") {
      if (auto number = Decimal(T(first))) {
        obs.Raw("valueQuantity", quantity(*number, ""));
      } else {
        obs.Str("valueString", T(first));
      }
    } else if (value_type == "SN") {
      std::string comparator = C(first, 1), n1 = C(first, 2), separator = C(first, 3),
                  n2 = C(first, 4);
      auto a = Decimal(n1), b = Decimal(n2);
      if (separator == ":" || separator == "/") {
        if (a && b) {
          obs.Raw("valueRatio", Obj()
                                    .Raw("numerator", JsonObject().AddRaw("value", *a).Build())
                                    .Raw("denominator", JsonObject().AddRaw("value", *b).Build())
                                    .Build());
        } else {
          obs.Str("valueString", T(first));
        }
      } else if (separator == "-" && a && b) {
        obs.Raw("valueRange",
                Obj().Raw("low", quantity(*a, "")).Raw("high", quantity(*b, "")).Build());
      } else if (a && (comparator.empty() || comparator == "=" || comparator == "<" ||
                       comparator == ">" || comparator == "<=" || comparator == ">=")) {
        obs.Raw("valueQuantity", quantity(*a, comparator == "=" ? "" : comparator));
      } else {
        obs.Str("valueString", T(first));
      }
    } else if (value_type == "CWE" || value_type == "CE" || value_type == "CNE" ||
               value_type == "CF") {
      obs.Raw("valueCodeableConcept", CodeableConcept(first));
    } else if (value_type == "TS" || value_type == "DTM" || value_type == "DT") {
      std::string date = FhirDateTime(T(first));
      obs.Str(date.empty() ? "valueString" : "valueDateTime", date.empty() ? T(first) : date);
    } else {
      // ST, TX, FT and the rest: text; repetitions (often abused as line breaks) as lines.
      std::vector<std::string> lines;
      for (absl::string_view v : m_.Repetitions(obx.Field(5))) lines.push_back(T(v));
      obs.Str("valueString", absl::StrJoin(lines, "\n"));
    }
  }
  std::vector<std::string> interpretation;
  for (absl::string_view flag : Reps(obx, 8)) {
    std::string f = C(flag, 1);
    if (f.empty()) continue;
    interpretation.push_back(
        Obj()
            .Raw("coding", JsonArray({Obj().Str("system", kInterpretation).Str("code", f).Build()}))
            .Build());
  }
  obs.Raw("interpretation", Array(interpretation));
  obs.Raw("note", Array([&] {
            std::vector<std::string> out;
            for (const auto& n : notes) out.push_back(JsonObject().Add("text", n).Build());
            return out;
          }()));
  std::string range = V(obx, 7);
  if (!range.empty()) {
    std::string low, high;
    size_t dash = range.find('-', 1);
    if (absl::StartsWith(range, "<")) {
      if (auto h = Decimal(absl::StripPrefix(absl::StripPrefix(range, "<"), "="))) high = *h;
    } else if (absl::StartsWith(range, ">")) {
      if (auto l = Decimal(absl::StripPrefix(absl::StripPrefix(range, ">"), "="))) low = *l;
    } else if (dash != std::string::npos) {
      auto l = Decimal(range.substr(0, dash)), h = Decimal(range.substr(dash + 1));
      if (l && h) {
        low = *l;
        high = *h;
      }
    }
    obs.Raw("referenceRange", JsonArray({Obj()
                                             .Raw("low", low.empty() ? "" : quantity(low, ""))
                                             .Raw("high", high.empty() ? "" : quantity(high, ""))
                                             .Str("text", range)
                                             .Build()}));
  }
  Add("Observation", id, obs.Build(), "OBX", sequence);
  return id;
}

std::string Mapper::Report(const Hl7Segment& obr, int sequence, const std::string& patient,
                           const std::vector<std::string>& results) {
  std::string code = CodeableConcept(obr.Field(4));
  if (code.empty()) code = JsonObject().Add("text", "laboratory report").Build();
  std::string filler = V(obr, 3), placer = V(obr, 2);
  std::string id = HashId(
      "hl7-rpt-", {patient, filler, placer, filler.empty() && placer.empty() ? m_.ControlId() : "",
                   absl::StrCat(sequence), V(obr, 4)});
  std::vector<std::string> identifiers;
  for (const auto& [value, type] : {std::pair{filler, "FILL"}, std::pair{placer, "PLAC"}}) {
    if (value.empty()) continue;
    identifiers.push_back(
        Obj()
            .Raw("type",
                 Obj()
                     .Raw("coding", JsonArray({Obj()
                                                   .Str("system", absl::StrCat(kV2Table, "0203"))
                                                   .Str("code", type)
                                                   .Build()}))
                     .Build())
            .Str("value", value)
            .Build());
  }
  std::vector<std::string> refs;
  for (const auto& r : results) refs.push_back(Ref("Observation", r));
  std::string issued = FhirDateTime(V(obr, 22));
  if (issued.size() < 20) issued.clear();  // an instant needs seconds and a zone
  std::string json =
      Obj()
          .Str("resourceType", "DiagnosticReport")
          .Str("id", id)
          .Raw("identifier", Array(identifiers))
          .Str("status", ReportStatus(V(obr, 25)))
          .Raw("category",
               JsonArray(
                   {Obj()
                        .Raw("coding", JsonArray({Obj()
                                                      .Str("system", absl::StrCat(kV2Table, "0074"))
                                                      .Str("code", "LAB")
                                                      .Build()}))
                        .Build()}))
          .Raw("code", code)
          .Raw("subject", Ref("Patient", patient))
          .Str("effectiveDateTime", FhirDateTime(V(obr, 7)))
          .Str("issued", issued)
          .Raw("result", Array(refs))
          .Build();
  Add("DiagnosticReport", id, json, "OBR", sequence);
  return id;
}

absl::StatusOr<Hl7Conversion> Mapper::Adt(const std::string& event) {
  if (event == "A03") encounter_status_ = "finished";
  if (event == "A11") encounter_status_ = "cancelled";
  if (event == "A13") encounter_status_ = "in-progress";
  if (event == "A05") encounter_status_ = "planned";
  const Hl7Segment* pid = nullptr;
  std::vector<const Hl7Segment*> nk1;
  std::map<std::string, int> counts;
  for (const auto& s : m_.segments()) {
    ++counts[s.id()];
    if (s.id() == "PID" && pid == nullptr) pid = &s;
    if (s.id() == "NK1") nk1.push_back(&s);
  }
  if (pid == nullptr) return Fail("PID", 1, 0, 100, false, "an ADT message needs a PID segment");
  absl::StatusOr<std::string> patient = Patient(*pid, 1, nk1, "");
  if (!patient.ok()) return patient.status();
  std::string encounter;
  counts.clear();
  for (const auto& s : m_.segments()) {
    int sequence = ++counts[s.id()];
    if (s.id() == "PV1" && sequence == 1) encounter = Encounter(s, sequence, *patient);
    if (s.id() == "AL1") Allergy(s, sequence, *patient);
    if (s.id() == "DG1") Condition(s, sequence, *patient, encounter);
    if (s.id() == "OBX" &&
        Observation(s, sequence, *patient, absl::StrCat("adt:", m_.ControlId()), "", {}).empty()) {
      WarnObxWithoutIdentifier(sequence);
    }
  }
  return Finish();
}

absl::StatusOr<Hl7Conversion> Mapper::Merge() {
  std::map<std::string, int> counts;
  const Hl7Segment* pid = nullptr;
  int pid_sequence = 0;
  for (const auto& s : m_.segments()) {
    int sequence = ++counts[s.id()];
    if (s.id() == "PID") {
      pid = &s;
      pid_sequence = sequence;
      continue;
    }
    if (s.id() != "MRG") continue;
    if (pid == nullptr) return Fail("MRG", sequence, 0, 100, false, "MRG without a PID before it");
    std::string retired_value;
    for (absl::string_view cx : Reps(s, 1)) {
      retired_value = C(cx, 1);
      if (!retired_value.empty()) break;
    }
    if (retired_value.empty()) retired_value = V(s, 4);
    if (retired_value.empty()) {
      return Fail("MRG", sequence, 1, 101, false,
                  "MRG-1 (prior patient identifier) is empty: nothing to merge");
    }
    std::string retired = PatientIdFor(retired_value);
    // The survivor, without following earlier merges of its own id.
    std::string survivor_value;
    for (absl::string_view cx : Reps(*pid, 3)) {
      if (C(cx, 1).empty()) continue;
      if (survivor_value.empty() || absl::AsciiStrToUpper(C(cx, 5)) == "MR") {
        survivor_value = C(cx, 1);
        if (absl::AsciiStrToUpper(C(cx, 5)) == "MR") break;
      }
    }
    std::string survivor_own = survivor_value.empty() ? "" : PatientIdFor(survivor_value);
    if (survivor_own == retired) {
      return Fail("MRG", sequence, 1, 102, false,
                  "MRG-1 names the surviving patient (PID-3) itself: nothing to merge");
    }
    std::string link = JsonArray(
        {JsonObject().AddRaw("other", Ref("Patient", retired)).Add("type", "replaces").Build()});
    absl::StatusOr<std::string> survivor = Patient(*pid, pid_sequence, {}, link);
    if (!survivor.ok()) return survivor.status();
    std::vector<std::string> retired_ids;
    for (absl::string_view cx : Reps(s, 1)) retired_ids.push_back(Identifier(cx));
    std::string stub = Obj()
                           .Str("resourceType", "Patient")
                           .Str("id", retired)
                           .Raw("identifier", Array(retired_ids))
                           .Bool("active", false)
                           .Raw("link", JsonArray({JsonObject()
                                                       .AddRaw("other", Ref("Patient", *survivor))
                                                       .Add("type", "replaced-by")
                                                       .Build()}))
                           .Build();
    Add("Patient", retired, stub, "MRG", sequence);
    merges_.push_back({retired, *survivor});
  }
  if (merges_.empty()) return Fail("MRG", 1, 0, 100, false, "a merge message needs a MRG segment");
  return Finish();
}

absl::StatusOr<Hl7Conversion> Mapper::Oru() {
  std::map<std::string, int> counts;
  std::string patient;
  std::string report_key, report_time;
  const Hl7Segment* obr = nullptr;
  int obr_sequence = 0;
  std::vector<std::string> results;
  const Hl7Segment* obx = nullptr;
  int obx_sequence = 0, obx_in_group = 0;
  std::vector<std::string> notes;
  auto flush_obx = [&] {
    if (obx == nullptr) return;
    std::string id = Observation(
        *obx, obx_in_group, patient,
        report_key.empty() ? absl::StrCat("oru:", m_.ControlId()) : report_key, report_time, notes);
    if (!id.empty()) results.push_back(id);
    obx = nullptr;
    notes.clear();
  };
  auto flush_report = [&] {
    flush_obx();
    if (obr != nullptr) Report(*obr, obr_sequence, patient, results);
    obr = nullptr;
    results.clear();
  };
  std::vector<const Hl7Segment*> nk1;
  const Hl7Segment* pending_pid = nullptr;
  int pending_sequence = 0;
  auto start_patient = [&]() -> absl::Status {
    if (pending_pid == nullptr) return absl::OkStatus();
    absl::StatusOr<std::string> id = Patient(*pending_pid, pending_sequence, nk1, "");
    pending_pid = nullptr;
    nk1.clear();
    if (!id.ok()) return id.status();
    patient = *id;
    return absl::OkStatus();
  };
  for (const auto& s : m_.segments()) {
    int sequence = ++counts[s.id()];
    const std::string& id = s.id();
    if (id == "PID") {
      flush_report();
      pending_pid = &s;
      pending_sequence = sequence;
      continue;
    }
    if (id == "NK1" && pending_pid != nullptr) {
      nk1.push_back(&s);
      continue;
    }
    if (id == "PD1" || id == "NTE" || id == "NK1" || id == "PV1" || id == "PV2" || id == "OBR" ||
        id == "OBX" || id == "ORC" || id == "SPM") {
      if (id != "NTE" || obx == nullptr) {
        if (absl::Status st = start_patient(); !st.ok()) return st;
      }
    }
    if (id == "PV1" && !patient.empty()) Encounter(s, sequence, patient);
    if (id == "OBR") {
      flush_report();
      if (patient.empty())
        return Fail("OBR", sequence, 0, 100, false, "OBR before any PID: whose result is it?");
      obr = &s;
      obr_sequence = sequence;
      report_key = absl::StrCat("obr:", V(s, 3), "|", V(s, 2), "|",
                                V(s, 3).empty() && V(s, 2).empty() ? m_.ControlId() : "", "|",
                                sequence, "|", V(s, 4));
      report_time = FhirDateTime(V(s, 7));
      obx_in_group = 0;
    }
    if (id == "OBX") {
      flush_obx();
      if (patient.empty())
        return Fail("OBX", sequence, 0, 100, false, "OBX before any PID: whose result is it?");
      if (V(s, 3).empty() && V(s, 3, 2).empty()) {
        WarnObxWithoutIdentifier(sequence);
        continue;
      }
      obx = &s;
      obx_sequence = sequence;
      ++obx_in_group;
    }
    if (id == "NTE" && obx != nullptr) {
      std::vector<std::string> lines;
      for (absl::string_view v : m_.Repetitions(s.Field(3))) lines.push_back(T(v));
      std::string text = absl::StrJoin(lines, "\n");
      if (!text.empty()) notes.push_back(text);
    }
  }
  if (absl::Status st = start_patient(); !st.ok()) return st;
  flush_report();
  (void)obx_sequence;
  if (patient.empty()) return Fail("PID", 1, 0, 100, false, "an ORU message needs a PID segment");
  return Finish();
}

Hl7Conversion Mapper::Finish() {
  Hl7Conversion out;
  std::vector<std::string> entries;
  for (size_t i = 0; i < entries_.size(); ++i) {
    entries.push_back(
        JsonObject()
            .Add("fullUrl", keys_[i])
            .AddRaw("resource", entries_[i])
            .AddRaw("request", JsonObject().Add("method", "PUT").Add("url", keys_[i]).Build())
            .Build());
  }
  out.bundle_json = JsonObject()
                        .Add("resourceType", "Bundle")
                        .Add("type", "transaction")
                        .AddRaw("entry", JsonArray(entries))
                        .Build();
  out.entry_sources = std::move(sources_);
  out.merges = std::move(merges_);
  out.patient_ids = std::move(patients_);
  out.warnings = std::move(warnings_);
  return out;
}

absl::StatusOr<Hl7Conversion> Mapper::Run() {
  std::string code = absl::AsciiStrToUpper(m_.MessageCode());
  std::string event = absl::AsciiStrToUpper(m_.TriggerEvent());
  if (code == "ADT") {
    static constexpr const char* kPatientEvents[] = {"A01", "A04", "A05", "A08", "A28", "A31",
                                                     "A02", "A03", "A06", "A07", "A11", "A13"};
    for (const char* e : kPatientEvents) {
      if (event == e) return Adt(event);
    }
    if (event == "A40" || event == "A34") return Merge();
    return Fail("MSH", 1, 9, 201, true,
                absl::StrCat("ADT^", event,
                             " is not supported (taken: A01 A02 A03 A04 A05 A06 A07 A08 A11 A13 "
                             "A28 A31, merges A40 A34)"));
  }
  if (code == "ORU") {
    if (event == "R01") return Oru();
    return Fail("MSH", 1, 9, 201, true, absl::StrCat("ORU^", event, " is not supported (R01 is)"));
  }
  return Fail(
      "MSH", 1, 9, 200, true,
      absl::StrCat("message type ", code, "^", event, " is not supported (ADT and ORU^R01 are)"));
}

}  // namespace

std::string PatientIdFor(const std::string& identifier_value) {
  if (IsFhirId(identifier_value)) return identifier_value;
  return HashId("hl7-", {identifier_value});
}

std::string FhirDateTime(const std::string& hl7) {
  std::string s(absl::StripAsciiWhitespace(hl7));
  size_t zone_at = s.find_first_of("+-");
  std::string zone = zone_at == std::string::npos ? "" : s.substr(zone_at);
  std::string digits = s.substr(0, zone_at);
  std::string fraction;
  if (size_t dot = digits.find('.'); dot != std::string::npos) {
    fraction = digits.substr(dot + 1);
    digits = digits.substr(0, dot);
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
      fraction.find_first_not_of("0123456789") != std::string::npos) {
    return "";
  }
  if (digits.size() != 4 && digits.size() != 6 && digits.size() != 8 && digits.size() != 10 &&
      digits.size() != 12 && digits.size() != 14) {
    return "";
  }
  std::string out = digits.substr(0, 4);
  if (digits.size() >= 6) absl::StrAppend(&out, "-", digits.substr(4, 2));
  if (digits.size() >= 8) absl::StrAppend(&out, "-", digits.substr(6, 2));
  bool zone_ok = zone.size() == 5 && zone.find_first_not_of("0123456789", 1) == std::string::npos;
  if (digits.size() > 8 && zone_ok) {
    std::string hh = digits.substr(8, 2);
    std::string mm = digits.size() >= 12 ? digits.substr(10, 2) : "00";
    std::string ss = digits.size() >= 14 ? digits.substr(12, 2) : "00";
    absl::StrAppend(&out, "T", hh, ":", mm, ":", ss);
    if (!fraction.empty() && digits.size() >= 14) absl::StrAppend(&out, ".", fraction);
    absl::StrAppend(&out, zone.substr(0, 3), ":", zone.substr(3, 2));
  }
  if (!fhir::ParseDateTime(out).ok()) return "";
  return out;
}

absl::StatusOr<Hl7Conversion> ConvertToFhir(const Hl7Message& message, const Hl7MapOptions& options,
                                            Hl7Issue* issue) {
  Mapper mapper(message, options, issue);
  return mapper.Run();
}

}  // namespace hie::node::hl7
