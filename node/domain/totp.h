// Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP, HMAC-SHA1), as
// authenticator apps compute them, and the base32 (RFC 4648) their secrets travel in.
// Plain functions: the accounts (accounts.h) keep the secrets and the replay state.
#ifndef HIE_NODE_DOMAIN_TOTP_H_
#define HIE_NODE_DOMAIN_TOTP_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hie::node {

// The length of a time step.
inline constexpr absl::Duration kTotpStep = absl::Seconds(30);

// The time step `t` falls in: floor(seconds since the Unix epoch / 30). Times before
// the epoch give negative steps.
int64_t TotpStep(absl::Time t);

// The `digits`-digit code (leading zeros kept) for `step` under `secret` (raw bytes):
// HOTP(secret, step) of RFC 4226, dynamic truncation modulo 10^digits.
// REQUIRES: 1 <= digits <= 9.
std::string TotpCode(absl::string_view secret, int64_t step, int digits = 6);

// RFC 4648 base32, upper case, without padding (authenticator apps take it so).
std::string Base32Encode(absl::string_view bytes);
// The inverse; accepts lower case, ignores spaces and trailing '='.
// Errors: InvalidArgument for a character outside the alphabet or a dangling bit group.
absl::StatusOr<std::string> Base32Decode(absl::string_view text);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_TOTP_H_
