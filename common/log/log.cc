#include "common/log/log.h"

#include <unistd.h>

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_format.h"
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

// The length of the valid UTF-8 sequence starting at `i` (lead byte >= 0x80), or 0.
size_t Utf8Length(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  size_t n = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
  }
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = i + 1; k < i + n; ++k) {
    if (byte(k) < 0x80 || byte(k) > 0xBF) return 0;
  }
  return n;
}

// `message` with every byte that could forge, cut or garble a line written as \xNN:
// control characters (a newline would start a line of the caller's making, a NUL cut
// one, an escape sequence rewrite a terminal) and bytes that are not UTF-8. Messages
// often quote what a caller sent.
std::string Sanitized(absl::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (size_t i = 0; i < message.size();) {
    const auto c = static_cast<unsigned char>(message[i]);
    if ((c >= 0x20 && c < 0x7F) || c == '\t') {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (size_t n = c >= 0x80 ? Utf8Length(message, i) : 0; n > 0) {
      out.append(message.data() + i, n);
      i += n;
      continue;
    }
    absl::StrAppendFormat(&out, "\\x%02x", c);
    ++i;
  }
  return out;
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
                   SeverityName(severity), " ", program, ": ", Sanitized(message), "\n");
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace hie
