// Feeds arbitrary bytes, in pieces the input itself chooses, to the MLLP decoder: never a
// crash; no message is longer than the limit or holds a frame's end byte; and framing
// any message then decoding it gives the message back whole.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "node/hl7/mllp_framer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hie::node::hl7;
  constexpr size_t kLimit = 4096;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  MllpDecoder decoder(kLimit);
  std::vector<std::string> out;
  size_t i = 0;
  while (i < bytes.size()) {
    size_t piece = 1 + static_cast<unsigned char>(bytes[i]) % 64;
    absl::Status s = decoder.Feed(absl::string_view(bytes).substr(i, piece), &out);
    i += piece;
    if (!s.ok()) break;
  }
  for (const std::string& m : out) {
    if (m.size() > kLimit || m.find(kMllpEnd) != std::string::npos) std::abort();
  }
  // Round trip: a message without the end byte comes back as sent.
  std::string message = bytes.substr(0, std::min(bytes.size(), kLimit));
  for (char& c : message) {
    if (c == kMllpEnd) c = ' ';
  }
  MllpDecoder clean(kLimit);
  std::vector<std::string> back;
  if (!clean.Feed(MllpFrame(message), &back).ok() || back.size() != 1 || back[0] != message)
    std::abort();
  return 0;
}
