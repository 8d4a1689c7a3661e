// SHA-256 over byte strings (OpenSSL EVP).
#ifndef HIE_COMMON_CRYPTO_HASH_H_
#define HIE_COMMON_CRYPTO_HASH_H_

#include <string>

#include "absl/strings/string_view.h"

namespace hie::crypto {

// The 32-byte SHA-256 digest of `data`.
std::string Sha256(absl::string_view data);
// The same digest as 64 lower-case hex characters.
std::string Sha256Hex(absl::string_view data);

}  // namespace hie::crypto

#endif  // HIE_COMMON_CRYPTO_HASH_H_
