// The patient portal (issue 20): a signed-in patient's own pages. The patient is the
// account's patient_id and nothing else: no page takes a patient id from the request.
//
//   GET  /app/my/disclosures  who saw my record: DisclosureAccounting, gathered from
//                             every practice holding the patient's records
//   GET  /app/my/record       my record: FederatedQuery with purpose PATRQT (the
//                             patient's own request), rendered by RecordViewHtml
//   GET  /app/my/consent      my sharing choices: the directives on file
//                             (ConsentService.ListDirectives), the practices holding
//                             the patient's records (DisclosureAccounting::
//                             PatientPractices: a PATRQT grant's holders) and the
//                             choices form
//   POST /app/my/consent      files the choices as a FHIR Consent (sharing_choices.h),
//                             replacing the portal's earlier one; recorded in the
//                             node's chain (interaction "consent-change")
//
// Sharing choices are exchange-wide, per sensitive category and per practice; the
// practices listed are those a consent decision names to this practice for the
// patient's own request (node/domain/sharing_choices.h says why that is the only way).
#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/pki/identity.h"
#include "consent/domain/directive.h"
#include "http/html.h"
#include "node/domain/accounting.h"
#include "node/domain/sharing_choices.h"
#include "node/web/pages.h"
#include "node/web/record_query.h"
#include "node/web/record_view.h"
#include "node/web/web_audit.h"

