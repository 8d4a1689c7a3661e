// hiectl's subcommands: each is a path of words ("ca", "issue") and a function of the
// remaining arguments that returns the process exit status.
//
// Exit status, which scripts rely on:
//   0  success
//   1  the operation failed or was refused (one clear line on stderr)
//   2  bad command line (unknown option, missing value)
//   3  the target could not be reached or is not serving
#ifndef HIE_CLI_COMMAND_H_
#define HIE_CLI_COMMAND_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace hie::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnavailable = 3;

struct Command {
  std::vector<std::string> path;
  std::string summary;
  std::function<int(const std::vector<std::string>& args)> run;
};

// Prints "hiectl: <message>" on stderr and returns the exit status for `status`.
int Fail(const absl::Status& status);
// Prints "hiectl: <message>" and a pointer to --help; returns kExitUsage.
int UsageError(const std::string& command, const absl::Status& status);

std::vector<Command> CaCommands();
std::vector<Command> HealthCommands();
std::vector<Command> MpiCommands();
std::vector<Command> OrgCommands();
std::vector<Command> AuditCommands();
std::vector<Command> ConsentCommands();
std::vector<Command> ImportCommands();
std::vector<Command> QueryCommands();
std::vector<Command> DevnetCommands();
std::vector<Command> Hl7Commands();
std::vector<Command> FhirCommands();
std::vector<Command> UserCommands();

}  // namespace hie::cli

#endif  // HIE_CLI_COMMAND_H_
