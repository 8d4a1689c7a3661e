#include "node/domain/record_search.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/crypto/hash.h"
#include "common/fhir/date_search.h"
#include "common/fhir/datetime.h"
#include "common/store/key_codec.h"
#include "google/protobuf/util/time_util.h"
#include "node/domain/resource_types.h"
#include "simdjson.h"

namespace hie::node {
namespace {

// ---------------------------------------------------------------------------------
// The table: what each type answers, and which elements each parameter reads.

enum class Kind { kToken, kString, kDate, kReference, kId };

struct ParamDef {
  std::string name;
  Kind kind;
  // Element paths from the resource, members joined by '.'; arrays are entered at every
  // step (FHIR's "any value"). Choice elements are listed by their typed names
  // (effectiveDateTime, effectivePeriod). Empty for references and _id.
  std::vector<std::vector<std::string>> paths;
  // For a token over plain codes: the code system they belong to ("" if none).
  std::string implicit_system;
  std::string documentation;
};

struct TypeDef {
  std::string type;
  std::vector<ParamDef> params;
};

std::vector<std::vector<std::string>> Paths(std::initializer_list<const char*> dotted) {
  std::vector<std::vector<std::string>> out;
  for (const char* d : dotted) out.push_back(absl::StrSplit(d, '.'));
  return out;
}

ParamDef PatientRef(const std::string& type, const char* element) {
  return {"patient",
          Kind::kReference,
          {},
          "",
          absl::StrCat("The patient the record is about (", type, ".", element,
                       "): Patient/<id> or <id>")};
}

ParamDef SubjectRef(const std::string& type) {
  return {"subject",
          Kind::kReference,
          {},
          "",
          absl::StrCat("The record's subject when it is a Patient (", type,
                       ".subject): Patient/<id> or <id>")};
}

ParamDef Date(const char* name, std::initializer_list<const char*> paths, std::string doc) {
  return {name, Kind::kDate, Paths(paths), "",
          absl::StrCat(doc, ": [prefix]date, prefixes eq ne gt lt ge le sa eb")};
}

ParamDef Token(const char* name, std::initializer_list<const char*> paths, std::string doc,
               std::string implicit_system = "") {
  return {name, Kind::kToken, Paths(paths), std::move(implicit_system),
          absl::StrCat(doc, ": code, system|code, |code or system|")};
}

ParamDef String(const char* name, std::initializer_list<const char*> paths, std::string doc) {
  return {name, Kind::kString, Paths(paths), "",
          absl::StrCat(doc, ": starts with, ignoring case and accents; :exact, :contains")};
}

// A clinical type: patient (and subject when FHIR's element is subject) plus `more`.
TypeDef Clinical(const std::string& type, const char* patient_element, std::vector<ParamDef> more) {
  TypeDef def{type, {PatientRef(type, patient_element)}};
  if (std::string(patient_element) == "subject") def.params.push_back(SubjectRef(type));
  for (ParamDef& p : more) def.params.push_back(std::move(p));
  return def;
}

// Which element a parameter reads differs by type: this is the one place that says so.
// The generic names follow FHIR R4's clinical-date, clinical-code and category
// parameters; where FHIR R4 has no `date` for a type this node adds its principal
// clinical date (Condition: onset, else recorded; MedicationRequest: authoredOn), and
// FHIR's own type-specific names for the same elements are served too.
const std::vector<TypeDef>& Table() {
  static const auto* table = new std::vector<TypeDef>{
      {"Patient",
       {Token("identifier", {"identifier"}, "Patient.identifier (system|value)"),
        String("family", {"name.family"}, "Patient.name.family"),
        String("given", {"name.given"}, "Patient.name.given"),
        String("name", {"name.family", "name.given", "name.prefix", "name.suffix", "name.text"},
               "Any part of Patient.name (family, given, prefix, suffix, text)"),
        Date("birthdate", {"birthDate"}, "Patient.birthDate"),
        Token("gender", {"gender"}, "Patient.gender",
              "http://hl7.org/fhir/administrative-gender")}},
      Clinical("AllergyIntolerance", "patient",
               {Date("date", {"recordedDate"}, "AllergyIntolerance.recordedDate"),
                Token("code", {"code", "reaction.substance"},
                      "AllergyIntolerance.code or reaction.substance"),
                Token("category", {"category"}, "AllergyIntolerance.category",
                      "http://hl7.org/fhir/allergy-intolerance-category")}),
      Clinical("CarePlan", "subject",
               {Date("date", {"period"}, "CarePlan.period"),
                Token("category", {"category"}, "CarePlan.category")}),
      Clinical("CareTeam", "subject",
               {Date("date", {"period"}, "CareTeam.period"),
                Token("category", {"category"}, "CareTeam.category")}),
      Clinical("Claim", "patient", {Date("created", {"created"}, "Claim.created")}),
      Clinical("Condition", "subject",
               {Date("date", {"onsetDateTime", "onsetPeriod", "recordedDate"},
                     "Condition.onset[x] (dateTime, Period) or Condition.recordedDate; sorted "
                     "by the onset, else the recorded date"),
                Date("onset-date", {"onsetDateTime", "onsetPeriod"},
                     "Condition.onset[x] (dateTime, Period)"),
                Date("recorded-date", {"recordedDate"}, "Condition.recordedDate"),
                Token("code", {"code"}, "Condition.code"),
                Token("category", {"category"}, "Condition.category")}),
      Clinical("Coverage", "beneficiary", {}),
      Clinical("Device", "patient", {Token("type", {"type"}, "Device.type")}),
      Clinical("DiagnosticReport", "subject",
               {Date("date", {"effectiveDateTime", "effectivePeriod"},
                     "DiagnosticReport.effective[x] (dateTime, Period)"),
                Token("code", {"code"}, "DiagnosticReport.code"),
                Token("category", {"category"}, "DiagnosticReport.category")}),
      Clinical("DocumentReference", "subject",
               {Date("date", {"date"}, "DocumentReference.date"),
                Token("type", {"type"}, "DocumentReference.type"),
                Token("category", {"category"}, "DocumentReference.category")}),
      Clinical(
          "Encounter", "subject",
          {Date("date", {"period"}, "Encounter.period"), Token("type", {"type"}, "Encounter.type"),
           Token("class", {"class"}, "Encounter.class")}),
      Clinical("ExplanationOfBenefit", "patient",
               {Date("created", {"created"}, "ExplanationOfBenefit.created")}),
      Clinical("FamilyMemberHistory", "patient",
               {Date("date", {"date"}, "FamilyMemberHistory.date"),
                Token("code", {"condition.code"}, "FamilyMemberHistory.condition.code")}),
      Clinical("Goal", "subject", {Token("category", {"category"}, "Goal.category")}),
      Clinical("ImagingStudy", "subject", {Date("started", {"started"}, "ImagingStudy.started")}),
      Clinical("Immunization", "patient",
               {Date("date", {"occurrenceDateTime"}, "Immunization.occurrenceDateTime"),
                Token("vaccine-code", {"vaccineCode"}, "Immunization.vaccineCode")}),
      Clinical("MedicationAdministration", "subject",
               {Date("effective-time", {"effectiveDateTime", "effectivePeriod"},
                     "MedicationAdministration.effective[x] (dateTime, Period)"),
                Token("code", {"medicationCodeableConcept"},
                      "MedicationAdministration.medicationCodeableConcept")}),
      Clinical("MedicationRequest", "subject",
               {Date("date", {"authoredOn"}, "MedicationRequest.authoredOn"),
                Date("authoredon", {"authoredOn"}, "MedicationRequest.authoredOn"),
                Token("code", {"medicationCodeableConcept"},
                      "MedicationRequest.medicationCodeableConcept"),
                Token("category", {"category"}, "MedicationRequest.category")}),
      Clinical("MedicationStatement", "subject",
               {Date("effective", {"effectiveDateTime", "effectivePeriod"},
                     "MedicationStatement.effective[x] (dateTime, Period)"),
                Token("code", {"medicationCodeableConcept"},
                      "MedicationStatement.medicationCodeableConcept"),
                Token("category", {"category"}, "MedicationStatement.category")}),
      Clinical("Observation", "subject",
               {Date("date", {"effectiveDateTime", "effectivePeriod", "effectiveInstant"},
                     "Observation.effective[x] (dateTime, Period, instant)"),
                Token("code", {"code"}, "Observation.code"),
                Token("category", {"category"}, "Observation.category")}),
      Clinical("Procedure", "subject",
               {Date("date", {"performedDateTime", "performedPeriod"},
                     "Procedure.performed[x] (dateTime, Period)"),
                Token("code", {"code"}, "Procedure.code"),
                Token("category", {"category"}, "Procedure.category")}),
      Clinical("RiskAssessment", "subject",
               {Date("date", {"occurrenceDateTime", "occurrencePeriod"},
                     "RiskAssessment.occurrence[x] (dateTime, Period)")}),
      Clinical("ServiceRequest", "subject",
               {Date("authored", {"authoredOn"}, "ServiceRequest.authoredOn"),
                Token("code", {"code"}, "ServiceRequest.code"),
                Token("category", {"category"}, "ServiceRequest.category")}),
  };
  return *table;
}

const ParamDef& IdParam() {
  static const auto* id =
      new ParamDef{"_id", Kind::kId, {}, "", "The resource's id (exact); a,b for either"};
  return *id;
}

const TypeDef* TypeRow(absl::string_view type) {
  for (const TypeDef& t : Table()) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

const ParamDef* FindParam(absl::string_view type, absl::string_view name) {
  if (name == "_id") return &IdParam();
  if (const TypeDef* row = TypeRow(type)) {
    for (const ParamDef& p : row->params) {
      if (p.name == name) return &p;
    }
  }
  return nullptr;
}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kToken:
    case Kind::kId:
      return "token";
    case Kind::kString:
      return "string";
    case Kind::kDate:
      return "date";
    case Kind::kReference:
      return "reference";
  }
  return "token";
}

std::string ParamNames(absl::string_view type) {
  std::vector<std::string> names;
  if (const TypeDef* row = TypeRow(type)) {
    for (const ParamDef& p : row->params) names.push_back(p.name);
  }
  names.push_back("_id");
  return absl::StrJoin(names, ", ");
}

// ---------------------------------------------------------------------------------
// Text: accent- and case-insensitive comparison.

// U+00C0..U+017F (Latin-1 Supplement and Latin Extended-A) as lower-case ASCII, from
// their Unicode NFKD decompositions without the marks; letters with no decomposition
// spelled out (ß ss, æ ae, ø o, ł l, þ th, œ oe). "" keeps the character (× ÷).
constexpr uint32_t kFoldFirst = 0xC0;
constexpr uint32_t kFoldLast = 0x17F;
constexpr const char* kFold[kFoldLast - kFoldFirst + 1] = {
    "a", "a", "a",  "a",  "a", "a", "ae", "c",  "e",  "e", "e", "e", "i",  "i",  "i", "i", "d", "n",
    "o", "o", "o",  "o",  "o", "",  "o",  "u",  "u",  "u", "u", "y", "th", "ss", "a", "a", "a", "a",
    "a", "a", "ae", "c",  "e", "e", "e",  "e",  "i",  "i", "i", "i", "d",  "n",  "o", "o", "o", "o",
    "o", "",  "o",  "u",  "u", "u", "u",  "y",  "th", "y", "a", "a", "a",  "a",  "a", "a", "c", "c",
    "c", "c", "c",  "c",  "c", "c", "d",  "d",  "d",  "d", "e", "e", "e",  "e",  "e", "e", "e", "e",
    "e", "e", "g",  "g",  "g", "g", "g",  "g",  "g",  "g", "h", "h", "h",  "h",  "i", "i", "i", "i",
    "i", "i", "i",  "i",  "i", "i", "ij", "ij", "j",  "j", "k", "k", "k",  "l",  "l", "l", "l", "l",
    "l", "l", "l",  "l",  "l", "n", "n",  "n",  "n",  "n", "n", "n", "n",  "n",  "o", "o", "o", "o",
    "o", "o", "oe", "oe", "r", "r", "r",  "r",  "r",  "r", "s", "s", "s",  "s",  "s", "s", "s", "s",
    "t", "t", "t",  "t",  "t", "t", "u",  "u",  "u",  "u", "u", "u", "u",  "u",  "u", "u", "u", "u",
    "w", "w", "y",  "y",  "y", "z", "z",  "z",  "z",  "z", "z", "s",
};

// Lower-case ASCII, Latin letters without their accents, combining marks (U+0300..U+036F)
// dropped; everything else (other scripts, malformed bytes) kept as it is.
std::string Fold(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<uint8_t>(text[i]);
    if (b0 < 0x80) {
      out.push_back(absl::ascii_tolower(static_cast<char>(b0)));
      ++i;
      continue;
    }
    // Two-byte sequences cover every code point folded here.
    if ((b0 >> 5) == 0x6 && i + 1 < text.size() &&
        (static_cast<uint8_t>(text[i + 1]) & 0xC0) == 0x80) {
      const uint32_t cp = ((b0 & 0x1Fu) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3Fu);
      if (cp >= 0x300 && cp <= 0x36F) {
        i += 2;
        continue;
      }
      if (cp >= kFoldFirst && cp <= kFoldLast && kFold[cp - kFoldFirst][0] != '\0') {
        out.append(kFold[cp - kFoldFirst]);
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Values: FHIR search escaping, dates, tokens, references.

// Splits at each `sep` that no '\' escapes; the pieces keep their escapes.
std::vector<std::string> SplitEscaped(absl::string_view text, char sep) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      out.back().push_back('\\');
      out.back().push_back(text[++i]);
    } else if (text[i] == sep) {
      out.emplace_back();
    } else {
      out.back().push_back(text[i]);
    }
  }
  return out;
}

// `text` without its escaping backslashes.
std::string Unescape(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) ++i;
    out.push_back(text[i]);
  }
  return out;
}

