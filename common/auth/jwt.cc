#include "common/auth/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/auth/json_internal.h"
#include "common/json/json_writer.h"
#include "common/pki/openssl_internal.h"
#include "common/status/status_macros.h"

namespace hie::auth {
namespace {

// OpenSSL's objects owned as common/pki owns them.
using pki::internal::Deleter;
using pki::internal::OpenSslError;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;

// P-384 coordinates and each half of an ES384 signature.
constexpr size_t kP384Bytes = 48;
constexpr int kMinRsaBits = 2048;
// Verification cost grows with the modulus; nobody needs more than this.
constexpr int kMaxRsaBits = 8192;

// A token's own text in an error message: short and printable.
std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, 32)), text.size() > 32 ? "..." : "",
                      "\"");
}

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Never prompts on a terminal for an encrypted key's password: refuses it instead.
int NoPassword(char*, int, int, void*) { return 0; }

absl::Status CheckSuits(EVP_PKEY* key, JwsAlgorithm algorithm) {
  if (algorithm == JwsAlgorithm::kES384) {
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
      return absl::InvalidArgumentError("ES384 needs an EC key");
    }
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1 ||
        absl::string_view(group, len) != "secp384r1") {
      ERR_clear_error();
      return absl::InvalidArgumentError("ES384 needs a key on curve P-384");
    }
    return absl::OkStatus();
  }
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
    return absl::InvalidArgumentError("RS384 needs an RSA key");
  }
  int bits = EVP_PKEY_get_bits(key);
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return absl::InvalidArgumentError(absl::StrCat("RS384 needs an RSA key of ", kMinRsaBits,
                                                   " to ", kMaxRsaBits, " bits, not ", bits));
  }
  return absl::OkStatus();
}

// The algorithm a private key signs with.
absl::StatusOr<JwsAlgorithm> AlgorithmOf(EVP_PKEY* key) {
  JwsAlgorithm algorithm =
      EVP_PKEY_get_base_id(key) == EVP_PKEY_EC ? JwsAlgorithm::kES384 : JwsAlgorithm::kRS384;
  HIE_RETURN_IF_ERROR(CheckSuits(key, algorithm));
  return algorithm;
}

// JWS carries an ECDSA signature as r||s (RFC 7518 section 3.4); OpenSSL speaks DER.
absl::StatusOr<std::string> RawToDer(absl::string_view raw) {
  if (raw.size() != 2 * kP384Bytes) {
    return absl::UnauthenticatedError(
        absl::StrCat("an ES384 signature is 96 bytes, not ", raw.size()));
  }
  BignumPtr r(BN_bin2bn(Bytes(raw), kP384Bytes, nullptr));
  BignumPtr s(BN_bin2bn(Bytes(raw) + kP384Bytes, kP384Bytes, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || sig == nullptr ||
      ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return absl::InternalError("ECDSA signature: " + OpenSslError());
  }
  r.release();  // owned by sig now
  s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return absl::InternalError("ECDSA signature: " + OpenSslError());
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<std::string> DerToRaw(absl::string_view der) {
  const unsigned char* p = Bytes(der);
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (sig == nullptr) return absl::InternalError("ECDSA signature: " + OpenSslError());
  std::string raw(2 * kP384Bytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, kP384Bytes) != kP384Bytes ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + kP384Bytes, kP384Bytes) != kP384Bytes) {
    return absl::InternalError("ECDSA signature does not fit P-384");
  }
  return raw;
}

absl::StatusOr<std::string> Jwk64(simdjson::dom::object jwk, const char* member) {
  HIE_ASSIGN_OR_RETURN(std::string text, internal::RequiredString(jwk, member));
  std::string bytes;
  if (!Base64UrlDecode(text, &bytes) || bytes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("JWK \"", member, "\" is not base64url"));
  }
  return bytes;
}

absl::StatusOr<PkeyPtr> KeyFromParams(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return absl::InvalidArgumentError("JWK is not a valid public key: " + OpenSslError());
  }
  return PkeyPtr(key);
}

absl::StatusOr<PkeyPtr> EcKeyFromJwk(simdjson::dom::object jwk) {
  HIE_ASSIGN_OR_RETURN(std::string crv, internal::RequiredString(jwk, "crv"));
  if (crv != "P-384") return absl::InvalidArgumentError("ES384 needs a key on curve P-384");
  HIE_ASSIGN_OR_RETURN(std::string x, Jwk64(jwk, "x"));
  HIE_ASSIGN_OR_RETURN(std::string y, Jwk64(jwk, "y"));
  if (x.size() != kP384Bytes || y.size() != kP384Bytes) {
    return absl::InvalidArgumentError("JWK \"x\" and \"y\" of a P-384 key are 48 bytes each");
  }
  std::string point = absl::StrCat("\x04", x, y);  // uncompressed point (SEC 1)
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return absl::InternalError("JWK import: " + OpenSslError());
  }
  return KeyFromParams("EC", bld.get());
}

