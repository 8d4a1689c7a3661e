// The FhirClients gRPC service: the practice registers, lists and revokes the SMART
// Backend Services clients allowed to call its node's FHIR REST API. Translation only:
// common/auth's ClientRegistry keeps them, in the node's store.
#ifndef HIE_NODE_SERVICE_FHIR_CLIENTS_SERVICE_H_
#define HIE_NODE_SERVICE_FHIR_CLIENTS_SERVICE_H_

#include <memory>

#include "common/auth/client_registry.h"
#include "node/service/ingest_service.h"
#include "proto/hie/v1/node.grpc.pb.h"

namespace hie::node {

// Callers: the node's own org and operators (a client is always registered for the
// node's own practice, whoever registers it).
class FhirClientsService final : public hie::v1::FhirClients::CallbackService {
 public:
  explicit FhirClientsService(std::shared_ptr<NodeState> state);

  grpc::ServerUnaryReactor* RegisterClient(grpc::CallbackServerContext* context,
                                           const hie::v1::RegisterFhirClientRequest* request,
                                           hie::v1::FhirClient* response) override;
  grpc::ServerUnaryReactor* RevokeClient(grpc::CallbackServerContext* context,
                                         const hie::v1::RevokeFhirClientRequest* request,
                                         hie::v1::FhirClient* response) override;
  grpc::ServerUnaryReactor* ListClients(grpc::CallbackServerContext* context,
                                        const hie::v1::ListFhirClientsRequest* request,
                                        hie::v1::ListFhirClientsResponse* response) override;

 private:
  std::shared_ptr<NodeState> state_;
  auth::ClientRegistry& registry_;  // the node's (NodeState::fhir_clients)
};

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_FHIR_CLIENTS_SERVICE_H_
