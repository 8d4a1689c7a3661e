#include "common/grpc/audit_service.h"

#include "common/grpc/status_convert.h"

namespace hie {

grpc::ServerUnaryReactor* AuditLogService::Verify(grpc::CallbackServerContext* context,
                                                  const hie::v1::VerifyAuditRequest* request,
                                                  hie::v1::VerifyAuditResponse* response) {
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<audit::VerifyReport> report = log_->Verify();
  if (!report.ok()) {
    reactor->Finish(ToGrpcStatus(report.status()));
    return reactor;
  }
  response->set_ok(report->ok);
  response->set_entries_checked(report->entries_checked);
  response->set_first_bad_sequence(report->first_bad_sequence);
  response->set_problem(report->ok ? "" : report->problem + ": " + report->detail);
  response->set_head_hash(report->head_hash);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace hie
