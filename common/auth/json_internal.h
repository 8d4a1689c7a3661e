// simdjson helpers shared by the JWT, client and token code. Private to common/auth.
// Member names are std::string_view, the type simdjson looks them up by.
#ifndef HIE_COMMON_AUTH_JSON_INTERNAL_H_
#define HIE_COMMON_AUTH_JSON_INTERNAL_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "simdjson.h"

namespace hie::auth::internal {

// Parses `json` into `out`, which stays valid while `parser` lives and parses nothing
// else. Errors: InvalidArgument (naming `what`) if it is not a JSON object or names a
// member twice: two readers of one token must never see two different values.
absl::Status ParseObject(simdjson::dom::parser& parser, absl::string_view json,
                         absl::string_view what, simdjson::dom::object* out);

// True if `object` names a member `key` twice (checked at the top level only).
bool HasDuplicateMembers(simdjson::dom::object object);

// A string member: nullopt if absent; InvalidArgument if present but not a string.
absl::StatusOr<std::optional<std::string>> OptionalString(simdjson::dom::object object,
                                                          std::string_view key);
// A string member that must be present and non-empty.
absl::StatusOr<std::string> RequiredString(simdjson::dom::object object, std::string_view key);

// An array of strings: nullopt if absent; InvalidArgument if not an array of strings.
absl::StatusOr<std::optional<std::vector<std::string>>> OptionalStringArray(
    simdjson::dom::object object, std::string_view key);

// A NumericDate (RFC 7519: seconds since the epoch, possibly fractional): nullopt if
// absent; InvalidArgument if not a finite number.
absl::StatusOr<std::optional<absl::Time>> OptionalNumericDate(simdjson::dom::object object,
                                                              std::string_view key);

}  // namespace hie::auth::internal

#endif  // HIE_COMMON_AUTH_JSON_INTERNAL_H_
