// hie-consent's gRPC surface: the services it registers and who may call what.
#ifndef HIE_CONSENT_SERVICE_CONSENT_SERVICES_H_
#define HIE_CONSENT_SERVICE_CONSENT_SERVICES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/server_config.h"
#include "common/grpc/authorization.h"
#include "consent/domain/policy.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/security/credentials.h"

namespace hie::consent {

// Method x role table for every RPC hie-consent serves (deny by default).
std::shared_ptr<const AuthorizationPolicy> ConsentAuthorizationPolicy();

struct ConsentOptions {
  Policy policy;
  absl::Duration grant_validity = absl::Minutes(5);
  absl::Duration key_rotation = absl::Hours(24 * 30);
  PeerSettings mpi;
};

// Opens the store in `data_dir` (directives, grant keys, audit chain) and a channel to
// the MPI with `mpi_credentials` (in a daemon: TlsContext::ChannelCredentials demanding
// the MPI's org and role); returns the services to register.
absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> OpenConsentServices(
    const std::string& data_dir, std::shared_ptr<grpc::ChannelCredentials> mpi_credentials,
    const ConsentOptions& options);

}  // namespace hie::consent

#endif  // HIE_CONSENT_SERVICE_CONSENT_SERVICES_H_
