#include "tests/integration/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace hie::testing {
namespace {

absl::StatusOr<int> WaitPid(pid_t pid, absl::Duration limit) {
  absl::Time end = absl::Now() + limit;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (r < 0) return absl::InternalError("waitpid failed");
    if (absl::Now() >= end) return absl::DeadlineExceededError("process did not exit in time");
    absl::SleepFor(absl::Milliseconds(20));
  }
}

pid_t Spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    // Daemons block termination signals themselves; start from a clean mask.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

std::string BinDir() {
  const char* dir = std::getenv("HIE_BIN_DIR");
  return dir != nullptr ? dir : "build/bin";
}

absl::StatusOr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                                 const std::string& log_path) {
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", log_path));
  pid_t pid = Spawn(argv, fd, fd);
  ::close(fd);
  if (pid < 0) return absl::InternalError("fork failed");
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  std::swap(pid_, other.pid_);
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
}

absl::StatusOr<int> ChildProcess::Stop(int signal, absl::Duration limit) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  ::kill(pid_, signal);
  return Wait(limit);
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration limit) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  absl::StatusOr<int> code = WaitPid(pid_, limit);
  if (code.ok()) pid_ = -1;
  return code;
}

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int status;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

CommandResult RunCommand(const std::vector<std::string>& argv, absl::Duration limit) {
  std::string out_template =
      (std::filesystem::temp_directory_path() / "hie-cmd-out-XXXXXX").string();
  std::string err_template =
      (std::filesystem::temp_directory_path() / "hie-cmd-err-XXXXXX").string();
  char* out_path = out_template.data();
  char* err_path = err_template.data();
  int out_fd = ::mkstemp(out_path);
  int err_fd = ::mkstemp(err_path);
  CommandResult result;
  pid_t pid = Spawn(argv, out_fd, err_fd);
  ::close(out_fd);
  ::close(err_fd);
  absl::StatusOr<int> code = WaitPid(pid, limit);
  if (!code.ok()) {
    ::kill(pid, SIGKILL);
    (void)WaitPid(pid, absl::Seconds(5));
    result.exit_code = -1;
  } else {
    result.exit_code = *code;
  }
  result.out = ReadWholeFile(out_path);
  result.err = ReadWholeFile(err_path);
  ::unlink(out_path);
  ::unlink(err_path);
  return result;
}

absl::StatusOr<int> WaitForPortFile(const std::string& path, absl::Duration limit) {
  absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    std::string text(absl::StripAsciiWhitespace(ReadWholeFile(path)));
    int port = 0;
    if (!text.empty() && absl::SimpleAtoi(text, &port) && port > 0) return port;
    absl::SleepFor(absl::Milliseconds(25));
  }
  return absl::DeadlineExceededError(absl::StrCat("no port written to ", path));
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace hie::testing
