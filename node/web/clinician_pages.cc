// The clinician's pages (role clinician):
//
//   GET  /app/patients                   patient search: this practice's Patients
//                                        (RecordSearch, audited), and with where=exchange
//                                        the exchange's MPI (MpiSearch, as $match)
//   GET  /app/patients/{id}              the patient, the purpose-of-use form and the
//                                        emergency access form (audited as a read)
//   GET  /app/patients/{id}/record       ?purpose=: the federated record
//                                        (FederatedQuery::Run, as $everything)
//   POST /app/patients/{id}/emergency    break-the-glass: ETREAT with the reason the
//                                        form requires; audited, and alerted in the log
//
// The pages render; searching, consent, fetching and merging are the domain's.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/json/json_writer.h"
#include "common/log/log.h"
#include "http/html.h"
#include "http/target.h"
#include "node/domain/federated_query.h"
#include "node/domain/patient_match.h"
#include "node/domain/record_search.h"
#include "node/web/pages.h"
#include "node/web/record_query.h"
#include "node/web/record_view.h"
#include "node/web/web_audit.h"
#include "simdjson.h"

namespace hie::node {
namespace {

using http::HtmlEscape;

constexpr char kPatientsPath[] = "/app/patients";
constexpr char kEmergencyPurpose[] = "ETREAT";
// A break-the-glass reason is for a reviewer to read, not a document.
constexpr size_t kMaxReasonBytes = 2000;

// The purposes of use a clinician may choose for an ordinary query (v3 PurposeOfUse).
// Emergency treatment (ETREAT) is not among them: it needs the emergency form's reason.
struct Purpose {
  const char* code;
  const char* words;
};
constexpr Purpose kPurposes[] = {
    {"TREAT", "Treatment"},
    {"COC", "Continuity of care"},
    {"CAREMGT", "Care management"},
    {"CLINTRL", "Clinical trial"},
};

const Purpose* FindPurpose(absl::string_view code) {
  for (const Purpose& p : kPurposes) {
    if (code == p.code) return &p;
  }
  return nullptr;
}

std::string PatientPath(absl::string_view id) {
  return absl::StrCat(kPatientsPath, "/", http::PercentEncode(id));
}

// ---------------------------------------------------------------------------------
// Patient search

struct SearchForm {
  std::string family, given, birthdate, identifier;
  bool exchange = false;  // search the exchange's MPI too

