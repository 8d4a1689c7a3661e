// The practice admin's pages (role practice-admin):
//
//   GET  /app/admin/users                      this node's accounts, and a form to add one
//   POST /app/admin/users                      add (a one-time password, shown once)
//   POST /app/admin/users/{login}/disable      ...enable, reset (a new one-time password,
//   POST /app/admin/users/{login}/enable          shown once), remove-totp
//   POST /app/admin/users/{login}/reset
//   POST /app/admin/users/{login}/remove-totp
//   GET  /app/admin/status                     CheckNodeHealth: MPI, consent service,
//                                              outbox, certificate, record counts
//   GET  /app/admin/import                     the upload form and the recent imports
//   POST /app/admin/import                     a FHIR JSON document or NDJSON (raw body
//                                              from import.js, or a pasted form without
//                                              script): an ImportJobs job; 202 + JSON
//                                              {id, url}, or 303 to the job's page
//   GET  /app/admin/import/{job}               the job: JSON (Accept: application/json)
//                                              for import.js, else a page that refreshes
//                                              itself while the job runs
//   GET  /app/admin/audit                      the audit chain, filtered, newest first
//   POST /app/admin/audit/verify               AuditLog::Verify, then the audit page
//
// Accounts are this node's (Accounts, as the Users service and hiectl user use them);
// imports go through the Importer hiectl import uses; the audit search is
// audit::RunAuditSearch, as GET /AuditEvent runs it.
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/audit/audit_search.h"
#include "common/json/json_writer.h"
#include "common/time/proto_time.h"
#include "google/protobuf/util/time_util.h"
#include "http/access.h"
#include "http/html.h"
#include "http/status.h"
#include "http/target.h"
#include "node/domain/account_audit.h"
#include "node/domain/import_jobs.h"
#include "node/domain/node_health.h"
#include "node/service/health_probe.h"
#include "node/web/pages.h"
#include "node/web/web_audit.h"

