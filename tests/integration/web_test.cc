// The node's web app over real HTTPS: signing in (the form's own CSRF token, refusals
// that do not tell whether a login exists), the session cookie and its attributes, pages
// that need a session, CSRF on state-changing requests, logout that ends the session on
// the server, a new session id at every sign-in (fixation), and text rendered escaped.

#include <fstream>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "cli/https_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/domain/totp.h"
#include "tests/integration/web_fixture.h"

namespace hie::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string ErrorParagraph(const std::string& html) {
  std::smatch m;
  static const std::regex kError("<p class=\"error\"[^>]*>([^<]*)</p>");
  return std::regex_search(html, m, kError) ? m[1].str() : "";
}

class WebTest : public WebFixture {
 protected:
  // dr.lee, a clinician named kXss with kPassword; `final`: need not change it.
  void AddUser(bool final = true) {
    std::string pw = Path("lee.pw");
    std::ofstream(pw) << kPassword << "\n";
    std::vector<std::string> words = {"user", "add",    "--login",   "dr.lee",          "--name",
                                      kXss,   "--role", "clinician", "--password-file", pw};
    if (final) words.push_back("--password-is-final");
    CommandResult add = HiectlAs("node-a", grpc_port_, words);
    ASSERT_EQ(add.exit_code, 0) << add.err;
  }

  int grpc_port_ = 0;
};

