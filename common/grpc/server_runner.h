// Starting and stopping a hie gRPC server: mutual TLS only, the call guard
// (peer identity + authorization + per-peer limits), the standard health service and
// reflection, one log line per request, message size limits, and a clean shutdown.
//
// Connections: the runner listens itself and hands each accepted connection to gRPC
// (an external connection acceptor), keeping settings.connection_limits: a reserve of
// free descriptors, a TLS handshake deadline, an idle limit, keepalive pings and a cap
// on streams per connection. Its accept loop survives descriptor exhaustion (see
// common/limits/descriptors.h), which gRPC 1.51's own listener does not.
#ifndef HIE_COMMON_GRPC_SERVER_RUNNER_H_
#define HIE_COMMON_GRPC_SERVER_RUNNER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/server_config.h"
#include "common/grpc/authorization.h"
#include "common/grpc/security_events.h"
#include "common/grpc/tls.h"
#include "common/limits/peer_limiter.h"
#include "grpcpp/server.h"

namespace hie {

struct ServerRunnerOptions {
  ServerSettings settings;
  std::shared_ptr<TlsContext> tls;                    // REQUIRES: non-null
  std::shared_ptr<const AuthorizationPolicy> policy;  // REQUIRES: non-null
  std::vector<grpc::Service*> services;               // not owned; must outlive the runner
  // Per-peer call limits. Null: one is made from settings.peer_limits.
  std::shared_ptr<PeerLimiter> limiter;
  // Where refused calls are reported (see security_events.h). May be null.
  std::shared_ptr<SecurityEventSink> security_events;
};

// Thread-safe.
class ServerRunner {
 public:
  virtual ~ServerRunner() = default;

  // Builds and starts the server. Errors: Unavailable if the address cannot be bound
  // (in use, or not a local address), naming it.
  static absl::StatusOr<std::unique_ptr<ServerRunner>> Start(ServerRunnerOptions options);

  // The bound port (useful with port 0).
  virtual int port() const = 0;

  // Marks the server NOT_SERVING, lets calls in flight finish within `grace`, then
  // cancels the rest. Idempotent.
  virtual void Shutdown(absl::Duration grace) = 0;
};

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and every thread it starts
// afterwards. REQUIRES: called first thing in main(), before any thread exists.
void BlockTerminationSignals();

// Waits for SIGTERM or SIGINT (blocked by BlockTerminationSignals) and returns its number.
int WaitForTerminationSignal();

// Writes `port` and a newline to `path` atomically (a temporary file renamed), for a
// listener on port 0 to tell a test or a script where it listens.
absl::Status WritePortFile(const std::string& path, int port);

}  // namespace hie

#endif  // HIE_COMMON_GRPC_SERVER_RUNNER_H_
