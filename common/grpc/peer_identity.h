// Who is calling: read from the TLS peer certificate, never from a request field or
// metadata.
//
// A server installs a CallGuard on its credentials. For every call, before any handler
// runs, the guard reads the client certificate's identity (common/pki/identity.h),
// checks it against the current CRL and its validity period (so revocations reach
// connections already open) and checks the AuthorizationPolicy for the method. Handlers
// then call PeerFromContext, which reads the same certificate (parsed once per
// certificate and cached). Nothing is written into the AuthContext: gRPC shares one
// among all calls of a connection, and per-call writes there race with each other and
// grow without bound on a long-lived connection.
#ifndef HIE_COMMON_GRPC_PEER_IDENTITY_H_
#define HIE_COMMON_GRPC_PEER_IDENTITY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/grpc/authorization.h"
#include "common/grpc/security_events.h"
#include "common/grpc/tls.h"
#include "common/limits/peer_limiter.h"
#include "common/pki/identity.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "grpcpp/server_context.h"

namespace hie {

// The caller of an RPC, as its certificate names it. A plain value: domain code takes
// this, never a ServerContext.
struct Peer {
  std::string org_id;
  pki::Role role = pki::Role::kNode;
  std::string name;        // certificate CN
  std::string serial_hex;  // certificate serial
};

// Makes the per-call guard described above. `log_refusals` logs each refused call on
// one line. `tls` and `policy` must be non-null. With a `limiter`, a call that passed
// every check is also admitted by it (keyed by the caller's org id; callers whose role
// IsPeerLimited says no are not limited), else refused with ResourceExhausted; the
// caller reports the call's start and end to the limiter (server_runner.cc does).
// With `events`, every refusal except a limiter's is reported there (authentication:
// no identity, revoked, expired; authorization: the role may not call the method).
std::shared_ptr<grpc::AuthMetadataProcessor> MakeCallGuard(
    std::shared_ptr<TlsContext> tls, std::shared_ptr<const AuthorizationPolicy> policy,
    bool log_refusals, std::shared_ptr<PeerLimiter> limiter = nullptr,
    std::shared_ptr<SecurityEventSink> events = nullptr);

// True for the roles whose calls are limited per peer: members (nodes) and operators.
// The exchange's own services (mpi, consent) carry members' requests already limited.
bool IsPeerLimited(pki::Role role);

// The peer of a call the guard let through. Errors: Unauthenticated if the call has no
// client certificate.
absl::StatusOr<Peer> PeerFromAuthContext(const grpc::AuthContext& context);
absl::StatusOr<Peer> PeerFromContext(const grpc::ServerContextBase& context);

}  // namespace hie

#endif  // HIE_COMMON_GRPC_PEER_IDENTITY_H_
