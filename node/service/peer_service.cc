#include "node/service/peer_service.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/status_convert.h"
#include "common/log/log.h"
#include "common/status/error_detail.h"
#include "common/time/proto_time.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"
#include "node/domain/merge.h"

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

namespace {

// Writes an answer in bounded messages, made one at a time as the previous one is sent:
// a record whose text fits in `piece_bytes` as one message, a larger one as pieces, then
// the summary. Holds the records once; no message is larger than a piece plus its
// envelope.
class AnswerWriter final : public grpc::ServerWriteReactor<hie::v1::FetchRecordsResponse> {
 public:
  AnswerWriter(std::vector<hie::v1::RecordEnvelope> records, hie::v1::FetchSummary summary,
               size_t piece_bytes)
      : records_(std::move(records)), summary_(std::move(summary)), piece_bytes_(piece_bytes) {
    Next();
  }
  explicit AnswerWriter(const grpc::Status& status) : piece_bytes_(0) { Finish(status); }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    message_.Clear();
    if (next_ == records_.size()) {
      if (summary_sent_) {
        Finish(grpc::Status::OK);
        return;
      }
      summary_sent_ = true;
      *message_.mutable_summary() = std::move(summary_);
      StartWrite(&message_);
      return;
    }
    hie::v1::RecordEnvelope& record = records_[next_];
    const std::string& text = record.fhir_json();
    if (offset_ == 0 && text.size() <= piece_bytes_) {
      *message_.mutable_record() = std::move(record);
      record.Clear();
      ++next_;
      StartWrite(&message_);
      return;
    }
    hie::v1::RecordPiece* piece = message_.mutable_record_piece();
    if (offset_ == 0) {
      *piece->mutable_envelope() = record;
      piece->mutable_envelope()->clear_fhir_json();
    }
    size_t take = std::min(piece_bytes_, text.size() - offset_);
    piece->set_fhir_json(text.substr(offset_, take));
    offset_ += take;
    if (offset_ == text.size()) {
      piece->set_last(true);
      record.Clear();  // sent: let go of its text
      offset_ = 0;
      ++next_;
    }
    StartWrite(&message_);
  }

  std::vector<hie::v1::RecordEnvelope> records_;
  hie::v1::FetchSummary summary_;
  const size_t piece_bytes_;
  size_t next_ = 0;
  size_t offset_ = 0;  // into the text of records_[next_] while it goes in pieces
  bool summary_sent_ = false;
  hie::v1::FetchRecordsResponse message_;
};

}  // namespace

absl::StatusOr<PeerRecordsService::Answer> PeerRecordsService::Serve(
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
  // A record larger than the limit is named, not sent; the rest go.
  Answer answer;
  std::vector<hie::v1::RecordEnvelope>& records = disclosure->records;
  SkippedRecords skipped;
  LeaveOutLarger(&records, state_->max_record_bytes, &skipped);

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
      skipped.count == 0
          ? ""
          : absl::StrCat(", skipped ", skipped.count, " larger than ", state_->max_record_bytes,
                         " bytes: ", absl::StrJoin(skipped.references, " ")),
      grant->break_glass() ? absl::StrCat(" (break-the-glass: ", grant->break_glass_reason(), ")")
                           : ""));
  if (auto appended = state_->audit->Append(std::move(entry)); !appended.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the disclosure could not be audited, so nothing "
                     "is sent: ",
                     appended.status().message()));
  }
  answer.summary.set_records_sent(static_cast<int64_t>(records.size()));
  answer.summary.set_records_withheld(disclosure->withheld);
  answer.summary.set_records_skipped(skipped.count);
  for (auto& ref : skipped.references) answer.summary.add_skipped(std::move(ref));
  answer.records = std::move(records);
  return answer;
}

grpc::ServerWriteReactor<hie::v1::FetchRecordsResponse>* PeerRecordsService::FetchRecords(
    grpc::CallbackServerContext* context, const hie::v1::FetchRecordsRequest* request) {
  absl::StatusOr<Answer> answer = Serve(*context, *request);
  if (!answer.ok()) return new AnswerWriter(ToGrpcStatus(answer.status()));
  return new AnswerWriter(std::move(answer->records), std::move(answer->summary),
                          state_->piece_bytes);
}

}  // namespace hie::node
