// The SMART Backend Services token exchange: a good assertion gets a token that
// verifies; every assertion SMART says to refuse is refused with its OAuth error; used
// assertions stay used across restarts and power cuts; tokens end with their lifetime
// and with their client's registration.
#include "common/auth/token_service.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/auth/oauth_error.h"
#include "common/json/json_writer.h"
#include "common/store/key_codec.h"
#include "common/testing/fake_clock.h"
#include "common/testing/fault_env.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/auth/test_keys.h"

namespace hie::auth {
namespace {

namespace fs = std::filesystem;
using ::hie::auth::testing::EcKey;
using ::hie::auth::testing::HmacSha384;
using ::hie::auth::testing::OtherEcKey;
using ::hie::auth::testing::RsaKey;
using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Optional;

constexpr char kTokenUrl[] = "https://node-a.example:8443/auth/token";

// The claims of one assertion; each field can be spoiled on its own.
struct Assertion {
  std::string iss;
  std::string sub;
  std::string aud = kTokenUrl;
  std::optional<absl::Time> exp;
  std::string jti;
  std::string b2b;  // the hl7-b2b extension as JSON, or empty for none

  std::string ClaimsJson() const {
    JsonObject claims;
    if (!iss.empty()) claims.Add("iss", iss);
    if (!sub.empty()) claims.Add("sub", sub);
    if (!aud.empty()) claims.Add("aud", aud);
    if (exp.has_value()) claims.Add("exp", absl::ToUnixSeconds(*exp));
    if (!jti.empty()) claims.Add("jti", jti);
    if (!b2b.empty()) claims.AddRaw("extensions", JsonObject().AddRaw("hl7-b2b", b2b).Build());
    return claims.Build();
  }
  std::string SignedWith(const std::string& private_pem) const {
    absl::StatusOr<std::string> token = SignJwt({{"kid", "k1"}}, ClaimsJson(), private_pem);
    EXPECT_THAT(token, IsOk());
    return token.value_or("");
  }
};

std::string B2b(const std::string& purpose, const std::string& reason = "") {
  JsonObject b2b;
  b2b.Add("version", "1").Add("subject_id", "npi:1234567893").Add("subject_name", "Dr. Lee");
  b2b.AddRaw("purpose_of_use", JsonArray({JsonQuote(purpose)}));
  if (!reason.empty()) b2b.Add("reason", reason);
  return b2b.Build();
}

MATCHER_P2(OAuthRefusal, error, code, "") {
  *result_listener << "status is " << arg.status();
  return arg.status().code() == code && OAuthErrorOf(arg.status()) == std::string(error);
}

class TokenServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-tokens-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    Open();
    ec_ = Register(EcKey().public_pem, JwsAlgorithm::kES384, {"system/*.read"});
    rsa_ = Register(RsaKey().public_jwk, JwsAlgorithm::kRS384,
                    {"system/Patient.rs", "system/Observation.read"});
  }
  void TearDown() override {
    Close();
    fs::remove_all(dir_);
  }

  void Open(TokenServiceOptions options = {}) {
    store::KvStoreOptions store_options;
    store_options.env = &env_;
    absl::StatusOr<std::unique_ptr<store::KvStore>> store =
        store::KvStore::Open(dir_, store_options);
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
    clients_ = std::make_unique<ClientRegistry>(store_.get());
    absl::StatusOr<std::unique_ptr<TokenService>> service =
        TokenService::Create(clients_.get(), store_.get(), options);
    ASSERT_THAT(service, IsOk());
    service_ = std::move(*service);
  }
  void Close() {
    service_.reset();
    clients_.reset();
    store_.reset();
  }
  void Reopen(TokenServiceOptions options = {}) {
    Close();
    Open(options);
  }

  Client Register(const std::string& key, JwsAlgorithm algorithm, std::vector<std::string> scopes) {
    ClientRegistration registration{.name = "EMR",
                                    .org = "org-a",
                                    .public_key = key,
                                    .algorithm = algorithm,
                                    .scopes = std::move(scopes)};
    absl::StatusOr<Client> client = clients_->Register(registration, clock_.Now());
    EXPECT_THAT(client, IsOk());
    return client.value_or(Client());
  }

