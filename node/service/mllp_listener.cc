#include "node/service/mllp_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <list>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/limits/descriptors.h"
#include "common/log/log.h"
#include "node/hl7/mllp_framer.h"
#include "openssl/err.h"
#include "openssl/ssl.h"

namespace hie::node {
namespace {

// Descriptors the MLLP listener leaves free for the rest of the node.
constexpr int kReservedDescriptors = 64;
// The most a client may take to finish its TLS handshake.
constexpr int64_t kHandshakeTimeoutSeconds = 10;

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "unknown TLS error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  ERR_clear_error();
  return buffer;
}

struct Connection {
  int fd = -1;
  std::string peer;
  std::thread thread;
  std::atomic<bool> done{false};
};

class ListenerImpl final : public MllpListener {
 public:
  ListenerImpl(MllpListenerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}

  ~ListenerImpl() override {
    stopping_ = true;
    if (wake_[1] >= 0) {
      char byte = 1;
      (void)!::write(wake_[1], &byte, 1);
    }
    if (accept_thread_.joinable()) accept_thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    std::list<std::unique_ptr<Connection>> connections;
    {
      absl::MutexLock lock(&mu_);
      for (auto& c : connections_) ::shutdown(c->fd, SHUT_RD);
      connections.swap(connections_);
    }
    for (auto& c : connections) {
      c->thread.join();
      ::close(c->fd);
    }
    for (int fd : wake_) {
      if (fd >= 0) ::close(fd);
    }
    if (ssl_ctx_ != nullptr) SSL_CTX_free(ssl_ctx_);
  }

