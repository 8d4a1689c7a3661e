// The shared life of hie-mpi, hie-consent and hie-node: command line, config loading,
// data directory, TLS, serving, and a clean stop on SIGTERM/SIGINT. Each daemon's
// main.cc supplies its description and what it serves.
#ifndef HIE_COMMON_GRPC_DAEMON_MAIN_H_
#define HIE_COMMON_GRPC_DAEMON_MAIN_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config/config_file.h"
#include "common/config/server_config.h"
#include "common/grpc/authorization.h"
#include "common/grpc/tls.h"
#include "google/protobuf/message.h"
#include "grpcpp/impl/service_type.h"

namespace hie {

struct DaemonDescription {
  std::string program;         // "hie-mpi"
  std::string summary;         // what the daemon is, one paragraph
  std::string config_fields;   // reference for the daemon's own top-level config fields
  std::string example_config;  // a complete example textproto
};

// What a daemon serves, produced from its validated config.
struct DaemonPlan {
  ServerSettings server;
  std::string data_dir;
  std::shared_ptr<const AuthorizationPolicy> policy;
  std::vector<std::unique_ptr<grpc::Service>> services;
  // Opens services that keep state in the data directory or call other parties (with
  // channel credentials from `tls`). Called after the directory is created and locked,
  // and not for --check; what it returns is served beside `services`. Errors stop the
  // daemon with their message.
  std::function<absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>>(
      const std::string& data_dir, const std::shared_ptr<TlsContext>& tls)>
      open_services;
};

// Validates a parsed config into a plan. Errors name file, line and field.
using PlanFunction = std::function<absl::StatusOr<DaemonPlan>(const ConfigFile& file)>;

// Parses the command line, loads `config` (the daemon's config message) from --config,
// calls `plan`, creates the data directory (0700), starts serving over mutual TLS and
// runs until SIGTERM or SIGINT. Returns the process exit status: 0 after a clean stop
// or --help/--version/--check; 2 for a bad command line; 1 for anything else, with one
// clear line on stderr.
// REQUIRES: BlockTerminationSignals() was called first thing in main().
int RunDaemon(int argc, char** argv, const DaemonDescription& description,
              google::protobuf::Message* config, const PlanFunction& plan);

// The --help text (exposed for tests that check every config field is documented).
std::string DaemonHelp(const DaemonDescription& description);

}  // namespace hie

#endif  // HIE_COMMON_GRPC_DAEMON_MAIN_H_
