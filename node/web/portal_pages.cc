// The patient portal (issue 20): a signed-in patient's own pages. The patient is the
// account's patient_id and nothing else: no page takes a patient id from the request.
//
//   GET  /app/my/disclosures  who saw my record: DisclosureAccounting, gathered from
//                             every practice holding the patient's records
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "http/html.h"
#include "node/domain/accounting.h"
#include "node/web/pages.h"

namespace hie::node {
namespace {

using http::HtmlEscape;

constexpr char kDisclosuresPath[] = "/app/my/disclosures";

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

std::string When(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", time, absl::UTCTimeZone());
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
      "exchange, as each practice's audit log records it. Your own visits to these pages "
      "are not listed.</p>\n";
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

}  // namespace

absl::Status AddPortalPages(http::Router& router, std::shared_ptr<const Web> web) {
  return router.Add({.method = "GET",
                     .pattern = kDisclosuresPath,
                     .access = http::AccessRule::Session({kRolePatient}),
                     .audit_kind = "web-my-disclosures",
                     .handler = [web](http::Request request, http::Responder responder) {
                       HandleDisclosures(web, std::move(request), std::move(responder));
                     }});
}

}  // namespace hie::node
