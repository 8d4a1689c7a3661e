// The front desk's pages (role front-desk): find a patient of the practice, register
// and update patients, and invite a patient to the portal; and the portal invitation's
// own page, where the patient turns the code into an account.
//
//   GET  /app/front-desk                      search (RecordSearch, as GET /Patient?...)
//   GET  /app/front-desk/register             the registration form
//   POST /app/front-desk/register             RecordWrites::Create (as POST /Patient: ingest,
//                                             labels, and the MPI outbox); 303 to the patient
//   GET  /app/front-desk/patients/{id}        the patient, in the update form
//   POST /app/front-desk/patients/{id}        RecordWrites::Update at the version the form
//                                             was read at (If-Match): 409 if it changed since
//   POST /app/front-desk/patients/{id}/invite Invites::Issue: the code, shown once
//   GET  /app/invite                          (anonymous) the form to redeem a code
//   POST /app/invite                          Invites::Redeem + Accounts::Create (role
//                                             patient); signed in, 303 to /app/
//
// The form edits the first name, the first phone, the first address and the first
// identifier of a Patient; everything else the record holds (more names, e-mail,
// extensions, labels...) is written back as it was.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "common/json/json_writer.h"
#include "common/json/utf8.h"
#include "http/access.h"
#include "http/html.h"
#include "http/status.h"
#include "http/target.h"
#include "node/domain/account_audit.h"
#include "node/domain/invites.h"
#include "node/web/pages.h"
#include "node/web/web_audit.h"
#include "simdjson.h"

namespace hie::node {
namespace {

using http::HtmlEscape;

constexpr char kSearchPath[] = "/app/front-desk";
constexpr char kRegisterPath[] = "/app/front-desk/register";
constexpr char kPatientPath[] = "/app/front-desk/patients/";
constexpr char kInvitePath[] = "/app/invite";
// The invitation form's own CSRF token (anonymous, as the sign-in form's).
constexpr char kInviteCsrfCookie[] = "hie_invite_csrf";
constexpr int kInviteCsrfSeconds = 30 * 60;
constexpr char kSsnSystem[] = "http://hl7.org/fhir/sid/us-ssn";
constexpr int kResultsPerPage = 50;

struct FrontDesk {
  std::shared_ptr<const Web> web;
  std::unique_ptr<Invites> invites;  // null when the web app has no node state
};
using Desk = std::shared_ptr<const FrontDesk>;

// The practice's own medical record numbers.
std::string MrnSystem(const Web& web) {
  return absl::StrCat("urn:hie:org:", web.options.state->own_org, ":mrn");
}

// ---- The patient form ----

struct PatientForm {
  std::string family, given, birth_date, gender, phone, line, city, postal_code;
  std::string id_system, id_value;
  int64_t version = 0;  // the version the update form was read at
};

// Field name -> what is wrong with it, for a person to read.
using FieldErrors = std::map<std::string, std::string>;

PatientForm ReadForm(const http::Request& request) {
  auto f = [&](absl::string_view name) {
    return std::string(absl::StripAsciiWhitespace(Field(request, name)));
  };
  PatientForm form{.family = f("family"),
                   .given = f("given"),
                   .birth_date = f("birthdate"),
                   .gender = f("gender"),
                   .phone = f("phone"),
                   .line = f("line"),
                   .city = f("city"),
                   .postal_code = f("postal"),
                   .id_system = f("idsystem"),
                   .id_value = f("idvalue")};
  if (!absl::SimpleAtoi(f("version"), &form.version)) form.version = 0;
  return form;
}

// Well-formed UTF-8 of at most `max_bytes`, without control characters.
bool PlainText(absl::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) return false;
  for (size_t i = 0; i < text.size();) {
    const size_t n = Utf8SequenceLength(text, i);
    if (n == 0 || (n == 1 && (static_cast<unsigned char>(text[i]) < 0x20 || text[i] == 0x7f))) {
      return false;
    }
    i += n;
  }
  return true;
}

bool OnlyOf(absl::string_view text, absl::string_view allowed) {
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && !absl::StrContains(allowed, c)) {
      return false;
    }
  }
  return true;
}

void CheckBirthDate(const std::string& text, FieldErrors& errors) {
  absl::CivilDay day;
  if (text.empty()) {
    errors["birthdate"] = "Enter the date of birth.";
  } else if (text.size() != 10 || !absl::ParseCivilTime(text, &day) ||
             absl::FormatCivilTime(day) != text) {
    errors["birthdate"] = "Enter the date of birth as year-month-day, e.g. 1984-06-02.";
  } else if (day.year() < 1890 || day > absl::ToCivilDay(absl::Now(), absl::UTCTimeZone())) {
    errors["birthdate"] = "The date of birth cannot be in the future or before 1890.";
  }
}

