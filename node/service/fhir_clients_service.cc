#include "node/service/fhir_clients_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/status_convert.h"
#include "common/time/proto_time.h"

namespace hie::node {
namespace {

absl::Status CheckOwnOrgOrOperator(const grpc::CallbackServerContext& context,
                                   const std::string& own_org) {
  absl::StatusOr<Peer> peer = PeerFromContext(context);
  if (!peer.ok()) return peer.status();
  if (peer->role == pki::Role::kOperator || peer->org_id == own_org) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("this node serves ", own_org, "; ", peer->org_id,
                                                  " may not manage its clients"));
}

void ToProto(const auth::Client& client, hie::v1::FhirClient* out) {
  out->set_client_id(client.client_id);
  out->set_name(client.name);
  out->set_algorithm(std::string(auth::JwsAlgorithmName(client.algorithm)));
  for (const std::string& scope : client.scopes) out->add_scopes(scope);
  *out->mutable_registered_at() = ToProtoTime(client.registered_at);
  if (client.revoked_at.has_value()) *out->mutable_revoked_at() = ToProtoTime(*client.revoked_at);
}

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const absl::Status& s) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace

FhirClientsService::FhirClientsService(std::shared_ptr<NodeState> state)
    : state_(std::move(state)), registry_(*state_->fhir_clients) {}

grpc::ServerUnaryReactor* FhirClientsService::RegisterClient(
    grpc::CallbackServerContext* context, const hie::v1::RegisterFhirClientRequest* request,
    hie::v1::FhirClient* response) {
  if (absl::Status s = CheckOwnOrgOrOperator(*context, state_->own_org); !s.ok()) {
    return Finish(context, s);
  }
  absl::StatusOr<auth::JwsAlgorithm> algorithm = auth::ParseJwsAlgorithm(request->algorithm());
  if (!algorithm.ok()) {
    return Finish(context, absl::InvalidArgumentError(
                               absl::StrCat("algorithm: ", algorithm.status().message())));
  }
  auth::ClientRegistration registration{
      .name = request->name(),
      .org = state_->own_org,
      .public_key = request->public_key(),
      .algorithm = *algorithm,
      .scopes = {request->scopes().begin(), request->scopes().end()}};
  absl::StatusOr<auth::Client> client = registry_.Register(registration, absl::Now());
  if (client.ok()) ToProto(*client, response);
  return Finish(context, client.status());
}

grpc::ServerUnaryReactor* FhirClientsService::RevokeClient(
    grpc::CallbackServerContext* context, const hie::v1::RevokeFhirClientRequest* request,
    hie::v1::FhirClient* response) {
  if (absl::Status s = CheckOwnOrgOrOperator(*context, state_->own_org); !s.ok()) {
    return Finish(context, s);
  }
  if (absl::Status s = registry_.Revoke(request->client_id(), absl::Now()); !s.ok()) {
    return Finish(context, s);
  }
  absl::StatusOr<auth::Client> client = registry_.Get(request->client_id());
  if (client.ok()) ToProto(*client, response);
  return Finish(context, client.status());
}

grpc::ServerUnaryReactor* FhirClientsService::ListClients(
    grpc::CallbackServerContext* context, const hie::v1::ListFhirClientsRequest*,
    hie::v1::ListFhirClientsResponse* response) {
  if (absl::Status s = CheckOwnOrgOrOperator(*context, state_->own_org); !s.ok()) {
    return Finish(context, s);
  }
  absl::StatusOr<std::vector<auth::Client>> clients = registry_.List();
  if (clients.ok()) {
    for (const auth::Client& c : *clients) ToProto(c, response->add_clients());
  }
  return Finish(context, clients.status());
}

}  // namespace hie::node
