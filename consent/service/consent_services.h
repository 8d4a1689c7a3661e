// hie-consent's gRPC surface: the services it registers and who may call what.
#ifndef HIE_CONSENT_SERVICE_CONSENT_SERVICES_H_
#define HIE_CONSENT_SERVICE_CONSENT_SERVICES_H_

#include <memory>
#include <vector>

#include "common/grpc/authorization.h"
#include "grpcpp/impl/service_type.h"

namespace hie::consent {

// Method x role table for every RPC hie-consent serves (deny by default).
std::shared_ptr<const AuthorizationPolicy> ConsentAuthorizationPolicy();

// The services hie-consent registers. RPCs not yet implemented answer UNIMPLEMENTED.
std::vector<std::unique_ptr<grpc::Service>> MakeConsentServices();

}  // namespace hie::consent

#endif  // HIE_CONSENT_SERVICE_CONSENT_SERVICES_H_
