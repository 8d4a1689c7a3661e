// Group commit for audit entries that must be durable before an answer goes out, when
// many requests want that at once (the FHIR API audits every read): requests hand their
// entries over and are called back once they are durable; one thread appends everything
// waiting with one sync (AuditLog::AppendAll) while the next batch gathers. A request
// never holds a thread while it waits, and the disk syncs once per batch, not once per
// request.
#ifndef HIE_COMMON_AUDIT_AUDIT_COMMITTER_H_
#define HIE_COMMON_AUDIT_AUDIT_COMMITTER_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/audit/audit_log.h"

namespace hie::audit {

// Thread-safe.
class AuditCommitter {
 public:
  // `log` must outlive the committer. At most `max_waiting` entries wait at once; more
  // are refused (ResourceExhausted) rather than queued without bound.
  explicit AuditCommitter(AuditLog* log, size_t max_waiting = 65536);
  // Commits everything handed over, calls every callback, then returns.
  ~AuditCommitter();
  AuditCommitter(const AuditCommitter&) = delete;
  AuditCommitter& operator=(const AuditCommitter&) = delete;

  // Appends `entries` (in order, consecutively) and calls `done` on the committer's
  // thread once they are durable, with OK, or with why they are not (the log's error, or
  // ResourceExhausted when too many wait; then `done` runs before Append returns).
  void Append(std::vector<hie::v1::AuditEntry> entries, std::function<void(absl::Status)> done);

 private:
  struct Waiting {
    std::vector<hie::v1::AuditEntry> entries;
    std::function<void(absl::Status)> done;
  };
  void Run();

  AuditLog* const log_;
  const size_t max_waiting_;
  absl::Mutex mu_;
  std::deque<Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  size_t waiting_entries_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace hie::audit

#endif  // HIE_COMMON_AUDIT_AUDIT_COMMITTER_H_