struct TokenValue {
  bool any_system = true;  // "code": any system, or none
  std::string system;      // "" with !any_system: no system ("|code")
  bool any_code = false;   // "system|"
  std::string code;
};

enum class StringMode { kStartsWith, kExact, kContains };

// One parameter of the query: its values are ORed.
struct Clause {
  const ParamDef* def = nullptr;
  StringMode mode = StringMode::kStartsWith;
  std::vector<std::string> strings;  // folded, unless kExact
  std::vector<TokenValue> tokens;
  std::vector<fhir::DateParam> dates;
  std::vector<std::string> ids;  // _id values, or the patients' local ids
};

absl::Status Refuse(absl::string_view name, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(name, "=", value, ": ", why));
}

bool IsFhirId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return true;
}

// Patient/<id>, <id>, or a URL ending in /Patient/<id>: the id.
absl::StatusOr<std::string> PatientId(absl::string_view name, absl::string_view value) {
  absl::string_view id = value;
  const size_t slash = value.rfind('/');
  if (slash != absl::string_view::npos) {
    absl::string_view before = value.substr(0, slash);
    const size_t type_start = before.rfind('/');
    absl::string_view type =
        type_start == absl::string_view::npos ? before : before.substr(type_start + 1);
    if (type != "Patient") {
      return Refuse(name, value,
                    "this node searches records by the Patient they are about: give "
                    "Patient/<id> or <id>");
    }
    id = value.substr(slash + 1);
  }
  if (!IsFhirId(id)) return Refuse(name, value, "not a FHIR id (1-64 of A-Z a-z 0-9 - .)");
  return std::string(id);
}

