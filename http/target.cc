#include "http/target.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hie::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> PercentDecode(absl::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c != '%') {
      out += c;
    } else {
      if (i + 2 >= text.size()) return std::nullopt;
      int high = HexValue(text[i + 1]);
      int low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      // A NUL would cut the value short wherever it meets a C string.
      if (high == 0 && low == 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    }
  }
  return out;
}

std::optional<std::vector<std::string>> PathSegments(absl::string_view path) {
  std::vector<std::string> segments;
  if (path == "/") return segments;
  for (absl::string_view raw : absl::StrSplit(path.substr(1), '/')) {
    std::optional<std::string> segment = PercentDecode(raw, /*plus_is_space=*/false);
    if (!segment) return std::nullopt;
    segments.push_back(*std::move(segment));
  }
  return segments;
}

absl::StatusOr<Target> ParseTarget(absl::string_view target) {
  if (target.empty() || target.front() != '/') {
    return absl::InvalidArgumentError("the request target must be a path starting with '/'");
  }
  Target out;
  size_t question = target.find('?');
  out.path = std::string(target.substr(0, question));
  if (!PathSegments(out.path)) {
    return absl::InvalidArgumentError("the request path has a malformed percent escape");
  }
  if (question == absl::string_view::npos) return out;
  for (absl::string_view pair : absl::StrSplit(target.substr(question + 1), '&')) {
    if (pair.empty()) continue;
    size_t equals = pair.find('=');
    std::optional<std::string> name = PercentDecode(pair.substr(0, equals), true);
    std::optional<std::string> value = PercentDecode(
        equals == absl::string_view::npos ? absl::string_view() : pair.substr(equals + 1), true);
    if (!name || !value) {
      return absl::InvalidArgumentError(absl::StrCat("query parameter ", out.query.size() + 1,
                                                     " has a malformed percent escape"));
    }
    out.query.push_back({*std::move(name), *std::move(value)});
  }
  return out;
}

std::string PercentEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string SearchUrl(absl::string_view base,
                      const std::vector<std::pair<std::string, std::string>>& params) {
  std::string url(base);
  char separator = '?';
  for (const auto& [name, value] : params) {
    absl::StrAppend(&url, std::string(1, separator), PercentEncode(name), "=",
                    PercentEncode(value));
    separator = '&';
  }
  return url;
}

}  // namespace hie::http
