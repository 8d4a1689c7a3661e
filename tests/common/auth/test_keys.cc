#include "tests/common/auth/test_keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <memory>

#include "common/auth/jwt.h"
#include "common/json/json_writer.h"

namespace hie::auth::testing {
namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::string Pem(EVP_PKEY* key, bool private_key) {
  std::unique_ptr<BIO, decltype(&BIO_free_all)> bio(BIO_new(BIO_s_mem()), BIO_free_all);
  int ok = private_key ? PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                                       nullptr)
                       : PEM_write_bio_PUBKEY(bio.get(), key);
  if (ok != 1) std::abort();
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string Bignum(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) std::abort();
  std::string bytes(BN_num_bytes(bn), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
  BN_free(bn);
  return Base64UrlEncode(bytes);
}

std::string EcJwk(EVP_PKEY* key, const char* curve) {
  unsigned char point[1 + 2 * 66];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len) !=
          1 ||
      point[0] != 0x04) {
    std::abort();
  }
  size_t half = (len - 1) / 2;
  std::string x(reinterpret_cast<char*>(point) + 1, half);
  std::string y(reinterpret_cast<char*>(point) + 1 + half, half);
  return JsonObject()
      .Add("kty", "EC")
      .Add("crv", curve)
      .Add("x", Base64UrlEncode(x))
      .Add("y", Base64UrlEncode(y))
      .Build();
}

TestKey Describe(EVP_PKEY* key, std::string jwk) {
  return TestKey{Pem(key, true), Pem(key, false), std::move(jwk)};
}

}  // namespace

TestKey NewEcKey(const char* curve) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve), EVP_PKEY_free);
  if (key == nullptr) std::abort();
  return Describe(key.get(), EcJwk(key.get(), curve));
}

TestKey NewRsaKey(int bits) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)), EVP_PKEY_free);
  if (key == nullptr) std::abort();
  std::string jwk = JsonObject()
                        .Add("kty", "RSA")
                        .Add("n", Bignum(key.get(), OSSL_PKEY_PARAM_RSA_N))
                        .Add("e", Bignum(key.get(), OSSL_PKEY_PARAM_RSA_E))
                        .Build();
  return Describe(key.get(), jwk);
}

const TestKey& EcKey() {
  static const TestKey* key = new TestKey(NewEcKey());
  return *key;
}

const TestKey& OtherEcKey() {
  static const TestKey* key = new TestKey(NewEcKey());
  return *key;
}

const TestKey& RsaKey() {
  static const TestKey* key = new TestKey(NewRsaKey());
  return *key;
}

std::string HmacSha384(const std::string& secret, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha384(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

}  // namespace hie::auth::testing
