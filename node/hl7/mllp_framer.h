// MLLP (the Minimal Lower Layer Protocol of HL7 v2): each message travels as
// 0x0B <message> 0x1C 0x0D. The decoder takes a connection's bytes in any pieces and
// returns whole messages; bytes between frames (stray CR/LF, noise) are skipped and
// counted. A message longer than the limit is an error: the connection should be closed,
// since nothing after it can be trusted to be framed.
#ifndef HIE_NODE_HL7_MLLP_FRAMER_H_
#define HIE_NODE_HL7_MLLP_FRAMER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace hie::node::hl7 {

inline constexpr char kMllpStart = 0x0B;
inline constexpr char kMllpEnd = 0x1C;
inline constexpr char kMllpTrailer = 0x0D;

// `message` framed for sending.
std::string MllpFrame(absl::string_view message);

// Not thread-safe: one per connection.
class MllpDecoder {
 public:
  explicit MllpDecoder(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Feeds the next bytes; appends each message completed by them to `messages`.
  // An end byte 0x1C ends a message whether or not the 0x0D follows (the 0x0D is
  // consumed when it does). Errors: ResourceExhausted when a message grows past the
  // limit (the decoder then stays failed).
  absl::Status Feed(absl::string_view bytes, std::vector<std::string>* messages);

  // True when no message is partly received.
  bool between_frames() const { return !in_frame_; }
  // Bytes dropped outside frames so far.
  size_t skipped_bytes() const { return skipped_; }

 private:
  const size_t max_message_bytes_;
  std::string current_;
  bool in_frame_ = false;
  bool after_end_ = false;  // a 0x1C was seen; a 0x0D next is the trailer
  bool failed_ = false;
  size_t skipped_ = 0;
};

}  // namespace hie::node::hl7

#endif  // HIE_NODE_HL7_MLLP_FRAMER_H_
