#include "common/log/log.h"

#include <unistd.h>

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace hie {
namespace {

absl::Mutex g_mu;
std::string* g_program ABSL_GUARDED_BY(g_mu) = nullptr;

absl::string_view SeverityName(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kInfo:
      return "INFO ";
    case LogSeverity::kWarning:
      return "WARN ";
    case LogSeverity::kError:
      return "ERROR";
  }
  return "?    ";
}

}  // namespace

void SetLogProgramName(absl::string_view name) {
  absl::MutexLock lock(&g_mu);
  delete g_program;
  g_program = new std::string(name);
}

void LogLine(LogSeverity severity, absl::string_view message) {
  std::string program;
  {
    absl::MutexLock lock(&g_mu);
    program = g_program ? *g_program : "hie";
  }
  std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
                   SeverityName(severity), " ", program, ": ", message, "\n");
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace hie
