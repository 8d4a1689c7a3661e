// Certificate revocation as the exchange enforces it: a CRL we load, verify and reload
// ourselves, because gRPC 1.51's crl_directory fails open when an issuer's CRL is
// missing and does not notice a CRL replaced on disk.
#ifndef HIE_COMMON_PKI_REVOCATION_H_
#define HIE_COMMON_PKI_REVOCATION_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hie::pki {

// An immutable, verified certificate revocation list. Thread-compatible; share it as
// std::shared_ptr<const RevocationList>.
class RevocationList {
 public:
  // Parses `crl_pem` (or DER), verifies its signature with the CA certificate `ca_pem`,
  // and checks it is current: thisUpdate <= now < nextUpdate.
  // Errors: InvalidArgument if it does not parse; Unauthenticated if the signature or
  // issuer does not match the CA; FailedPrecondition if it is not yet valid or expired.
  static absl::StatusOr<RevocationList> Parse(std::string_view crl, std::string_view ca_pem,
                                              absl::Time now);

  // Loads every file in `dir` (regular files, any name) and returns, of the CRLs issued
  // by the CA `ca_pem` that verify as by Parse, the newest: the highest CRL number
  // (RFC 5280 5.2.3; a CRL without one counts as 0), then the latest thisUpdate. An
  // older CRL copied beside the current one therefore never wins.
  // Errors: NotFound if the directory holds no CRL of that CA (a missing CRL is never
  // taken as "nothing revoked"); otherwise as Parse, for the last CRL of the CA that
  // failed, when none verified.
  static absl::StatusOr<RevocationList> LoadDir(const std::string& dir, std::string_view ca_pem,
                                                absl::Time now);

  // `serial_hex` as in CertIdentity::serial_hex.
  bool IsRevoked(std::string_view serial_hex) const {
    return revoked_.contains(absl::string_view(serial_hex.data(), serial_hex.size()));
  }
  size_t size() const { return revoked_.size(); }
  // The CRL number extension; 0 if the CRL has none.
  uint64_t number() const { return number_; }
  absl::Time this_update() const { return this_update_; }
  absl::Time next_update() const { return next_update_; }

 private:
  absl::flat_hash_set<std::string> revoked_;
  absl::Time this_update_;
  absl::Time next_update_;
  uint64_t number_ = 0;
};

}  // namespace hie::pki

#endif  // HIE_COMMON_PKI_REVOCATION_H_
