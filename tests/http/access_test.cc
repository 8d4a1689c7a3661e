// Access rules against callers, without a server: certificates and roles, bearer tokens
// and scopes, and what a refusal tells the client.
#include "http/access.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::http {
namespace {

using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::HasSubstr;

absl::StatusOr<Principal> FakeAuthenticator(absl::string_view token) {
  if (token == "good") return Principal{.subject = "dr-lee", .scopes = {"user/Patient.read"}};
  if (token == "down") return absl::UnavailableError("key server down");
  return absl::UnauthenticatedError("token not recognised");
}

TEST(HttpAccessTest, AnonymousAdmitsAnyone) {
  Caller caller;
  EXPECT_THAT(CheckAccess(AccessRule::Anonymous(), FakeAuthenticator, &caller), IsOk());
  EXPECT_FALSE(caller.principal.has_value());
}

TEST(HttpAccessTest, UnsetRuleAdmitsNoOne) {
  Caller caller;
  caller.certificate = pki::CertIdentity{.org_id = "org-a", .role = pki::Role::kOperator};
  EXPECT_THAT(CheckAccess(AccessRule{}, FakeAuthenticator, &caller),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(HttpAccessTest, ClientCertificateWithARole) {
  AccessRule rule = AccessRule::ClientCertificate({pki::Role::kOperator});
  Caller caller;
  EXPECT_THAT(CheckAccess(rule, FakeAuthenticator, &caller),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("certificate")));
  caller.certificate = pki::CertIdentity{.org_id = "org-a", .role = pki::Role::kNode};
  EXPECT_THAT(CheckAccess(rule, FakeAuthenticator, &caller),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("node")));
  caller.certificate->role = pki::Role::kOperator;
  EXPECT_THAT(CheckAccess(rule, FakeAuthenticator, &caller), IsOk());
  EXPECT_EQ(WwwAuthenticate(rule, caller, absl::PermissionDeniedError("x")), "");
}

TEST(HttpAccessTest, BearerTokenAndScope) {
  Caller caller;
  AccessRule patients = AccessRule::BearerToken("user/Patient.");
  absl::Status missing = CheckAccess(patients, FakeAuthenticator, &caller);
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(WwwAuthenticate(patients, caller, missing), "Bearer realm=\"hie\"");

  caller.bearer_token = "forged";
  absl::Status forged = CheckAccess(patients, FakeAuthenticator, &caller);
  EXPECT_THAT(forged, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(WwwAuthenticate(patients, caller, forged),
            "Bearer realm=\"hie\", error=\"invalid_token\"");

  caller.bearer_token = "good";
  AccessRule observations = AccessRule::BearerToken("user/Observation.");
  absl::Status narrow = CheckAccess(observations, FakeAuthenticator, &caller);
  EXPECT_THAT(narrow, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(WwwAuthenticate(observations, caller, narrow),
            "Bearer realm=\"hie\", error=\"insufficient_scope\"");
  EXPECT_FALSE(caller.principal.has_value());

  EXPECT_THAT(CheckAccess(patients, FakeAuthenticator, &caller), IsOk());
  ASSERT_TRUE(caller.principal.has_value());
  EXPECT_EQ(caller.principal->subject, "dr-lee");
}

TEST(HttpAccessTest, BearerTokenOrClientCertificate) {
  AccessRule rule = AccessRule::BearerTokenOrClientCertificate("user/Patient.", {pki::Role::kNode});
  Caller caller;
  EXPECT_THAT(CheckAccess(rule, FakeAuthenticator, &caller),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // A certificate of a named role is enough without a token...
  caller.certificate = pki::CertIdentity{.org_id = "org-a", .role = pki::Role::kNode};
  EXPECT_THAT(CheckAccess(rule, FakeAuthenticator, &caller), IsOk());
  EXPECT_FALSE(caller.principal.has_value());
  // ...but a token sent is checked as a token: a bad one is not excused by the certificate.
  caller.bearer_token = "forged";
  EXPECT_THAT(CheckAccess(rule, FakeAuthenticator, &caller),
              StatusIs(absl::StatusCode::kUnauthenticated));
  caller.bearer_token = "good";
  EXPECT_THAT(CheckAccess(rule, FakeAuthenticator, &caller), IsOk());
  EXPECT_TRUE(caller.principal.has_value());
  // Another role's certificate without a token is refused.
  Caller other{.certificate = pki::CertIdentity{.org_id = "x", .role = pki::Role::kOperator}};
  EXPECT_THAT(CheckAccess(rule, FakeAuthenticator, &other),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(DescribeAccessRule(rule), HasSubstr(" or client certificate (node)"));
}

TEST(HttpAccessTest, AuthenticatorErrorsKeepTheirCode) {
  Caller caller{.bearer_token = "down"};
  EXPECT_THAT(CheckAccess(AccessRule::BearerToken(""), FakeAuthenticator, &caller),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST(HttpAccessTest, NoAuthenticatorRefusesEveryToken) {
  Caller caller{.bearer_token = "good"};
  EXPECT_THAT(CheckAccess(AccessRule::BearerToken(""), nullptr, &caller),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(HttpAccessTest, ReadsOnlyBearerAuthorization) {
  EXPECT_EQ(BearerTokenFrom("Bearer abc.def"), "abc.def");
  EXPECT_EQ(BearerTokenFrom("bearer   abc "), "abc");
  EXPECT_EQ(BearerTokenFrom("Basic dXNlcjpwdw=="), "");
  EXPECT_EQ(BearerTokenFrom("Bearer"), "");
  EXPECT_EQ(BearerTokenFrom("Bearer "), "");
  EXPECT_EQ(BearerTokenFrom("Bearerabc"), "");
}

absl::StatusOr<SessionPrincipal> FakeSessions(absl::string_view id) {
  if (id == "live-clinician") {
    return SessionPrincipal{.login = "lee", .role = "clinician", .csrf_token = "tok"};
  }
  if (id == "live-patient") {
    return SessionPrincipal{.login = "jane", .role = "patient", .csrf_token = "ptok"};
  }
  return absl::UnauthenticatedError("no such session");
}

TEST(HttpAccessTest, SessionRuleNeedsALiveSessionOfANamedRole) {
  AccessRule clinicians = AccessRule::Session({"clinician"});
  Caller caller;
  absl::Status none = CheckAccess(clinicians, FakeAuthenticator, FakeSessions, &caller);
  EXPECT_THAT(none, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_TRUE(RedirectsToLogin(clinicians, "GET", none));
  EXPECT_FALSE(RedirectsToLogin(clinicians, "POST", none));
  EXPECT_FALSE(RedirectsToLogin(AccessRule::BearerToken(""), "GET", none));

  caller.session_cookie = "ended";
  EXPECT_THAT(CheckAccess(clinicians, FakeAuthenticator, FakeSessions, &caller),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_FALSE(caller.session.has_value());

  caller.session_cookie = "live-patient";
  absl::Status wrong_role = CheckAccess(clinicians, FakeAuthenticator, FakeSessions, &caller);
  EXPECT_THAT(wrong_role, StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("patient")));
  EXPECT_FALSE(RedirectsToLogin(clinicians, "GET", wrong_role));
  EXPECT_FALSE(caller.session.has_value());
  // Any signed-in role, when the rule names none.
  EXPECT_THAT(CheckAccess(AccessRule::Session({}), FakeAuthenticator, FakeSessions, &caller),
              IsOk());
  ASSERT_TRUE(caller.session.has_value());
  EXPECT_EQ(caller.session->login, "jane");

  Caller lee{.session_cookie = "live-clinician"};
  EXPECT_THAT(CheckAccess(clinicians, FakeAuthenticator, FakeSessions, &lee), IsOk());
  EXPECT_EQ(lee.session->role, "clinician");
  // Without a session authenticator, or through the overload without one: refused.
  Caller again{.session_cookie = "live-clinician"};
  EXPECT_THAT(CheckAccess(clinicians, FakeAuthenticator, nullptr, &again),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(CheckAccess(clinicians, FakeAuthenticator, &again),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(DescribeAccessRule(clinicians), "session (clinician)");
  EXPECT_EQ(DescribeAccessRule(AccessRule::Session({})), "session");
}

TEST(HttpAccessTest, SessionRuleIgnoresABearerToken) {
  Caller caller{.bearer_token = "good"};
  EXPECT_THAT(CheckAccess(AccessRule::Session({}), FakeAuthenticator, FakeSessions, &caller),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_FALSE(caller.principal.has_value());
}

Request SessionRequest(std::string method) {
  Request request;
  request.method = std::move(method);
  request.caller.session = SessionPrincipal{.login = "lee", .csrf_token = "s3cret"};
  return request;
}

TEST(HttpAccessTest, CsrfTokenFromTheHeaderOrTheForm) {
  AccessRule rule = AccessRule::Session({});
  Request get = SessionRequest("GET");
  EXPECT_THAT(CheckCsrf(rule, get), IsOk());

  Request post = SessionRequest("POST");
  EXPECT_THAT(CheckCsrf(rule, post), StatusIs(absl::StatusCode::kPermissionDenied));
  post.headers["x-csrf-token"] = "s3cret";
  EXPECT_THAT(CheckCsrf(rule, post), IsOk());
  post.headers["x-csrf-token"] = "s3cres";
  EXPECT_THAT(CheckCsrf(rule, post), StatusIs(absl::StatusCode::kPermissionDenied));
  post.headers["x-csrf-token"] = "s3cret-and-more";
  EXPECT_THAT(CheckCsrf(rule, post), StatusIs(absl::StatusCode::kPermissionDenied));

  Request form = SessionRequest("POST");
  form.headers["content-type"] = "application/x-www-form-urlencoded; charset=utf-8";
  form.body = "a=1&_csrf=s3cret";
  EXPECT_THAT(CheckCsrf(rule, form), IsOk());
  form.body = "a=1&_csrf=wrong";
  EXPECT_THAT(CheckCsrf(rule, form), StatusIs(absl::StatusCode::kPermissionDenied));
  form.body = "a=1";
  EXPECT_THAT(CheckCsrf(rule, form), StatusIs(absl::StatusCode::kPermissionDenied));
  // The field counts only in a form body, not in JSON that happens to contain it.
  Request json = SessionRequest("DELETE");
  json.headers["content-type"] = "application/json";
  json.body = "_csrf=s3cret";
  EXPECT_THAT(CheckCsrf(rule, json), StatusIs(absl::StatusCode::kPermissionDenied));
  // A session whose token is empty matches nothing.
  Request empty = SessionRequest("PUT");
  empty.caller.session->csrf_token = "";
  empty.headers["x-csrf-token"] = "";
  EXPECT_THAT(CheckCsrf(rule, empty), StatusIs(absl::StatusCode::kPermissionDenied));
  // Other rules are not the session's to check.
  EXPECT_THAT(CheckCsrf(AccessRule::Anonymous(), SessionRequest("POST")), IsOk());
}

TEST(HttpAccessTest, ReadsCookiesAndFormFields) {
  EXPECT_EQ(CookieValue("a=1; hie_session=abc; b=2", "hie_session"), "abc");
  EXPECT_EQ(CookieValue("hie_session=\"q\"", "hie_session"), "q");
  EXPECT_EQ(CookieValue("xhie_session=abc; hie_session=def", "hie_session"), "def");
  EXPECT_EQ(CookieValue("hie_session=first; hie_session=second", "hie_session"), "first");
  EXPECT_EQ(CookieValue("other=1", "hie_session"), "");
  EXPECT_EQ(FormField("login=dr+lee&pw=a%26b", "login"), "dr lee");
  EXPECT_EQ(FormField("login=dr+lee&pw=a%26b", "pw"), "a&b");
  EXPECT_EQ(FormField("login=x", "pw"), std::nullopt);
  EXPECT_TRUE(IsStateChanging("POST"));
  EXPECT_FALSE(IsStateChanging("GET"));
}

}  // namespace
}  // namespace hie::http
