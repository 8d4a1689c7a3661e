// Key codec properties on arbitrary input: decoding never crashes, and any strings the
// input splits into round-trip and keep their order when encoded.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/store/key_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  hie::store::KeyReader reader(input);
  std::string s;
  uint64_t u = 0;
  while (reader.ReadString(&s) || reader.ReadUint64(&u)) {
  }

  size_t half = size / 2;
  std::string a = input.substr(0, half);
  std::string b = input.substr(half);
  std::string ka = hie::store::KeyBuilder().AddString(a).AddString(b).Build();
  std::string kb = hie::store::KeyBuilder().AddString(b).AddString(a).Build();
  hie::store::KeyReader back(ka);
  std::string a2, b2;
  if (!back.ReadString(&a2) || !back.ReadString(&b2) || !back.done() || a2 != a || b2 != b) {
    std::abort();
  }
  // Order of (a, b) vs (b, a) must follow the order of a vs b, then b vs a.
  bool expect_less = a < b || (a == b && b < a);
  if ((ka < kb) != expect_less) std::abort();
  return 0;
}
