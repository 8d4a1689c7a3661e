// The AuditLog gRPC service over a daemon's own hash-chained audit log: translation
// only. Served by every daemon (operators verify and query; see each daemon's table).
#ifndef HIE_COMMON_GRPC_AUDIT_SERVICE_H_
#define HIE_COMMON_GRPC_AUDIT_SERVICE_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/audit/audit_log.h"
#include "proto/hie/v1/audit.grpc.pb.h"

namespace hie {

// Widens a patient query to every key the daemon indexes the patient's entries under
// (the consent service adds the patient's EUID to a local reference). Returns the keys
// to query, including `patient` itself.
using AuditPatientResolver =
    std::function<absl::StatusOr<std::vector<audit::PatientKey>>(const audit::PatientKey& patient)>;

class AuditLogService final : public hie::v1::AuditLog::CallbackService {
 public:
  // `log` must outlive the service; `keepalive` (may be null) is held for that purpose.
  // `resolver` may be empty: then a query reads the key it names.
  AuditLogService(audit::AuditLog* log, std::shared_ptr<void> keepalive,
                  AuditPatientResolver resolver = nullptr)
      : log_(log), keepalive_(std::move(keepalive)), resolver_(std::move(resolver)) {}

  // The actor org is the caller's certificate org, whatever the entry says.
  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* context,
                                   const hie::v1::AppendAuditRequest* request,
                                   hie::v1::AuditEntry* response) override;

  // Operators may ask about any patient; a node only about its own org's local ids.
  grpc::ServerWriteReactor<hie::v1::AuditEntry>* QueryByPatient(
      grpc::CallbackServerContext* context, const hie::v1::QueryByPatientRequest* request) override;

  grpc::ServerUnaryReactor* Verify(grpc::CallbackServerContext* context,
                                   const hie::v1::VerifyAuditRequest* request,
                                   hie::v1::VerifyAuditResponse* response) override;

  // The log served (the daemon also records security refusals there).
  audit::AuditLog* log() const { return log_; }

 private:
  audit::AuditLog* const log_;
  std::shared_ptr<void> keepalive_;
  AuditPatientResolver resolver_;
};

}  // namespace hie

#endif  // HIE_COMMON_GRPC_AUDIT_SERVICE_H_
