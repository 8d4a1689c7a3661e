#include "common/auth/json_internal.h"

#include <cmath>
#include <set>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace hie::auth::internal {
namespace {

// Far enough for any real date, near enough that absl::Time arithmetic stays exact.
constexpr double kMaxAbsSeconds = 1e11;

absl::Status NotA(std::string_view key, absl::string_view kind) {
  return absl::InvalidArgumentError(
      absl::StrCat("\"", absl::string_view(key.data(), key.size()), "\" is not ", kind));
}

}  // namespace

bool HasDuplicateMembers(simdjson::dom::object object) {
  std::set<std::string_view> seen;
  for (auto field : object) {
    if (!seen.insert(field.key).second) return true;
  }
  return false;
}

absl::Status ParseObject(simdjson::dom::parser& parser, absl::string_view json,
                         absl::string_view what, simdjson::dom::object* out) {
  simdjson::dom::element root;
  if (auto error = parser.parse(json.data(), json.size()).get(root); error) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not JSON: ", simdjson::error_message(error)));
  }
  if (root.get_object().get(*out)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a JSON object"));
  }
  if (HasDuplicateMembers(*out)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " names a member twice"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> OptionalString(simdjson::dom::object object,
                                                          std::string_view key) {
  simdjson::dom::element value;
  if (object.at_key(key).get(value)) return std::nullopt;
  std::string_view text;
  if (value.get_string().get(text)) return NotA(key, "a string");
  return std::string(text);
}

absl::StatusOr<std::string> RequiredString(simdjson::dom::object object, std::string_view key) {
  absl::StatusOr<std::optional<std::string>> value = OptionalString(object, key);
  if (!value.ok()) return value.status();
  if (!value->has_value() || (*value)->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", absl::string_view(key.data(), key.size()), "\" is missing"));
  }
  return **value;
}

absl::StatusOr<std::optional<std::vector<std::string>>> OptionalStringArray(
    simdjson::dom::object object, std::string_view key) {
  simdjson::dom::element value;
  if (object.at_key(key).get(value)) return std::nullopt;
  simdjson::dom::array items;
  if (value.get_array().get(items)) return NotA(key, "an array of strings");
  std::vector<std::string> out;
  for (simdjson::dom::element item : items) {
    std::string_view text;
    if (item.get_string().get(text)) return NotA(key, "an array of strings");
    out.emplace_back(text);
  }
  return out;
}

absl::StatusOr<std::optional<absl::Time>> OptionalNumericDate(simdjson::dom::object object,
                                                              std::string_view key) {
  simdjson::dom::element value;
  if (object.at_key(key).get(value)) return std::nullopt;
  int64_t whole = 0;
  if (!value.get_int64().get(whole)) {
    if (whole > kMaxAbsSeconds || whole < -kMaxAbsSeconds) return NotA(key, "a plausible date");
    return absl::FromUnixSeconds(whole);
  }
  double seconds = 0;
  if (value.get_double().get(seconds) || !std::isfinite(seconds) ||
      std::abs(seconds) > kMaxAbsSeconds) {
    return NotA(key, "a NumericDate (seconds since 1970)");
  }
  return absl::UnixEpoch() + absl::Seconds(seconds);
}

}  // namespace hie::auth::internal
