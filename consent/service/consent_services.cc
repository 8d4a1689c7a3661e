#include "consent/service/consent_services.h"

#include "common/grpc/audit_service.h"
#include "consent/domain/practice_view.h"
#include "consent/service/consent_service.h"
#include "consent/service/mpi_exchange.h"
#include "grpcpp/create_channel.h"
#include "proto/hie/v1/audit.grpc.pb.h"
#include "proto/hie/v1/consent.grpc.pb.h"

namespace hie::consent {

using pki::Role;

std::shared_ptr<const AuthorizationPolicy> ConsentAuthorizationPolicy() {
  auto policy = std::make_shared<AuthorizationPolicy>();
  constexpr char kConsent[] = "/hie.v1.ConsentService/";
  constexpr char kAudit[] = "/hie.v1.AuditLog/";
  policy->AllowInfrastructure()
      .Allow(std::string(kConsent) + "PutDirective", {Role::kNode, Role::kOperator})
      .Allow(std::string(kConsent) + "RevokeDirective", {Role::kNode, Role::kOperator})
      .Allow(std::string(kConsent) + "ListDirectives", {Role::kNode, Role::kOperator})
      .Allow(std::string(kConsent) + "Authorize", {Role::kNode})
      .Allow(std::string(kConsent) + "GetPublicKeys", {Role::kNode, Role::kMpi, Role::kOperator})
      .Allow(std::string(kConsent) + "RotateSigningKey", {Role::kOperator})
      .Allow(std::string(kConsent) + "ListDirectiveChanges", {Role::kNode, Role::kOperator})
      // Nodes append their query and disclosure entries to the exchange's log.
      .Allow(std::string(kAudit) + "Append", {Role::kNode, Role::kOperator})
      .Allow(std::string(kAudit) + "QueryByPatient", {Role::kNode, Role::kOperator})
      .Allow(std::string(kAudit) + "Verify", {Role::kOperator})
      // Every party deposits its own audit checkpoints here (consent witnesses them).
      .Allow("/hie.v1.AuditWitness/Deposit", {Role::kNode, Role::kMpi})
      .Allow("/hie.v1.AuditWitness/ListCheckpoints", {Role::kNode, Role::kMpi, Role::kOperator});
  return policy;
}

absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> OpenConsentServices(
    const std::string& data_dir, std::shared_ptr<grpc::ChannelCredentials> mpi_credentials,
    const ConsentOptions& options) {
  auto state = std::make_shared<ConsentState>();
  auto store = store::KvStore::Open(data_dir + "/store");
  if (!store.ok()) return store.status();
  state->store = std::move(*store);
  state->directives = std::make_unique<DirectiveStore>(state->store.get(), Clock::Real());
  auto feed = DirectiveFeed::Open(state->store.get(), Clock::Real());
  if (!feed.ok()) return feed.status();
  state->feed = std::move(*feed);
  auto keys = GrantKeys::Open(state->store.get(), Clock::Real(),
                              {.key_dir = data_dir + "/grant-keys",
                               .rotation = options.key_rotation,
                               .grant_validity = options.grant_validity});
  if (!keys.ok()) return keys.status();
  state->keys = std::move(*keys);
  auto audit_log = audit::AuditLog::Open(state->store.get(), Clock::Real(), "audit");
  if (!audit_log.ok()) return audit_log.status();
  state->audit = std::move(*audit_log);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  auto channel = grpc::CreateCustomChannel(options.mpi.address, mpi_credentials, args);
  state->exchange = std::make_unique<MpiExchange>(channel, options.mpi.address, Clock::Real());
  state->authorizer =
      std::make_unique<Authorizer>(options.policy, state->directives.get(), state->keys.get(),
                                   state->audit.get(), Clock::Real(), options.grant_validity,
                                   state->feed.get());

  // An accounting by a practice's local id also finds the entries filed under the
  // patient's EUID (decisions requested by other practices).
  AuditPatientResolver resolver =
      [state](const audit::PatientKey& key) -> absl::StatusOr<std::vector<audit::PatientKey>> {
    std::vector<audit::PatientKey> keys = {key};
    if (key.euid.empty()) {
      absl::StatusOr<PatientLinks> links =
          state->exchange->CrossReference(key.org_id, key.local_id);
      if (links.ok()) {
        keys.push_back(audit::PatientKey::Euid(links->euid));
      } else if (links.status().code() != absl::StatusCode::kNotFound) {
        return links.status();
      }
    }
    return keys;
  };
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<ConsentServiceImpl>(state));
  // Practices read other organisations' entries without the holders they name.
  AuditEntryView view = [](const Peer& caller,
                           hie::v1::AuditEntry entry) -> std::optional<hie::v1::AuditEntry> {
    if (caller.role == pki::Role::kOperator) return entry;
    return PracticeView(std::move(entry), caller.org_id);
  };
  services.push_back(
      std::make_unique<AuditLogService>(state->audit.get(), state, resolver, std::move(view)));
  return services;
}

}  // namespace hie::consent
