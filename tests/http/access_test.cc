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

}  // namespace
}  // namespace hie::http