TEST_F(WebTest, SignInSessionCsrfLogoutAndFixation) {
  grpc_port_ = StartNodeWithApi();
  ASSERT_GT(grpc_port_, 0);
  ASSERT_NO_FATAL_FAILURE(AddUser());

  // The sign-in page: accessible, styled from the embedded stylesheet, no inline script.
  cli::HttpsResponse form = AppRequest("GET", "/app/login", "");
  EXPECT_EQ(form.status, 200);
  EXPECT_THAT(form.content_type, HasSubstr("text/html"));
  EXPECT_THAT(form.body,
              AllOf(HasSubstr("<html lang=\"en\">"), HasSubstr("<main"),
                    HasSubstr("<label for=\"login\">"), HasSubstr("<label for=\"password\">"),
                    HasSubstr("<label for=\"totp\">"), HasSubstr("href=\"/app/assets/app.css\"")));
  EXPECT_THAT(form.body, AllOf(Not(HasSubstr("<script>")), Not(HasSubstr("style="))));
  EXPECT_THAT(Header(form, "content-security-policy"), Not(HasSubstr("unsafe-inline")));
  EXPECT_THAT(SetCookie(form, "hie_login_csrf"),
              AllOf(HasSubstr("HttpOnly"), HasSubstr("Secure"), HasSubstr("SameSite=Strict")));
  cli::HttpsResponse css = AppRequest("GET", "/app/assets/app.css", "");
  EXPECT_EQ(css.status, 200);
  EXPECT_THAT(css.content_type, HasSubstr("text/css"));

  // Login CSRF: a form posted without the form's own cookie is refused.
  cli::HttpsResponse forged = AppRequest(
      "POST", "/app/login", "", kForm,
      absl::StrCat("_csrf=", CsrfField(form.body),
                   "&login=dr.lee&password=", absl::StrReplaceAll(kPassword, {{" ", "+"}})));
  EXPECT_EQ(forged.status, 403);
  EXPECT_TRUE(SetCookie(forged, "hie_session").empty());

  // A wrong password and an unknown login get the same refusal.
  cli::HttpsResponse wrong = PostSignIn("dr.lee", "not the password at all");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_TRUE(SetCookie(wrong, "hie_session").empty());
  cli::HttpsResponse unknown = PostSignIn("nobody", "not the password at all");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_FALSE(ErrorParagraph(wrong.body).empty()) << wrong.body;
  EXPECT_EQ(ErrorParagraph(wrong.body), ErrorParagraph(unknown.body));
  EXPECT_THAT(ErrorParagraph(unknown.body), Not(HasSubstr("nobody")));
  EXPECT_THAT(ErrorParagraph(wrong.body), Not(HasSubstr("dr.lee")));

  // No session: a page sends the browser to sign in; a POST is refused.
  cli::HttpsResponse anonymous = AppRequest("GET", "/app/", "");
  EXPECT_EQ(anonymous.status, 303);
  EXPECT_EQ(Header(anonymous, "location"), "/app/login");
  EXPECT_EQ(AppRequest("POST", "/app/logout", "", kForm, "_csrf=x").status, 401);

  // Sign in with a session id planted before: the one after is a new one.
  cli::HttpsResponse signed_in = PostSignIn("dr.lee", kPassword, "hie_session=planted-by-attacker");
  ASSERT_EQ(signed_in.status, 303) << signed_in.body;
  EXPECT_EQ(Header(signed_in, "location"), "/app/");
  const std::string set_cookie = SetCookie(signed_in, "hie_session");
  EXPECT_THAT(set_cookie, AllOf(HasSubstr("; HttpOnly"), HasSubstr("; Secure"),
                                HasSubstr("; SameSite=Strict"), HasSubstr("; Path=/app")));
  const std::string first = CookieValueOf(set_cookie);
  EXPECT_EQ(first.size(), 43u);
  EXPECT_NE(first, "planted-by-attacker");

  // The home page names the user, escaped.
  cli::HttpsResponse home = AppRequest("GET", "/app/", "hie_session=" + first);
  ASSERT_EQ(home.status, 200);
  EXPECT_THAT(home.body, AllOf(HasSubstr("&lt;img src=x onerror=alert(1)&gt;"), HasSubstr("dr.lee"),
                               HasSubstr("clinician")));
  EXPECT_THAT(home.body, Not(HasSubstr(kXss)));
  EXPECT_EQ(Header(home, "cache-control"), "no-store");

  // Signing in again from a browser with a live session: a new id, the old one ended.
  cli::HttpsResponse again = PostSignIn("dr.lee", kPassword, "hie_session=" + first);
  ASSERT_EQ(again.status, 303);
  const std::string second = CookieValueOf(SetCookie(again, "hie_session"));
  EXPECT_NE(second, first);
  EXPECT_EQ(AppRequest("GET", "/app/", "hie_session=" + first).status, 303);
  home = AppRequest("GET", "/app/", "hie_session=" + second);
  ASSERT_EQ(home.status, 200);
  const std::string csrf = CsrfField(home.body);
  ASSERT_EQ(csrf.size(), 43u);

  // Logout needs the session's CSRF token; the refusal is a page for a person, as is an
  // unknown page, while the FHIR API's errors stay OperationOutcomes.
  cli::HttpsResponse no_token =
      AppRequest("POST", "/app/logout", "hie_session=" + second, kForm, "");
  EXPECT_EQ(no_token.status, 403);
  EXPECT_THAT(no_token.content_type, HasSubstr("text/html"));
  EXPECT_THAT(no_token.body, AllOf(HasSubstr("<h1>Not allowed</h1>"), HasSubstr("CSRF")));
  cli::HttpsResponse missing = AppRequest("GET", "/app/no-such-page", "hie_session=" + second);
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("<h1>No such page</h1>"));
  EXPECT_THAT(AppRequest("GET", "/no-such-resource", "").content_type, HasSubstr("fhir+json"));
  EXPECT_EQ(
      AppRequest("POST", "/app/logout", "hie_session=" + second, kForm, "_csrf=" + first).status,
      403);
  EXPECT_EQ(AppRequest("GET", "/app/", "hie_session=" + second).status, 200);
  cli::HttpsResponse out =
      AppRequest("POST", "/app/logout", "hie_session=" + second, kForm, "_csrf=" + csrf);
  EXPECT_EQ(out.status, 303);
  EXPECT_EQ(Header(out, "location"), "/app/login");
  EXPECT_THAT(SetCookie(out, "hie_session"),
              AllOf(StartsWith("hie_session=;"), HasSubstr("Max-Age=0")));
  // The session is gone on the server: the old cookie opens nothing.
  cli::HttpsResponse after = AppRequest("GET", "/app/", "hie_session=" + second);
  EXPECT_EQ(after.status, 303);
  EXPECT_EQ(Header(after, "location"), "/app/login");
  EXPECT_EQ(
      AppRequest("POST", "/app/logout", "hie_session=" + second, kForm, "_csrf=" + csrf).status,
      401);
}

TEST_F(WebTest, LockoutIs429AndLooksTheSameForAnUnknownLogin) {
  grpc_port_ = StartNodeWithApi();
  ASSERT_GT(grpc_port_, 0);
  ASSERT_NO_FATAL_FAILURE(AddUser());
  for (const std::string login : {"dr.lee", "ghost"}) {
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(PostSignIn(login, "not the password at all").status, 401) << login << " " << i;
    }
    // The fifth failure locks: said at once, with when to come back.
    cli::HttpsResponse fifth = PostSignIn(login, "not the password at all");
    EXPECT_EQ(fifth.status, 429) << login;
    EXPECT_THAT(ErrorParagraph(fifth.body), HasSubstr("try again after")) << fifth.body;
  }
  // While locked, even the right password is refused, and no session is started.
  cli::HttpsResponse locked = PostSignIn("dr.lee", kPassword);
  EXPECT_EQ(locked.status, 429);
  EXPECT_TRUE(SetCookie(locked, "hie_session").empty());
  cli::HttpsResponse ghost = PostSignIn("ghost", kPassword);
  EXPECT_EQ(ghost.status, 429);
  EXPECT_EQ(ErrorParagraph(ghost.body).substr(0, 20), ErrorParagraph(locked.body).substr(0, 20));
}

