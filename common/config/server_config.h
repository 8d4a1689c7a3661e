// Validation of the configuration shared by every daemon (hie.v1.ServerConfig,
// TlsConfig, PeerConfig) into plain, resolved settings. Each refusal names the file,
// line and field (see ConfigFile::FieldError).
#ifndef HIE_COMMON_CONFIG_SERVER_CONFIG_H_
#define HIE_COMMON_CONFIG_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config/config_file.h"
#include "common/limits/peer_limiter.h"
#include "proto/hie/v1/config.pb.h"

namespace hie {

struct TlsSettings {
  std::string ca_file;    // absolute
  std::string cert_file;  // absolute
  std::string key_file;   // absolute
  std::string crl_dir;    // absolute
  absl::Duration reload_interval = absl::Seconds(2);
};

// server.connection_limits, defaults filled in (see config.proto).
struct ConnectionLimits {
  int reserved_descriptors = 64;
  absl::Duration handshake_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(600);
  int max_concurrent_streams = 100;
  absl::Duration keepalive = absl::Seconds(120);
};

// server.security_audit, defaults filled in.
struct SecurityAuditSettings {
  absl::Duration window = absl::Seconds(60);
  int max_keys = 256;
};

struct ServerSettings {
  std::string listen_address;
  TlsSettings tls;
  int max_message_bytes = 4 * 1024 * 1024;
  std::string port_file;  // absolute or empty
  bool log_requests = true;
  PeerLimits peer_limits;  // server.peer_limits, defaults filled in
  ConnectionLimits connection_limits;
  SecurityAuditSettings security_audit;
};

struct PeerSettings {
  std::string address;
  std::string expected_org;
};

inline constexpr int kMinMessageBytes = 1024;
inline constexpr int kMaxMessageBytes = 64 * 1024 * 1024;

// Splits "host:port" or "[v6]:port". Errors: InvalidArgument saying what is wrong.
absl::Status CheckHostPort(absl::string_view address, bool allow_port_zero);

// Validates `config` found at `field` ("server") of `file`. Files named in the TLS
// section must exist and be readable; crl_dir must be a directory.
absl::StatusOr<ServerSettings> ValidateServerConfig(const ConfigFile& file,
                                                    const hie::v1::ServerConfig& config,
                                                    absl::string_view field);

// Validates a PeerConfig found at `field` ("mpi", "consent").
absl::StatusOr<PeerSettings> ValidatePeerConfig(const ConfigFile& file,
                                                const hie::v1::PeerConfig& config,
                                                absl::string_view field);

// Validates and resolves a required directory path at `field`; it need not exist yet.
absl::StatusOr<std::string> ValidateDataDir(const ConfigFile& file, const std::string& value,
                                            absl::string_view field);

}  // namespace hie

#endif  // HIE_COMMON_CONFIG_SERVER_CONFIG_H_
