// The only file that includes Boost.Beast and Asio. Shape after Beast's
// example/advanced/server-flex: one Connection object per socket, its work on a strand,
// alive as long as an operation, a timer or the server's registry holds it.
#include "http/server.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <future>
#include <limits>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/limits/descriptors.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"
#include "http/security_headers.h"
#include "http/status.h"
#include "http/target.h"

namespace hie::http {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Stream = beast::ssl_stream<tcp::socket>;

// Bytes asked of the socket while waiting for a request's first bytes.
constexpr size_t kIdleReadBytes = 4096;
// Room in the read buffer beyond the header limit, for one read of body bytes.
constexpr size_t kReadBufferSlack = 64 * 1024;
// How long Shutdown waits for forcibly closed connections to wind down.
constexpr absl::Duration kForceCloseWait = absl::Seconds(2);

// Beast's string_view is Boost's, which does not convert to absl::string_view.
absl::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

struct Counters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> handshakes_failed{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> responses_by_class[6] = {};  // [status / 100]
  std::atomic<uint64_t> requests_timed_out{0};
};

// RFC 9110 token characters, for header names a handler sets.
bool IsToken(absl::string_view s) {
  static constexpr absl::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(c) || kExtra.find(c) != absl::string_view::npos;
  });
}

// A header value must not end the header or the line (response splitting).
bool IsFieldValue(absl::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool IsWellFormed(const Response& response) {
  if (response.status < 200 || response.status > 599) return false;
  return std::all_of(response.headers.begin(), response.headers.end(), [](const auto& header) {
    return IsToken(header.first) && IsFieldValue(header.second);
  });
}

class Connection;

// What a Responder holds to reach its connection: answers arrive from any thread, maybe
// after the server stopped, and must then go nowhere.
class Gate {
 public:
  void Deliver(const std::weak_ptr<Connection>& connection, Response response);
  void Close() {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }

 private:
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
};

// What connections need of the server. Outlives every connection's activity: the server
// stops its I/O threads before it goes.
class ServerCore {
 public:
  virtual ~ServerCore() = default;
  virtual const ServerOptions& options() const = 0;
  virtual const Router& router() const = 0;
  virtual Counters& counters() = 0;
  virtual const std::shared_ptr<Gate>& gate() const = 0;
  virtual bool draining() const = 0;
  virtual void Unregister(uint64_t id) = 0;
};

// One TLS connection, from handshake to close. Every method but the public ones and
// the constructor runs on the connection's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerCore* server, uint64_t id, tcp::socket socket, ssl::context& tls,
             std::string peer)
      : server_(server),
        options_(server->options()),
        id_(id),
        stream_(std::move(socket), tls),
        timer_(stream_.get_executor()),
        buffer_(options_.max_header_bytes + kReadBufferSlack),
        peer_(std::move(peer)) {}

  // Begins the handshake.
  void Start() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->Handshake(); });
  }

  // For shutdown: an idle connection closes now; one with a request in flight closes
  // after its response.
  void Drain() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->draining_ = true;
      if (self->phase_ == Phase::kHandshake || self->phase_ == Phase::kIdle) self->Finish();
    });
  }

  // For shutdown, once the grace period is over.
  void ForceClose() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->Finish(); });
  }

  // A handler's answer (through Gate, from any thread).
  void Answer(Response response) {
    net::post(stream_.get_executor(),
              [self = shared_from_this(), r = std::move(response)]() mutable {
                if (self->phase_ == Phase::kHandling) self->Write(std::move(r), /*close=*/false);
              });
  }

 private:
  enum class Phase { kHandshake, kIdle, kReading, kHandling, kWriting, kClosing, kClosed };

  // ---- timer: one per connection; what expiry means depends on the phase.

  void Arm(absl::Duration duration) {
    ++timer_generation_;
    timer_.expires_after(ToChrono(duration));
    timer_.async_wait(
        [self = shared_from_this(), generation = timer_generation_](beast::error_code ec) {
          if (!ec && generation == self->timer_generation_) self->OnTimer();
        });
  }

  void Disarm() {
    ++timer_generation_;
    timer_.cancel();
  }

  void OnTimer() {
    if (phase_ == Phase::kReading) {
      // Cancel the read; its handler answers 408 and closes.
      timed_out_ = true;
      server_->counters().requests_timed_out++;
      beast::error_code ignored;
      stream_.next_layer().cancel(ignored);
      return;
    }
    Finish();
  }

  // ---- handshake and the wait for a request.

  void Handshake() {
    phase_ = Phase::kHandshake;
    Arm(options_.handshake_timeout);
    stream_.async_handshake(
        ssl::stream_base::server,
        [self = shared_from_this()](beast::error_code ec) { self->OnHandshake(ec); });
  }

  void OnHandshake(beast::error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      server_->counters().handshakes_failed++;
      Finish();
      return;
    }
    certificate_ = PeerCertificate();
    WaitForRequest();
  }

  // The client certificate's identity, read once per connection. The handshake already
  // verified its chain; one without a valid hie:// identity counts as none.
  std::optional<pki::CertIdentity> PeerCertificate() {
    X509* cert = SSL_get0_peer_certificate(stream_.native_handle());
    if (cert == nullptr) return std::nullopt;
    BIO* bio = BIO_new(BIO_s_mem());
    std::string pem;
    if (bio != nullptr && PEM_write_bio_X509(bio, cert) == 1) {
      char* data = nullptr;
      long size = BIO_get_mem_data(bio, &data);
      pem.assign(data, static_cast<size_t>(size));
    }
    BIO_free(bio);
    absl::StatusOr<pki::CertIdentity> identity = pki::ReadCertIdentity(pem);
    if (!identity.ok()) return std::nullopt;
    return *std::move(identity);
  }

  void WaitForRequest() {
    if (draining_) {
      Linger();
      return;
    }
    if (buffer_.size() > 0) {  // the client sent the next request early
      ReadHeader();
      return;
    }
    phase_ = Phase::kIdle;
    Arm(options_.idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(kIdleReadBytes),
        [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnFirstBytes(ec, n); });
  }

  void OnFirstBytes(beast::error_code ec, size_t n) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      Finish();
      return;
    }
    buffer_.commit(n);
    if (n == 0) {
      WaitForRequest();
      return;
    }
    ReadHeader();
  }

  // ---- reading a request: headers, then the checks, then the body.

  void ReadHeader() {
    phase_ = Phase::kReading;
    timed_out_ = false;
    path_.clear();
    Arm(options_.request_timeout);  // the one deadline for the whole request
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options_.max_header_bytes));
    // The route's limit is set once it is known. (Not boost::none: Beast 1.74 compares a
    // Content-Length against an empty optional as "over the limit".)
    parser_->body_limit(std::numeric_limits<uint64_t>::max());
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec || timed_out_) {  // the deadline may pass just as the read completes
      OnReadError(ec);
      return;
    }
    const auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    if (message.version() == 11 && message.find(bhttp::field::host) == message.end()) {
      Refuse(ErrorResponse(400, "the Host header is required"));
      return;
    }
    absl::StatusOr<Target> target = ParseTarget(Sv(message.target()));
    path_ = target.ok() ? target->path : "";
    if (!target.ok()) {
      Refuse(ErrorResponse(target.status()));
      return;
    }
    RouteMatch match = server_->router().Find(Sv(message.method_string()), target->path);
    if (match.route == nullptr) {
      RefuseUnrouted(match);
      return;
    }
    route_ = match.route;
    request_ = MakeRequest(*std::move(target), std::move(match.params));
    if (!Admit()) return;
    if (parser_->is_done()) {
      Invoke();
      return;
    }
    parser_->body_limit(MaxBodyBytes());
    if (absl::EqualsIgnoreCase(Sv(message[bhttp::field::expect]), "100-continue")) {
      SendContinue();
      return;
    }
    ReadBody();
  }

  void RefuseUnrouted(const RouteMatch& match) {
    if (match.allowed_methods.empty()) {
      Refuse(ErrorResponse(404, "no such path"));
      return;
    }
    Response response = ErrorResponse(
        405, absl::StrCat("allowed methods: ", absl::StrJoin(match.allowed_methods, ", ")));
    response.SetHeader("Allow", absl::StrJoin(match.allowed_methods, ", "));
    Refuse(std::move(response));
  }

  Request MakeRequest(Target target, std::map<std::string, std::string> params) {
    const auto& message = parser_->get();
    Request request;
    request.method = std::string(Sv(message.method_string()));
    request.path = std::move(target.path);
    request.query = std::move(target.query);
    request.params = std::move(params);
    request.route_pattern = route_->pattern;
    request.audit_kind = route_->audit_kind;
    for (const auto& field : message) {
      std::string name = absl::AsciiStrToLower(Sv(field.name_string()));
      absl::string_view value = Sv(field.value());
      if (name == "authorization") {
        // Read here into the Caller, and nowhere else.
        request.caller.bearer_token = BearerTokenFrom(value);
        continue;
      }
      if (name == "cookie" && request.caller.session_cookie.empty()) {
        request.caller.session_cookie = CookieValue(value, kSessionCookie);
      }
      auto [it, inserted] = request.headers.emplace(name, value);
      if (!inserted) absl::StrAppend(&it->second, ", ", value);
    }
    request.caller.remote_address = peer_;
    if (certificate_ && CertificateCurrent(*certificate_)) {
      request.caller.certificate = certificate_;
    }
    return request;
  }

  // Revocation reaches connections already open: checked on every request.
  bool CertificateCurrent(const pki::CertIdentity& certificate) const {
    return !options_.check_certificate || options_.check_certificate(certificate).ok();
  }

  size_t MaxBodyBytes() const {
    if (route_ == nullptr) return options_.max_body_bytes;
    return route_->max_body_bytes.value_or(options_.max_body_bytes);
  }

  // The route's access rule, declared body size and media type. False if refused.
  bool Admit() {
    absl::Status access = CheckAccess(route_->access, options_.authenticator,
                                      options_.session_authenticator, &request_->caller);
    if (!access.ok() && RedirectsToLogin(route_->access, request_->method, access)) {
      Response response;
      response.status = 303;
      response.SetHeader("Location", kLoginPath);
      response.SetHeader("Cache-Control", "no-store");
      Refuse(std::move(response));
      return false;
    }
    if (!access.ok()) {
      Response response = ErrorResponse(access);
      std::string challenge = WwwAuthenticate(route_->access, request_->caller, access);
      if (!challenge.empty()) response.SetHeader("WWW-Authenticate", challenge);
      Refuse(std::move(response));
      return false;
    }
    boost::optional<uint64_t> length = parser_->content_length();
    if (length && *length > MaxBodyBytes()) {
      Refuse(
          ErrorResponse(413, absl::StrCat("the body may be at most ", MaxBodyBytes(), " bytes")));
      return false;
    }
    if (!parser_->is_done() && !route_->content_types.empty() && !AcceptedMediaType()) {
      Refuse(ErrorResponse(415, absl::StrCat("the body must be one of: ",
                                             absl::StrJoin(route_->content_types, ", "))));
      return false;
    }
    return true;
  }

  bool AcceptedMediaType() const {
    const std::string* type = request_->Header("content-type");
    if (type == nullptr) return false;
    std::string media = absl::AsciiStrToLower(
        absl::StripAsciiWhitespace(absl::string_view(*type).substr(0, type->find(';'))));
    const auto& accepted = route_->content_types;
    return std::find(accepted.begin(), accepted.end(), media) != accepted.end();
  }

  void SendContinue() {
    continue_.emplace(bhttp::status::continue_, parser_->get().version());
    bhttp::async_write(stream_, *continue_,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (self->phase_ == Phase::kClosed) return;
                         if (ec || self->timed_out_) {
                           self->OnReadError(ec);
                           return;
                         }
                         self->ReadBody();
                       });
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (self->phase_ == Phase::kClosed) return;
                        if (ec || self->timed_out_) {
                          self->OnReadError(ec);
                          return;
                        }
                        self->request_->body = std::move(self->parser_->get().body());
                        self->Invoke();
                      });
  }

  void OnReadError(beast::error_code ec) {
    if (timed_out_) {
      Refuse(ErrorResponse(408, "the request did not arrive in time"));
    } else if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      Refuse(ErrorResponse(431, absl::StrCat("the request line and headers may be at most ",
                                             options_.max_header_bytes, " bytes")));
    } else if (ec == bhttp::error::body_limit) {
      Refuse(
          ErrorResponse(413, absl::StrCat("the body may be at most ", MaxBodyBytes(), " bytes")));
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      Refuse(ErrorResponse(400, "malformed HTTP request"));
    } else {
      Finish();  // the client went away
    }
  }

  // ---- handling and answering.

  void Invoke() {
    // The body is read: a state-changing request of a session must carry its CSRF token.
    if (absl::Status csrf = CheckCsrf(route_->access, *request_); !csrf.ok()) {
      Refuse(ErrorResponse(csrf));
      return;
    }
    phase_ = Phase::kHandling;
    Disarm();
    std::weak_ptr<Connection> weak = weak_from_this();
    Responder responder([gate = server_->gate(),
                         weak](Response response) { gate->Deliver(weak, std::move(response)); },
                        absl::StrCat(request_->method, " ", route_->pattern));
    Request request = *std::move(request_);
    request_.reset();
    try {
      route_->handler(std::move(request), std::move(responder));
    } catch (const std::exception& e) {
      // Errors are values; a handler that throws still gets its 500 from the dropped
      // responder.
      LogError(route_->method, " ", route_->pattern, ": the handler threw: ", e.what());
    }
  }

  // An answer the server gives itself, before or instead of the handler. The connection
  // is kept only if nothing of the request remains unread.
  void Refuse(Response response) {
    bool unread = !parser_ || !parser_->is_done();
    Write(std::move(response), /*close=*/unread);
  }

  void Write(Response response, bool close) {
    if (!IsWellFormed(response)) {
      LogError(RouteForLog(), ": the handler's response is malformed (status ", response.status,
               " or a header); answered 500");
      response = ErrorResponse(absl::InternalError("malformed response"));
    }
    if (response.status >= 400 && !response.diagnostics.empty() && options_.error_page &&
        !options_.error_page_prefix.empty() &&
        absl::StartsWith(path_, options_.error_page_prefix)) {
      Response page = options_.error_page(response.status, response.diagnostics);
      for (auto& [name, value] : response.headers) {
        if (page.FindHeader(name) == nullptr) page.headers.emplace_back(name, value);
      }
      // A page the renderer got wrong is not sent: the error as it was is.
      if (IsWellFormed(page)) response = std::move(page);
    }
    ApplySecurityHeaders(&response);
    // Framing is the server's: a handler's Content-Length or Transfer-Encoding would
    // contradict the body actually sent.
    std::erase_if(response.headers, [](const auto& header) {
      return absl::EqualsIgnoreCase(header.first, "content-length") ||
             absl::EqualsIgnoreCase(header.first, "transfer-encoding") ||
             absl::EqualsIgnoreCase(header.first, "connection");
    });
    bool keep = !close && keep_alive_ && !draining_ && !server_->draining();
    CountResponse(response.status);
    out_.emplace(static_cast<bhttp::status>(response.status), 11);
    for (auto& [name, value] : response.headers) out_->insert(name, value);
    out_->body() = std::move(response.body);
    out_->keep_alive(keep);
    out_->prepare_payload();
    phase_ = Phase::kWriting;
    Arm(options_.write_timeout);
    bhttp::async_write(stream_, *out_,
                       [self = shared_from_this(), keep](beast::error_code ec, size_t) {
                         self->OnWritten(ec, keep);
                       });
  }

  std::string RouteForLog() const {
    return route_ == nullptr ? std::string("request")
                             : absl::StrCat(route_->method, " ", route_->pattern);
  }

  void CountResponse(int status) {
    Counters& counters = server_->counters();
    counters.requests++;
    counters.responses_by_class[status / 100]++;
  }

  void OnWritten(beast::error_code ec, bool keep) {
    if (phase_ == Phase::kClosed) return;
    out_.reset();
    if (ec) {
      Finish();
      return;
    }
    if (!keep) {
      Linger();
      return;
    }
    parser_.reset();
    route_ = nullptr;
    WaitForRequest();
  }

  // ---- closing.

  // After the last response. Closing a socket with unread input makes the kernel reset
  // the connection, which can destroy the response before the client reads it (a client
  // may still be sending the body of a refused request). So, as Apache's lingering
  // close: half-close, then read and discard raw bytes until the client closes too, for
  // at most linger_timeout. The response's Content-Length tells the client it is whole.
  void Linger() {
    phase_ = Phase::kClosing;
    beast::error_code ignored;
    stream_.next_layer().shutdown(tcp::socket::shutdown_send, ignored);
    Arm(options_.linger_timeout);
    buffer_.consume(buffer_.size());
    Discard();
  }

  void Discard() {
    stream_.next_layer().async_read_some(buffer_.prepare(kIdleReadBytes),
                                         [self = shared_from_this()](beast::error_code ec, size_t) {
                                           if (self->phase_ == Phase::kClosed) return;
                                           if (ec) {
                                             self->Finish();
                                             return;
                                           }
                                           self->Discard();
                                         });
  }

  void Finish() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    Disarm();
    beast::error_code ignored;
    stream_.next_layer().close(ignored);
    server_->Unregister(id_);
  }

  ServerCore* const server_;
  const ServerOptions& options_;
  const uint64_t id_;
  Stream stream_;
  net::steady_timer timer_;
  uint64_t timer_generation_ = 0;
  beast::flat_buffer buffer_;
  const std::string peer_;

  Phase phase_ = Phase::kHandshake;
  bool draining_ = false;
  bool timed_out_ = false;
  bool keep_alive_ = false;
  std::optional<pki::CertIdentity> certificate_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const Route* route_ = nullptr;
  std::optional<Request> request_;
  // The path of the request being answered ("" until its target parsed).
  std::string path_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  std::optional<bhttp::response<bhttp::string_body>> out_;
};

