#include "common/pki/revocation.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/openssl_internal.h"
#include "common/status/status_macros.h"

namespace hie::pki {
namespace {

using internal::X509CrlPtr;

absl::StatusOr<X509CrlPtr> ParseCrl(std::string_view data) {
  internal::BioPtr bio = internal::MemoryBio(data);
  X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr);
  if (crl == nullptr) {
    ERR_clear_error();
    bio = internal::MemoryBio(data);
    crl = d2i_X509_CRL_bio(bio.get(), nullptr);
  }
  if (crl == nullptr) {
    return absl::InvalidArgumentError("not a CRL (PEM or DER): " + internal::OpenSslError());
  }
  return X509CrlPtr(crl);
}

}  // namespace

absl::StatusOr<RevocationList> RevocationList::Parse(std::string_view crl_data,
                                                     std::string_view ca_pem, absl::Time now) {
  auto crl = ParseCrl(crl_data);
  if (!crl.ok()) return crl.status();
  auto ca = internal::ParseCertificate(ca_pem);
  if (!ca.ok()) return absl::InvalidArgumentError("CA certificate: no PEM certificate");
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl->get()), X509_get_subject_name(ca->get())) != 0) {
    return absl::UnauthenticatedError("CRL was not issued by the exchange CA");
  }
  EVP_PKEY* ca_key = X509_get0_pubkey(ca->get());
  if (ca_key == nullptr || X509_CRL_verify(crl->get(), ca_key) != 1) {
    ERR_clear_error();
    return absl::UnauthenticatedError("CRL signature does not verify with the exchange CA's key");
  }
  RevocationList list;
  list.this_update_ = internal::Asn1ToTime(X509_CRL_get0_lastUpdate(crl->get()));
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl->get());
  list.next_update_ = next == nullptr ? absl::InfiniteFuture() : internal::Asn1ToTime(next);
  if (now < list.this_update_) {
    return absl::FailedPreconditionError(
        absl::StrCat("CRL not yet valid (thisUpdate ", absl::FormatTime(list.this_update_), ")"));
  }
  if (now >= list.next_update_) {
    return absl::FailedPreconditionError(
        absl::StrCat("CRL expired at ", absl::FormatTime(list.next_update_),
                     " (nextUpdate); refresh it with 'hiectl ca refresh-crl'"));
  }
  int critical = 0;
  ASN1_INTEGER* number = static_cast<ASN1_INTEGER*>(
      X509_CRL_get_ext_d2i(crl->get(), NID_crl_number, &critical, nullptr));
  if (number != nullptr) {
    uint64_t value = 0;
    int ok = ASN1_INTEGER_get_uint64(&value, number);
    ASN1_INTEGER_free(number);
    if (ok != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError("CRL number is negative or longer than 64 bits");
    }
    list.number_ = value;
  } else if (critical != -1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("CRL number extension does not parse");
  }
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl->get());
  for (int i = 0; revoked != nullptr && i < sk_X509_REVOKED_num(revoked); ++i) {
    const X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, i);
    list.revoked_.insert(internal::SerialHex(X509_REVOKED_get0_serialNumber(entry)));
  }
  return list;
}

absl::StatusOr<RevocationList> RevocationList::LoadDir(const std::string& dir,
                                                       std::string_view ca_pem, absl::Time now) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return absl::NotFoundError(absl::StrCat("CRL directory ", dir, ": ", ec.message()));
  }
  absl::Status last_problem;
  std::optional<RevocationList> best;
  for (const fs::directory_entry& entry : it) {
    if (!entry.is_regular_file(ec)) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    auto list = Parse(content.str(), ca_pem, now);
    if (list.ok()) {
      if (!best.has_value() || list->number_ > best->number_ ||
          (list->number_ == best->number_ && list->this_update_ > best->this_update_)) {
        best = *std::move(list);
      }
      continue;
    }
    // A file from another issuer is skipped; a CRL of ours that fails is reported.
    if (list.status().code() != absl::StatusCode::kInvalidArgument &&
        !(list.status().code() == absl::StatusCode::kUnauthenticated &&
          absl::string_view(list.status().message()).find("not issued by") !=
              absl::string_view::npos)) {
      last_problem = Annotate(list.status(), entry.path().string());
    }
  }
  if (best.has_value()) return *std::move(best);
  if (!last_problem.ok()) return last_problem;
  return absl::NotFoundError(
      absl::StrCat("no CRL of the exchange CA in ", dir,
                   " (a missing CRL is refused, never taken as 'nothing revoked')"));
}

}  // namespace hie::pki
