// How many refusals of one organisation the consent service puts in its audit chain:
// every refusal is audited until an organisation has had `per_minute` in the current
// minute; the rest of that minute's are counted, and the next audited refusal (and a
// log line) says how many were left out. A member flooding refused calls therefore
// adds at most `per_minute` entries a minute to the chain, never unbounded disk.
#ifndef HIE_CONSENT_DOMAIN_REFUSAL_LIMITER_H_
#define HIE_CONSENT_DOMAIN_REFUSAL_LIMITER_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hie::consent {

// Thread-safe.
class RefusalLimiter {
 public:
  explicit RefusalLimiter(int per_minute = 60) : per_minute_(per_minute) {}

  struct Verdict {
    bool audit = false;
    // Refusals of this organisation not audited since its last audited one.
    int64_t suppressed_before = 0;
  };

  Verdict Admit(const std::string& org, absl::Time now) {
    absl::MutexLock lock(&mu_);
    if (counts_.size() > 10000) counts_.clear();  // bounded; forgets only counts
    Window& w = counts_[org];
    int64_t minute = absl::ToUnixSeconds(now) / 60;
    if (w.minute != minute) {
      w.minute = minute;
      w.audited = 0;
    }
    Verdict v;
    if (w.audited >= per_minute_) {
      ++w.suppressed;
      return v;
    }
    ++w.audited;
    v.audit = true;
    v.suppressed_before = w.suppressed;
    w.suppressed = 0;
    return v;
  }

 private:
  struct Window {
    int64_t minute = 0;
    int audited = 0;
    int64_t suppressed = 0;
  };
  const int per_minute_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Window> counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::consent

#endif  // HIE_CONSENT_DOMAIN_REFUSAL_LIMITER_H_
