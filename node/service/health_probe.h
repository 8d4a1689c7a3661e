// The status page's reachability checks over gRPC (the web front sees none of it): a
// standard health check of each service the node depends on, and of each other
// practice's node it has fetched from, over mutual TLS as a fetch would reach it.
#ifndef HIE_NODE_SERVICE_HEALTH_PROBE_H_
#define HIE_NODE_SERVICE_HEALTH_PROBE_H_

#include <memory>
#include <vector>

#include "grpcpp/channel.h"
#include "node/domain/node_health.h"
#include "node/service/ingest_service.h"

namespace hie::node {

// Whether the service on `channel` answers grpc.health.v1.Health/Check within the
// deadline (waiting for a connection meanwhile); null for a null channel (not
// configured).
ReachabilityProbe HealthProbe(std::shared_ptr<grpc::Channel> channel);

// The most peers a status check probes (the most recently asked).
inline constexpr size_t kMaxPeersChecked = 32;

// The MPI, the consent service, and the peers in state.known_peers asked most recently
// (at most kMaxPeersChecked; each certificate must name its org), each with its probe.
std::vector<DependencyCheck> NodeDependencies(const NodeState& state);

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_HEALTH_PROBE_H_
