// Work owed to the MPI: patient registrations, kept on LevelDB until the MPI has
// acknowledged them. A registration is staged in the same synced batch as the Patient
// record it comes from, so a crash can lose neither without the other; the sender
// retries with backoff until acknowledged.
//
// Keys: ("outbox", sequence) -> hie.v1.RegisterPatientRequest
#ifndef HIE_NODE_DOMAIN_OUTBOX_H_
#define HIE_NODE_DOMAIN_OUTBOX_H_

#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/store/kv_store.h"
#include "proto/hie/v1/mpi.pb.h"

namespace hie::node {

// Thread-safe.
class Outbox {
 public:
  static absl::StatusOr<std::unique_ptr<Outbox>> Open(store::KvStore* store);

  // Adds `request` to `batch`; it is owed once the batch is written.
  void Stage(store::WriteBatch& batch, const hie::v1::RegisterPatientRequest& request);

  // The oldest `limit` registrations owed, with their sequence numbers.
  absl::StatusOr<std::vector<std::pair<uint64_t, hie::v1::RegisterPatientRequest>>> Oldest(
      size_t limit) const;

  // The registration is done (synced).
  absl::Status Remove(uint64_t sequence);

  // How many are owed.
  absl::StatusOr<int64_t> Pending() const;

 private:
  explicit Outbox(store::KvStore* store, uint64_t last) : store_(store), last_(last) {}
  store::KvStore* const store_;
  absl::Mutex mu_;
  uint64_t last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_OUTBOX_H_
