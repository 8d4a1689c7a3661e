// The one place where absl::Status and grpc::Status meet. Codes map one to one (both
// follow google.rpc.Code); error details travel as a serialized hie.v1.ErrorDetails in
// grpc::Status::error_details() and as the absl payload under kErrorDetailsTypeUrl.
#ifndef HIE_COMMON_GRPC_STATUS_CONVERT_H_
#define HIE_COMMON_GRPC_STATUS_CONVERT_H_

#include "absl/status/status.h"
#include "common/status/error_detail.h"
#include "grpcpp/support/status.h"

namespace hie {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace hie

#endif  // HIE_COMMON_GRPC_STATUS_CONVERT_H_
