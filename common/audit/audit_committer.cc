#include "common/audit/audit_committer.h"

#include <utility>

namespace hie::audit {

AuditCommitter::AuditCommitter(AuditLog* log, size_t max_waiting)
    : log_(log), max_waiting_(max_waiting), thread_([this] { Run(); }) {}

AuditCommitter::~AuditCommitter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void AuditCommitter::Append(std::vector<hie::v1::AuditEntry> entries,
                            std::function<void(absl::Status)> done) {
  // An entry the log would refuse is refused here, alone: in a batch it would fail
  // every other request's entries with it.
  for (const hie::v1::AuditEntry& entry : entries) {
    if (entry.action() == hie::v1::AUDIT_ACTION_UNSPECIFIED) {
      done(absl::InvalidArgumentError("an audit entry needs an action"));
      return;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_ && waiting_entries_ + entries.size() <= max_waiting_) {
      waiting_entries_ += entries.size();
      waiting_.push_back({std::move(entries), std::move(done)});
      return;
    }
  }
  done(absl::ResourceExhaustedError("too many audit entries are waiting to be written"));
}

void AuditCommitter::Run() {
  for (;;) {
    std::deque<Waiting> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AuditCommitter* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
            return !c->waiting_.empty() || c->stopping_;
          },
          this));
      if (waiting_.empty()) return;  // stopping, and everything handed over is done
      batch.swap(waiting_);
      waiting_entries_ = 0;
    }
    std::vector<hie::v1::AuditEntry> entries;
    for (Waiting& w : batch) {
      for (hie::v1::AuditEntry& e : w.entries) entries.push_back(std::move(e));
    }
    const absl::Status status = log_->AppendAll(std::move(entries));
    for (Waiting& w : batch) w.done(status);
  }
}

}  // namespace hie::audit