void Gate::Deliver(const std::weak_ptr<Connection>& connection, Response response) {
  absl::MutexLock lock(&mu_);
  if (!open_) return;
  // Under the lock, so that the server cannot stop its I/O threads while this posts.
  if (std::shared_ptr<Connection> live = connection.lock()) live->Answer(std::move(response));
}

// ---- options.

struct ListenEndpoint {
  std::string host;
  int port = 0;
};

absl::StatusOr<ListenEndpoint> ParseListenAddress(absl::string_view address) {
  size_t colon = address.rfind(':');
  ListenEndpoint out;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &out.port) || out.port < 0 || out.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", address, "\" is not host:port"));
  }
  absl::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  out.host = host == "localhost" ? "127.0.0.1" : std::string(host);
  return out;
}

absl::Status CheckOptions(const ServerOptions& options) {
  if (options.cert_file.empty() || options.key_file.empty() || options.ca_file.empty()) {
    return absl::InvalidArgumentError("cert_file, key_file and ca_file are required");
  }
  if (options.max_header_bytes < 1024 || options.max_header_bytes > (1u << 20)) {
    return absl::InvalidArgumentError("max_header_bytes must be in 1 KiB..1 MiB");
  }
  if (options.max_connections < 1 || options.io_threads < 1 || options.reserved_descriptors < 1) {
    return absl::InvalidArgumentError(
        "max_connections, io_threads and reserved_descriptors must be at least 1");
  }
  for (absl::Duration d : {options.request_timeout, options.idle_timeout, options.handshake_timeout,
                           options.write_timeout, options.linger_timeout}) {
    if (d <= absl::ZeroDuration()) return absl::InvalidArgumentError("timeouts must be positive");
  }
  return absl::OkStatus();
}

