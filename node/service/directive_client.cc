#include "node/service/directive_client.h"

#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "common/grpc/status_convert.h"
#include "common/time/proto_time.h"
#include "grpcpp/client_context.h"

namespace hie::node {
namespace {

// One unary call in flight; deleted once answered.
template <typename Request, typename Response, typename Result>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
  std::function<void(absl::StatusOr<Result>)> done;
};

DirectiveInfo InfoOf(const hie::v1::Directive& d) {
  return DirectiveInfo{.id = d.directive_id(),
                       .version = d.version(),
                       .status = d.status(),
                       .filed_by_org = d.filed_by_org(),
                       .consent_json = d.consent_json(),
                       .recorded_at = FromProtoTime(d.recorded_at())};
}

}  // namespace

void GrpcDirectiveClient::List(
    const std::string& local_patient_id,
    std::function<void(absl::StatusOr<std::vector<DirectiveInfo>>)> done) {
  using ListCall = Call<hie::v1::ListDirectivesRequest, hie::v1::ListDirectivesResponse,
                        std::vector<DirectiveInfo>>;
  auto* call = new ListCall;
  call->request.mutable_patient()->set_org_id(own_org_);
  call->request.mutable_patient()->set_local_id(local_patient_id);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  call->done = std::move(done);
  stub_->async()->ListDirectives(
      &call->context, &call->request, &call->response, [call](grpc::Status status) {
        std::unique_ptr<ListCall> owned(call);
        if (!status.ok()) {
          owned->done(FromGrpcStatus(status));
          return;
        }
        std::vector<DirectiveInfo> listed;
        for (const hie::v1::Directive& d : owned->response.directives()) {
          listed.push_back(InfoOf(d));
        }
        owned->done(std::move(listed));
      });
}

void GrpcDirectiveClient::Put(const std::string& local_patient_id, const std::string& consent_json,
                              std::function<void(absl::StatusOr<DirectiveInfo>)> done) {
  using PutCall = Call<hie::v1::PutDirectiveRequest, hie::v1::Directive, DirectiveInfo>;
  auto* call = new PutCall;
  call->request.mutable_patient()->set_org_id(own_org_);
  call->request.mutable_patient()->set_local_id(local_patient_id);
  call->request.set_consent_json(consent_json);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  call->done = std::move(done);
  stub_->async()->PutDirective(&call->context, &call->request, &call->response,
                               [call](grpc::Status status) {
                                 std::unique_ptr<PutCall> owned(call);
                                 if (!status.ok()) {
                                   owned->done(FromGrpcStatus(status));
                                   return;
                                 }
                                 owned->done(InfoOf(owned->response));
                               });
}

}  // namespace hie::node
