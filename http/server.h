// The one HTTPS server every hie daemon may run (the FHIR REST API, the web apps,
// /metrics): HTTP/1.1 with keep-alive over TLS 1.2+, a Router deciding who may call
// what, and limits on everything a client controls.
//
// For each request, in order:
//   1. the headers arrive within the request deadline (else 408, or the connection is
//      closed) and fit in max_header_bytes (else 431);
//   2. the route is found (else 404, or 405 with Allow);
//   3. the Caller is read once: the TLS client certificate (requested, optional; one
//      that does not chain to the exchange CA fails the handshake) and the bearer token;
//      the route's access rule admits it (else 401 with WWW-Authenticate, or 403; a GET
//      of a session route without a live session: 303 to the sign-in page);
//   4. the body fits the route's limit (else 413) and arrives within the same deadline;
//      a state-changing request to a session route carries the session's CSRF token
//      (else 403; access.h CheckCsrf);
//   5. the handler runs on an I/O thread and answers through its Responder, from any
//      thread, whenever it is ready. Every response gets the security headers.
// An error the server answers before reading a body closes the connection after it,
// so an unread body is never taken for the next request; what the client still sends is
// read and discarded for a moment first, so that the close does not destroy the answer.
//
// A connection's work runs on its own strand: one request at a time per connection,
// many connections in parallel on `io_threads` threads.
#ifndef HIE_HTTP_SERVER_H_
#define HIE_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "http/access.h"
#include "http/router.h"

namespace hie::http {

struct ServerOptions {
  // "host:port" ("[v6]:port"); the host is an IP address or "localhost". Port 0 picks a
  // free port (see Server::port()).
  std::string listen_address = "127.0.0.1:0";

  // TLS: this server's certificate chain and key (PEM), and the exchange CA (PEM) that
  // client certificates must chain to.
  std::string cert_file;
  std::string key_file;
  std::string ca_file;

  // Limits: each bounds what one client can make the server hold.
  size_t max_header_bytes = 16 * 1024;  // request line and headers
  size_t max_body_bytes = 1024 * 1024;  // unless the route says otherwise
  // One deadline for reading a whole request (headers and body), set before its first
  // byte is read: a client cannot extend it by sending slowly.
  absl::Duration request_timeout = absl::Seconds(10);
  // How long a keep-alive connection may wait for its next request.
  absl::Duration idle_timeout = absl::Seconds(30);
  absl::Duration handshake_timeout = absl::Seconds(10);
  // How long writing one response may take (a large Bundle to a slow client).
  absl::Duration write_timeout = absl::Seconds(30);
  // After the last response on a connection, how long to read and discard what the
  // client still sends (a refused body) before closing, so that closing does not reset
  // the connection under the response.
  absl::Duration linger_timeout = absl::Seconds(2);
  // Open connections at most; more are closed as soon as they are accepted.
  int max_connections = 512;
  // Descriptors kept free below the process limit (common/limits/descriptors.h).
  int reserved_descriptors = 64;
  int io_threads = 2;

  // Verifies bearer tokens; null: routes that need one answer 401.
  Authenticator authenticator;
  // Maps the session cookie (kSessionCookie) to a web-app session, for routes with
  // AccessRule::Session; null: such routes answer 401 (a GET: 303 to kLoginPath).
  SessionAuthenticator session_authenticator;
  // Checks a client certificate for revocation on every request (so a revocation
  // reaches connections already open); null: the handshake's chain check only.
  CertificateChecker check_certificate;
  // Error answers (ErrorResponse's, the server's own and the handlers') to requests
  // whose path starts with `error_page_prefix` are written by `error_page` from the
  // status and the error's text (Response::diagnostics), keeping their other headers:
  // the web app's visitors get a page, FHIR clients an OperationOutcome. Empty prefix
  // or null function: never.
  std::string error_page_prefix;
  std::function<Response(int status, absl::string_view message)> error_page;
};

// Counters for /metrics. A snapshot: each field is read on its own.
struct Stats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over max_connections or the descriptor budget
  uint64_t connections_open = 0;
  uint64_t handshakes_failed = 0;  // including timeouts and refused certificates
  uint64_t requests = 0;           // requests answered, by whoever
  uint64_t responses_2xx = 0;
  uint64_t responses_3xx = 0;
  uint64_t responses_4xx = 0;
  uint64_t responses_5xx = 0;
  uint64_t requests_timed_out = 0;  // the request deadline passed while reading
};

// Thread-safe.
class Server {
 public:
  // Shuts down with no grace period if Shutdown was not called.
  virtual ~Server() = default;

  // Loads the TLS material, binds and starts serving `router`. Errors: InvalidArgument
  // for a bad option; FailedPrecondition naming the file for TLS material that does not
  // load or a key that does not match; Unavailable if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options,
                                                       std::shared_ptr<const Router> router);

  // The bound port.
  virtual int port() const = 0;

  // Stops accepting, closes idle connections, lets requests in flight finish for up to
  // `grace`, then closes the rest and stops the I/O threads. Returns when all is closed.
  // Responders answering after that do nothing. Calling it again does nothing.
  // REQUIRES: not called from a handler or an I/O thread.
  virtual void Shutdown(absl::Duration grace) = 0;

  virtual Stats stats() const = 0;
};

}  // namespace hie::http

#endif  // HIE_HTTP_SERVER_H_
