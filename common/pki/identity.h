// What an exchange certificate says about its holder, and the checks every TLS party
// makes on certificates beyond what the handshake itself verifies.
//
// The certificate profile (written by CertificateAuthority::Issue, read here):
//   subject  O=<org-id>, OU=<role>, CN=<name>
//   SAN      exactly one URI "hie://org/<org-id>" (the identity), plus DNS/IP names
//            for servers. Any other URI SAN is allowed only if it is not of the
//            form hie://...; two hie:// URIs are refused.
//   EKU      clientAuth and/or serverAuth.
// The org id comes from the URI SAN only; O is informative and must agree with it.
#ifndef HIE_COMMON_PKI_IDENTITY_H_
#define HIE_COMMON_PKI_IDENTITY_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hie::pki {

// The kind of party a certificate was issued to. The per-RPC authorization table is
// keyed by it.
enum class Role {
  kNode,      // a practice's hie-node
  kOperator,  // the exchange operator's people and tools
  kMpi,       // the master patient index service
  kConsent,   // the consent service
};

// "node", "operator", "mpi", "consent".
std::string_view RoleName(Role role);
// Inverse of RoleName; InvalidArgument for anything else.
absl::StatusOr<Role> ParseRole(std::string_view name);

// True if `org_id` is a valid organisation id: 1-63 characters of [a-z0-9-], starting
// with a letter or digit.
bool IsValidOrgId(std::string_view org_id);

struct CertIdentity {
  std::string org_id;       // from the single hie://org/<org-id> URI SAN
  Role role = Role::kNode;  // from the subject OU
  std::string name;         // subject CN
  std::string serial_hex;   // upper-case hex, no leading zeros
  absl::Time not_before;
  absl::Time not_after;
  bool client_auth = false;  // extendedKeyUsage includes clientAuth
  bool server_auth = false;  // extendedKeyUsage includes serverAuth
};

// Reads the identity of the first certificate in `pem`.
// Errors: InvalidArgument if the PEM does not parse; Unauthenticated if there is not
// exactly one hie:// URI SAN, it is not hie://org/<valid-org-id>, or the OU is not a
// known role.
absl::StatusOr<CertIdentity> ReadCertIdentity(std::string_view pem);

// Checks that `key_pem` is the private key of the first certificate of `chain_pem`
// and that the chain is in order (each certificate issued by the next).
// Errors: InvalidArgument naming what does not match.
absl::Status CheckKeyPair(std::string_view chain_pem, std::string_view key_pem);

// Subject and serial of the first certificate in `pem`, whatever it names or whoever
// issued it (for refusal reports). Empty fields if it does not parse.
struct CertSummary {
  std::string subject;     // one line, e.g. "O=org-a, OU=node, CN=node-a"
  std::string serial_hex;  // as in CertIdentity
};
CertSummary DescribeCertificate(std::string_view pem);

// Verifies `chain_pem` (leaf first) against the trust anchor `ca_pem` at `now`.
// Errors: Unauthenticated with the OpenSSL reason (expired, not yet valid, unknown CA).
absl::Status VerifyChain(std::string_view chain_pem, std::string_view ca_pem, absl::Time now);

// Whether the first certificate of `cert_pem` carries a signature of one of the
// certificates in `ca_pem` (whatever its dates): false for a self-signed or foreign
// certificate, and if either does not parse.
bool IssuedByCa(std::string_view cert_pem, std::string_view ca_pem);

// The DER-encoded public keys (SubjectPublicKeyInfo) of every certificate in `ca_pem`,
// concatenated in file order: what identifies a CA whatever the file's formatting.
// Errors: InvalidArgument if no certificate parses.
absl::StatusOr<std::string> CaPublicKeysDer(std::string_view ca_pem);

}  // namespace hie::pki

#endif  // HIE_COMMON_PKI_IDENTITY_H_
