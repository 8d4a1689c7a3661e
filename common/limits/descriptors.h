// File descriptors as a budget, so that a flood of connections can neither stop a
// listener for good nor starve the daemon of the descriptors its audit log, store and
// outbound calls need. No gRPC.
//
//  * RaiseDescriptorLimit: the soft RLIMIT_NOFILE is raised to the hard limit at start.
//  * AcceptGuard: accepts one connection at a time and
//      - closes it at once if it took one of the last `reserved` descriptors below the
//        soft limit (the accepted descriptor is the lowest free one, so a number that
//        high means at most `reserved` are left): the daemon keeps working headroom;
//      - on EMFILE/ENFILE (descriptors exhausted by something else), frees a spare
//        descriptor it holds, accepts and closes the pending connection, and takes the
//        spare again, so the kernel's queue drains instead of the listener spinning or
//        stopping; the caller backs off a little and keeps accepting.
#ifndef HIE_COMMON_LIMITS_DESCRIPTORS_H_
#define HIE_COMMON_LIMITS_DESCRIPTORS_H_

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace hie {

// Raises the soft descriptor limit to the hard limit. Returns the soft limit now in
// force. Errors: Internal if getrlimit/setrlimit fail.
absl::StatusOr<uint64_t> RaiseDescriptorLimit();

// The soft descriptor limit now in force.
uint64_t DescriptorLimit();

// Thread-compatible (one accept thread per guard); counters are safe to read from any
// thread.
class AcceptGuard {
 public:
  enum class Result {
    kAccepted,   // *fd is a new connection (non-blocking, close-on-exec) for the caller
    kNone,       // nothing pending (EAGAIN) or a transient error
    kShed,       // a connection was accepted and closed: over budget
    kExhausted,  // descriptors ran out: one pending connection was dropped; back off
  };

  // `reserved`: descriptors kept free below the soft limit (at least 1).
  explicit AcceptGuard(int reserved);
  ~AcceptGuard();
  AcceptGuard(const AcceptGuard&) = delete;
  AcceptGuard& operator=(const AcceptGuard&) = delete;

  // Accepts one connection from the non-blocking listening socket `listen_fd`. On
  // kAccepted, *fd and *peer (text address, "host:port") are set.
  Result Accept(int listen_fd, int* fd, std::string* peer);

  uint64_t accepted() const { return accepted_.load(); }
  uint64_t shed() const { return shed_.load(); }
  uint64_t exhausted() const { return exhausted_.load(); }

 private:
  const int reserved_;
  int spare_ = -1;
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> shed_{0};
  std::atomic<uint64_t> exhausted_{0};
};

// "host:port" ("[v6]:port") of a socket address.
std::string SocketAddressText(const sockaddr_storage& address);

}  // namespace hie

#endif  // HIE_COMMON_LIMITS_DESCRIPTORS_H_