  // A good assertion for `client`: exp four minutes ahead, a fresh jti.
  Assertion For(const Client& client) {
    Assertion a;
    a.iss = a.sub = client.client_id;
    a.exp = clock_.Now() + absl::Minutes(4);
    a.jti = absl::StrCat("jti-", ++jti_counter_);
    return a;
  }

  absl::StatusOr<TokenResponse> Exchange(const std::string& assertion,
                                         const std::string& scope = "system/*.read") {
    return service_->Exchange(assertion, scope, kTokenUrl, clock_.Now());
  }

  hie::testing::FaultInjectionEnv env_;
  hie::testing::FakeClock clock_;
  std::string dir_;
  std::unique_ptr<store::KvStore> store_;
  std::unique_ptr<ClientRegistry> clients_;
  std::unique_ptr<TokenService> service_;
  Client ec_;
  Client rsa_;
  int jti_counter_ = 0;
};

TEST_F(TokenServiceTest, GoodAssertionGetsATokenThatVerifies) {
  Assertion a = For(ec_);
  a.b2b = B2b("TREAT");
  const absl::Time now = clock_.Now();
  ASSERT_OK_AND_ASSIGN(
      TokenResponse response,
      service_->Exchange(a.SignedWith(EcKey().private_pem), "system/Patient.read", kTokenUrl, now));
  EXPECT_THAT(response.access_token, MatchesRegex("[A-Za-z0-9_-]{43}"));
  EXPECT_EQ(response.token_type, "bearer");
  EXPECT_EQ(response.expires_in, 300);
  EXPECT_EQ(response.scope, "system/Patient.read");
  EXPECT_EQ(response.ToJson(), absl::StrCat(R"({"access_token": ")", response.access_token,
                                            R"(", "token_type": "bearer", "expires_in": 300, )",
                                            R"("scope": "system/Patient.read"})"));

  ASSERT_OK_AND_ASSIGN(Principal principal, service_->Verify(response.access_token, now));
  EXPECT_EQ(principal.client_id, ec_.client_id);
  EXPECT_EQ(principal.org, "org-a");
  EXPECT_THAT(principal.scopes, ElementsAre("system/Patient.read"));
  EXPECT_TRUE(principal.has_user());
  EXPECT_EQ(principal.user_id, "npi:1234567893");
  EXPECT_EQ(principal.user_name, "Dr. Lee");
  EXPECT_EQ(principal.purpose_of_use, "TREAT");
  EXPECT_EQ(principal.reason, "");
  EXPECT_EQ(principal.expires_at, now + absl::Seconds(300));
}

TEST_F(TokenServiceTest, RsaClientWithoutB2bHasNoUserOrPurpose) {
  ASSERT_OK_AND_ASSIGN(TokenResponse response,
                       Exchange(For(rsa_).SignedWith(RsaKey().private_pem), "system/Patient.rs"));
  ASSERT_OK_AND_ASSIGN(Principal principal, service_->Verify(response.access_token, clock_.Now()));
  EXPECT_EQ(principal.client_id, rsa_.client_id);
  EXPECT_FALSE(principal.has_user());
  EXPECT_EQ(principal.purpose_of_use, "");
}

TEST_F(TokenServiceTest, ExpiredAssertionIsRefused) {
  for (absl::Duration ago : {absl::Seconds(1), absl::ZeroDuration(), absl::Hours(1)}) {
    Assertion a = For(ec_);
    a.exp = clock_.Now() - ago;
    EXPECT_THAT(Exchange(a.SignedWith(EcKey().private_pem)),
                OAuthRefusal("invalid_grant", absl::StatusCode::kUnauthenticated));
  }
}

