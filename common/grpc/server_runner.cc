#include "common/grpc/server_runner.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/grpc/peer_identity.h"
#include "common/limits/descriptors.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_interceptor.h"

namespace hie {
namespace {

// Logs one line per call that reached the server's handlers (calls the guard refuses
// are logged by the guard).
class RequestLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit RequestLogInterceptor(grpc::experimental::ServerRpcInfo* info)
      : info_(info), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      std::string who = "unidentified peer";
      if (auto peer = PeerFromContext(*info_->server_context()); peer.ok()) {
        who = absl::StrCat("org \"", peer->org_id, "\" (", std::string(pki::RoleName(peer->role)),
                           ")");
      }
      const double ms = absl::ToDoubleMilliseconds(absl::Now() - start_);
      std::string line =
          absl::StrCat(info_->method(), " from ", who, ": ", StatusCodeName(status.error_code()),
                       " in ", absl::StrFormat("%.2f", ms), " ms");
      if (!status.ok()) absl::StrAppend(&line, ": ", status.error_message());
      LogInfo(line);
    }
    methods->Proceed();
  }

 private:
  static std::string StatusCodeName(grpc::StatusCode code) {
    return absl::StatusCodeToString(static_cast<absl::StatusCode>(static_cast<int>(code)));
  }

  grpc::experimental::ServerRpcInfo* info_;
  absl::Time start_;
};

class RequestLogFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RequestLogInterceptor(info);
  }
};

// Counts the calls of each peer in flight for the per-peer limits (the call guard
// admits or refuses; this sees every admitted call begin and end).
class PeerLimitInterceptor final : public grpc::experimental::Interceptor {
 public:
  PeerLimitInterceptor(grpc::experimental::ServerRpcInfo* info,
                       std::shared_ptr<PeerLimiter> limiter)
      : limiter_(std::move(limiter)) {
    absl::StatusOr<Peer> peer = PeerFromContext(*info->server_context());
    if (peer.ok() && IsPeerLimited(peer->role)) {
      org_id_ = std::move(peer->org_id);
      counted_ = true;
      limiter_->CallStarted(org_id_);
    }
  }

  ~PeerLimitInterceptor() override {
    if (counted_) limiter_->CallFinished(org_id_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  const std::shared_ptr<PeerLimiter> limiter_;
  std::string org_id_;
  bool counted_ = false;
};

class PeerLimitFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit PeerLimitFactory(std::shared_ptr<PeerLimiter> limiter) : limiter_(std::move(limiter)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new PeerLimitInterceptor(info, limiter_);
  }

 private:
  const std::shared_ptr<PeerLimiter> limiter_;
};

// Binds and listens on `address` ("host:port", "[v6]:port"). Returns the non-blocking
// listening socket. Errors: Unavailable naming the address.
absl::StatusOr<int> Listen(const std::string& address) {
  std::string host, port;
  if (absl::StartsWith(address, "[")) {
    size_t close = address.find("]:");
    if (close == std::string::npos) return absl::InvalidArgumentError("bad address " + address);
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) return absl::InvalidArgumentError("bad address " + address);
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, ": ", ::gai_strerror(rc)));
  }
  std::string problem = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      problem = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6) {
      int zero = 0;  // "[::]" also accepts IPv4, as gRPC's own listener does
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    }
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
      ::freeaddrinfo(found);
      return fd;
    }
    problem = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return absl::UnavailableError(
      absl::StrCat("cannot listen on ", address, ": ", problem, " (address in use or not local)"));
}

int BoundPort(int fd) {
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) return 0;
  if (bound.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (bound.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  }
  return 0;
}

// Accepts connections on our own listening socket and hands them to gRPC. gRPC 1.51's
// own listener stops accepting for good after one EMFILE (grpc/grpc#20418); this loop
// keeps within a descriptor budget (AcceptGuard) and never stops until Stop().
class AcceptLoop {
 public:
  AcceptLoop(int listen_fd, int reserved_descriptors,
             std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor)
      : listen_fd_(listen_fd), guard_(reserved_descriptors), acceptor_(std::move(acceptor)) {
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
    thread_ = std::thread([this] { Run(); });
  }

  ~AcceptLoop() { Stop(); }

  // Stops accepting and closes the listening socket. Idempotent.
  void Stop() {
    if (stopping_.exchange(true)) return;
    if (wake_[1] >= 0) (void)!::write(wake_[1], "x", 1);
    if (thread_.joinable()) thread_.join();
    ::close(listen_fd_);
    if (wake_[0] >= 0) ::close(wake_[0]);
    if (wake_[1] >= 0) ::close(wake_[1]);
  }