namespace hie::node {
namespace {

using http::HtmlEscape;

constexpr char kUsersPath[] = "/app/admin/users";
constexpr char kStatusPath[] = "/app/admin/status";
constexpr char kImportPath[] = "/app/admin/import";
constexpr char kAuditPath[] = "/app/admin/audit";
// The largest file an import takes from the browser (the page says so).
constexpr size_t kImportBytes = size_t{64} << 20;
constexpr int kImportMiB = 64;
// Audit entries a page shows, and how far back one page looks for them.
constexpr size_t kAuditPageSize = 50;
constexpr uint64_t kAuditWindow = 1000;
constexpr int kAuditMaxWindows = 100;
// Each reachability check's deadline (they run at once: the page waits about this).
constexpr absl::Duration kProbeDeadline = absl::Seconds(2);

// What the admin pages keep beside the shared Web: the imports in flight.
struct Admin {
  std::shared_ptr<const Web> web;
  std::shared_ptr<ImportJobs> imports;  // null without a store
};

using node::When;
std::string When(const google::protobuf::Timestamp& t) { return When(FromProtoTime(t)); }

std::string Notice(absl::string_view html) {
  return absl::StrCat("<div class=\"notice\" role=\"status\">", html, "</div>\n");
}

// Runs `work` on the worker pool; answers 503 when it cannot be queued.
void OnWorker(const Web& web, const http::Responder& responder, std::function<void()> work) {
  if (!web.options.run(std::move(work))) {
    responder.RespondError(absl::UnavailableError("the node is too busy: try again"));
  }
}

// ---- Users ----------------------------------------------------------------------------

struct UserForm {
  std::string login, name, role = kRoleClinician, patient_id;
};

std::string RoleOptions(absl::string_view selected) {
  std::string out;
  for (const char* role : {kRoleClinician, kRoleFrontDesk, kRoleAdmin, kRolePatient}) {
    absl::StrAppend(&out, "<option value=\"", role, "\"", role == selected ? " selected" : "", ">",
                    role, "</option>");
  }
  return out;
}

// One POST button on a user's row.
std::string RowAction(const http::SessionPrincipal& session, const Account& account,
                      absl::string_view action, absl::string_view label) {
  return absl::StrCat("<form class=\"inline\" method=\"post\" action=\"", kUsersPath, "/",
                      HtmlEscape(http::PercentEncode(account.login)), "/", action, "\">",
                      CsrfField(session), "<button type=\"submit\" aria-label=\"", label, " ",
                      HtmlEscape(account.login), "\">", label, "</button></form>");
}

std::string UserRow(const http::SessionPrincipal& session, const Account& a, absl::Time now) {
  std::string state = a.disabled ? "disabled" : "active";
  if (a.locked_until.has_value() && *a.locked_until > now) {
    absl::StrAppend(&state, ", locked until ", When(*a.locked_until));
  }
  if (a.must_change_password) absl::StrAppend(&state, ", must change password");
  std::string actions;
  if (a.login != session.login) {
    absl::StrAppend(&actions, a.disabled ? RowAction(session, a, "enable", "Enable")
                                         : RowAction(session, a, "disable", "Disable"));
  }
  absl::StrAppend(&actions, RowAction(session, a, "reset", "Reset password"));
  if (a.totp_enabled) {
    absl::StrAppend(&actions, RowAction(session, a, "remove-totp", "Remove authenticator"));
  }
  return absl::StrCat("<tr><td>", HtmlEscape(a.login), "</td><td>", HtmlEscape(a.display_name),
                      "</td><td>", HtmlEscape(UserRoleName(a.role)), "</td><td>",
                      HtmlEscape(a.patient_id), "</td><td>", HtmlEscape(state), "</td><td>",
                      a.totp_enabled ? "yes" : "no", "</td><td>",
                      a.last_sign_in.has_value() ? When(*a.last_sign_in) : "never",
                      "</td><td class=\"actions\">", actions, "</td></tr>\n");
}

std::string AddUserForm(const http::SessionPrincipal& session, const UserForm& form) {
  return absl::StrCat(
      "<h2>Add a user</h2>\n<form class=\"stacked\" method=\"post\" action=\"", kUsersPath, "\">\n",
      CsrfField(session), "\n<label for=\"login\">Login</label>\n",
      "<input id=\"login\" name=\"login\" required autocapitalize=\"none\" maxlength=\"64\" "
      "value=\"",
      HtmlEscape(form.login), "\">\n<label for=\"name\">Name</label>\n",
      "<input id=\"name\" name=\"name\" required maxlength=\"128\" value=\"", HtmlEscape(form.name),
      "\">\n<label for=\"role\">Role</label>\n<select id=\"role\" name=\"role\">",
      RoleOptions(form.role), "</select>\n",
      "<label for=\"patient_id\">Patient id <span class=\"hint\">(patients only: their id in "
      "this practice's records)</span></label>\n",
      "<input id=\"patient_id\" name=\"patient_id\" value=\"", HtmlEscape(form.patient_id),
      "\">\n<button type=\"submit\">Add user</button>\n</form>\n",
      "<p class=\"hint\">The node makes a one-time password, shown once; the user must choose "
      "their own at the first sign-in.</p>\n");
}

// The users page; `notice_html` (markup, escaped by the caller) above the table.
http::Response UsersPage(const Web& web, const http::SessionPrincipal& session, int status,
                         absl::string_view notice_html, absl::string_view error,
                         const UserForm& form) {
  absl::StatusOr<std::vector<Account>> accounts = web.options.accounts->List();
  if (!accounts.ok()) return ErrorPage(web, &session, 503, "the accounts cannot be read now");
  const absl::Time now = absl::Now();
  std::string rows;
  for (const Account& a : *accounts) absl::StrAppend(&rows, UserRow(session, a, now));
  std::string main = absl::StrCat(
      "<h1>Users</h1>\n", notice_html, ErrorNote(error),
      "<p>The people who sign in to this practice's node.</p>\n",
      "<div class=\"table-wrap\"><table class=\"users\">\n<caption>Accounts of ",
      HtmlEscape(web.options.practice_name), "</caption>\n",
      "<thead><tr><th scope=\"col\">Login</th><th scope=\"col\">Name</th><th "
      "scope=\"col\">Role</th><th scope=\"col\">Patient id</th><th scope=\"col\">State</th><th "
      "scope=\"col\">Authenticator</th><th scope=\"col\">Last sign-in</th><th "
      "scope=\"col\">Actions</th></tr></thead>\n<tbody>\n",
      rows, "</tbody></table></div>\n", AddUserForm(session, form));
  return Html(status, Page(web, "Users", &session, main));
}

std::string PasswordNotice(absl::string_view what, absl::string_view login,
                           absl::string_view password) {
  return Notice(absl::StrCat("<p>", what, " <strong>", HtmlEscape(login),
                             "</strong>. Their one-time password, shown only now:</p>",
                             "<p class=\"password\"><code>", HtmlEscape(password), "</code></p>",
                             "<p>They must choose their own at their first sign-in.</p>"));
}

int StatusFor(const absl::Status& s) {
  if (absl::IsInvalidArgument(s)) return 400;
  if (absl::IsAlreadyExists(s)) return 409;
  if (absl::IsNotFound(s)) return 404;
  if (absl::IsFailedPrecondition(s)) return 409;
  return 503;
}

void HandleAddUser(std::shared_ptr<const Web> web, const http::Request& request,
                   const http::Responder& responder) {
  const http::SessionPrincipal session = *request.caller.session;
  UserForm form{.login = Field(request, "login"),
                .name = Field(request, "name"),
                .role = Field(request, "role"),
                .patient_id = Field(request, "patient_id")};
  OnWorker(*web, responder, [web, session, form, responder] {
    absl::StatusOr<UserRole> role = ParseUserRole(form.role);
    absl::Status s = role.status();
    if (s.ok()) {
      // A throwaway password the policy accepts; the one shown is ResetPassword's, so it
      // is one-time and expires as `hiectl user reset`'s does.
      const std::string throwaway = RandomToken();
      NewAccount account{.login = form.login,
                         .display_name = form.name,
                         .role = *role,
                         .patient_id = *role == UserRole::kPatient ? form.patient_id : "",
                         .must_change_password = true};
      s = throwaway.empty() ? absl::UnavailableError("no random bytes")
                            : web->options.accounts->Create(account, throwaway).status();
    }
    if (!s.ok()) {
      responder.Respond(UsersPage(*web, session, StatusFor(s), "", s.message(), form));
      return;
    }
    absl::StatusOr<std::string> password = web->options.accounts->ResetPassword(form.login);
    if (!password.ok()) {
      responder.RespondError(password.status());
      return;
    }
    RespondAudited(
        *web, &session,
        {AccountAuditEntry({.event = "add",
                            .login = absl::AsciiStrToLower(form.login),
                            .actor = session.login,
                            .actor_role = session.role,
                            .detail = absl::StrCat("role ", form.role)})},
        responder,
        UsersPage(*web, session, 200,
                  PasswordNotice("Added", absl::AsciiStrToLower(form.login), *password), "", {}));
  });
}

// disable, enable, reset, remove-totp on {login}.
void HandleUserAction(std::shared_ptr<const Web> web, const http::Request& request,
                      const http::Responder& responder, std::string action) {
  const http::SessionPrincipal session = *request.caller.session;
  auto found = request.params.find("login");
  std::string login = found == request.params.end() ? "" : found->second;
  if (action == "disable" && absl::AsciiStrToLower(login) == session.login) {
    responder.Respond(
        UsersPage(*web, session, 409, "", "You cannot disable your own account.", {}));
    return;
  }
  OnWorker(*web, responder, [web, session, login, action, responder] {
    Accounts& accounts = *web->options.accounts;
    absl::Status s;
    std::string notice;
    if (action == "reset") {
      absl::StatusOr<std::string> password = accounts.ResetPassword(login);
      s = password.status();
      if (s.ok()) notice = PasswordNotice("Reset the password of", login, *password);
    } else if (action == "disable") {
      s = accounts.Disable(login).status();
      notice = "Disabled";
    } else if (action == "enable") {
      s = accounts.Enable(login).status();
      notice = "Enabled";
    } else {
      s = accounts.RemoveTotp(login);
      notice = "Removed the authenticator of";
    }
    if (!s.ok()) {
      responder.Respond(UsersPage(*web, session, StatusFor(s), "", s.message(), {}));
      return;
    }
    if (action != "reset") {
      notice =
          Notice(absl::StrCat("<p>", notice, " <strong>", HtmlEscape(login), "</strong>.</p>"));
    }
    RespondAudited(*web, &session,
                   {AccountAuditEntry({.event = action,
                                       .login = absl::AsciiStrToLower(login),
                                       .actor = session.login,
                                       .actor_role = session.role})},
                   responder, UsersPage(*web, session, 200, notice, "", {}));
  });
}

// ---- Node status ----------------------------------------------------------------------

std::string DependencyRow(const DependencyHealth& d) {
  std::string state = !d.configured ? "<span class=\"state-off\">not configured</span>"
                      : d.reachable ? "<span class=\"state-ok\">reachable</span>"
                                    : "<span class=\"state-bad\">unreachable</span>";
  std::string detail = !d.configured ? ""
                       : d.reachable ? absl::StrCat(absl::ToInt64Milliseconds(d.latency), " ms")
                                     : HtmlEscape(d.error);
  return absl::StrCat("<tr><th scope=\"row\">", HtmlEscape(d.name), "</th><td>",
                      HtmlEscape(d.address), "</td><td>", state, "</td><td>", detail,
                      "</td></tr>\n");
}

// The last fetch from each peer, as the queries that asked it saw it.
std::string PeersLastSeen(const std::vector<KnownPeer>& peers) {
  if (peers.empty()) {
    return "<p class=\"hint\">No other practice's node has been asked yet: this node "
           "learns them from each query's grant (it keeps no list of the exchange's "
           "members), and checks them here from then on.</p>\n";
  }
  std::string rows;
  for (const KnownPeer& p : peers) {
    absl::StrAppend(&rows, "<tr><th scope=\"row\">", HtmlEscape(p.org_id), "</th><td>",
                    When(p.last_seen), "</td><td>", HtmlEscape(absl::AsciiStrToLower(p.last_state)),
                    "</td><td>", absl::ToInt64Milliseconds(p.last_elapsed), " ms</td></tr>\n");
  }
  return absl::StrCat(
      "<h3>Their last answers to a query</h3>\n<div class=\"table-wrap\"><table "
      "class=\"peers\"><thead><tr><th scope=\"col\">Practice</th><th scope=\"col\">When</th>"
      "<th scope=\"col\">Answer</th><th scope=\"col\">Time</th></tr></thead><tbody>\n",
      rows, "</tbody></table></div>\n");
}

std::string StatusMain(const NodeHealth& h, const std::vector<KnownPeer>& peers) {
  std::string deps;
  for (const DependencyHealth& d : h.dependencies) absl::StrAppend(&deps, DependencyRow(d));
  std::string cert;
  if (h.certificate.has_value()) {
    const CertificateHealth& c = *h.certificate;
    cert = absl::StrCat(
        "<dl class=\"facts\"><dt>Subject</dt><dd>", HtmlEscape(c.subject),
        "</dd><dt>Expires</dt><dd>", When(c.not_after), "</dd><dt>Days left</dt><dd class=\"",
        c.warn ? "state-bad" : "state-ok", "\" id=\"cert-days\">", c.days_left, "</dd></dl>\n",
        c.warn ? absl::StrCat("<p class=\"warning\" role=\"alert\">The certificate expires in "
                              "fewer than ",
                              kCertificateWarnDays,
                              " days: ask the exchange operator for a new one.</p>\n")
               : "");
  } else {
    cert = ErrorNote(h.certificate_error);
  }
  std::string counts;
  for (const auto& [type, n] : h.records_by_type) {
    absl::StrAppend(&counts, "<tr><th scope=\"row\">", HtmlEscape(type), "</th><td>", n,
                    "</td></tr>\n");
  }
  return absl::StrCat(
      "<h1>Node status</h1>\n<p>", HtmlEscape(h.org_id), "'s node, checked ", When(h.checked_at),
      ".</p>\n<h2>Services and practices this node depends on</h2>\n",
      "<div class=\"table-wrap\"><table class=\"status\"><thead><tr><th scope=\"col\">Service</th>"
      "<th scope=\"col\">Address</th><th scope=\"col\">State</th><th scope=\"col\">Detail</th>"
      "</tr></thead><tbody>\n",
      deps, "</tbody></table></div>\n", PeersLastSeen(peers),
      "<h2>Registrations waiting for the MPI</h2>\n<p id=\"outbox\">",
      h.outbox_pending.has_value() ? absl::StrCat(*h.outbox_pending) : "unknown",
      "</p>\n<h2>Certificate</h2>\n", cert, "<h2>Records</h2>\n", ErrorNote(h.records_error),
      "<div class=\"table-wrap\"><table class=\"counts\"><thead><tr><th scope=\"col\">Type</th>"
      "<th scope=\"col\">Current records</th></tr></thead><tbody>\n",
      counts, "</tbody><tfoot><tr><th scope=\"row\">All</th><td id=\"records-total\">", h.records,
      "</td></tr></tfoot></table></div>\n");
}

void HandleStatus(std::shared_ptr<const Web> web, const http::Request& request,
                  const http::Responder& responder) {
  const http::SessionPrincipal session = *request.caller.session;
  OnWorker(*web, responder, [web, session, responder] {
    NodeHealthSources sources;
    sources.probe_deadline = kProbeDeadline;
    if (const NodeState* state = web->options.state.get(); state != nullptr) {
      sources.org_id = state->own_org;
      sources.records = state->records.get();
      sources.outbox = state->outbox.get();
      sources.certificate_file = state->certificate_file;
      sources.dependencies = NodeDependencies(*state);
    }
    NodeHealth health = CheckNodeHealth(sources, absl::Now());
    std::vector<KnownPeer> peers;
    if (web->options.state != nullptr && web->options.state->known_peers != nullptr) {
      peers = web->options.state->known_peers->List();
    }
    responder.Respond(Html(200, Page(*web, "Node status", &session, StatusMain(health, peers))));
  });
}

// ---- Import ---------------------------------------------------------------------------

std::string JobJson(const ImportJob& job) {
  std::vector<std::string> problems;
  for (const IngestProblem& p : job.problems) {
    problems.push_back(JsonObject()
                           .Add(job.format == ImportFormat::kNdjson ? "line" : "entry", p.position)
                           .Add("path", p.path)
                           .Add("message", p.message)
                           .Build());
  }
  JsonObject o;
  o.Add("id", job.id)
      .Add("state", ImportStateName(job.state))
      .Add("format", job.format == ImportFormat::kNdjson ? "ndjson" : "json")
      .Add("file_name", job.file_name)
      .Add("started_by", job.started_by)
      .Add("bytes_total", job.bytes_total)
      .Add("bytes_done", job.bytes_done)
      .Add("records_done", job.records_done)
      .Add("records_failed", job.records_failed);
  if (job.records_total.has_value()) {
    o.Add("records_total", *job.records_total);
  } else {
    o.AddRaw("records_total", "null");
  }
  o.Add("failure", job.failure).AddRaw("errors", JsonArray(problems));
  return o.Build();
}

std::string ProblemList(const ImportJob& job) {
  std::string items;
  for (const IngestProblem& p : job.problems) {
    absl::StrAppend(&items, "<li>", job.format == ImportFormat::kNdjson ? "Line " : "Entry ",
                    p.position, p.path.empty() ? "" : absl::StrCat(" (", HtmlEscape(p.path), ")"),
                    ": ", HtmlEscape(p.message), "</li>\n");
  }
  return items;
}

std::string JobSummary(const ImportJob& job) {
  const int64_t max = std::max<int64_t>(job.bytes_total, 1);
  return absl::StrCat(
      "<p><strong>", ImportStateName(job.state), "</strong>: ", job.records_done,
      " records stored, ", job.records_failed, " refused",
      job.records_total.has_value() ? absl::StrCat(", of ", *job.records_total) : "", ".</p>\n",
      "<label for=\"progress\">Progress</label>\n<progress id=\"progress\" max=\"", max,
      "\" value=\"", std::min(job.bytes_done, max), "\">", job.bytes_done * 100 / max,
      "%</progress>\n", ErrorNote(job.failure));
}

http::Response JobPage(const Web& web, const http::SessionPrincipal& session,
                       const ImportJob& job) {
  std::string main = absl::StrCat(
      "<h1>Import ", HtmlEscape(job.id), "</h1>\n<p>",
      HtmlEscape(job.file_name.empty() ? "Pasted text" : job.file_name), ", started by ",
      HtmlEscape(job.started_by), " at ", When(job.started_at), ".</p>\n", JobSummary(job),
      "<h2>Problems</h2>\n<ul class=\"problems\">", ProblemList(job), "</ul>\n",
      job.state == ImportState::kRunning
          ? "<p class=\"hint\">This page reloads itself every two seconds while the import "
            "runs.</p>\n"
          : "",
      "<p><a href=\"", kImportPath, "\">Back to imports</a></p>\n");
  http::Response response = Html(200, Page(web, "Import", &session, main));
  // No script: while the job runs the browser reloads the page every 2 s (the Refresh
  // header, as HTML's meta refresh, which the CSP does not concern).
  if (job.state == ImportState::kRunning) response.SetHeader("Refresh", "2");
  return response;
}

http::Response ImportPage(const Admin& admin, const http::SessionPrincipal& session, int status,
                          absl::string_view error) {
  std::string jobs;
  if (admin.imports != nullptr) {
    for (const ImportJob& job : admin.imports->List()) {
      absl::StrAppend(&jobs, "<tr><td><a href=\"", kImportPath, "/", HtmlEscape(job.id), "\">",
                      HtmlEscape(job.file_name.empty() ? job.id : job.file_name), "</a></td><td>",
                      HtmlEscape(job.started_by), "</td><td>", When(job.started_at), "</td><td>",
                      ImportStateName(job.state), "</td><td>", job.records_done, "</td><td>",
                      job.records_failed, "</td></tr>\n");
    }
  }
  const std::string token = HtmlEscape(session.csrf_token);
  std::string main = absl::StrCat(
      "<h1>Import</h1>\n", ErrorNote(error),
      "<p>A FHIR R4 resource or Bundle (JSON, <code>.json</code>) or NDJSON, one resource a "
      "line (<code>.ndjson</code>), of at most ",
      kImportMiB,
      " MiB. Records are stored as <code>hiectl import</code> stores them; new patients are "
      "registered with the MPI.</p>\n",
      "<form id=\"upload\" class=\"stacked\" data-csrf=\"", token, "\" data-action=\"", kImportPath,
      "\" data-max-bytes=\"", kImportBytes,
      "\">\n<label for=\"file\">File</label>\n"
      "<input id=\"file\" name=\"file\" type=\"file\" accept=\".json,.ndjson,application/json,"
      "application/fhir+json,application/x-ndjson\" required>\n"
      "<button type=\"submit\">Upload and import</button>\n"
      "<label for=\"upload-progress\">Upload</label>\n"
      "<progress id=\"upload-progress\" max=\"100\" value=\"0\">0%</progress>\n"
      "<label for=\"import-progress\">Import</label>\n"
      "<progress id=\"import-progress\" max=\"100\" value=\"0\">0%</progress>\n"
      "<p id=\"import-state\" role=\"status\" aria-live=\"polite\"></p>\n"
      "<ul id=\"import-errors\" class=\"problems\"></ul>\n</form>\n",
      "<details><summary>Without script: paste the text</summary>\n",
      "<form class=\"stacked\" method=\"post\" action=\"", kImportPath, "\">\n", CsrfField(session),
      "\n<label for=\"format\">Format</label>\n<select id=\"format\" name=\"format\">"
      "<option value=\"json\">FHIR JSON (a resource or a Bundle)</option>"
      "<option value=\"ndjson\">NDJSON</option></select>\n"
      "<label for=\"content\">Text</label>\n"
      "<textarea id=\"content\" name=\"content\" rows=\"10\" required></textarea>\n"
      "<button type=\"submit\">Import</button>\n</form>\n"
      "<p class=\"hint\">A browser sends a file only with a multipart form, which this node "
      "does not take; uploading a file needs script.</p></details>\n",
      "<h2>Recent imports</h2>\n<div class=\"table-wrap\"><table class=\"imports\"><thead><tr>"
      "<th scope=\"col\">File</th><th scope=\"col\">Started by</th><th scope=\"col\">Started</th>"
      "<th scope=\"col\">State</th><th scope=\"col\">Stored</th><th scope=\"col\">Refused</th>"
      "</tr></thead><tbody>\n",
      jobs, "</tbody></table></div>\n<script src=\"/app/assets/import.js\" defer></script>\n");
  return Html(status, Page(*admin.web, "Import", &session, main));
}

// The body's format: from its media type, or for a pasted form from its field.
std::optional<ImportFormat> UploadFormat(const http::Request& request) {
  const std::string* type = request.Header("content-type");
  std::string media = type == nullptr ? "" : absl::AsciiStrToLower(*type);
  media = media.substr(0, media.find(';'));
  absl::StripAsciiWhitespace(&media);
  if (media == "application/x-ndjson" || media == "application/fhir+ndjson") {
    return ImportFormat::kNdjson;
  }
  if (media == "application/fhir+json" || media == "application/json") return ImportFormat::kJson;
  return std::nullopt;
}

http::Response JsonResponse(int status, std::string body) {
  return NoStore(status, "application/json", std::move(body));
}

void HandleUpload(std::shared_ptr<Admin> admin, http::Request request,
                  const http::Responder& responder) {
  const http::SessionPrincipal& session = *request.caller.session;
  if (admin->imports == nullptr) {
    responder.RespondError(absl::UnavailableError("this node has no record store"));
    return;
  }
  std::optional<ImportFormat> format = UploadFormat(request);
  const bool pasted = !format.has_value();
  std::string content;
  std::string file_name;
  if (pasted) {
    format = Field(request, "format") == "ndjson" ? ImportFormat::kNdjson : ImportFormat::kJson;
    content = Field(request, "content");
  } else {
    content = std::move(request.body);
    if (const std::string* name = request.Header("x-file-name"); name != nullptr) {
      file_name = http::PercentDecode(*name, false).value_or("").substr(0, 200);
    }
  }
  if (absl::StripAsciiWhitespace(content).empty()) {
    if (pasted) {
      responder.Respond(ImportPage(*admin, session, 400, "There was nothing to import."));
    } else {
      responder.Respond(JsonResponse(400, JsonObject().Add("error", "the file is empty").Build()));
    }
    return;
  }
  const Web& web = *admin->web;
  absl::StatusOr<std::string> id =
      admin->imports->Start(session.login, file_name, *format, std::move(content), web.options.run);
  if (!id.ok()) {
    const int status = absl::IsResourceExhausted(id.status()) ? 429 : 503;
    if (pasted) {
      responder.Respond(ImportPage(*admin, session, status, id.status().message()));
    } else {
      responder.Respond(
          JsonResponse(status, JsonObject().Add("error", id.status().message()).Build()));
    }
    return;
  }
  const std::string url = absl::StrCat(kImportPath, "/", *id);
  if (pasted) {
    responder.Respond(SeeOther(url));
    return;
  }
  responder.Respond(JsonResponse(202, JsonObject().Add("id", *id).Add("url", url).Build()));
}

void HandleJob(const Admin& admin, const http::Request& request, const http::Responder& responder) {
  const http::SessionPrincipal& session = *request.caller.session;
  auto found = request.params.find("job");
  absl::StatusOr<ImportJob> job = admin.imports == nullptr || found == request.params.end()
                                      ? absl::NotFoundError("no such import")
                                      : admin.imports->Get(found->second);
  const std::string* accept = request.Header("accept");
  // import.js asks for JSON; a browser opening the page asks for HTML.
  const bool json = accept != nullptr && absl::StrContains(*accept, "application/json") &&
                    !absl::StrContains(*accept, "text/html");
  if (!job.ok()) {
    if (json) {
      responder.Respond(
          JsonResponse(404, JsonObject().Add("error", job.status().message()).Build()));
    } else {
      responder.Respond(ErrorPage(*admin.web, &session, 404, job.status().message()));
    }
    return;
  }
  responder.Respond(json ? JsonResponse(200, JobJson(*job)) : JobPage(*admin.web, session, *job));
}

// ---- Audit log ------------------------------------------------------------------------

struct AuditFilter {
  std::string patient, action, from, to, user;
  uint64_t before = 0;  // entries below this sequence only (0: from the newest)
};

AuditFilter ReadFilter(const http::Request& request) {
  auto q = [&](absl::string_view name) {
    const std::string* v = request.Query(name);
    return v == nullptr ? std::string() : std::string(absl::StripAsciiWhitespace(*v));
  };
  AuditFilter f{.patient = q("patient"),
                .action = q("action"),
                .from = q("from"),
                .to = q("to"),
                .user = q("user")};
  if (!absl::SimpleAtoi(q("before"), &f.before)) f.before = 0;
  return f;
}

// The filter as GET /AuditEvent's parameters, parsed by the same parser.
absl::StatusOr<audit::AuditSearch> ToSearch(const AuditFilter& f, const std::string& own_org) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!f.patient.empty()) params.emplace_back("patient", f.patient);
  if (!f.action.empty()) params.emplace_back("subtype", f.action);
  if (!f.from.empty()) params.emplace_back("date", "ge" + f.from);
  if (!f.to.empty()) params.emplace_back("date", "le" + f.to);
  if (!f.user.empty()) params.emplace_back("agent", f.user);
  params.emplace_back("_count", "1000");
  return audit::ParseAuditSearch(params, own_org);
}

