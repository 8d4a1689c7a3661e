// hiectl audit verify: checks a daemon's hash-chained audit log end to end.

#include <iostream>

#include "absl/strings/str_format.h"
#include "cli/command.h"
#include "cli/rpc_command.h"
#include "proto/hie/v1/audit.grpc.pb.h"

namespace hie::cli {
namespace {

int RunVerify(const std::vector<std::string>& args) {
  return RunRpcCommand<hie::v1::AuditLog>(
      args, "audit verify", "hiectl audit verify [--json]",
      "Walks the target daemon's audit chain and reports the first entry where it breaks\n"
      "(altered, missing, out of order, truncated). Prints the head hash: keep it, and a\n"
      "later verify that reports another history for the same entries shows a rewrite.\n"
      "Exit status 1 if the chain is broken.",
      "hiectl audit verify --profile operator.profile --target 127.0.0.1:41001", [](FlagSet&) {},
      [](hie::v1::AuditLog::Stub& stub, grpc::ClientContext& context, bool json,
         const std::string& target) {
        hie::v1::VerifyAuditResponse response;
        grpc::Status status = stub.Verify(&context, {}, &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
        } else if (response.ok()) {
          std::cout << absl::StrFormat("%s: audit chain intact, %d entries, head %s\n", target,
                                       response.entries_checked(), response.head_hash());
        } else {
          std::cout << absl::StrFormat("%s: audit chain BROKEN at entry %d: %s\n", target,
                                       response.first_bad_sequence(), response.problem());
        }
        return response.ok() ? kExitOk : kExitFailed;
      });
}

}  // namespace

std::vector<Command> AuditCommands() {
  return {{{"audit", "verify"}, "check a daemon's audit chain end to end", RunVerify}};
}

}  // namespace hie::cli
