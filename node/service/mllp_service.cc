#include "node/service/mllp_service.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log/log.h"
#include "grpcpp/client_context.h"
#include "proto/hie/v1/mpi.grpc.pb.h"

namespace hie::node {
namespace {

// Drains MpiRemovals into the MPI (RemovePatient) with backoff while it is unreachable.
// NOT_FOUND (never registered, or already removed) counts as done.
class RemovalSender {
 public:
  RemovalSender(hl7::MpiRemovals* removals, std::shared_ptr<grpc::Channel> channel)
      : removals_(removals), stub_(hie::v1::MasterPatientIndex::NewStub(std::move(channel))) {
    thread_ = std::thread([this] { Run(); });
  }
  ~RemovalSender() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }
  void Notify() {
    absl::MutexLock lock(&mu_);
    notified_ = true;
  }

 private:
  bool Wait(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || notified_; };
    mu_.AwaitWithTimeout(absl::Condition(&woken), d);
    notified_ = false;
    return !stopping_;
  }

  void Run() {
    absl::Duration backoff = absl::Milliseconds(500);
    while (true) {
      auto owed = removals_->Oldest(32);
      if (!owed.ok() || owed->empty()) {
        if (!Wait(absl::Seconds(2))) return;
        continue;
      }
      bool failed = false;
      for (const auto& [sequence, request] : *owed) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        hie::v1::RemovePatientResponse response;
        grpc::Status status = stub_->RemovePatient(&context, request, &response);
        if (status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND) {
          LogInfo("MPI: registration of merged-away patient ", request.local_id(), " removed");
          if (!removals_->Remove(sequence).ok()) failed = true;
          continue;
        }
        LogWarning("MPI removal of merged-away patient ", request.local_id(), " failed (",
                   status.error_message(), "); retrying with backoff");
        failed = true;
        break;
      }
      if (failed) {
        if (!Wait(backoff)) return;
        backoff = std::min(backoff * 2, absl::Seconds(30));
      } else {
        backoff = absl::Milliseconds(500);
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
      }
    }
  }

  hl7::MpiRemovals* const removals_;
  std::unique_ptr<hie::v1::MasterPatientIndex::Stub> stub_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Owns the feed's parts; members are destroyed bottom-up, the listener first.
class MllpService final : public grpc::Service {
 public:
  std::shared_ptr<NodeState> state;
  std::unique_ptr<hl7::MpiRemovals> removals;
  std::unique_ptr<RemovalSender> removal_sender;
  std::unique_ptr<hl7::Hl7Processor> processor;
  std::unique_ptr<MllpListener> listener;

  ~MllpService() override {
    listener.reset();
    if (listener_port_ != 0) LogInfo("MLLP listener stopped");
  }
  int listener_port_ = 0;
};

absl::Status WritePortFile(const std::string& path, int port) {
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary);
    out << port << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", temporary));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", temporary, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<grpc::Service>> StartMllpService(std::shared_ptr<NodeState> state,
                                                                const MllpServiceOptions& options) {
  auto service = std::make_unique<MllpService>();
  service->state = state;
  auto removals = hl7::MpiRemovals::Open(state->store.get());
  if (!removals.ok()) return removals.status();
  service->removals = std::move(*removals);
  if (options.mpi_channel != nullptr) {
    service->removal_sender =
        std::make_unique<RemovalSender>(service->removals.get(), options.mpi_channel);
  }
  service->processor = std::make_unique<hl7::Hl7Processor>(
      state->ingester.get(), state->records.get(), state->store.get(), state->outbox.get(),
      service->removals.get(), Clock::Real(), options.processor);
  MllpService* raw = service.get();
  auto handler = [raw](absl::string_view message) {
    hl7::Hl7Outcome outcome = raw->processor->Process(message);
    if (outcome.mpi_work_staged) {
      if (raw->state->sender != nullptr) raw->state->sender->Notify();
      if (raw->removal_sender != nullptr) raw->removal_sender->Notify();
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
