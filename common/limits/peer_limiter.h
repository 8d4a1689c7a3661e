// Per-peer call limits, so that one member of the exchange cannot starve the others:
// a cap on the calls one peer has in flight and a token bucket on the rate at which it
// starts them. A peer is a plain string (the org id of its certificate); this library
// knows nothing of gRPC. The server's call guard asks Admit before any handler runs and
// reports each call's start and end (common/grpc/server_runner.cc).
#ifndef HIE_COMMON_LIMITS_PEER_LIMITER_H_
#define HIE_COMMON_LIMITS_PEER_LIMITER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/time/clock.h"

namespace hie {

// A token bucket: holds at most `capacity` tokens, gains `rate_per_second` tokens a
// second, starts full. Thread-compatible.
class TokenBucket {
 public:
  // REQUIRES: rate_per_second > 0, capacity >= 1.
  TokenBucket(double rate_per_second, double capacity, absl::Time now);

  // Takes one token if there is one at `now`. Time going backwards adds nothing.
  bool TryTake(absl::Time now);

  // True if the bucket is full at `now` (an idle peer's bucket can be forgotten).
  bool Full(absl::Time now) const;

 private:
  double Level(absl::Time now) const;

  double rate_;
  double capacity_;
  double tokens_;
  absl::Time last_;
};

struct PeerLimits {
  // Calls of one peer in flight at once; 0: unlimited.
  int max_concurrent_calls = 64;
  // Sustained calls per second of one peer; 0: no rate limit.
  double calls_per_second = 0;
  // The bucket's size; 0: calls_per_second rounded up, at least 1.
  int burst = 0;
};

// Thread-safe. Memory grows with the number of distinct peers seen recently: idle peers
// (nothing in flight, bucket full) are forgotten.
class PeerLimiter {
 public:
  virtual ~PeerLimiter() = default;

  // `clock` must outlive the limiter.
  static std::unique_ptr<PeerLimiter> Create(const PeerLimits& limits,
                                             Clock* clock = Clock::Real());

  // Decides whether `peer` may start another call now, and takes a token if so.
  // Errors: ResourceExhausted naming the peer and the limit it is over.
  virtual absl::Status Admit(absl::string_view peer) = 0;

  // A call of `peer` began running / ended. Every CallStarted must be followed by
  // exactly one CallFinished for the same peer.
  virtual void CallStarted(absl::string_view peer) = 0;
  virtual void CallFinished(absl::string_view peer) = 0;

  // Calls of `peer` running now.
  virtual int InFlight(absl::string_view peer) const = 0;

  virtual const PeerLimits& limits() const = 0;
};

}  // namespace hie

#endif  // HIE_COMMON_LIMITS_PEER_LIMITER_H_
