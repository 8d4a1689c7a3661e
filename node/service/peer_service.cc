#include "node/service/peer_service.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/status_convert.h"
#include "common/log/log.h"
#include "common/status/error_detail.h"
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
                                             absl::Duration interval, absl::Duration max_staleness)
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
      LogWarning(
          "cannot read the consent service's directive feed (grants are refused "
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
      return WithReason(absl::UnavailableError(absl::StrCat("cannot read the directive feed: ",
                                                            status.error_message())),
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

PeerRecordsService::PeerRecordsService(std::shared_ptr<NodeState> state,
                                       std::shared_ptr<GrantKeySource> keys,
                                       std::shared_ptr<DirectiveFeedFollower> feed)
    : state_(std::move(state)),
      keys_(std::move(keys)),
      feed_(std::move(feed)),
      audit_(AuditSink::ForLog(state_->audit.get())),
      discloser_(state_->own_org, state_->max_record_bytes, state_->records.get(),
                 state_->store.get(), audit_.get(), keys_.get(), feed_.get(), Clock::Real()),
      accounting_(&discloser_, state_->audit.get(), audit_.get()) {}

grpc::ServerWriteReactor<hie::v1::FetchRecordsResponse>* PeerRecordsService::FetchRecords(
    grpc::CallbackServerContext* context, const hie::v1::FetchRecordsRequest* request) {
  absl::StatusOr<Peer> peer = PeerFromContext(*context);
  if (!peer.ok()) return new AnswerWriter(ToGrpcStatus(peer.status()));
  FetchInput input;
  input.peer_org = peer->org_id;
  input.grant = request->grant();
  input.resource_types.assign(request->resource_types().begin(), request->resource_types().end());
  if (request->has_clinical_period()) input.clinical_period = request->clinical_period();
  absl::StatusOr<FetchAnswer> answer = discloser_.Serve(input);
  if (!answer.ok()) return new AnswerWriter(ToGrpcStatus(answer.status()));
  hie::v1::FetchSummary summary;
  summary.set_records_sent(static_cast<int64_t>(answer->records.size()));
  summary.set_records_withheld(answer->withheld);
  summary.set_records_skipped(answer->skipped.count);
  for (auto& ref : answer->skipped.references) summary.add_skipped(std::move(ref));
  return new AnswerWriter(std::move(answer->records), std::move(summary), state_->piece_bytes);
}

grpc::ServerUnaryReactor* PeerRecordsService::ListDisclosures(
    grpc::CallbackServerContext* context, const hie::v1::ListDisclosuresRequest* request,
    hie::v1::ListDisclosuresResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Peer> peer = PeerFromContext(*context);
  if (!peer.ok()) {
    reactor->Finish(ToGrpcStatus(peer.status()));
    return reactor;
  }
  absl::StatusOr<AccountingAnswer> answer = accounting_.Serve(peer->org_id, request->grant());
  if (!answer.ok()) {
    reactor->Finish(ToGrpcStatus(answer.status()));
    return reactor;
  }
  for (auto& entry : answer->entries) *response->add_entries() = std::move(entry);
  response->set_truncated(answer->truncated);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace hie::node
