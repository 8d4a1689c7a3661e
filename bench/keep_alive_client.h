// A load generator's HTTPS client: a set of HTTP/1.1 keep-alive connections to one
// server (Boost.Beast over OpenSSL), each reused for many requests with one request in
// flight at a time, as an EMR's or a load tester's connection pool uses them. The
// server's certificate must chain to the given CA and name the host (an IP address).
//
// Unlike cli/https_client.h (one request per connection, for hiectl), this keeps its
// connections open so that a measurement sees requests, not TLS handshakes.
#ifndef HIE_BENCH_KEEP_ALIVE_CLIENT_H_
#define HIE_BENCH_KEEP_ALIVE_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hie::bench {

struct HttpsEndpoint {
  std::string host = "127.0.0.1";  // an IP address the server's certificate names
  int port = 0;
  std::string ca_file;  // PEM: the CA the server's certificate must chain to
};

struct HttpsCall {
  std::string method = "GET";
  std::string target;  // origin form: "/Patient/p-1?_format=json"
  std::vector<std::pair<std::string, std::string>> headers;  // beside Host and Accept
  std::string content_type;                                  // with a body only
  std::string body;
};

struct HttpsReply {
  int status = 0;
  std::string content_type;
  std::string body;
  double millis = 0;         // from writing the request's first byte to reading the answer's last
  double header_millis = 0;  // ... to reading the end of the answer's header
};

// A closed-loop run: what each answered request took, and the whole run's wall time.
struct LoadRun {
  std::vector<double> millis;  // one per request, in the order they finished
  double seconds = 0;
  int64_t non_2xx = 0;  // answers with a status outside 200..299 (still timed)
};

// Not thread-safe: one caller at a time (the client's own threads run inside its calls).
class KeepAliveClient {
 public:
  // Opens `connections` connections (TCP, then the TLS handshake) and keeps them open.
  // `threads` run the connections' I/O during Run. Every connect, write and read must
  // finish within `timeout`. Errors: InvalidArgument for bad options;
  // FailedPrecondition when the CA does not load; Unavailable when a connection cannot
  // be made or the server's certificate does not verify; DeadlineExceeded.
  static absl::StatusOr<std::unique_ptr<KeepAliveClient>> Connect(const HttpsEndpoint& endpoint,
                                                                  int connections,
                                                                  absl::Duration timeout,
                                                                  int threads = 1);
  virtual ~KeepAliveClient() = default;

  // Sends `call` on the first connection and reads the whole answer.
  // Errors: Unavailable when the connection fails or the server closes it (a connection
  // is not reopened); DeadlineExceeded.
  virtual absl::StatusOr<HttpsReply> Send(const HttpsCall& call) = 0;

  // Sends make_call(i) for every i in [0, total), each on whichever connection is free:
  // every connection sends its next request as soon as its previous answer is whole.
  // Bodies are read and dropped. make_call may be called from the client's threads at
  // once. Errors as Send, for the first connection that fails (the others stop then too).
  virtual absl::StatusOr<LoadRun> Run(const std::function<HttpsCall(int64_t)>& make_call,
                                      int64_t total) = 0;
};

}  // namespace hie::bench

#endif  // HIE_BENCH_KEEP_ALIVE_CLIENT_H_