  bool empty() const {
    return family.empty() && given.empty() && birthdate.empty() && identifier.empty();
  }
};

SearchForm ReadSearchForm(const http::Request& request) {
  auto get = [&](absl::string_view name) {
    const std::string* value = request.Query(name);
    return value == nullptr ? std::string() : std::string(absl::StripAsciiWhitespace(*value));
  };
  SearchForm form{get("family"), get("given"), get("birthdate"), get("identifier")};
  form.exchange = get("where") == "exchange";
  return form;
}

std::string SearchFormHtml(const SearchForm& form) {
  auto field = [](const char* id, const char* label, const std::string& value, const char* extra) {
    return absl::StrCat("<div class=\"field\"><label for=\"", id, "\">", label, "</label>",
                        "<input id=\"", id, "\" name=\"", id, "\" value=\"", HtmlEscape(value),
                        "\"", extra, "></div>\n");
  };
  return absl::StrCat(
      "<form class=\"patient-search\" method=\"get\" action=\"", kPatientsPath,
      "\" role=\"search\">\n", field("family", "Family name", form.family, " autocomplete=\"off\""),
      field("given", "Given name", form.given, " autocomplete=\"off\""),
      field("birthdate", "Birth date", form.birthdate, " type=\"date\""),
      field("identifier", "Identifier <span class=\"hint\">(system|value, or value)</span>",
            form.identifier, " autocomplete=\"off\""),
      "<div class=\"actions\"><button type=\"submit\" name=\"where\" value=\"local\">Search this "
      "practice</button> <button type=\"submit\" name=\"where\" value=\"exchange\" "
      "class=\"secondary\">Search this practice and the exchange</button></div>\n</form>\n");
}

std::vector<SearchParam> LocalSearchParams(const SearchForm& form) {
  std::vector<SearchParam> params;
  if (!form.family.empty()) params.push_back({"family", form.family});
  if (!form.given.empty()) params.push_back({"given", form.given});
  if (!form.birthdate.empty()) params.push_back({"birthdate", form.birthdate});
  if (!form.identifier.empty()) params.push_back({"identifier", form.identifier});
  params.push_back({"_count", "50"});
  return params;
}

std::string LocalResultsHtml(const SearchPage& page) {
  std::string out =
      "<section aria-labelledby=\"local-results\">\n"
      "<h2 id=\"local-results\">At this practice</h2>\n";
  if (page.matches.empty()) {
    return out + "<p>No patient of this practice matches.</p>\n</section>\n";
  }
  absl::StrAppend(
      &out, "<p>", page.total, page.total == 1 ? " patient" : " patients",
      page.total > static_cast<int64_t>(page.matches.size())
          ? absl::StrCat(" (the first ", page.matches.size(), " shown: narrow the search)")
          : "",
      "</p>\n<table class=\"patients\">\n<thead><tr><th scope=\"col\">Name</th>"
      "<th scope=\"col\">Birth date</th><th scope=\"col\">Gender</th>"
      "<th scope=\"col\">Local id</th></tr></thead>\n<tbody>\n");
  simdjson::dom::parser parser;
  for (const hie::v1::RecordEnvelope& r : page.matches) {
    simdjson::dom::element patient;
    const bool parsed = !parser.parse(r.fhir_json()).get(patient);
    absl::StrAppend(&out, "<tr><td><a href=\"", HtmlEscape(PatientPath(r.resource_id())), "\">",
                    HtmlEscape(parsed ? PatientText(patient) : "(unreadable)"), "</a></td><td>",
                    HtmlEscape(parsed ? JsonText(patient["birthDate"]) : ""), "</td><td>",
                    HtmlEscape(parsed ? JsonText(patient["gender"]) : ""), "</td><td>",
                    HtmlEscape(r.resource_id()), "</td></tr>\n");
  }
  return out + "</tbody>\n</table>\n</section>\n";
}

// The form's demographics as $match takes them: a Parameters resource holding a Patient
// (ParseMatchParameters checks it as it checks a client's).
std::string MatchParameters(const SearchForm& form) {
  JsonObject name;
  if (!form.family.empty()) name.Add("family", form.family);
  if (!form.given.empty()) name.AddRaw("given", JsonArray({JsonQuote(form.given)}));
  JsonObject patient;
  patient.Add("resourceType", "Patient");
  if (!form.family.empty() || !form.given.empty()) {
    patient.AddRaw("name", JsonArray({name.Build()}));
  }
  if (!form.birthdate.empty()) patient.Add("birthDate", form.birthdate);
  // The MPI compares identifiers within their system: one without a system says nothing.
  if (std::vector<std::string> parts = absl::StrSplit(form.identifier, absl::MaxSplits('|', 1));
      parts.size() == 2 && !parts[0].empty() && !parts[1].empty()) {
    patient.AddRaw(
        "identifier",
        JsonArray({JsonObject().Add("system", parts[0]).Add("value", parts[1]).Build()}));
  }
  return JsonObject()
      .Add("resourceType", "Parameters")
      .AddRaw(
          "parameter",
          JsonArray(
              {JsonObject().Add("name", "resource").AddRaw("resource", patient.Build()).Build()}))
      .Build();
}

std::string DemographicsNames(const hie::v1::Demographics& d) {
  std::vector<std::string> names;
  for (const hie::v1::HumanName& n : d.names()) {
    std::vector<std::string> words(n.given().begin(), n.given().end());
    if (!n.family().empty()) words.push_back(n.family());
    std::string name = words.empty() ? n.text() : absl::StrJoin(words, " ");
    if (!name.empty()) names.push_back(std::move(name));
  }
  return names.empty() ? "(no name given)" : absl::StrJoin(names, "; ");
}

std::string BirthDate(const hie::v1::Demographics& d) {
  if (!d.has_birth_date() || d.birth_date().year() == 0) return "";
  const hie::v1::Date& b = d.birth_date();
  if (b.month() == 0) return absl::StrCat(b.year());
  if (b.day() == 0) return absl::StrFormat("%04d-%02d", b.year(), b.month());
  return absl::StrFormat("%04d-%02d-%02d", b.year(), b.month(), b.day());
}

constexpr char kExchangeHeading[] =
    "<section aria-labelledby=\"exchange-results\">\n"
    "<h2 id=\"exchange-results\">In the exchange</h2>\n";

std::string ExchangeResultsHtml(const absl::StatusOr<std::vector<MatchCandidate>>& found) {
  std::string out = kExchangeHeading;
  if (!found.ok()) {
    absl::StrAppend(&out,
                    ErrorNote(absl::IsInvalidArgument(found.status())
                                  ? absl::StrCat("The exchange cannot search with these details: ",
                                                 found.status().message())
                                  : "The exchange's patient index did not answer: try again."),
                    "</section>\n");
    return out;
  }
  absl::StrAppend(
      &out,
      "<p>The exchange's patient index names people, never the practices that hold their "
      "records. To see a person's records from other practices, the front desk registers the "
      "patient here: the index then links this practice's patient to them.</p>\n");
  if (found->empty()) {
    return out +
           "<p>No person in the exchange matches. The patient index names a person only when "
           "the details point to them: give the family name, a given name and the birth date "
           "(and an identifier if you have one).</p>\n</section>\n";
  }
  absl::StrAppend(&out,
                  "<table class=\"candidates\">\n<thead><tr><th scope=\"col\">Match</th>"
                  "<th scope=\"col\">Name</th><th scope=\"col\">Birth date</th>"
                  "<th scope=\"col\">Exchange id</th></tr></thead>\n<tbody>\n");
  for (const MatchCandidate& c : *found) {
    const char* grade = MatchGradeCode(c.grade);
    absl::StrAppend(&out, "<tr><td><span class=\"grade grade-", grade, "\">", grade,
                    "</span></td><td>", HtmlEscape(DemographicsNames(c.shown)), "</td><td>",
                    HtmlEscape(BirthDate(c.shown)), "</td><td><code>", HtmlEscape(c.euid),
                    "</code></td></tr>\n");
  }
  return out + "</tbody>\n</table>\n</section>\n";
}

http::Response SearchPageResponse(const Web& web, const http::SessionPrincipal& session, int status,
                                  const SearchForm& form, absl::string_view results) {
  return Html(status, Page(web, "Patients", &session,
                           absl::StrCat("<h1>Patients</h1>\n", SearchFormHtml(form), results)));
}

// The accesses a local search made: one per patient shown (each patient's accounting
// finds it), or the search itself when it shows none.
std::vector<WebAccess> SearchAccesses(const SearchPage& page, bool exchange) {
  std::vector<WebAccess> touched;
  for (const hie::v1::RecordEnvelope& r : page.matches) {
    touched.push_back({"search", "Patient", r.patient_local_id()});
  }
  if (touched.empty()) touched.push_back({"search", "Patient", ""});
  if (exchange) touched.push_back({"match", "Patient", ""});
  return touched;
}

void HandleSearch(std::shared_ptr<const Web> web, http::Request request,
                  http::Responder responder) {
  const http::SessionPrincipal session = *request.caller.session;
  const SearchForm form = ReadSearchForm(request);
  if (form.empty()) {
    std::string hint = "<p>Search by name, birth date or identifier.</p>\n";
    if (request.Query("where") != nullptr) {  // the form was sent empty
      hint = ErrorNote("Give a name, a birth date or an identifier to search for.");
    }
    responder.Respond(SearchPageResponse(*web, session, 200, form, hint));
    return;
  }
  if (web->options.search == nullptr) {
    responder.Respond(ErrorPage(*web, &session, 503, "This node cannot search its records."));
    return;
  }
  absl::StatusOr<SearchQuery> query = SearchQuery::Parse("Patient", LocalSearchParams(form));
  if (!query.ok()) {
    responder.Respond(
        SearchPageResponse(*web, session, 400, form, ErrorNote(query.status().message())));
    return;
  }
  const bool queued = web->options.run([web, session, form, query = *std::move(query), responder] {
    absl::StatusOr<SearchPage> page = web->options.search->Run(query);
    if (!page.ok()) {
      LogWarning("web patient search: ", page.status().ToString());
      responder.Respond(ErrorPage(*web, &session, 503, "The search failed: try again."));
      return;
    }
    std::string local = LocalResultsHtml(*page);
    std::vector<WebAccess> touched = SearchAccesses(*page, form.exchange);
    if (!form.exchange) {
      RespondAfterAudit(*web, session, touched, responder,
                        SearchPageResponse(*web, session, 200, form, local));
      return;
    }
    if (web->options.mpi == nullptr) {
      RespondAfterAudit(*web, session, touched, responder,
                        SearchPageResponse(*web, session, 200, form,
                                           absl::StrCat(local, kExchangeHeading,
                                                        "<p>This node has no patient index (MPI) "
                                                        "configured: the exchange cannot be "
                                                        "searched from here.</p>\n</section>\n")));
      return;
    }
    absl::StatusOr<MatchQuery> match = ParseMatchParameters(MatchParameters(form));
    if (!match.ok()) {
      RespondAfterAudit(
          *web, session, touched, responder,
          SearchPageResponse(*web, session, 200, form,
                             absl::StrCat(local, ExchangeResultsHtml(match.status()))));
      return;
    }
    // The MPI answers on a gRPC thread; shutting down waits for it (counted as a query).
    if (web->options.query_started) web->options.query_started();
    web->options.mpi->Search(
        *match, [web, session, form, local = std::move(local), touched = std::move(touched),
                 responder](absl::StatusOr<std::vector<MatchCandidate>> found) {
          if (!found.ok())
            LogWarning("web exchange search: the MPI answered ", found.status().ToString());
          RespondAfterAudit(*web, session, touched, responder,
                            SearchPageResponse(*web, session, 200, form,
                                               absl::StrCat(local, ExchangeResultsHtml(found))));
          if (web->options.query_done) web->options.query_done();
        });
  });
  if (!queued) responder.Respond(ErrorPage(*web, &session, 503, "Too busy: try again."));
}

// ---------------------------------------------------------------------------------
// The patient and the record

std::string PurposeFormHtml(absl::string_view id, absl::string_view chosen) {
  std::string options;
  for (const Purpose& p : kPurposes) {
    absl::StrAppend(&options, "<option value=\"", p.code, "\"", chosen == p.code ? " selected" : "",
                    ">", p.words, " (", p.code, ")</option>");
  }
  return absl::StrCat(
      "<form class=\"purpose\" method=\"get\" action=\"", HtmlEscape(PatientPath(id)),
      "/record\">\n<label for=\"purpose\">Purpose of use</label>\n"
      "<select id=\"purpose\" name=\"purpose\">",
      options,
      "</select>\n<button type=\"submit\">Open the record from every practice</button>\n"
      "</form>\n");
}

std::string EmergencyFormHtml(const http::SessionPrincipal& session, absl::string_view id,
                              absl::string_view reason, absl::string_view error) {
  return absl::StrCat(
      "<section class=\"emergency\" aria-labelledby=\"emergency-h\">\n"
      "<h2 id=\"emergency-h\">Emergency access</h2>\n"
      "<p>Only for an emergency in which the patient cannot be asked. Emergency access "
      "(break-the-glass) opens the record even where the patient's consent would refuse it; "
      "it is recorded with your reason, reported for review, and the patient can see it.</p>\n",
      ErrorNote(error), "<form method=\"post\" action=\"", HtmlEscape(PatientPath(id)),
      "/emergency\">\n", CsrfField(session),
      "<label for=\"reason\">Reason for emergency access <span class=\"hint\">"
      "(required)</span></label>\n<textarea id=\"reason\" name=\"reason\" rows=\"3\" "
      "maxlength=\"",
      kMaxReasonBytes, "\" required>", HtmlEscape(reason),
      "</textarea>\n<button type=\"submit\" class=\"danger\">Open with emergency access"
      "</button>\n</form>\n</section>\n");
}

void HandlePatient(std::shared_ptr<const Web> web, http::Request request,
                   http::Responder responder) {
  const http::SessionPrincipal session = *request.caller.session;
  const std::string id = request.params["id"];
  if (web->options.state == nullptr) {
    responder.Respond(ErrorPage(*web, &session, 503, "This node cannot read its records."));
    return;
  }
  const bool queued = web->options.run([web, session, id, responder] {
    absl::StatusOr<hie::v1::RecordEnvelope> record =
        web->options.state->records->Get("Patient", id);
    if (!record.ok() || record->deleted()) {
      responder.Respond(
          ErrorPage(*web, &session, 404, absl::StrCat("This practice has no patient ", id, ".")));
      return;
    }
    simdjson::dom::parser parser;
    simdjson::dom::element patient;
    const bool parsed = !parser.parse(record->fhir_json()).get(patient);
    const std::string name = parsed ? PatientText(patient) : "(unreadable)";
    std::string main = absl::StrCat(
        "<p class=\"crumbs\"><a href=\"", kPatientsPath, "\">Patients</a></p>\n<h1>",
        HtmlEscape(name), "</h1>\n<dl class=\"patient-facts\"><dt>Birth date</dt><dd>",
        HtmlEscape(parsed ? JsonText(patient["birthDate"]) : ""), "</dd><dt>Gender</dt><dd>",
        HtmlEscape(parsed ? JsonText(patient["gender"]) : ""), "</dd><dt>Local id</dt><dd>",
        HtmlEscape(id), "</dd></dl>\n",
        "<p>The record from every practice that holds it is gathered for the purpose you "
        "choose; the patient's consent decides what each practice shares.</p>\n",
        PurposeFormHtml(id, "TREAT"), EmergencyFormHtml(session, id, "", ""));
    RespondAfterAudit(*web, session, {{"read", absl::StrCat("Patient/", id), id}}, responder,
                      Html(200, Page(*web, name, &session, main)));
  });
  if (!queued) responder.Respond(ErrorPage(*web, &session, 503, "Too busy: try again."));
}

// What one query asked, for the page that shows its answer.
struct RecordRequest {
  http::SessionPrincipal session;
  std::string patient_id;
  std::string purpose;
  bool emergency = false;
};

int StatusFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return 503;
    default:
      return 500;
  }
}