absl::Status TlsFileError(absl::string_view what, const std::string& file,
                          const beast::error_code& ec) {
  return absl::FailedPreconditionError(
      absl::StrCat("cannot load the ", what, " from ", file, ": ", ec.message()));
}

// TLS 1.2+ with forward-secret AEAD suites; a client certificate is asked for, not
// required, and one that does not chain to the exchange CA fails the handshake.
absl::Status ConfigureTls(const ServerOptions& options, ssl::context& tls) {
  SSL_CTX* native = tls.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                  SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20");
  beast::error_code ec;
  tls.use_certificate_chain_file(options.cert_file, ec);
  if (ec) return TlsFileError("certificate chain", options.cert_file, ec);
  tls.use_private_key_file(options.key_file, ssl::context::pem, ec);
  if (ec) return TlsFileError("private key", options.key_file, ec);
  if (SSL_CTX_check_private_key(native) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the key in ", options.key_file, " does not match the certificate in ", options.cert_file));
  }
  tls.load_verify_file(options.ca_file, ec);
  if (ec) return TlsFileError("CA certificate", options.ca_file, ec);
  // Tells clients which CA's certificate to send.
  SSL_CTX_set_client_CA_list(native, SSL_load_client_CA_file(options.ca_file.c_str()));
  tls.set_verify_mode(ssl::verify_peer);
  // Sessions resume only within this server, so a resumed session keeps its verified
  // client certificate.
  static constexpr unsigned char kSessionContext[] = "hie-http";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof(kSessionContext) - 1);
  return absl::OkStatus();
}