namespace hie::node {
namespace {

using http::HtmlEscape;

constexpr char kDisclosuresPath[] = "/app/my/disclosures";
constexpr char kRecordPath[] = "/app/my/record";
constexpr char kConsentPath[] = "/app/my/consent";
// The patient's own request: the purpose of every portal query.

// The patient the session's account is: the only one its pages show.
struct PortalPatient {
  std::string local_id;
  QueryUser user;
};

// The session's patient, or why there is none (an account without a patient id is
// refused: it must never fall back to some other patient).
absl::StatusOr<PortalPatient> PatientOf(const Web& web, const http::SessionPrincipal& session) {
  if (web.options.sessions == nullptr) return absl::UnavailableError("no sessions");
  absl::StatusOr<Session> live = web.options.sessions->Lookup(session.session_id);
  if (!live.ok()) return live.status();
  if (live->account.patient_id.empty()) {
    return absl::PermissionDeniedError("this account is not linked to a patient record");
  }
  return PortalPatient{.local_id = live->account.patient_id,
                       .user = {.id = live->account.login,
                                .role = kRolePatient,
                                .display_name = live->account.display_name}};
}

// What happened, in the patient's words.
std::string WhatHappened(const DisclosureEvent& event) {
  switch (event.action) {
    case hie::v1::AUDIT_ACTION_DISCLOSE:
      return "Records shared";
    case hie::v1::AUDIT_ACTION_BREAK_GLASS:
      return "Emergency access (break-the-glass)";
    case hie::v1::AUDIT_ACTION_REFUSE:
      return "Request refused";
    case hie::v1::AUDIT_ACTION_QUERY:
      return event.outcome == "ok" ? "Looked up across the exchange"
                                   : absl::StrCat("Look-up (", event.outcome, ")");
    case hie::v1::AUDIT_ACTION_ACCESS:
      return "Opened at this practice";
    default:
      return "Other";
  }
}

std::string EventRow(const DisclosureEvent& event) {
  std::string who = event.user_name.empty()
                        ? event.user_id
                        : absl::StrCat(event.user_name, " (", event.user_id, ")");
  if (!event.user_role.empty()) absl::StrAppend(&who, ", ", event.user_role);
  std::string withheld =
      event.withheld_categories.empty() ? "none" : absl::StrJoin(event.withheld_categories, ", ");
  return absl::StrCat(
      "<tr", event.break_glass ? " class=\"break-glass\"" : "", "><td>",
      HtmlEscape(When(event.time)), "</td><td>", HtmlEscape(event.recipient_org), "</td><td>",
      HtmlEscape(who), "</td><td>", HtmlEscape(event.purpose), "</td><td>",
      HtmlEscape(event.holder_org), "</td><td>", HtmlEscape(WhatHappened(event)),
      event.break_glass ? " <strong class=\"badge-glass\">break-the-glass</strong>" : "",
      "</td><td>", HtmlEscape(withheld), "</td></tr>\n");
}

std::string SourceItem(const AccountingSource& source) {
  if (source.state == HolderState::kOk) {
    return absl::StrCat("<li>", HtmlEscape(source.org_id), source.local ? " (this practice)" : "",
                        ": ", source.entries, " entries",
                        source.truncated ? " (the newest only)" : "", "</li>");
  }
  return absl::StrCat("<li class=\"source-problem\">", HtmlEscape(source.org_id), ": <strong>",
                      HtmlEscape(HolderStateName(source.state)),
                      "</strong> — its entries are missing from this list (",
                      HtmlEscape(source.message), ")</li>");
}

std::string DisclosuresHtml(const AccountingReport& report) {
  std::string html =
      "<h1>Who saw my record</h1>\n"
      "<p>Every time a practice shared, opened or asked for your records across the "
      "exchange, as each practice's audit log records it. Your own look-ups through "
      "\"My record\" are listed too, with purpose PATRQT (your own request).</p>\n";
  if (!report.not_asked.empty()) {
    absl::StrAppend(&html,
                    "<p class=\"notice\" role=\"status\">Only this practice's log is shown: ",
                    HtmlEscape(report.not_asked), "</p>\n");
  }
  absl::StrAppend(&html, "<h2>Where this list comes from</h2>\n<ul class=\"sources\">");
  for (const AccountingSource& source : report.sources) absl::StrAppend(&html, SourceItem(source));
  absl::StrAppend(&html, "</ul>\n");
  if (report.events.empty()) {
    absl::StrAppend(&html, "<p>No one has seen your records yet.</p>\n");
    return html;
  }
  absl::StrAppend(&html,
                  "<table class=\"disclosures\">\n<caption>Disclosures, newest first</caption>\n"
                  "<thead><tr><th scope=\"col\">When</th><th scope=\"col\">Practice</th>"
                  "<th scope=\"col\">User</th><th scope=\"col\">Purpose</th>"
                  "<th scope=\"col\">Records of</th><th scope=\"col\">What happened</th>"
                  "<th scope=\"col\">Withheld categories</th></tr></thead>\n<tbody>\n");
  for (const DisclosureEvent& event : report.events) absl::StrAppend(&html, EventRow(event));
  absl::StrAppend(&html, "</tbody>\n</table>\n");
  return html;
}

void HandleDisclosures(std::shared_ptr<const Web> web, http::Request request,
                       http::Responder responder) {
  const http::SessionPrincipal session = *request.caller.session;
  std::shared_ptr<NodeState> state = web->options.state;
  if (state == nullptr || state->accounting == nullptr) {
    responder.Respond(ErrorPage(*web, &session, 503, "The exchange is not available here."));
    return;
  }
  bool queued = web->options.run([web, state, responder, session] {
    absl::StatusOr<PortalPatient> patient = PatientOf(*web, session);
    if (!patient.ok()) {
      responder.Respond(ErrorPage(*web, &session, 403, patient.status().message()));
      return;
    }
    if (web->options.query_started) web->options.query_started();
    state->accounting->Run({.local_patient_id = patient->local_id, .patient = patient->user},
                           [web, responder, session](absl::StatusOr<AccountingReport> report) {
                             if (!report.ok()) {
                               responder.Respond(ErrorPage(
                                   *web, &session, 503, "Your accounting could not be gathered."));
                             } else {
                               responder.Respond(Html(200, Page(*web, "Who saw my record", &session,
                                                                DisclosuresHtml(*report))));
                             }
                             if (web->options.query_done) web->options.query_done();
                           });
  });
  if (!queued) responder.Respond(ErrorPage(*web, &session, 503, "Too busy: try again."));
}

// ---------------------------------------------------------------------------------
// My record: the patient's own request (PATRQT) across the exchange.

// Collects one query's reports and answers with the record page. Deletes itself.
// The patient reads the record in the view the clinician has, with plain words around
// it. Withheld counts per practice are left out: they serve a clinician weighing what is
// missing; the patient is told which categories were withheld and where their choices
// are made instead.
std::string MyRecordHtml(const Web& web, const std::vector<HolderOutcome>& holders,
                         const QueryAnswer& answer) {
  RecordViewOptions options;
  options.own_org = web.options.state->own_org;
  options.show_withheld_counts = false;
  return absl::StrCat(
      "<div class=\"portal-record\">\n<h1>My record</h1>\n"
      "<p>Your records from every practice of the exchange that holds them. Each item "
      "names the practice it came from.</p>\n"
      "<p>What practices may see of your records is up to you: <a href=\"",
      kConsentPath, "\">My sharing choices</a>.</p>\n", RecordViewHtml(holders, answer, options),
      "</div>\n");
}

void HandleMyRecord(std::shared_ptr<const Web> web, http::Request request,
                    http::Responder responder) {
  const http::SessionPrincipal session = *request.caller.session;
  if (web->options.query == nullptr || web->options.state == nullptr) {
    responder.Respond(ErrorPage(*web, &session, 503, "The exchange is not available here."));
    return;
  }
  const bool queued = web->options.run([web, session, responder] {
    absl::StatusOr<PortalPatient> patient = PatientOf(*web, session);
    if (!patient.ok()) {
      responder.Respond(ErrorPage(*web, &session, 403, patient.status().message()));
      return;
    }
    FederatedQueryRequest query;
    query.local_patient_id = patient->local_id;
    query.purpose = kPatientRequestPurpose;
    query.user = patient->user;
    RunRecordQuery(
        web, session, std::move(query),
        {.answered =
             [web, session](const std::vector<HolderOutcome>& holders, const QueryAnswer& answer) {
               return Html(200,
                           Page(*web, "My record", &session, MyRecordHtml(*web, holders, answer)));
             },
         .failed =
             [web, session](const absl::Status& why) {
               return ErrorPage(*web, &session, 503,
                                absl::IsNotFound(why)
                                    ? "The exchange does not know your record yet."
                                    : "Your record could not be gathered: try again later.");
             }},
        responder);
  });
  if (!queued) responder.Respond(ErrorPage(*web, &session, 503, "Too busy: try again."));
}

// ---------------------------------------------------------------------------------
// My sharing choices.

// What the portal asks the consent service, and for whom.
struct ConsentPages {
  std::shared_ptr<const Web> web;
  std::shared_ptr<DirectiveClient> directives;  // null without a consent service
};

std::string CategoryList(const std::vector<const SensitiveCategory*>& categories) {
  if (categories.empty()) return "none";
  std::vector<std::string> words;
  for (const SensitiveCategory* c : categories) words.push_back(c->words);
  return HtmlEscape(absl::StrJoin(words, ", "));
}

// The choices in plain words.
std::string ChoicesWords(const SharingChoices& choices) {
  std::vector<const SensitiveCategory*> shared, kept;
  for (const SensitiveCategory& c : SensitiveCategories()) {
    (choices.Shares(c.key) ? shared : kept).push_back(&c);
  }
  return absl::StrCat(
      choices.share ? "You share your records with the practices of the exchange that treat you."
                    : "You do not share your records: each practice keeps its own. You can "
                      "still see your whole record here.",
      " Sensitive records you share: ", CategoryList(shared),
      ". Sensitive records you keep from practices: ", CategoryList(kept), ".",
      choices.denied_practices.empty()
          ? std::string()
          : absl::StrCat(" Practices that may not see your records: ",
                         HtmlEscape(absl::StrJoin(choices.denied_practices, ", ")), "."));
}

// One directive on file, in words. Another practice's directive comes without its
// content (the consent service withholds it): the patient learns only that one exists.
std::string DirectiveItem(const DirectiveInfo& d, const std::string& own_org) {
  std::string when = HtmlEscape(When(d.recorded_at));
  std::string status = HtmlEscape(d.status);
  if (d.filed_by_org.empty()) {
    return absl::StrCat(
        "<li>A choice filed at another of your practices (", status, ", ", when,
        "). Ask that practice about it; your newest choice is the one that counts.</li>");
  }
  if (d.filed_by_org == own_org && absl::StartsWith(d.id, kPortalDirectivePrefix)) {
    absl::StatusOr<consent::ConsentDirective> parsed = consent::ParseConsent(d.consent_json);
    std::optional<SharingChoices> choices;
    if (parsed.ok()) choices = ChoicesOf(*parsed);
    if (d.status != "active") {
      return absl::StrCat("<li>Your choices made here were withdrawn (", status, ", ", when,
                          ").</li>");
    }
    return absl::StrCat("<li>Your choices made here on ", when, ": ",
                        choices ? ChoicesWords(*choices) : "(not readable)", "</li>");
  }
  return absl::StrCat("<li>A choice this practice filed for you (", status, ", ", when,
                      "). Ask the practice about it; your newest choice is the one that "
                      "counts.</li>");
}

std::string Radio(absl::string_view name, absl::string_view value, absl::string_view label,
                  bool checked) {
  std::string id = absl::StrCat(name, "-", value);
  return absl::StrCat("<label for=\"", id, "\"><input type=\"radio\" id=\"", id, "\" name=\"", name,
                      "\" value=\"", value, "\"", checked ? " checked" : "", "> ", label,
                      "</label>\n");
}

// The practices the patient chooses about: the other holders the consent service named,
// and those the choices already refuse (so that saving never drops a refusal, even when
// the list could not be had or a practice no longer holds records).
struct PracticeList {
  std::vector<std::string> orgs;
  // Why the holders could not be listed; empty when they were.
  std::string not_listed;
};

std::vector<std::string> PracticesToShow(const PracticeList& practices,
                                         const SharingChoices& current) {
  std::vector<std::string> orgs = practices.orgs;
  for (const std::string& org : current.denied_practices) {
    if (std::find(orgs.begin(), orgs.end(), org) == orgs.end()) orgs.push_back(org);
  }
  return orgs;
}

std::string PracticeChoices(const std::string& own_org, const PracticeList& practices,
                            const SharingChoices& current) {
  const std::vector<std::string> orgs = PracticesToShow(practices, current);
  std::string html = absl::StrCat(
      "<fieldset class=\"choices practices\"><legend>Practices that may see my records"
      "</legend>\n<p>",
      HtmlEscape(own_org),
      " (this practice) keeps the records it made for you; the choices below are about "
      "the other practices that hold your records.</p>\n");
  if (!practices.not_listed.empty()) {
    absl::StrAppend(&html,
                    "<p class=\"notice\" role=\"status\">Your practices could not be listed "
                    "just now (",
                    HtmlEscape(practices.not_listed), ").</p>\n");
  }
  if (orgs.empty()) absl::StrAppend(&html, "<p>No other practice holds records of yours.</p>\n");
  absl::StrAppend(&html, "<input type=\"hidden\" name=\"practices\" value=\"",
                  HtmlEscape(absl::StrJoin(orgs, " ")), "\">\n");
  for (const std::string& org : orgs) {
    const std::string name = absl::StrCat("practice-", org);
    absl::StrAppend(
        &html, "<fieldset class=\"practice\"><legend>", HtmlEscape(org), "</legend>\n",
        Radio(name, "yes", "May see my records (as my choices above say)", current.MaySee(org)),
        Radio(name, "no", "May not see my records", !current.MaySee(org)), "</fieldset>\n");
  }
  absl::StrAppend(&html, "</fieldset>\n");
  return html;
}

std::string ChoicesForm(const http::SessionPrincipal& session, const std::string& own_org,
                        const PracticeList& practices, const SharingChoices& current) {
  std::string html = absl::StrCat(
      "<form method=\"post\" action=\"", kConsentPath, "\">\n", CsrfField(session),
      "<fieldset class=\"choices\"><legend>Share my records with the practices of the "
      "exchange</legend>\n",
      Radio("share", "yes",
            "Yes: practices that treat me may see my records from my other practices (opt in)",
            current.share),
      Radio("share", "no",
            "No: each practice keeps my records to itself (opt out). I can still see my own "
            "record here.",
            !current.share),
      "</fieldset>\n");
  for (const SensitiveCategory& c : SensitiveCategories()) {
    const std::string name = absl::StrCat("category-", c.key);
    absl::StrAppend(&html, "<fieldset class=\"choices\"><legend>", HtmlEscape(c.words),
                    " records</legend>\n",
                    Radio(name, "share", "Share them with practices that may see my records",
                          current.Shares(c.key)),
                    Radio(name, "keep", "Keep them from other practices (I still see them here)",
                          !current.Shares(c.key)),
                    "</fieldset>\n");
  }
  absl::StrAppend(&html, PracticeChoices(own_org, practices, current),
                  "<p><button type=\"submit\">Save my choices</button></p>\n</form>\n");
  return html;
}

std::string ConsentPageHtml(const Web& web, const http::SessionPrincipal& session,
                            const std::vector<DirectiveInfo>& directives,
                            const PracticeList& practices, bool saved, absl::string_view error) {
  const std::string& own_org = web.options.state->own_org;
  SharingChoices current;  // the form's starting point: sharing, no sensitive category
  if (const DirectiveInfo* mine = PortalDirective(directives, own_org);
      mine != nullptr && mine->status == "active") {
    absl::StatusOr<consent::ConsentDirective> parsed = consent::ParseConsent(mine->consent_json);
    if (parsed.ok()) {
      if (std::optional<SharingChoices> choices = ChoicesOf(*parsed)) current = *choices;
    }
  }
  std::string html = "<h1>My sharing choices</h1>\n";
  if (saved) {
    absl::StrAppend(&html,
                    "<p class=\"notice\" role=\"status\">Your choices are saved. They apply "
                    "from the next request for your records.</p>\n");
  }
  absl::StrAppend(&html, ErrorNote(error), "<h2>What is on file now</h2>\n");
  if (directives.empty()) {
    absl::StrAppend(&html,
                    "<p>You have made no choices yet: the exchange's standard rules apply.</p>\n");
  } else {
    absl::StrAppend(&html, "<ul class=\"directives\">\n");
    for (const DirectiveInfo& d : directives) absl::StrAppend(&html, DirectiveItem(d, own_org));
    absl::StrAppend(&html, "</ul>\n");
  }
  absl::StrAppend(&html, "<h2>Change my choices</h2>\n",
                  ChoicesForm(session, own_org, practices, current));
  return html;
}

// Runs `then` with the patient and the directives on file, off the I/O thread; answers
// itself when either cannot be had.
void WithDirectives(const ConsentPages& pages, const http::SessionPrincipal& session,
                    const http::Responder& responder,
                    std::function<void(PortalPatient, std::vector<DirectiveInfo>)> then) {
  const Web& web = *pages.web;
  if (pages.directives == nullptr || web.options.state == nullptr) {
    responder.Respond(ErrorPage(web, &session, 503, "The exchange is not available here."));
    return;
  }
  const bool queued = web.options.run([pages, session, responder, then = std::move(then)] {
    absl::StatusOr<PortalPatient> patient = PatientOf(*pages.web, session);
    if (!patient.ok()) {
      responder.Respond(ErrorPage(*pages.web, &session, 403, patient.status().message()));
      return;
    }
    if (pages.web->options.query_started) pages.web->options.query_started();
    pages.directives->List(
        patient->local_id, [pages, session, responder, then,
                            patient = *patient](absl::StatusOr<std::vector<DirectiveInfo>> listed) {
          if (!listed.ok()) {
            responder.Respond(ErrorPage(*pages.web, &session, 503,
                                        "Your choices could not be read: try again later."));
          } else {
            then(patient, *std::move(listed));
          }
          if (pages.web->options.query_done) pages.web->options.query_done();
        });
  });
  if (!queued) responder.Respond(ErrorPage(web, &session, 503, "Too busy: try again."));
}

// Runs `then` with the practices holding the patient's records, as a consent decision
// for the patient's own request names them (or why they could not be listed).
void WithPractices(const ConsentPages& pages, const PortalPatient& patient,
                   std::function<void(PracticeList)> then) {
  NodeState* state = pages.web->options.state.get();
  if (state == nullptr || state->accounting == nullptr) {
    then({.not_listed = "the exchange is not available here"});
    return;
  }
  if (pages.web->options.query_started) pages.web->options.query_started();
  state->accounting->PatientPractices(
      {.local_patient_id = patient.local_id, .patient = patient.user},
      [web = pages.web, then = std::move(then)](absl::StatusOr<std::vector<std::string>> orgs) {
        if (orgs.ok()) {
          then({.orgs = *std::move(orgs)});
        } else {
          then({.not_listed = std::string(orgs.status().message())});
        }
        if (web->options.query_done) web->options.query_done();
      });
}

void HandleConsentForm(const ConsentPages& pages, http::Request request,
                       http::Responder responder) {
  const http::SessionPrincipal session = *request.caller.session;
  const bool saved = request.Query("saved") != nullptr;
  WithDirectives(pages, session, responder,
                 [pages, session, responder, saved](PortalPatient patient,
                                                    std::vector<DirectiveInfo> directives) {
                   WithPractices(pages, patient,
                                 [pages, session, responder, saved,
                                  directives = std::move(directives)](PracticeList practices) {
                                   responder.Respond(Html(
                                       200, Page(*pages.web, "My sharing choices", &session,
                                                 ConsentPageHtml(*pages.web, session, directives,
                                                                 practices, saved, ""))));
                                 });
                 });
}

// The choices a posted form states, or why it states none.
absl::StatusOr<SharingChoices> ChoicesPosted(const http::Request& request,
                                             absl::string_view own_org) {
  SharingChoices choices;
  const std::string share = Field(request, "share");
  if (share != "yes" && share != "no") {
    return absl::InvalidArgumentError("Choose whether to share your records.");
  }
  choices.share = share == "yes";
  for (const SensitiveCategory& c : SensitiveCategories()) {
    const std::string value = Field(request, absl::StrCat("category-", c.key));
    if (value == "share") {
      choices.shared_categories.push_back(c.key);
    } else if (value != "keep") {
      return absl::InvalidArgumentError(
          absl::StrCat("Choose whether to share ", c.words, " records."));
    }
  }
  for (absl::string_view org :
       absl::StrSplit(Field(request, "practices"), ' ', absl::SkipEmpty())) {
    if (!pki::IsValidOrgId(std::string_view(org.data(), org.size())) || org == own_org) continue;
    const std::string value = Field(request, absl::StrCat("practice-", org));
    if (value == "no") {
      choices.denied_practices.emplace_back(org);
    } else if (value != "yes") {
      return absl::InvalidArgumentError(
          absl::StrCat("Choose whether ", org, " may see your records."));
    }
  }
  return choices;
}

std::string ChangeDetail(const SharingChoices& choices) {
  return absl::StrCat(
      "web app: share ", choices.share ? "yes" : "no", "; shared categories: ",
      choices.shared_categories.empty() ? std::string("none")
                                        : absl::StrJoin(choices.shared_categories, " "),
      "; practices not allowed: ",
      choices.denied_practices.empty() ? std::string("none")
                                       : absl::StrJoin(choices.denied_practices, " "));
}

void HandleConsentChange(const ConsentPages& pages, http::Request request,
                         http::Responder responder) {
  const http::SessionPrincipal session = *request.caller.session;
  const std::string own_org =
      pages.web->options.state != nullptr ? pages.web->options.state->own_org : "";
  absl::StatusOr<SharingChoices> posted = ChoicesPosted(request, own_org);
  // A form answered again shows the practices it was posted with.
  PracticeList posted_practices;
  for (absl::string_view org :
       absl::StrSplit(Field(request, "practices"), ' ', absl::SkipEmpty())) {
    if (pki::IsValidOrgId(std::string_view(org.data(), org.size())) && org != own_org)
      posted_practices.orgs.emplace_back(org);
  }
  WithDirectives(
      pages, session, responder,
      [pages, session, responder, posted, posted_practices](PortalPatient patient,
                                                            std::vector<DirectiveInfo> directives) {
        const Web& web = *pages.web;
        if (!posted.ok()) {
          responder.Respond(
              Html(400, Page(web, "My sharing choices", &session,
                             ConsentPageHtml(web, session, directives, posted_practices, false,
                                             posted.status().message()))));
          return;
        }
        // The portal's earlier directive gets a new version: one set of choices on file.
        const DirectiveInfo* earlier = PortalDirective(directives, web.options.state->own_org);
        absl::StatusOr<std::string> id =
            earlier != nullptr ? absl::StatusOr<std::string>(earlier->id) : NewPortalDirectiveId();
        if (!id.ok()) {
          responder.RespondError(id.status());
          return;
        }
        const std::string json = SharingConsentJson(*posted, *id, patient.local_id, absl::Now());
        if (web.options.query_started) web.options.query_started();
        pages.directives->Put(
            patient.local_id, json,
            [pages, session, responder, patient, choices = *posted, directives,
             posted_practices](absl::StatusOr<DirectiveInfo> filed) {
              const Web& web = *pages.web;
              if (!filed.ok()) {
                responder.Respond(Html(
                    503, Page(web, "My sharing choices", &session,
                              ConsentPageHtml(web, session, directives, posted_practices, false,
                                              absl::IsNotFound(filed.status())
                                                  ? "The exchange does not know your record "
                                                    "yet: your choices could not be saved."
                                                  : "Your choices could not be saved: try "
                                                    "again later."))));
              } else {
                hie::v1::AuditEntry entry =
                    WebAuditEntry(web, session, hie::v1::AUDIT_ACTION_DIRECTIVE,
                                  {.interaction = "consent-change",
                                   .resource = absl::StrCat("Consent/", filed->id),
                                   .patient = patient.local_id});
                entry.set_purpose(kPatientRequestPurpose);
                entry.set_detail(ChangeDetail(choices));
                RespondAudited(web, &session, {std::move(entry)}, responder,
                               SeeOther(absl::StrCat(kConsentPath, "?saved=1")));
              }
              if (web.options.query_done) web.options.query_done();
            });
      });
}

}  // namespace

absl::Status AddPortalPages(http::Router& router, std::shared_ptr<const Web> web) {
  absl::Status added =
      router.Add({.method = "GET",
                  .pattern = kDisclosuresPath,
                  .access = http::AccessRule::Session({kRolePatient}),
                  .audit_kind = "web-my-disclosures",
                  .handler = [web](http::Request request, http::Responder responder) {
                    HandleDisclosures(web, std::move(request), std::move(responder));
                  }});
  if (!added.ok()) return added;
  added = router.Add({.method = "GET",
                      .pattern = kRecordPath,
                      .access = http::AccessRule::Session({kRolePatient}),
                      .audit_kind = "web-my-record",
                      .handler = [web](http::Request request, http::Responder responder) {
                        HandleMyRecord(web, std::move(request), std::move(responder));
                      }});
  if (!added.ok()) return added;
  ConsentPages pages;
  pages.web = web;
  if (web->options.state != nullptr) pages.directives = web->options.state->directives;
  added = router.Add({.method = "GET",
                      .pattern = kConsentPath,
                      .access = http::AccessRule::Session({kRolePatient}),
                      .audit_kind = "web-my-consent",
                      .handler = [pages](http::Request request, http::Responder responder) {
                        HandleConsentForm(pages, std::move(request), std::move(responder));
                      }});
  if (!added.ok()) return added;
  return router.Add({.method = "POST",
                     .pattern = kConsentPath,
                     .access = http::AccessRule::Session({kRolePatient}),
                     .audit_kind = "web-my-consent-change",
                     .max_body_bytes = kFormBytes,
                     .content_types = {kFormType},
                     .handler = [pages](http::Request request, http::Responder responder) {
                       HandleConsentChange(pages, std::move(request), std::move(responder));
                     }});
}

}  // namespace hie::node