struct NewestFirst {
  std::vector<hie::v1::AuditEntry> entries;
  uint64_t next_before = 0;  // 0: no older page
};

// The newest kAuditPageSize entries matching `search` below sequence `before`: the
// search runs over windows of the chain from the end backwards.
absl::StatusOr<NewestFirst> SearchNewestFirst(const audit::AuditLog& log, audit::AuditSearch search,
                                              uint64_t before) {
  NewestFirst out;
  uint64_t top = log.size();  // the highest sequence still to look at
  if (before > 0) top = std::min(top, before - 1);
  for (int window = 0; window < kAuditMaxWindows && top > 0; ++window) {
    const uint64_t low = top > kAuditWindow ? top - kAuditWindow : 0;
    search.after = low;
    search.count = 1000;
    absl::StatusOr<audit::AuditPage> page = audit::RunAuditSearch(log, search, top - low);
    if (!page.ok()) return page.status();
    for (auto it = page->entries.rbegin(); it != page->entries.rend(); ++it) {
      if (it->sequence() > top) continue;
      if (out.entries.size() == kAuditPageSize) {
        out.next_before = out.entries.back().sequence();
        return out;
      }
      out.entries.push_back(*it);
    }
    top = low;
  }
  // Looked as far back as one page may: an older page starts where this one stopped.
  if (top > 0) out.next_before = top + 1;
  return out;
}

