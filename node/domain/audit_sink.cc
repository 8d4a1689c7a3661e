#include "node/domain/audit_sink.h"

namespace hie::node {
namespace {

class AuditLogSink final : public AuditSink {
 public:
  explicit AuditLogSink(audit::AuditLog* log) : log_(log) {}

  absl::Status Append(hie::v1::AuditEntry entry) override {
    return log_->Append(std::move(entry)).status();
  }

 private:
  audit::AuditLog* const log_;
};

}  // namespace

std::unique_ptr<AuditSink> AuditSink::ForLog(audit::AuditLog* log) {
  return std::make_unique<AuditLogSink>(log);
}

}  // namespace hie::node
