// Reading a request target ("/Patient?name=O%27Brien&_count=10"): its path, its path
// segments and its query, percent-decoded. Shared by the router and the server so that
// there is one decoder.
#ifndef HIE_HTTP_TARGET_H_
#define HIE_HTTP_TARGET_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "http/request.h"

namespace hie::http {

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in a query).
// Returns nullopt for a malformed escape or a decoded NUL byte.
std::optional<std::string> PercentDecode(absl::string_view text, bool plus_is_space);

// The path's segments, each decoded: "/a/b%2Fc" -> {"a", "b/c"}; "/" -> {}.
// Returns nullopt if a segment does not decode. REQUIRES: path starts with '/'.
std::optional<std::vector<std::string>> PathSegments(absl::string_view path);

// `text` with every byte but RFC 3986's unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX:
// safe in a query name or value, and in a path segment.
std::string PercentEncode(absl::string_view text);

// `base` with `params` as its query ("?a=1&b=x%2Cy"), each name and value encoded: the
// self and next links of a search.
std::string SearchUrl(absl::string_view base,
                      const std::vector<std::pair<std::string, std::string>>& params);

struct Target {
  std::string path;  // as sent (percent-encoded), starting with '/'
  std::vector<QueryParam> query;
};

// Splits an origin-form target (RFC 9112 section 3.2.1) into path and decoded query.
// Errors: InvalidArgument if it does not start with '/' (absolute-form, "*"), its path
// does not decode, or a query parameter does not decode.
absl::StatusOr<Target> ParseTarget(absl::string_view target);

}  // namespace hie::http

#endif  // HIE_HTTP_TARGET_H_
