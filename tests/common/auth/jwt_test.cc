// JWS compact tokens: ES384 and RS384 round trips, keys from PEM and JWK, and every way
// of getting a token past a verifier that trusted the token's own "alg".
#include "common/auth/jwt.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/auth/test_keys.h"

namespace hie::auth {
namespace {

using ::hie::auth::testing::EcKey;
using ::hie::auth::testing::HmacSha384;
using ::hie::auth::testing::NewEcKey;
using ::hie::auth::testing::NewRsaKey;
using ::hie::auth::testing::OtherEcKey;
using ::hie::auth::testing::RsaKey;
using ::hie::testing::IsOk;
using ::hie::testing::IsOkAndHolds;
using ::hie::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kClaims[] = R"({"iss":"c1","sub":"c1","aud":"https://node/token","jti":"j1"})";

// A token with any header and signature, as an attacker would write it.
std::string Compact(const std::string& header, const std::string& payload,
                    const std::string& signature) {
  return absl::StrCat(Base64UrlEncode(header), ".", Base64UrlEncode(payload), ".",
                      Base64UrlEncode(signature));
}

std::vector<std::string> Segments(const std::string& token) { return absl::StrSplit(token, '.'); }

JwtPublicKey Key(const std::string& text, JwsAlgorithm algorithm) {
  absl::StatusOr<JwtPublicKey> key = JwtPublicKey::Parse(text, algorithm);
  EXPECT_THAT(key, IsOk());
  return *key;
}

TEST(JwtTest, Es384RoundTripWithRawSignature) {
  ASSERT_OK_AND_ASSIGN(std::string token, SignJwt({{"kid", "k1"}}, kClaims, EcKey().private_pem));
  ASSERT_OK_AND_ASSIGN(Jws jws, ParseJws(token));
  EXPECT_EQ(jws.algorithm, "ES384");
  EXPECT_EQ(jws.signature.size(), 96u);  // r||s, not DER
  EXPECT_EQ(jws.header_json, R"({"alg": "ES384", "typ": "JWT", "kid": "k1"})");
  EXPECT_THAT(VerifyJwt(token, Key(EcKey().public_pem, JwsAlgorithm::kES384)),
              IsOkAndHolds(std::string(kClaims)));
}

TEST(JwtTest, Rs384RoundTrip) {
  ASSERT_OK_AND_ASSIGN(std::string token, SignJwt({}, kClaims, RsaKey().private_pem));
  ASSERT_OK_AND_ASSIGN(Jws jws, ParseJws(token));
  EXPECT_EQ(jws.algorithm, "RS384");
  EXPECT_EQ(jws.signature.size(), 256u);
  EXPECT_THAT(VerifyJwt(token, Key(RsaKey().public_pem, JwsAlgorithm::kRS384)), IsOk());
}

TEST(JwtTest, JwkKeysVerifyLikeTheirPem) {
  ASSERT_OK_AND_ASSIGN(std::string ec, SignJwt({}, kClaims, EcKey().private_pem));
  ASSERT_OK_AND_ASSIGN(std::string rsa, SignJwt({}, kClaims, RsaKey().private_pem));
  JwtPublicKey ec_key = Key(EcKey().public_jwk, JwsAlgorithm::kES384);
  JwtPublicKey rsa_key = Key(RsaKey().public_jwk, JwsAlgorithm::kRS384);
  EXPECT_THAT(VerifyJwt(ec, ec_key), IsOk());
  EXPECT_THAT(VerifyJwt(rsa, rsa_key), IsOk());
  EXPECT_EQ(ec_key.ToPem(), EcKey().public_pem);
  EXPECT_EQ(rsa_key.ToPem(), RsaKey().public_pem);
}

TEST(JwtTest, EveryTamperedSegmentFails) {
  ASSERT_OK_AND_ASSIGN(std::string token, SignJwt({}, kClaims, EcKey().private_pem));
  JwtPublicKey key = Key(EcKey().public_pem, JwsAlgorithm::kES384);
  std::vector<std::string> parts = Segments(token);
  std::string other_payload = R"({"iss":"c2","sub":"c2","aud":"https://node/token","jti":"j1"})";
  EXPECT_THAT(
      VerifyJwt(absl::StrCat(parts[0], ".", Base64UrlEncode(other_payload), ".", parts[2]), key),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("does not verify")));
  std::string signature;
  ASSERT_TRUE(Base64UrlDecode(parts[2], &signature));
  signature[10] ^= 1;
  EXPECT_THAT(
      VerifyJwt(absl::StrCat(parts[0], ".", parts[1], ".", Base64UrlEncode(signature)), key),
      StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(VerifyJwt(absl::StrCat(parts[0], ".", parts[1], ".",
                                     Base64UrlEncode(signature.substr(0, 95))),
                        key),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("96 bytes")));
}

TEST(JwtTest, AnotherKeysSignatureFails) {
  ASSERT_OK_AND_ASSIGN(std::string token, SignJwt({}, kClaims, OtherEcKey().private_pem));
  EXPECT_THAT(VerifyJwt(token, Key(EcKey().public_pem, JwsAlgorithm::kES384)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("does not verify")));
}

TEST(JwtAlgorithmTest, NoneIsRefused) {
  std::string token = Compact(R"({"alg":"none","typ":"JWT"})", kClaims, "");
  EXPECT_THAT(VerifyJwt(token, Key(EcKey().public_pem, JwsAlgorithm::kES384)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("\"none\"")));
}

TEST(JwtAlgorithmTest, HmacWithThePublicKeyAsSecretIsRefused) {
  // The classic confusion: HS384 keyed with the public key the verifier holds.
  for (const std::string& secret : {EcKey().public_pem, RsaKey().public_pem}) {
    std::string header = Base64UrlEncode(R"({"alg":"HS384","typ":"JWT"})");
    std::string input = absl::StrCat(header, ".", Base64UrlEncode(kClaims));
    std::string token = absl::StrCat(input, ".", Base64UrlEncode(HmacSha384(secret, input)));
    EXPECT_THAT(VerifyJwt(token, Key(EcKey().public_pem, JwsAlgorithm::kES384)),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("HS384")));
    EXPECT_THAT(VerifyJwt(token, Key(RsaKey().public_pem, JwsAlgorithm::kRS384)),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("HS384")));
  }
}

