#include "common/grpc/server_runner.h"

#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/grpc/peer_identity.h"
#include "common/log/log.h"
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

class ServerRunnerImpl final : public ServerRunner {
 public:
  ServerRunnerImpl(std::unique_ptr<grpc::Server> server, int port)
      : server_(std::move(server)), port_(port) {}

  ~ServerRunnerImpl() override { Shutdown(absl::ZeroDuration()); }

  int port() const override { return port_; }

  void Shutdown(absl::Duration grace) override {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(false);
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(absl::ToInt64Milliseconds(grace)));
    server_->Wait();
  }

 private:
  std::unique_ptr<grpc::Server> server_;
  const int port_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ServerRunner>> ServerRunner::Start(ServerRunnerOptions options) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::shared_ptr<grpc::ServerCredentials> credentials = options.tls->ServerCredentials();
  std::shared_ptr<PeerLimiter> limiter = options.limiter;
  if (limiter == nullptr) limiter = PeerLimiter::Create(options.settings.peer_limits);
  credentials->SetAuthMetadataProcessor(
      MakeCallGuard(options.tls, options.policy, options.settings.log_requests, limiter));

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.settings.listen_address, credentials, &port);
  builder.SetMaxReceiveMessageSize(options.settings.max_message_bytes);
  builder.SetMaxSendMessageSize(options.settings.max_message_bytes);
  for (grpc::Service* service : options.services) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<PeerLimitFactory>(limiter));
  if (options.settings.log_requests) factories.push_back(std::make_unique<RequestLogFactory>());
  builder.experimental().SetInterceptorCreators(std::move(factories));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.settings.listen_address,
                                               ": address in use or not local"));
  }
  if (!options.settings.port_file.empty()) {
    if (absl::Status s = WritePortFile(options.settings.port_file, port); !s.ok()) {
      server->Shutdown();
      return s;
    }
  }
  return std::make_unique<ServerRunnerImpl>(std::move(server), port);
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
