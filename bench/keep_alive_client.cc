#include "bench/keep_alive_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace hie::bench {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// The largest answer read ($everything over many holders can be large).
constexpr uint64_t kMaxBodyBytes = uint64_t{1} << 30;

absl::Status ErrorStatus(const beast::error_code& ec, absl::string_view what) {
  if (ec == beast::error::timeout)
    return absl::DeadlineExceededError(absl::StrCat(what, ": timed out"));
  return absl::UnavailableError(absl::StrCat(what, ": ", ec.message()));
}

// One keep-alive connection: one request in flight at a time, its I/O on its own strand.
class Connection {
 public:
  using ReplyCallback = std::function<void(absl::StatusOr<HttpsReply>)>;

  Connection(net::io_context& io, ssl::context& tls, std::string host, absl::Duration timeout)
      : stream_(net::make_strand(io), tls),
        host_(std::move(host)),
        timeout_(absl::ToChronoNanoseconds(timeout)) {}

  void Open(const tcp::endpoint& endpoint, std::function<void(absl::Status)> done) {
    // The server's certificate must name the address connected to.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream_.native_handle()), host_.c_str());
    stream_.set_verify_mode(ssl::verify_peer);
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    beast::get_lowest_layer(stream_).async_connect(
        endpoint, [this, done = std::move(done)](beast::error_code ec) mutable {
          if (ec) {
            done(ErrorStatus(ec, "connect"));
            return;
          }
          beast::get_lowest_layer(stream_).expires_after(timeout_);
          stream_.async_handshake(ssl::stream_base::client,
                                  [done = std::move(done)](beast::error_code ec) {
                                    done(ec ? ErrorStatus(ec, "TLS handshake") : absl::OkStatus());
                                  });
        });
  }

  // Sends `call` and reads the answer; `keep_body` false drops the body.
  void Exchange(const HttpsCall& call, bool keep_body, ReplyCallback done) {
    if (closed_) {
      done(absl::UnavailableError("the server closed the connection"));
      return;
    }
    request_ = {};
    request_.method_string(call.method);
    request_.target(call.target);
    request_.version(11);
    request_.set(bhttp::field::host, host_);
    request_.set(bhttp::field::accept, "application/fhir+json");
    for (const auto& [name, value] : call.headers) request_.set(name, value);
    if (!call.body.empty()) {
      request_.set(bhttp::field::content_type, call.content_type);
      request_.body() = call.body;
    }
    request_.prepare_payload();
    keep_body_ = keep_body;
    done_ = std::move(done);
    start_ = SteadyClock::now();
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    bhttp::async_write(stream_, request_, [this](beast::error_code ec, size_t) {
      if (ec) {
        Complete(ErrorStatus(ec, "write"));
        return;
      }
      parser_.emplace();
      parser_->body_limit(kMaxBodyBytes);
      beast::get_lowest_layer(stream_).expires_after(timeout_);
      bhttp::async_read_header(stream_, buffer_, *parser_,
                               [this](beast::error_code ec, size_t) { OnHeader(ec); });
    });
  }

  // For a thread that is not running the client's I/O.
  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  static double MillisSince(SteadyClock::time_point start) {
    return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
  }

  void OnHeader(beast::error_code ec) {
    if (ec) {
      Complete(ErrorStatus(ec, "read"));
      return;
    }
    header_millis_ = MillisSince(start_);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [this](beast::error_code ec, size_t) { OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      Complete(ErrorStatus(ec, "read"));
      return;
    }
    HttpsReply reply;
    reply.millis = MillisSince(start_);
    reply.header_millis = header_millis_;
    auto& message = parser_->get();
    reply.status = static_cast<int>(message.result_int());
    reply.content_type = std::string(message[bhttp::field::content_type]);
    if (keep_body_) reply.body = std::move(message.body());
    closed_ = !message.keep_alive();
    parser_.reset();
    Complete(std::move(reply));
  }

  void Complete(absl::StatusOr<HttpsReply> reply) {
    if (!reply.ok()) closed_ = true;
    ReplyCallback done = std::move(done_);
    done(std::move(reply));
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  const std::string host_;
  const std::chrono::nanoseconds timeout_;
  beast::flat_buffer buffer_;
  bhttp::request<bhttp::string_body> request_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
  bool keep_body_ = false;
  bool closed_ = false;
  SteadyClock::time_point start_;
  double header_millis_ = 0;
  ReplyCallback done_;
};

class KeepAliveClientImpl final : public KeepAliveClient {
 public:
  KeepAliveClientImpl(int threads) : tls_(ssl::context::tls_client), threads_(threads) {}