TEST(JwtAlgorithmTest, ValidTokenOfTheOtherAlgorithmIsRefused) {
  ASSERT_OK_AND_ASSIGN(std::string rsa_token, SignJwt({}, kClaims, RsaKey().private_pem));
  EXPECT_THAT(VerifyJwt(rsa_token, Key(EcKey().public_pem, JwsAlgorithm::kES384)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("registered for ES384")));
  ASSERT_OK_AND_ASSIGN(std::string ec_token, SignJwt({}, kClaims, EcKey().private_pem));
  EXPECT_THAT(VerifyJwt(ec_token, Key(RsaKey().public_pem, JwsAlgorithm::kRS384)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("registered for RS384")));
}

TEST(JwtAlgorithmTest, RelabelledHeaderIsRefused) {
  // A genuine ES384 signature under a header that now says ES256 or RS384.
  ASSERT_OK_AND_ASSIGN(std::string token, SignJwt({}, kClaims, EcKey().private_pem));
  std::string signature;
  ASSERT_TRUE(Base64UrlDecode(Segments(token)[2], &signature));
  JwtPublicKey key = Key(EcKey().public_pem, JwsAlgorithm::kES384);
  for (const char* alg : {"ES256", "RS384", "es384", "ES384 "}) {
    std::string forged = Compact(absl::StrCat(R"({"alg":")", alg, R"("})"), kClaims, signature);
    EXPECT_THAT(VerifyJwt(forged, key), StatusIs(absl::StatusCode::kUnauthenticated)) << alg;
  }
}

TEST(JwtAlgorithmTest, AlgorithmNamesAreExact) {
  EXPECT_THAT(ParseJwsAlgorithm("ES384"), IsOkAndHolds(JwsAlgorithm::kES384));
  EXPECT_THAT(ParseJwsAlgorithm("RS384"), IsOkAndHolds(JwsAlgorithm::kRS384));
  for (const char* name : {"none", "HS384", "HS256", "ES256", "RS256", "PS384", "es384", ""}) {
    EXPECT_THAT(ParseJwsAlgorithm(name), StatusIs(absl::StatusCode::kInvalidArgument)) << name;
  }
}

TEST(JwtKeyTest, KeysThatDoNotSuitTheAlgorithmAreRefused) {
  auto refused = [](const std::string& text, JwsAlgorithm algorithm) {
    return JwtPublicKey::Parse(text, algorithm).status().code() ==
           absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(refused(NewEcKey("P-256").public_pem, JwsAlgorithm::kES384));
  EXPECT_TRUE(refused(NewEcKey("P-256").public_jwk, JwsAlgorithm::kES384));
  EXPECT_TRUE(refused(RsaKey().public_pem, JwsAlgorithm::kES384));
  EXPECT_TRUE(refused(EcKey().public_pem, JwsAlgorithm::kRS384));
  EXPECT_TRUE(refused(EcKey().public_jwk, JwsAlgorithm::kRS384));
  EXPECT_TRUE(refused(NewRsaKey(1024).public_pem, JwsAlgorithm::kRS384));
  EXPECT_TRUE(refused("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n",
                      JwsAlgorithm::kES384));
  EXPECT_TRUE(refused(EcKey().private_pem, JwsAlgorithm::kES384));
}

TEST(JwtKeyTest, JwkThatSaysTooMuchIsRefused) {
  std::string jwk = EcKey().public_jwk;
  jwk.pop_back();  // drop the closing brace to append members
  for (const char* extra :
       {R"(,"d":"AAAA"})", R"(,"alg":"RS384"})", R"(,"use":"enc"})", R"(,"kty":"EC"})"}) {
    EXPECT_THAT(JwtPublicKey::FromJwk(jwk + extra, JwsAlgorithm::kES384),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << extra;
  }
  EXPECT_THAT(
      JwtPublicKey::FromJwk(jwk + R"(,"alg":"ES384","use":"sig","kid":"k"})", JwsAlgorithm::kES384),
      IsOk());
}

TEST(JwtKeyTest, JwkPointOffTheCurveIsRefused) {
  std::string x(48, '\x01'), y(48, '\x02');
  std::string jwk = absl::StrCat(R"({"kty":"EC","crv":"P-384","x":")", Base64UrlEncode(x),
                                 R"(","y":")", Base64UrlEncode(y), R"("})");
  EXPECT_THAT(JwtPublicKey::FromJwk(jwk, JwsAlgorithm::kES384),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::string short_x =
      absl::StrCat(R"({"kty":"EC","crv":"P-384","x":")", Base64UrlEncode(x.substr(0, 47)),
                   R"(","y":")", Base64UrlEncode(y), R"("})");
  EXPECT_THAT(JwtPublicKey::FromJwk(short_x, JwsAlgorithm::kES384),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("48 bytes")));
}

