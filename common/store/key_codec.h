// An order-preserving key encoding for LevelDB: composite keys whose byte order (what
// LevelDB sorts by) equals the order of their parts, so that range and prefix scans
// follow the domain's order.
//
//   string  bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x01. A string
//           therefore sorts before every longer string it prefixes, and the encoding of
//           (a, b) never collides with (a', b') for other parts.
//   uint64  8 bytes big-endian.
//   int64   8 bytes big-endian with the sign bit flipped (negatives first).
//
//   std::string key = KeyBuilder().AddString("patient").AddString(org).AddUint64(seq).Build();
//   KeyReader reader(key); reader.ReadString(&kind) && reader.ReadString(&org) && ...
#ifndef HIE_COMMON_STORE_KEY_CODEC_H_
#define HIE_COMMON_STORE_KEY_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace hie::store {

class KeyBuilder {
 public:
  KeyBuilder& AddString(absl::string_view part);
  KeyBuilder& AddUint64(uint64_t part);
  KeyBuilder& AddInt64(int64_t part);
  // The key so far; the builder may go on after.
  const std::string& Build() const { return key_; }

 private:
  std::string key_;
};

// Decodes what KeyBuilder wrote, part by part, in the same order. Each Read returns
// false (and leaves the reader failed) if the next bytes are not a part of that kind.
class KeyReader {
 public:
  // `key` is viewed, not copied: it must outlive the reader.
  explicit KeyReader(absl::string_view key) : rest_(key) {}
  bool ReadString(std::string* out);
  bool ReadUint64(uint64_t* out);
  bool ReadInt64(int64_t* out);
  // True when every byte has been read and no Read failed.
  bool done() const { return !failed_ && rest_.empty(); }

 private:
  bool Fail() {
    failed_ = true;
    rest_ = absl::string_view();
    return false;
  }

  absl::string_view rest_;
  bool failed_ = false;
};

// The smallest key greater than every key starting with `prefix` ("" if none exists,
// i.e. the prefix is all 0xFF): the exclusive end of a prefix scan.
std::string PrefixSuccessor(absl::string_view prefix);

}  // namespace hie::store

#endif  // HIE_COMMON_STORE_KEY_CODEC_H_
