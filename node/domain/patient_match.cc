#include "node/domain/patient_match.h"

#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json/json_writer.h"
#include "node/domain/patient_demographics.h"
#include "simdjson.h"

namespace hie::node {
namespace {

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

double GradeScore(hie::v1::MatchGrade grade) {
  switch (grade) {
    case hie::v1::MATCH_GRADE_CERTAIN:
      return 1.0;
    case hie::v1::MATCH_GRADE_PROBABLE:
      return 0.7;
    case hie::v1::MATCH_GRADE_POSSIBLE:
      return 0.4;
    default:
      return 0.0;
  }
}

std::string DateText(const hie::v1::Date& d) {
  if (d.year() == 0) return "";
  if (d.month() == 0) return absl::StrFormat("%04d", d.year());
  if (d.day() == 0) return absl::StrFormat("%04d-%02d", d.year(), d.month());
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

std::string Strings(const google::protobuf::RepeatedPtrField<std::string>& values) {
  std::vector<std::string> quoted;
  for (const std::string& v : values) quoted.push_back(JsonQuote(v));
  return JsonArray(quoted);
}

// The candidate as a Patient: its EUID, names and birth date.
std::string CandidatePatient(const MatchCandidate& c) {
  std::vector<std::string> names;
  for (const hie::v1::HumanName& n : c.shown.names()) {
    JsonObject name;
    if (!n.text().empty()) name.Add("text", n.text());
    if (!n.family().empty()) name.Add("family", n.family());
    if (!n.given().empty()) name.AddRaw("given", Strings(n.given()));
    if (!n.prefix().empty()) name.AddRaw("prefix", Strings(n.prefix()));
    if (!n.suffix().empty()) name.AddRaw("suffix", Strings(n.suffix()));
    names.push_back(name.Build());
  }
  JsonObject patient;
  patient.Add("resourceType", "Patient")
      .AddRaw("identifier",
              JsonArray({JsonObject().Add("system", kEuidSystem).Add("value", c.euid).Build()}));
  if (!names.empty()) patient.AddRaw("name", JsonArray(names));
  const std::string birth = DateText(c.shown.birth_date());
  if (!birth.empty()) patient.Add("birthDate", birth);
  return patient.Build();
}

}  // namespace

const char* MatchGradeCode(hie::v1::MatchGrade grade) {
  switch (grade) {
    case hie::v1::MATCH_GRADE_CERTAIN:
      return "certain";
    case hie::v1::MATCH_GRADE_PROBABLE:
      return "probable";
    case hie::v1::MATCH_GRADE_POSSIBLE:
      return "possible";
    default:
      return "certainly-not";
  }
}

absl::StatusOr<MatchQuery> ParseMatchParameters(absl::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(json.data(), json.size()).get(root); error) {
    return absl::InvalidArgumentError(
        absl::StrCat("the body is not valid JSON: ", simdjson::error_message(error)));
  }
  std::string_view type;
  if (!root.is_object() || root["resourceType"].get_string().get(type) || type != "Parameters") {
    return absl::InvalidArgumentError("$match takes a Parameters resource");
  }
  MatchQuery request;
  bool have_patient = false;
  simdjson::dom::array parameters;
  if (root["parameter"].get_array().get(parameters)) {
    return absl::InvalidArgumentError("Parameters.parameter is required");
  }
  size_t i = 0;
  for (simdjson::dom::element p : parameters) {
    const std::string where = absl::StrCat("Parameters.parameter[", i++, "]");
    std::string_view name;
    if (p["name"].get_string().get(name)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".name is required"));
    }
    if (name == "resource") {
      simdjson::dom::element resource;
      std::string_view resource_type;
      if (p["resource"].get(resource) || resource["resourceType"].get_string().get(resource_type) ||
          resource_type != "Patient") {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".resource must be the Patient to match"));
      }
      absl::StatusOr<hie::v1::Demographics> demographics =
          DemographicsFromFhirPatient(simdjson::minify(resource));
      if (!demographics.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".resource: ", demographics.status().message()));
      }
      bool named = false;
      for (const hie::v1::HumanName& n : demographics->names()) {
        named = named || !n.family().empty() || !n.given().empty();
      }
      if (!named) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".resource needs a name (family or given) to match on"));
      }
      request.demographics = *std::move(demographics);
      have_patient = true;
    } else if (name == "onlyCertainMatches") {
      bool only = false;
      if (p["valueBoolean"].get_bool().get(only)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ".valueBoolean is required"));
      }
      request.only_certain = only;
    } else if (name == "count") {
      int64_t count = 0;
      if (p["valueInteger"].get_int64().get(count) || count < 1 || count > 100) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".valueInteger must be a count of 1 to 100"));
      }
      request.count = static_cast<int>(count);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"", View(name),
                       "\" is not a parameter of $match (resource, onlyCertainMatches, count)"));
    }
  }
  if (!have_patient) {
    return absl::InvalidArgumentError("Parameters needs a \"resource\" parameter with the Patient");
  }
  return request;
}

std::string MatchBundle(const std::vector<MatchCandidate>& candidates) {
  std::vector<std::string> entries;
  for (const MatchCandidate& c : candidates) {
    const std::string grade = JsonObject()
                                  .Add("url", kMatchGradeExtension)
                                  .Add("valueCode", MatchGradeCode(c.grade))
                                  .Build();
    entries.push_back(JsonObject()
                          .Add("fullUrl", absl::StrCat(kEuidSystem, ":", c.euid))
                          .AddRaw("resource", CandidatePatient(c))
                          .AddRaw("search", JsonObject()
                                                .AddRaw("extension", JsonArray({grade}))
                                                .Add("mode", "match")
                                                .Add("score", GradeScore(c.grade))
                                                .Build())
                          .Build());
  }
  return JsonObject()
      .Add("resourceType", "Bundle")
      .Add("type", "searchset")
      .Add("total", static_cast<int64_t>(entries.size()))
      .AddRaw("entry", JsonArray(entries))
      .Build();
}

}  // namespace hie::node
