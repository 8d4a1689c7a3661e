#include "node/service/mllp_service.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/server_runner.h"
#include "common/log/log.h"
#include "grpcpp/client_context.h"
#include "proto/hie/v1/mpi.grpc.pb.h"

namespace hie::node {
namespace {

// Owns the feed's parts; members are destroyed bottom-up, the listener first.
class MllpService final : public grpc::Service {
 public:
  std::shared_ptr<NodeState> state;
  std::unique_ptr<hl7::Hl7Processor> processor;
  std::unique_ptr<MllpListener> listener;

  ~MllpService() override {
    listener.reset();
    if (listener_port_ != 0) LogInfo("MLLP listener stopped");
  }
  int listener_port_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<grpc::Service>> StartMllpService(std::shared_ptr<NodeState> state,
                                                                const MllpServiceOptions& options) {
  auto service = std::make_unique<MllpService>();
  service->state = state;
  service->processor = std::make_unique<hl7::Hl7Processor>(
      state->ingester.get(), state->records.get(), state->store.get(), state->outbox.get(),
      Clock::Real(), options.processor);
  MllpService* raw = service.get();
  auto handler = [raw](absl::string_view message) {
    hl7::Hl7Outcome outcome = raw->processor->Process(message);
    if (outcome.mpi_work_staged) {
      if (raw->state->sender != nullptr) raw->state->sender->Notify();
    }
    if (outcome.ack_code == "AA") {
      LogInfo("HL7 ", outcome.control_id, ": AA",
              outcome.duplicate ? " (resend, not reapplied)" : "", ", ", outcome.records_changed,
              " records changed");
    } else {
      LogWarning("HL7 ", outcome.control_id.empty() ? "(no control id)" : outcome.control_id, ": ",
                 outcome.ack_code, ": ", outcome.reason);
    }
    return outcome.ack;
  };
  auto listener = MllpListener::Start(options.listener, handler);
  if (!listener.ok()) return listener.status();
  service->listener = std::move(*listener);
  service->listener_port_ = service->listener->port();
  if (!options.port_file.empty()) {
    if (absl::Status s = WritePortFile(options.port_file, service->listener_port_); !s.ok())
      return s;
  }
  LogInfo("MLLP listener on ", options.listener.listen_address, " (port ", service->listener_port_,
          ")", options.listener.cert_file.empty() ? "" : ", TLS");
  return std::unique_ptr<grpc::Service>(std::move(service));
}

}  // namespace hie::node