// Words for a person about a query that gave no answer. Only the consent service's
// reason is shown as it came (it is written for people); other parties' words stay in
// the log.
std::string QueryFailureWords(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kPermissionDenied:
      return absl::StrCat("The record cannot be opened: ", s.message());
    case absl::StatusCode::kNotFound:
      return "The exchange does not know this patient yet: the front desk registers them "
             "with the exchange.";
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return "The exchange's consent service or this node's audit log cannot be reached: "
             "nothing was fetched. Try again in a moment.";
    default:
      return "The record could not be gathered.";
  }
}

std::string RecordTitle(const RecordRequest& asked) {
  return absl::StrCat(asked.emergency ? "Emergency access · " : "", "Record of patient ",
                      asked.patient_id);
}

std::string RecordHeader(const RecordRequest& asked) {
  const Purpose* purpose = FindPurpose(asked.purpose);
  return absl::StrCat(
      "<p class=\"crumbs\"><a href=\"", kPatientsPath, "\">Patients</a> › <a href=\"",
      HtmlEscape(PatientPath(asked.patient_id)), "\">Patient ", HtmlEscape(asked.patient_id),
      "</a></p>\n<h1>", HtmlEscape(RecordTitle(asked)), "</h1>\n<p class=\"purpose-shown\">",
      "Purpose of use: ",
      asked.emergency
          ? "Emergency treatment (ETREAT)"
          : absl::StrCat(purpose ? purpose->words : "", " (", HtmlEscape(asked.purpose), ")"),
      "</p>\n");
}

