#include "common/store/key_codec.h"

namespace hie::store {
namespace {

void AppendBigEndian(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

bool ReadBigEndian(absl::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  uint64_t out = 0;
  for (int i = 0; i < 8; ++i) out = (out << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(8);
  *v = out;
  return true;
}

constexpr uint64_t kSignBit = uint64_t{1} << 63;

}  // namespace

KeyBuilder& KeyBuilder::AddString(absl::string_view part) {
  for (char c : part) {
    key_.push_back(c);
    if (c == '\0') key_.push_back('\xff');
  }
  key_.push_back('\0');
  key_.push_back('\x01');
  return *this;
}

KeyBuilder& KeyBuilder::AddUint64(uint64_t part) {
  AppendBigEndian(&key_, part);
  return *this;
}

KeyBuilder& KeyBuilder::AddInt64(int64_t part) {
  AppendBigEndian(&key_, static_cast<uint64_t>(part) ^ kSignBit);
  return *this;
}

bool KeyReader::ReadString(std::string* out) {
  if (failed_) return false;
  std::string value;
  for (size_t i = 0; i < rest_.size(); ++i) {
    char c = rest_[i];
    if (c != '\0') {
      value.push_back(c);
      continue;
    }
    if (i + 1 >= rest_.size()) break;
    char next = rest_[i + 1];
    if (next == '\xff') {
      value.push_back('\0');
      ++i;
    } else if (next == '\x01') {
      rest_.remove_prefix(i + 2);
      *out = std::move(value);
      return true;
    } else {
      break;
    }
  }
  return Fail();
}

bool KeyReader::ReadUint64(uint64_t* out) {
  if (failed_ || !ReadBigEndian(&rest_, out)) return Fail();
  return true;
}

bool KeyReader::ReadInt64(int64_t* out) {
  uint64_t raw = 0;
  if (!ReadUint64(&raw)) return false;
  *out = static_cast<int64_t>(raw ^ kSignBit);
  return true;
}

std::string PrefixSuccessor(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<uint8_t>(end.back()) != 0xff) {
      end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

}  // namespace hie::store
