// Mutual TLS for every hie party: server and channel credentials built from the exchange
// CA, this party's certificate and key, and the CA's CRL.
//
// What it guards against, beyond what gRPC 1.51 does by itself:
//  * Revocation is ours: the CRL is loaded, verified against the CA and re-read every
//    reload interval; a missing, forged or expired CRL is never taken as "nothing
//    revoked" (gRPC's crl_directory fails open on a missing CRL and never reloads).
//    Peers are checked at the handshake and again on every call, so a revocation
//    reaches connections that are already open.
//  * Rotation never breaks handshakes: a new certificate is put in service only after its
//    key is checked against it, the chain order is checked and it verifies against the
//    CA; it is then staged as a complete set in `working_dir` and swapped in atomically
//    for gRPC's file-watcher provider to pick up.
//  * The server verifies a client's chain itself (pki::VerifyChain against the CA in
//    service) instead of letting gRPC do it first, so that every refused client
//    certificate, a foreign CA's included, is reported to `security_events`.
//  * CRLs only move forward: the highest CRL number accepted is kept in
//    `working_dir`/crl-number (synced) and a CRL with a lower number is refused
//    (reported as a security-configuration event); the newer CRL stays in force.
//  * The peer identity is the certificate's single hie://org/<id> URI SAN (see
//    common/pki/identity.h); a channel can demand a particular org and role so that
//    another member cannot pose as the MPI.
#ifndef HIE_COMMON_GRPC_TLS_H_
#define HIE_COMMON_GRPC_TLS_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/server_config.h"
#include "common/grpc/security_events.h"
#include "common/pki/identity.h"
#include "common/time/clock.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace hie {

struct TlsOptions {
  TlsSettings files;
  // Where validated material is staged for gRPC's file watcher (created 0700).
  // Empty: the material is loaded once and never reloaded (short-lived clients).
  std::string working_dir;
  // False only for short-lived tools given no CRL (hiectl without --crl-dir): the server's
  // certificate is then checked against the CA and its validity period, not revocation.
  // Daemons always check revocation.
  bool check_revocation = true;
  Clock* clock = Clock::Real();  // must outlive the context and its credentials
  // Where refused client certificates (server side) and refused CRLs are reported.
  // May be null.
  std::shared_ptr<SecurityEventSink> security_events;
};

// What a channel demands of the server it connects to.
struct PeerExpectation {
  std::string org_id;             // empty: any member org
  std::optional<pki::Role> role;  // unset: any role
};

// Thread-safe. Owns a background reload thread when working_dir is set; the thread
// stops when the context is destroyed. Credentials made from a context keep the parts
// they need alive.
class TlsContext {
 public:
  virtual ~TlsContext() = default;

  // Loads and checks everything: the CA parses; the certificate chains to it, is
  // current and matches the key; a current CRL of the CA is present, is not older
  // (by CRL number) than one this working_dir has accepted before, and does not list
  // this party's own certificate.
  // Errors: FailedPrecondition (or the underlying code) with the file and the reason.
  static absl::StatusOr<std::shared_ptr<TlsContext>> Create(const TlsOptions& options);

  // Credentials for a server that requires and verifies a client certificate.
  virtual std::shared_ptr<grpc::ServerCredentials> ServerCredentials() = 0;

  // Credentials for a channel to another hie party. The server's certificate must chain
  // to the CA, not be revoked, and meet `expect`. Host names are not checked: the URI SAN
  // is the identity.
  virtual std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
      const PeerExpectation& expect) = 0;

  // Checks a peer's certificate identity against the current revocation state and
  // validity period. Errors: Unauthenticated with the reason (revoked, expired, no
  // current CRL).
  virtual absl::Status CheckPeer(const pki::CertIdentity& peer) const = 0;

  // This party's own identity, from the certificate in service.
  virtual pki::CertIdentity self() const = 0;

  // Re-reads the files now (the background thread calls this every reload interval).
  // Returns the first problem found; a problem never replaces good material in service.
  virtual absl::Status ReloadNow() = 0;
};

}  // namespace hie

#endif  // HIE_COMMON_GRPC_TLS_H_
