// OpenSSL plumbing shared by the pki sources: owning pointers, PEM/time conversion and
// error text. Private to common/pki.
#ifndef HIE_COMMON_PKI_OPENSSL_INTERNAL_H_
#define HIE_COMMON_PKI_OPENSSL_INTERNAL_H_

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hie::pki::internal {

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};

using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;

// The text of OpenSSL's most recent error (or "unknown error"); clears the queue.
std::string OpenSslError();

// A memory BIO reading `data` (not copied; `data` must outlive the BIO).
BioPtr MemoryBio(std::string_view data);

// Every certificate in `pem`, in order. InvalidArgument if there is none.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(std::string_view pem);
// The first certificate in `pem`.
absl::StatusOr<X509Ptr> ParseCertificate(std::string_view pem);
absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(std::string_view pem);

std::string CertificateToPem(X509* cert);
std::string PrivateKeyToPem(EVP_PKEY* key);

absl::Time Asn1ToTime(const ASN1_TIME* t);
// Upper-case hex without leading zeros ("0" for zero), as CertIdentity::serial_hex.
std::string SerialHex(const ASN1_INTEGER* serial);

}  // namespace hie::pki::internal

#endif  // HIE_COMMON_PKI_OPENSSL_INTERNAL_H_