FieldErrors Validate(const PatientForm& form) {
  FieldErrors errors;
  if (form.family.empty()) errors["family"] = "Enter the family name.";
  if (form.given.empty()) errors["given"] = "Enter the given name.";
  for (const auto& [name, value] :
       {std::pair{"family", &form.family}, std::pair{"given", &form.given}}) {
    if (!PlainText(*value, 100)) errors[name] = "Use at most 100 characters, no line breaks.";
  }
  CheckBirthDate(form.birth_date, errors);
  if (form.gender != "male" && form.gender != "female" && form.gender != "other" &&
      form.gender != "unknown") {
    errors["gender"] = "Choose the gender: female, male, other or unknown.";
  }
  int digits = 0;
  for (char c : form.phone) digits += absl::ascii_isdigit(static_cast<unsigned char>(c)) ? 1 : 0;
  if (!form.phone.empty() &&
      (form.phone.size() > 32 || digits < 3 || !OnlyOf(form.phone, " +-().") ||
       digits != static_cast<int>(std::count_if(form.phone.begin(), form.phone.end(), [](char c) {
         return absl::ascii_isalnum(static_cast<unsigned char>(c));
       })))) {
    errors["phone"] = "Enter a phone number: digits, spaces and + - ( ) only.";
  }
  if (!PlainText(form.line, 200)) errors["line"] = "Use at most 200 characters, no line breaks.";
  if (!PlainText(form.city, 100)) errors["city"] = "Use at most 100 characters, no line breaks.";
  if (form.postal_code.size() > 16 || !OnlyOf(form.postal_code, " -")) {
    errors["postal"] = "Enter a postal code: letters, digits, spaces and dashes.";
  }
  if (!form.id_value.empty()) {
    if (form.id_value.size() > 64 || !OnlyOf(form.id_value, "-._/")) {
      errors["idvalue"] = "Enter the identifier: letters, digits and - . _ / only.";
    } else if (form.id_system == kSsnSystem &&
               (!OnlyOf(form.id_value, "-") ||
                std::count_if(form.id_value.begin(), form.id_value.end(),
                              [](char c) { return absl::ascii_isdigit(c); }) != 9)) {
      errors["idvalue"] = "A social security number has nine digits, e.g. 123-45-6789.";
    }
    if (form.id_system.empty() || form.id_system.size() > 200 ||
        !(absl::StartsWith(form.id_system, "urn:") || absl::StartsWith(form.id_system, "http"))) {
      errors["idsystem"] = "Choose what kind of identifier it is.";
    }
  }
  return errors;
}

// ---- Patient JSON: read for display, written for the store ----

// The form as the stored Patient fills it: its first name, phone, address, identifier.
PatientForm FormFromPatient(simdjson::dom::element patient) {
  PatientForm form;
  form.birth_date = JsonText(patient["birthDate"]);
  form.gender = JsonText(patient["gender"]);
  simdjson::dom::array list;
  if (!patient["name"].get_array().get(list) && list.size() > 0) {
    simdjson::dom::element name = list.at(0);
    form.family = JsonText(name["family"]);
    simdjson::dom::array given;
    if (!name["given"].get_array().get(given)) {
      std::vector<std::string> parts;
      for (simdjson::dom::element g : given) {
        std::string_view s;
        if (!g.get_string().get(s)) parts.emplace_back(s);
      }
      form.given = absl::StrJoin(parts, " ");
    }
  }
  if (!patient["telecom"].get_array().get(list)) {
    for (simdjson::dom::element t : list) {
      if (JsonText(t["system"]) == "phone") {
        form.phone = JsonText(t["value"]);
        break;
      }
    }
  }
  if (!patient["address"].get_array().get(list) && list.size() > 0) {
    simdjson::dom::element address = list.at(0);
    simdjson::dom::array lines;
    std::string_view line;
    if (!address["line"].get_array().get(lines) && lines.size() > 0 &&
        !lines.at(0).get_string().get(line)) {
      form.line = std::string(line);
    }
    form.city = JsonText(address["city"]);
    form.postal_code = JsonText(address["postalCode"]);
  }
  if (!patient["identifier"].get_array().get(list) && list.size() > 0) {
    form.id_system = JsonText(list.at(0)["system"]);
    form.id_value = JsonText(list.at(0)["value"]);
  }
  return form;
}

// `stored` (an object, or nothing) with each member of `set` replaced by its JSON value,
// or removed when that value is empty; its other members are kept as they were.
std::string ReplaceMembers(std::optional<simdjson::dom::element> stored,
                           const std::vector<std::pair<std::string, std::string>>& set) {
  JsonObject out;
  simdjson::dom::object object;
  if (stored.has_value() && !stored->get_object().get(object)) {
    for (auto [key, value] : object) {
      bool replaced = false;
      for (const auto& member : set) replaced = replaced || member.first == key;
      if (!replaced) out.AddRaw(absl::string_view(key.data(), key.size()), simdjson::minify(value));
    }
  }
  for (const auto& [key, json] : set) {
    if (!json.empty()) out.AddRaw(key, json);
  }
  return out.Build();
}

// The stored array `key`'s entries as JSON, less the one at `skip` (-1: none).
std::vector<std::string> Rest(std::optional<simdjson::dom::element> patient, const char* key,
                              int skip) {
  std::vector<std::string> rest;
  simdjson::dom::array list;
  if (!patient.has_value() || (*patient)[key].get_array().get(list)) return rest;
  int i = 0;
  for (simdjson::dom::element e : list) {
    if (i++ != skip) rest.push_back(simdjson::minify(e));
  }
  return rest;
}

// The index of the first entry of `key` for which `match` holds, or -1.
int FirstOf(std::optional<simdjson::dom::element> patient, const char* key,
            const std::function<bool(simdjson::dom::element)>& match) {
  simdjson::dom::array list;
  if (!patient.has_value() || (*patient)[key].get_array().get(list)) return -1;
  int i = 0;
  for (simdjson::dom::element e : list) {
    if (match(e)) return i;
    ++i;
  }
  return -1;
}

std::optional<simdjson::dom::element> At(std::optional<simdjson::dom::element> patient,
                                         const char* key, int index) {
  simdjson::dom::array list;
  simdjson::dom::element e;
  if (index < 0 || !patient.has_value() || (*patient)[key].get_array().get(list) ||
      list.at(index).get(e)) {
    return std::nullopt;
  }
  return e;
}

// `first` (when not empty) then `rest`, as a JSON array; "" when both are empty.
std::string ListOf(const std::string& first, std::vector<std::string> rest) {
  if (!first.empty()) rest.insert(rest.begin(), first);
  return rest.empty() ? "" : JsonArray(rest);
}

