// The stored form of the audit log, for code that reads or writes a store without an
// open AuditLog: the log itself, and tests that play an attacker editing a stopped
// daemon's store. Not an API for anything else.
#ifndef HIE_COMMON_AUDIT_AUDIT_LOG_INTERNAL_H_
#define HIE_COMMON_AUDIT_AUDIT_LOG_INTERNAL_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace hie::audit::internal {

inline constexpr size_t kHashHexSize = 64;

// A stored entry is its hex hash followed by its body: the serialized AuditEntry with
// `hash` empty. The hash is computed over exactly those bytes, so verifying never
// depends on serializing a message the same way twice.
std::string EncodeStored(const std::string& hash_hex, const std::string& body);
bool DecodeStored(absl::string_view stored, std::string* hash_hex, absl::string_view* body);

// Keys of entry `sequence` and of the head record of the log under `prefix`, and the
// head record's value.
std::string EntryKey(absl::string_view prefix, uint64_t sequence);
std::string HeadKey(absl::string_view prefix);
std::string HeadValue(uint64_t sequence, absl::string_view hash_hex);

}  // namespace hie::audit::internal

#endif  // HIE_COMMON_AUDIT_AUDIT_LOG_INTERNAL_H_
