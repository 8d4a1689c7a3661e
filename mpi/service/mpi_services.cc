#include "mpi/service/mpi_services.h"

#include "common/grpc/audit_service.h"
#include "mpi/service/mpi_service.h"
#include "proto/hie/v1/audit.grpc.pb.h"
#include "proto/hie/v1/directory.grpc.pb.h"
#include "proto/hie/v1/mpi.grpc.pb.h"

namespace hie::mpi {

using pki::Role;

std::shared_ptr<const AuthorizationPolicy> MpiAuthorizationPolicy() {
  auto policy = std::make_shared<AuthorizationPolicy>();
  constexpr char kMpi[] = "/hie.v1.MasterPatientIndex/";
  constexpr char kDir[] = "/hie.v1.Directory/";
  constexpr char kAudit[] = "/hie.v1.AuditLog/";
  policy
      ->AllowInfrastructure()
      // Nodes register their own org's patients (the org comes from the certificate).
      .Allow(std::string(kMpi) + "RegisterPatient", {Role::kNode, Role::kOperator})
      .Allow(std::string(kMpi) + "UpdatePatient", {Role::kNode, Role::kOperator})
      .Allow(std::string(kMpi) + "RemovePatient", {Role::kNode, Role::kOperator})
      .Allow(std::string(kMpi) + "GetCrossReference",
             {Role::kNode, Role::kConsent, Role::kOperator})
      .Allow(std::string(kMpi) + "SearchPatients", {Role::kNode, Role::kOperator})
      .Allow(std::string(kMpi) + "Link", {Role::kOperator})
      .Allow(std::string(kMpi) + "Unlink", {Role::kOperator})
      .Allow(std::string(kMpi) + "Merge", {Role::kOperator})
      .Allow(std::string(kMpi) + "ListReviews", {Role::kOperator})
      .Allow(std::string(kMpi) + "ResolveReview", {Role::kOperator})
      .Allow(std::string(kMpi) + "ExplainMatch", {Role::kOperator})
      .Allow(std::string(kMpi) + "GetMatchModel", {Role::kOperator})
      .Allow(std::string(kMpi) + "FitMatchModel", {Role::kOperator})
      .Allow(std::string(kDir) + "EnrollOrganization", {Role::kOperator})
      .Allow(std::string(kDir) + "SuspendOrganization", {Role::kOperator})
      .Allow(std::string(kDir) + "ReinstateOrganization", {Role::kOperator})
      .Allow(std::string(kDir) + "SetEndpoint", {Role::kOperator})
      .Allow(std::string(kDir) + "GetOrganization",
             {Role::kNode, Role::kConsent, Role::kMpi, Role::kOperator})
      .Allow(std::string(kDir) + "ListOrganizations",
             {Role::kNode, Role::kConsent, Role::kMpi, Role::kOperator})
      .Allow(std::string(kAudit) + "Append", {Role::kOperator})
      .Allow(std::string(kAudit) + "QueryByPatient", {Role::kOperator})
      .Allow(std::string(kAudit) + "Verify", {Role::kOperator})
      // Every party deposits its own audit checkpoints here (the MPI witnesses them).
      .Allow("/hie.v1.AuditWitness/Deposit", {Role::kNode, Role::kConsent})
      .Allow("/hie.v1.AuditWitness/ListCheckpoints",
             {Role::kNode, Role::kConsent, Role::kOperator});
  return policy;
}

absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> OpenMpiServices(
    const std::string& data_dir, const IndexOptions& options,
    const RegistrationAlertOptions& alerts) {
  auto state = std::make_shared<MpiState>();
  auto store = store::KvStore::Open(data_dir + "/index", IndexStoreOptions());
  if (!store.ok()) return store.status();
  state->store = std::move(*store);
  auto directory = Directory::Open(state->store.get(), Clock::Real());
  if (!directory.ok()) return directory.status();
  state->directory = std::move(*directory);
  auto audit_log = audit::AuditLog::Open(state->store.get(), Clock::Real(), "audit");
  if (!audit_log.ok()) return audit_log.status();
  state->audit = std::move(*audit_log);
  auto index = PatientIndex::Open(state->store.get(), Clock::Real(), options);
  if (!index.ok()) return index.status();
  state->index = std::move(*index);
  state->monitor = std::make_unique<RegistrationMonitor>(Clock::Real(), alerts);
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<MasterPatientIndexService>(state));
  services.push_back(std::make_unique<DirectoryService>(state));
  services.push_back(std::make_unique<AuditLogService>(state->audit.get(), state));
  return services;
}

}  // namespace hie::mpi