// "AUDIT_ACTION_BREAK_GLASS" as "break_glass"; an action this build does not know (an
// entry from a newer daemon) has no name and shows as "unknown".
std::string ActionWords(absl::string_view name) {
  if (name.empty()) return "unknown";
  return absl::AsciiStrToLower(absl::StripPrefix(name, "AUDIT_ACTION_"));
}

std::string ActionOptions(absl::string_view selected) {
  std::string out = "<option value=\"\">Any</option>";
  const google::protobuf::EnumDescriptor* actions = hie::v1::AuditAction_descriptor();
  for (int i = 0; i < actions->value_count(); ++i) {
    const std::string& name = actions->value(i)->name();
    if (actions->value(i)->number() == 0) continue;
    absl::StrAppend(&out, "<option value=\"", name, "\"", name == selected ? " selected" : "", ">",
                    ActionWords(name), "</option>");
  }
  return out;
}

std::string FilterForm(const AuditFilter& f) {
  auto input = [](absl::string_view id, absl::string_view label, absl::string_view type,
                  absl::string_view value) {
    return absl::StrCat("<div><label for=\"", id, "\">", label, "</label><input id=\"", id,
                        "\" name=\"", id, "\" type=\"", type, "\" value=\"", HtmlEscape(value),
                        "\"></div>");
  };
  return absl::StrCat("<form class=\"filters\" method=\"get\" action=\"", kAuditPath, "\">",
                      input("patient", "Patient id", "text", f.patient),
                      "<div><label for=\"action\">Action</label><select id=\"action\" "
                      "name=\"action\">",
                      ActionOptions(f.action), "</select></div>",
                      input("from", "From", "date", f.from), input("to", "To", "date", f.to),
                      input("user", "User or organisation", "text", f.user),
                      "<div><button type=\"submit\">Filter</button></div></form>\n");
}

