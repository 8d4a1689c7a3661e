#include "common/json/json_writer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/json/utf8.h"

namespace hie {

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else if (c < 0x80) {
          out += static_cast<char>(c);
        } else if (size_t n = Utf8SequenceLength(s, i); n > 0) {
          out.append(s.data() + i, n);
          i += n - 1;
        } else {
          out += "\\ufffd";  // not UTF-8: JSON must be, so the byte becomes U+FFFD
        }
    }
  }
  out += "\"";
  return out;
}

JsonObject& JsonObject::Add(absl::string_view key, absl::string_view value) {
  members_.emplace_back(std::string(key), JsonQuote(value));
  return *this;
}
JsonObject& JsonObject::Add(absl::string_view key, int64_t value) {
  members_.emplace_back(std::string(key), absl::StrCat(value));
  return *this;
}
JsonObject& JsonObject::Add(absl::string_view key, double value) {
  members_.emplace_back(std::string(key),
                        std::isfinite(value) ? absl::StrFormat("%.6g", value) : "null");
  return *this;
}
JsonObject& JsonObject::Add(absl::string_view key, bool value) {
  members_.emplace_back(std::string(key), value ? "true" : "false");
  return *this;
}
JsonObject& JsonObject::AddRaw(absl::string_view key, absl::string_view json) {
  members_.emplace_back(std::string(key), std::string(json));
  return *this;
}

std::string JsonObject::Build() const {
  std::string out = "{";
  for (size_t i = 0; i < members_.size(); ++i) {
    if (i > 0) out += ", ";
    absl::StrAppend(&out, JsonQuote(members_[i].first), ": ", members_[i].second);
  }
  out += "}";
  return out;
}

std::string JsonArray(const std::vector<std::string>& values) {
  return absl::StrCat("[", absl::StrJoin(values, ", "), "]");
}

}  // namespace hie
