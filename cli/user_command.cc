// hiectl user add|disable|enable|reset|remove-totp|list: the practice admin's local
// accounts of the node's web app, over the node's Users service with the practice's certificate.
// Passwords never travel on the command line (ps shows it to every user of the
// machine): `add` reads one from a file or stdin, `reset` prints or writes the one the
// node made.

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "cli/command.h"
#include "cli/connection.h"
#include "cli/flags.h"
#include "cli/rpc_command.h"
#include "common/time/proto_time.h"
#include "proto/hie/v1/node.grpc.pb.h"

namespace hie::cli {
namespace {

using hie::v1::User;
using hie::v1::UserRole;

constexpr char kRoles[] = "clinician, front-desk, practice-admin or patient";

absl::StatusOr<UserRole> ParseRole(const std::string& name) {
  if (name == "clinician") return hie::v1::USER_ROLE_CLINICIAN;
  if (name == "front-desk") return hie::v1::USER_ROLE_FRONT_DESK;
  if (name == "practice-admin") return hie::v1::USER_ROLE_PRACTICE_ADMIN;
  if (name == "patient") return hie::v1::USER_ROLE_PATIENT;
  return absl::InvalidArgumentError(
      absl::StrCat("--role must be ", kRoles, ", not \"", name, "\""));
}

std::string RoleName(UserRole role) {
  switch (role) {
    case hie::v1::USER_ROLE_CLINICIAN:
      return "clinician";
    case hie::v1::USER_ROLE_FRONT_DESK:
      return "front-desk";
    case hie::v1::USER_ROLE_PRACTICE_ADMIN:
      return "practice-admin";
    case hie::v1::USER_ROLE_PATIENT:
      return "patient";
    default:
      return "?";
  }
}

std::string Minutes(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", FromProtoTime(t), absl::UTCTimeZone());
}

std::string State(const User& u) {
  if (u.disabled()) return "disabled";
  if (u.has_locked_until()) return "locked until " + Minutes(u.locked_until());
  if (u.must_change_password()) return "must change password";
  return "active";
}

void PrintHeader() {
  std::cout << absl::StrFormat("%-24s %-15s %-10s %-4s %-21s %s\n", "LOGIN", "ROLE", "PATIENT",
                               "2FA", "LAST SIGN-IN", "NAME / STATE");
}

void PrintUser(const User& u) {
  std::cout << absl::StrFormat(
      "%-24s %-15s %-10s %-4s %-21s %s (%s)\n", u.login(), RoleName(u.role()),
      u.patient_id().empty() ? "-" : u.patient_id(), u.totp_enabled() ? "yes" : "no",
      u.has_last_sign_in_at() ? Minutes(u.last_sign_in_at()) : "never", u.display_name(), State(u));
}

// The first line of `text`, without its line ending.
std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// A password typed at the terminal, not echoed, asked twice.
absl::StatusOr<std::string> PromptPassword(const std::string& login) {
  termios saved;
  if (tcgetattr(STDIN_FILENO, &saved) != 0) {
    return absl::FailedPreconditionError("cannot read a password from this terminal");
  }
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  std::string first, second;
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  std::cerr << "Initial password for " << login << ": " << std::flush;
  std::getline(std::cin, first);
  std::cerr << "\nAgain: " << std::flush;
  std::getline(std::cin, second);
  std::cerr << "\n";
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  if (first != second) return absl::InvalidArgumentError("the two passwords differ");
  return first;
}

// From --password-file (its first line), else the terminal, else stdin's first line.
absl::StatusOr<std::string> ReadPassword(const std::string& file, const std::string& login) {
  std::string password;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat(file, ": cannot open"));
    std::ostringstream text;
    text << in.rdbuf();
    password = FirstLine(text.str());
  } else if (isatty(STDIN_FILENO) == 1) {
    absl::StatusOr<std::string> typed = PromptPassword(login);
    if (!typed.ok()) return typed.status();
    password = *typed;
  } else {
    std::ostringstream text;
    text << std::cin.rdbuf();
    password = FirstLine(text.str());
  }
  if (password.empty()) {
    return absl::InvalidArgumentError(file.empty() ? "no password on stdin"
                                                   : absl::StrCat(file, ": holds no password"));
  }
  return password;
}

// Writes `text` to a new file readable by its owner only.
absl::Status WriteSecretFile(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": cannot create (", errno == EEXIST ? "it exists" : "error", ")"));
  }
  const std::string line = text + "\n";
  ssize_t written = ::write(fd, line.data(), line.size());
  bool ok = written == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok) return absl::InternalError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

