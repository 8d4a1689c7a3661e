#include "common/crypto/signing.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/hash.h"

namespace hie::crypto {
namespace {

constexpr size_t kPublicKeySize = 32;
constexpr size_t kSignatureSize = 64;

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  std::string text = "unknown OpenSSL error";
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    text = buf;
  }
  ERR_clear_error();
  return text;
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
struct CtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, CtxDeleter>;

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<std::string> RawPublicKey(EVP_PKEY* key) {
  std::string raw(kPublicKeySize, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != kPublicKeySize) {
    return absl::InvalidArgumentError("cannot read the Ed25519 public key: " + OpenSslError());
  }
  return raw;
}

}  // namespace

std::string KeyIdOf(absl::string_view raw_public_key) {
  return Sha256Hex(raw_public_key).substr(0, 16);
}

// ---- VerifyingKey

absl::StatusOr<VerifyingKey> VerifyingKey::FromRaw(absl::string_view raw) {
  if (raw.size() != kPublicKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("an Ed25519 public key is 32 bytes, not ", raw.size()));
  }
  return VerifyingKey(std::string(raw), KeyIdOf(raw));
}

absl::StatusOr<VerifyingKey> VerifyingKey::FromPem(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return absl::InvalidArgumentError("not a PEM public key: " + OpenSslError());
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> owner(key, EVP_PKEY_free);
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("public key is not an Ed25519 key");
  }
  auto raw = RawPublicKey(key);
  if (!raw.ok()) return raw.status();
  return FromRaw(*raw);
}

absl::Status VerifyingKey::Verify(absl::string_view message, absl::string_view signature) const {
  if (signature.size() != kSignatureSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("an Ed25519 signature is 64 bytes, not ", signature.size()));
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw_.data()), raw_.size());
  if (key == nullptr) return absl::InternalError("loading the public key: " + OpenSslError());
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> owner(key, EVP_PKEY_free);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  int ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  ERR_clear_error();
  if (!ok) {
    return absl::UnauthenticatedError(absl::StrCat("signature does not verify with key ", key_id_));
  }
  return absl::OkStatus();
}

std::string VerifyingKey::ToPem() const {
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw_.data()), raw_.size());
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> owner(key, EVP_PKEY_free);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (key == nullptr || bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    ERR_clear_error();
    return "";
  }
  return BioContents(bio.get());
}

// ---- SigningKey

void SigningKey::PkeyDeleter::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

SigningKey::SigningKey(std::unique_ptr<EVP_PKEY, PkeyDeleter> key, VerifyingKey public_key)
    : key_(std::move(key)), public_(std::move(public_key)) {}

SigningKey::~SigningKey() = default;

absl::StatusOr<SigningKey> SigningKey::FromPkey(EVP_PKEY* key) {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> owner(key);
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("private key is not an Ed25519 key");
  }
  auto raw = RawPublicKey(key);
  if (!raw.ok()) return raw.status();
  auto public_key = VerifyingKey::FromRaw(*raw);
  if (!public_key.ok()) return public_key.status();
  return SigningKey(std::move(owner), *public_key);
}

absl::StatusOr<SigningKey> SigningKey::Generate() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) return absl::InternalError("Ed25519 key generation: " + OpenSslError());
  return FromPkey(key);
}

absl::StatusOr<SigningKey> SigningKey::FromRawPrivate(absl::string_view seed) {
  if (seed.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("an Ed25519 private key is 32 bytes, not ", seed.size()));
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (key == nullptr) return absl::InvalidArgumentError("bad Ed25519 key: " + OpenSslError());
  return FromPkey(key);
}

absl::StatusOr<SigningKey> SigningKey::FromPem(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    return absl::InvalidArgumentError("not a PEM private key: " + OpenSslError());
  }
  return FromPkey(key);
}

absl::StatusOr<SigningKey> SigningKey::LoadFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return absl::PermissionDeniedError(absl::StrCat(path, ": ", std::strerror(err)));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("key file ", path, " is readable by others (mode 0", (st.st_mode >> 6) & 7,
                     (st.st_mode >> 3) & 7, st.st_mode & 7, "); chmod 600 ", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot read"));
  std::stringstream content;
  content << in.rdbuf();
  auto key = FromPem(content.str());
  if (!key.ok())
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", key.status().message()));
  return key;
}

absl::StatusOr<std::string> SigningKey::Sign(absl::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string signature(kSignatureSize, '\0');
  size_t len = signature.size();
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("Ed25519 signing: " + OpenSslError());
  }
  signature.resize(len);
  return signature;
}

std::string SigningKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (key_ == nullptr || bio == nullptr ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    ERR_clear_error();
    return "";
  }
  return BioContents(bio.get());
}

absl::Status SigningKey::WriteFile(const std::string& path) const {
  std::string pem = ToPem();
  if (pem.empty())
    return absl::InternalError(absl::StrCat("writing ", path, ": cannot encode the key"));
  // mkstemp creates the file 0600 with a unique name, so concurrent writers never share
  // a temporary file and the key is never briefly readable by others.
  std::string tmp = absl::StrCat(path, ".tmp.XXXXXX");
  int fd = mkstemp(tmp.data());
  if (fd < 0) {
    return absl::PermissionDeniedError(absl::StrCat("writing ", path, ": ", std::strerror(errno)));
  }
  fchmod(fd, 0600);
  size_t written = 0;
  while (written < pem.size()) {
    ssize_t n = write(fd, pem.data() + written, pem.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  int err = 0;
  bool ok = written == pem.size() && fsync(fd) == 0;
  if (!ok) err = errno;
  if (close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    unlink(tmp.c_str());
    return absl::InternalError(
        absl::StrCat("writing ", path, ": ", err != 0 ? std::strerror(err) : "short write"));
  }
  return absl::OkStatus();
}

// ---- KeyRing

void KeyRing::Add(VerifyingKey key) {
  std::string id = key.key_id();
  keys_.insert_or_assign(std::move(id), std::move(key));
}

absl::Status KeyRing::Verify(absl::string_view key_id, absl::string_view message,
                             absl::string_view signature) const {
  auto it = keys_.find(key_id);
  if (it == keys_.end()) {
    return absl::UnauthenticatedError(absl::StrCat("unknown signing key ", key_id));
  }
  return it->second.Verify(message, signature);
}

}  // namespace hie::crypto
