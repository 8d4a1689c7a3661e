// The least HTTPS client hiectl needs (the FHIR API's token endpoint): one request per
// connection, the server's certificate checked against the exchange CA and the URL's
// host, the whole answer read; a client certificate only when given.
#ifndef HIE_CLI_HTTPS_CLIENT_H_
#define HIE_CLI_HTTPS_CLIENT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hie::cli {

struct HttpsResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  // Every header as received, in order, the name in lower case (Set-Cookie may repeat).
  std::vector<std::pair<std::string, std::string>> headers;
};

// Sends `method` `url` ("https://host:port/path") with `body` of `content_type` (none
// when empty) and `headers` (name, value); with `cert_file` and `key_file`, presents
// that client certificate. Errors: InvalidArgument for a URL that is not
// https://host:port/...; Unavailable when the server cannot be reached, its certificate does not
// verify or the answer is cut short; DeadlineExceeded after `timeout`.
absl::StatusOr<HttpsResponse> HttpsRequest(
    const std::string& method, const std::string& url, const std::string& ca_file,
    const std::string& content_type, const std::string& body, absl::Duration timeout,
    const std::vector<std::pair<std::string, std::string>>& headers = {},
    const std::string& cert_file = "", const std::string& key_file = "");

}  // namespace hie::cli

#endif  // HIE_CLI_HTTPS_CLIENT_H_
