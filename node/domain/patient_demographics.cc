#include "node/domain/patient_demographics.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "simdjson.h"

namespace hie::node {
namespace {

using simdjson::dom::element;

std::string Str(const element& e, const char* key) {
  std::string_view s;
  if (e[key].get_string().get(s)) return "";
  return std::string(s);
}

std::vector<std::string> Strings(const element& e, const char* key) {
  std::vector<std::string> out;
  simdjson::dom::array a;
  if (e[key].get_array().get(a)) return out;
  for (element item : a) {
    std::string_view s;
    if (!item.get_string().get(s)) out.emplace_back(s);
  }
  return out;
}

bool ParseDate(const std::string& text, hie::v1::Date* date) {
  std::vector<std::string> parts = absl::StrSplit(text.substr(0, 10), '-');
  int year = 0, month = 0, day = 0;
  if (parts.empty() || !absl::SimpleAtoi(parts[0], &year)) return false;
  if (parts.size() > 1 && !absl::SimpleAtoi(parts[1], &month)) return false;
  if (parts.size() > 2 && !absl::SimpleAtoi(parts[2], &day)) return false;
  date->set_year(year);
  date->set_month(month);
  date->set_day(day);
  return true;
}

}  // namespace

absl::StatusOr<hie::v1::Demographics> DemographicsFromFhirPatient(absl::string_view json) {
  simdjson::dom::parser parser;
  element patient;
  if (parser.parse(json.data(), json.size()).get(patient) ||
      Str(patient, "resourceType") != "Patient") {
    return absl::InvalidArgumentError("not a FHIR Patient");
  }
  hie::v1::Demographics d;
  simdjson::dom::array names;
  if (!patient["name"].get_array().get(names)) {
    for (element n : names) {
      auto* name = d.add_names();
      name->set_family(Str(n, "family"));
      for (auto& g : Strings(n, "given")) name->add_given(g);
      for (auto& p : Strings(n, "prefix")) name->add_prefix(p);
      for (auto& s : Strings(n, "suffix")) name->add_suffix(s);
      name->set_text(Str(n, "text"));
      std::string use = Str(n, "use");
      hie::v1::HumanName::Use parsed;
      if (!use.empty() &&
          hie::v1::HumanName::Use_Parse("USE_" + absl::AsciiStrToUpper(use), &parsed)) {
        name->set_use(parsed);
      }
    }
  }
  if (!ParseDate(Str(patient, "birthDate"), d.mutable_birth_date())) d.clear_birth_date();
  std::string gender = Str(patient, "gender");
  d.set_sex(gender == "male"      ? hie::v1::SEX_MALE
            : gender == "female"  ? hie::v1::SEX_FEMALE
            : gender == "other"   ? hie::v1::SEX_OTHER
            : gender == "unknown" ? hie::v1::SEX_UNKNOWN
                                  : hie::v1::SEX_UNSPECIFIED);
  simdjson::dom::array addresses;
  if (!patient["address"].get_array().get(addresses)) {
    for (element a : addresses) {
      auto* address = d.add_addresses();
      for (auto& l : Strings(a, "line")) address->add_line(l);
      address->set_city(Str(a, "city"));
      address->set_district(Str(a, "district"));
      address->set_state(Str(a, "state"));
      address->set_postal_code(Str(a, "postalCode"));
      address->set_country(Str(a, "country"));
    }
  }
  simdjson::dom::array telecoms;
  if (!patient["telecom"].get_array().get(telecoms)) {
    for (element t : telecoms) {
      auto* telecom = d.add_telecoms();
      std::string system = Str(t, "system");
      telecom->set_system(system == "phone"   ? hie::v1::ContactPoint::SYSTEM_PHONE
                          : system == "email" ? hie::v1::ContactPoint::SYSTEM_EMAIL
                          : system == "sms"   ? hie::v1::ContactPoint::SYSTEM_SMS
                                              : hie::v1::ContactPoint::SYSTEM_OTHER);
      telecom->set_value(Str(t, "value"));
    }
  }
  simdjson::dom::array identifiers;
  if (!patient["identifier"].get_array().get(identifiers)) {
    for (element i : identifiers) {
      auto* identifier = d.add_identifiers();
      identifier->set_system(Str(i, "system"));
      identifier->set_value(Str(i, "value"));
      std::string_view code;
      if (!i["type"]["coding"].at(0)["code"].get_string().get(code)) {
        identifier->set_type_code(std::string(code));
      }
    }
  }
  int64_t order;
  bool flag;
  if (!patient["multipleBirthInteger"].get_int64().get(order)) {
    d.set_multiple_birth_order(static_cast<int32_t>(order));
  } else if (!patient["multipleBirthBoolean"].get_bool().get(flag)) {
    d.set_multiple_birth_flag(flag);
  }
  std::string deceased = Str(patient, "deceasedDateTime");
  if (!deceased.empty()) {
    ParseDate(deceased, d.mutable_deceased_date());
  } else if (!patient["deceasedBoolean"].get_bool().get(flag)) {
    d.set_deceased_flag(flag);
  }
  return d;
}

}  // namespace hie::node
