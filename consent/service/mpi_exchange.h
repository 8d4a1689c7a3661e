// The consent service's view of the MPI and its directory, over mutual-TLS gRPC.
#ifndef HIE_CONSENT_SERVICE_MPI_EXCHANGE_H_
#define HIE_CONSENT_SERVICE_MPI_EXCHANGE_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "consent/domain/authorizer.h"
#include "grpcpp/channel.h"
#include "proto/hie/v1/directory.grpc.pb.h"
#include "proto/hie/v1/mpi.grpc.pb.h"

namespace hie::consent {

// Thread-safe. Directory answers are cached for `directory_ttl` (a suspension reaches
// Authorize within that time); cross-references are never cached.
class MpiExchange final : public ExchangeView {
 public:
  MpiExchange(std::shared_ptr<grpc::Channel> channel, std::string address, Clock* clock,
              absl::Duration timeout = absl::Seconds(3),
              absl::Duration directory_ttl = absl::Seconds(2));

  absl::StatusOr<PatientLinks> CrossReference(const std::string& org_id,
                                              const std::string& local_id) override;
  absl::StatusOr<Member> Organization(const std::string& org_id) override;

 private:
  absl::Status Translate(const grpc::Status& status, const std::string& what) const;

  std::unique_ptr<hie::v1::MasterPatientIndex::Stub> mpi_;
  std::unique_ptr<hie::v1::Directory::Stub> directory_;
  const std::string address_;
  Clock* const clock_;
  const absl::Duration timeout_;
  const absl::Duration directory_ttl_;
  absl::Mutex mu_;
  struct Cached {
    absl::StatusOr<Member> member;
    absl::Time fetched;
  };
  absl::flat_hash_map<std::string, Cached> members_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::consent

#endif  // HIE_CONSENT_SERVICE_MPI_EXCHANGE_H_
