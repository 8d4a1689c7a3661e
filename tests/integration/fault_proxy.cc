#include "tests/integration/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace hie::testing {
namespace {

constexpr int kPollMs = 50;

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// Waits until `fd` is readable; false on timeout.
bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, kPollMs) > 0;
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FaultProxy>> FaultProxy::Start(int target_port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string error = std::strerror(errno);
    ::close(fd);
    return absl::InternalError(absl::StrCat("proxy listen: ", error));
  }
  return std::unique_ptr<FaultProxy>(new FaultProxy(fd, ntohs(addr.sin_port), target_port));
}

FaultProxy::FaultProxy(int listen_fd, int port, int target_port)
    : listen_fd_(listen_fd), port_(port), target_port_(target_port) {
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void FaultProxy::SetMode(Mode mode, absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  mode_ = mode;
  delay_ = delay;
}

FaultProxy::Mode FaultProxy::mode(absl::Duration* delay) const {
  absl::MutexLock lock(&mu_);
  if (delay != nullptr) *delay = delay_;
  return mode_;
}

void FaultProxy::AcceptLoop() {
  while (!stopping_) {
    if (!Readable(listen_fd_)) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++accepted_;
    absl::MutexLock lock(&mu_);
    threads_.emplace_back([this, client] { Serve(client); });
  }
}

void FaultProxy::Serve(int client) {
  Mode m = mode(nullptr);
  if (m == Mode::kDrop) {
    ::close(client);
    return;
  }
  if (m == Mode::kGarbage) {
    std::mt19937 random(static_cast<unsigned>(port_));
    char junk[512];
    // Answer whatever arrives with noise, until the client gives up or we stop.
    while (!stopping_) {
      if (!Readable(client)) continue;
      char in[4096];
      ssize_t n = ::recv(client, in, sizeof(in), 0);
      if (n <= 0) break;
      for (char& c : junk) c = static_cast<char>(random());
      if (!WriteAll(client, junk, sizeof(junk))) break;
    }
    ::close(client);
    return;
  }
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(target_port_);
  if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (server >= 0) ::close(server);
    ::close(client);
    return;
  }
  std::thread upstream([this, client, server] { Pump(client, server); });
  Pump(server, client);
  upstream.join();
  ::close(server);
  ::close(client);
}

void FaultProxy::Pump(int from, int to) {
  char buffer[16384];
  while (!stopping_) {
    absl::Duration delay;
    Mode m = mode(&delay);
    if (m == Mode::kFreeze) {
      absl::SleepFor(absl::Milliseconds(kPollMs));
      continue;
    }
    if (!Readable(from)) continue;
    ssize_t n = ::recv(from, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    if (m == Mode::kDelay) absl::SleepFor(delay);
    if (!WriteAll(to, buffer, static_cast<size_t>(n))) break;
  }
  // Let the other direction see the end too.
  ::shutdown(to, SHUT_WR);
  ::shutdown(from, SHUT_RD);
}

}  // namespace hie::testing
