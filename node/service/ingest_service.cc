#include "node/service/ingest_service.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/status_convert.h"
#include "node/domain/importer.h"
#include "simdjson.h"

namespace hie::node {
namespace {

// Operators and the node's own org may feed it; other practices may not.
absl::Status CheckOwnOrg(const grpc::CallbackServerContext& context, const std::string& own_org) {
  absl::StatusOr<Peer> peer = PeerFromContext(context);
  if (!peer.ok()) return peer.status();
  if (peer->role == pki::Role::kOperator || peer->org_id == own_org) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("this node serves ", own_org, "; ", peer->org_id, " may not use its ingest"));
}

// One JSON document if the data parses as one (however it is laid out over lines);
// otherwise NDJSON.
bool LooksLikeNdjson(absl::string_view data) {
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  return parser.parse(data.data(), data.size()).get(document) != simdjson::SUCCESS &&
         data.find('\n') != absl::string_view::npos;
}

class ImportReactor final : public grpc::ServerReadReactor<hie::v1::ImportRequest> {
 public:
  ImportReactor(std::shared_ptr<NodeState> state, hie::v1::ImportResponse* response,
                absl::Status admitted)
      : state_(std::move(state)),
        response_(response),
        importer_(state_->ingester.get(), state_->records.get(), state_->outbox.get()) {
    if (!admitted.ok()) {
      Finish(ToGrpcStatus(admitted));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client finished sending
      Complete(importer_.Finish());
      return;
    }
    const std::string& data = request_.data();
    std::string source = request_.source_name().empty() ? "import" : request_.source_name();
    // A JSON document in pieces: this message continues one, or the previous one said
    // the document goes on.
    bool piece = request_.format() != hie::v1::ImportRequest::FORMAT_NDJSON &&
                 (request_.continues() || in_document_);
    bool ndjson = !piece && (request_.format() == hie::v1::ImportRequest::FORMAT_NDJSON ||
                             (request_.format() == hie::v1::ImportRequest::FORMAT_UNSPECIFIED &&
                              (ndjson_ || LooksLikeNdjson(data))));
    absl::Status s = ndjson  ? importer_.AddNdjson(data, source)
                     : piece ? importer_.AddJsonPiece(data, !request_.continues(), source)
                             : importer_.AddJson(data, source);
    ndjson_ = ndjson_ || ndjson;
    in_document_ = piece && request_.continues();
    if (!s.ok()) {
      // Nothing of this message was acknowledged; what came before is durable.
      Complete(s);
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  void Complete(const absl::Status& status) {
    const ImportTotals& t = importer_.totals();
    response_->set_accepted(t.accepted);
    response_->set_unchanged(t.unchanged);
    if (state_->outbox != nullptr) {
      response_->set_patients_queued_for_mpi(static_cast<int64_t>(t.patients_changed.size()));
      if (!t.patients_changed.empty() && state_->sender != nullptr) state_->sender->Notify();
    }
    for (const auto& p : t.rejected) {
      auto* out = response_->add_rejected();
      out->set_source_name(p.source);
      out->set_position(p.position);
      out->set_path(p.path);
      out->set_message(p.message);
    }
    if (!t.rejected.empty())
      response_->set_operation_outcome_json(OperationOutcomeJson(t.rejected));
    Finish(ToGrpcStatus(status));
  }

  std::shared_ptr<NodeState> state_;
  hie::v1::ImportResponse* response_;
  hie::v1::ImportRequest request_;
  Importer importer_;
  bool ndjson_ = false;
  bool in_document_ = false;
};

}  // namespace

grpc::ServerReadReactor<hie::v1::ImportRequest>* IngestService::Import(
    grpc::CallbackServerContext* context, hie::v1::ImportResponse* response) {
  return new ImportReactor(state_, response, CheckOwnOrg(*context, state_->own_org));
}

grpc::ServerUnaryReactor* IngestService::GetRecord(grpc::CallbackServerContext* context,
                                                   const hie::v1::GetRecordRequest* request,
                                                   hie::v1::RecordEnvelope* response) {
  auto* reactor = context->DefaultReactor();
  if (absl::Status s = CheckOwnOrg(*context, state_->own_org); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  absl::StatusOr<hie::v1::RecordEnvelope> record =
      state_->records->Get(request->resource_type(), request->resource_id());
  if (!record.ok()) {
    reactor->Finish(ToGrpcStatus(record.status()));
    return reactor;
  }
  *response = *std::move(record);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace hie::node