TEST_F(WebTest, APasswordTheAdministratorChoseIsChangedFirst) {
  grpc_port_ = StartNodeWithApi();
  ASSERT_GT(grpc_port_, 0);
  ASSERT_NO_FATAL_FAILURE(AddUser(/*final=*/false));
  cli::HttpsResponse signed_in = PostSignIn("dr.lee", kPassword);
  ASSERT_EQ(signed_in.status, 303) << signed_in.body;
  const std::string cookie = "hie_session=" + CookieValueOf(SetCookie(signed_in, "hie_session"));
  cli::HttpsResponse home = AppRequest("GET", "/app/", cookie);
  EXPECT_EQ(home.status, 303) << home.body;
  EXPECT_EQ(Header(home, "location"), "/app/password");
  cli::HttpsResponse form = AppRequest("GET", "/app/password", cookie);
  ASSERT_EQ(form.status, 200);
  EXPECT_THAT(form.body,
              AllOf(HasSubstr("<label for=\"current\">"), HasSubstr("<label for=\"replacement\">"),
                    HasSubstr("<label for=\"confirm\">")));
  const std::string csrf = CsrfField(form.body);
  ASSERT_FALSE(csrf.empty());
  auto change = [&](const std::string& current, const std::string& replacement,
                    const std::string& confirm, const std::string& token) {
    auto plus = [](const std::string& t) { return absl::StrReplaceAll(t, {{" ", "+"}}); };
    return AppRequest("POST", "/app/password", cookie, kForm,
                      absl::StrCat("_csrf=", token, "&current=", plus(current),
                                   "&replacement=", plus(replacement), "&confirm=", plus(confirm)));
  };
  const std::string fresh = "seven blue herons at dawn";
  EXPECT_EQ(change(kPassword, fresh, fresh, "forged").status, 403);
  cli::HttpsResponse differ = change(kPassword, fresh, "seven blue herons at dusk", csrf);
  EXPECT_EQ(differ.status, 400);
  EXPECT_THAT(ErrorParagraph(differ.body), HasSubstr("differ"));
  cli::HttpsResponse weak = change(kPassword, "password1234", "password1234", csrf);
  EXPECT_EQ(weak.status, 400);
  EXPECT_THAT(ErrorParagraph(weak.body), HasSubstr("common"));
  EXPECT_EQ(change("not my password at all", fresh, fresh, csrf).status, 401);

  cli::HttpsResponse changed = change(kPassword, fresh, fresh, csrf);
  ASSERT_EQ(changed.status, 303) << changed.body;
  EXPECT_EQ(Header(changed, "location"), "/app/");
  const std::string new_id = CookieValueOf(SetCookie(changed, "hie_session"));
  EXPECT_NE("hie_session=" + new_id, cookie);
  // The old session ended with the change; the new one opens the home page.
  EXPECT_EQ(AppRequest("GET", "/app/", cookie).status, 303);
  EXPECT_EQ(AppRequest("GET", "/app/", "hie_session=" + new_id).status, 200);
  EXPECT_EQ(PostSignIn("dr.lee", kPassword).status, 401);
  EXPECT_EQ(PostSignIn("dr.lee", fresh).status, 303);
}

