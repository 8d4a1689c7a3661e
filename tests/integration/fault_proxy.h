// Test support: a TCP proxy on loopback that stands between a client and a daemon and
// misbehaves on request, since this kernel has no `tc netem`: it delays every chunk,
// stops forwarding (a frozen network), answers with garbage instead of the daemon, or
// drops each connection as it arrives.
#ifndef HIE_TESTS_INTEGRATION_FAULT_PROXY_H_
#define HIE_TESTS_INTEGRATION_FAULT_PROXY_H_

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hie::testing {

class FaultProxy {
 public:
  enum class Mode {
    kPass,     // forward both ways
    kDelay,    // forward each chunk after `delay`
    kFreeze,   // accept and hold connections, forward nothing
    kGarbage,  // never reach the daemon; send the client random bytes
    kDrop,     // close each new connection at once
  };

  // Listens on 127.0.0.1 (a free port) and forwards to 127.0.0.1:`target_port`.
  static absl::StatusOr<std::unique_ptr<FaultProxy>> Start(int target_port);
  // Closes every connection and joins every thread.
  ~FaultProxy();

  int port() const { return port_; }
  // Applies to data forwarded from now on; kGarbage and kDrop to new connections.
  void SetMode(Mode mode, absl::Duration delay = absl::ZeroDuration());
  int connections_accepted() const { return accepted_.load(); }

 private:
  FaultProxy(int listen_fd, int port, int target_port);
  void AcceptLoop();
  void Serve(int client_fd);
  // Copies from `from` to `to` until either closes or the proxy stops.
  void Pump(int from, int to);
  Mode mode(absl::Duration* delay) const;

  const int listen_fd_;
  const int port_;
  const int target_port_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  mutable absl::Mutex mu_;
  Mode mode_ ABSL_GUARDED_BY(mu_) = Mode::kPass;
  absl::Duration delay_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::thread acceptor_;
};

}  // namespace hie::testing

#endif  // HIE_TESTS_INTEGRATION_FAULT_PROXY_H_