// The Patient the form makes: `stored` (the record read for an update; nothing for a
// registration) with the form's elements in place of its first name, phone, address
// and identifier. Every value goes through the JSON writer.
std::string PatientJson(const PatientForm& form, const std::string& id,
                        std::optional<simdjson::dom::element> stored) {
  // What the form shows of the stored record: a field the user left as it was keeps its
  // stored form (a given name "Mary Ann" stays one name, not two).
  const PatientForm was = stored.has_value() ? FormFromPatient(*stored) : PatientForm{};
  std::vector<std::pair<std::string, std::string>> name_set = {{"family", JsonQuote(form.family)}};
  if (!stored.has_value() || form.given != was.given) {
    std::vector<std::string> given;
    for (absl::string_view g : absl::StrSplit(form.given, ' ', absl::SkipEmpty())) {
      given.push_back(JsonQuote(g));
    }
    name_set.push_back({"given", JsonArray(given)});
  }
  // A changed name's text would still say the old one.
  if (form.family != was.family || form.given != was.given) name_set.push_back({"text", ""});
  std::string name = ReplaceMembers(At(stored, "name", 0), name_set);

  const int phone_at = FirstOf(
      stored, "telecom", [](simdjson::dom::element t) { return JsonText(t["system"]) == "phone"; });
  std::string phone;
  if (!form.phone.empty()) {
    phone = ReplaceMembers(At(stored, "telecom", phone_at),
                           {{"system", JsonQuote("phone")}, {"value", JsonQuote(form.phone)}});
  }

  // The form edits the address's first line, city and postal code; its other lines and
  // members (state, country...) are kept. An address left with nothing is dropped.
  std::optional<simdjson::dom::element> stored_address = At(stored, "address", 0);
  std::vector<std::string> lines = Rest(stored_address, "line", 0);
  if (!form.line.empty()) lines.insert(lines.begin(), JsonQuote(form.line));
  std::string address =
      ReplaceMembers(stored_address,
                     {{"line", lines.empty() ? "" : JsonArray(lines)},
                      {"city", form.city.empty() ? "" : JsonQuote(form.city)},
                      {"postalCode", form.postal_code.empty() ? "" : JsonQuote(form.postal_code)}});
  if (address == "{}") address.clear();

  std::string identifier;
  if (!form.id_value.empty()) {
    identifier = ReplaceMembers(At(stored, "identifier", 0), {{"system", JsonQuote(form.id_system)},
                                                              {"value", JsonQuote(form.id_value)}});
  }

  std::vector<std::pair<std::string, std::string>> set = {
      {"resourceType", JsonQuote("Patient")},
      {"id", id.empty() ? "" : JsonQuote(id)},
      {"identifier", ListOf(identifier, Rest(stored, "identifier", 0))},
      {"name", ListOf(name, Rest(stored, "name", 0))},
      {"telecom", ListOf(phone, Rest(stored, "telecom", phone_at))},
      {"gender", JsonQuote(form.gender)},
      {"birthDate", JsonQuote(form.birth_date)},
      {"address", ListOf(address, Rest(stored, "address", 0))},
  };
  // A registration has no meta, text or id of its own; an update keeps the stored ones
  // but its narrative, which would now say something else.
  set.push_back({"text", ""});
  return ReplaceMembers(stored, set);
}

std::string DisplayName(const PatientForm& form) {
  std::string name = absl::StrCat(form.given, form.given.empty() ? "" : " ", form.family);
  return name.empty() ? "(no name)" : name;
}

// ---- Rendering ----

// One labelled input, with its error (if any) tied to it for screen readers.
std::string Input(const FieldErrors& errors, absl::string_view id, absl::string_view label,
                  absl::string_view value, absl::string_view attributes = "") {
  auto error = errors.find(std::string(id));
  const bool bad = error != errors.end();
  return absl::StrCat(
      "<div class=\"field\"><label for=\"", id, "\">", label, "</label>\n", "<input id=\"", id,
      "\" name=\"", id, "\" value=\"", HtmlEscape(value), "\" ", attributes,
      bad ? absl::StrCat(" aria-invalid=\"true\" aria-describedby=\"", id, "-error\"") : "", ">\n",
      bad ? absl::StrCat("<p class=\"field-error\" id=\"", id, "-error\">",
                         HtmlEscape(error->second), "</p>\n")
          : "",
      "</div>\n");
}

std::string Select(const FieldErrors& errors, absl::string_view id, absl::string_view label,
                   absl::string_view value,
                   const std::vector<std::pair<std::string, std::string>>& options) {
  auto error = errors.find(std::string(id));
  const bool bad = error != errors.end();
  std::string html = absl::StrCat(
      "<div class=\"field\"><label for=\"", id, "\">", label, "</label>\n<select id=\"", id,
      "\" name=\"", id, "\"",
      bad ? absl::StrCat(" aria-invalid=\"true\" aria-describedby=\"", id, "-error\"") : "", ">\n");
  bool found = false;
  for (const auto& [v, text] : options) {
    found = found || v == value;
    absl::StrAppend(&html, "<option value=\"", HtmlEscape(v), "\"", v == value ? " selected" : "",
                    ">", HtmlEscape(text), "</option>\n");
  }
  // A value the record holds that the form does not offer is kept as it is.
  if (!found && !value.empty()) {
    absl::StrAppend(&html, "<option value=\"", HtmlEscape(value), "\" selected>", HtmlEscape(value),
                    "</option>\n");
  }
  absl::StrAppend(&html, "</select>\n");
  if (bad) {
    absl::StrAppend(&html, "<p class=\"field-error\" id=\"", id, "-error\">",
                    HtmlEscape(error->second), "</p>\n");
  }
  return absl::StrCat(html, "</div>\n");
}

std::string ErrorSummary(const FieldErrors& errors) {
  if (errors.empty()) return "";
  std::string items;
  for (const auto& [field, message] : errors) {
    absl::StrAppend(&items, "<li><a href=\"#", field, "\">", HtmlEscape(message), "</a></li>");
  }
  return absl::StrCat("<div class=\"error\" role=\"alert\"><p>Please correct the form:</p><ul>",
                      items, "</ul></div>\n");
}

// The kinds of identifier the form offers. A stored identifier without a system is
// shown as not stated, so that saving the form asks for one rather than quietly
// writing the first choice (this practice's MRN) into the record and the MPI.
std::vector<std::pair<std::string, std::string>> IdSystemOptions(const Web& web,
                                                                 const PatientForm& form) {
  std::vector<std::pair<std::string, std::string>> options = {
      {MrnSystem(web), "This practice's medical record number (MRN)"},
      {kSsnSystem, "US social security number"}};
  if (form.id_system.empty()) options.insert(options.begin(), {"", "Not stated"});
  return options;
}

