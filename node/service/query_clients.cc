#include "node/service/query_clients.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc/status_convert.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"

namespace hie::node {
namespace {

// One SearchPatients in flight; deleted once answered.
struct SearchCall {
  grpc::ClientContext context;
  hie::v1::SearchPatientsRequest request;
  hie::v1::SearchPatientsResponse response;
  std::function<void(absl::StatusOr<std::vector<MatchCandidate>>)> done;
};

// One Authorize in flight; deletes itself once answered.
struct AuthorizeCall {
  grpc::ClientContext context;
  hie::v1::AuthorizeRequest request;
  hie::v1::AuthorizeResponse response;
  std::function<void(absl::StatusOr<Authorization>)> done;
};

// One ListDisclosures in flight; deleted once answered.
struct AccountingCall {
  grpc::ClientContext context;
  hie::v1::ListDisclosuresRequest request;
  hie::v1::ListDisclosuresResponse response;
  std::function<void(absl::StatusOr<AccountingAnswer>)> done;
};

// One holder's FetchRecords, read with the callback API: each message goes to the
// query's HolderStream as it arrives. Deletes itself once the call is over.
class HolderCall final : public grpc::ClientReadReactor<hie::v1::FetchRecordsResponse> {
 public:
  explicit HolderCall(HolderStream* stream) : stream_(stream) {}

  void Start(hie::v1::PeerRecords::Stub* stub, hie::v1::FetchRecordsRequest request,
             absl::Duration timeout) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    request_ = std::move(request);
    stub->async()->FetchRecords(&context_, &request_, this);
    StartRead(&message_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows with the status
    bool go_on = true;
    switch (message_.item_case()) {
      case hie::v1::FetchRecordsResponse::kRecord:
        go_on = stream_->OnRecord(std::move(*message_.mutable_record()));
        break;
      case hie::v1::FetchRecordsResponse::kRecordPiece: {
        hie::v1::RecordPiece* piece = message_.mutable_record_piece();
        std::optional<hie::v1::RecordEnvelope> envelope;
        if (piece->has_envelope()) envelope = std::move(*piece->mutable_envelope());
        go_on = stream_->OnRecordPiece(std::move(envelope), std::move(*piece->mutable_fhir_json()),
                                       piece->last());
        break;
      }
      case hie::v1::FetchRecordsResponse::kSummary: {
        const hie::v1::FetchSummary& summary = message_.summary();
        go_on = stream_->OnSummary(
            {.withheld = summary.records_withheld(),
             .skipped = summary.records_skipped(),
             .skipped_references = {summary.skipped().begin(), summary.skipped().end()}});
        break;
      }
      case hie::v1::FetchRecordsResponse::ITEM_NOT_SET:
        break;
    }
    if (!go_on) {
      context_.TryCancel();  // OnDone follows
      return;
    }
    StartRead(&message_);
  }

  void OnDone(const grpc::Status& status) override {
    stream_->OnDone(FromGrpcStatus(status));
    delete this;
  }

 private:
  HolderStream* const stream_;
  grpc::ClientContext context_;
  hie::v1::FetchRecordsRequest request_;
  hie::v1::FetchRecordsResponse message_;
};

}  // namespace

void GrpcConsentClient::Authorize(const AuthorizeQuery& query,
                                  std::function<void(absl::StatusOr<Authorization>)> done) {
  auto* call = new AuthorizeCall;
  call->request.set_local_patient_id(query.local_patient_id);
  call->request.set_purpose(query.purpose);
  hie::v1::UserContext* user = call->request.mutable_user();
  user->set_user_id(query.user.id);
  user->set_role(query.user.role);
  user->set_npi(query.user.npi);
  user->set_display_name(query.user.display_name);
  call->request.set_break_glass_reason(query.break_glass_reason);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + query.timeout));
  call->done = std::move(done);
  stub_->async()->Authorize(&call->context, &call->request, &call->response,
                            [call](grpc::Status status) {
                              std::unique_ptr<AuthorizeCall> owned(call);
                              if (!status.ok()) {
                                owned->done(FromGrpcStatus(status));
                                return;
                              }
                              hie::v1::AuthorizeResponse& response = owned->response;
                              Authorization authorization;
                              authorization.query_id = response.query_id();
                              authorization.denied = response.has_denial();
                              authorization.deny_reason = response.denial().reason();
                              if (response.has_grant()) {
                                authorization.grant = std::move(*response.mutable_grant());
                              }
                              owned->done(std::move(authorization));
                            });
}

hie::v1::PeerRecords::Stub* PeerStubs::For(const std::string& address, const std::string& org) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<hie::v1::PeerRecords::Stub>& stub = stubs_[absl::StrCat(org, "@", address)];
  if (stub == nullptr) {
    stub = hie::v1::PeerRecords::NewStub(grpc::CreateChannel(address, peer_credentials_(org)));
  }
  return stub.get();
}

void GrpcHolderClient::Fetch(const hie::v1::GrantHolder& holder, const HolderFetch& fetch,
                             absl::Duration timeout, HolderStream* stream) {
  hie::v1::FetchRecordsRequest request;
  *request.mutable_grant() = fetch.grant;
  for (const auto& type : fetch.resource_types) request.add_resource_types(type);
  if (fetch.clinical_period.has_value())
    *request.mutable_clinical_period() = *fetch.clinical_period;
  hie::v1::PeerRecords::Stub* stub = stubs_->For(holder.endpoint(), holder.org_id());
  (new HolderCall(stream))->Start(stub, std::move(request), timeout);
}

void GrpcMpiSearch::Search(const MatchQuery& query,
                           std::function<void(absl::StatusOr<std::vector<MatchCandidate>>)> done) {
  auto* call = new SearchCall;
  *call->request.mutable_demographics() = query.demographics;
  call->request.set_max_results(query.count);
  call->request.set_min_grade(query.only_certain ? hie::v1::MATCH_GRADE_CERTAIN
                                                 : hie::v1::MATCH_GRADE_POSSIBLE);
  call->done = std::move(done);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  stub_->async()->SearchPatients(
      &call->context, &call->request, &call->response, [call](grpc::Status status) {
        std::unique_ptr<SearchCall> owned(call);
        if (!status.ok()) {
          owned->done(FromGrpcStatus(status));
          return;
        }
        std::vector<MatchCandidate> candidates;
        for (hie::v1::SearchCandidate& c : *owned->response.mutable_candidates()) {
          candidates.push_back({.euid = c.euid(),
                                .grade = c.grade(),
                                .shown = std::move(*c.mutable_demographics())});
        }
        owned->done(std::move(candidates));
      });
}

void GrpcAccountingClient::ListDisclosures(
    const hie::v1::GrantHolder& holder, const hie::v1::SignedGrant& grant, absl::Duration timeout,
    std::function<void(absl::StatusOr<AccountingAnswer>)> done) {
  auto* call = new AccountingCall;
  *call->request.mutable_grant() = grant;
  call->done = std::move(done);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  stubs_->For(holder.endpoint(), holder.org_id())
      ->async()
      ->ListDisclosures(&call->context, &call->request, &call->response,
                        [call](grpc::Status status) {
                          std::unique_ptr<AccountingCall> owned(call);
                          if (!status.ok()) {
                            owned->done(FromGrpcStatus(status));
                            return;
                          }
                          AccountingAnswer answer;
                          answer.truncated = owned->response.truncated();
                          for (auto& entry : *owned->response.mutable_entries()) {
                            answer.entries.push_back(std::move(entry));
                          }
                          owned->done(std::move(answer));
                        });
}

}  // namespace hie::node
