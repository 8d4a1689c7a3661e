#include "node/service/node_services.h"

#include "proto/hie/v1/audit.grpc.pb.h"
#include "proto/hie/v1/node.grpc.pb.h"

namespace hie::node {

using pki::Role;

std::shared_ptr<const AuthorizationPolicy> NodeAuthorizationPolicy() {
  auto policy = std::make_shared<AuthorizationPolicy>();
  // The role table admits callers by role; that Ingest, FederatedQuery and NodeStatus
  // callers with role node belong to this node's own org is checked by the services.
  policy->AllowInfrastructure()
      .Allow("/hie.v1.Ingest/Import", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.Ingest/GetRecord", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.PeerRecords/FetchRecords", {Role::kNode})
      .Allow("/hie.v1.FederatedQuery/Query", {Role::kNode})
      .Allow("/hie.v1.NodeStatus/GetStatus", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.AuditLog/Append", {Role::kOperator})
      .Allow("/hie.v1.AuditLog/QueryByPatient", {Role::kNode, Role::kOperator})
      .Allow("/hie.v1.AuditLog/Verify", {Role::kOperator});
  return policy;
}

std::vector<std::unique_ptr<grpc::Service>> MakeNodeServices() {
  std::vector<std::unique_ptr<grpc::Service>> services;
  // Storage, peers and queries come with their issues; until then every method answers
  // UNIMPLEMENTED through the generated base classes.
  services.push_back(std::make_unique<hie::v1::Ingest::CallbackService>());
  services.push_back(std::make_unique<hie::v1::PeerRecords::CallbackService>());
  services.push_back(std::make_unique<hie::v1::FederatedQuery::CallbackService>());
  services.push_back(std::make_unique<hie::v1::NodeStatus::CallbackService>());
  services.push_back(std::make_unique<hie::v1::AuditLog::CallbackService>());
  return services;
}

}  // namespace hie::node
