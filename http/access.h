// Deciding whether a caller may call a route: the route's AccessRule against the Caller
// the server read from the connection and the Authorization header. The server calls
// this once per request, before the body is read and before any handler runs.
#ifndef HIE_HTTP_ACCESS_H_
#define HIE_HTTP_ACCESS_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/pki/identity.h"
#include "http/request.h"
#include "http/router.h"

namespace hie::http {

// Maps a bearer token to the principal it names (the signature, algorithm, issuer,
// audience and expiry are the authenticator's to check). Errors: Unauthenticated for a
// token that is malformed, forged, expired or revoked (401); any other code is answered
// as its status (e.g. Unavailable, 503). Thread-safe.
// REQUIRES: does not block (no network calls): it runs on an I/O thread.
using Authenticator = std::function<absl::StatusOr<Principal>(absl::string_view token)>;

// Checks a client certificate's identity beyond the handshake (which verified the
// chain): revocation and validity period, e.g. TlsContext::CheckPeer. Errors:
// Unauthenticated with the reason. Thread-safe; REQUIRES: does not block.
using CertificateChecker = std::function<absl::Status(const pki::CertIdentity&)>;

// Whether `caller` may call a route guarded by `rule`. For a bearer-token rule it runs
// `authenticator` (null: every token is refused) on caller->bearer_token and, when
// admitted, sets caller->principal.
// Errors: Unauthenticated (401): a bearer-token rule and no token, or the authenticator
// refused it; PermissionDenied (403): no client certificate, a role the rule does not
// name, no scope with the rule's prefix, or no rule at all; other codes from the
// authenticator as they are.
absl::Status CheckAccess(const AccessRule& rule, const Authenticator& authenticator,
                         Caller* caller);

// The WWW-Authenticate value to send with `refusal` from CheckAccess, or "" when none is
// due (RFC 6750 section 3: 401 names the scheme, an invalid token or an insufficient
// scope say so).
std::string WwwAuthenticate(const AccessRule& rule, const Caller& caller,
                            const absl::Status& refusal);

// The token of an Authorization header value "Bearer <token>" (scheme case-insensitive,
// RFC 6750 section 2.1); "" for any other scheme or an empty token.
std::string BearerTokenFrom(absl::string_view authorization);

}  // namespace hie::http

#endif  // HIE_HTTP_ACCESS_H_
