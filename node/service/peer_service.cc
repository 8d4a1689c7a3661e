#include "node/service/peer_service.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/status_convert.h"
#include "common/grpc/vector_writer.h"
#include "common/log/log.h"
#include "common/status/error_detail.h"
#include "common/time/proto_time.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"

namespace hie::node {

absl::StatusOr<std::shared_ptr<const consent::GrantVerifier>> GrantKeySource::VerifierFor(
    const std::string& key_id) {
  absl::MutexLock lock(&mu_);
  if (verifier_ != nullptr && verifier_->keys().Contains(key_id)) return verifier_;
  absl::Time now = absl::Now();
  if (now - last_fetch_ < absl::Seconds(1)) {
    if (verifier_ != nullptr) return verifier_;  // it will refuse the unknown key
    return WithReason(absl::UnavailableError("the consent service's keys are not known yet"),
                      hie::v1::ERROR_REASON_DEPENDENCY_UNAVAILABLE);
  }
  last_fetch_ = now;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  hie::v1::GetPublicKeysResponse response;
  grpc::Status status = stub_->GetPublicKeys(&context, {}, &response);
  if (!status.ok()) {
    if (verifier_ != nullptr) return verifier_;
    return WithReason(absl::UnavailableError(absl::StrCat(
                          "cannot fetch the consent service's keys: ", status.error_message())),
                      hie::v1::ERROR_REASON_DEPENDENCY_UNAVAILABLE);
  }
  crypto::KeyRing ring;
  for (const auto& key : response.keys()) {
    auto verifying = crypto::VerifyingKey::FromRaw(key.ed25519());
    if (verifying.ok()) ring.Add(*std::move(verifying));
  }
  verifier_ = std::make_shared<const consent::GrantVerifier>(std::move(ring), Clock::Real());
  return verifier_;
}

DirectiveFeedFollower::DirectiveFeedFollower(std::shared_ptr<grpc::Channel> consent_channel,
                                             absl::Duration interval,
                                             absl::Duration max_staleness)
    : stub_(hie::v1::ConsentService::NewStub(std::move(consent_channel))),
      interval_(interval),
      changes_(max_staleness) {
  thread_ = std::thread([this] { Run(); });
}

DirectiveFeedFollower::~DirectiveFeedFollower() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void DirectiveFeedFollower::Run() {
  bool failing = false;
  while (true) {
    absl::Status pulled = Pull();
    if (!pulled.ok() && !failing) {
      LogWarning("cannot read the consent service's directive feed (grants are refused "
                 "once it is stale): ",
                 pulled.message());
    } else if (pulled.ok() && failing) {
      LogInfo("reading the consent service's directive feed again");
    }
    failing = !pulled.ok();
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), interval_);
    if (stopping_) return;
  }
}

