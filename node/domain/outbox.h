// Work owed to the MPI, in the order it arose: patient registrations, and removals of
// registrations a merge retired. Kept on LevelDB until the MPI has acknowledged them.
// Each is staged in the same synced batch as the records it comes from, so a crash can
// lose neither without the other; the sender works through them in order, retrying
// with backoff, so a removal never overtakes the registration it undoes.
//
// Keys: ("outbox", sequence) -> hie.v1.RegisterPatientRequest
//       ("outbox", sequence, "remove") -> hie.v1.RemovePatientRequest
#ifndef HIE_NODE_DOMAIN_OUTBOX_H_
#define HIE_NODE_DOMAIN_OUTBOX_H_

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/store/kv_store.h"
#include "proto/hie/v1/mpi.pb.h"

namespace hie::node {

// One operation owed to the MPI: exactly one of `registration` and `removal`.
struct OutboxEntry {
  uint64_t sequence = 0;
  std::optional<hie::v1::RegisterPatientRequest> registration;
  std::optional<hie::v1::RemovePatientRequest> removal;
};

// Thread-safe.
class Outbox {
 public:
  static absl::StatusOr<std::unique_ptr<Outbox>> Open(store::KvStore* store);

  // Adds `request` to `batch`; it is owed once the batch is written.
  void Stage(store::WriteBatch& batch, const hie::v1::RegisterPatientRequest& request);
  void Stage(store::WriteBatch& batch, const hie::v1::RemovePatientRequest& request);

  // The oldest `limit` operations owed, oldest first.
  absl::StatusOr<std::vector<OutboxEntry>> Oldest(size_t limit) const;

  // The operation is done (synced).
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
