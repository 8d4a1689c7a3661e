// Writing JSON: hiectl's --json documents, FHIR resources the daemons emit.
#ifndef HIE_COMMON_JSON_JSON_WRITER_H_
#define HIE_COMMON_JSON_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace hie {

// `s` as a JSON string literal, quoted and escaped (control characters as \uXXXX). Bytes
// that are not well-formed UTF-8 become \ufffd, so the result is always valid JSON.
std::string JsonQuote(absl::string_view s);

// An object whose members keep the order they were added in.
class JsonObject {
 public:
  JsonObject& Add(absl::string_view key, absl::string_view value);
  JsonObject& Add(absl::string_view key, const char* value) {
    return Add(key, absl::string_view(value));
  }
  JsonObject& Add(absl::string_view key, int64_t value);
  JsonObject& Add(absl::string_view key, int value) {
    return Add(key, static_cast<int64_t>(value));
  }
  JsonObject& Add(absl::string_view key, double value);
  JsonObject& Add(absl::string_view key, bool value);
  // `json` must already be a valid JSON value (an object, an array...).
  JsonObject& AddRaw(absl::string_view key, absl::string_view json);
  std::string Build() const;

 private:
  std::vector<std::pair<std::string, std::string>> members_;
};

// `[a, b, ...]` from values that are already JSON.
std::string JsonArray(const std::vector<std::string>& values);

}  // namespace hie

#endif  // HIE_COMMON_JSON_JSON_WRITER_H_