TEST(JwsParseTest, MalformedTokensAreInvalidArgument) {
  std::string header = Base64UrlEncode(R"({"alg":"ES384"})");
  std::string payload = Base64UrlEncode(kClaims);
  const std::vector<std::string> malformed = {
      "",
      "abc",
      absl::StrCat(header, ".", payload),
      absl::StrCat(header, ".", payload, ".AAAA.AAAA"),
      absl::StrCat(header, "=.", payload, ".AAAA"),  // padding
      absl::StrCat(header, ".", payload, ".AA+/"),   // not the URL-safe alphabet
      absl::StrCat(header, ".", payload, ".AAB"),    // non-canonical trailing bits
      absl::StrCat(".", payload, ".AAAA"),           // empty header
      absl::StrCat(Base64UrlEncode("not json"), ".", payload, ".AAAA"),
      absl::StrCat(Base64UrlEncode("[1]"), ".", payload, ".AAAA"),
      absl::StrCat(Base64UrlEncode(R"({"typ":"JWT"})"), ".", payload, ".AAAA"),
      absl::StrCat(Base64UrlEncode(R"({"alg":7})"), ".", payload, ".AAAA"),
      absl::StrCat(Base64UrlEncode(R"({"alg":"ES384","alg":"none"})"), ".", payload, ".AAAA"),
      absl::StrCat(Base64UrlEncode(R"({"alg":"none","\u0061lg":"ES384"})"), ".", payload, ".AAAA"),
      absl::StrCat(Base64UrlEncode(R"({"alg":"ES384","crit":["exp"]})"), ".", payload, ".AAAA"),
      absl::StrCat(header, ".", Base64UrlEncode("\"a string\""), ".AAAA"),
      absl::StrCat(header, ".", Base64UrlEncode(R"({"a":1,"a":2})"), ".AAAA"),
  };
  for (const std::string& token : malformed) {
    EXPECT_THAT(ParseJws(token), StatusIs(absl::StatusCode::kInvalidArgument)) << token;
  }
}

TEST(Base64UrlTest, RoundTripsAndRefusesLookalikes) {
  for (const std::string& data : {std::string(""), std::string("f"), std::string("fo"),
                                  std::string("foo"), std::string("\xff\xfe\x00", 3)}) {
    std::string decoded;
    ASSERT_TRUE(Base64UrlDecode(Base64UrlEncode(data), &decoded));
    EXPECT_EQ(decoded, data);
  }
  std::string out;
  EXPECT_FALSE(Base64UrlDecode("Zg==", &out));
  EXPECT_FALSE(Base64UrlDecode("Zh", &out));  // "f" is Zg; Zh has stray low bits
  EXPECT_FALSE(Base64UrlDecode("Z", &out));
  EXPECT_FALSE(Base64UrlDecode("Zm9v\n", &out));
  EXPECT_FALSE(Base64UrlDecode("+/+/", &out));
  EXPECT_TRUE(Base64UrlDecode("-_-_", &out));
}

TEST(SignJwtTest, RefusesWhatItCannotSignHonestly) {
  EXPECT_THAT(SignJwt({{"alg", "RS384"}}, kClaims, EcKey().private_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("disagrees")));
  EXPECT_THAT(SignJwt({{"alg", "ES384"}}, kClaims, EcKey().private_pem), IsOk());
  EXPECT_THAT(SignJwt({}, "[1,2]", EcKey().private_pem),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SignJwt({}, kClaims, EcKey().public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SignJwt({}, kClaims, NewEcKey("P-256").private_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("P-384")));
}

TEST(SignJwtTest, TypCanBeReplaced) {
  ASSERT_OK_AND_ASSIGN(std::string token,
                       SignJwt({{"typ", "at+jwt"}, {"kid", "k"}}, kClaims, EcKey().private_pem));
  ASSERT_OK_AND_ASSIGN(Jws jws, ParseJws(token));
  EXPECT_EQ(jws.header_json, R"({"alg": "ES384", "typ": "at+jwt", "kid": "k"})");
}

}  // namespace
}  // namespace hie::auth