// The fields of the registration and update forms.
std::string PatientFields(const Web& web, const PatientForm& form, const FieldErrors& errors) {
  return absl::StrCat(
      "<fieldset><legend>Name and birth</legend>\n",
      Input(errors, "family", "Family name", form.family,
            "required maxlength=\"100\" autocomplete=\"off\""),
      Input(errors, "given", "Given names", form.given,
            "required maxlength=\"100\" autocomplete=\"off\""),
      Input(errors, "birthdate", "Date of birth", form.birth_date, "type=\"date\" required"),
      Select(errors, "gender", "Gender", form.gender,
             {{"", "Choose…"},
              {"female", "Female"},
              {"male", "Male"},
              {"other", "Other"},
              {"unknown", "Unknown"}}),
      "</fieldset>\n<fieldset><legend>Contact</legend>\n",
      Input(errors, "phone", "Phone", form.phone, "type=\"tel\" maxlength=\"32\""),
      Input(errors, "line", "Street address", form.line, "maxlength=\"200\""),
      Input(errors, "city", "City", form.city, "maxlength=\"100\""),
      Input(errors, "postal", "Postal code", form.postal_code, "maxlength=\"16\""),
      "</fieldset>\n<fieldset><legend>Identifier</legend>\n",
      Select(errors, "idsystem", "Kind of identifier", form.id_system, IdSystemOptions(web, form)),
      Input(errors, "idvalue", "Identifier", form.id_value, "maxlength=\"64\""), "</fieldset>\n");
}

http::Response RegisterForm(const Web& web, const http::SessionPrincipal& session, int status,
                            const PatientForm& form, const FieldErrors& errors,
                            absl::string_view message = "") {
  std::string main =
      absl::StrCat("<h1>Register a patient</h1>\n", ErrorNote(message), ErrorSummary(errors),
                   "<form class=\"stacked patient-form\" method=\"post\" action=\"", kRegisterPath,
                   "\">\n", CsrfField(session), "\n", PatientFields(web, form, errors),
                   "<button type=\"submit\">Register</button>\n</form>");
  return Html(status, Page(web, "Register a patient", &session, main));
}

std::string PatientUrl(absl::string_view id) {
  return absl::StrCat(kPatientPath, http::PercentEncode(id));
}

// The patient's page: who they are, the update form, and the portal invitation.
http::Response PatientPage(const Web& web, const http::SessionPrincipal& session, int status,
                           const std::string& id, const PatientForm& form,
                           const FieldErrors& errors, absl::string_view notice,
                           absl::string_view message, size_t live_invites) {
  std::string main = absl::StrCat(
      "<h1>", HtmlEscape(DisplayName(form)), "</h1>\n",
      notice.empty()
          ? ""
          : absl::StrCat("<p class=\"notice\" role=\"status\">", HtmlEscape(notice), "</p>\n"),
      "<dl class=\"patient-ids\"><dt>Local id</dt><dd><code>", HtmlEscape(id),
      "</code></dd><dt>Version</dt><dd>", form.version, "</dd></dl>\n", ErrorNote(message),
      ErrorSummary(errors), "<h2>Update</h2>\n",
      "<form class=\"stacked patient-form\" method=\"post\" action=\"", PatientUrl(id), "\">\n",
      CsrfField(session), "\n<input type=\"hidden\" name=\"version\" value=\"", form.version,
      "\">\n", PatientFields(web, form, errors),
      "<button type=\"submit\">Save changes</button>\n</form>\n", "<h2>Patient portal</h2>\n",
      live_invites > 0
          ? "<p>An invitation is waiting to be used; a new one replaces it.</p>\n"
          : "<p>Give the patient a one-time code to create their portal account.</p>\n",
      "<form method=\"post\" action=\"", PatientUrl(id), "/invite\">", CsrfField(session),
      "<button type=\"submit\">Invite to the portal</button></form>");
  return Html(status, Page(web, DisplayName(form), &session, main));
}

// ---- Search ----

struct SearchTerms {
  std::string family, given, birth_date, identifier;
  bool empty() const {
    return family.empty() && given.empty() && birth_date.empty() && identifier.empty();
  }
};

std::string SearchForm(const SearchTerms& terms) {
  FieldErrors none;
  return absl::StrCat("<form class=\"search-form\" method=\"get\" action=\"", kSearchPath,
                      "\" role=\"search\">\n", Input(none, "family", "Family name", terms.family),
                      Input(none, "given", "Given name", terms.given),
                      Input(none, "birthdate", "Date of birth", terms.birth_date, "type=\"date\""),
                      Input(none, "identifier", "Identifier (MRN…)", terms.identifier),
                      "<button type=\"submit\">Search</button>\n</form>\n");
}

std::string ResultRow(const http::SessionPrincipal& session, const hie::v1::RecordEnvelope& record,
                      simdjson::dom::parser& parser) {
  simdjson::dom::element patient;
  PatientForm form;
  if (!parser.parse(record.fhir_json()).get(patient)) form = FormFromPatient(patient);
  const std::string& id = record.resource_id();
  return absl::StrCat(
      "<tr><td><a href=\"", PatientUrl(id), "\">", HtmlEscape(DisplayName(form)), "</a></td><td>",
      HtmlEscape(form.birth_date), "</td><td>", HtmlEscape(form.gender), "</td><td>",
      HtmlEscape(form.id_value), "</td><td><code>", HtmlEscape(id), "</code></td><td>",
      "<form method=\"post\" action=\"", PatientUrl(id), "/invite\">", CsrfField(session),
      "<button type=\"submit\" class=\"small\">Invite<span class=\"visually-hidden\"> ",
      HtmlEscape(DisplayName(form)), "</span></button></form></td></tr>\n");
}