  absl::Status Init() {
    ::signal(SIGPIPE, SIG_IGN);  // a peer that hangs up must not end the daemon
    const std::string& address = options_.listen_address;
    size_t colon = address.rfind(':');
    int port_number = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port_number) ||
        port_number < 0 || port_number > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", address, "\" is not host:port (127.0.0.1:2575, say)"));
    }
    std::string host = address.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    std::string service = std::to_string(port_number);
    if (int rc =
            ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
        rc != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot resolve \"", host, "\": ", ::gai_strerror(rc)));
    }
    std::string last_error = "no address";
    for (addrinfo* a = found; a != nullptr && listen_fd_ < 0; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
        last_error = std::strerror(errno);
        ::close(fd);
        continue;
      }
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);  // accept never blocks
      listen_fd_ = fd;
    }
    ::freeaddrinfo(found);
    if (listen_fd_ < 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", last_error));
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof(bound);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length);
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
      return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
    }
    if (!options_.cert_file.empty()) {
      ssl_ctx_ = SSL_CTX_new(TLS_server_method());
      if (ssl_ctx_ == nullptr) return absl::InternalError(OpenSslError());
      SSL_CTX_set_min_proto_version(ssl_ctx_, TLS1_2_VERSION);
      if (SSL_CTX_use_certificate_chain_file(ssl_ctx_, options_.cert_file.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ssl_ctx_, options_.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
          SSL_CTX_check_private_key(ssl_ctx_) != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("MLLP TLS certificate or key: ", OpenSslError()));
      }
      if (options_.require_client_certificate) {
        if (SSL_CTX_load_verify_locations(ssl_ctx_, options_.ca_file.c_str(), nullptr) != 1) {
          return absl::InvalidArgumentError(absl::StrCat("MLLP TLS CA: ", OpenSslError()));
        }
        SSL_CTX_set_verify(ssl_ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      }
    }
    accept_thread_ = std::thread([this] { AcceptLoop(); });
    return absl::OkStatus();
  }

  int port() const override { return port_; }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      int ready = ::poll(fds, 2, 1000);
      if (ready < 0 && errno != EINTR) {
        LogWarning("MLLP listener: poll: ", std::strerror(errno));
        return;
      }
      Reap();
      if (stopping_ || (fds[1].revents & POLLIN)) return;
      if (!(fds[0].revents & POLLIN)) continue;
      // Within a descriptor budget, and never stopped by EMFILE: when descriptors run
      // out the waiting connection is dropped and the loop backs off a little, then
      // goes on accepting (common/limits/descriptors.h).
      int fd = -1;
      std::string address;
      AcceptGuard::Result result = guard_.Accept(listen_fd_, &fd, &address);
      if (result == AcceptGuard::Result::kExhausted || result == AcceptGuard::Result::kShed) {
        if (absl::Now() - last_warning_ >= absl::Seconds(10)) {
          LogWarning("MLLP: connections dropped: descriptors exhausted or reserved (",
                     guard_.exhausted(), " exhausted, ", guard_.shed(), " over budget so far)");
          last_warning_ = absl::Now();
        }
        pollfd wake = {wake_[0], POLLIN, 0};
        ::poll(&wake, 1, 20);
        continue;
      }
      if (result != AcceptGuard::Result::kAccepted) continue;
      // Connections are served with blocking I/O bounded by poll (see Serve).
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      std::string host = address.substr(0, address.rfind(':'));
      absl::MutexLock lock(&mu_);
      if (static_cast<int>(connections_.size()) >= options_.max_connections) {
        ++refused_full_;
        if (absl::Now() - last_full_warning_ >= absl::Seconds(10)) {  // a flood: one line
          LogWarning("MLLP: refused connections (the last from ", host, "): ",
                     options_.max_connections, " connections already open (", refused_full_,
                     " refused so far)");
          last_full_warning_ = absl::Now();
        }
        ::close(fd);
        continue;
      }
      auto connection = std::make_unique<Connection>();
      connection->fd = fd;
      connection->peer = host;
      Connection* raw = connection.get();
      connections_.push_back(std::move(connection));
      raw->thread = std::thread([this, raw] { Serve(*raw); });
    }
  }

  // Joins the threads of finished connections.
  void Reap() {
    std::list<std::unique_ptr<Connection>> finished;
    {
      absl::MutexLock lock(&mu_);
      for (auto it = connections_.begin(); it != connections_.end();) {
        if ((*it)->done) {
          finished.push_back(std::move(*it));
          it = connections_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& c : finished) {
      c->thread.join();
      ::close(c->fd);  // closed only here, so that a stop never shuts a reused descriptor
    }
  }

  // Waits until `fd` is readable, the listener stops or the deadline passes.
  // Returns 1 readable, 0 timed out, -1 stopping or error.
  int WaitReadable(int fd, absl::Time deadline) {
    while (!stopping_) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return 0;
      int ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
      pollfd fds[2] = {{fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      int ready = ::poll(fds, 2, ms);
      if (ready < 0 && errno != EINTR) return -1;
      if (ready > 0 && (fds[1].revents & POLLIN)) return -1;
      if (ready > 0 && fds[0].revents != 0) return 1;
    }
    return -1;
  }

  bool WriteAll(int fd, SSL* ssl, const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      int n =
          ssl != nullptr
              ? SSL_write(ssl, data.data() + sent, static_cast<int>(data.size() - sent))
              : static_cast<int>(::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL));
      if (n <= 0) {
        if (ssl == nullptr && n < 0 && errno == EINTR) continue;
        return false;
      }
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  void Serve(Connection& c) {
    // Bounded blocking for the TLS handshake and writes; shutdown() ends them on stop.
    timeval timeout{};
    timeout.tv_sec = std::max<int64_t>(1, absl::ToInt64Seconds(options_.idle_timeout));
    // The TLS handshake has its own short deadline: a client that never finishes it
    // must not hold one of the few connection slots for the idle timeout.
    timeval handshake{};
    handshake.tv_sec = std::min<int64_t>(timeout.tv_sec, kHandshakeTimeoutSeconds);
    ::setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &handshake, sizeof(handshake));
    ::setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &handshake, sizeof(handshake));
    SSL* ssl = nullptr;
    bool ok = true;
    if (ssl_ctx_ != nullptr) {
      ssl = SSL_new(ssl_ctx_);
      SSL_set_fd(ssl, c.fd);
      if (SSL_accept(ssl) != 1) {
        LogWarning("MLLP: TLS handshake with ", c.peer, " failed: ", OpenSslError());
        ok = false;
      }
    }
    ::setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    hl7::MllpDecoder decoder(options_.max_message_bytes);
    std::vector<std::string> messages;
    char buffer[16384];
    absl::Time deadline = absl::Now() + options_.idle_timeout;
    while (ok && !stopping_) {
      if (ssl == nullptr || SSL_pending(ssl) == 0) {
        int ready = WaitReadable(c.fd, deadline);
        if (ready == 0) {
          LogInfo("MLLP: closing the connection from ", c.peer, " after ",
                  absl::FormatDuration(options_.idle_timeout), " idle");
        }
        if (ready <= 0) break;
      }
      int n = ssl != nullptr ? SSL_read(ssl, buffer, sizeof(buffer))
                             : static_cast<int>(::recv(c.fd, buffer, sizeof(buffer), 0));
      if (n < 0 && ssl == nullptr && errno == EINTR) continue;
      if (n <= 0) break;
      messages.clear();
      absl::Status fed = decoder.Feed(absl::string_view(buffer, static_cast<size_t>(n)), &messages);
      // Only a whole message renews the idle deadline: a byte now and then (a client
      // holding a slot without ever sending a message) does not.
      if (!messages.empty()) deadline = absl::Now() + options_.idle_timeout;
      for (const std::string& message : messages) {
        if (!WriteAll(c.fd, ssl, hl7::MllpFrame(handler_(message)))) {
          ok = false;
          break;
        }
      }
      if (!fed.ok()) {
        LogWarning("MLLP: closing the connection from ", c.peer, ": ", fed.message());
        break;
      }
    }
    if (ssl != nullptr) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    c.done = true;
  }

  const MllpListenerOptions options_;
  const Handler handler_;
  int listen_fd_ = -1;
  AcceptGuard guard_{kReservedDescriptors};
  absl::Time last_warning_ = absl::InfinitePast();  // accept thread only
  absl::Time last_full_warning_ = absl::InfinitePast();  // accept thread only
  int64_t refused_full_ = 0;                             // accept thread only
  int port_ = 0;
  int wake_[2] = {-1, -1};
  SSL_CTX* ssl_ctx_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  absl::Mutex mu_;
  std::list<std::unique_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<MllpListener>> MllpListener::Start(
    const MllpListenerOptions& options, Handler handler) {
  auto listener = std::make_unique<ListenerImpl>(options, std::move(handler));
  if (absl::Status s = listener->Init(); !s.ok()) return s;
  return std::unique_ptr<MllpListener>(std::move(listener));
}

}  // namespace hie::node
