// hiectl health: the standard gRPC health check of any hie daemon, over mutual TLS.

#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "cli/connection.h"
#include "common/grpc/status_convert.h"
#include "common/json/json_writer.h"
#include "common/pki/identity.h"
#include "grpcpp/client_context.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"

namespace hie::cli {
namespace {

int RunHealth(const std::vector<std::string>& args) {
  ConnectionFlags connection_flags;
  std::string service;
  bool json = false;
  FlagSet flags(
      "hiectl health --target HOST:PORT --ca F --cert F --key F [--service NAME] [--json]",
      "Checks that a hie daemon (hie-mpi, hie-consent, hie-node) is serving, over\n"
      "mutual TLS, and shows who it is (the org and role its certificate names).\n"
      "Exit status: 0 serving, 1 refused or not serving, 2 bad usage, 3 unreachable.",
      "hiectl health --target 127.0.0.1:41001 --ca ca/ca.crt --cert operator.crt "
      "--key operator.key");
  AddConnectionFlags(flags, &connection_flags);
  flags.String("service", &service, "NAME", "ask about one service (default: the whole server)");
  flags.Bool("json", &json, "print one JSON document on stdout");
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok()) return UsageError("health", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  absl::StatusOr<Connection> connection = Connect(connection_flags);
  if (!connection.ok()) {
    return connection.status().code() == absl::StatusCode::kInvalidArgument
               ? UsageError("health", connection.status())
               : Fail(connection.status());
  }
  auto stub = grpc::health::v1::Health::NewStub(connection->channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(connection->timeout_ms));
  context.set_wait_for_ready(false);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  absl::Time start = absl::Now();
  grpc::Status status = stub->Check(&context, request, &response);
  double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  if (!status.ok()) {
    absl::Status s = FromGrpcStatus(status);
    s = absl::Status(s.code(), absl::StrCat(connection->target, ": ", s.message()));
    if (json) {
      std::cout << JsonObject()
                       .Add("target", connection->target)
                       .Add("status", "ERROR")
                       .Add("code", absl::StatusCodeToString(s.code()))
                       .Add("message", s.message())
                       .Build()
                << "\n";
    }
    std::cerr << "hiectl: " << s.message() << "\n";
    return s.code() == absl::StatusCode::kUnavailable ||
                   s.code() == absl::StatusCode::kDeadlineExceeded
               ? kExitUnavailable
               : kExitFailed;
  }
  std::string org = "?";
  std::string role = "?";
  if (auto auth = context.auth_context(); auth != nullptr) {
    auto pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!pems.empty()) {
      if (auto id = pki::ReadCertIdentity(std::string_view(pems[0].data(), pems[0].size()));
          id.ok()) {
        org = id->org_id;
        role = std::string(pki::RoleName(id->role));
      }
    }
  }
  const std::string state =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  if (json) {
    std::cout << JsonObject()
                     .Add("target", connection->target)
                     .Add("status", state)
                     .Add("org", org)
                     .Add("role", role)
                     .Add("latency_ms", ms)
                     .Build()
              << "\n";
  } else {
    std::cout << absl::StrFormat("%s: %s (org \"%s\", role %s, %.1f ms)\n", connection->target,
                                 state, org, role, ms);
  }
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk
                                                                             : kExitUnavailable;
}

}  // namespace

std::vector<Command> HealthCommands() {
  return {{{"health"}, "check that a daemon is serving, over mutual TLS", RunHealth}};
}

}  // namespace hie::cli