std::string EntryRow(const hie::v1::AuditEntry& e) {
  std::string user = e.user().user_id();
  if (!e.user().display_name().empty()) {
    user = absl::StrCat(e.user().display_name(), " (", e.user().user_id(), ")");
  }
  std::string patient = e.patient().local_id();
  if (!e.euid().empty()) absl::StrAppend(&patient, patient.empty() ? "" : " ", e.euid());
  std::string what = e.detail();
  if (!e.interaction().empty()) {
    what = absl::StrCat(e.interaction(), " ", e.resource(), what.empty() ? "" : ": ", what);
  }
  return absl::StrCat("<tr><td>", e.sequence(), "</td><td>", When(e.time()), "</td><td>",
                      HtmlEscape(ActionWords(hie::v1::AuditAction_Name(e.action()))), "</td><td>",
                      HtmlEscape(e.actor_org()), "</td><td>", HtmlEscape(user), "</td><td>",
                      HtmlEscape(patient), "</td><td>", HtmlEscape(e.counterpart_org()),
                      "</td><td>", HtmlEscape(e.purpose()), "</td><td>", HtmlEscape(e.outcome()),
                      "</td><td>", HtmlEscape(what), "</td></tr>\n");
}

std::string OlderLink(const AuditFilter& f, uint64_t before) {
  std::vector<std::pair<std::string, std::string>> params;
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"patient", f.patient},
                                                        {"action", f.action},
                                                        {"from", f.from},
                                                        {"to", f.to},
                                                        {"user", f.user}}) {
    if (!value.empty()) params.emplace_back(name, value);
  }
  params.emplace_back("before", absl::StrCat(before));
  return absl::StrCat("<p><a href=\"", HtmlEscape(http::SearchUrl(kAuditPath, params)),
                      "\">Older entries</a></p>\n");
}

