#include "node/service/mpi_sender.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "grpcpp/client_context.h"

namespace hie::node {

MpiSender::MpiSender(Outbox* outbox, std::shared_ptr<grpc::Channel> mpi_channel)
    : outbox_(outbox), stub_(hie::v1::MasterPatientIndex::NewStub(std::move(mpi_channel))) {
  thread_ = std::thread([this] { Run(); });
}

MpiSender::~MpiSender() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void MpiSender::Notify() {
  absl::MutexLock lock(&mu_);
  notified_ = true;
}

bool MpiSender::Wait(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || notified_; };
  mu_.AwaitWithTimeout(absl::Condition(&woken), d);
  notified_ = false;
  return !stopping_;
}

void MpiSender::Run() {
  absl::Duration backoff = absl::Milliseconds(500);
  bool reported_down = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    auto owed = outbox_->Oldest(32);
    if (!owed.ok() || owed->empty()) {
      if (!owed.ok()) LogWarning("MPI outbox unreadable: ", owed.status().message());
      if (!Wait(absl::Seconds(2))) return;
      continue;
    }
    bool failed = false;
    for (const auto& [sequence, request] : *owed) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      hie::v1::RegisterPatientResponse response;
      grpc::Status status = stub_->RegisterPatient(&context, request, &response);
      if (status.ok() || status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
        if (!status.ok()) {
          // The MPI will never take this one (no name, say): drop it, loudly.
          LogWarning("MPI refused the registration of patient ", request.local_id(), ": ",
                     status.error_message(), " (dropped from the outbox)");
        }
        if (absl::Status s = outbox_->Remove(sequence); !s.ok()) {
          LogWarning("MPI outbox: ", s.message());
          failed = true;
          break;
        }
        if (reported_down) LogInfo("MPI reachable again: registrations resume");
        reported_down = false;
        backoff = absl::Milliseconds(500);
        continue;
      }
      if (!reported_down) {
        LogWarning("MPI registration of patient ", request.local_id(), " failed (",
                   status.error_message(), "); retrying with backoff");
        reported_down = true;
      }
      failed = true;
      break;
    }
    if (failed) {
      if (!Wait(backoff)) return;
      backoff = std::min(backoff * 2, absl::Seconds(30));
    }
  }
}

}  // namespace hie::node
