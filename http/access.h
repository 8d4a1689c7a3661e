// Deciding whether a caller may call a route: the route's AccessRule against the Caller
// the server read from the connection and the Authorization header. The server calls
// this once per request, before the body is read and before any handler runs.
#ifndef HIE_HTTP_ACCESS_H_
#define HIE_HTTP_ACCESS_H_

#include <functional>
#include <optional>
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

// The cookie that carries a web-app session's id, and the page a request without a live
// session is sent to (GET only).
inline constexpr char kSessionCookie[] = "hie_session";
inline constexpr char kLoginPath[] = "/app/login";
// The header, or the field of an application/x-www-form-urlencoded body, that carries a
// session's CSRF token on a state-changing request.
inline constexpr char kCsrfHeader[] = "x-csrf-token";
inline constexpr char kCsrfField[] = "_csrf";

// Maps a session cookie's value to the live session it names (the authenticator decides
// expiry and renewal). Errors: Unauthenticated for an unknown, ended or expired session
// (401, or a redirect to kLoginPath for a GET); any other code is answered as its
// status. Thread-safe. REQUIRES: does not block: it runs on an I/O thread.
using SessionAuthenticator =
    std::function<absl::StatusOr<SessionPrincipal>(absl::string_view session_id)>;

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
// The same, with session rules too: for AccessRule::Session it runs
// `session_authenticator` (null: every session is refused) on caller->session_cookie and,
// when admitted, sets caller->session. Errors, beyond the above: Unauthenticated (401)
// for no cookie or a session the authenticator refused; PermissionDenied (403) for a
// role the rule does not name.
absl::Status CheckAccess(const AccessRule& rule, const Authenticator& authenticator,
                         const SessionAuthenticator& session_authenticator, Caller* caller);

// Whether a request refused by CheckAccess with `refusal` is answered 303 to kLoginPath
// rather than with the refusal: a GET or HEAD of a session route without a live session.
bool RedirectsToLogin(const AccessRule& rule, absl::string_view method,
                      const absl::Status& refusal);

// POST, PUT, PATCH and DELETE: the methods that must carry a CSRF token.
bool IsStateChanging(absl::string_view method);

// For a session route and a state-changing method, whether `request` (its body read,
// its caller admitted) carries the session's CSRF token: the X-CSRF-Token header, or else
// the `_csrf` field of an application/x-www-form-urlencoded body (compared in constant
// time). OK for any other route or method. Errors: PermissionDenied (403) when it is
// missing or does not match.
absl::Status CheckCsrf(const AccessRule& rule, const Request& request);

// The value of cookie `name` in a Cookie header value ("a=1; hie_session=x"), or "" when
// it is not there. The first one wins when a name repeats.
std::string CookieValue(absl::string_view cookie_header, absl::string_view name);

// The first value of field `name` of an application/x-www-form-urlencoded `body`
// (percent-decoded, '+' as space), or nullopt when it is absent or the body malformed.
std::optional<std::string> FormField(absl::string_view body, absl::string_view name);

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