// Collects one query's reports and answers with the record page. Deletes itself.
// The record page for `asked`, from the query's answer.
std::string RecordPage(const Web& web, const RecordRequest& asked,
                       const std::vector<HolderOutcome>& holders, const QueryAnswer& answer) {
  RecordViewOptions options;
  options.own_org = web.options.state->own_org;
  options.emergency = asked.emergency;
  std::string main = absl::StrCat(
      RecordHeader(asked), RecordViewHtml(holders, answer, options),
      asked.emergency ? "" : EmergencyFormHtml(asked.session, asked.patient_id, "", ""));
  if (asked.emergency) main = absl::StrCat("<div class=\"emergency-access\">", main, "</div>");
  return Page(web, RecordTitle(asked), &asked.session, main);
}

// The record page when the query failed: why, and (unless it was one) the emergency form.
http::Response RecordRefused(const Web& web, const RecordRequest& asked, const absl::Status& why) {
  LogInfo("web record of ", asked.patient_id, " for ", asked.session.login, ": ", why.ToString());
  const std::string main = absl::StrCat(
      RecordHeader(asked), ErrorNote(QueryFailureWords(why)),
      asked.emergency ? "" : EmergencyFormHtml(asked.session, asked.patient_id, "", ""));
  return Html(StatusFor(why), Page(web, RecordTitle(asked), &asked.session, main));
}