TEST_F(WebTest, SignInWithAnAuthenticatorCode) {
  grpc_port_ = StartNodeWithApi();
  ASSERT_GT(grpc_port_, 0);
  ASSERT_NO_FATAL_FAILURE(AddUser());
  // dr.lee sets up an authenticator on the two-step sign-in page.
  cli::HttpsResponse in = PostSignIn("dr.lee", kPassword);
  ASSERT_EQ(in.status, 303);
  const std::string cookie = "hie_session=" + CookieValueOf(SetCookie(in, "hie_session"));
  cli::HttpsResponse page = AppRequest("GET", "/app/totp", cookie);
  ASSERT_EQ(page.status, 200);
  EXPECT_THAT(page.body, AllOf(HasSubstr("password only"), HasSubstr("<label for=\"current\">")));
  const std::string csrf = CsrfField(page.body);
  // Without the current password a session alone cannot take over the second factor.
  EXPECT_EQ(AppRequest("POST", "/app/totp/enrol", cookie, kForm, "_csrf=" + csrf + "&current=wrong")
                .status,
            401);
  EXPECT_EQ(AppRequest("POST", "/app/totp/enrol", cookie, kForm,
                       "current=" + absl::StrReplaceAll(kPassword, {{" ", "+"}}))
                .status,
            403);
  cli::HttpsResponse enrol =
      AppRequest("POST", "/app/totp/enrol", cookie, kForm,
                 "_csrf=" + csrf + "&current=" + absl::StrReplaceAll(kPassword, {{" ", "+"}}));
  ASSERT_EQ(enrol.status, 200) << enrol.body;
  std::smatch m;
  const std::string body = enrol.body;
  ASSERT_TRUE(std::regex_search(body, m, std::regex("id=\"totp-secret\">([A-Z2-7 ]+)<"))) << body;
  EXPECT_THAT(body, AllOf(HasSubstr("otpauth://totp/"), HasSubstr("<svg"),
                          HasSubstr("aria-label=\"QR code of your authenticator")));
  ASSERT_OK_AND_ASSIGN(std::string secret,
                       node::Base32Decode(absl::StrReplaceAll(m[1].str(), {{" ", ""}})));
  cli::HttpsResponse confirmed =
      AppRequest("POST", "/app/totp/confirm", cookie, kForm,
                 "_csrf=" + csrf + "&code=" + node::TotpCode(secret, node::TotpStep(absl::Now())));
  ASSERT_EQ(confirmed.status, 200) << confirmed.body;
  EXPECT_THAT(confirmed.body, HasSubstr("Your authenticator is set up"));

  // The password alone is not enough, and a wrong code is refused.
  cli::HttpsResponse no_code = PostSignIn("dr.lee", kPassword);
  EXPECT_EQ(no_code.status, 401);
  EXPECT_THAT(ErrorParagraph(no_code.body), HasSubstr("authenticator"));
  EXPECT_TRUE(SetCookie(no_code, "hie_session").empty());
  const std::string next = node::TotpCode(secret, node::TotpStep(absl::Now()) + 1);
  const std::string wrong = next == "000000" ? "000001" : "000000";
  EXPECT_EQ(PostSignIn("dr.lee", kPassword, "", wrong).status, 401);
  // With the code (the next step's: the one enrolment used is spent).
  cli::HttpsResponse with_code = PostSignIn("dr.lee", kPassword, "", next);
  ASSERT_EQ(with_code.status, 303) << with_code.body;
  const std::string id = CookieValueOf(SetCookie(with_code, "hie_session"));
  EXPECT_EQ(AppRequest("GET", "/app/", "hie_session=" + id).status, 200);
}

// Every sign-in, refused or not, every sign-out and password change is in the node's
// audit chain (AUDIT_ACTION_ACCOUNT), which the practice reads as AuditEvents.
TEST_F(WebTest, SignInsAndSignOutsAreInTheAuditChain) {
  grpc_port_ = StartNodeWithApi();
  ASSERT_GT(grpc_port_, 0);
  ASSERT_NO_FATAL_FAILURE(AddUser());
  EXPECT_EQ(PostSignIn("dr.lee", "not the password").status, 401);
  cli::HttpsResponse in = PostSignIn("dr.lee", kPassword);
  ASSERT_EQ(in.status, 303);
  std::string session = CookieValueOf(SetCookie(in, "hie_session"));
  cli::HttpsResponse home = AppRequest("GET", "/app/", "hie_session=" + session);
  ASSERT_EQ(home.status, 200);
  EXPECT_EQ(AppRequest("POST", "/app/logout", "hie_session=" + session, kForm,
                       "_csrf=" + CsrfField(home.body))
                .status,
            303);

  auto events = cli::HttpsRequest("GET", base_ + "/AuditEvent?subtype=AUDIT_ACTION_ACCOUNT",
                                  Path("ca/ca.crt"), "", "", absl::Seconds(10), {},
                                  Path("certs/node-a.crt"), Path("certs/node-a.key"));
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->status, 200) << events->body;
  // hiectl's add, the refusal, the sign-in and the sign-out, each naming the account and
  // its outcome.
  EXPECT_THAT(events->body, AllOf(HasSubstr("\"code\": \"110114\""), HasSubstr("login:dr.lee"),
                                  HasSubstr("refused: sign-in from 127.0.0.1"),
                                  HasSubstr("ok: sign-out from 127.0.0.1"),
                                  HasSubstr("Wrong login or password")));
  size_t count = 0;
  const std::string kind = "\"code\": \"AUDIT_ACTION_ACCOUNT\"";
  for (size_t at = events->body.find(kind); at != std::string::npos;
       at = events->body.find(kind, at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 4u) << events->body;
}

}  // namespace
}  // namespace hie::testing
