// Ed25519 signing and verification (OpenSSL EVP) with key ids, for disclosure grants
// and anything else one party signs for others to check on their own.
//
// A key id is the first 16 lower-case hex characters of the SHA-256 of the raw 32-byte
// public key: short enough to log, long enough that two keys of one exchange never
// share one.
#ifndef HIE_COMMON_CRYPTO_SIGNING_H_
#define HIE_COMMON_CRYPTO_SIGNING_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace hie::crypto {

// The key id of a raw 32-byte Ed25519 public key.
std::string KeyIdOf(absl::string_view raw_public_key);

// A public key that checks signatures. Copyable; thread-safe.
class VerifyingKey {
 public:
  // From the raw 32-byte key. Errors: InvalidArgument if it is not 32 bytes.
  static absl::StatusOr<VerifyingKey> FromRaw(absl::string_view raw);
  // From a PEM SubjectPublicKeyInfo. Errors: InvalidArgument if it does not parse or
  // is not an Ed25519 key.
  static absl::StatusOr<VerifyingKey> FromPem(absl::string_view pem);

  // OK if `signature` is a valid signature of `message` by this key.
  // Errors: InvalidArgument if the signature is not 64 bytes; Unauthenticated if it
  // does not verify.
  absl::Status Verify(absl::string_view message, absl::string_view signature) const;

  // PEM SubjectPublicKeyInfo; empty only if OpenSSL fails.
  std::string ToPem() const;
  const std::string& raw() const { return raw_; }
  const std::string& key_id() const { return key_id_; }

 private:
  VerifyingKey(std::string raw, std::string key_id)
      : raw_(std::move(raw)), key_id_(std::move(key_id)) {}
  std::string raw_;
  std::string key_id_;
};

// A private key that signs. Movable, not copyable; Sign is thread-safe.
class SigningKey {
 public:
  // A new random key.
  static absl::StatusOr<SigningKey> Generate();
  // From the 32-byte private seed (RFC 8032). Errors: InvalidArgument.
  static absl::StatusOr<SigningKey> FromRawPrivate(absl::string_view seed);
  // From a PEM PKCS#8 private key. Errors: InvalidArgument if it does not parse or is
  // not an Ed25519 key.
  static absl::StatusOr<SigningKey> FromPem(absl::string_view pem);
  // From a PEM file. Errors (all naming the path): NotFound if missing;
  // FailedPrecondition if group or others have any access to it (a signing key is as
  // secret as a TLS key); InvalidArgument as FromPem.
  static absl::StatusOr<SigningKey> LoadFile(const std::string& path);

  SigningKey(SigningKey&&) = default;
  SigningKey& operator=(SigningKey&&) = default;
  ~SigningKey();

  // The 64-byte signature of `message`.
  absl::StatusOr<std::string> Sign(absl::string_view message) const;

  // PKCS#8 PEM of the private key (unencrypted); empty only if OpenSSL fails.
  std::string ToPem() const;
  // Writes ToPem() to `path` with mode 0600, atomically (a temporary file in the same
  // directory, then rename). Errors: PermissionDenied/Internal naming the path.
  absl::Status WriteFile(const std::string& path) const;

  // The raw 32-byte public key.
  std::string public_key() const { return public_.raw(); }
  const VerifyingKey& verifying_key() const { return public_; }
  const std::string& key_id() const { return public_.key_id(); }

 private:
  struct PkeyDeleter {
    void operator()(EVP_PKEY* key) const;
  };
  static absl::StatusOr<SigningKey> FromPkey(EVP_PKEY* key);
  SigningKey(std::unique_ptr<EVP_PKEY, PkeyDeleter> key, VerifyingKey public_key);

  std::unique_ptr<EVP_PKEY, PkeyDeleter> key_;
  VerifyingKey public_;
};

// The keys a verifier trusts, by key id: a signer rotates keys and old signatures stay
// checkable while their key is in the ring. Thread-compatible (build it, then share it
// const).
class KeyRing {
 public:
  // Adds `key`; a key already present is replaced by the same key (idempotent).
  void Add(VerifyingKey key);
  // Errors: Unauthenticated if `key_id` is not in the ring or the signature does not
  // verify; InvalidArgument for a malformed signature.
  absl::Status Verify(absl::string_view key_id, absl::string_view message,
                      absl::string_view signature) const;
  bool Contains(absl::string_view key_id) const { return keys_.contains(key_id); }
  size_t size() const { return keys_.size(); }

 private:
  absl::flat_hash_map<std::string, VerifyingKey> keys_;
};

}  // namespace hie::crypto

#endif  // HIE_COMMON_CRYPTO_SIGNING_H_
