// The shape every hiectl command that makes one RPC shares: common connection flags and
// --json, connect, call, print; errors as one line with the target, exit 1 (3 if the
// target is unreachable), bad usage exit 2.
#ifndef HIE_CLI_RPC_COMMAND_H_
#define HIE_CLI_RPC_COMMAND_H_

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/connection.h"
#include "cli/flags.h"
#include "common/grpc/status_convert.h"
#include "google/protobuf/message.h"
#include "grpcpp/client_context.h"

namespace hie::cli {

// Proto3 JSON with the .proto field names, on one line.
std::string ToJson(const google::protobuf::Message& message);

// Prints "hiectl: TARGET: message" and returns the exit status for `status`.
int FailRpc(const grpc::Status& status, const std::string& target);

// `add_flags(FlagSet&)` registers the command's own flags; `rpc(Stub&, ClientContext&,
// bool json, const std::string& target)` makes the call and prints, returning the exit
// status.
template <typename Service, typename AddFlags, typename Rpc>
int RunRpcCommand(const std::vector<std::string>& args, const std::string& name,
                  const std::string& usage, const std::string& description,
                  const std::string& example, AddFlags add_flags, Rpc rpc) {
  ConnectionFlags connection_flags;
  bool json = false;
  FlagSet flags(usage, description, example);
  AddConnectionFlags(flags, &connection_flags);
  flags.Bool("json", &json, "print one JSON document on stdout");
  add_flags(flags);
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok()) return UsageError(name, s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  absl::StatusOr<Connection> connection = Connect(connection_flags);
  if (!connection.ok()) {
    return connection.status().code() == absl::StatusCode::kInvalidArgument
               ? UsageError(name, connection.status())
               : Fail(connection.status());
  }
  auto stub = Service::NewStub(connection->channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(connection->timeout_ms));
  return rpc(*stub, context, json, connection->target);
}

}  // namespace hie::cli

#endif  // HIE_CLI_RPC_COMMAND_H_
