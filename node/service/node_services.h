// hie-node's gRPC surface: the services it registers and who may call what.
#ifndef HIE_NODE_SERVICE_NODE_SERVICES_H_
#define HIE_NODE_SERVICE_NODE_SERVICES_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/grpc/authorization.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/security/credentials.h"
#include "node/domain/accounts.h"
#include "node/domain/federated_query.h"
#include "node/domain/sessions.h"
#include "node/service/mllp_service.h"
#include "proto/hie/v1/config.pb.h"

namespace hie::node {

// Method x role table for every RPC hie-node serves (deny by default).
std::shared_ptr<const AuthorizationPolicy> NodeAuthorizationPolicy();

struct NodeOptions {
  // The organisation this node serves: its own certificate's org.
  std::string own_org;
  hie::v1::LabellingConfig labelling;
  // The consent service (for its grant-signing keys) and how to reach it (in a daemon:
  // TlsContext::ChannelCredentials demanding the consent service's org and role).
  std::string consent_address;
  std::shared_ptr<grpc::ChannelCredentials> consent_credentials;
  // Credentials for a channel to another practice's node, demanding its org (in a
  // daemon: TlsContext::ChannelCredentials).
  std::function<std::shared_ptr<grpc::ChannelCredentials>(const std::string& org_id)>
      peer_credentials;
  int holder_timeout_ms = 5000;
  // The consent service's directive feed (NodeConfig.directive_feed).
  absl::Duration directive_feed_interval = absl::Seconds(2);
  absl::Duration directive_feed_max_staleness = absl::Seconds(8);
  // The MPI, for the registration outbox (no sender when the address is empty).
  std::string mpi_address;
  std::shared_ptr<grpc::ChannelCredentials> mpi_credentials;
  // The HL7 v2 feed over MLLP (docs/hl7.md); none when unset. Its mpi_channel is filled
  // in from the MPI settings above.
  std::optional<MllpServiceOptions> hl7;
  // NodeConfig.limits (0: the default), and the server's message limit, which bounds the
  // pieces answers are sent in.
  size_t max_import_resource_bytes = 0;
  size_t max_record_bytes = 0;
  size_t max_answer_bytes = 0;
  size_t max_message_bytes = size_t{4} << 20;
  // The web app's accounts (totp_issuer, check_patient and end_sessions are set by
  // OpenNodeServices) and its sessions.
  AccountsOptions accounts;
  SessionOptions sessions;
  // Fronts beside gRPC on the node's state and its federated query (in a daemon: the
  // FHIR REST API), started after the services; each is held among them and lives as
  // long as they do.
  std::vector<std::function<absl::StatusOr<std::unique_ptr<grpc::Service>>(
      std::shared_ptr<NodeState>, std::shared_ptr<FederatedQuery>)>>
      fronts;
  // The node's certificate file (NodeState::certificate_file: the status page's expiry).
  std::string certificate_file;
};

// Opens the node's store in `data_dir` and returns the services hie-node registers.
// RPCs not yet implemented answer UNIMPLEMENTED.
absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> OpenNodeServices(
    const std::string& data_dir, const NodeOptions& options);

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_NODE_SERVICES_H_
