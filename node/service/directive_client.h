// The consent service's directive calls (ListDirectives, PutDirective) for this
// practice's own patients, over mutual-TLS gRPC with the callback API: the portal's
// "my sharing choices". Translation only; the choices are node/domain/sharing_choices.h.
#ifndef HIE_NODE_SERVICE_DIRECTIVE_CLIENT_H_
#define HIE_NODE_SERVICE_DIRECTIVE_CLIENT_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "node/domain/sharing_choices.h"
#include "proto/hie/v1/consent.grpc.pb.h"

namespace hie::node {

// Names the patient as `own_org`'s local id (the consent service refuses any other org
// from this node). Each call has a deadline of `timeout`. Thread-safe.
class GrpcDirectiveClient final : public DirectiveClient {
 public:
  GrpcDirectiveClient(std::shared_ptr<grpc::Channel> consent_channel, std::string own_org,
                      absl::Duration timeout = absl::Seconds(10))
      : stub_(hie::v1::ConsentService::NewStub(std::move(consent_channel))),
        own_org_(std::move(own_org)),
        timeout_(timeout) {}

  void List(const std::string& local_patient_id,
            std::function<void(absl::StatusOr<std::vector<DirectiveInfo>>)> done) override;
  void Put(const std::string& local_patient_id, const std::string& consent_json,
           std::function<void(absl::StatusOr<DirectiveInfo>)> done) override;

 private:
  std::unique_ptr<hie::v1::ConsentService::Stub> stub_;
  const std::string own_org_;
  const absl::Duration timeout_;
};

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_DIRECTIVE_CLIENT_H_
