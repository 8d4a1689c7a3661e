#include "common/limits/peer_limiter.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"

namespace hie {

TokenBucket::TokenBucket(double rate_per_second, double capacity, absl::Time now)
    : rate_(rate_per_second), capacity_(capacity), tokens_(capacity), last_(now) {}

double TokenBucket::Level(absl::Time now) const {
  if (now <= last_) return tokens_;
  return std::min(capacity_, tokens_ + absl::ToDoubleSeconds(now - last_) * rate_);
}

bool TokenBucket::TryTake(absl::Time now) {
  tokens_ = Level(now);
  last_ = std::max(last_, now);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

bool TokenBucket::Full(absl::Time now) const { return Level(now) >= capacity_; }

namespace {

// Idle peers are swept once the table holds this many.
constexpr size_t kSweepAbove = 1024;

class PeerLimiterImpl final : public PeerLimiter {
 public:
  PeerLimiterImpl(const PeerLimits& limits, Clock* clock) : limits_(limits), clock_(clock) {
    if (limits_.calls_per_second > 0 && limits_.burst <= 0) {
      limits_.burst = std::max(1, static_cast<int>(std::ceil(limits_.calls_per_second)));
    }
  }

  absl::Status Admit(absl::string_view peer) override {
    const absl::Time now = clock_->Now();
    absl::MutexLock lock(&mu_);
    if (peers_.size() >= kSweepAbove) Sweep(now);
    State& state = peers_[peer];
    if (limits_.max_concurrent_calls > 0 && state.in_flight >= limits_.max_concurrent_calls) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "peer \"", peer, "\" has ", state.in_flight,
          " calls in flight, the most one peer may have (peer_limits.max_concurrent_calls = ",
          limits_.max_concurrent_calls, "): retry when one has ended"));
    }
    if (limits_.calls_per_second > 0) {
      if (!state.bucket.has_value()) {
        state.bucket.emplace(limits_.calls_per_second, limits_.burst, now);
      }
      if (!state.bucket->TryTake(now)) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "peer \"", peer, "\" is over its call rate (peer_limits.calls_per_second = ",
            absl::StrFormat("%g", limits_.calls_per_second), ", burst = ", limits_.burst,
            "): retry later"));
      }
    }
    return absl::OkStatus();
  }

  void CallStarted(absl::string_view peer) override {
    absl::MutexLock lock(&mu_);
    ++peers_[peer].in_flight;
  }

  void CallFinished(absl::string_view peer) override {
    absl::MutexLock lock(&mu_);
    auto it = peers_.find(peer);
    if (it != peers_.end() && it->second.in_flight > 0) --it->second.in_flight;
  }

  int InFlight(absl::string_view peer) const override {
    absl::MutexLock lock(&mu_);
    auto it = peers_.find(peer);
    return it == peers_.end() ? 0 : it->second.in_flight;
  }

  const PeerLimits& limits() const override { return limits_; }

 private:
  struct State {
    int in_flight = 0;
    std::optional<TokenBucket> bucket;
  };

  void Sweep(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::erase_if(peers_, [now](const auto& entry) {
      const State& s = entry.second;
      return s.in_flight == 0 && (!s.bucket.has_value() || s.bucket->Full(now));
    });
  }

  PeerLimits limits_;
  Clock* const clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, State> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<PeerLimiter> PeerLimiter::Create(const PeerLimits& limits, Clock* clock) {
  return std::make_unique<PeerLimiterImpl>(limits, clock);
}

}  // namespace hie
