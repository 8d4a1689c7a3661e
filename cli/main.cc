// hiectl: one command-line tool for every hie user — practices, the exchange operator and
// clinicians. `hiectl --help` lists the commands; every command takes --help.

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/command.h"

namespace hie::cli {

int Fail(const absl::Status& status) {
  std::cerr << "hiectl: " << status.message() << "\n";
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    default:
      return kExitFailed;
  }
}

int UsageError(const std::string& command, const absl::Status& status) {
  std::cerr << "hiectl " << command << ": " << status.message() << " (see hiectl " << command
            << " --help)\n";
  return kExitUsage;
}

namespace {

std::vector<Command> AllCommands() {
  std::vector<Command> all;
  for (auto group : {CaCommands(), HealthCommands(), MpiCommands(), OrgCommands(), AuditCommands(),
                     ConsentCommands(), ImportCommands(), QueryCommands(), DevnetCommands(),
                     Hl7Commands(), FhirCommands(), UserCommands()}) {
    for (auto& command : group) all.push_back(std::move(command));
  }
  return all;
}

void PrintOverview(const std::vector<Command>& commands, const std::vector<std::string>& prefix) {
  std::cout << "Usage: hiectl " << (prefix.empty() ? "" : absl::StrJoin(prefix, " ") + " ")
            << "COMMAND [options]\n\n"
            << (prefix.empty()
                    ? "hiectl drives a hie health-information exchange: its CA, its daemons,\n"
                      "and (in later releases) imports, queries, consent and audit.\n\n"
                    : "")
            << "Commands:\n";
  for (const Command& command : commands) {
    if (command.path.size() < prefix.size() ||
        !std::equal(prefix.begin(), prefix.end(), command.path.begin())) {
      continue;
    }
    std::string name = absl::StrJoin(command.path, " ");
    std::cout << "  " << name << std::string(name.size() < 22 ? 22 - name.size() : 1, ' ')
              << command.summary << "\n";
  }
  std::cout << "\nRun `hiectl COMMAND --help` for a command's options and an example.\n"
               "Exit status: 0 success, 1 failed or refused, 2 bad usage, 3 target unreachable.\n";
}

}  // namespace
}  // namespace hie::cli

int main(int argc, char** argv) {
  using namespace hie::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<Command> commands = AllCommands();
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintOverview(commands, {});
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] == "--version") {
    std::cout << "hiectl 0.1.0\n";
    return kExitOk;
  }
  // The longest command path that prefixes the arguments wins.
  const Command* best = nullptr;
  for (const Command& command : commands) {
    if (command.path.size() <= args.size() &&
        std::equal(command.path.begin(), command.path.end(), args.begin()) &&
        (best == nullptr || command.path.size() > best->path.size())) {
      best = &command;
    }
  }
  if (best == nullptr) {
    // A known group ("hiectl ca") without a subcommand: list what it has.
    for (const Command& command : commands) {
      if (command.path.size() > 1 && command.path[0] == args[0]) {
        PrintOverview(commands, {args[0]});
        return args.size() > 1 && args[1] != "--help" && args[1] != "-h"
                   ? (std::cerr << "hiectl: unknown command \"" << args[0] << " " << args[1]
                                << "\"\n",
                      kExitUsage)
                   : (args.size() > 1 ? kExitOk : kExitUsage);
      }
    }
    std::cerr << "hiectl: unknown command \"" << args[0] << "\" (see hiectl --help)\n";
    return kExitUsage;
  }
  std::vector<std::string> rest(args.begin() + static_cast<long>(best->path.size()), args.end());
  return best->run(rest);
}
