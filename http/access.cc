#include "http/access.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace hie::http {
namespace {

constexpr char kRealm[] = "Bearer realm=\"hie\"";

absl::Status CheckCertificate(const AccessRule& rule, const Caller& caller) {
  if (!caller.certificate) {
    return absl::PermissionDeniedError("a client certificate issued by the exchange is required");
  }
  const std::vector<pki::Role>& roles = rule.roles;
  if (std::find(roles.begin(), roles.end(), caller.certificate->role) == roles.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("a certificate with role ",
                     std::string(pki::RoleName(caller.certificate->role)), " may not call this"));
  }
  return absl::OkStatus();
}

absl::Status CheckBearer(const AccessRule& rule, const Authenticator& authenticator,
                         Caller* caller) {
  if (caller->bearer_token.empty()) {
    return absl::UnauthenticatedError("a bearer token is required");
  }
  if (!authenticator) return absl::UnauthenticatedError("bearer tokens are not accepted here");
  absl::StatusOr<Principal> principal = authenticator(caller->bearer_token);
  if (!principal.ok()) return principal.status();
  const std::vector<std::string>& scopes = principal->scopes;
  bool scoped = std::any_of(scopes.begin(), scopes.end(), [&](const std::string& scope) {
    return absl::StartsWith(scope, rule.scope_prefix);
  });
  if (!scoped) {
    return absl::PermissionDeniedError(
        absl::StrCat("the token has no scope starting with ", rule.scope_prefix));
  }
  caller->principal = *std::move(principal);
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckAccess(const AccessRule& rule, const Authenticator& authenticator,
                         Caller* caller) {
  switch (rule.kind) {
    case AccessRule::Kind::kAnonymous:
      return absl::OkStatus();
    case AccessRule::Kind::kClientCertificate:
      return CheckCertificate(rule, *caller);
    case AccessRule::Kind::kBearerToken:
      return CheckBearer(rule, authenticator, caller);
    case AccessRule::Kind::kBearerTokenOrClientCertificate:
      if (caller->bearer_token.empty() && caller->certificate.has_value()) {
        return CheckCertificate(rule, *caller);
      }
      return CheckBearer(rule, authenticator, caller);
    case AccessRule::Kind::kUnset:
      break;
  }
  return absl::PermissionDeniedError("this route admits no one");
}

std::string WwwAuthenticate(const AccessRule& rule, const Caller& caller,
                            const absl::Status& refusal) {
  if (rule.kind != AccessRule::Kind::kBearerToken &&
      rule.kind != AccessRule::Kind::kBearerTokenOrClientCertificate) {
    return "";
  }
  if (refusal.code() == absl::StatusCode::kUnauthenticated) {
    // Without a token the client is only told which scheme to use (RFC 6750 section 3.1).
    if (caller.bearer_token.empty()) return kRealm;
    return absl::StrCat(kRealm, ", error=\"invalid_token\"");
  }
  if (refusal.code() == absl::StatusCode::kPermissionDenied) {
    return absl::StrCat(kRealm, ", error=\"insufficient_scope\"");
  }
  return "";
}

std::string BearerTokenFrom(absl::string_view authorization) {
  authorization = absl::StripLeadingAsciiWhitespace(authorization);
  if (authorization.size() < 7 || !absl::StartsWithIgnoreCase(authorization, "bearer ")) {
    return "";
  }
  return std::string(absl::StripAsciiWhitespace(authorization.substr(7)));
}

}  // namespace hie::http
