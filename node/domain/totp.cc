#include "node/domain/totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace hie::node {
namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

}  // namespace

int64_t TotpStep(absl::Time t) {
  return absl::ToInt64Seconds(absl::Floor(t - absl::UnixEpoch(), kTotpStep)) /
         absl::ToInt64Seconds(kTotpStep);
}

std::string TotpCode(absl::string_view secret, int64_t step, int digits) {
  unsigned char counter[8];
  uint64_t c = static_cast<uint64_t>(step);
  for (int i = 7; i >= 0; --i) {
    counter[i] = static_cast<unsigned char>(c & 0xff);
    c >>= 8;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()), counter, sizeof(counter), mac,
       &mac_len);
  // Dynamic truncation (RFC 4226 section 5.3).
  const int offset = mac[mac_len - 1] & 0x0f;
  const uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                          (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                          (static_cast<uint32_t>(mac[offset + 2]) << 8) |
                          static_cast<uint32_t>(mac[offset + 3]);
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string code = std::to_string(binary % modulus);
  return std::string(static_cast<size_t>(digits) - code.size(), '0') + code;
}

std::string Base32Encode(absl::string_view bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32Alphabet[(buffer >> (bits - 5)) & 0x1f]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

absl::StatusOr<std::string> Base32Decode(absl::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  for (char ch : text) {
    if (ch == ' ') continue;
    int value;
    if (ch >= 'A' && ch <= 'Z') {
      value = ch - 'A';
    } else if (ch >= 'a' && ch <= 'z') {
      value = ch - 'a';
    } else if (ch >= '2' && ch <= '7') {
      value = ch - '2' + 26;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "base32: '", absl::CHexEscape(absl::string_view(&ch, 1)), "' is not in A-Z, 2-7"));
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  // What is left must be padding bits of the last character: fewer than 5, all zero.
  if (bits >= 5 || (buffer & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError("base32: the last character carries stray bits");
  }
  return out;
}

}  // namespace hie::node
