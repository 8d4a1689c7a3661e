// hie-node's HL7 v2 feed: the MLLP listener wired to the HL7 processor over the node's
// store, and the sender that tells the MPI which registrations merges retired. Held as a
// grpc::Service (with no RPCs) among the node's services so that it lives exactly as long
// as they do: the daemon's shutdown destroys it, which stops the listener, finishes the
// message in hand and joins every thread before the store closes.
#ifndef HIE_NODE_SERVICE_MLLP_SERVICE_H_
#define HIE_NODE_SERVICE_MLLP_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/impl/service_type.h"
#include "node/hl7/hl7_processor.h"
#include "node/service/ingest_service.h"
#include "node/service/mllp_listener.h"

namespace hie::node {

struct MllpServiceOptions {
  MllpListenerOptions listener;
  hl7::Hl7ProcessorOptions processor;
  // If set, the bound port is written here (atomically) once listening.
  std::string port_file;
};

// Errors: the listener's (bad address, TLS files, port taken) or the store's.
absl::StatusOr<std::unique_ptr<grpc::Service>> StartMllpService(std::shared_ptr<NodeState> state,
                                                                const MllpServiceOptions& options);

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_MLLP_SERVICE_H_
