#include "common/pki/identity.h"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/pki/openssl_internal.h"

namespace hie::pki {
namespace {

using internal::OpenSslError;
using internal::X509Ptr;

constexpr std::string_view kHieUriScheme = "hie://";
constexpr std::string_view kOrgUriPrefix = "hie://org/";

// The value of the first `nid` entry of the subject, or "".
std::string SubjectEntry(X509* cert, int nid) {
  X509_NAME* name = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kNode:
      return "node";
    case Role::kOperator:
      return "operator";
    case Role::kMpi:
      return "mpi";
    case Role::kConsent:
      return "consent";
  }
  return "unknown";
}

absl::StatusOr<Role> ParseRole(std::string_view name) {
  for (Role role : {Role::kNode, Role::kOperator, Role::kMpi, Role::kConsent}) {
    if (RoleName(role) == name) return role;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role '", std::string(name), "' (want node, operator, mpi or consent)"));
}

bool IsValidOrgId(std::string_view org_id) {
  if (org_id.empty() || org_id.size() > 63) return false;
  for (char c : org_id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return org_id.front() != '-';
}

absl::StatusOr<CertIdentity> ReadCertIdentity(std::string_view pem) {
  auto cert_or = internal::ParseCertificate(pem);
  if (!cert_or.ok()) return cert_or.status();
  X509* cert = cert_or->get();

  std::string org_uri;
  int hie_uris = 0;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  internal::GeneralNamesPtr sans_owner(sans);
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      static_cast<size_t>(ASN1_STRING_length(uri)));
    if (absl::StartsWithIgnoreCase(value, std::string(kHieUriScheme))) {
      ++hie_uris;
      org_uri = value;
    }
  }
  if (hie_uris == 0) {
    return absl::UnauthenticatedError("certificate has no hie://org/<org-id> URI SAN");
  }
  if (hie_uris > 1) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate has ", hie_uris, " hie:// URI SANs; exactly one is allowed"));
  }
  if (!absl::StartsWith(org_uri, std::string(kOrgUriPrefix))) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate URI SAN '", org_uri, "' is not of the form hie://org/<org-id>"));
  }
  CertIdentity identity;
  identity.org_id = org_uri.substr(kOrgUriPrefix.size());
  if (!IsValidOrgId(identity.org_id)) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate URI SAN '", org_uri, "' names an invalid org id"));
  }
  std::string subject_org = SubjectEntry(cert, NID_organizationName);
  if (!subject_org.empty() && subject_org != identity.org_id) {
    return absl::UnauthenticatedError(absl::StrCat("certificate subject O='", subject_org,
                                                   "' disagrees with its URI SAN org '",
                                                   identity.org_id, "'"));
  }
  std::string ou = SubjectEntry(cert, NID_organizationalUnitName);
  auto role = ParseRole(ou);
  if (!role.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate subject OU='", ou, "' is not a role (node, operator, mpi, consent)"));
  }
  identity.role = *role;
  identity.name = SubjectEntry(cert, NID_commonName);
  identity.serial_hex = internal::SerialHex(X509_get0_serialNumber(cert));
  identity.not_before = internal::Asn1ToTime(X509_get0_notBefore(cert));
  identity.not_after = internal::Asn1ToTime(X509_get0_notAfter(cert));
  uint32_t xku = X509_get_extended_key_usage(cert);  // UINT32_MAX when absent: any use
  identity.client_auth = (xku & XKU_SSL_CLIENT) != 0;
  identity.server_auth = (xku & XKU_SSL_SERVER) != 0;
  ERR_clear_error();
  return identity;
}

absl::Status CheckKeyPair(std::string_view chain_pem, std::string_view key_pem) {
  auto chain = internal::ParseCertificates(chain_pem);
  if (!chain.ok()) return absl::InvalidArgumentError("certificate file: no PEM certificate");
  auto key = internal::ParsePrivateKey(key_pem);
  if (!key.ok())
    return absl::InvalidArgumentError("key file: " + std::string(key.status().message()));
  if (X509_check_private_key(chain->front().get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("private key does not match the certificate");
  }
  for (size_t i = 0; i + 1 < chain->size(); ++i) {
    X509* child = (*chain)[i].get();
    X509* parent = (*chain)[i + 1].get();
    if (X509_check_issued(parent, child) != X509_V_OK) {
      return absl::InvalidArgumentError(absl::StrCat(
          "certificate chain out of order: certificate ", i + 1, " is not issued by certificate ",
          i + 2, " (the leaf must come first, each followed by its issuer)"));
    }
  }
  return absl::OkStatus();
}

CertSummary DescribeCertificate(std::string_view pem) {
  CertSummary summary;
  auto cert = internal::ParseCertificate(pem);
  if (!cert.ok()) return summary;
  summary.serial_hex = internal::SerialHex(X509_get0_serialNumber(cert->get()));
  internal::BioPtr bio(BIO_new(BIO_s_mem()));
  if (X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert->get()), 0,
                         XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    if (len > 0) summary.subject.assign(data, static_cast<size_t>(std::min(len, 256L)));
  }
  ERR_clear_error();
  return summary;
}

absl::Status VerifyChain(std::string_view chain_pem, std::string_view ca_pem, absl::Time now) {
  auto chain = internal::ParseCertificates(chain_pem);
  if (!chain.ok()) return chain.status();
  auto anchors = internal::ParseCertificates(ca_pem);
  if (!anchors.ok()) return absl::InvalidArgumentError("CA file: no PEM certificate");
  internal::X509StorePtr store(X509_STORE_new());
  for (auto& anchor : *anchors) X509_STORE_add_cert(store.get(), anchor.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < chain->size(); ++i) sk_X509_push(untrusted, (*chain)[i].get());
  internal::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), chain->front().get(), untrusted);
  X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(now));
  int ok = X509_verify_cert(ctx.get());
  int err = X509_STORE_CTX_get_error(ctx.get());
  sk_X509_free(untrusted);
  ERR_clear_error();
  if (ok != 1) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate does not verify: ", X509_verify_cert_error_string(err)));
  }
  return absl::OkStatus();
}

bool IssuedByCa(std::string_view cert_pem, std::string_view ca_pem) {
  auto leaf = internal::ParseCertificates(cert_pem);
  auto anchors = internal::ParseCertificates(ca_pem);
  if (!leaf.ok() || leaf->empty() || !anchors.ok()) return false;
  bool issued = false;
  for (auto& anchor : *anchors) {
    EVP_PKEY* key = X509_get0_pubkey(anchor.get());
    if (key != nullptr && X509_verify(leaf->front().get(), key) == 1) {
      issued = true;
      break;
    }
  }
  ERR_clear_error();
  return issued;
}

absl::StatusOr<std::string> CaPublicKeysDer(std::string_view ca_pem) {
  auto certs = internal::ParseCertificates(ca_pem);
  if (!certs.ok() || certs->empty()) {
    return absl::InvalidArgumentError("CA file: no PEM certificate");
  }
  std::string out;
  for (auto& cert : *certs) {
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(X509_get0_pubkey(cert.get()), &der);
    if (len <= 0) {
      ERR_clear_error();
      return absl::InvalidArgumentError("CA file: a certificate's public key does not encode");
    }
    out.append(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
  }
  return out;
}

}  // namespace hie::pki
