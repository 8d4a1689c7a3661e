#include "node/hl7/mllp_framer.h"

#include "absl/strings/str_cat.h"

namespace hie::node::hl7 {

std::string MllpFrame(absl::string_view message) {
  std::string out;
  out.reserve(message.size() + 3);
  out.push_back(kMllpStart);
  out.append(message.data(), message.size());
  out.push_back(kMllpEnd);
  out.push_back(kMllpTrailer);
  return out;
}

absl::Status MllpDecoder::Feed(absl::string_view bytes, std::vector<std::string>* messages) {
  if (failed_) return absl::ResourceExhaustedError("the connection exceeded the message limit");
  size_t i = 0;
  while (i < bytes.size()) {
    if (!in_frame_) {
      char c = bytes[i++];
      if (after_end_ && c == kMllpTrailer) {
        after_end_ = false;
        continue;
      }
      after_end_ = false;
      if (c == kMllpStart) {
        in_frame_ = true;
        current_.clear();
      } else {
        ++skipped_;
      }
      continue;
    }
    // Inside a frame: copy up to the end byte in one go.
    size_t end = bytes.find(kMllpEnd, i);
    size_t take = (end == absl::string_view::npos ? bytes.size() : end) - i;
    if (current_.size() + take > max_message_bytes_) {
      failed_ = true;
      current_.clear();
      return absl::ResourceExhaustedError(
          absl::StrCat("a message is longer than the ", max_message_bytes_, "-byte limit"));
    }
    current_.append(bytes.data() + i, take);
    i += take;
    if (end != absl::string_view::npos) {
      ++i;
      in_frame_ = false;
      after_end_ = true;
      messages->push_back(std::move(current_));
      current_.clear();
    }
  }
  return absl::OkStatus();
}

}  // namespace hie::node::hl7