int PrintOne(const grpc::Status& status, const User& user, bool json, const std::string& target) {
  if (!status.ok()) return FailRpc(status, target);
  if (json) {
    std::cout << ToJson(user) << "\n";
  } else {
    PrintHeader();
    PrintUser(user);
  }
  return kExitOk;
}

int RunAdd(const std::vector<std::string>& args) {
  ConnectionFlags connection_flags;
  std::string login, name, role_name, patient, password_file;
  bool json = false, final_password = false;
  FlagSet flags(
      "hiectl user add --login LOGIN --name NAME --role ROLE [--patient ID] "
      "[--password-file F] [--password-is-final] [--json]",
      "Adds a local account to the node's web app. ROLE is clinician, front-desk,\n"
      "practice-admin or patient; a patient account names the practice's own Patient id\n"
      "(--patient), which the node must hold. The initial password is read from the first\n"
      "line of --password-file, else typed at the terminal (twice, not shown), else from\n"
      "the first line of stdin; never from the command line, where ps would show it. It must\n"
      "have 12 characters or more, not be the login or the name, nor a common password.\n"
      "The user must change it at their first sign-in unless --password-is-final.",
      "printf '%s\\n' \"$PASSWORD\" | hiectl user add --profile org-a.profile --login dr.lee "
      "--name \"Dr Ana Lee\" --role clinician");
  AddConnectionFlags(flags, &connection_flags);
  flags.Bool("json", &json, "print the account as one JSON document");
  flags.String("login", &login, "LOGIN", "what they sign in with (required)");
  flags.String("name", &name, "NAME", "their name as the web app shows it (required)");
  flags.String("role", &role_name, "ROLE", "clinician, front-desk, practice-admin or patient");
  flags.String("patient", &patient, "ID", "for a patient: the practice's local Patient id");
  flags.String("password-file", &password_file, "F", "read the initial password from F");
  flags.Bool("password-is-final", &final_password,
             "the password is the user's own: no change at the first sign-in");
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok()) return UsageError("user add", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (login.empty() || name.empty() || role_name.empty()) {
    return UsageError("user add",
                      absl::InvalidArgumentError("--login, --name and --role are required"));
  }
  absl::StatusOr<UserRole> role = ParseRole(role_name);
  if (!role.ok()) return UsageError("user add", role.status());
  if ((*role == hie::v1::USER_ROLE_PATIENT) != !patient.empty()) {
    return UsageError("user add", absl::InvalidArgumentError(
                                      "--patient goes with --role patient, and only with it"));
  }
  absl::StatusOr<Connection> connection = Connect(connection_flags);
  if (!connection.ok()) {
    return connection.status().code() == absl::StatusCode::kInvalidArgument
               ? UsageError("user add", connection.status())
               : Fail(connection.status());
  }
  // Read before the call's deadline starts: someone may be typing it.
  absl::StatusOr<std::string> password = ReadPassword(password_file, login);
  if (!password.ok()) return Fail(password.status());
  hie::v1::AddUserRequest request;
  request.set_login(login);
  request.set_display_name(name);
  request.set_role(*role);
  request.set_patient_id(patient);
  request.set_password(*password);
  request.set_password_is_final(final_password);
  auto stub = hie::v1::Users::NewStub(connection->channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(connection->timeout_ms));
  User user;
  return PrintOne(stub->AddUser(&context, request, &user), user, json, connection->target);
}

int RunSetDisabled(const std::vector<std::string>& args, bool disable) {
  std::string login;
  const std::string verb = disable ? "disable" : "enable";
  return RunRpcCommand<hie::v1::Users>(
      args, "user " + verb, absl::StrCat("hiectl user ", verb, " --login LOGIN [--json]"),
      disable ? "Disables an account of the node's web app: it can no longer sign in, and\n"
                "whoever is signed in with it is signed out at once. Nothing is deleted."
              : "Enables a disabled account again; also lifts a lockout after failed sign-ins.",
      absl::StrCat("hiectl user ", verb, " --profile org-a.profile --login dr.lee"),
      [&](FlagSet& flags) { flags.String("login", &login, "LOGIN", "the account (required)"); },
      [&](hie::v1::Users::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        if (login.empty()) {
          return UsageError("user " + verb, absl::InvalidArgumentError("--login is required"));
        }
        hie::v1::SetUserDisabledRequest request;
        request.set_login(login);
        request.set_disabled(disable);
        User user;
        return PrintOne(stub.SetDisabled(&context, request, &user), user, json, target);
      });
}