absl::StatusOr<PkeyPtr> RsaKeyFromJwk(simdjson::dom::object jwk) {
  HIE_ASSIGN_OR_RETURN(std::string n_bytes, Jwk64(jwk, "n"));
  HIE_ASSIGN_OR_RETURN(std::string e_bytes, Jwk64(jwk, "e"));
  BignumPtr n(BN_bin2bn(Bytes(n_bytes), static_cast<int>(n_bytes.size()), nullptr));
  BignumPtr e(BN_bin2bn(Bytes(e_bytes), static_cast<int>(e_bytes.size()), nullptr));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (n == nullptr || e == nullptr || bld == nullptr ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return absl::InternalError("JWK import: " + OpenSslError());
  }
  return KeyFromParams("RSA", bld.get());
}

// A JWK must say nothing that contradicts the registration.
absl::Status CheckJwkMembers(simdjson::dom::object jwk, JwsAlgorithm algorithm) {
  for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (!jwk.at_key(secret).error()) {
      return absl::InvalidArgumentError(
          "JWK holds private key material: register the public key only");
    }
  }
  HIE_ASSIGN_OR_RETURN(std::optional<std::string> alg, internal::OptionalString(jwk, "alg"));
  if (alg.has_value() && *alg != JwsAlgorithmName(algorithm)) {
    return absl::InvalidArgumentError(
        absl::StrCat("JWK is for ", Quoted(*alg), ", not ", JwsAlgorithmName(algorithm)));
  }
  HIE_ASSIGN_OR_RETURN(std::optional<std::string> use, internal::OptionalString(jwk, "use"));
  if (use.has_value() && *use != "sig") {
    return absl::InvalidArgumentError("JWK \"use\" is not \"sig\"");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignBytes(EVP_PKEY* key, JwsAlgorithm algorithm,
                                      absl::string_view message) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha384(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, Bytes(message), message.size()) != 1) {
    return absl::InternalError("signing: " + OpenSslError());
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     Bytes(message), message.size()) != 1) {
    return absl::InternalError("signing: " + OpenSslError());
  }
  signature.resize(len);
  if (algorithm == JwsAlgorithm::kES384) return DerToRaw(signature);
  return signature;
}

// {"alg":..,"typ":"JWT", fields...} with fields replacing typ, never alg.
absl::StatusOr<std::string> HeaderJson(
    JwsAlgorithm algorithm, const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::pair<std::string, std::string>> members = {
      {"alg", std::string(JwsAlgorithmName(algorithm))}, {"typ", "JWT"}};
  for (const auto& field : fields) {
    if (field.first == "alg" && field.second != members[0].second) {
      return absl::InvalidArgumentError(absl::StrCat("header alg ", Quoted(field.second),
                                                     " disagrees with the key's ",
                                                     JwsAlgorithmName(algorithm)));
    }
    auto it = std::find_if(members.begin(), members.end(),
                           [&](const auto& member) { return member.first == field.first; });
    if (it != members.end()) {
      it->second = field.second;
    } else {
      members.push_back(field);
    }
  }
  JsonObject header;
  for (const auto& [name, value] : members) header.Add(name, value);
  return header.Build();
}

}  // namespace

absl::string_view JwsAlgorithmName(JwsAlgorithm algorithm) {
  return algorithm == JwsAlgorithm::kES384 ? "ES384" : "RS384";
}

absl::StatusOr<JwsAlgorithm> ParseJwsAlgorithm(absl::string_view name) {
  if (name == "ES384") return JwsAlgorithm::kES384;
  if (name == "RS384") return JwsAlgorithm::kRS384;
  return absl::InvalidArgumentError(
      absl::StrCat("signature algorithm ", Quoted(name), " is not ES384 or RS384"));
}

std::string Base64UrlEncode(absl::string_view data) { return absl::WebSafeBase64Escape(data); }

bool Base64UrlDecode(absl::string_view text, std::string* out) {
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  if (text.size() % 4 == 1 || !absl::WebSafeBase64Unescape(text, out)) return false;
  // Unused trailing bits must be zero, so that each value has exactly one encoding.
  return Base64UrlEncode(*out) == text;
}

absl::StatusOr<Jws> ParseJws(absl::string_view compact) {
  std::vector<absl::string_view> parts = absl::StrSplit(compact, '.');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError("a JWS is three base64url segments separated by '.'");
  }
  Jws jws;
  if (parts[0].empty() || !Base64UrlDecode(parts[0], &jws.header_json)) {
    return absl::InvalidArgumentError("JWS header is not base64url");
  }
  if (parts[1].empty() || !Base64UrlDecode(parts[1], &jws.payload_json)) {
    return absl::InvalidArgumentError("JWS payload is not base64url");
  }
  if (!Base64UrlDecode(parts[2], &jws.signature)) {
    return absl::InvalidArgumentError("JWS signature is not base64url");
  }
  jws.signing_input = absl::StrCat(parts[0], ".", parts[1]);
  simdjson::dom::parser parser;
  simdjson::dom::object header;
  HIE_RETURN_IF_ERROR(internal::ParseObject(parser, jws.header_json, "JWS header", &header));
  HIE_ASSIGN_OR_RETURN(jws.algorithm, internal::RequiredString(header, "alg"));
  if (!header.at_key("crit").error()) {
    return absl::InvalidArgumentError("JWS header \"crit\" names extensions not supported here");
  }
  simdjson::dom::object payload;
  HIE_RETURN_IF_ERROR(internal::ParseObject(parser, jws.payload_json, "JWT claims", &payload));
  return jws;
}