TEST_F(TokenServiceTest, ExpTooFarAheadIsRefused) {
  Assertion a = For(ec_);
  a.exp = clock_.Now() + absl::Minutes(6);
  EXPECT_THAT(Exchange(a.SignedWith(EcKey().private_pem)),
              OAuthRefusal("invalid_grant", absl::StatusCode::kUnauthenticated));
  a.exp = clock_.Now() + absl::Minutes(5);  // exactly the limit
  EXPECT_THAT(Exchange(a.SignedWith(EcKey().private_pem)), IsOk());
}

TEST_F(TokenServiceTest, MissingClaimsAreInvalidRequest) {
  Assertion no_exp = For(ec_);
  no_exp.exp.reset();
  Assertion no_jti = For(ec_);
  no_jti.jti.clear();
  Assertion no_aud = For(ec_);
  no_aud.aud.clear();
  for (const Assertion& a : {no_exp, no_jti, no_aud}) {
    EXPECT_THAT(Exchange(a.SignedWith(EcKey().private_pem)),
                OAuthRefusal("invalid_request", absl::StatusCode::kInvalidArgument))
        << a.ClaimsJson();
  }
  EXPECT_THAT(Exchange("not.a.jws"),
              OAuthRefusal("invalid_request", absl::StatusCode::kInvalidArgument));
}

TEST_F(TokenServiceTest, WrongAudienceIsRefused) {
  for (const char* aud : {"https://node-b.example:8443/auth/token",
                          "https://node-a.example:8443/auth/token/", "https://node-a.example"}) {
    Assertion a = For(ec_);
    a.aud = aud;
    EXPECT_THAT(service_->Exchange(a.SignedWith(EcKey().private_pem), "system/*.read", kTokenUrl,
                                   clock_.Now()),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << aud;
  }
}

TEST_F(TokenServiceTest, AudienceArrayNamingTheEndpointIsAccepted) {
  Assertion a = For(ec_);
  std::string with_array = absl::StrCat(R"({"iss":")", a.iss, R"(","sub":")", a.sub,
                                        R"(","aud":["https://other",")", kTokenUrl, R"("],"exp":)",
                                        absl::ToUnixSeconds(*a.exp), R"(,"jti":"array-aud"})");
  ASSERT_OK_AND_ASSIGN(std::string token, SignJwt({}, with_array, EcKey().private_pem));
  EXPECT_THAT(Exchange(token), IsOk());
}

TEST_F(TokenServiceTest, SubjectMustBeTheClient) {
  Assertion a = For(ec_);
  a.sub = rsa_.client_id;
  EXPECT_THAT(Exchange(a.SignedWith(EcKey().private_pem)),
              OAuthRefusal("invalid_grant", absl::StatusCode::kUnauthenticated));
}

TEST_F(TokenServiceTest, ReplayedJtiIsRefusedAlsoAfterReopen) {
  std::string assertion = For(ec_).SignedWith(EcKey().private_pem);
  ASSERT_THAT(Exchange(assertion), IsOk());
  EXPECT_THAT(Exchange(assertion),
              OAuthRefusal("invalid_grant", absl::StatusCode::kUnauthenticated));
  Reopen();
  EXPECT_THAT(Exchange(assertion),
              OAuthRefusal("invalid_grant", absl::StatusCode::kUnauthenticated));
}

TEST_F(TokenServiceTest, ReplayIsRefusedAfterAPowerCut) {
  std::string assertion = For(ec_).SignedWith(EcKey().private_pem);
  ASSERT_THAT(Exchange(assertion), IsOk());
  Close();
  ASSERT_OK(env_.DropUnsyncedData());
  Open();
  EXPECT_THAT(Exchange(assertion),
              OAuthRefusal("invalid_grant", absl::StatusCode::kUnauthenticated));
}

TEST_F(TokenServiceTest, SameJtiFromAnotherClientIsNotAReplay) {
  Assertion ec = For(ec_);
  Assertion rsa = For(rsa_);
  rsa.jti = ec.jti;
  ASSERT_THAT(Exchange(ec.SignedWith(EcKey().private_pem)), IsOk());
  EXPECT_THAT(Exchange(rsa.SignedWith(RsaKey().private_pem), "system/Patient.rs"), IsOk());
}

