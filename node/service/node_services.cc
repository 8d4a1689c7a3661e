#include "node/service/node_services.h"

#include <algorithm>

#include "common/grpc/audit_service.h"
#include "grpcpp/create_channel.h"
#include "node/domain/audit_sink.h"
#include "node/domain/federated_query.h"
#include "node/service/directive_client.h"
#include "node/service/fhir_clients_service.h"
#include "node/service/ingest_service.h"
#include "node/service/peer_service.h"
#include "node/service/query_clients.h"
#include "node/service/query_service.h"
#include "node/service/users_service.h"
#include "proto/hie/v1/audit.grpc.pb.h"
#include "proto/hie/v1/node.grpc.pb.h"

namespace hie::node {

using pki::Role;

std::shared_ptr<const AuthorizationPolicy> NodeAuthorizationPolicy() {
  auto policy = std::make_shared<AuthorizationPolicy>();
  // The role table admits callers by role; that Ingest, FederatedQuery, NodeStatus,
  // FhirClients and Users callers with role node belong to this node's own org is checked
  // by the services.
  policy->AllowInfrastructure()
      .Allow("/hie.v1.Ingest/Import", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.Ingest/GetRecord", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.PeerRecords/FetchRecords", {Role::kNode})
      .Allow("/hie.v1.PeerRecords/ListDisclosures", {Role::kNode})
      .Allow("/hie.v1.FederatedQuery/Query", {Role::kNode})
      .Allow("/hie.v1.NodeStatus/GetStatus", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.FhirClients/RegisterClient", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.FhirClients/RevokeClient", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.FhirClients/ListClients", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.Users/AddUser", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.Users/SetDisabled", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.Users/ResetPassword", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.Users/RemoveTotp", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.Users/ListUsers", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.AuditLog/Append", {Role::kOperator})
      .Allow("/hie.v1.AuditLog/QueryByPatient", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.AuditLog/Verify", {Role::kOperator});
  return policy;
}

absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> OpenNodeServices(
    const std::string& data_dir, const NodeOptions& options) {
  auto state = std::make_shared<NodeState>();
  state->own_org = options.own_org;
  auto store = store::KvStore::Open(data_dir + "/records");
  if (!store.ok()) return store.status();
  state->store = std::move(*store);
  state->records = std::make_unique<RecordStore>(state->store.get(), Clock::Real());
  state->fhir_clients = std::make_unique<auth::ClientRegistry>(state->store.get());
  auto sessions = Sessions::Create(Clock::Real(), options.sessions);
  if (!sessions.ok()) return sessions.status();
  state->sessions = std::move(*sessions);
  AccountsOptions accounts_options = options.accounts;
  accounts_options.totp_issuer = "hie " + options.own_org;
  accounts_options.check_patient = [records = state->records.get()](absl::string_view id) {
    absl::StatusOr<hie::v1::RecordEnvelope> patient = records->Get("Patient", std::string(id));
    if (patient.ok() && !patient->deleted()) return absl::OkStatus();
    if (!patient.ok() && !absl::IsNotFound(patient.status())) return patient.status();
    return absl::NotFoundError(
        absl::StrCat("patient_id: this node holds no Patient/", id, " (import it first)"));
  };
  accounts_options.end_sessions = [sessions = state->sessions.get()](absl::string_view login) {
    sessions->EndAllFor(login);
  };
  auto accounts = Accounts::Open(state->store.get(), Clock::Real(), accounts_options);
  if (!accounts.ok()) return accounts.status();
  state->accounts = std::move(*accounts);
  auto audit_log = audit::AuditLog::Open(state->store.get(), Clock::Real(), "audit");
  if (!audit_log.ok()) return audit_log.status();
  state->audit = std::move(*audit_log);
  auto labeler = Labeler::FromConfig(options.labelling);
  if (!labeler.ok()) return labeler.status();
  state->labeler = std::make_unique<Labeler>(*std::move(labeler));
  IngestOptions ingest;
  if (options.max_import_resource_bytes > 0) {
    ingest.max_resource_bytes = options.max_import_resource_bytes;
  }
  state->ingester = std::make_unique<FhirIngester>(state->labeler.get(), ingest);
  if (options.max_record_bytes > 0) state->max_record_bytes = options.max_record_bytes;
  if (options.max_answer_bytes > 0) state->max_answer_bytes = options.max_answer_bytes;
  // Room for the envelope and framing beside the text.
  state->piece_bytes = std::clamp(options.max_message_bytes / 2, size_t{256}, size_t{1} << 20);
  auto outbox = Outbox::Open(state->store.get());
  if (!outbox.ok()) return outbox.status();
  state->outbox = std::move(*outbox);
  if (!options.mpi_address.empty() && options.mpi_credentials != nullptr) {
    state->mpi_channel = grpc::CreateChannel(options.mpi_address, options.mpi_credentials);
    state->sender = std::make_unique<MpiSender>(state->outbox.get(), state->mpi_channel);
  }

  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<IngestService>(state));
  // Peers, queries and status come next; until then these answer UNIMPLEMENTED through
  // the generated base classes.
  auto consent_channel = grpc::CreateChannel(options.consent_address, options.consent_credentials);
  state->consent_channel = consent_channel;
  state->certificate_file = options.certificate_file;
  auto keys = std::make_shared<GrantKeySource>(consent_channel);
  auto feed = std::make_shared<DirectiveFeedFollower>(
      consent_channel, options.directive_feed_interval, options.directive_feed_max_staleness);
  services.push_back(std::make_unique<PeerRecordsService>(state, keys, feed));
  FederatedQueryOptions query_options;
  query_options.own_org = options.own_org;
  query_options.known_peers = state->known_peers.get();
  // One channel to each peer, shared by record fetches and accountings.
  auto peer_stubs = std::make_shared<PeerStubs>(options.peer_credentials);
  state->peer_credentials = options.peer_credentials;
  query_options.default_holder_timeout = absl::Milliseconds(options.holder_timeout_ms);
  query_options.max_record_bytes = state->max_record_bytes;
  query_options.max_answer_bytes = state->max_answer_bytes;
  auto query = std::make_shared<FederatedQuery>(
      query_options, state->records.get(), std::make_unique<GrpcConsentClient>(consent_channel),
      std::make_unique<GrpcHolderClient>(peer_stubs), AuditSink::ForLog(state->audit.get()),
      Clock::Real());
  services.push_back(std::make_unique<FederatedQueryService>(state, query));
  state->accounting = std::make_shared<DisclosureAccounting>(
      DisclosureAccountingOptions{.own_org = options.own_org,
                                  .holder_timeout = query_options.default_holder_timeout},
      state->audit.get(), std::make_unique<GrpcConsentClient>(consent_channel),
      std::make_unique<GrpcAccountingClient>(peer_stubs));
  state->directives = std::make_shared<GrpcDirectiveClient>(consent_channel, options.own_org);
  services.push_back(std::make_unique<hie::v1::NodeStatus::CallbackService>());
  services.push_back(std::make_unique<AuditLogService>(state->audit.get(), state));
  services.push_back(std::make_unique<FhirClientsService>(state));
  services.push_back(std::make_unique<UsersService>(state));
  if (options.hl7.has_value()) {
    auto feed = StartMllpService(state, *options.hl7);
    if (!feed.ok()) return feed.status();
    services.push_back(*std::move(feed));
  }
  for (const auto& start : options.fronts) {
    auto front = start(state, query);
    if (!front.ok()) return front.status();
    services.push_back(*std::move(front));
  }
  return services;
}

}  // namespace hie::node
