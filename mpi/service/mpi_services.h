// hie-mpi's gRPC surface: the services it registers and who may call what.
#ifndef HIE_MPI_SERVICE_MPI_SERVICES_H_
#define HIE_MPI_SERVICE_MPI_SERVICES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/grpc/authorization.h"
#include "grpcpp/impl/service_type.h"
#include "mpi/index/patient_index.h"
#include "mpi/index/registration_monitor.h"

namespace hie::mpi {

// Method x role table for every RPC hie-mpi serves (deny by default).
std::shared_ptr<const AuthorizationPolicy> MpiAuthorizationPolicy();

// The services hie-mpi registers, with the patient index kept in `data_dir`/index;
// `alerts` says when a member's registrations raise an alert.
// RPCs not yet implemented answer UNIMPLEMENTED. Errors: those of opening the store
// (FailedPrecondition if in use, DataLoss if corrupt).
absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> OpenMpiServices(
    const std::string& data_dir, const IndexOptions& options = {},
    const RegistrationAlertOptions& alerts = {});

}  // namespace hie::mpi

#endif  // HIE_MPI_SERVICE_MPI_SERVICES_H_
