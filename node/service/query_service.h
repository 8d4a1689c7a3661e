// The FederatedQuery gRPC service: the practice's own clinicians ask for everything
// about a patient. Translation only: the caller's certificate and the request go to
// the domain's FederatedQuery (node/domain/federated_query.h), which Authorizes, fans
// out to the holders and merges; its reports come back as the QueryEvent stream: each
// holder's status as it settles, then the merged Bundle in bounded pieces, then the
// result.
#ifndef HIE_NODE_SERVICE_QUERY_SERVICE_H_
#define HIE_NODE_SERVICE_QUERY_SERVICE_H_

#include <memory>

#include "node/domain/federated_query.h"
#include "node/service/ingest_service.h"
#include "proto/hie/v1/node.grpc.pb.h"

namespace hie::node {

class FederatedQueryService final : public hie::v1::FederatedQuery::CallbackService {
 public:
  // `query` runs every query this service is asked (and may be shared with other fronts).
  FederatedQueryService(std::shared_ptr<NodeState> state, std::shared_ptr<FederatedQuery> query)
      : state_(std::move(state)), query_(std::move(query)) {}

  grpc::ServerWriteReactor<hie::v1::QueryEvent>* Query(
      grpc::CallbackServerContext* context, const hie::v1::QueryRequest* request) override;

  NodeState& state() { return *state_; }
  FederatedQuery& query() { return *query_; }

 private:
  std::shared_ptr<NodeState> state_;
  std::shared_ptr<FederatedQuery> query_;
};

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_QUERY_SERVICE_H_
