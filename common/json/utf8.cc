#include "common/json/utf8.h"

namespace hie {

size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  unsigned char c = static_cast<unsigned char>(text[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 0;
  }
  if (n == 1) return 1;
  unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
  bool bad = (n == 2 && c < 0xC2) || (n == 3 && c == 0xE0 && c1 < 0xA0) ||
             (n == 3 && c == 0xED && c1 >= 0xA0) || (n == 4 && c == 0xF0 && c1 < 0x90) ||
             (n == 4 && (c > 0xF4 || (c == 0xF4 && c1 >= 0x90)));
  return bad ? 0 : n;
}

}  // namespace hie
