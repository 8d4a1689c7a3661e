// The FederatedQuery gRPC service: DESIGN.md's flow for the practice's own clinicians.
// Authorize at the consent service, fan out FetchRecords to every allowed holder at once
// with the callback API (no thread per call), each under its own deadline and at most
// `max_in_flight` at a time, stream each holder's status as it settles, and end with
// one merged Bundle. A slow or dead holder costs its own results only.
#ifndef HIE_NODE_SERVICE_QUERY_SERVICE_H_
#define HIE_NODE_SERVICE_QUERY_SERVICE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "node/service/ingest_service.h"
#include "proto/hie/v1/consent.grpc.pb.h"
#include "proto/hie/v1/node.grpc.pb.h"

namespace hie::node {

// Credentials for a channel to another practice's node, demanding its org.
using PeerCredentials =
    std::function<std::shared_ptr<grpc::ChannelCredentials>(const std::string& org_id)>;

struct QueryOptions {
  int default_holder_timeout_ms = 5000;
  int max_in_flight = 16;
};

class FederatedQueryService final : public hie::v1::FederatedQuery::CallbackService {
 public:
  FederatedQueryService(std::shared_ptr<NodeState> state,
                        std::shared_ptr<grpc::Channel> consent_channel,
                        PeerCredentials peer_credentials, QueryOptions options);

  grpc::ServerWriteReactor<hie::v1::QueryEvent>* Query(
      grpc::CallbackServerContext* context, const hie::v1::QueryRequest* request) override;

  // A channel to a holder's node (cached by address and org).
  std::shared_ptr<grpc::Channel> HolderChannel(const std::string& address, const std::string& org);

  NodeState& state() { return *state_; }
  hie::v1::ConsentService::Stub& consent() { return *consent_; }
  const QueryOptions& options() const { return options_; }

 private:
  std::shared_ptr<NodeState> state_;
  std::unique_ptr<hie::v1::ConsentService::Stub> consent_;
  PeerCredentials peer_credentials_;
  QueryOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_QUERY_SERVICE_H_