absl::StatusOr<fhir::DateParam> ParseDateValue(absl::string_view name, absl::string_view value) {
  absl::StatusOr<fhir::DateParam> date = fhir::ParseDateParam(value);
  if (!date.ok()) return Refuse(name, value, date.status().message());
  return date;
}

TokenValue ParseTokenValue(absl::string_view value) {
  std::vector<std::string> parts = SplitEscaped(value, '|');
  TokenValue out;
  if (parts.size() == 1) {
    out.code = Unescape(parts[0]);
    return out;
  }
  // Only the first '|' separates: a code may hold the rest.
  out.any_system = false;
  out.system = Unescape(parts[0]);
  parts.erase(parts.begin());
  out.code = Unescape(absl::StrJoin(parts, "|"));
  out.any_code = out.code.empty();
  return out;
}

absl::Status ParseClauseValues(const std::string& name, const std::string& value, Clause* clause) {
  for (const std::string& raw : SplitEscaped(value, ',')) {
    if (raw.empty()) return Refuse(name, value, "an empty value (a,,b or a trailing comma)");
    const std::string plain = Unescape(raw);
    switch (clause->def->kind) {
      case Kind::kString:
        clause->strings.push_back(clause->mode == StringMode::kExact ? plain : Fold(plain));
        break;
      case Kind::kToken:
        clause->tokens.push_back(ParseTokenValue(raw));
        break;
      case Kind::kId:
        if (!IsFhirId(plain)) return Refuse(name, value, "not a FHIR id (1-64 of A-Z a-z 0-9 - .)");
        clause->ids.push_back(plain);
        break;
      case Kind::kDate: {
        absl::StatusOr<fhir::DateParam> date = ParseDateValue(name, raw);
        if (!date.ok()) return date.status();
        clause->dates.push_back(*date);
        break;
      }
      case Kind::kReference: {
        absl::StatusOr<std::string> id = PatientId(name, plain);
        if (!id.ok()) return id.status();
        clause->ids.push_back(*id);
        break;
      }
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------
// Matching a resource.

using simdjson::dom::element;

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

void Collect(element e, const std::vector<std::string>& path, size_t i, std::vector<element>* out) {
  simdjson::dom::array array;
  if (!e.get(array)) {
    for (element item : array) Collect(item, path, i, out);
    return;
  }
  if (i == path.size()) {
    out->push_back(e);
    return;
  }
  simdjson::dom::object object;
  element child;
  if (e.get(object) || object.at_key(path[i]).get(child)) return;
  Collect(child, path, i + 1, out);
}

std::vector<element> Values(element resource, const std::vector<std::string>& path) {
  std::vector<element> out;
  Collect(resource, path, 0, &out);
  return out;
}

std::string_view StringAt(element e, const char* key) {
  std::string_view s;
  if (e[key].get_string().get(s)) return {};
  return s;
}

struct Code {
  bool has_system = false;
  std::string_view system;
  std::string_view code;
};

// The codes of one element: a plain code, a Coding, a CodeableConcept's codings, or an
// Identifier (system and value).
void CodesOf(element e, const std::string& implicit_system, std::vector<Code>* out) {
  std::string_view s;
  if (!e.get_string().get(s)) {
    out->push_back({!implicit_system.empty(), implicit_system, s});
    return;
  }
  simdjson::dom::object object;
  if (e.get(object)) return;
  element codings;
  if (!object.at_key("coding").get(codings)) {
    for (element c : Values(codings, {})) CodesOf(c, "", out);
    return;
  }
  Code code;
  std::string_view system;
  code.has_system = !e["system"].get_string().get(system);
  code.system = system;
  code.code = StringAt(e, "code");
  if (code.code.empty()) code.code = StringAt(e, "value");
  if (!code.code.empty() || code.has_system) out->push_back(code);
}

bool TokenMatches(const TokenValue& want, const Code& have) {
  if (!want.any_system) {
    if (want.system.empty() ? have.has_system : (!have.has_system || have.system != want.system)) {
      return false;
    }
  }
  return want.any_code || have.code == want.code;
}

// The range an element's value covers: a date/dateTime/instant, or a Period.
std::optional<fhir::TimeRange> RangeOf(element e) {
  std::string_view s;
  if (!e.get_string().get(s)) {
    absl::StatusOr<fhir::TimeRange> r = fhir::ParseSearchDate(View(s));
    if (!r.ok()) return std::nullopt;
    return *r;
  }
  simdjson::dom::object object;
  if (e.get(object)) return std::nullopt;
  std::optional<fhir::TimeRange> start, end;
  std::string_view text;
  if (!e["start"].get_string().get(text)) {
    if (absl::StatusOr<fhir::TimeRange> r = fhir::ParseSearchDate(View(text)); r.ok()) start = *r;
  }
  if (!e["end"].get_string().get(text)) {
    if (absl::StatusOr<fhir::TimeRange> r = fhir::ParseSearchDate(View(text)); r.ok()) end = *r;
  }
  if (!start && !end) return std::nullopt;
  return fhir::TimeRange{start ? start->begin : absl::InfinitePast(),
                         end ? end->end : absl::InfiniteFuture()};
}

bool StringMatches(const Clause& clause, std::string_view have) {
  if (clause.mode == StringMode::kExact) {
    return std::any_of(clause.strings.begin(), clause.strings.end(),
                       [&](const std::string& want) { return want == have; });
  }
  const std::string folded = Fold(View(have));
  return std::any_of(clause.strings.begin(), clause.strings.end(), [&](const std::string& want) {
    return clause.mode == StringMode::kContains ? absl::StrContains(folded, want)
                                                : absl::StartsWith(folded, want);
  });
}

bool ClauseMatches(const Clause& clause, const hie::v1::RecordEnvelope& record, element resource) {
  const ParamDef& def = *clause.def;
  if (def.kind == Kind::kId) {
    return std::find(clause.ids.begin(), clause.ids.end(), record.resource_id()) !=
           clause.ids.end();
  }
  if (def.kind == Kind::kReference) {
    return std::find(clause.ids.begin(), clause.ids.end(), record.patient_local_id()) !=
           clause.ids.end();
  }
  for (const std::vector<std::string>& path : def.paths) {
    for (element value : Values(resource, path)) {
      switch (def.kind) {
        case Kind::kString: {
          std::string_view s;
          if (!value.get_string().get(s) && StringMatches(clause, s)) return true;
          break;
        }
        case Kind::kToken: {
          std::vector<Code> codes;
          CodesOf(value, def.implicit_system, &codes);
          for (const Code& code : codes) {
            for (const TokenValue& want : clause.tokens) {
              if (TokenMatches(want, code)) return true;
            }
          }
          break;
        }
        case Kind::kDate: {
          std::optional<fhir::TimeRange> range = RangeOf(value);
          if (!range) break;
          for (const fhir::DateParam& want : clause.dates) {
            if (want.Matches(*range)) return true;
          }
          break;
        }
        default:
          break;
      }
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------
// Positions and cursors.

// Where a record stands in a search's order.
struct Position {
  bool missing = false;  // no value to sort by: last, in either direction
  int64_t key = 0;       // the sort value, microseconds since the epoch
  std::string id;
};

struct Order {
  const ParamDef* by = nullptr;  // a date parameter, or null for _id
  bool descending = false;

  bool Less(const Position& a, const Position& b) const {
    if (by == nullptr) return descending ? a.id > b.id : a.id < b.id;
    if (a.missing != b.missing) return !a.missing;
    if (!a.missing && a.key != b.key) return descending ? a.key > b.key : a.key < b.key;
    return a.id < b.id;
  }
};

// The sort value of a resource: the start of the first value of the date parameter, in
// the order of its paths.
Position PositionOf(const Order& order, const std::string& id, std::optional<element> resource) {
  Position p;
  p.id = id;
  if (order.by == nullptr) return p;
  p.missing = true;
  if (!resource) return p;
  for (const std::vector<std::string>& path : order.by->paths) {
    for (element value : Values(*resource, path)) {
      if (std::optional<fhir::TimeRange> range = RangeOf(value)) {
        p.missing = false;
        p.key = absl::ToUnixMicros(range->begin);
        return p;
      }
    }
  }
  return p;
}

constexpr char kCursorVersion = 1;
constexpr size_t kMacBytes = 16;

void AppendInt64(int64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((static_cast<uint64_t>(v) >> shift) & 0xFF));
  }
}

int64_t ReadInt64(absl::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return static_cast<int64_t>(v);
}

std::string Mac(const std::string& key, const std::string& digest, absl::string_view payload) {
  const std::string message =
      absl::StrCat("hie-search-cursor", std::string(1, '\0'), digest, payload);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), std::min<size_t>(length, kMacBytes));
}

struct Cursor {
  absl::Time snapshot;
  Position after;
};

std::string EncodeCursor(const std::string& key, const std::string& digest, const Cursor& c) {
  std::string payload(1, kCursorVersion);
  AppendInt64(absl::ToUnixMicros(c.snapshot), &payload);
  payload.push_back(c.after.missing ? 1 : 0);
  AppendInt64(c.after.key, &payload);
  payload.append(c.after.id);
  return absl::WebSafeBase64Escape(payload + Mac(key, digest, payload));
}

absl::StatusOr<Cursor> DecodeCursor(const std::string& key, const std::string& digest,
                                    const std::string& text) {
  auto bad = [](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("_cursor: ", why, "; start the search again without it"));
  };
  std::string bytes;
  constexpr size_t kFixed = 1 + 8 + 1 + 8;
  if (!absl::WebSafeBase64Unescape(text, &bytes) || bytes.size() < kFixed + kMacBytes) {
    return bad("not a cursor this node issued");
  }
  absl::string_view payload(bytes.data(), bytes.size() - kMacBytes);
  const std::string mac = Mac(key, digest, payload);
  if (CRYPTO_memcmp(mac.data(), bytes.data() + payload.size(), kMacBytes) != 0) {
    return bad("not a cursor this node issued for this search");
  }
  if (payload[0] != kCursorVersion) return bad("a cursor of another version");
  Cursor c;
  c.snapshot = absl::FromUnixMicros(ReadInt64(payload.substr(1)));
  c.after.missing = payload[9] != 0;
  c.after.key = ReadInt64(payload.substr(10));
  c.after.id = std::string(payload.substr(kFixed));
  return c;
}

absl::Time LastUpdated(const hie::v1::RecordEnvelope& record) {
  return absl::FromUnixNanos(
      google::protobuf::util::TimeUtil::TimestampToNanoseconds(record.last_updated()));
}

// Keeps the `limit` least items seen, by `less`.
template <typename T, typename Less>
class Least {
 public:
  Least(size_t limit, Less less) : limit_(limit), heap_(less) {}
  void Offer(T item) {
    if (limit_ == 0) return;
    heap_.push(std::move(item));
    if (heap_.size() > limit_) heap_.pop();
  }
  // In order, least first.
  std::vector<T> Take() {
    std::vector<T> out;
    while (!heap_.empty()) {
      out.push_back(heap_.top());
      heap_.pop();
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

 private:
  size_t limit_;
  std::priority_queue<T, std::vector<T>, Less> heap_;
};

// A query string's name or value: %XX escapes and '+' as a space; nullopt for a
// malformed escape or a NUL.
std::optional<std::string> PercentDecode(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
      continue;
    }
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    auto hex = [](char h) {
      return absl::ascii_isdigit(static_cast<unsigned char>(h)) ? h - '0'
                                                                : absl::ascii_tolower(h) - 'a' + 10;
    };
    if (i + 2 >= text.size() || !absl::ascii_isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !absl::ascii_isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      return std::nullopt;
    }
    const int value = hex(text[i + 1]) * 16 + hex(text[i + 2]);
    if (value == 0) return std::nullopt;
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------

struct SearchQuery::Parsed {
  std::string type;
  std::vector<Clause> clauses;
  int count = kDefaultCount;
  Order order;
  bool include_patients = false;
  std::string cursor;
  std::vector<SearchParam> link_params;
  // Binds cursors to this search: the type and its parameters but _count and _cursor.
  std::string digest;
};

std::vector<SearchParamInfo> SearchParamsFor(absl::string_view type) {
  std::vector<SearchParamInfo> out;
  if (const TypeDef* row = TypeRow(type)) {
    for (const ParamDef& p : row->params)
      out.push_back({p.name, KindName(p.kind), p.documentation});
  }
  out.push_back({IdParam().name, KindName(IdParam().kind), IdParam().documentation});
  return out;
}

std::vector<std::string> SearchableTypes() {
  std::vector<std::string> out;
  for (const TypeDef& t : Table()) out.push_back(t.type);
  return out;
}

std::vector<std::string> SearchIncludesFor(absl::string_view type) {
  std::vector<std::string> out;
  if (const TypeDef* row = TypeRow(type)) {
    for (const ParamDef& p : row->params) {
      if (p.kind == Kind::kReference) out.push_back(absl::StrCat(type, ":", p.name));
    }
  }
  return out;
}

absl::StatusOr<SearchQuery> SearchQuery::Parse(absl::string_view type,
                                               const std::vector<SearchParam>& params) {
  if (!IsFhirR4ResourceType(type)) {
    return absl::NotFoundError(absl::StrCat("unknown resource type ", type));
  }
  auto parsed = std::make_shared<Parsed>();
  parsed->type = std::string(type);
  bool count_given = false, sort_given = false;
  std::vector<std::string> digest_parts;
  for (const SearchParam& p : params) {
    const std::vector<std::string> name_parts = absl::StrSplit(p.name, absl::MaxSplits(':', 1));
    const std::string& name = name_parts[0];
    const std::string modifier = name_parts.size() > 1 ? name_parts[1] : "";
    if (name == "_cursor" && modifier.empty()) {
      if (!parsed->cursor.empty()) return Refuse(p.name, p.value, "give _cursor once");
      if (p.value.empty()) return Refuse(p.name, p.value, "an empty value");
      parsed->cursor = p.value;
      continue;
    }
    if (name != "_count") digest_parts.push_back(absl::StrCat(p.name, "=", p.value));
    if (p.value.empty()) return Refuse(p.name, p.value, "an empty value");
    if (name == "_count" && modifier.empty()) {
      int count = 0;
      if (count_given) return Refuse(p.name, p.value, "give _count once");
      if (!absl::SimpleAtoi(p.value, &count) || count < 0) {
        return Refuse(p.name, p.value, "a number of entries per page (0 or more) is expected");
      }
      count_given = true;
      parsed->count = std::min(count, kMaxCount);
      continue;
    }
    if (name == "_sort" && modifier.empty()) {
      if (sort_given) return Refuse(p.name, p.value, "give _sort once");
      sort_given = true;
      absl::string_view key = p.value;
      parsed->order.descending = absl::ConsumePrefix(&key, "-");
      if (key == "_id") continue;
      const ParamDef* def = FindParam(type, key);
      if (def == nullptr || def->kind != Kind::kDate) {
        std::vector<std::string> dates = {"_id"};
        if (const TypeDef* row = TypeRow(type)) {
          for (const ParamDef& d : row->params) {
            if (d.kind == Kind::kDate) dates.push_back(d.name);
          }
        }
        return Refuse(p.name, p.value,
                      absl::StrCat(type, " sorts by one of ", absl::StrJoin(dates, ", "),
                                   " (- before it for descending)"));
      }
      parsed->order.by = def;
      continue;
    }
    if (name == "_include" && modifier.empty()) {
      std::vector<std::string> parts = absl::StrSplit(p.value, ':');
      const ParamDef* def =
          parts.size() >= 2 && parts[0] == type ? FindParam(type, parts[1]) : nullptr;
      if (def == nullptr || def->kind != Kind::kReference || parts.size() > 3 ||
          (parts.size() == 3 && parts[2] != "Patient")) {
        std::vector<std::string> includes = SearchIncludesFor(type);
        return Refuse(p.name, p.value,
                      includes.empty()
                          ? absl::StrCat(type, " takes no _include")
                          : absl::StrCat(type, " includes ", absl::StrJoin(includes, " or ")));
      }
      parsed->include_patients = true;
      continue;
    }
    const ParamDef* def = FindParam(type, name);
    if (def == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown search parameter ", name, " for ",
                                                     type, ": it answers ", ParamNames(type),
                                                     " (and _count, _sort, _include)"));
    }
    Clause clause;
    clause.def = def;
    if (!modifier.empty()) {
      if (def->kind == Kind::kString && modifier == "exact") {
        clause.mode = StringMode::kExact;
      } else if (def->kind == Kind::kString && modifier == "contains") {
        clause.mode = StringMode::kContains;
      } else if (def->kind != Kind::kReference || modifier != "Patient") {
        const char* takes = def->kind == Kind::kString      ? "takes :exact or :contains"
                            : def->kind == Kind::kReference ? "takes :Patient"
                                                            : "takes no modifier";
        return Refuse(p.name, p.value,
                      absl::StrCat("the modifier :", modifier, " is not supported: ", name, " (",
                                   KindName(def->kind), ") ", takes));
      }
    }
    if (absl::Status s = ParseClauseValues(p.name, p.value, &clause); !s.ok()) return s;
    parsed->clauses.push_back(std::move(clause));
  }
  for (const SearchParam& p : params) {
    if (p.name == "_cursor") continue;
    parsed->link_params.push_back(
        p.name == "_count" ? SearchParam{p.name, absl::StrCat(parsed->count)} : p);
  }
  if (!count_given) parsed->link_params.push_back({"_count", absl::StrCat(parsed->count)});
  std::sort(digest_parts.begin(), digest_parts.end());
  parsed->digest = crypto::Sha256(
      absl::StrCat(type, std::string(1, '\0'), absl::StrJoin(digest_parts, std::string(1, '\0'))));
  return SearchQuery(std::move(parsed));
}

const std::string& SearchQuery::type() const { return parsed_->type; }
int SearchQuery::count() const { return parsed_->count; }
bool SearchQuery::includes_patients() const { return parsed_->include_patients; }
std::vector<SearchParam> SearchQuery::LinkParams() const { return parsed_->link_params; }
const std::string& SearchQuery::cursor() const { return parsed_->cursor; }

// ---------------------------------------------------------------------------------

namespace {

using Visit = std::function<bool(const hie::v1::RecordEnvelope&, element)>;

// Visits the current, live records of the query's type that match every clause, from
// the narrowest source: the _id values, else one patient scan per patient, else every
// record of the type.
absl::Status ForEachMatch(const RecordStore& records, const SearchQuery::Parsed& q,
                          const Visit& visit) {
  simdjson::dom::parser parser;
  absl::Status failed;
  auto consider = [&](const hie::v1::RecordEnvelope& record) {
    if (record.deleted()) return true;
    element resource;
    if (parser.parse(record.fhir_json()).get(resource)) return true;  // unreadable: no match
    for (const Clause& clause : q.clauses) {
      if (!ClauseMatches(clause, record, resource)) return true;
    }
    return visit(record, resource);
  };
  const Clause* by_id = nullptr;
  const Clause* by_patient = nullptr;
  for (const Clause& c : q.clauses) {
    if (c.def->kind == Kind::kId && by_id == nullptr) by_id = &c;
    if (c.def->kind == Kind::kReference && by_patient == nullptr) by_patient = &c;
  }
  if (by_id != nullptr) {
    std::set<std::string> ids(by_id->ids.begin(), by_id->ids.end());
    for (const std::string& id : ids) {
      absl::StatusOr<hie::v1::RecordEnvelope> record = records.Get(q.type, id);
      if (absl::IsNotFound(record.status())) continue;
      if (!record.ok()) return record.status();
      if (!consider(*record)) break;
    }
    return absl::OkStatus();
  }
  if (by_patient != nullptr) {
    std::set<std::string> patients(by_patient->ids.begin(), by_patient->ids.end());
    bool more = true;
    for (const std::string& patient : patients) {
      if (!more) break;
      absl::Status s = records.ForPatient(patient, q.type, [&](const hie::v1::RecordEnvelope& r) {
        more = consider(r);
        return more;
      });
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  return records.ForType(q.type, consider);
}

// The version of `record` whose sort value places it for a paging that began at
// `snapshot`: the version current then, or, for a record made (or re-made) since, its
// first live version after it. Each is fixed once the paging has begun, so a record
// changed between pages keeps its place.
absl::StatusOr<std::optional<hie::v1::RecordEnvelope>> PlacingVersion(
    const RecordStore& records, const hie::v1::RecordEnvelope& record, absl::Time snapshot) {
  absl::StatusOr<std::vector<hie::v1::RecordEnvelope>> versions =
      records.History(record.resource_type(), record.resource_id());
  if (!versions.ok()) return versions.status();
  const hie::v1::RecordEnvelope* then = nullptr;
  for (const hie::v1::RecordEnvelope& v : *versions) {
    if (LastUpdated(v) <= snapshot) then = &v;
  }
  if (then != nullptr && !then->deleted()) return std::optional(*then);
  for (const hie::v1::RecordEnvelope& v : *versions) {
    if (LastUpdated(v) > snapshot && !v.deleted()) return std::optional(v);
  }
  return std::optional<hie::v1::RecordEnvelope>();
}

}  // namespace

RecordSearch::RecordSearch(const RecordStore* records, const Clock* clock, std::string cursor_key)
    : records_(records), clock_(clock), cursor_key_(std::move(cursor_key)) {}

absl::StatusOr<std::string> RecordSearch::CursorKey(store::KvStore* store) {
  constexpr size_t kKeyBytes = 32;
  const std::string name = store::KeyBuilder().AddString("search").AddString("cursor-key").Build();
  absl::StatusOr<std::string> key = store->Get(name);
  if (key.ok()) {
    if (key->size() != kKeyBytes) {
      return absl::DataLossError("the stored search cursor key has the wrong size");
    }
    return key;
  }
  if (!absl::IsNotFound(key.status())) return key.status();
  std::string made(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(made.data()), kKeyBytes) != 1) {
    return absl::InternalError("no random bytes for the search cursor key");
  }
  if (absl::Status s = store->Put(name, made); !s.ok()) return s;
  return made;
}

absl::StatusOr<SearchPage> RecordSearch::Run(const SearchQuery& query) const {
  const SearchQuery::Parsed& q = *query.parsed_;
  Cursor cursor;
  const bool first_page = q.cursor.empty();
  if (first_page) {
    cursor.snapshot = clock_->Now() - kSnapshotMargin;
  } else {
    absl::StatusOr<Cursor> decoded = DecodeCursor(cursor_key_, q.digest, q.cursor);
    if (!decoded.ok()) return decoded.status();
    cursor = *std::move(decoded);
  }
  struct Entry {
    Position position;
    hie::v1::RecordEnvelope record;
  };
  const Order order = q.order;
  auto less = [order](const Entry& a, const Entry& b) {
    return order.Less(a.position, b.position);
  };
  // One more than a page: whether there is a next one.
  Least<Entry, decltype(less)> page(static_cast<size_t>(q.count) + 1, less);
  SearchPage out;
  absl::Status failed;
  simdjson::dom::parser placing_parser;
  absl::Status s =
      ForEachMatch(*records_, q, [&](const hie::v1::RecordEnvelope& record, element resource) {
        ++out.total;
        Position position;
        if (order.by != nullptr && LastUpdated(record) > cursor.snapshot) {
          absl::StatusOr<std::optional<hie::v1::RecordEnvelope>> placing =
              PlacingVersion(*records_, record, cursor.snapshot);
          if (!placing.ok()) {
            failed = placing.status();
            return false;
          }
          element then;
          std::optional<element> placed;
          if (placing->has_value() && !placing_parser.parse((*placing)->fhir_json()).get(then)) {
            placed = then;
          }
          position = PositionOf(order, record.resource_id(), placed);
        } else {
          position = PositionOf(order, record.resource_id(), resource);
        }
        if (!first_page && !order.Less(cursor.after, position)) return true;
        page.Offer(Entry{std::move(position), record});
        return true;
      });
  if (!s.ok()) return s;
  if (!failed.ok()) return failed;
  std::vector<Entry> entries = page.Take();
  if (entries.size() > static_cast<size_t>(q.count)) {
    entries.resize(q.count);
    if (q.count > 0) {
      out.next_cursor =
          EncodeCursor(cursor_key_, q.digest, Cursor{cursor.snapshot, entries.back().position});
    }
  }
  absl::flat_hash_set<std::string> patients;
  for (Entry& e : entries) {
    const std::string patient = e.record.patient_local_id();
    out.matches.push_back(std::move(e.record));
    if (!q.include_patients || patient.empty() || !patients.insert(patient).second) continue;
    absl::StatusOr<hie::v1::RecordEnvelope> p = records_->Get("Patient", patient);
    if (absl::IsNotFound(p.status())) continue;
    if (!p.ok()) return p.status();
    if (!p->deleted()) out.included.push_back(*std::move(p));
  }
  return out;
}

absl::StatusOr<std::vector<hie::v1::RecordEnvelope>> RecordSearch::FindExisting(
    absl::string_view type, absl::string_view condition, size_t limit) const {
  std::vector<SearchParam> params;
  for (absl::string_view pair : absl::StrSplit(condition, '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    std::optional<std::string> name = PercentDecode(pair.substr(0, eq));
    std::optional<std::string> value =
        eq == absl::string_view::npos ? std::nullopt : PercentDecode(pair.substr(eq + 1));
    if (!name || !value) {
      return absl::InvalidArgumentError(
          absl::StrCat("the condition \"", condition,
                       "\" is not a query string (name=value&name=value, percent-encoded)"));
    }
    const std::string base = name->substr(0, name->find(':'));
    if (base == "_count" || base == "_sort" || base == "_include" || base == "_cursor") {
      return absl::InvalidArgumentError(absl::StrCat(
          "the condition \"", condition, "\" may hold search parameters only, not ", base));
    }
    params.push_back({*std::move(name), *std::move(value)});
  }
  if (params.empty()) {
    return absl::InvalidArgumentError("the condition is empty: give the search that must match");
  }
  absl::StatusOr<SearchQuery> query = SearchQuery::Parse(type, params);
  if (!query.ok()) return query.status();
  auto less = [](const hie::v1::RecordEnvelope& a, const hie::v1::RecordEnvelope& b) {
    return a.resource_id() < b.resource_id();
  };
  Least<hie::v1::RecordEnvelope, decltype(less)> found(limit, less);
  absl::Status s =
      ForEachMatch(*records_, *query->parsed_, [&](const hie::v1::RecordEnvelope& record, element) {
        found.Offer(record);
        return true;
      });
  if (!s.ok()) return s;
  return found.Take();
}

}  // namespace hie::node