std::string Results(const http::SessionPrincipal& session, const SearchPage& page) {
  if (page.matches.empty()) {
    return absl::StrCat("<p role=\"status\">No patient of this practice matches. <a href=\"",
                        kRegisterPath, "\">Register a patient</a>.</p>");
  }
  simdjson::dom::parser parser;
  std::string rows;
  for (const hie::v1::RecordEnvelope& r : page.matches) {
    absl::StrAppend(&rows, ResultRow(session, r, parser));
  }
  return absl::StrCat(
      "<p role=\"status\">", page.total, page.total == 1 ? " patient matches" : " patients match",
      page.total > static_cast<int64_t>(page.matches.size())
          ? absl::StrCat(": the first ", page.matches.size(), " are shown; narrow the search")
          : "",
      ".</p>\n<div class=\"table-wrap\"><table class=\"patients\">\n<caption "
      "class=\"visually-hidden\">Patients found</caption>\n<thead><tr><th scope=\"col\">Name</th>"
      "<th scope=\"col\">Born</th><th scope=\"col\">Gender</th><th scope=\"col\">Identifier</th>"
      "<th scope=\"col\">Local id</th><th scope=\"col\">Portal</th></tr></thead>\n<tbody>\n",
      rows, "</tbody></table></div>");
}

// ---- Shared plumbing ----

// Runs `work` on the worker pool; answers 503 if it cannot be queued.
void OnWorker(const Web& web, const http::SessionPrincipal* session,
              const http::Responder& responder, std::function<void()> work) {
  if (!web.options.run(std::move(work))) {
    responder.Respond(ErrorPage(web, session, 503, "The node is too busy: try again."));
  }
}

bool HasRecords(const Web& web) {
  return web.options.state != nullptr && web.options.state->records != nullptr &&
         web.options.search != nullptr && web.options.writes != nullptr;
}

// The Patient `id` as stored now, or the page to answer instead (404 for none).
absl::StatusOr<hie::v1::RecordEnvelope> ReadPatient(const Web& web, const std::string& id) {
  absl::StatusOr<hie::v1::RecordEnvelope> record = web.options.state->records->Get("Patient", id);
  if (record.ok() && record->deleted()) return absl::NotFoundError("deleted");
  return record;
}

http::Response NoSuchPatient(const Web& web, const http::SessionPrincipal& session) {
  return ErrorPage(web, &session, 404, "This practice holds no patient with that id.");
}

// A stored Patient and its JSON, parsed by the caller's parser (which owns `json`).
struct StoredPatient {
  hie::v1::RecordEnvelope record;
  simdjson::dom::element json;
};

// Patient `id`, read and parsed into `parser`; nullopt once `responder` has answered why
// not (404 for no such patient, the store's error, or DataLoss for a stored Patient that
// does not parse).
std::optional<StoredPatient> LoadPatient(const Web& web, const http::SessionPrincipal& session,
                                         const std::string& id, simdjson::dom::parser& parser,
                                         const http::Responder& responder) {
  absl::StatusOr<hie::v1::RecordEnvelope> record = ReadPatient(web, id);
  if (absl::IsNotFound(record.status())) {
    responder.Respond(NoSuchPatient(web, session));
    return std::nullopt;
  }
  if (!record.ok()) {
    responder.RespondError(record.status());
    return std::nullopt;
  }
  StoredPatient stored{.record = *std::move(record)};
  if (parser.parse(stored.record.fhir_json()).get(stored.json)) {
    responder.RespondError(absl::DataLossError("a stored Patient does not parse"));
    return std::nullopt;
  }
  return stored;
}

// What a write's refusal says on the form: its status, and the message above the form.
std::pair<int, std::string> WriteRefusal(const WriteResult& w) {
  if (!w.problems.empty()) {
    std::vector<std::string> lines;
    for (const IngestProblem& p : w.problems) lines.push_back(p.message);
    return {422, absl::StrCat("The record was refused: ", absl::StrJoin(lines, "; "))};
  }
  if (absl::IsFailedPrecondition(w.status)) {
    return {409,
            "This patient was changed since you opened it (by a colleague or the EMR): nothing "
            "was saved. Reload the page to see the changes, then make yours again."};
  }
  return {0, ""};
}

// ---- Handlers ----

void HandleSearch(Desk desk, http::Request request, http::Responder responder) {
  const Web& web = *desk->web;
  const http::SessionPrincipal session = *request.caller.session;
  auto q = [&](const char* name) {
    const std::string* v = request.Query(name);
    return v == nullptr ? std::string() : std::string(absl::StripAsciiWhitespace(*v));
  };
  SearchTerms terms{q("family"), q("given"), q("birthdate"), q("identifier")};
  std::string main = absl::StrCat("<h1>Find a patient</h1>\n", SearchForm(terms));
  if (terms.empty()) {
    absl::StrAppend(&main,
                    "<p class=\"hint\">Enter a name, a date of birth or an identifier. <a "
                    "href=\"",
                    kRegisterPath, "\">Register a new patient</a>.</p>");
    responder.Respond(Html(200, Page(web, "Find a patient", &session, main)));
    return;
  }
  std::vector<SearchParam> params;
  for (const auto& [name, value] :
       {std::pair{"family", &terms.family}, std::pair{"given", &terms.given},
        std::pair{"birthdate", &terms.birth_date}, std::pair{"identifier", &terms.identifier}}) {
    if (!value->empty()) params.push_back({name, *value});
  }
  params.push_back({"_count", std::to_string(kResultsPerPage)});
  absl::StatusOr<SearchQuery> query = SearchQuery::Parse("Patient", params);
  if (!query.ok()) {
    absl::StrAppend(
        &main, ErrorNote(absl::StrCat("The search cannot be run: ", query.status().message())));
    responder.Respond(Html(400, Page(web, "Find a patient", &session, main)));
    return;
  }
  OnWorker(web, &session, responder,
           [desk, session, responder, main = std::move(main), query = *std::move(query)] {
             const Web& web = *desk->web;
             absl::StatusOr<SearchPage> page = web.options.search->Run(query);
             if (!page.ok()) {
               responder.RespondError(page.status());
               return;
             }
             std::vector<WebAccess> touched;
             for (const hie::v1::RecordEnvelope& r : page->matches) {
               touched.push_back({"search", "Patient", r.patient_local_id()});
             }
             if (touched.empty()) touched.push_back({"search", "Patient", ""});
             RespondAfterAudit(web, session, touched, responder,
                               Html(200, Page(web, "Find a patient", &session,
                                              absl::StrCat(main, Results(session, *page)))));
           });
}

