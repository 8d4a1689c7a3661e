// A Clock for tests: real time plus an offset that the test moves forward, so that
// expiries (certificates, CRLs, grants) can be crossed without waiting. Thread-safe.
#ifndef HIE_COMMON_TESTING_FAKE_CLOCK_H_
#define HIE_COMMON_TESTING_FAKE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/time/clock.h"

namespace hie::testing {

class FakeClock final : public Clock {
 public:
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return absl::Now() + offset_;
  }
  // Moves this clock forward (or back, for a negative `d`) by `d`.
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    offset_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Duration offset_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::testing

#endif  // HIE_COMMON_TESTING_FAKE_CLOCK_H_
