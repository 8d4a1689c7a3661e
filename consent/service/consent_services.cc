#include "consent/service/consent_services.h"

#include "proto/hie/v1/audit.grpc.pb.h"
#include "proto/hie/v1/consent.grpc.pb.h"

namespace hie::consent {

using pki::Role;

std::shared_ptr<const AuthorizationPolicy> ConsentAuthorizationPolicy() {
  auto policy = std::make_shared<AuthorizationPolicy>();
  constexpr char kConsent[] = "/hie.v1.ConsentService/";
  constexpr char kAudit[] = "/hie.v1.AuditLog/";
  policy->AllowInfrastructure()
      .Allow(std::string(kConsent) + "PutDirective", {Role::kNode, Role::kOperator})
      .Allow(std::string(kConsent) + "RevokeDirective", {Role::kNode, Role::kOperator})
      .Allow(std::string(kConsent) + "ListDirectives", {Role::kNode, Role::kOperator})
      .Allow(std::string(kConsent) + "Authorize", {Role::kNode})
      .Allow(std::string(kConsent) + "GetPublicKeys", {Role::kNode, Role::kMpi, Role::kOperator})
      // Nodes append their query and disclosure entries to the exchange's log.
      .Allow(std::string(kAudit) + "Append", {Role::kNode, Role::kOperator})
      .Allow(std::string(kAudit) + "QueryByPatient", {Role::kNode, Role::kOperator})
      .Allow(std::string(kAudit) + "Verify", {Role::kOperator});
  return policy;
}

std::vector<std::unique_ptr<grpc::Service>> MakeConsentServices() {
  std::vector<std::unique_ptr<grpc::Service>> services;
  // Directives, decisions and grants come with their issue; until then every method
  // answers UNIMPLEMENTED through the generated base classes.
  services.push_back(std::make_unique<hie::v1::ConsentService::CallbackService>());
  services.push_back(std::make_unique<hie::v1::AuditLog::CallbackService>());
  return services;
}

}  // namespace hie::consent