std::string VerifyResult(const audit::VerifyReport& report) {
  if (report.ok) {
    return Notice(absl::StrCat(
        "<p id=\"verify-result\"><strong>Intact</strong>: ", report.entries_checked,
        " entries checked, each linked to the one before. This walks the chain this node "
        "holds; <code>hiectl audit verify</code> also compares it with the exchange's "
        "witnesses.</p>"));
  }
  return absl::StrCat(
      "<div class=\"error\" role=\"alert\"><p id=\"verify-result\"><strong>Broken "
      "at entry ",
      report.first_bad_sequence, "</strong>: ", HtmlEscape(report.problem),
      report.detail.empty() ? "" : " — ", HtmlEscape(report.detail), " (", report.entries_checked,
      " entries checked).</p></div>\n");
}

// The audit page; `verify_html` (markup) above the filters after a verification.
http::Response AuditPage(const Web& web, const http::SessionPrincipal& session,
                         const AuditFilter& filter, absl::string_view verify_html) {
  const audit::AuditLog& log = *web.options.state->audit;
  std::string error, rows, older;
  absl::StatusOr<audit::AuditSearch> search = ToSearch(filter, web.options.state->own_org);
  absl::StatusOr<NewestFirst> found =
      search.ok() ? SearchNewestFirst(log, *search, filter.before) : search.status();
  int status = 200;
  if (!found.ok()) {
    status = absl::IsInvalidArgument(found.status()) ? 400 : 503;
    error =
        status == 400 ? std::string(found.status().message()) : "the audit log cannot be read now";
  } else {
    for (const auto& e : found->entries) absl::StrAppend(&rows, EntryRow(e));
    if (found->next_before > 0) older = OlderLink(filter, found->next_before);
  }
  std::string main = absl::StrCat(
      "<h1>Audit log</h1>\n", verify_html, "<form method=\"post\" action=\"", kAuditPath,
      "/verify\">", CsrfField(session), "<button type=\"submit\">Verify chain</button></form>\n",
      FilterForm(filter), ErrorNote(error), "<p>", log.size(),
      " entries in the chain; newest first.</p>\n",
      "<div class=\"table-wrap\"><table class=\"audit\"><thead><tr><th scope=\"col\">#</th>"
      "<th scope=\"col\">Time</th><th scope=\"col\">Action</th><th scope=\"col\">Organisation"
      "</th><th scope=\"col\">User</th><th scope=\"col\">Patient</th><th scope=\"col\">Other "
      "party</th><th scope=\"col\">Purpose</th><th scope=\"col\">Outcome</th><th "
      "scope=\"col\">Detail</th></tr></thead><tbody>\n",
      rows, "</tbody></table></div>\n", older);
  return Html(status, Page(web, "Audit log", &session, main));
}