TEST_F(TokenServiceTest, NoTokenWhenTheJtiCannotBeRecorded) {
  std::string assertion = For(ec_).SignedWith(EcKey().private_pem);
  env_.SetFilesystemFull(true);
  EXPECT_THAT(Exchange(assertion), StatusIs(absl::StatusCode::kUnavailable));
  env_.SetFilesystemFull(false);
}

TEST_F(TokenServiceTest, UsedJtisArePurgedOnceExpired) {
  ASSERT_THAT(Exchange(For(ec_).SignedWith(EcKey().private_pem)), IsOk());
  ASSERT_THAT(Exchange(For(ec_).SignedWith(EcKey().private_pem)), IsOk());
  EXPECT_THAT(service_->PurgeUsedAssertions(clock_.Now()), ::hie::testing::IsOkAndHolds(0));
  EXPECT_THAT(service_->PurgeUsedAssertions(clock_.Now() + absl::Minutes(5)),
              ::hie::testing::IsOkAndHolds(2));
  int left = 0;
  ASSERT_OK(store_->ScanPrefix(
      store::KeyBuilder().AddString("auth").Build(), [&](absl::string_view key, absl::string_view) {
        store::KeyReader reader(key);
        std::string auth, kind;
        left += reader.ReadString(&auth) && reader.ReadString(&kind) && kind != "client";
        return true;
      }));
  EXPECT_EQ(left, 0);
}

TEST_F(TokenServiceTest, ForgedSignatureIsRefused) {
  // Claims naming the EC client, signed with a key that is not its own.
  EXPECT_THAT(Exchange(For(ec_).SignedWith(OtherEcKey().private_pem)),
              OAuthRefusal("invalid_client", absl::StatusCode::kUnauthenticated));
}

TEST_F(TokenServiceTest, AlgorithmConfusionIsRefused) {
  std::string claims = For(ec_).ClaimsJson();
  std::string none = absl::StrCat(Base64UrlEncode(R"({"alg":"none","typ":"JWT"})"), ".",
                                  Base64UrlEncode(claims), ".");
  std::string input =
      absl::StrCat(Base64UrlEncode(R"({"alg":"HS384","typ":"JWT"})"), ".", Base64UrlEncode(claims));
  std::string hmac =
      absl::StrCat(input, ".", Base64UrlEncode(HmacSha384(EcKey().public_pem, input)));
  // A genuine RS384 signature, by a key the attacker holds, for the EC client.
  std::string rs384 = For(ec_).SignedWith(RsaKey().private_pem);
  for (const std::string& token : {none, hmac, rs384}) {
    absl::StatusOr<TokenResponse> response = Exchange(token);
    EXPECT_THAT(response, OAuthRefusal("invalid_client", absl::StatusCode::kUnauthenticated));
    EXPECT_THAT(response.status().message(), HasSubstr("registered for ES384"));
  }
}

TEST_F(TokenServiceTest, UnknownClientIsRefused) {
  Assertion a = For(ec_);
  a.iss = a.sub = "no-such-client";
  EXPECT_THAT(Exchange(a.SignedWith(EcKey().private_pem)),
              OAuthRefusal("invalid_client", absl::StatusCode::kUnauthenticated));
}

TEST_F(TokenServiceTest, RevokedClientIsRefusedAndItsTokensStop) {
  ASSERT_OK_AND_ASSIGN(TokenResponse response, Exchange(For(ec_).SignedWith(EcKey().private_pem)));
  ASSERT_THAT(service_->Verify(response.access_token, clock_.Now()), IsOk());
  ASSERT_OK(clients_->Revoke(ec_.client_id, clock_.Now()));
  EXPECT_THAT(service_->Verify(response.access_token, clock_.Now()),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("revoked")));
  EXPECT_THAT(Exchange(For(ec_).SignedWith(EcKey().private_pem)),
              OAuthRefusal("invalid_client", absl::StatusCode::kUnauthenticated));
}