class ServerImpl final : public Server, public ServerCore {
 public:
  ServerImpl(ServerOptions options, std::shared_ptr<const Router> router)
      : options_(std::move(options)),
        router_(std::move(router)),
        guard_(options_.reserved_descriptors),
        work_(net::make_work_guard(ioc_)),
        acceptor_(net::make_strand(ioc_)),
        backoff_(acceptor_.get_executor()) {}

  ~ServerImpl() override { Shutdown(absl::ZeroDuration()); }

  absl::Status Listen() {
    HIE_RETURN_IF_ERROR(ConfigureTls(options_, tls_));
    absl::StatusOr<ListenEndpoint> endpoint = ParseListenAddress(options_.listen_address);
    if (!endpoint.ok()) return endpoint.status();
    beast::error_code ec;
    net::ip::address address = net::ip::make_address(endpoint->host, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("listen address host \"", endpoint->host, "\" is not an IP address"));
    }
    tcp::endpoint local(address, static_cast<unsigned short>(endpoint->port));
    acceptor_.open(local.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(local, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (!ec) acceptor_.non_blocking(true, ec);  // AcceptGuard accepts without blocking
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", options_.listen_address, ": ", ec.message()));
    }
    protocol_ = local.protocol();
    port_ = acceptor_.local_endpoint().port();
    return absl::OkStatus();
  }

