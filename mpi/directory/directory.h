// The directory of member organisations: who may take part in the exchange, where
// their nodes listen, and which are themselves sensitive. Kept in the MPI's KvStore
// (the stored format is the contract's hie.v1.Organization) and cached in memory.
// Thread-safe.
#ifndef HIE_MPI_DIRECTORY_DIRECTORY_H_
#define HIE_MPI_DIRECTORY_DIRECTORY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "proto/hie/v1/directory.pb.h"

namespace hie::mpi {

class Directory {
 public:
  // `store` is not owned and must outlive the directory. Errors: DataLoss if a stored
  // organisation does not parse.
  static absl::StatusOr<std::unique_ptr<Directory>> Open(store::KvStore* store, Clock* clock);

  // Errors: InvalidArgument for a bad org id or endpoint (host:port), or no name;
  // AlreadyExists if enrolled.
  absl::StatusOr<hie::v1::Organization> Enroll(const hie::v1::EnrollOrganizationRequest& request);
  // Errors: NotFound; InvalidArgument without a reason.
  absl::StatusOr<hie::v1::Organization> Suspend(const std::string& org_id,
                                                const std::string& reason);
  absl::StatusOr<hie::v1::Organization> Reinstate(const std::string& org_id,
                                                  const std::string& reason);
  absl::StatusOr<hie::v1::Organization> SetEndpoint(const std::string& org_id,
                                                    const std::string& endpoint);
  // Errors: NotFound.
  absl::StatusOr<hie::v1::Organization> Get(const std::string& org_id) const;
  // Every organisation in org id order, optionally only those in `state`.
  std::vector<hie::v1::Organization> List(hie::v1::Organization::State state) const;

  // OK if `org_id` is enrolled and active. Errors: PermissionDenied saying which.
  absl::Status CheckActive(const std::string& org_id) const;

 private:
  Directory(store::KvStore* store, Clock* clock) : store_(store), clock_(clock) {}
  absl::StatusOr<hie::v1::Organization> Save(hie::v1::Organization org)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<hie::v1::Organization> ChangeState(const std::string& org_id,
                                                    hie::v1::Organization::State state,
                                                    const std::string& reason);

  store::KvStore* const store_;
  Clock* const clock_;
  mutable absl::Mutex mu_;
  absl::btree_map<std::string, hie::v1::Organization> orgs_ ABSL_GUARDED_BY(mu_);
};

// True for "host:port" with a non-empty host and a port 1-65535.
bool IsValidEndpoint(const std::string& endpoint);

}  // namespace hie::mpi

#endif  // HIE_MPI_DIRECTORY_DIRECTORY_H_