// Starts the federated query `asked` describes, answering with the record page.
void StartRecordQuery(std::shared_ptr<const Web> web, RecordRequest asked, std::string reason,
                      http::Responder responder) {
  FederatedQueryRequest query;
  query.local_patient_id = asked.patient_id;
  query.purpose = asked.purpose;
  query.user = QueryUser{.id = asked.session.login,
                         .role = asked.session.role,
                         .npi = "",
                         .display_name = asked.session.display_name};
  query.break_glass_reason = std::move(reason);
  const http::SessionPrincipal session = asked.session;
  const bool queued = web->options.run([web, asked = std::move(asked), query = std::move(query),
                                        responder]() mutable {
    const http::SessionPrincipal who = asked.session;
    RunRecordQuery(
        web, who, std::move(query),
        {.answered =
             [web, asked](const std::vector<HolderOutcome>& holders, const QueryAnswer& answer) {
               return Html(200, RecordPage(*web, asked, holders, answer));
             },
         .failed = [web,
                    asked](const absl::Status& why) { return RecordRefused(*web, asked, why); }},
        responder);
  });
  if (!queued) responder.Respond(ErrorPage(*web, &session, 503, "Too busy: try again."));
}

bool CanQuery(const Web& web, const http::SessionPrincipal& session,
              const http::Responder& responder) {
  if (web.options.query != nullptr && web.options.state != nullptr) return true;
  responder.Respond(ErrorPage(web, &session, 503, "This node cannot query the exchange."));
  return false;
}

