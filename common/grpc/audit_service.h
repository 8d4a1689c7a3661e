// The AuditLog gRPC service over a daemon's own hash-chained audit log: translation
// only. Served by every daemon (operators verify and query; see each daemon's table).
#ifndef HIE_COMMON_GRPC_AUDIT_SERVICE_H_
#define HIE_COMMON_GRPC_AUDIT_SERVICE_H_

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/audit/audit_log.h"
#include "common/audit/checkpoint.h"
#include "common/grpc/peer_identity.h"
#include "grpcpp/channel.h"
#include "proto/hie/v1/audit.grpc.pb.h"

namespace hie {

// Widens a patient query to every key the daemon indexes the patient's entries under
// (the consent service adds the patient's EUID to a local reference). Returns the keys
// to query, including `patient` itself.
using AuditPatientResolver =
    std::function<absl::StatusOr<std::vector<audit::PatientKey>>(const audit::PatientKey& patient)>;

// What `caller` may read of `entry`: the entry (possibly with fields cleared), or
// nullopt to leave it out of the answer. The consent service gives practices a view
// that names no other holder of the patient (consent::PracticeView).
using AuditEntryView = std::function<std::optional<hie::v1::AuditEntry>(const Peer& caller,
                                                                        hie::v1::AuditEntry entry)>;

// VerifyAuditResponse.problem's first word when a configured witness did not answer.
inline constexpr char kUnverifiedProblem[] = "unverified";

class AuditLogService final : public hie::v1::AuditLog::CallbackService {
 public:
  // `log` must outlive the service; `keepalive` (may be null) is held for that purpose.
  // `resolver` may be empty: then a query reads the key it names. `view` may be empty:
  // then a query answers entries whole.
  AuditLogService(audit::AuditLog* log, std::shared_ptr<void> keepalive,
                  AuditPatientResolver resolver = nullptr, AuditEntryView view = nullptr)
      : log_(log),
        keepalive_(std::move(keepalive)),
        resolver_(std::move(resolver)),
        view_(std::move(view)) {}

  // The actor org is the caller's certificate org, whatever the entry says.
  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* context,
                                   const hie::v1::AppendAuditRequest* request,
                                   hie::v1::AuditEntry* response) override;

  // Operators may ask about any patient; a node only about its own org's local ids.
  // Each entry found is answered as the view gives it to the caller.
  grpc::ServerWriteReactor<hie::v1::AuditEntry>* QueryByPatient(
      grpc::CallbackServerContext* context, const hie::v1::QueryByPatientRequest* request) override;

  // Walks the chain; with witnesses, also asks each of them (from another thread, each
  // with a deadline) for the checkpoints it holds of this log and compares. If a
  // configured witness does not answer and nothing else is wrong, the answer is not ok,
  // first_bad_sequence 0, problem starting with kUnverifiedProblem and naming the
  // witnesses: unverified, never intact.
  grpc::ServerUnaryReactor* Verify(grpc::CallbackServerContext* context,
                                   const hie::v1::VerifyAuditRequest* request,
                                   hie::v1::VerifyAuditResponse* response) override;

  // A witness Verify fetches this daemon's checkpoints from.
  struct WitnessSource {
    std::string name;
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    audit::Party self;   // this daemon, as its checkpoints name it
    std::string ca_pem;  // the exchange CA, to check the signer of each checkpoint
  };
  // Keeps `checkpointer` running as long as the service and makes Verify compare with
  // `witnesses`. REQUIRES: called before the service serves.
  void EnableWitnessing(std::unique_ptr<audit::Checkpointer> checkpointer,
                        std::vector<WitnessSource> witnesses);

  // The log served (the daemon also records security refusals there).
  audit::AuditLog* log() const { return log_; }
  const std::shared_ptr<void>& keepalive() const { return keepalive_; }

 private:
  audit::AuditLog* const log_;
  std::shared_ptr<void> keepalive_;
  AuditPatientResolver resolver_;
  AuditEntryView view_;
  std::vector<WitnessSource> witnesses_;
  // Declared after keepalive_ so that it stops before the log can go away.
  std::unique_ptr<audit::Checkpointer> checkpointer_;
};

}  // namespace hie

#endif  // HIE_COMMON_GRPC_AUDIT_SERVICE_H_