  void Run() {
    net::post(acceptor_.get_executor(), [this] { WaitForConnection(); });
    for (int i = 0; i < options_.io_threads; ++i) {
      threads_.emplace_back([this] { RunIoThread(); });
    }
  }

  int port() const override { return port_; }

  void Shutdown(absl::Duration grace) override;

  Stats stats() const override {
    Stats s;
    s.connections_accepted = counters_.connections_accepted.load();
    s.connections_refused = counters_.connections_refused.load();
    s.connections_open = counters_.connections_open.load();
    s.handshakes_failed = counters_.handshakes_failed.load();
    s.requests = counters_.requests.load();
    s.responses_2xx = counters_.responses_by_class[2].load();
    s.responses_3xx = counters_.responses_by_class[3].load();
    s.responses_4xx = counters_.responses_by_class[4].load();
    s.responses_5xx = counters_.responses_by_class[5].load();
    s.requests_timed_out = counters_.requests_timed_out.load();
    return s;
  }

  // ServerCore
  const ServerOptions& options() const override { return options_; }
  const Router& router() const override { return *router_; }
  Counters& counters() override { return counters_; }
  const std::shared_ptr<Gate>& gate() const override { return gate_; }
  bool draining() const override { return draining_.load(); }
  void Unregister(uint64_t id) override {
    absl::MutexLock lock(&mu_);
    if (connections_.erase(id) > 0) counters_.connections_open--;
  }