int RunReset(const std::vector<std::string>& args) {
  std::string login, out_file;
  return RunRpcCommand<hie::v1::Users>(
      args, "user reset", "hiectl user reset --login LOGIN [--password-out F] [--json]",
      "Replaces a forgotten password with a one-time password the node makes (16 characters\n"
      "in groups of four) and prints it, or writes it to a new file F readable by you only.\n"
      "The user signs in with it within 72 hours and must then choose their own. The\n"
      "account's sessions end and a lockout is lifted; its authenticator stays.",
      "hiectl user reset --profile org-a.profile --login dr.lee --password-out lee.txt",
      [&](FlagSet& flags) {
        flags.String("login", &login, "LOGIN", "the account (required)");
        flags.String("password-out", &out_file, "F", "write the password to F, not stdout");
      },
      [&](hie::v1::Users::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        if (login.empty()) {
          return UsageError("user reset", absl::InvalidArgumentError("--login is required"));
        }
        hie::v1::ResetUserPasswordRequest request;
        request.set_login(login);
        hie::v1::ResetUserPasswordResponse response;
        grpc::Status status = stub.ResetPassword(&context, request, &response);
        if (!status.ok()) return FailRpc(status, target);
        if (!out_file.empty()) {
          if (absl::Status s = WriteSecretFile(out_file, response.password()); !s.ok()) {
            return Fail(
                absl::Status(s.code(), absl::StrCat(s.message(), "; the password of ", login,
                                                    " was reset anyway: reset it again")));
          }
          response.clear_password();
        }
        if (json) {
          std::cout << ToJson(response) << "\n";
        } else if (out_file.empty()) {
          std::cout << response.password() << "\n";
        } else {
          std::cout << "one-time password of " << response.user().login() << " written to "
                    << out_file << "\n";
        }
        return kExitOk;
      });
}

int RunRemoveTotp(const std::vector<std::string>& args) {
  std::string login;
  return RunRpcCommand<hie::v1::Users>(
      args, "user remove-totp", "hiectl user remove-totp --login LOGIN [--json]",
      "Removes an account's authenticator app (a lost or replaced phone): the user signs in\n"
      "with the password alone until they enrol one again.",
      "hiectl user remove-totp --profile org-a.profile --login dr.lee",
      [&](FlagSet& flags) { flags.String("login", &login, "LOGIN", "the account (required)"); },
      [&](hie::v1::Users::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        if (login.empty()) {
          return UsageError("user remove-totp", absl::InvalidArgumentError("--login is required"));
        }
        hie::v1::RemoveUserTotpRequest request;
        request.set_login(login);
        User user;
        return PrintOne(stub.RemoveTotp(&context, request, &user), user, json, target);
      });
}

int RunList(const std::vector<std::string>& args) {
  return RunRpcCommand<hie::v1::Users>(
      args, "user list", "hiectl user list [--json]",
      "The accounts of the node's web app: login, role, patient id, whether they have an\n"
      "authenticator, their last sign-in, name, and state (active, disabled, locked until,\n"
      "must change password).",
      "hiectl user list --profile org-a.profile", [](FlagSet&) {},
      [&](hie::v1::Users::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::ListUsersResponse response;
        grpc::Status status = stub.ListUsers(&context, hie::v1::ListUsersRequest(), &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
          return kExitOk;
        }
        PrintHeader();
        for (const User& u : response.users()) PrintUser(u);
        return kExitOk;
      });
}

}  // namespace

std::vector<Command> UserCommands() {
  return {
      {{"user", "add"}, "add an account to the node's web app", RunAdd},
      {{"user", "disable"},
       "disable an account of the web app (signs it out)",
       [](const std::vector<std::string>& args) { return RunSetDisabled(args, true); }},
      {{"user", "enable"},
       "enable an account again (lifts a lockout)",
       [](const std::vector<std::string>& args) { return RunSetDisabled(args, false); }},
      {{"user", "reset"}, "give an account a one-time password", RunReset},
      {{"user", "remove-totp"}, "remove an account's authenticator (lost phone)", RunRemoveTotp},
      {{"user", "list"}, "the accounts of the node's web app", RunList},
  };
}

}  // namespace hie::cli