// The condition a registration with an identifier is made under: no second Patient
// with the same identifier (a duplicate registration is the MPI's oldest problem).
std::string IdentifierCondition(const PatientForm& form) {
  if (form.id_value.empty()) return "";
  return absl::StrCat("identifier=", http::PercentEncode(form.id_system), "%7C",
                      http::PercentEncode(form.id_value));
}

void HandleRegister(Desk desk, http::Request request, http::Responder responder) {
  const Web& web = *desk->web;
  const http::SessionPrincipal session = *request.caller.session;
  PatientForm form = ReadForm(request);
  FieldErrors errors = Validate(form);
  if (!errors.empty()) {
    responder.Respond(RegisterForm(web, session, 400, form, errors));
    return;
  }
  OnWorker(web, &session, responder, [desk, session, responder, form = std::move(form)] {
    const Web& web = *desk->web;
    const std::string condition =
        web.options.writes->conditional_create() ? IdentifierCondition(form) : "";
    WriteResult w =
        web.options.writes->Create("Patient", PatientJson(form, "", std::nullopt), condition);
    if (!w.ok()) {
      auto [status, message] = WriteRefusal(w);
      if (absl::IsFailedPrecondition(w.status)) {
        message = "More than one patient already has this identifier: search for them instead.";
      }
      if (status == 0) {
        responder.RespondError(w.status);
        return;
      }
      responder.Respond(RegisterForm(web, session, status, form, {}, message));
      return;
    }
    const std::string& id = w.record.resource_id();
    const bool existed = w.kind == PutOutcome::kUnchanged;
    RespondAfterAudit(
        web, session,
        {{existed ? "read" : "create", absl::StrCat("Patient/", id), w.record.patient_local_id()}},
        responder,
        SeeOther(absl::StrCat(PatientUrl(id), existed ? "?existing=1" : "?registered=1")));
  });
}

std::string Notice(const http::Request& request, const std::string& id) {
  if (request.Query("registered") != nullptr) {
    return absl::StrCat("Registered. The practice's local id is ", id,
                        "; the registration is on its way to the exchange's patient index.");
  }
  if (request.Query("existing") != nullptr) {
    return "A patient with this identifier was already registered: here they are. Nothing "
           "was changed.";
  }
  if (request.Query("saved") != nullptr) return "Saved.";
  return "";
}

void HandlePatient(Desk desk, http::Request request, http::Responder responder) {
  const Web& web = *desk->web;
  const http::SessionPrincipal session = *request.caller.session;
  std::string id = request.params["id"];
  std::string notice = Notice(request, id);
  OnWorker(
      web, &session, responder,
      [desk, session, responder, id = std::move(id), notice = std::move(notice)] {
        const Web& web = *desk->web;
        simdjson::dom::parser parser;
        std::optional<StoredPatient> stored = LoadPatient(web, session, id, parser, responder);
        if (!stored.has_value()) return;
        PatientForm form = FormFromPatient(stored->json);
        form.version = stored->record.version();
        absl::StatusOr<std::vector<Invite>> live = desk->invites->LiveFor(id);
        RespondAfterAudit(
            web, session,
            {{"read", absl::StrCat("Patient/", id), stored->record.patient_local_id()}}, responder,
            PatientPage(web, session, 200, id, form, {}, notice, "", live.ok() ? live->size() : 0));
      });
}

void HandleUpdate(Desk desk, http::Request request, http::Responder responder) {
  const Web& web = *desk->web;
  const http::SessionPrincipal session = *request.caller.session;
  std::string id = request.params["id"];
  PatientForm form = ReadForm(request);
  FieldErrors errors = Validate(form);
  if (form.version <= 0) errors["version"] = "The form is incomplete: reload the page.";
  if (!errors.empty()) {
    responder.Respond(PatientPage(web, session, 400, id, form, errors, "", "", 0));
    return;
  }
  OnWorker(web, &session, responder,
           [desk, session, responder, id = std::move(id), form = std::move(form)] {
             const Web& web = *desk->web;
             simdjson::dom::parser parser;
             std::optional<StoredPatient> stored = LoadPatient(web, session, id, parser, responder);
             if (!stored.has_value()) return;
             // Merged into the version read now, written only if that is the form's version.
             WriteResult w = web.options.writes->Update(
                 "Patient", id, PatientJson(form, id, stored->json), form.version);
             if (!w.ok()) {
               auto [status, message] = WriteRefusal(w);
               if (status == 0) {
                 responder.RespondError(w.status);
                 return;
               }
               responder.Respond(PatientPage(web, session, status, id, form, {}, "", message, 0));
               return;
             }
             RespondAfterAudit(
                 web, session,
                 {{"update", absl::StrCat("Patient/", id), w.record.patient_local_id()}}, responder,
                 SeeOther(absl::StrCat(PatientUrl(id), "?saved=1")));
           });
}

// The code, shown once, to print or read out.
std::string InviteSheet(const http::Request& request, const std::string& id,
                        const PatientForm& form, const IssuedInvite& issued) {
  const std::string* host = request.Header("host");
  const std::string link =
      host == nullptr ? kInvitePath : absl::StrCat("https://", *host, kInvitePath);
  return absl::StrCat(
      "<h1>Portal invitation</h1>\n<section class=\"invite-sheet\" aria-label=\"Invitation\">\n",
      "<p>For <strong>", HtmlEscape(DisplayName(form)), "</strong> (local id <code>",
      HtmlEscape(id), "</code>).</p>\n<p>Go to</p>\n<p class=\"invite-link\">", HtmlEscape(link),
      "</p>\n<p>and enter this code:</p>\n<p class=\"invite-code\">", HtmlEscape(issued.code),
      "</p>\n<p>It works once, until ", When(issued.expires_at),
      ".</p>\n</section>\n<p class=\"hint no-print\">This code is shown only now: print this "
      "page or read the code to the patient. A new invitation replaces this one.</p>\n",
      "<p class=\"no-print\"><a href=\"", PatientUrl(id), "\">Back to the patient</a></p>");
}

