// Time behind an interface so that tests can jump past expiries deterministically.
#ifndef HIE_COMMON_TIME_CLOCK_H_
#define HIE_COMMON_TIME_CLOCK_H_

#include "absl/time/time.h"

namespace hie {

// A source of the current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The process-wide real-time clock; never null, never destroyed.
  static Clock* Real();
};

}  // namespace hie

#endif  // HIE_COMMON_TIME_CLOCK_H_
