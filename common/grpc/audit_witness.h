// Witnessed audit checkpoints over gRPC: the AuditWitness service the consent service
// and the MPI serve (translation only, over audit::WitnessStore), the clients a daemon
// deposits its checkpoints and fetches them back with, and the one call each daemon's
// main makes to turn all of it on (audit::Checkpointer in common/audit/checkpoint.h).
#ifndef HIE_COMMON_GRPC_AUDIT_WITNESS_H_
#define HIE_COMMON_GRPC_AUDIT_WITNESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/audit/checkpoint.h"
#include "common/config/config_file.h"
#include "common/config/server_config.h"
#include "common/grpc/tls.h"
#include "grpcpp/channel.h"
#include "grpcpp/impl/service_type.h"
#include "proto/hie/v1/audit.grpc.pb.h"
#include "proto/hie/v1/config.pb.h"

namespace hie {

class AuditWitnessService final : public hie::v1::AuditWitness::CallbackService {
 public:
  // `store` must outlive the service; `keepalive` (may be null) is held for that purpose.
  AuditWitnessService(audit::WitnessStore* store, std::shared_ptr<void> keepalive)
      : store_(store), keepalive_(std::move(keepalive)) {}

  // The depositor is the caller's certificate (org, role, and the key the signature must
  // verify with); nothing in the request names it.
  grpc::ServerUnaryReactor* Deposit(grpc::CallbackServerContext* context,
                                    const hie::v1::DepositCheckpointRequest* request,
                                    hie::v1::DepositCheckpointResponse* response) override;

  // A member gets its own checkpoints whatever it names; an operator those it names.
  grpc::ServerWriteReactor<hie::v1::SignedCheckpoint>* ListCheckpoints(
      grpc::CallbackServerContext* context,
      const hie::v1::ListCheckpointsRequest* request) override;

 private:
  audit::WitnessStore* const store_;
  std::shared_ptr<void> keepalive_;
};

// A witness this daemon deposits with and verifies against.
struct WitnessPeer {
  std::string name;  // "consent", "mpi"
  PeerSettings peer;
  pki::Role role = pki::Role::kConsent;  // the witness's certificate role
};

// What a witness answered for the caller's own chain.
struct WitnessedCheckpoints {
  // Those that name `self` and whose signature verifies with a certificate of `self`
  // issued by the exchange CA (valid when the checkpoint was made).
  std::vector<hie::v1::AuditCheckpoint> checkpoints;
  // How many the witness returned that failed those checks (ignored: a witness cannot
  // make a party's checkpoints up).
  int ignored = 0;
};

// Reads the checkpoints the witness on `channel` holds for the caller's own chain (the
// caller is whoever `channel` authenticates as). Errors: the call's, as an absl::Status.
absl::StatusOr<WitnessedCheckpoints> FetchWitnessedCheckpoints(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration deadline,
    const audit::Party& self, const std::string& ca_pem);

// Validated ServerConfig.audit_checkpoints: interval and every_entries filled with their
// defaults. Errors name the field.
absl::StatusOr<audit::CheckpointerOptions> ValidateAuditCheckpointConfig(
    const ConfigFile& file, const hie::v1::ServerConfig& server, const ServerSettings& settings);

// Turns on witnessed checkpoints in a daemon whose opened `services` include its
// AuditLogService: starts a Checkpointer over its log (self from `tls`), depositing with
// each of `witnesses`, and lets the log's Verify compare with what they hold. With
// `serve_witness`, also adds an AuditWitnessService keeping other parties' checkpoints in
// the same store. Errors: FailedPrecondition if `services` holds no AuditLogService.
absl::Status EnableAuditWitnessing(std::vector<std::unique_ptr<grpc::Service>>* services,
                                   const std::shared_ptr<TlsContext>& tls,
                                   audit::CheckpointerOptions options,
                                   const std::vector<WitnessPeer>& witnesses, bool serve_witness);

}  // namespace hie

#endif  // HIE_COMMON_GRPC_AUDIT_WITNESS_H_
