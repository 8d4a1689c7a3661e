// The exchange's certificate authority, kept in one directory:
//   D/ca.crt          the CA certificate (the trust anchor every party is given)
//   D/ca.key          its private key (0600)
//   D/crl/ca.crl      the current CRL, re-signed on every revocation and refresh
//   D/issued/<serial>.crt   every certificate issued, for the record
//   D/revoked.txt     serials revoked, one per line (source of the CRL)
// Keys are EC P-256; signatures SHA-256. OpenSSL's C API, no shell-outs.
#ifndef HIE_COMMON_PKI_CA_H_
#define HIE_COMMON_PKI_CA_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/pki/identity.h"
#include "common/time/clock.h"

namespace hie::pki {

struct CaInitOptions {
  std::string common_name = "hie exchange CA";
  absl::Duration validity = absl::Hours(24 * 365 * 10);
  absl::Duration crl_validity = absl::Hours(24 * 7);
};

struct IssueOptions {
  std::string org_id;  // REQUIRES: IsValidOrgId(org_id)
  std::string name;    // subject CN; REQUIRES: non-empty
  Role role = Role::kNode;
  // Server names. Defaults to {"localhost"} and {"127.0.0.1"} when both are empty.
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  absl::Duration validity = absl::Hours(24 * 397);
  std::optional<absl::Time> not_before;  // default: now - 5 minutes (clock skew)
  bool server_auth = true;  // EKU serverAuth
  bool client_auth = true;  // EKU clientAuth
  // Test-only: extra URI SANs, to mint certificates with malformed identities.
  std::vector<std::string> extra_uri_sans_for_test;
  // Test-only: omit the hie://org/ SAN altogether.
  bool omit_org_uri_for_test = false;
};

struct IssuedCertificate {
  std::string cert_pem;  // the leaf only
  std::string key_pem;   // PKCS#8
  std::string serial_hex;
};

// Thread-compatible: one process manages a CA directory at a time.
class CertificateAuthority {
 public:
  virtual ~CertificateAuthority() = default;

  // Creates a new CA in `dir` (created if missing). Errors: AlreadyExists if `dir`
  // already holds a CA; PermissionDenied/Internal on I/O.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> Init(
      const std::string& dir, const CaInitOptions& options, Clock* clock = Clock::Real());

  // Opens an existing CA. Errors: NotFound if `dir` holds no CA; InvalidArgument if
  // its files do not parse or the key does not match the certificate.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> Open(
      const std::string& dir, Clock* clock = Clock::Real());

  // Issues a certificate and records it under D/issued/.
  virtual absl::StatusOr<IssuedCertificate> Issue(const IssueOptions& options) = 0;

  // Revokes the certificate in PEM (must have been issued by this CA) and re-signs the
  // CRL. Revoking twice is OK. Errors: InvalidArgument if not issued by this CA.
  virtual absl::Status Revoke(std::string_view cert_pem) = 0;

  // Re-signs the CRL with a fresh thisUpdate/nextUpdate, same contents.
  virtual absl::Status RefreshCrl() = 0;

  virtual const std::string& ca_cert_pem() const = 0;
  virtual std::string ca_cert_path() const = 0;
  virtual std::string crl_dir() const = 0;
};

// Writes PREFIX.crt and PREFIX.key (mode 0600), each replaced atomically.
absl::Status WriteCertificateFiles(const IssuedCertificate& cert, const std::string& prefix);

}  // namespace hie::pki

#endif  // HIE_COMMON_PKI_CA_H_
