// The federated query's parties over mutual-TLS gRPC, with the callback API (no thread
// per call): the consent service's Authorize and each holder's FetchRecords stream; and
// the MPI's SearchPatients for $match.
// Translation only; the query itself is node/domain/federated_query.h.
#ifndef HIE_NODE_SERVICE_QUERY_CLIENTS_H_
#define HIE_NODE_SERVICE_QUERY_CLIENTS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "node/domain/accounting.h"
#include "node/domain/federated_query.h"
#include "node/domain/patient_match.h"
#include "proto/hie/v1/consent.grpc.pb.h"
#include "proto/hie/v1/mpi.grpc.pb.h"
#include "proto/hie/v1/node.grpc.pb.h"

namespace hie::node {

// Credentials for a channel to another practice's node, demanding its org.
using PeerCredentials =
    std::function<std::shared_ptr<grpc::ChannelCredentials>(const std::string& org_id)>;

// ConsentService.Authorize. Thread-safe.
class GrpcConsentClient final : public ConsentClient {
 public:
  explicit GrpcConsentClient(std::shared_ptr<grpc::Channel> consent_channel)
      : stub_(hie::v1::ConsentService::NewStub(std::move(consent_channel))) {}

  void Authorize(const AuthorizeQuery& query,
                 std::function<void(absl::StatusOr<Authorization>)> done) override;

 private:
  std::unique_ptr<hie::v1::ConsentService::Stub> stub_;
};

// MasterPatientIndex.SearchPatients, for $match. Each call has a 10-second deadline.
// Thread-safe.
class GrpcMpiSearch final : public MpiSearch {
 public:
  explicit GrpcMpiSearch(std::shared_ptr<grpc::Channel> mpi_channel)
      : stub_(hie::v1::MasterPatientIndex::NewStub(std::move(mpi_channel))) {}

  void Search(const MatchQuery& query,
              std::function<void(absl::StatusOr<std::vector<MatchCandidate>>)> done) override;

 private:
  std::unique_ptr<hie::v1::MasterPatientIndex::Stub> stub_;
};

// PeerRecords stubs for other practices' nodes: a channel per holder (by org and
// address) whose credentials demand the holder's org, made once and shared by the
// clients below (one connection per peer). Thread-safe.
class PeerStubs {
 public:
  explicit PeerStubs(PeerCredentials peer_credentials)
      : peer_credentials_(std::move(peer_credentials)) {}

  // The stub for `org`'s node at `address`; lives as long as this.
  hie::v1::PeerRecords::Stub* For(const std::string& address, const std::string& org);

 private:
  const PeerCredentials peer_credentials_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<hie::v1::PeerRecords::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
};

// PeerRecords.FetchRecords on each holder's node. Thread-safe.
class GrpcHolderClient final : public HolderClient {
 public:
  explicit GrpcHolderClient(std::shared_ptr<PeerStubs> stubs) : stubs_(std::move(stubs)) {}

  void Fetch(const hie::v1::GrantHolder& holder, const HolderFetch& fetch, absl::Duration timeout,
             HolderStream* stream) override;

 private:
  const std::shared_ptr<PeerStubs> stubs_;
};

// PeerRecords.ListDisclosures on each holder's node (a patient's accounting). Thread-safe.
class GrpcAccountingClient final : public AccountingClient {
 public:
  explicit GrpcAccountingClient(std::shared_ptr<PeerStubs> stubs) : stubs_(std::move(stubs)) {}

  void ListDisclosures(const hie::v1::GrantHolder& holder, const hie::v1::SignedGrant& grant,
                       absl::Duration timeout,
                       std::function<void(absl::StatusOr<AccountingAnswer>)> done) override;

 private:
  const std::shared_ptr<PeerStubs> stubs_;
};

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_QUERY_CLIENTS_H_
