// The AuditLog gRPC service over a daemon's own hash-chained audit log: translation
// only. Served by every daemon (operators verify and query; see each daemon's table).
#ifndef HIE_COMMON_GRPC_AUDIT_SERVICE_H_
#define HIE_COMMON_GRPC_AUDIT_SERVICE_H_

#include <memory>

#include "common/audit/audit_log.h"
#include "proto/hie/v1/audit.grpc.pb.h"

namespace hie {

class AuditLogService final : public hie::v1::AuditLog::CallbackService {
 public:
  // `log` must outlive the service; `keepalive` (may be null) is held for that purpose.
  AuditLogService(audit::AuditLog* log, std::shared_ptr<void> keepalive)
      : log_(log), keepalive_(std::move(keepalive)) {}

  grpc::ServerUnaryReactor* Verify(grpc::CallbackServerContext* context,
                                   const hie::v1::VerifyAuditRequest* request,
                                   hie::v1::VerifyAuditResponse* response) override;

 private:
  audit::AuditLog* const log_;
  std::shared_ptr<void> keepalive_;
};

}  // namespace hie

#endif  // HIE_COMMON_GRPC_AUDIT_SERVICE_H_