void HandleInvite(Desk desk, http::Request request, http::Responder responder) {
  const Web& web = *desk->web;
  const http::SessionPrincipal session = *request.caller.session;
  std::string id = request.params["id"];
  OnWorker(web, &session, responder,
           [desk, session, responder, id = std::move(id), request = std::move(request)] {
             const Web& web = *desk->web;
             simdjson::dom::parser parser;
             std::optional<StoredPatient> stored = LoadPatient(web, session, id, parser, responder);
             if (!stored.has_value()) return;
             const hie::v1::RecordEnvelope* record = &stored->record;
             PatientForm form = FormFromPatient(stored->json);
             absl::StatusOr<IssuedInvite> issued = desk->invites->Issue(id, session.login);
             if (!issued.ok()) {
               responder.RespondError(issued.status());
               return;
             }
             RespondAfterAudit(
                 web, session,
                 {{"invite", absl::StrCat("Patient/", id), record->patient_local_id()}}, responder,
                 Html(200, Page(web, "Portal invitation", &session,
                                InviteSheet(request, id, form, *issued))));
           });
}

// ---- The invitation, redeemed by the patient ----

http::Response InviteForm(const Web& web, int status, absl::string_view message,
                          absl::string_view code, absl::string_view login) {
  const std::string token = RandomToken();
  if (token.empty()) return http::ErrorResponse(absl::InternalError("no random bytes"));
  std::string main = absl::StrCat(
      "<h1>Create your portal account</h1>\n", ErrorNote(message),
      "<p>Your practice gave you a code. With it you choose a login and a password, and see "
      "your record and who has seen it.</p>\n",
      "<form class=\"stacked\" method=\"post\" action=\"", kInvitePath, "\">\n",
      "<input type=\"hidden\" name=\"_csrf\" value=\"", HtmlEscape(token), "\">\n",
      "<label for=\"code\">Invitation code</label>\n",
      "<input id=\"code\" name=\"code\" required autocomplete=\"off\" "
      "autocapitalize=\"characters\" "
      "spellcheck=\"false\" maxlength=\"32\" value=\"",
      HtmlEscape(code), "\">\n", "<label for=\"login\">Choose a login</label>\n",
      "<input id=\"login\" name=\"login\" required autocomplete=\"username\" "
      "autocapitalize=\"none\" "
      "maxlength=\"64\" aria-describedby=\"login-hint\" value=\"",
      HtmlEscape(login), "\">\n",
      "<p class=\"hint\" id=\"login-hint\">Letters, digits and . _ - @, e.g. your e-mail "
      "address.</p>\n",
      "<label for=\"password\">Choose a password</label>\n",
      "<input id=\"password\" name=\"password\" type=\"password\" required minlength=\"12\" "
      "autocomplete=\"new-password\" aria-describedby=\"password-hint\">\n",
      "<p class=\"hint\" id=\"password-hint\">At least 12 characters; a few unrelated words are "
      "easy to remember.</p>\n",
      "<label for=\"confirm\">The password again</label>\n",
      "<input id=\"confirm\" name=\"confirm\" type=\"password\" required minlength=\"12\" "
      "autocomplete=\"new-password\">\n",
      "<button type=\"submit\">Create my account</button>\n</form>");
  http::Response response = Html(status, Page(web, "Create your portal account", nullptr, main));
  response.headers.emplace_back("Set-Cookie",
                                Cookie(kInviteCsrfCookie, token, kInvitePath, kInviteCsrfSeconds));
  return response;
}

// The display name an account takes from the Patient: "Given Family", cut to the
// accounts' limit.
std::string AccountName(const hie::v1::RecordEnvelope& record) {
  simdjson::dom::parser parser;
  simdjson::dom::element patient;
  PatientForm form;
  if (!parser.parse(record.fhir_json()).get(patient)) form = FormFromPatient(patient);
  std::string name = DisplayName(form);
  for (char& c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  constexpr size_t kMax = 128;
  if (name.size() > kMax) {
    size_t cut = kMax;
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
    name.resize(cut);
  }
  return name;
}

int RedeemStatus(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    default:
      return 0;
  }
}

std::string RedeemMessage(const absl::Status& s) {
  std::string message(s.message());
  if (absl::IsAlreadyExists(s)) message = "That login is taken: choose another.";
  if (!message.empty()) message[0] = absl::ascii_toupper(static_cast<unsigned char>(message[0]));
  return absl::StrCat(message, absl::EndsWith(message, ".") ? "" : ".");
}

