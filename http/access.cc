#include "http/access.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "http/target.h"

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

absl::Status CheckSession(const AccessRule& rule, const SessionAuthenticator& authenticator,
                          Caller* caller) {
  if (caller->session_cookie.empty()) return absl::UnauthenticatedError("sign in first");
  if (!authenticator) return absl::UnauthenticatedError("sessions are not accepted here");
  absl::StatusOr<SessionPrincipal> session = authenticator(caller->session_cookie);
  if (!session.ok()) return session.status();
  const std::vector<std::string>& roles = rule.session_roles;
  if (!roles.empty() && std::find(roles.begin(), roles.end(), session->role) == roles.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("a user with role ", session->role, " may not open this page"));
  }
  caller->session = *std::move(session);
  return absl::OkStatus();
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

absl::Status CheckAccess(const AccessRule& rule, const Authenticator& authenticator,
                         Caller* caller) {
  return CheckAccess(rule, authenticator, nullptr, caller);
}

absl::Status CheckAccess(const AccessRule& rule, const Authenticator& authenticator,
                         const SessionAuthenticator& session_authenticator, Caller* caller) {
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
    case AccessRule::Kind::kSession:
      return CheckSession(rule, session_authenticator, caller);
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

bool RedirectsToLogin(const AccessRule& rule, absl::string_view method,
                      const absl::Status& refusal) {
  return rule.kind == AccessRule::Kind::kSession && (method == "GET" || method == "HEAD") &&
         refusal.code() == absl::StatusCode::kUnauthenticated;
}

bool IsStateChanging(absl::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

absl::Status CheckCsrf(const AccessRule& rule, const Request& request) {
  if (rule.kind != AccessRule::Kind::kSession || !IsStateChanging(request.method)) {
    return absl::OkStatus();
  }
  if (!request.caller.session.has_value()) {
    return absl::PermissionDeniedError("no session to check the CSRF token against");
  }
  std::optional<std::string> sent;
  if (const std::string* header = request.Header(kCsrfHeader); header != nullptr) {
    sent = *header;
  } else if (const std::string* type = request.Header("content-type");
             type != nullptr &&
             absl::EqualsIgnoreCase(
                 absl::StripAsciiWhitespace(absl::string_view(*type).substr(0, type->find(';'))),
                 "application/x-www-form-urlencoded")) {
    sent = FormField(request.body, kCsrfField);
  }
  const std::string& expected = request.caller.session->csrf_token;
  if (!sent.has_value() || expected.empty() || !ConstantTimeEquals(*sent, expected)) {
    return absl::PermissionDeniedError("the CSRF token is missing or wrong: reload the page");
  }
  return absl::OkStatus();
}

std::string CookieValue(absl::string_view cookie_header, absl::string_view name) {
  for (absl::string_view pair : absl::StrSplit(cookie_header, ';')) {
    pair = absl::StripAsciiWhitespace(pair);
    size_t eq = pair.find('=');
    if (eq == absl::string_view::npos) continue;
    if (absl::StripAsciiWhitespace(pair.substr(0, eq)) != name) continue;
    absl::string_view value = absl::StripAsciiWhitespace(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return std::string(value);
  }
  return "";
}

std::optional<std::string> FormField(absl::string_view body, absl::string_view name) {
  absl::StatusOr<Target> form = ParseTarget(absl::StrCat("/?", body));
  if (!form.ok()) return std::nullopt;
  for (const QueryParam& p : form->query) {
    if (p.name == name) return p.value;
  }
  return std::nullopt;
}

std::string BearerTokenFrom(absl::string_view authorization) {
  authorization = absl::StripLeadingAsciiWhitespace(authorization);
  if (authorization.size() < 7 || !absl::StartsWithIgnoreCase(authorization, "bearer ")) {
    return "";
  }
  return std::string(absl::StripAsciiWhitespace(authorization.substr(7)));
}

}  // namespace hie::http
