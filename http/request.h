// What an HTTPS handler sees and how it answers: the plain values the server builds from
// one HTTP/1.1 request, the caller read once from the connection and the Authorization
// header, and a Responder that any thread may call later.
//
// No Boost types: handlers (node/rest, web pages, /metrics) are written and tested
// against these values alone.
#ifndef HIE_HTTP_REQUEST_H_
#define HIE_HTTP_REQUEST_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/pki/identity.h"

namespace hie::http {

// Header names are lower-case; a header sent more than once has its values joined by
// ", " (RFC 9110 section 5.3).
using HeaderMap = std::map<std::string, std::string, std::less<>>;

// What a verified bearer token says (see ServerOptions::authenticator).
struct Principal {
  std::string subject;  // the token's "sub"
  std::string org_id;   // the organisation the token was issued for
  std::vector<std::string> scopes;
  std::string user_id;
  std::string user_display_name;
  std::string purpose_of_use;  // v3 PurposeOfUse code, when the token carries one
  std::string reason;          // why, for an emergency purpose (never blank then)
  std::string client_id;       // the OAuth client the token was issued to
};

// What a live web-app session says (see ServerOptions::session_authenticator).
struct SessionPrincipal {
  std::string login;
  std::string display_name;
  std::string role;        // e.g. "clinician"
  std::string csrf_token;  // what the session's state-changing requests must echo
  std::string session_id;  // the cookie's value
};

// Who is calling, read once per request by the server; handlers and domain code take
// this and never read Authorization or address headers themselves.
struct Caller {
  // The client certificate's identity, when the client presented one that chains to the
  // exchange CA, names a valid hie:// identity and passed ServerOptions::check_certificate.
  std::optional<pki::CertIdentity> certificate;
  // The raw token of "Authorization: Bearer <token>"; empty when there is none.
  std::string bearer_token;
  // Set when the route's access rule asks for a bearer token and the authenticator
  // accepted it; never set on other routes.
  std::optional<Principal> principal;
  // The value of the cookie named kSessionCookie ("hie_session") in the Cookie header;
  // empty when there is none.
  std::string session_cookie;
  // Set when the route's access rule asks for a session and the session authenticator
  // accepted the cookie; never set on other routes.
  std::optional<SessionPrincipal> session;
  // The TCP peer ("host:port"). X-Forwarded-For and the like are never consulted.
  std::string remote_address;
};

struct QueryParam {
  std::string name;   // percent-decoded, '+' as space
  std::string value;  // percent-decoded, '+' as space
};

struct Request {
  std::string method;             // as sent, e.g. "GET"
  std::string path;               // the target's path, still percent-encoded, e.g. "/Patient/a%2Fb"
  std::vector<QueryParam> query;  // in request order; names may repeat
  std::map<std::string, std::string> params;  // the route's {name} segments, decoded
  HeaderMap headers;  // without Authorization: that is read into `caller` only
  std::string body;
  Caller caller;
  // The matched route's pattern and audit kind (see router.h).
  std::string route_pattern;
  std::string audit_kind;

  // The value of header `name` (lower-case), or nullptr.
  const std::string* Header(absl::string_view name) const;
  // The first value of query parameter `name`, or nullptr.
  const std::string* Query(absl::string_view name) const;
};

struct Response {
  int status = 200;
  // In order; a name may repeat (Set-Cookie). The server adds Content-Length,
  // Connection and the security headers (security_headers.h) itself.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Set by ErrorResponse to what the error tells the client (never sent as a header):
  // lets the server write the error as a page for a browser instead
  // (ServerOptions::error_page).
  std::string diagnostics;

  // Replaces every header named `name` (case-insensitively) with one.
  Response& SetHeader(absl::string_view name, absl::string_view value);
  // The first value of header `name` (case-insensitively), or nullptr.
  const std::string* FindHeader(absl::string_view name) const;
};

// Answers one request, once. Copyable: copies share the one answer. Thread-safe: may be
// called from any thread, after the handler has returned. The first call wins; later
// ones return false and do nothing. If every copy is destroyed without an answer, the
// request is answered 500 so that a connection never waits forever on a lost handler.
class Responder {
 public:
  // The server makes responders; tests make one around a function that receives the
  // answer (called at most once, on the thread that answers). `log_context` (e.g.
  // "GET /Patient/{id}") prefixes the log line of a 5xx.
  explicit Responder(std::function<void(Response)> send, std::string log_context = "");

  // Sends `response`. Returns false if the request was already answered.
  bool Respond(Response response) const;

  // Sends the error response for `status` (status.h). A 5xx is logged with its message,
  // which never reaches the client. REQUIRES: !status.ok().
  bool RespondError(const absl::Status& status) const;

  // Whether an answer was sent.
  bool answered() const;

 private:
  class State;
  std::shared_ptr<State> state_;
};

// Runs on an I/O thread, inside the connection's strand: it must not block. Anything
// slow (storage, signing, calls to other parties) goes to another executor, which
// answers through `responder`.
using Handler = std::function<void(Request request, Responder responder)>;

}  // namespace hie::http

#endif  // HIE_HTTP_REQUEST_H_
