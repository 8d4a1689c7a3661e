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
    for (const OutboxEntry& entry : *owed) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      grpc::Status status;
      std::string what;
      bool done = false;
      if (entry.registration) {
        what = absl::StrCat("registration of patient ", entry.registration->local_id());
        hie::v1::RegisterPatientResponse response;
        status = stub_->RegisterPatient(&context, *entry.registration, &response);
        // INVALID_ARGUMENT: the MPI will never take this one (no name, say).
        done = status.ok() || status.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
      } else {
        what = absl::StrCat("removal of merged-away patient ", entry.removal->local_id());
        hie::v1::RemovePatientResponse response;
        status = stub_->RemovePatient(&context, *entry.removal, &response);
        // NOT_FOUND: never registered, or already removed.
        done = status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND;
      }
      if (done) {
        if (!status.ok()) {
          LogWarning("MPI refused the ", what, ": ", status.error_message(),
                     " (dropped from the outbox)");
        }
        if (absl::Status s = outbox_->Remove(entry.sequence); !s.ok()) {
          LogWarning("MPI outbox: ", s.message());
          failed = true;
          break;
        }
        if (reported_down) LogInfo("MPI reachable again: the outbox drains");
        reported_down = false;
        backoff = absl::Milliseconds(500);
        continue;
      }
      if (!reported_down) {
        LogWarning("MPI ", what, " failed (", status.error_message(), "); retrying with backoff");
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