TEST_F(TokenServiceTest, ScopesAreTheIntersection) {
  ASSERT_OK_AND_ASSIGN(
      TokenResponse response,
      Exchange(For(rsa_).SignedWith(RsaKey().private_pem),
               "system/*.read system/Encounter.write system/Patient.cruds openid"));
  EXPECT_EQ(response.scope, "system/Patient.read system/Observation.read");
  ASSERT_OK_AND_ASSIGN(Principal principal, service_->Verify(response.access_token, clock_.Now()));
  EXPECT_THAT(principal.scopes, ElementsAre("system/Patient.read", "system/Observation.read"));
}

TEST_F(TokenServiceTest, NoAllowedScopeIsInvalidScopeAndLeavesTheJtiUnused) {
  std::string assertion = For(rsa_).SignedWith(RsaKey().private_pem);
  for (const char* scope : {"system/Encounter.read", "system/Patient.write", "", "openid"}) {
    EXPECT_THAT(Exchange(assertion, scope),
                OAuthRefusal("invalid_scope", absl::StatusCode::kPermissionDenied))
        << scope;
  }
  EXPECT_THAT(Exchange(assertion, "system/Patient.rs"), IsOk());
}

TEST_F(TokenServiceTest, AccessTokenExpires) {
  ASSERT_OK_AND_ASSIGN(TokenResponse response, Exchange(For(ec_).SignedWith(EcKey().private_pem)));
  clock_.Advance(absl::Seconds(299));
  EXPECT_THAT(service_->Verify(response.access_token, clock_.Now()), IsOk());
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(service_->Verify(response.access_token, clock_.Now()),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired")));
}

TEST_F(TokenServiceTest, UnknownTokensDoNotVerify) {
  ASSERT_OK_AND_ASSIGN(TokenResponse response, Exchange(For(ec_).SignedWith(EcKey().private_pem)));
  std::string other = response.access_token;
  other[0] = other[0] == 'A' ? 'B' : 'A';
  for (const std::string& token : {other, std::string(), std::string("bearer")}) {
    EXPECT_THAT(service_->Verify(token, clock_.Now()),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
}

TEST_F(TokenServiceTest, TokensDoNotSurviveARestart) {
  ASSERT_OK_AND_ASSIGN(TokenResponse response, Exchange(For(ec_).SignedWith(EcKey().private_pem)));
  Reopen();
  EXPECT_THAT(service_->Verify(response.access_token, clock_.Now()),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(TokenServiceTest, EmergencyPurposeNeedsAReason) {
  for (const char* purpose : {"ETREAT", "BTG", "ERTREAT"}) {
    for (const char* reason : {"", "   "}) {
      Assertion a = For(ec_);
      a.b2b = B2b(purpose, reason);
      EXPECT_THAT(Exchange(a.SignedWith(EcKey().private_pem)),
                  OAuthRefusal("invalid_request", absl::StatusCode::kInvalidArgument))
          << purpose << " '" << reason << "'";
    }
  }
  Assertion a = For(ec_);
  a.b2b = B2b("ETREAT", "unconscious patient in the emergency department");
  ASSERT_OK_AND_ASSIGN(TokenResponse response, Exchange(a.SignedWith(EcKey().private_pem)));
  ASSERT_OK_AND_ASSIGN(Principal principal, service_->Verify(response.access_token, clock_.Now()));
  EXPECT_EQ(principal.purpose_of_use, "ETREAT");
  EXPECT_EQ(principal.reason, "unconscious patient in the emergency department");
}

TEST_F(TokenServiceTest, PurposeCodesAreChecked) {
  Assertion fast = For(ec_);
  fast.b2b = B2b("urn:oid:2.16.840.1.113883.5.8#HPAYMT");
  ASSERT_OK_AND_ASSIGN(TokenResponse response, Exchange(fast.SignedWith(EcKey().private_pem)));
  ASSERT_OK_AND_ASSIGN(Principal principal, service_->Verify(response.access_token, clock_.Now()));
  EXPECT_EQ(principal.purpose_of_use, "HPAYMT");

  const std::vector<std::string> refused = {
      B2b("SNOOPING"),
      B2b("treat"),
      B2b("http://example.org/codes#TREAT"),
      R"({"subject_id":"u1","purpose_of_use":["TREAT","HPAYMT"]})",
      R"({"subject_id":"u1","purpose_of_use":[]})",
      R"({"subject_id":"u1","purpose_of_use":"TREAT"})",
      R"({"subject_id":"u1"})",
      R"({"purpose_of_use":["TREAT"]})",
      R"({"subject_id":"u1","purpose_of_use":["TREAT"],"version":"2"})",
      R"({"subject_id":"u1\n","purpose_of_use":["TREAT"]})",
      R"({"subject_id":"u1","subject_id":"u2","purpose_of_use":["TREAT"]})",
      R"("TREAT")",
  };
  for (const std::string& b2b : refused) {
    Assertion a = For(ec_);
    a.b2b = b2b;
    EXPECT_THAT(Exchange(a.SignedWith(EcKey().private_pem)),
                OAuthRefusal("invalid_request", absl::StatusCode::kInvalidArgument))
        << b2b;
  }
}

TEST_F(TokenServiceTest, LiveTokensPerClientAreCapped) {
  TokenServiceOptions options;
  options.max_tokens_per_client = 2;
  Reopen(options);
  ASSERT_THAT(Exchange(For(ec_).SignedWith(EcKey().private_pem)), IsOk());
  ASSERT_THAT(Exchange(For(ec_).SignedWith(EcKey().private_pem)), IsOk());
  EXPECT_THAT(Exchange(For(ec_).SignedWith(EcKey().private_pem)),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(Exchange(For(rsa_).SignedWith(RsaKey().private_pem), "system/Patient.rs"), IsOk());
  clock_.Advance(absl::Seconds(300));
  EXPECT_THAT(Exchange(For(ec_).SignedWith(EcKey().private_pem)), IsOk());
}

TEST_F(TokenServiceTest, LifetimeIsConfigurableUpToAnHour) {
  TokenServiceOptions options;
  options.token_lifetime = absl::Hours(1);
  Reopen(options);
  ASSERT_OK_AND_ASSIGN(TokenResponse response, Exchange(For(ec_).SignedWith(EcKey().private_pem)));
  EXPECT_EQ(response.expires_in, 3600);
  for (absl::Duration bad : {absl::Hours(1) + absl::Seconds(1), absl::ZeroDuration()}) {
    options.token_lifetime = bad;
    EXPECT_THAT(TokenService::Create(clients_.get(), store_.get(), options),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(OAuthErrorTest, ErrorBodies) {
  absl::Status refused = MakeOAuthError(OAuthError::kInvalidGrant, "the assertion has expired");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(OAuthErrorOf(refused), Optional(std::string("invalid_grant")));
  EXPECT_EQ(OAuthErrorJson(refused),
            R"({"error": "invalid_grant", "error_description": "the assertion has expired"})");
  absl::Status internal = absl::InternalError("leveldb: /var/lib/hie/db corrupt");
  EXPECT_EQ(OAuthErrorOf(internal), std::nullopt);
  EXPECT_THAT(OAuthErrorJson(internal), HasSubstr(R"("error": "server_error")"));
  EXPECT_THAT(OAuthErrorJson(internal), ::testing::Not(HasSubstr("leveldb")));
}

TEST(OAuthErrorTest, TokenRequestForm) {
  constexpr char kJwtBearer[] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
  EXPECT_OK(CheckTokenRequest("client_credentials", kJwtBearer));
  absl::Status grant = CheckTokenRequest("authorization_code", kJwtBearer);
  EXPECT_THAT(OAuthErrorOf(grant), Optional(std::string("unsupported_grant_type")));
  absl::Status type = CheckTokenRequest("client_credentials", "urn:other");
  EXPECT_THAT(OAuthErrorOf(type), Optional(std::string("invalid_request")));
}

}  // namespace
}  // namespace hie::auth
