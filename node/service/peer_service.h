// The PeerRecords gRPC service: another practice's node fetches a patient's records
// under a grant, answered by the domain's Discloser (node/domain/disclosure.h): the
// grant is checked with the consent service's public keys (fetched here, and fetched
// again when a grant names a key not yet known), the disclosure is audited before the
// first record leaves, and withheld records never do. A grant is refused once used here
// (durably), and once the patient's directives changed after it was decided (the
// consent service's directive feed, followed here).
#ifndef HIE_NODE_SERVICE_PEER_SERVICE_H_
#define HIE_NODE_SERVICE_PEER_SERVICE_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "consent/domain/grant.h"
#include "grpcpp/channel.h"
#include "node/domain/accounting.h"
#include "node/domain/audit_sink.h"
#include "node/domain/directive_changes.h"
#include "node/domain/disclosure.h"
#include "node/service/ingest_service.h"
#include "proto/hie/v1/consent.grpc.pb.h"
#include "proto/hie/v1/node.grpc.pb.h"

namespace hie::node {

// The consent service's grant keys as this node knows them. Thread-safe.
class GrantKeySource final : public GrantVerifiers {
 public:
  explicit GrantKeySource(std::shared_ptr<grpc::Channel> consent_channel)
      : stub_(hie::v1::ConsentService::NewStub(std::move(consent_channel))) {}

  // A verifier that knows `key_id` if the consent service does (asking it at most once
  // a second). Errors: Unavailable if the consent service cannot be asked and the key
  // is not known yet.
  absl::StatusOr<std::shared_ptr<const consent::GrantVerifier>> VerifierFor(
      const std::string& key_id) override;

 private:
  std::unique_ptr<hie::v1::ConsentService::Stub> stub_;
  absl::Mutex mu_;
  std::shared_ptr<const consent::GrantVerifier> verifier_ ABSL_GUARDED_BY(mu_);
  absl::Time last_fetch_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// Follows the consent service's directive feed: pulls it every `interval` on its own
// thread, and before a grant is served makes sure the holder's knowledge of it is
// fresh (pulling at once if it is not). Thread-safe.
class DirectiveFeedFollower final : public DirectiveCheck {
 public:
  // Starts the pulling thread.
  DirectiveFeedFollower(std::shared_ptr<grpc::Channel> consent_channel, absl::Duration interval,
                        absl::Duration max_staleness);
  // Stops the thread.
  ~DirectiveFeedFollower();

  // As DirectiveChanges::Check, pulling first if the holder's knowledge is stale.
  absl::Status Check(const hie::v1::DisclosureGrant& grant) override;

 private:
  void Run();
  // Pulls until up to date. Errors: Unavailable if the consent service cannot be read.
  absl::Status Pull();

  std::unique_ptr<hie::v1::ConsentService::Stub> stub_;
  const absl::Duration interval_;
  DirectiveChanges changes_;
  absl::Mutex pull_mu_;  // one pull at a time
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Translation only: the caller's certificate org and the request to the Discloser, its
// answer to bounded messages.
class PeerRecordsService final : public hie::v1::PeerRecords::CallbackService {
 public:
  // Without `feed`, grants are not checked against directive changes (tests only).
  PeerRecordsService(std::shared_ptr<NodeState> state, std::shared_ptr<GrantKeySource> keys,
                     std::shared_ptr<DirectiveFeedFollower> feed = nullptr);

  grpc::ServerWriteReactor<hie::v1::FetchRecordsResponse>* FetchRecords(
      grpc::CallbackServerContext* context, const hie::v1::FetchRecordsRequest* request) override;
  grpc::ServerUnaryReactor* ListDisclosures(grpc::CallbackServerContext* context,
                                            const hie::v1::ListDisclosuresRequest* request,
                                            hie::v1::ListDisclosuresResponse* response) override;

 private:
  std::shared_ptr<NodeState> state_;
  std::shared_ptr<GrantKeySource> keys_;
  std::shared_ptr<DirectiveFeedFollower> feed_;
  std::unique_ptr<AuditSink> audit_;
  Discloser discloser_;
  AccountingHolder accounting_;
};

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_PEER_SERVICE_H_
