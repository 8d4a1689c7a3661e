// hie-node's MLLP listener: HL7 v2 messages over TCP (optionally TLS with the node's own
// certificate), each answered with the acknowledgement its handler returns. Framing,
// the per-connection message-size limit and idle timeout live here; what a message means
// is the handler's business (Hl7Processor).
//
// One thread accepts; each connection has its own thread, and messages on a connection
// are handled in order (a sender waits for each ACK before the next message, as MLLP
// requires). Connections beyond max_connections are closed on accept.
#ifndef HIE_NODE_SERVICE_MLLP_LISTENER_H_
#define HIE_NODE_SERVICE_MLLP_LISTENER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hie::node {

struct MllpListenerOptions {
  std::string listen_address = "127.0.0.1:2575";  // host:port; port 0 picks one
  // TLS when cert_file is set: the node's certificate chain and key; with ca_file and
  // require_client_certificate, clients must present a certificate of that CA.
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  bool require_client_certificate = false;
  size_t max_message_bytes = 4 << 20;
  absl::Duration idle_timeout = absl::Minutes(5);
  int max_connections = 16;
};

// Thread-safe. The destructor stops accepting, closes every connection (a message being
// handled is finished and answered first) and joins all threads.
class MllpListener {
 public:
  // Returns the ACK (unframed) for one message (unframed). Called on connection threads,
  // possibly concurrently.
  using Handler = std::function<std::string(absl::string_view message)>;

  // Binds and starts serving. Errors: InvalidArgument for a bad address or TLS files;
  // Unavailable if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MllpListener>> Start(const MllpListenerOptions& options,
                                                             Handler handler);
  virtual ~MllpListener() = default;

  // The port bound.
  virtual int port() const = 0;
};

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_MLLP_LISTENER_H_