void HandleAudit(std::shared_ptr<const Web> web, const http::Request& request,
                 const http::Responder& responder) {
  if (web->options.state == nullptr || web->options.state->audit == nullptr) {
    responder.RespondError(absl::UnavailableError("this node has no audit log"));
    return;
  }
  const http::SessionPrincipal session = *request.caller.session;
  AuditFilter filter = ReadFilter(request);
  OnWorker(*web, responder, [web, session, filter, responder] {
    responder.Respond(AuditPage(*web, session, filter, ""));
  });
}

void HandleVerify(std::shared_ptr<const Web> web, const http::Request& request,
                  const http::Responder& responder) {
  if (web->options.state == nullptr || web->options.state->audit == nullptr) {
    responder.RespondError(absl::UnavailableError("this node has no audit log"));
    return;
  }
  const http::SessionPrincipal session = *request.caller.session;
  OnWorker(*web, responder, [web, session, responder] {
    absl::StatusOr<audit::VerifyReport> report = web->options.state->audit->Verify();
    std::string result = report.ok() ? VerifyResult(*report)
                                     : absl::StrCat(
                                           "<div class=\"error\" role=\"alert\"><p "
                                           "id=\"verify-result\"><strong>Unverified</strong>: ",
                                           HtmlEscape(report.status().message()), "</p></div>\n");
    responder.Respond(AuditPage(*web, session, AuditFilter{}, result));
  });
}

