// JSON Web Tokens in JWS compact form (RFC 7515, RFC 7519), as SMART Backend Services
// clients sign them: ES384 (ECDSA P-384, SHA-384) or RS384 (RSASSA-PKCS1-v1_5, SHA-384).
//
// The algorithm is never taken from the token. A verifier holds a JwtPublicKey whose
// algorithm was pinned when the client registered, and a token whose header names
// another algorithm ("none", HS384, RS384 for an EC key...) is refused before any
// signature is checked: with a pinned algorithm, a public key can never be mistaken for
// an HMAC secret, nor an unsigned token for a signed one.
#ifndef HIE_COMMON_AUTH_JWT_H_
#define HIE_COMMON_AUTH_JWT_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace hie::auth {

// The signature algorithms a client may register.
enum class JwsAlgorithm {
  kES384,  // ECDSA on P-384 with SHA-384; the JWS signature is r||s, 96 bytes
  kRS384,  // RSASSA-PKCS1-v1_5 with SHA-384, RSA modulus of 2048 to 8192 bits
};

// "ES384" or "RS384".
absl::string_view JwsAlgorithmName(JwsAlgorithm algorithm);
// Inverse of JwsAlgorithmName (exact match). Errors: InvalidArgument for any other name,
// "none" and the HMAC algorithms included.
absl::StatusOr<JwsAlgorithm> ParseJwsAlgorithm(absl::string_view name);

// base64url without padding (RFC 7515 section 2).
std::string Base64UrlEncode(absl::string_view data);
// Strict inverse of Base64UrlEncode: only the URL-safe alphabet, no padding, no
// whitespace, and only the canonical encoding of each value. False otherwise.
bool Base64UrlDecode(absl::string_view text, std::string* out);

// A compact JWS split and decoded, not yet verified: nothing in it may be trusted until
// JwtPublicKey::Verify accepts it.
struct Jws {
  std::string header_json;    // the decoded protected header, a JSON object
  std::string payload_json;   // the decoded payload
  std::string signing_input;  // the first two segments as sent, what was signed
  std::string signature;      // the decoded signature bytes
  std::string algorithm;      // the header's "alg"
};

// Splits and decodes `compact` (header.payload.signature). Errors: InvalidArgument if it
// is not three base64url segments, the header is not a JSON object with a string "alg"
// (each member once), the header has "crit" (no extension is understood here), or the
// payload is not a JSON object.
absl::StatusOr<Jws> ParseJws(absl::string_view compact);

// A public key that verifies tokens of one algorithm. Copyable; thread-safe.
class JwtPublicKey {
 public:
  // From a PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----").
  // Errors: InvalidArgument if it does not parse or does not suit `algorithm` (ES384
  // needs an EC key on P-384; RS384 an RSA key of 2048 to 8192 bits).
  static absl::StatusOr<JwtPublicKey> FromPem(absl::string_view pem, JwsAlgorithm algorithm);
  // From a JWK (RFC 7517): {"kty":"EC","crv":"P-384","x":..,"y":..} or
  // {"kty":"RSA","n":..,"e":..}. Errors: InvalidArgument as FromPem, and if the JWK
  // names another "alg", a "use" other than "sig", or carries private key members.
  static absl::StatusOr<JwtPublicKey> FromJwk(absl::string_view jwk_json, JwsAlgorithm algorithm);
  // FromJwk if `text` (after leading whitespace) starts with '{', else FromPem.
  static absl::StatusOr<JwtPublicKey> Parse(absl::string_view text, JwsAlgorithm algorithm);

  JwsAlgorithm algorithm() const { return algorithm_; }
  // PEM SubjectPublicKeyInfo; empty only if OpenSSL fails.
  std::string ToPem() const;

  // OK if `jws` names this key's algorithm and its signature verifies.
  // Errors: Unauthenticated, saying whether the algorithm or the signature failed.
  absl::Status Verify(const Jws& jws) const;

 private:
  JwtPublicKey(std::shared_ptr<EVP_PKEY> key, JwsAlgorithm algorithm)
      : key_(std::move(key)), algorithm_(algorithm) {}
  static absl::StatusOr<JwtPublicKey> Checked(EVP_PKEY* key, JwsAlgorithm algorithm);

  std::shared_ptr<EVP_PKEY> key_;
  JwsAlgorithm algorithm_;
};

// Parses and verifies `compact` with `key`; returns the payload JSON.
// Errors: InvalidArgument if malformed (ParseJws); Unauthenticated as Verify.
absl::StatusOr<std::string> VerifyJwt(absl::string_view compact, const JwtPublicKey& key);

// Signs `payload_json` (a JSON object) with the PEM private key `private_key_pem` (PKCS#8
// or traditional, unencrypted): the algorithm follows from the key (EC P-384: ES384;
// RSA of 2048 to 8192 bits: RS384). The header is {"alg":..,"typ":"JWT"} followed by
// `header_fields` as string members (e.g. {"kid", "key-1"}); a field may replace "typ"
// but not change "alg". Returns the compact JWS. For clients (hiectl) and tests; the
// exchange itself never signs these.
// Errors: InvalidArgument for an unsuitable key, a payload that is not a JSON object, or
// an "alg" field that disagrees with the key.
absl::StatusOr<std::string> SignJwt(
    const std::vector<std::pair<std::string, std::string>>& header_fields,
    absl::string_view payload_json, absl::string_view private_key_pem);

}  // namespace hie::auth

#endif  // HIE_COMMON_AUTH_JWT_H_