void HandleRedeem(Desk desk, http::Request request, http::Responder responder) {
  const Web& web = *desk->web;
  std::string code = Field(request, "code");
  std::string login = Field(request, "login");
  if (!AnonymousCsrfMatches(request, kInviteCsrfCookie)) {
    responder.Respond(InviteForm(
        web, 403, "The form had expired or did not come from this site: try again.", code, login));
    return;
  }
  std::string password = Field(request, "password");
  if (code.empty() || login.empty() || password.empty()) {
    responder.Respond(InviteForm(web, 400, "Enter the code, a login and a password.", code, login));
    return;
  }
  if (password != Field(request, "confirm")) {
    responder.Respond(InviteForm(web, 400, "The two passwords differ.", code, login));
    return;
  }
  std::string replaces = request.caller.session_cookie;
  OnWorker(
      web, nullptr, responder,
      [desk, responder, code = std::move(code), login = std::move(login),
       password = std::move(password), replaces = std::move(replaces)] {
        const Web& web = *desk->web;
        std::optional<Account> account;
        absl::Status redeemed = desk->invites->Redeem(code, [&](const Invite& invite) {
          absl::StatusOr<hie::v1::RecordEnvelope> record = ReadPatient(web, invite.patient_id);
          if (!record.ok()) {
            return absl::FailedPreconditionError(
                "the practice no longer holds the record this invitation is for: ask it "
                "for a new one");
          }
          absl::StatusOr<Account> made =
              web.options.accounts->Create({.login = login,
                                            .display_name = AccountName(*record),
                                            .role = UserRole::kPatient,
                                            .patient_id = invite.patient_id,
                                            .must_change_password = false},
                                           password);
          if (made.ok()) account = *std::move(made);
          return made.status();
        });
        if (!redeemed.ok()) {
          int status = RedeemStatus(redeemed);
          if (absl::IsFailedPrecondition(redeemed)) status = 409;
          if (status == 0) {
            responder.RespondError(redeemed);
            return;
          }
          responder.Respond(InviteForm(web, status, RedeemMessage(redeemed), "", login));
          return;
        }
        // The account is in the chain as every other account's making is, and the
        // sign-in that follows as every sign-in.
        std::vector<hie::v1::AuditEntry> entries = {AccountAuditEntry(
            {.event = "add",
             .login = account->login,
             .actor = account->login,
             .actor_role = "patient",
             .detail = absl::StrCat("portal invitation for Patient/", account->patient_id)})};
        // Signed in at once, with a new session id (fixation, as at sign-in).
        absl::StatusOr<Session> session = web.options.sessions->Start(*account, replaces);
        if (!session.ok()) {
          RespondAudited(web, nullptr, std::move(entries), responder, SeeOther(http::kLoginPath));
          return;
        }
        entries.push_back(AccountAuditEntry({.event = "sign-in",
                                             .login = account->login,
                                             .actor = account->login,
                                             .actor_role = "patient",
                                             .detail = "with the portal invitation"}));
        http::Response response = SeeOther(kHomePath);
        response.headers.emplace_back(
            "Set-Cookie", Cookie(http::kSessionCookie, session->id, "/app", std::nullopt));
        response.headers.emplace_back("Set-Cookie", Cookie(kInviteCsrfCookie, "", kInvitePath, 0));
        RespondAudited(web, nullptr, std::move(entries), responder, std::move(response));
      });
}

// Wraps a handler of the signed-in pages: 503 when the node's records are not here.
http::Handler Staff(Desk desk, void (*handle)(Desk, http::Request, http::Responder)) {
  return [desk, handle](http::Request request, http::Responder responder) {
    if (!HasRecords(*desk->web) || desk->invites == nullptr) {
      responder.Respond(ErrorPage(*desk->web, &*request.caller.session, 503,
                                  "The practice's records are not available."));
      return;
    }
    handle(desk, std::move(request), std::move(responder));
  };
}

}  // namespace

absl::Status AddFrontDeskPages(http::Router& router, std::shared_ptr<const Web> web) {
  auto desk = std::make_shared<FrontDesk>();
  desk->web = web;
  if (web->options.state != nullptr && web->options.state->store != nullptr) {
    absl::StatusOr<std::unique_ptr<Invites>> invites =
        Invites::Open(web->options.state->store.get(), Clock::Real());
    if (!invites.ok()) return invites.status();
    desk->invites = *std::move(invites);
  }
  const http::AccessRule staff = http::AccessRule::Session({kRoleFrontDesk});
  const std::string patient = absl::StrCat(kPatientPath, "{id}");
  std::vector<http::Route> routes = {
      {.method = "GET",
       .pattern = kSearchPath,
       .access = staff,
       .audit_kind = "web-front-desk-search",
       .handler = Staff(desk, HandleSearch)},
      {.method = "GET",
       .pattern = kRegisterPath,
       .access = staff,
       .audit_kind = "web-front-desk-register-form",
       .handler =
           [web](http::Request request, http::Responder responder) {
             PatientForm empty;
             empty.id_system = web->options.state != nullptr ? MrnSystem(*web) : "";
             responder.Respond(RegisterForm(*web, *request.caller.session, 200, empty, {}));
           }},
      {.method = "POST",
       .pattern = kRegisterPath,
       .access = staff,
       .audit_kind = "web-front-desk-register",
       .max_body_bytes = kFormBytes,
       .content_types = {kFormType},
       .handler = Staff(desk, HandleRegister)},
      {.method = "GET",
       .pattern = patient,
       .access = staff,
       .audit_kind = "web-front-desk-patient",
       .handler = Staff(desk, HandlePatient)},
      {.method = "POST",
       .pattern = patient,
       .access = staff,
       .audit_kind = "web-front-desk-update",
       .max_body_bytes = kFormBytes,
       .content_types = {kFormType},
       .handler = Staff(desk, HandleUpdate)},
      {.method = "POST",
       .pattern = absl::StrCat(patient, "/invite"),
       .access = staff,
       .audit_kind = "web-front-desk-invite",
       .max_body_bytes = kFormBytes,
       .content_types = {kFormType},
       .handler = Staff(desk, HandleInvite)},
      {.method = "GET",
       .pattern = kInvitePath,
       .access = http::AccessRule::Anonymous(),
       .audit_kind = "web-invite-form",
       .handler =
           [web](http::Request, http::Responder responder) {
             responder.Respond(InviteForm(*web, 200, "", "", ""));
           }},
      {.method = "POST",
       .pattern = kInvitePath,
       .access = http::AccessRule::Anonymous(),
       .audit_kind = "web-invite",
       .max_body_bytes = kFormBytes,
       .content_types = {kFormType},
       .handler =
           [desk](http::Request request, http::Responder responder) {
             if (desk->invites == nullptr || desk->web->options.sessions == nullptr) {
               responder.Respond(
                   ErrorPage(*desk->web, nullptr, 503, "Invitations are not available."));
               return;
             }
             HandleRedeem(desk, std::move(request), std::move(responder));
           }},
  };
  for (http::Route& route : routes) {
    if (absl::Status s = router.Add(std::move(route)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace hie::node