void HandleRecord(std::shared_ptr<const Web> web, http::Request request,
                  http::Responder responder) {
  RecordRequest asked;
  asked.session = *request.caller.session;
  asked.patient_id = request.params["id"];
  const std::string* purpose = request.Query("purpose");
  asked.purpose = purpose == nullptr ? "TREAT" : *purpose;
  if (FindPurpose(asked.purpose) == nullptr) {
    responder.Respond(ErrorPage(*web, &asked.session, 400,
                                "Choose a purpose of use from the list; emergency access has "
                                "its own form."));
    return;
  }
  if (!CanQuery(*web, asked.session, responder)) return;
  StartRecordQuery(std::move(web), std::move(asked), "", std::move(responder));
}

// Break-the-glass: the reason is required; the access is recorded (with the reason) in
// the node's audit chain before anything is asked, and alerted in the node's log. The
// consent service and every holder audit it as break-the-glass too.
void HandleEmergency(std::shared_ptr<const Web> web, http::Request request,
                     http::Responder responder) {
  RecordRequest asked;
  asked.session = *request.caller.session;
  asked.patient_id = request.params["id"];
  asked.purpose = kEmergencyPurpose;
  asked.emergency = true;
  std::string reason(absl::StripAsciiWhitespace(Field(request, "reason")));
  std::string problem;
  if (reason.empty()) problem = "Emergency access needs a reason.";
  if (reason.size() > kMaxReasonBytes) {
    problem = absl::StrCat("Give the reason in at most ", kMaxReasonBytes, " characters.");
  }
  if (!problem.empty()) {
    const std::string main =
        absl::StrCat("<h1>Emergency access</h1>\n",
                     EmergencyFormHtml(asked.session, asked.patient_id, reason, problem));
    responder.Respond(Html(400, Page(*web, "Emergency access", &asked.session, main)));
    return;
  }
  if (!CanQuery(*web, asked.session, responder)) return;
  if (web->options.auditor == nullptr) {
    responder.Respond(ErrorPage(*web, &asked.session, 503, "This node cannot record accesses."));
    return;
  }
  LogWarning("BREAK-THE-GLASS: user ", asked.session.login, " (", asked.session.display_name,
             ") of ", web->options.state->own_org, " opened patient ", asked.patient_id,
             " for emergency treatment; reason: ", absl::CEscape(reason));
  hie::v1::AuditEntry entry =
      WebAuditEntry(*web, asked.session, hie::v1::AUDIT_ACTION_BREAK_GLASS,
                    {"everything", absl::StrCat("Patient/", asked.patient_id), asked.patient_id});
  entry.set_purpose(kEmergencyPurpose);
  entry.set_outcome("requested");
  entry.set_detail(absl::StrCat("break-the-glass from the web app; reason: ", reason));
  http::Response refused =
      ErrorPage(*web, &asked.session, 503,
                "This node cannot record the emergency access now, so the record was not "
                "opened: try again in a moment.");
  web->options.auditor->Append(
      {std::move(entry)}, [web, asked = std::move(asked), reason, responder,
                           refused = std::move(refused)](absl::Status recorded) mutable {
        if (!recorded.ok()) {
          LogError("the audit chain refused a break-the-glass access: ", recorded.ToString());
          responder.Respond(std::move(refused));
          return;
        }
        StartRecordQuery(web, std::move(asked), std::move(reason), responder);
      });
}

}  // namespace

