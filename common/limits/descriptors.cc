#include "common/limits/descriptors.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace hie {
namespace {

int OpenSpare() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

absl::StatusOr<uint64_t> RaiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit(RLIMIT_NOFILE): ", std::strerror(errno)));
  }
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return absl::InternalError(absl::StrCat("setrlimit(RLIMIT_NOFILE): ", std::strerror(errno)));
    }
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

uint64_t DescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  return static_cast<uint64_t>(limit.rlim_cur);
}

std::string SocketAddressText(const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    return absl::StrCat(host, ":", ntohs(in->sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    return absl::StrCat("[", host, "]:", ntohs(in6->sin6_port));
  }
  return "?";
}

AcceptGuard::AcceptGuard(int reserved) : reserved_(reserved < 1 ? 1 : reserved) {
  spare_ = OpenSpare();
}

AcceptGuard::~AcceptGuard() {
  if (spare_ >= 0) ::close(spare_);
}

AcceptGuard::Result AcceptGuard::Accept(int listen_fd, int* fd, std::string* peer) {
  if (spare_ < 0) spare_ = OpenSpare();
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  int accepted = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (accepted < 0) {
    if (errno != EMFILE && errno != ENFILE) return Result::kNone;
    // Out of descriptors: use the spare one to take the pending connection off the
    // queue and drop it, so the queue drains and the listener keeps working.
    ++exhausted_;
    if (spare_ >= 0) {
      ::close(spare_);
      spare_ = -1;
      int dropped = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (dropped >= 0) ::close(dropped);
      spare_ = OpenSpare();
    }
    return Result::kExhausted;
  }
  const uint64_t limit = DescriptorLimit();
  if (limit > static_cast<uint64_t>(reserved_) &&
      static_cast<uint64_t>(accepted) >= limit - static_cast<uint64_t>(reserved_)) {
    ::close(accepted);
    ++shed_;
    return Result::kShed;
  }
  ++accepted_;
  *fd = accepted;
  *peer = SocketAddressText(address);
  return Result::kAccepted;
}

}  // namespace hie
