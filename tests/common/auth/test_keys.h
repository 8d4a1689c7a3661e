// Keys minted per test run with OpenSSL, in the forms clients register them: PEM and
// JWK. RSA generation is slow, so each kind of key is made once per binary.
#ifndef HIE_TESTS_COMMON_AUTH_TEST_KEYS_H_
#define HIE_TESTS_COMMON_AUTH_TEST_KEYS_H_

#include <string>

namespace hie::auth::testing {

struct TestKey {
  std::string private_pem;  // PKCS#8
  std::string public_pem;   // SubjectPublicKeyInfo
  std::string public_jwk;   // {"kty":..} with the public members only
};

// Fresh keys on each call.
TestKey NewEcKey(const char* curve = "P-384");
TestKey NewRsaKey(int bits = 2048);

// One shared key of each kind (first use generates it).
const TestKey& EcKey();
const TestKey& OtherEcKey();
const TestKey& RsaKey();

// HMAC-SHA-384 of `message` under `secret`: what an attacker signs HS384 tokens with.
std::string HmacSha384(const std::string& secret, const std::string& message);

}  // namespace hie::auth::testing

#endif  // HIE_TESTS_COMMON_AUTH_TEST_KEYS_H_
