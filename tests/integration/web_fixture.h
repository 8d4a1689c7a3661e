// What every test of the node's web app starts from: org-a's node with its HTTPS
// listener (FhirApiFixture), accounts added with hiectl as a practice admin would, and
// a browser's requests: the page, the sign-in form and its own CSRF token, the session
// cookie it sets.
#ifndef HIE_TESTS_INTEGRATION_WEB_FIXTURE_H_
#define HIE_TESTS_INTEGRATION_WEB_FIXTURE_H_

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cli/https_client.h"
#include "gtest/gtest.h"
#include "tests/integration/fhir_fixture.h"
#include "tests/integration/web_pages.h"

namespace hie::testing {

// Every test account's password (a passphrase the policy accepts), a name that is
// markup, and the media type of a form.
inline constexpr char kPassword[] = "copper kettle on the hill";
inline constexpr char kXss[] = "<img src=x onerror=alert(1)>";
inline constexpr char kForm[] = "application/x-www-form-urlencoded";

class WebFixture : public FhirApiFixture {
 protected:
  // `method` `path` on the node's listener as a browser with `cookie` sends it.
  cli::HttpsResponse AppRequest(const std::string& method, const std::string& path,
                                const std::string& cookie, const std::string& content_type = "",
                                const std::string& body = "",
                                std::vector<std::pair<std::string, std::string>> headers = {}) {
    if (!cookie.empty()) headers.emplace_back("Cookie", cookie);
    auto r = cli::HttpsRequest(method, base_ + path, Path("ca/ca.crt"), content_type, body,
                               absl::Seconds(30), headers);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : cli::HttpsResponse{};
  }

  // Opens the sign-in form and posts it with its own token (`extra_cookie`, e.g. a
  // planted session id, goes with the form's cookie); the node's answer.
  cli::HttpsResponse PostSignIn(const std::string& login, const std::string& password,
                                const std::string& extra_cookie = "",
                                const std::string& totp = "") {
    cli::HttpsResponse form = AppRequest("GET", "/app/login", "");
    EXPECT_EQ(form.status, 200);
    std::string cookie =
        absl::StrCat("hie_login_csrf=", CookieValueOf(SetCookie(form, "hie_login_csrf")));
    if (!extra_cookie.empty()) cookie = absl::StrCat(extra_cookie, "; ", cookie);
    return AppRequest("POST", "/app/login", cookie, kForm,
                      absl::StrCat("_csrf=", CsrfField(form.body), "&login=", login, "&password=",
                                   absl::StrReplaceAll(password, {{" ", "+"}}), "&totp=", totp));
  }

  // The Cookie header of the session a sign-in answer started ("" if it started none).
  static std::string SessionCookie(const cli::HttpsResponse& signed_in) {
    const std::string set = SetCookie(signed_in, "hie_session");
    return set.empty() ? "" : "hie_session=" + CookieValueOf(set);
  }

  // Adds `login` to the node (its gRPC port `grpc_port`) with hiectl user add and
  // kPassword (final: no change asked at first sign-in); `patient` for a patient.
  void AddWebUser(int grpc_port, const std::string& login, const std::string& name,
                  const std::string& role, const std::string& patient = "") {
    const std::string pw = Path(login + ".pw");
    std::ofstream(pw) << kPassword << "\n";
    std::vector<std::string> words = {"user",
                                      "add",
                                      "--login",
                                      login,
                                      "--name",
                                      name,
                                      "--role",
                                      role,
                                      "--password-file",
                                      pw,
                                      "--password-is-final"};
    if (!patient.empty()) {
      words.push_back("--patient");
      words.push_back(patient);
    }
    CommandResult add = HiectlAs("node-a", grpc_port, words);
    ASSERT_EQ(add.exit_code, 0) << add.err;
  }
};

}  // namespace hie::testing

#endif  // HIE_TESTS_INTEGRATION_WEB_FIXTURE_H_
