// hie-node's gRPC surface: the services it registers and who may call what.
#ifndef HIE_NODE_SERVICE_NODE_SERVICES_H_
#define HIE_NODE_SERVICE_NODE_SERVICES_H_

#include <memory>
#include <vector>

#include "common/grpc/authorization.h"
#include "grpcpp/impl/service_type.h"

namespace hie::node {

// Method x role table for every RPC hie-node serves (deny by default).
std::shared_ptr<const AuthorizationPolicy> NodeAuthorizationPolicy();

// The services hie-node registers. RPCs not yet implemented answer UNIMPLEMENTED.
std::vector<std::unique_ptr<grpc::Service>> MakeNodeServices();

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_NODE_SERVICES_H_