absl::Status DirectiveFeedFollower::Pull() {
  absl::MutexLock pulling(&pull_mu_);
  absl::Time started = absl::Now();
  for (int page = 0; page < 1000; ++page) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    hie::v1::ListDirectiveChangesRequest request;
    request.set_after_sequence(changes_.cursor());
    hie::v1::ListDirectiveChangesResponse response;
    grpc::Status status = stub_->ListDirectiveChanges(&context, request, &response);
    if (!status.ok()) {
      return WithReason(absl::UnavailableError(absl::StrCat(
                            "cannot read the directive feed: ", status.error_message())),
                        hie::v1::ERROR_REASON_DEPENDENCY_UNAVAILABLE);
    }
    std::vector<hie::v1::DirectiveChange> changes(response.changes().begin(),
                                                  response.changes().end());
    changes_.Apply(changes, response.last_sequence(), started, absl::Now());
    if (changes.empty() || changes_.cursor() >= response.last_sequence()) return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status DirectiveFeedFollower::Check(const hie::v1::DisclosureGrant& grant) {
  if (!changes_.Fresh(absl::Now())) (void)Pull();  // the check below reports a failure
  return changes_.Check(grant, absl::Now());
}

absl::StatusOr<std::vector<hie::v1::FetchRecordsResponse>> PeerRecordsService::Serve(
    const grpc::CallbackServerContext& context, const hie::v1::FetchRecordsRequest& request) {
  absl::StatusOr<Peer> peer = PeerFromContext(context);
  if (!peer.ok()) return peer.status();
  auto refuse = [&](const absl::Status& why, const hie::v1::DisclosureGrant* grant) {
    hie::v1::AuditEntry entry;
    entry.set_action(hie::v1::AUDIT_ACTION_REFUSE);
    entry.set_actor_org(peer->org_id);
    entry.set_counterpart_org(peer->org_id);
    entry.set_outcome("refused");
    entry.set_detail(absl::StrCat("FetchRecords: ", why.message()));
    if (grant != nullptr) {
      // A verified grant names this holder: the refusal is filed under the patient here.
      for (const auto& holder : grant->holders()) {
        if (holder.org_id() != state_->own_org) continue;
        entry.mutable_patient()->set_org_id(state_->own_org);
        entry.mutable_patient()->set_local_id(holder.local_id());
      }
      *entry.mutable_user() = grant->user();
      entry.set_euid(grant->euid());
      entry.set_purpose(grant->purpose());
      entry.set_query_id(grant->query_id());
    }
    (void)state_->audit->Append(std::move(entry));
    return why;
  };
  absl::StatusOr<std::shared_ptr<const consent::GrantVerifier>> verifier =
      keys_->VerifierFor(request.grant().key_id());
  if (!verifier.ok()) return verifier.status();
  absl::StatusOr<hie::v1::DisclosureGrant> grant =
      (*verifier)->Verify(request.grant(), peer->org_id, state_->own_org);
  if (!grant.ok()) return refuse(grant.status(), nullptr);
  // Before the nonce is spent: a grant refused for a stale feed may be tried again.
  if (feed_ != nullptr) {
    if (absl::Status s = feed_->Check(*grant); !s.ok()) return refuse(s, &*grant);
  }
  if (absl::Status s = nonces_.Use(grant->nonce(), (*verifier)->AcceptedUntil(*grant), absl::Now());
      !s.ok()) {
    return refuse(s, &*grant);
  }
  std::vector<std::string> types(request.resource_types().begin(), request.resource_types().end());
  absl::StatusOr<Disclosure> disclosure =
      SelectForGrant(*state_->records, *grant, state_->own_org, types,
                     request.has_clinical_period() ? &request.clinical_period() : nullptr);
  if (!disclosure.ok()) return refuse(disclosure.status(), &*grant);

  // No disclosure without its audit entry: it is durable before the first record leaves.
  hie::v1::AuditEntry entry;
  entry.set_action(grant->break_glass() ? hie::v1::AUDIT_ACTION_BREAK_GLASS
                                        : hie::v1::AUDIT_ACTION_DISCLOSE);
  entry.set_actor_org(peer->org_id);
  *entry.mutable_user() = grant->user();
  entry.mutable_patient()->set_org_id(state_->own_org);
  entry.mutable_patient()->set_local_id(disclosure->patient_local_id);
  entry.set_euid(grant->euid());
  entry.set_purpose(grant->purpose());
  entry.set_query_id(grant->query_id());
  entry.set_counterpart_org(peer->org_id);
  entry.set_outcome("ok");
  entry.set_detail(absl::StrCat(
      "sent ", disclosure->records.size(), ", withheld ", disclosure->withheld,
      grant->break_glass() ? absl::StrCat(" (break-the-glass: ", grant->break_glass_reason(), ")")
                           : ""));
  if (auto appended = state_->audit->Append(std::move(entry)); !appended.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the disclosure could not be audited, so nothing "
                     "is sent: ",
                     appended.status().message()));
  }
  std::vector<hie::v1::FetchRecordsResponse> out;
  out.reserve(disclosure->records.size() + 1);
  for (auto& record : disclosure->records) *out.emplace_back().mutable_record() = std::move(record);
  auto* summary = out.emplace_back().mutable_summary();
  summary->set_records_sent(static_cast<int64_t>(out.size()) - 1);
  summary->set_records_withheld(disclosure->withheld);
  return out;
}

grpc::ServerWriteReactor<hie::v1::FetchRecordsResponse>* PeerRecordsService::FetchRecords(
    grpc::CallbackServerContext* context, const hie::v1::FetchRecordsRequest* request) {
  using Writer = VectorWriter<hie::v1::FetchRecordsResponse>;
  absl::StatusOr<std::vector<hie::v1::FetchRecordsResponse>> messages = Serve(*context, *request);
  if (!messages.ok()) return new Writer(ToGrpcStatus(messages.status()));
  return new Writer(*std::move(messages));
}

}  // namespace hie::node
