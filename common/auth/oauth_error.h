// OAuth 2.0 error codes (RFC 6749 section 5.2) carried on an absl::Status, so that the
// token endpoint can answer `{"error": ..., "error_description": ...}` while domain code
// keeps returning statuses.
//
// Each error has one canonical code, chosen so that the status alone is also right:
//   invalid_request         InvalidArgument   malformed assertion or request
//   invalid_client          Unauthenticated   unknown or revoked client, bad signature
//   invalid_grant           Unauthenticated   expired, replayed or misaddressed assertion
//   invalid_scope           PermissionDenied  no requested scope is allowed
//   unsupported_grant_type  InvalidArgument   not client_credentials
// RFC 6749 answers 401 for invalid_client and 400 for the others; the token endpoint
// reads OAuthErrorOf() to choose, not the absl code.
#ifndef HIE_COMMON_AUTH_OAUTH_ERROR_H_
#define HIE_COMMON_AUTH_OAUTH_ERROR_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace hie::auth {

enum class OAuthError {
  kInvalidRequest,
  kInvalidClient,
  kInvalidGrant,
  kInvalidScope,
  kUnsupportedGrantType,
};

// "invalid_request", "invalid_client", ...
absl::string_view OAuthErrorName(OAuthError error);

// A status with the canonical code of `error` and `description` as its message (which
// becomes error_description: say what is wrong, never a secret).
absl::Status MakeOAuthError(OAuthError error, absl::string_view description);

// The OAuth error name a status carries, or nullopt for a status made otherwise (a
// store failure, say: the token endpoint answers those as a server error).
std::optional<std::string> OAuthErrorOf(const absl::Status& status);

}  // namespace hie::auth

#endif  // HIE_COMMON_AUTH_OAUTH_ERROR_H_
