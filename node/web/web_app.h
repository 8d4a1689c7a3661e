// hie-node's web app (issue 20; docs/web.md): server-rendered HTML pages under /app/ on
// the FHIR API's HTTPS listener, for the practice's clinicians, staff and patients.
// Signing in and out (web_app.cc):
//
//   GET  /app/login    the sign-in form (anonymous), with a login-CSRF token of its own
//   POST /app/login    Accounts::Authenticate; on success a new session (cookie
//                      kSessionCookie) and 303 to /app/
//   POST /app/logout   ends the session on the server, clears the cookie (session + CSRF)
//   GET  /app/         the home page (any signed-in role); 303 to /app/password first
//                      while the account must change its password
//   GET  /app/password the password change form (session)
//   POST /app/password Accounts::ChangePassword (session + CSRF); the account's
//                      sessions end and this browser gets a new one
//   GET  /app/assets/* the CSS (embedded at build time)
//
// and each role's pages, one group a file (node/web/pages.h): clinician_pages.cc
// (/app/patients...), front_desk_pages.cc (/app/front-desk...), admin_pages.cc
// (/app/admin/...), portal_pages.cc (/app/my/...).
//
// Who may open a page is the server's to decide (http::AccessRule::Session, with the
// authenticator SessionAuthenticator makes); handlers only render. Every text a page
// shows that it did not write is escaped (http::HtmlEscape), and no page has inline
// script or style (the Content-Security-Policy forbids both).
#ifndef HIE_NODE_WEB_WEB_APP_H_
#define HIE_NODE_WEB_WEB_APP_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/audit/audit_committer.h"
#include "http/access.h"
#include "http/router.h"
#include "node/domain/accounts.h"
#include "node/domain/federated_query.h"
#include "node/domain/patient_match.h"
#include "node/domain/record_search.h"
#include "node/domain/record_writes.h"
#include "node/domain/sessions.h"
#include "node/service/ingest_service.h"

namespace hie::node {

// The cookie and form field of the sign-in form's own CSRF token (login CSRF: a form
// posted from another site cannot sign the browser in to the attacker's account).
inline constexpr char kLoginCsrfCookie[] = "hie_login_csrf";

struct WebAppOptions {
  // Not owned; must outlive the routes.
  Accounts* accounts = nullptr;
  Sessions* sessions = nullptr;
  // Runs slow work (password hashing) off the I/O threads; false when it cannot be
  // queued (the page answers 503).
  std::function<bool(std::function<void()>)> run;
  // The practice's organisation id: shown in each page's header, and the actor of the
  // app's audit entries.
  std::string practice_name;
  // The node's state (its records, audit chain, outbox, MPI channel) and the domain
  // objects the FHIR API shares with the pages; may be null in a web app without them
  // (then the pages that need one answer 503).
  std::shared_ptr<NodeState> state;
  std::shared_ptr<FederatedQuery> query;
  std::shared_ptr<const RecordSearch> search;
  RecordWrites* writes = nullptr;  // not owned
  MpiSearch* mpi = nullptr;        // not owned; null without an MPI
  // Not owned; required: sign-ins, account changes and page accesses into the node's
  // chain (pages.h RespondAudited).
  audit::AuditCommitter* auditor = nullptr;
  // Called when a federated query starts and when it is done, so that shutting down
  // waits for the queries in flight (the engine and the store outlive them).
  std::function<void()> query_started;
  std::function<void()> query_done;
};

// Adds the routes above to `router`. Errors: InvalidArgument if an option is missing;
// Router::Add's.
absl::Status AddWebRoutes(http::Router& router, WebAppOptions options);

// An error answer to a request under /app/ as a page of the web app (for
// http::ServerOptions::error_page): what went wrong in plain words, and the way back.
http::Response WebErrorPage(const std::string& practice_name, int status,
                            absl::string_view message);

// The server's session authenticator: a live session of `sessions` (not owned), its
// idle timer renewed (Sessions::Touch). Does not block.
http::SessionAuthenticator SessionAuthenticator(Sessions* sessions);

}  // namespace hie::node

#endif  // HIE_NODE_WEB_WEB_APP_H_