 private:
  void RunIoThread() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        LogError("https: I/O thread: ", e.what());
      }
    }
  }

  // ---- accepting, on the acceptor's strand.

  void WaitForConnection() {
    acceptor_.async_wait(tcp::acceptor::wait_read, [this](beast::error_code ec) {
      if (ec || !acceptor_.is_open()) return;  // closed by Shutdown
      AcceptPending();
    });
  }

  void AcceptPending() {
    for (;;) {
      int fd = -1;
      std::string peer;
      switch (guard_.Accept(acceptor_.native_handle(), &fd, &peer)) {
        case AcceptGuard::Result::kAccepted:
          Admit(fd, std::move(peer));
          continue;
        case AcceptGuard::Result::kShed:
          counters_.connections_refused++;
          continue;
        case AcceptGuard::Result::kNone:
          WaitForConnection();
          return;
        case AcceptGuard::Result::kExhausted:
          // Out of descriptors: give the daemon a moment to release some.
          counters_.connections_refused++;
          backoff_.expires_after(std::chrono::milliseconds(50));
          backoff_.async_wait([this](beast::error_code ec) {
            if (!ec) WaitForConnection();
          });
          return;
      }
    }
  }

  void Admit(int fd, std::string peer) {
    absl::MutexLock lock(&mu_);
    if (draining_.load() || connections_.size() >= static_cast<size_t>(options_.max_connections)) {
      ::close(fd);
      counters_.connections_refused++;
      return;
    }
    tcp::socket socket(net::make_strand(ioc_));
    beast::error_code ec;
    socket.assign(protocol_, fd, ec);
    if (ec) {
      ::close(fd);
      return;
    }
    // Answers are written whole: without this, Nagle's algorithm holds a small response's
    // last segment for the client's delayed ACK (tens of milliseconds per request).
    socket.set_option(tcp::no_delay(true), ec);
    uint64_t id = next_id_++;
    auto connection =
        std::make_shared<Connection>(this, id, std::move(socket), tls_, std::move(peer));
    connections_.emplace(id, connection);
    counters_.connections_accepted++;
    counters_.connections_open++;
    connection->Start();
  }

  void CloseAcceptor() {
    std::promise<void> closed;
    net::post(acceptor_.get_executor(), [this, &closed] {
      beast::error_code ignored;
      acceptor_.close(ignored);
      backoff_.cancel();
      closed.set_value();
    });
    closed.get_future().wait();
  }

  std::vector<std::shared_ptr<Connection>> Live() {
    absl::MutexLock lock(&mu_);
    std::vector<std::shared_ptr<Connection>> live;
    for (const auto& [id, connection] : connections_) live.push_back(connection);
    return live;
  }

  // True if every connection closed within `limit`.
  bool AwaitNoConnections(absl::Duration limit) {
    absl::MutexLock lock(&mu_);
    auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return connections_.empty(); };
    return mu_.AwaitWithTimeout(absl::Condition(&none), limit);
  }

  const ServerOptions options_;
  const std::shared_ptr<const Router> router_;
  ssl::context tls_{ssl::context::tls_server};
  Counters counters_;
  const std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  AcceptGuard guard_;
  std::atomic<bool> draining_{false};
  tcp protocol_ = tcp::v4();
  int port_ = 0;

  absl::Mutex mu_;
  std::map<uint64_t, std::shared_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;

  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;

  // Declared after what connections use, so that it goes first: destroying the
  // io_context destroys the handlers still queued, and the connections they hold.
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  net::steady_timer backoff_;
  std::vector<std::thread> threads_;
};

void ServerImpl::Shutdown(absl::Duration grace) {
  absl::MutexLock shutdown_lock(&shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  draining_ = true;
  if (!threads_.empty()) {
    CloseAcceptor();
    for (const auto& connection : Live()) connection->Drain();
    if (!AwaitNoConnections(grace)) {
      for (const auto& connection : Live()) connection->ForceClose();
      AwaitNoConnections(kForceCloseWait);
    }
  }
  gate_->Close();
  work_.reset();
  ioc_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  absl::MutexLock lock(&mu_);
  counters_.connections_open -= connections_.size();
  connections_.clear();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options,
                                                      std::shared_ptr<const Router> router) {
  if (router == nullptr) return absl::InvalidArgumentError("a router is required");
  HIE_RETURN_IF_ERROR(CheckOptions(options));
  auto server = std::make_unique<ServerImpl>(std::move(options), std::move(router));
  HIE_RETURN_IF_ERROR(server->Listen());
  server->Run();
  return server;
}

}  // namespace hie::http