  absl::Status Init(const HttpsEndpoint& endpoint, int connections, absl::Duration timeout) {
    beast::error_code ec;
    tls_.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                     ssl::context::no_tlsv1_1);
    tls_.load_verify_file(endpoint.ca_file, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat(endpoint.ca_file, ": cannot read the CA: ", ec.message()));
    }
    net::ip::address address = net::ip::make_address(endpoint.host, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat(endpoint.host, ": not an IP address"));
    const tcp::endpoint target(address, static_cast<unsigned short>(endpoint.port));
    absl::Mutex mu;
    absl::Status first_error;
    for (int i = 0; i < connections; ++i) {
      connections_.push_back(std::make_unique<Connection>(io_, tls_, endpoint.host, timeout));
      connections_.back()->Open(target, [&](absl::Status s) {
        absl::MutexLock lock(&mu);
        if (first_error.ok()) first_error = s;
      });
    }
    RunIo(1);
    return first_error;
  }

  absl::StatusOr<HttpsReply> Send(const HttpsCall& call) override {
    absl::StatusOr<HttpsReply> out = absl::UnknownError("no answer");
    Connection* c = connections_.front().get();
    net::post(c->executor(), [&] {
      c->Exchange(call, /*keep_body=*/true,
                  [&out](absl::StatusOr<HttpsReply> reply) { out = std::move(reply); });
    });
    RunIo(1);
    return out;
  }

  absl::StatusOr<LoadRun> Run(const std::function<HttpsCall(int64_t)>& make_call,
                              int64_t total) override {
    std::atomic<int64_t> next{0};
    std::atomic<bool> failed{false};
    absl::Mutex mu;
    absl::Status first_error;
    std::vector<std::vector<double>> millis(connections_.size());
    std::vector<int64_t> non_2xx(connections_.size(), 0);
    // Each connection's loop: its next request as soon as its previous answer is whole.
    std::function<void(size_t)> loop = [&](size_t k) {
      int64_t i = next++;
      if (i >= total || failed) return;
      connections_[k]->Exchange(make_call(i), /*keep_body=*/false,
                                [&, k](absl::StatusOr<HttpsReply> reply) {
                                  if (!reply.ok()) {
                                    failed = true;
                                    absl::MutexLock lock(&mu);
                                    if (first_error.ok()) first_error = reply.status();
                                    return;
                                  }
                                  millis[k].push_back(reply->millis);
                                  if (reply->status < 200 || reply->status > 299) ++non_2xx[k];
                                  loop(k);
                                });
    };
    const SteadyClock::time_point start = SteadyClock::now();
    for (size_t k = 0; k < connections_.size(); ++k) {
      net::post(connections_[k]->executor(), [&loop, k] { loop(k); });
    }
    RunIo(threads_);
    LoadRun run;
    run.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    if (!first_error.ok()) return first_error;
    for (size_t k = 0; k < connections_.size(); ++k) {
      run.millis.insert(run.millis.end(), millis[k].begin(), millis[k].end());
      run.non_2xx += non_2xx[k];
    }
    return run;
  }

 private:
  // Runs the posted work to completion on `threads` threads (this one among them).
  void RunIo(int threads) {
    io_.restart();
    std::vector<std::thread> helpers;
    for (int i = 1; i < threads; ++i) helpers.emplace_back([this] { io_.run(); });
    io_.run();
    for (std::thread& t : helpers) t.join();
  }

  net::io_context io_;
  ssl::context tls_;
  const int threads_;
  std::vector<std::unique_ptr<Connection>> connections_;  // after io_ and tls_: freed first
};

}  // namespace

absl::StatusOr<std::unique_ptr<KeepAliveClient>> KeepAliveClient::Connect(
    const HttpsEndpoint& endpoint, int connections, absl::Duration timeout, int threads) {
  if (connections < 1 || threads < 1 || endpoint.port <= 0 || endpoint.port > 65535) {
    return absl::InvalidArgumentError("need a port, one connection and one thread at least");
  }
  auto client = std::make_unique<KeepAliveClientImpl>(threads);
  if (absl::Status s = client->Init(endpoint, connections, timeout); !s.ok()) return s;
  return client;
}

}  // namespace hie::bench
