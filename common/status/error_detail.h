// Machine-readable error details on an absl::Status: an hie.v1.ErrorDetail packed into
// an hie.v1.RpcStatus (wire-identical to google.rpc.Status), carried as the status
// payload that common/grpc/status_convert turns into the grpc-status-details-bin
// trailer. Domain code attaches them; the service layer passes them through untouched.
#ifndef HIE_COMMON_STATUS_ERROR_DETAIL_H_
#define HIE_COMMON_STATUS_ERROR_DETAIL_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "proto/hie/v1/errors.pb.h"

namespace hie {

// The payload key under which the serialized RpcStatus travels.
inline constexpr char kErrorDetailsTypeUrl[] = "type.googleapis.com/hie.v1.ErrorDetails";

// `status` with `detail` attached (replacing any earlier detail). OK stays OK.
absl::Status WithErrorDetail(absl::Status status, const hie::v1::ErrorDetail& detail);

// `status` with an ErrorDetail carrying only `reason`.
absl::Status WithReason(absl::Status status, hie::v1::ErrorReason reason);

// The ErrorDetail attached to `status`, if any.
std::optional<hie::v1::ErrorDetail> GetErrorDetail(const absl::Status& status);

// A field path and what is wrong there.
struct Violation {
  std::string field;
  std::string description;
};

// InvalidArgument for a FHIR resource that failed validation: the message names the
// first violation ("Consent.provision.type: must be permit or deny"), the detail (reason
// INVALID_RESOURCE) lists them all. REQUIRES: !violations.empty().
absl::Status InvalidResource(const std::vector<Violation>& violations);

}  // namespace hie

#endif  // HIE_COMMON_STATUS_ERROR_DETAIL_H_