absl::Status AddClinicianPages(http::Router& router, std::shared_ptr<const Web> web) {
  const http::AccessRule clinician = http::AccessRule::Session({kRoleClinician});
  absl::Status s = router.Add({.method = "GET",
                               .pattern = kPatientsPath,
                               .access = clinician,
                               .audit_kind = "web-patient-search",
                               .handler = [web](http::Request request, http::Responder responder) {
                                 HandleSearch(web, std::move(request), std::move(responder));
                               }});
  if (s.ok()) {
    s = router.Add({.method = "GET",
                    .pattern = "/app/patients/{id}",
                    .access = clinician,
                    .audit_kind = "web-patient",
                    .handler = [web](http::Request request, http::Responder responder) {
                      HandlePatient(web, std::move(request), std::move(responder));
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "GET",
                    .pattern = "/app/patients/{id}/record",
                    .access = clinician,
                    .audit_kind = "web-patient-record",
                    .handler = [web](http::Request request, http::Responder responder) {
                      HandleRecord(web, std::move(request), std::move(responder));
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "POST",
                    .pattern = "/app/patients/{id}/emergency",
                    .access = clinician,
                    .audit_kind = "web-break-the-glass",
                    .max_body_bytes = kFormBytes,
                    .content_types = {kFormType},
                    .handler = [web](http::Request request, http::Responder responder) {
                      HandleEmergency(web, std::move(request), std::move(responder));
                    }});
  }
  return s;
}

}  // namespace hie::node
