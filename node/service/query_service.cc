#include "node/service/query_service.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/status_convert.h"

namespace hie::node {
namespace {

using hie::v1::HolderStatus;

FederatedQueryRequest ToDomain(const hie::v1::QueryRequest& request) {
  FederatedQueryRequest out;
  out.local_patient_id = request.local_patient_id();
  out.purpose = request.purpose();
  out.user.id = request.user().user_id();
  out.user.role = request.user().role();
  out.user.npi = request.user().npi();
  out.user.display_name = request.user().display_name();
  out.break_glass_reason = request.break_glass_reason();
  out.holder_timeout = absl::Milliseconds(request.holder_timeout_ms());
  out.resource_types.assign(request.resource_types().begin(), request.resource_types().end());
  if (request.has_clinical_period()) out.clinical_period = request.clinical_period();
  return out;
}

HolderStatus::State ToProto(HolderState state) {
  switch (state) {
    case HolderState::kOk:
      return HolderStatus::STATE_OK;
    case HolderState::kDenied:
      return HolderStatus::STATE_DENIED;
    case HolderState::kTimedOut:
      return HolderStatus::STATE_TIMED_OUT;
    case HolderState::kUnreachable:
      return HolderStatus::STATE_UNREACHABLE;
    case HolderState::kFailed:
      return HolderStatus::STATE_FAILED;
  }
  return HolderStatus::STATE_FAILED;
}

hie::v1::QueryEvent ToEvent(const HolderOutcome& outcome) {
  hie::v1::QueryEvent event;
  HolderStatus* s = event.mutable_holder();
  s->set_org_id(outcome.org_id);
  s->set_local(outcome.local);
  s->set_state(ToProto(outcome.state));
  s->set_records(outcome.records);
  s->set_withheld(outcome.withheld);
  s->set_skipped(outcome.skipped.count);
  for (const auto& ref : outcome.skipped.references) s->add_skipped_references(ref);
  s->set_elapsed_ms(absl::ToInt64Milliseconds(outcome.elapsed));
  s->set_message(outcome.message);
  return event;
}

// One Query call: the domain's reports, written as they come, one message at a time.
class QueryReactor final : public grpc::ServerWriteReactor<hie::v1::QueryEvent>,
                           public QueryObserver {
 public:
  QueryReactor(FederatedQueryService* service, grpc::CallbackServerContext* context,
               const hie::v1::QueryRequest* request)
      : service_(service) {
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
    service_->query().Run(ToDomain(*request), this);
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

  void OnHolderSettled(const HolderOutcome& outcome) override { Emit(ToEvent(outcome)); }

  // The domain calls nothing after this, so the call may finish.
  void OnQueryDone(absl::StatusOr<QueryAnswer> answer) override {
    if (!answer.ok()) {
      FinishWith(ToGrpcStatus(answer.status()));
      return;
    }
    bool cancelled = false;
    {
      absl::MutexLock lock(&mu_);
      result_.set_query_id(answer->query_id);
      result_.set_entries(answer->bundle->entries());
      result_.set_duplicates_folded(answer->bundle->duplicates_folded());
      for (const auto& c : answer->withheld_categories) result_.add_withheld_categories(c);
      result_.mutable_completed_at()->set_seconds(absl::ToUnixSeconds(answer->completed_at));
      if (broken_) {
        cancelled = true;
      } else {
        bundle_ = std::move(answer->bundle);
      }
    }
    if (cancelled) {
      FinishWith(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    Pump();
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

  // Finishes once every queued event is written.
  void FinishWith(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      final_status_ = status;
      finish_after_writes_ = true;
    }
    Pump();
  }

  FederatedQueryService* service_;

  absl::Mutex mu_;
  std::deque<hie::v1::QueryEvent> events_ ABSL_GUARDED_BY(mu_);
  // The merged answer while its pieces are being sent, and the result that follows it.
  std::unique_ptr<BundleWriter> bundle_ ABSL_GUARDED_BY(mu_);
  hie::v1::QueryResult result_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_after_writes_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerWriteReactor<hie::v1::QueryEvent>* FederatedQueryService::Query(
    grpc::CallbackServerContext* context, const hie::v1::QueryRequest* request) {
  return new QueryReactor(this, context, request);
}

}  // namespace hie::node
