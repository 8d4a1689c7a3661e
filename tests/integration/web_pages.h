// What the web app's integration tests read off an answer: headers, the cookies the
// node sets, and the CSRF token a page's forms carry.
#ifndef HIE_TESTS_INTEGRATION_WEB_PAGES_H_
#define HIE_TESTS_INTEGRATION_WEB_PAGES_H_

#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "cli/https_client.h"

namespace hie::testing {

// The first value of header `name` (lower case), or "".
inline std::string Header(const cli::HttpsResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

// The Set-Cookie header that sets `name`, or "".
inline std::string SetCookie(const cli::HttpsResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == "set-cookie" && absl::StartsWith(v, name + "=")) return v;
  }
  return "";
}

// The value a Set-Cookie header gives its cookie.
inline std::string CookieValueOf(const std::string& set_cookie) {
  std::string first = std::vector<std::string>(absl::StrSplit(set_cookie, ';'))[0];
  return first.substr(first.find('=') + 1);
}

// The value of the first hidden _csrf field of a page, or "".
inline std::string CsrfField(const std::string& html) {
  std::smatch m;
  static const std::regex kField("name=\"_csrf\" value=\"([^\"]+)\"");
  return std::regex_search(html, m, kField) ? m[1].str() : "";
}

}  // namespace hie::testing

#endif  // HIE_TESTS_INTEGRATION_WEB_PAGES_H_
