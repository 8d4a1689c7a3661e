#include "node/service/health_probe.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc/status_convert.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"

namespace hie::node {

ReachabilityProbe HealthProbe(std::shared_ptr<grpc::Channel> channel) {
  if (channel == nullptr) return nullptr;
  return [channel](absl::Duration deadline) {
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    context.set_wait_for_ready(true);
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::UnavailableError("answers, but is not serving");
    }
    return absl::OkStatus();
  };
}

std::vector<DependencyCheck> NodeDependencies(const NodeState& state) {
  std::vector<DependencyCheck> checks = {{.name = "MPI",
                                          .address = state.mpi_channel ? "configured" : "",
                                          .probe = HealthProbe(state.mpi_channel)},
                                         {.name = "Consent service",
                                          .address = state.consent_channel ? "configured" : "",
                                          .probe = HealthProbe(state.consent_channel)}};
  if (state.known_peers != nullptr && state.peer_credentials) {
    // The peers asked most recently, at most kMaxPeersChecked: each check is a thread
    // and a connection for up to the probe's deadline.
    std::vector<KnownPeer> peers = state.known_peers->List();
    if (peers.size() > kMaxPeersChecked) {
      std::partial_sort(
          peers.begin(), peers.begin() + kMaxPeersChecked, peers.end(),
          [](const KnownPeer& a, const KnownPeer& b) { return a.last_seen > b.last_seen; });
      peers.resize(kMaxPeersChecked);
      std::sort(peers.begin(), peers.end(),
                [](const KnownPeer& a, const KnownPeer& b) { return a.org_id < b.org_id; });
    }
    for (const KnownPeer& peer : peers) {
      checks.push_back({.name = absl::StrCat(peer.org_id, "'s node"),
                        .address = peer.endpoint,
                        .probe = HealthProbe(grpc::CreateChannel(
                            peer.endpoint, state.peer_credentials(peer.org_id)))});
    }
  }
  return checks;
}

}  // namespace hie::node
