// A deliberately plain HTTPS client for the server tests: OpenSSL over a blocking
// loopback socket with send and receive timeouts, so that a test can send exactly the
// bytes it means (slowly, malformed, oversized) and never waits longer than it says.
#ifndef HIE_TESTS_HTTP_TEST_CLIENT_H_
#define HIE_TESTS_HTTP_TEST_CLIENT_H_

#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hie::http::testing {

struct ClientOptions {
  std::string ca_file;    // the server's certificate must chain to it
  std::string cert_file;  // empty: no client certificate
  std::string key_file;
  absl::Duration timeout = absl::Seconds(3);  // for every send and receive
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Not thread-safe.
class TestClient {
 public:
  ~TestClient();

  // Connects to 127.0.0.1:`port` and completes the TLS handshake.
  // Errors: Unavailable if the connection is refused or closed during the handshake.
  static absl::StatusOr<std::unique_ptr<TestClient>> Connect(int port,
                                                             const ClientOptions& options);

  // Sends `bytes` as they are. Errors: Unavailable if the connection is gone.
  absl::Status Send(absl::string_view bytes);

  // Reads one response (an interim 100 too); its body by Content-Length. Errors: Unavailable if the
  // connection closed first, DeadlineExceeded if nothing came within the timeout.
  absl::StatusOr<HttpResponse> ReadResponse();

  // Sends a request with `headers` (each "Name: value") and reads the response.
  absl::StatusOr<HttpResponse> Request(absl::string_view method, absl::string_view target,
                                       const std::vector<std::string>& headers = {},
                                       absl::string_view body = "");

  // Changes the send and receive timeout.
  void set_timeout(absl::Duration timeout);

  // True if the server closes the connection (or resets it) within `limit`; bytes that
  // arrive before that are discarded.
  bool WaitClosed(absl::Duration limit);

 private:
  TestClient() = default;
  // Reads more bytes into buffer_. Errors as ReadResponse.
  absl::Status Fill();

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buffer_;
};

}  // namespace hie::http::testing

#endif  // HIE_TESTS_HTTP_TEST_CLIENT_H_
