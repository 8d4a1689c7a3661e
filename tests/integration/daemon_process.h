// Test support: runs a real hie daemon or hiectl as a child process.
#ifndef HIE_TESTS_INTEGRATION_DAEMON_PROCESS_H_
#define HIE_TESTS_INTEGRATION_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hie::testing {

// The directory holding the built binaries (HIE_BIN_DIR, set by ctest).
std::string BinDir();

// A child process with stderr (and stdout) sent to a log file. The destructor sends
// SIGKILL if the process is still running.
class ChildProcess {
 public:
  // Starts `argv` (argv[0] is a path) with output appended to `log_path`.
  static absl::StatusOr<ChildProcess> Start(const std::vector<std::string>& argv,
                                            const std::string& log_path);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Sends `signal`; then waits at most `limit` for exit. Returns the exit code, or
  // 128+signal if killed; DeadlineExceeded if it did not exit in time.
  absl::StatusOr<int> Stop(int signal, absl::Duration limit);
  // Waits at most `limit` for exit without signalling.
  absl::StatusOr<int> Wait(absl::Duration limit);
  bool Running();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` to completion (bounded by `limit`; killed after it) and captures output.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         absl::Duration limit = absl::Seconds(60));

// Waits until `path` holds a port number written by a daemon; bounded by `limit`.
absl::StatusOr<int> WaitForPortFile(const std::string& path, absl::Duration limit);

std::string ReadWholeFile(const std::string& path);

}  // namespace hie::testing

#endif  // HIE_TESTS_INTEGRATION_DAEMON_PROCESS_H_