 private:
  void Run() {
    absl::Time last_report = absl::InfinitePast();
    uint64_t reported_shed = 0, reported_exhausted = 0;
    while (!stopping_) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      int ready = ::poll(fds, wake_[0] >= 0 ? 2 : 1, 1000);
      if (stopping_) return;
      if (ready <= 0 || !(fds[0].revents & POLLIN)) continue;
      bool back_off = false;
      for (int i = 0; i < 256 && !stopping_; ++i) {  // drain, but let Stop() in
        int fd = -1;
        std::string peer;
        AcceptGuard::Result result = guard_.Accept(listen_fd_, &fd, &peer);
        if (result == AcceptGuard::Result::kNone) break;
        if (result == AcceptGuard::Result::kExhausted) {
          back_off = true;
          break;
        }
        if (result != AcceptGuard::Result::kAccepted) continue;
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters params;
        params.listener_fd = listen_fd_;
        params.fd = fd;
        acceptor_->HandleNewConnection(&params);  // takes the descriptor
      }
      const absl::Time now = absl::Now();
      if ((guard_.shed() != reported_shed || guard_.exhausted() != reported_exhausted) &&
          now - last_report >= absl::Seconds(10)) {
        LogWarning("listener: ", guard_.shed() - reported_shed,
                   " connections closed on accept to keep ", reserved_note_, " descriptors free, ",
                   guard_.exhausted() - reported_exhausted,
                   " dropped with descriptors exhausted (limit ", DescriptorLimit(), ")");
        reported_shed = guard_.shed();
        reported_exhausted = guard_.exhausted();
        last_report = now;
      }
      if (back_off) {
        pollfd wake = {wake_[0], POLLIN, 0};
        ::poll(&wake, wake_[0] >= 0 ? 1 : 0, 20);
      }
    }
  }

  const int listen_fd_;
  AcceptGuard guard_;
  const std::string reserved_note_ = "the reserved";
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

class ServerRunnerImpl final : public ServerRunner {
 public:
  ServerRunnerImpl(std::unique_ptr<grpc::Server> server, std::unique_ptr<AcceptLoop> accept,
                   int port)
      : server_(std::move(server)), accept_(std::move(accept)), port_(port) {}

  ~ServerRunnerImpl() override { Shutdown(absl::ZeroDuration()); }

  int port() const override { return port_; }

  void Shutdown(absl::Duration grace) override {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    accept_->Stop();
    if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(false);
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(absl::ToInt64Milliseconds(grace)));
    server_->Wait();
  }

 private:
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<AcceptLoop> accept_;
  const int port_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::Status WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServerRunner>> ServerRunner::Start(ServerRunnerOptions options) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::shared_ptr<grpc::ServerCredentials> credentials = options.tls->ServerCredentials();
  std::shared_ptr<PeerLimiter> limiter = options.limiter;
  if (limiter == nullptr) limiter = PeerLimiter::Create(options.settings.peer_limits);
  credentials->SetAuthMetadataProcessor(MakeCallGuard(options.tls, options.policy,
                                                      options.settings.log_requests, limiter,
                                                      options.security_events));

  const ConnectionLimits& limits = options.settings.connection_limits;
  if (static_cast<uint64_t>(limits.reserved_descriptors) * 2 > DescriptorLimit()) {
    return absl::FailedPreconditionError(
        absl::StrCat("connection_limits.reserved_descriptors (", limits.reserved_descriptors,
                     ") must be at most half the descriptor limit (", DescriptorLimit(),
                     "); raise the limit (LimitNOFILE) or lower the reserve"));
  }
  HIE_ASSIGN_OR_RETURN(int listen_fd, Listen(options.settings.listen_address));
  const int port = BoundPort(listen_fd);

  grpc::ServerBuilder builder;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor =
      builder.experimental().AddExternalConnectionAcceptor(
          grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, credentials);
  auto ms = [](absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); };
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, ms(limits.handshake_timeout));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, ms(limits.idle_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(limits.keepalive));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams);
  builder.SetMaxReceiveMessageSize(options.settings.max_message_bytes);
  builder.SetMaxSendMessageSize(options.settings.max_message_bytes);
  for (grpc::Service* service : options.services) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<PeerLimitFactory>(limiter));
  if (options.settings.log_requests) factories.push_back(std::make_unique<RequestLogFactory>());
  builder.experimental().SetInterceptorCreators(std::move(factories));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    ::close(listen_fd);
    return absl::UnavailableError(
        absl::StrCat("cannot serve on ", options.settings.listen_address));
  }
  auto accept =
      std::make_unique<AcceptLoop>(listen_fd, limits.reserved_descriptors, std::move(acceptor));
  if (!options.settings.port_file.empty()) {
    if (absl::Status s = WritePortFile(options.settings.port_file, port); !s.ok()) {
      accept->Stop();
      server->Shutdown();
      return s;
    }
  }
  return std::make_unique<ServerRunnerImpl>(std::move(server), std::move(accept), port);
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  while (true) {
    int signal = 0;
    if (sigwait(&set, &signal) == 0) return signal;
  }
}

}  // namespace hie
