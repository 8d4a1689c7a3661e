// Drains the node's outbox into the MPI: each owed registration is sent with
// RegisterPatient (idempotent) until acknowledged, with exponential backoff while the MPI
// cannot be reached. The MPI being down delays registration and loses nothing.
#ifndef HIE_NODE_SERVICE_MPI_SENDER_H_
#define HIE_NODE_SERVICE_MPI_SENDER_H_

#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "node/domain/outbox.h"
#include "proto/hie/v1/mpi.grpc.pb.h"

namespace hie::node {

class MpiSender {
 public:
  // Starts the sending thread. `outbox` must outlive the sender.
  MpiSender(Outbox* outbox, std::shared_ptr<grpc::Channel> mpi_channel);
  // Stops the thread (work still owed stays in the outbox for the next start).
  ~MpiSender();

  // Wakes the sender: there is new work.
  void Notify();

 private:
  void Run();
  // Sleeps `d` or until stopped or notified; returns false when stopping.
  bool Wait(absl::Duration d);

  Outbox* const outbox_;
  std::unique_ptr<hie::v1::MasterPatientIndex::Stub> stub_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_MPI_SENDER_H_
