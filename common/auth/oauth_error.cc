#include "common/auth/oauth_error.h"

#include "absl/strings/cord.h"

namespace hie::auth {
namespace {

constexpr char kPayloadUrl[] = "type.hie/auth.OAuthError";

absl::StatusCode CanonicalCode(OAuthError error) {
  switch (error) {
    case OAuthError::kInvalidClient:
    case OAuthError::kInvalidGrant:
      return absl::StatusCode::kUnauthenticated;
    case OAuthError::kInvalidScope:
      return absl::StatusCode::kPermissionDenied;
    case OAuthError::kInvalidRequest:
    case OAuthError::kUnsupportedGrantType:
      break;
  }
  return absl::StatusCode::kInvalidArgument;
}

}  // namespace

absl::string_view OAuthErrorName(OAuthError error) {
  switch (error) {
    case OAuthError::kInvalidRequest:
      return "invalid_request";
    case OAuthError::kInvalidClient:
      return "invalid_client";
    case OAuthError::kInvalidGrant:
      return "invalid_grant";
    case OAuthError::kInvalidScope:
      return "invalid_scope";
    case OAuthError::kUnsupportedGrantType:
      return "unsupported_grant_type";
  }
  return "invalid_request";
}

absl::Status MakeOAuthError(OAuthError error, absl::string_view description) {
  absl::Status status(CanonicalCode(error), description);
  status.SetPayload(kPayloadUrl, absl::Cord(OAuthErrorName(error)));
  return status;
}

std::optional<std::string> OAuthErrorOf(const absl::Status& status) {
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

}  // namespace hie::auth
