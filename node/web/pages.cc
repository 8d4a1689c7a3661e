#include "node/web/pages.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "http/access.h"
#include "http/html.h"

namespace hie::node {

using http::HtmlEscape;

namespace {

struct NavLink {
  const char* role;  // nullptr: every role
  const char* href;
  const char* text;
};

// Each role's pages, in the header of every page it sees.
constexpr NavLink kNav[] = {
    {kRoleClinician, "/app/patients", "Patients"},
    {kRoleFrontDesk, "/app/front-desk", "Patients"},
    {kRoleFrontDesk, "/app/front-desk/register", "Register a patient"},
    {kRoleAdmin, "/app/admin/users", "Users"},
    {kRoleAdmin, "/app/admin/status", "Node status"},
    {kRoleAdmin, "/app/admin/import", "Import"},
    {kRoleAdmin, "/app/admin/audit", "Audit log"},
    {kRolePatient, "/app/my/record", "My record"},
    {kRolePatient, "/app/my/disclosures", "Who saw my record"},
    {kRolePatient, "/app/my/consent", "My sharing choices"},
    {nullptr, "/app/password", "Password"},
    {nullptr, "/app/totp", "Two-step sign-in"},
};

std::string Navigation(const http::SessionPrincipal& session) {
  std::string links;
  for (const NavLink& link : kNav) {
    if (link.role != nullptr && session.role != link.role) continue;
    absl::StrAppend(&links, "<li><a href=\"", link.href, "\">", link.text, "</a></li>");
  }
  return absl::StrCat("<nav aria-label=\"Main\"><ul>", links, "</ul></nav>", "<span class=\"who\">",
                      HtmlEscape(session.display_name), " (", HtmlEscape(session.role), ")</span>",
                      "<form method=\"post\" action=\"/app/logout\">", CsrfField(session),
                      "<button type=\"submit\">Sign out</button></form>");
}

// Each page group's own stylesheet (web/node/<group>.css), so that groups never share a
// file; small, and cached by the browser (ETag).
std::string GroupStylesheets() {
  std::string links;
  for (const char* name : {"clinician", "front-desk", "admin", "portal"}) {
    absl::StrAppend(&links, "<link rel=\"stylesheet\" href=\"/app/assets/", name, ".css\">\n");
  }
  return links;
}

}  // namespace

std::string RandomToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return "";
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

std::string Cookie(absl::string_view name, absl::string_view value, absl::string_view path,
                   std::optional<int> max_age) {
  std::string cookie =
      absl::StrCat(name, "=", value, "; HttpOnly; Secure; SameSite=Strict; Path=", path);
  if (max_age.has_value()) absl::StrAppend(&cookie, "; Max-Age=", *max_age);
  return cookie;
}

std::string Page(const Web& web, absl::string_view title, const http::SessionPrincipal* session,
                 absl::string_view main_html) {
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
      HtmlEscape(title), " · hie</title>\n",
      "<link rel=\"icon\" href=\"/app/assets/icon.svg\" type=\"image/svg+xml\">\n"
      "<link rel=\"stylesheet\" href=\"/app/assets/app.css\">\n"
      "<script src=\"/app/assets/app.js\" defer></script>\n",
      GroupStylesheets(),
      "</head>\n<body>\n"
      "<a class=\"skip\" href=\"#main\">Skip to content</a>\n<header>"
      "<a class=\"brand\" href=\"",
      kHomePath, "\">hie · ", HtmlEscape(web.options.practice_name), "</a>",
      session != nullptr ? Navigation(*session) : "", "</header>\n<main id=\"main\">\n", main_html,
      "\n</main>\n</body>\n</html>\n");
}

http::Response NoStore(int status, absl::string_view content_type, std::string body) {
  http::Response response;
  response.status = status;
  response.SetHeader("Content-Type", content_type);
  // Pages name people: never kept by a shared browser's cache.
  response.SetHeader("Cache-Control", "no-store");
  response.body = std::move(body);
  return response;
}

http::Response Html(int status, std::string body) {
  return NoStore(status, "text/html; charset=utf-8", std::move(body));
}

http::Response SeeOther(absl::string_view location) {
  http::Response response;
  response.status = 303;
  response.SetHeader("Location", location);
  response.SetHeader("Cache-Control", "no-store");
  return response;
}

std::string When(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", t, absl::UTCTimeZone());
}

std::string CsrfField(const http::SessionPrincipal& session) {
  return absl::StrCat("<input type=\"hidden\" name=\"_csrf\" value=\"",
                      HtmlEscape(session.csrf_token), "\">");
}

std::string ErrorNote(absl::string_view message) {
  if (message.empty()) return "";
  return absl::StrCat("<p class=\"error\" role=\"alert\">", HtmlEscape(message), "</p>\n");
}

std::string Field(const http::Request& request, absl::string_view name) {
  return http::FormField(request.body, name).value_or("");
}

bool AnonymousCsrfMatches(const http::Request& request, absl::string_view cookie) {
  const std::string* cookie_header = request.Header("cookie");
  const std::string expected =
      cookie_header == nullptr ? "" : http::CookieValue(*cookie_header, cookie);
  const std::string sent = Field(request, http::kCsrfField);
  return !expected.empty() && sent.size() == expected.size() &&
         CRYPTO_memcmp(sent.data(), expected.data(), sent.size()) == 0;
}

http::Response ErrorPage(const Web& web, const http::SessionPrincipal* session, int status,
                         absl::string_view message) {
  const char* what = status == 401   ? "Please sign in"
                     : status == 403 ? "Not allowed"
                     : status == 404 ? "No such page"
                     : status == 429 ? "Too many requests"
                     : status >= 500 ? "The node could not answer"
                                     : "The request was not accepted";
  std::string main =
      absl::StrCat("<h1>", what, "</h1>\n", ErrorNote(message), "<p><a href=\"", kHomePath,
                   "\">Back to your pages</a>",
                   status == 401 ? " · <a href=\"/app/login\">Sign in</a>" : "", "</p>");
  return Html(status, Page(web, what, session, main));
}

std::string JsonText(simdjson::simdjson_result<simdjson::dom::element> value) {
  std::string_view text;
  if (value.get_string().get(text)) return "";
  return std::string(text);
}

std::string JsonText(simdjson::dom::element value) {
  return JsonText(simdjson::simdjson_result<simdjson::dom::element>(std::move(value)));
}

namespace {

// A HumanName as written: its text, else its given names and family.
std::string NameText(const simdjson::dom::element& name) {
  if (std::string text = JsonText(name["text"]); !text.empty()) return text;
  std::vector<std::string> words;
  simdjson::dom::array given;
  if (!name["given"].get_array().get(given)) {
    for (simdjson::dom::element g : given) words.push_back(JsonText(g));
  }
  words.push_back(JsonText(name["family"]));
  words.erase(std::remove(words.begin(), words.end(), ""), words.end());
  return absl::StrJoin(words, " ");
}

}  // namespace

std::vector<std::string> PatientNames(const simdjson::dom::element& r) {
  std::vector<std::string> names;
  simdjson::dom::array all;
  if (r["name"].get_array().get(all)) return names;
  for (simdjson::dom::element name : all) {
    std::string text = NameText(name);
    if (!text.empty() && std::find(names.begin(), names.end(), text) == names.end()) {
      names.push_back(std::move(text));
    }
  }
  return names;
}

std::string PatientText(const simdjson::dom::element& r) {
  std::vector<std::string> names = PatientNames(r);
  return names.empty() ? "(no name given)" : names.front();
}

}  // namespace hie::node
