// What the web app's page groups share (internal to node/web): the state every handler
// reads, the page frame, and the small pieces every form needs. Each group (sign-in in
// web_app.cc; clinician_pages.cc, front_desk_pages.cc, admin_pages.cc, portal_pages.cc)
// adds its routes in one function, declared at the end. Who may open a page is the
// route's http::AccessRule::Session(roles); handlers render, escaping every text they
// did not write (http::HtmlEscape); no page has inline script or style.
#ifndef HIE_NODE_WEB_PAGES_H_
#define HIE_NODE_WEB_PAGES_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "http/request.h"
#include "http/router.h"
#include "node/web/web_app.h"
#include "simdjson.h"

namespace hie::node {

// The routes' shared state: what AddWebRoutes was given. Read-only once serving.
struct Web {
  WebAppOptions options;
};

// Role names as routes name them (UserRoleName).
inline constexpr char kRoleClinician[] = "clinician";
inline constexpr char kRoleFrontDesk[] = "front-desk";
inline constexpr char kRoleAdmin[] = "practice-admin";
inline constexpr char kRolePatient[] = "patient";

inline constexpr char kHomePath[] = "/app/";
inline constexpr char kFormType[] = "application/x-www-form-urlencoded";
// The largest form a page accepts (uploads set their own limit).
inline constexpr size_t kFormBytes = 8 * 1024;

// 32 random bytes, web-safe base64; empty if the generator failed.
std::string RandomToken();

// A cookie of the app: HttpOnly, Secure, SameSite=Strict, on `path`; a session cookie
// unless `max_age` is set.
std::string Cookie(absl::string_view name, absl::string_view value, absl::string_view path,
                   std::optional<int> max_age);

// A whole page for a signed-in user (`session`: the header has the user's links and the
// sign-out form) or for no one (null). `main_html` is markup the caller built, with every
// text in it escaped; `title` is escaped here.
std::string Page(const Web& web, absl::string_view title, const http::SessionPrincipal* session,
                 absl::string_view main_html);

// A response the browser must not keep (Cache-Control: no-store), of `content_type`.
http::Response NoStore(int status, absl::string_view content_type, std::string body);

// An HTML answer that no cache keeps (pages name people).
http::Response Html(int status, std::string body);

// 303 to `location`.
http::Response SeeOther(absl::string_view location);

// The hidden form field carrying the session's CSRF token.
std::string CsrfField(const http::SessionPrincipal& session);

// `<p class="error" role="alert">message</p>` (escaped), or "" when `message` is empty.
std::string ErrorNote(absl::string_view message);

// A form field of a urlencoded body, "" when absent.
std::string Field(const http::Request& request, absl::string_view name);

// Whether a form posted by no one signed in (the sign-in form, the portal invitation)
// carries in its _csrf field the token of its own cookie `cookie`, set when the form
// was shown (login CSRF: another site cannot post the form as this browser). Compared
// in constant time.
bool AnonymousCsrfMatches(const http::Request& request, absl::string_view cookie);

// A page that says what went wrong (401, 403, 404, 429, 503...) with `message`
// (escaped), and the way back.
http::Response ErrorPage(const Web& web, const http::SessionPrincipal* session, int status,
                         absl::string_view message);

// A moment as pages show it: "2026-03-02 08:14 UTC".
std::string When(absl::Time t);

// The string at `value` (a field of a stored FHIR resource), or "" if it is absent or
// not a string.
std::string JsonText(simdjson::simdjson_result<simdjson::dom::element> value);
std::string JsonText(simdjson::dom::element value);

// A Patient's names as registered (each HumanName's text, else its given names and
// family), each once, the first first.
std::vector<std::string> PatientNames(const simdjson::dom::element& patient);
// A Patient's name as pages show it: the first of PatientNames, or "(no name given)".
std::string PatientText(const simdjson::dom::element& patient);

// The page groups (one file each).
absl::Status AddClinicianPages(http::Router& router, std::shared_ptr<const Web> web);
absl::Status AddFrontDeskPages(http::Router& router, std::shared_ptr<const Web> web);
absl::Status AddAdminPages(http::Router& router, std::shared_ptr<const Web> web);
absl::Status AddPortalPages(http::Router& router, std::shared_ptr<const Web> web);

}  // namespace hie::node

#endif  // HIE_NODE_WEB_PAGES_H_
