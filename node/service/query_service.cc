#include "node/service/query_service.h"

#include <chrono>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/status_convert.h"
#include "common/status/error_detail.h"
#include "grpcpp/create_channel.h"
#include "node/domain/disclosure.h"
#include "node/domain/merge.h"

namespace hie::node {
namespace {

using hie::v1::HolderStatus;

class QueryReactor;

// The longest a query waits for one holder, whatever the caller asks.
constexpr int kMaxHolderTimeoutMs = 120000;

// What one holder sent, once its stream is over.
struct HolderAnswer {
  std::vector<hie::v1::RecordEnvelope> records;
  int64_t withheld = 0;
  // Records left out for their size, by the holder (its summary) or here.
  SkippedRecords skipped;
};

// One holder's FetchRecords, read with the callback API. Records sent in pieces are
// joined here; one growing past `max_record_bytes` is dropped as it arrives and named.
class HolderCall final : public grpc::ClientReadReactor<hie::v1::FetchRecordsResponse> {
 public:
  HolderCall(QueryReactor* parent, hie::v1::GrantHolder holder, size_t max_record_bytes,
             size_t max_answer_bytes)
      : parent_(parent),
        holder_(std::move(holder)),
        max_record_bytes_(max_record_bytes),
        max_answer_bytes_(max_answer_bytes) {}

