// A Clock for the accounts and sessions tests that stands still until the test moves
// it, so that lockouts, TOTP steps and session expiries land on exact times.
// (common/testing/fake_clock.h runs with real time, which these tests must not.)
#ifndef HIE_TESTS_NODE_MANUAL_CLOCK_H_
#define HIE_TESTS_NODE_MANUAL_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"

namespace hie::testing {

// Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::testing

#endif  // HIE_TESTS_NODE_MANUAL_CLOCK_H_
