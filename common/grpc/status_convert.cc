#include "common/grpc/status_convert.h"

#include <optional>
#include <string>

#include "absl/strings/cord.h"

namespace hie {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  auto code = static_cast<grpc::StatusCode>(static_cast<int>(status.code()));
  auto details = status.GetPayload(kErrorDetailsTypeUrl);
  if (details.has_value()) {
    return grpc::Status(code, std::string(status.message()), std::string(*details));
  }
  return grpc::Status(code, std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  int raw = static_cast<int>(status.error_code());
  auto code =
      (raw >= 0 && raw <= 16) ? static_cast<absl::StatusCode>(raw) : absl::StatusCode::kUnknown;
  absl::Status out(code, status.error_message());
  if (!status.error_details().empty()) {
    out.SetPayload(kErrorDetailsTypeUrl, absl::Cord(status.error_details()));
  }
  return out;
}

}  // namespace hie