// ---- JwtPublicKey

absl::StatusOr<JwtPublicKey> JwtPublicKey::Checked(EVP_PKEY* key, JwsAlgorithm algorithm) {
  std::shared_ptr<EVP_PKEY> owner(key, EVP_PKEY_free);
  HIE_RETURN_IF_ERROR(CheckSuits(key, algorithm));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (ctx == nullptr || EVP_PKEY_public_check(ctx.get()) != 1) {
    return absl::InvalidArgumentError("not a valid public key: " + OpenSslError());
  }
  return JwtPublicKey(std::move(owner), algorithm);
}

absl::StatusOr<JwtPublicKey> JwtPublicKey::FromPem(absl::string_view pem, JwsAlgorithm algorithm) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassword, nullptr);
  if (key == nullptr) {
    return absl::InvalidArgumentError("not a PEM public key: " + OpenSslError());
  }
  return Checked(key, algorithm);
}

absl::StatusOr<JwtPublicKey> JwtPublicKey::FromJwk(absl::string_view jwk_json,
                                                   JwsAlgorithm algorithm) {
  simdjson::dom::parser parser;
  simdjson::dom::object jwk;
  HIE_RETURN_IF_ERROR(internal::ParseObject(parser, jwk_json, "JWK", &jwk));
  HIE_RETURN_IF_ERROR(CheckJwkMembers(jwk, algorithm));
  HIE_ASSIGN_OR_RETURN(std::string kty, internal::RequiredString(jwk, "kty"));
  absl::StatusOr<PkeyPtr> key = absl::InvalidArgumentError(
      absl::StrCat("JWK \"kty\" ", Quoted(kty), " does not suit ", JwsAlgorithmName(algorithm)));
  if (kty == "EC" && algorithm == JwsAlgorithm::kES384) key = EcKeyFromJwk(jwk);
  if (kty == "RSA" && algorithm == JwsAlgorithm::kRS384) key = RsaKeyFromJwk(jwk);
  if (!key.ok()) return key.status();
  return Checked(key->release(), algorithm);
}

absl::StatusOr<JwtPublicKey> JwtPublicKey::Parse(absl::string_view text, JwsAlgorithm algorithm) {
  absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(text);
  if (!trimmed.empty() && trimmed.front() == '{') return FromJwk(text, algorithm);
  return FromPem(text, algorithm);
}

std::string JwtPublicKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    ERR_clear_error();
    return "";
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::Status JwtPublicKey::Verify(const Jws& jws) const {
  // The one check that keeps "none", HMAC and cross-algorithm tokens out.
  if (jws.algorithm != JwsAlgorithmName(algorithm_)) {
    return absl::UnauthenticatedError(absl::StrCat("token is signed with ", Quoted(jws.algorithm),
                                                   " but the client's key is registered for ",
                                                   JwsAlgorithmName(algorithm_)));
  }
  std::string signature = jws.signature;
  if (algorithm_ == JwsAlgorithm::kES384) {
    HIE_ASSIGN_OR_RETURN(signature, RawToDer(jws.signature));
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok = ctx != nullptr &&
            EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha384(), nullptr, key_.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(),
                             Bytes(jws.signing_input), jws.signing_input.size()) == 1;
  ERR_clear_error();
  if (!ok) {
    return absl::UnauthenticatedError("token signature does not verify with the client's key");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> VerifyJwt(absl::string_view compact, const JwtPublicKey& key) {
  HIE_ASSIGN_OR_RETURN(Jws jws, ParseJws(compact));
  HIE_RETURN_IF_ERROR(key.Verify(jws));
  return std::move(jws.payload_json);
}

absl::StatusOr<std::string> SignJwt(
    const std::vector<std::pair<std::string, std::string>>& header_fields,
    absl::string_view payload_json, absl::string_view private_key_pem) {
  BioPtr bio(BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError("not an unencrypted PEM private key: " + OpenSslError());
  }
  HIE_ASSIGN_OR_RETURN(JwsAlgorithm algorithm, AlgorithmOf(key.get()));
  simdjson::dom::parser parser;
  simdjson::dom::object payload;
  HIE_RETURN_IF_ERROR(internal::ParseObject(parser, payload_json, "JWT claims", &payload));
  HIE_ASSIGN_OR_RETURN(std::string header, HeaderJson(algorithm, header_fields));
  std::string signing_input =
      absl::StrCat(Base64UrlEncode(header), ".", Base64UrlEncode(payload_json));
  HIE_ASSIGN_OR_RETURN(std::string signature, SignBytes(key.get(), algorithm, signing_input));
  return absl::StrCat(signing_input, ".", Base64UrlEncode(signature));
}

}  // namespace hie::auth
