// Daemon logging: one readable line per event on stderr,
//   2026-11-24T06:31:02.123Z INFO  hie-mpi: listening on 127.0.0.1:41001
// Thread-safe; each line is written with a single write(2) so lines never interleave.
#ifndef HIE_COMMON_LOG_LOG_H_
#define HIE_COMMON_LOG_LOG_H_

#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace hie {

enum class LogSeverity { kInfo, kWarning, kError };

// Sets the program name printed on every line (default "hie").
void SetLogProgramName(absl::string_view name);

// Writes one line. `message` must not end in a newline. Control characters and bytes
// that are not UTF-8 in it are written as \xNN, so that nothing a caller sent (and a
// message quotes) can forge, cut or garble a line.
void LogLine(LogSeverity severity, absl::string_view message);

template <typename... Args>
void LogInfo(const Args&... args) {
  LogLine(LogSeverity::kInfo, absl::StrCat(args...));
}
template <typename... Args>
void LogWarning(const Args&... args) {
  LogLine(LogSeverity::kWarning, absl::StrCat(args...));
}
template <typename... Args>
void LogError(const Args&... args) {
  LogLine(LogSeverity::kError, absl::StrCat(args...));
}

}  // namespace hie

#endif  // HIE_COMMON_LOG_LOG_H_