  void Start(hie::v1::PeerRecords::Stub* stub, const hie::v1::FetchRecordsRequest& request,
             absl::Duration timeout) {
    started_ = absl::Now();
    context_.set_deadline(absl::ToChronoTime(started_ + timeout));
    request_ = request;
    stub->async()->FetchRecords(&context_, &request_, this);
    StartRead(&message_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows with the status
    if (over_budget_) return;  // cancelled: OnDone follows
    if (message_.has_record()) {
      Take(std::move(*message_.mutable_record()));
    } else if (message_.has_record_piece()) {
      hie::v1::RecordPiece* piece = message_.mutable_record_piece();
      if (piece->has_envelope()) {
        joining_ = std::move(*piece->mutable_envelope());
        joining_.clear_fhir_json();
        dropping_ = false;
      }
      if (!dropping_) {
        if (joining_.fhir_json().size() + piece->fhir_json().size() > max_record_bytes_) {
          dropping_ = true;
          answer_.skipped.Add(joining_);
          std::string().swap(*joining_.mutable_fhir_json());
        } else {
          received_bytes_ += piece->fhir_json().size();
          joining_.mutable_fhir_json()->append(piece->fhir_json());
        }
      }
      if (piece->last()) {
        if (!dropping_) {
          record_was_joined_ = true;  // its pieces are counted already
          Take(std::move(joining_));
        }
        joining_.Clear();
        dropping_ = false;
      }
    } else if (message_.has_summary()) {
      const hie::v1::FetchSummary& summary = message_.summary();
      answer_.withheld = summary.records_withheld();
      answer_.skipped.Add(summary.records_skipped(),
                          {summary.skipped().begin(), summary.skipped().end()});
    }
    if (received_bytes_ > max_answer_bytes_) {
      // A holder may not fill this node's memory: its answer is dropped and the call ended.
      over_budget_ = true;
      std::vector<hie::v1::RecordEnvelope>().swap(answer_.records);
      joining_.Clear();
      context_.TryCancel();
      return;
    }
    StartRead(&message_);
  }

  void OnDone(const grpc::Status& status) override;

 private:
  void Take(hie::v1::RecordEnvelope record) {
    if (record.fhir_json().size() > max_record_bytes_) {
      answer_.skipped.Add(record);
      return;
    }
    if (!record_was_joined_) received_bytes_ += record.fhir_json().size();
    record_was_joined_ = false;
    // The holder is who its certificate says, whatever the record claims.
    record.set_source_org(holder_.org_id());
    answer_.records.push_back(std::move(record));
  }

  QueryReactor* parent_;
  hie::v1::GrantHolder holder_;
  const size_t max_record_bytes_;
  const size_t max_answer_bytes_;
  // Record text received from this holder so far, and whether it passed the budget.
  size_t received_bytes_ = 0;
  bool over_budget_ = false;
  bool record_was_joined_ = false;
  grpc::ClientContext context_;
  hie::v1::FetchRecordsRequest request_;
  hie::v1::FetchRecordsResponse message_;
  HolderAnswer answer_;
  // The record being joined from pieces, and whether it already grew too large.
  hie::v1::RecordEnvelope joining_;
  bool dropping_ = false;
  absl::Time started_;
};

class QueryReactor final : public grpc::ServerWriteReactor<hie::v1::QueryEvent> {
 public:
  QueryReactor(FederatedQueryService* service, grpc::CallbackServerContext* context,
               const hie::v1::QueryRequest* request)
      : service_(service), request_(*request), started_(absl::Now()) {
    absl::StatusOr<Peer> peer = PeerFromContext(*context);
    NodeState& state = service_->state();
    if (!peer.ok()) {
      Finish(ToGrpcStatus(peer.status()));
      return;
    }
    if (peer->org_id != state.own_org) {
      Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          absl::StrCat("this node answers ", state.own_org, "'s clinicians, not ",
                                       peer->org_id, "'s")));
      return;
    }
    if (request_.local_patient_id().empty() || request_.purpose().empty()) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "local_patient_id and purpose are required"));
      return;
    }
    hie::v1::AuthorizeRequest authorize;
    authorize.set_local_patient_id(request_.local_patient_id());
    authorize.set_purpose(request_.purpose());
    *authorize.mutable_user() = request_.user();
    authorize.set_break_glass_reason(request_.break_glass_reason());
    authorize_request_ = authorize;
    authorize_context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    service_->consent().async()->Authorize(&authorize_context_, &authorize_request_,
                                           &authorize_response_,
                                           [this](grpc::Status status) { OnAuthorized(status); });
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {  // the client went away: drop what is queued, keep waiting for holders
        broken_ = true;
        events_.clear();
        if (bundle_ != nullptr) {  // every holder is done: nothing is left to wait for
          bundle_.reset();
          final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
          finish_after_writes_ = true;
        }
      } else {
        events_.pop_front();
      }
    }
    Pump();
  }

  void OnDone() override { delete this; }

  void HolderDone(const hie::v1::GrantHolder& holder, const grpc::Status& status,
                  HolderAnswer answer, absl::Duration elapsed) {
    hie::v1::QueryEvent event;
    HolderStatus* s = event.mutable_holder();
    s->set_org_id(holder.org_id());
    s->set_elapsed_ms(absl::ToInt64Milliseconds(elapsed));
    switch (status.error_code()) {
      case grpc::StatusCode::OK:
        s->set_state(HolderStatus::STATE_OK);
        s->set_records(static_cast<int64_t>(answer.records.size()));
        s->set_withheld(answer.withheld);
        s->set_skipped(answer.skipped.count);
        for (auto& ref : answer.skipped.references) s->add_skipped_references(std::move(ref));
        break;
      case grpc::StatusCode::PERMISSION_DENIED:
      case grpc::StatusCode::UNAUTHENTICATED:
        s->set_state(HolderStatus::STATE_DENIED);
        break;
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        s->set_state(HolderStatus::STATE_TIMED_OUT);
        break;
      case grpc::StatusCode::UNAVAILABLE:
        s->set_state(HolderStatus::STATE_UNREACHABLE);
        break;
      default:
        s->set_state(HolderStatus::STATE_FAILED);
    }
    if (!status.ok()) s->set_message(status.error_message());
    bool last = false;
    {
      absl::MutexLock lock(&mu_);
      for (auto& r : answer.records) records_.push_back(std::move(r));
      summaries_.push_back(*s);
      --in_flight_;
      last = in_flight_ == 0 && next_holder_ == holders_.size();
    }
    answer.records.clear();
    Emit(std::move(event));
    StartMoreHolders();
    if (last) Complete();
  }

 private:
  // Starts the next write, or finishes once nothing is left to write. The Bundle's
  // pieces are made one at a time, when the previous message has gone.
  void Pump() {
    const hie::v1::QueryEvent* next = nullptr;
    bool finish = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_) return;
      if (!broken_ && events_.empty() && bundle_ != nullptr) NextPiece();
      if (!broken_ && !events_.empty()) {
        writing_ = true;
        next = &events_.front();
      } else if (finish_after_writes_) {
        finished_ = finish = true;
        status = final_status_;
      }
    }
    if (next != nullptr) StartWrite(next);
    if (finish) Finish(status);
  }

  // Queues the Bundle's next piece, or, after the last, the result.
  void NextPiece() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    hie::v1::QueryEvent event;
    std::string* data = event.mutable_bundle()->mutable_data();
    if (bundle_->Next(service_->state().piece_bytes, data)) {
      events_.push_back(std::move(event));
      return;
    }
    result_.set_bundle_bytes(bundle_->bytes_written());
    bundle_.reset();
    hie::v1::QueryEvent done;
    *done.mutable_result() = std::move(result_);
    events_.push_back(std::move(done));
    final_status_ = grpc::Status::OK;
    finish_after_writes_ = true;
  }

  void Emit(hie::v1::QueryEvent event) {
    {
      absl::MutexLock lock(&mu_);
      if (broken_) return;
      events_.push_back(std::move(event));
    }
    Pump();
  }

  // Finishes once every queued event is written. Called only when no holder call is
  // running any more (they point at this reactor).
  void FinishWith(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      final_status_ = status;
      finish_after_writes_ = true;
    }
    Pump();
  }

  void OnAuthorized(const grpc::Status& status) {
    NodeState& state = service_->state();
    if (!status.ok()) {
      absl::Status s = FromGrpcStatus(status);
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
          status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        s = WithReason(absl::UnavailableError(absl::StrCat(
                           "the consent service cannot be reached, so nothing is fetched: ",
                           status.error_message())),
                       hie::v1::ERROR_REASON_DEPENDENCY_UNAVAILABLE);
      }
      // Nothing is answered either way; a failed append changes nothing for the user.
      (void)Audit("error", std::string(s.message()));
      FinishWith(ToGrpcStatus(s));
      return;
    }
    query_id_ = authorize_response_.query_id();
    if (authorize_response_.has_denial()) {
      (void)Audit("deny", authorize_response_.denial().reason());
      FinishWith(
          ToGrpcStatus(WithReason(absl::PermissionDeniedError(absl::StrCat(
                                      "consent denies: ", authorize_response_.denial().reason())),
                                  hie::v1::ERROR_REASON_CONSENT_DENIED)));
      return;
    }
    if (!grant_.ParseFromString(authorize_response_.grant().grant())) {
      FinishWith(
          grpc::Status(grpc::StatusCode::INTERNAL, "the consent service sent an unreadable grant"));
      return;
    }
    for (const auto& h : grant_.holders()) {
      if (h.org_id() != state.own_org) holders_.push_back(h);
    }
    // No query without its record: durable before anything is read or fetched.
    if (absl::Status s = Audit("started", absl::StrCat("asking ", holders_.size(), " holder(s)"));
        !s.ok()) {
      FinishWith(ToGrpcStatus(Unrecorded(s)));
      return;
    }
    // This practice's own records.
    std::vector<std::string> types(request_.resource_types().begin(),
                                   request_.resource_types().end());
    HolderAnswer own_answer;
    int64_t local = 0;
    absl::Status s = state.records->ForPatient(
        request_.local_patient_id(), "", [&](const hie::v1::RecordEnvelope& r) {
          if (r.deleted()) return true;
          if (!types.empty() &&
              std::find(types.begin(), types.end(), r.resource_type()) == types.end()) {
            return true;
          }
          if (r.fhir_json().size() > state.max_record_bytes) {
            own_answer.skipped.Add(r);
            return true;
          }
          records_.push_back(r);
          records_.back().set_source_org(state.own_org);
          ++local;
          return true;
        });
    hie::v1::QueryEvent own;
    HolderStatus* own_status = own.mutable_holder();
    own_status->set_org_id(state.own_org);
    own_status->set_local(true);
    own_status->set_state(s.ok() ? HolderStatus::STATE_OK : HolderStatus::STATE_FAILED);
    own_status->set_records(local);
    own_status->set_skipped(own_answer.skipped.count);
    for (auto& ref : own_answer.skipped.references) own_status->add_skipped_references(ref);
    own_status->set_elapsed_ms(absl::ToInt64Milliseconds(absl::Now() - started_));
    if (!s.ok()) own_status->set_message(std::string(s.message()));
    summaries_.push_back(*own_status);
    Emit(std::move(own));
    fetch_.mutable_grant()->CopyFrom(authorize_response_.grant());
    for (const auto& t : types) fetch_.add_resource_types(t);
    if (request_.has_clinical_period())
      *fetch_.mutable_clinical_period() = request_.clinical_period();
    if (holders_.empty()) {
      Complete();
      return;
    }
    StartMoreHolders();
  }

  void StartMoreHolders() {
    // The caller's deadline for each holder, at most kMaxHolderTimeoutMs: an answer is
    // held in memory until its holder is done.
    int timeout_ms = request_.holder_timeout_ms() > 0
                         ? std::min(request_.holder_timeout_ms(), kMaxHolderTimeoutMs)
                         : service_->options().default_holder_timeout_ms;
    while (true) {
      hie::v1::GrantHolder holder;
      {
        absl::MutexLock lock(&mu_);
        if (next_holder_ == holders_.size() || in_flight_ >= service_->options().max_in_flight)
          return;
        holder = holders_[next_holder_++];
        ++in_flight_;
      }
      auto channel = service_->HolderChannel(holder.endpoint(), holder.org_id());
      hie::v1::PeerRecords::Stub* stub;
      {
        absl::MutexLock lock(&mu_);
        stubs_.push_back(hie::v1::PeerRecords::NewStub(channel));
        stub = stubs_.back().get();
      }
      auto* call = new HolderCall(this, holder, service_->state().max_record_bytes,
                                  service_->state().max_answer_bytes);
      call->Start(stub, fetch_, absl::Milliseconds(timeout_ms));
    }
  }

  // Every holder has settled: record the query's outcome, then send the Bundle.
  void Complete() {
    auto bundle = std::make_unique<BundleWriter>(std::move(records_));
    records_.clear();
    std::vector<std::string> parts;
    for (const auto& s : summaries_) {
      parts.push_back(absl::StrCat(s.org_id(), " ", HolderStatus::State_Name(s.state()).substr(6),
                                   " ", s.records(),
                                   s.withheld() ? absl::StrCat("/-", s.withheld()) : "",
                                   s.skipped() ? absl::StrCat(" skipped ", s.skipped()) : ""));
    }
    // The second half of the query's record: no record reaches the user before it is
    // durable.
    if (absl::Status s = Audit("ok", absl::StrJoin(parts, "; ")); !s.ok()) {
      FinishWith(ToGrpcStatus(Unrecorded(s)));
      return;
    }
    result_.set_query_id(query_id_);
    result_.set_entries(bundle->entries());
    result_.set_duplicates_folded(bundle->duplicates_folded());
    for (const auto& c : grant_.withheld_categories()) result_.add_withheld_categories(c);
    result_.mutable_completed_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    bool cancelled = false;
    {
      absl::MutexLock lock(&mu_);
      if (broken_) {
        cancelled = true;
      } else {
        bundle_ = std::move(bundle);
      }
    }
    if (cancelled) {
      FinishWith(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    Pump();
  }

  static absl::Status Unrecorded(const absl::Status& append) {
    return WithReason(
        absl::UnavailableError(absl::StrCat("this node cannot record the query in its audit, so "
                                            "it answers nothing: ",
                                            append.message())),
        hie::v1::ERROR_REASON_AUDIT_UNAVAILABLE);
  }

  absl::Status Audit(const std::string& outcome, const std::string& detail) {
    NodeState& state = service_->state();
    hie::v1::AuditEntry entry;
    entry.set_action(hie::v1::AUDIT_ACTION_QUERY);
    entry.set_actor_org(state.own_org);
    *entry.mutable_user() = request_.user();
    entry.mutable_patient()->set_org_id(state.own_org);
    entry.mutable_patient()->set_local_id(request_.local_patient_id());
    entry.set_euid(grant_.euid());
    entry.set_purpose(request_.purpose());
    entry.set_query_id(query_id_);
    entry.set_outcome(outcome);
    entry.set_detail(detail);
    return state.audit->Append(std::move(entry)).status();
  }

  FederatedQueryService* service_;
  const hie::v1::QueryRequest request_;
  const absl::Time started_;
  grpc::ClientContext authorize_context_;
  hie::v1::AuthorizeRequest authorize_request_;
  hie::v1::AuthorizeResponse authorize_response_;
  hie::v1::DisclosureGrant grant_;
  hie::v1::FetchRecordsRequest fetch_;
  std::string query_id_;
  std::vector<hie::v1::GrantHolder> holders_;
  hie::v1::QueryResult result_;

  absl::Mutex mu_;
  size_t next_holder_ ABSL_GUARDED_BY(mu_) = 0;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<hie::v1::RecordEnvelope> records_;
  std::vector<HolderStatus> summaries_;
  std::deque<hie::v1::QueryEvent> events_ ABSL_GUARDED_BY(mu_);
  // The merged answer while its pieces are being sent.
  std::unique_ptr<BundleWriter> bundle_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_after_writes_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<hie::v1::PeerRecords::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
};

void HolderCall::OnDone(const grpc::Status& status) {
  if (over_budget_) {
    answer_ = HolderAnswer();
    parent_->HolderDone(
        holder_,
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     absl::StrCat("the holder's answer passed limits.max_answer_bytes (",
                                  max_answer_bytes_, " bytes): its records are left out")),
        std::move(answer_), absl::Now() - started_);
    delete this;
    return;
  }
  parent_->HolderDone(holder_, status, std::move(answer_), absl::Now() - started_);
  delete this;
}

}  // namespace

FederatedQueryService::FederatedQueryService(std::shared_ptr<NodeState> state,
                                             std::shared_ptr<grpc::Channel> consent_channel,
                                             PeerCredentials peer_credentials, QueryOptions options)
    : state_(std::move(state)),
      consent_(hie::v1::ConsentService::NewStub(std::move(consent_channel))),
      peer_credentials_(std::move(peer_credentials)),
      options_(options) {}

std::shared_ptr<grpc::Channel> FederatedQueryService::HolderChannel(const std::string& address,
                                                                    const std::string& org) {
  absl::MutexLock lock(&mu_);
  std::string key = absl::StrCat(org, "@", address);
  auto it = channels_.find(key);
  if (it != channels_.end()) return it->second;
  auto channel = grpc::CreateChannel(address, peer_credentials_(org));
  channels_.emplace(key, channel);
  return channel;
}

grpc::ServerWriteReactor<hie::v1::QueryEvent>* FederatedQueryService::Query(
    grpc::CallbackServerContext* context, const hie::v1::QueryRequest* request) {
  return new QueryReactor(this, context, request);
}

}  // namespace hie::node