// ---- Routes ---------------------------------------------------------------------------

http::Route Get(std::string pattern, std::string audit_kind, http::Handler handler) {
  return {.method = "GET",
          .pattern = std::move(pattern),
          .access = http::AccessRule::Session({kRoleAdmin}),
          .audit_kind = std::move(audit_kind),
          .handler = std::move(handler)};
}

http::Route Post(std::string pattern, std::string audit_kind, http::Handler handler) {
  return {.method = "POST",
          .pattern = std::move(pattern),
          .access = http::AccessRule::Session({kRoleAdmin}),
          .audit_kind = std::move(audit_kind),
          .max_body_bytes = kFormBytes,
          .content_types = {kFormType},
          .handler = std::move(handler)};
}

std::vector<http::Route> AdminRoutes(std::shared_ptr<Admin> admin) {
  std::shared_ptr<const Web> web = admin->web;
  std::vector<http::Route> routes;
  routes.push_back(Get(kUsersPath, "web-admin-users", [web](http::Request r, http::Responder out) {
    out.Respond(UsersPage(*web, *r.caller.session, 200, "", "", {}));
  }));
  routes.push_back(
      Post(kUsersPath, "web-admin-user-add",
           [web](http::Request r, http::Responder out) { HandleAddUser(web, r, out); }));
  for (const char* action : {"disable", "enable", "reset", "remove-totp"}) {
    routes.push_back(Post(absl::StrCat(kUsersPath, "/{login}/", action),
                          absl::StrCat("web-admin-user-", action),
                          [web, action](http::Request r, http::Responder out) {
                            HandleUserAction(web, r, out, action);
                          }));
  }
  routes.push_back(Get(kStatusPath, "web-admin-status",
                       [web](http::Request r, http::Responder out) { HandleStatus(web, r, out); }));
  routes.push_back(
      Get(kImportPath, "web-admin-import-form", [admin](http::Request r, http::Responder out) {
        out.Respond(ImportPage(*admin, *r.caller.session, 200, ""));
      }));
  http::Route upload = Post(
      kImportPath, "web-admin-import",
      [admin](http::Request r, http::Responder out) { HandleUpload(admin, std::move(r), out); });
  upload.max_body_bytes = kImportBytes;
  upload.content_types = {kFormType, "application/fhir+json", "application/json",
                          "application/x-ndjson", "application/fhir+ndjson"};
  routes.push_back(std::move(upload));
  routes.push_back(
      Get(absl::StrCat(kImportPath, "/{job}"), "web-admin-import-job",
          [admin](http::Request r, http::Responder out) { HandleJob(*admin, r, out); }));
  routes.push_back(Get(kAuditPath, "web-admin-audit",
                       [web](http::Request r, http::Responder out) { HandleAudit(web, r, out); }));
  routes.push_back(
      Post(absl::StrCat(kAuditPath, "/verify"), "web-admin-audit-verify",
           [web](http::Request r, http::Responder out) { HandleVerify(web, r, out); }));
  return routes;
}

}  // namespace

absl::Status AddAdminPages(http::Router& router, std::shared_ptr<const Web> web) {
  auto admin = std::make_shared<Admin>();
  admin->web = web;
  if (NodeState* state = web->options.state.get();
      state != nullptr && state->records != nullptr && state->ingester != nullptr) {
    admin->imports = std::make_shared<ImportJobs>(state->ingester.get(), state->records.get(),
                                                  state->outbox.get(), [state] {
                                                    if (state->sender != nullptr)
                                                      state->sender->Notify();
                                                  });
  }
  for (http::Route& route : AdminRoutes(admin)) {
    if (absl::Status s = router.Add(std::move(route)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace hie::node
