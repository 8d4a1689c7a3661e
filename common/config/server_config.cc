#include "common/config/server_config.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/pki/identity.h"
#include "common/status/status_macros.h"

namespace hie {
namespace {

absl::StatusOr<std::string> RequireReadableFile(const ConfigFile& file, const std::string& value,
                                                const std::string& field) {
  if (value.empty()) return file.FieldError(field, "is required");
  std::string path = file.ResolvePath(value);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return file.FieldError(field, absl::StrCat("\"", path, "\" is not a readable file"));
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return file.FieldError(field, absl::StrCat("\"", path, "\" is not readable by this user"));
  }
  return path;
}

}  // namespace

absl::Status CheckHostPort(absl::string_view address, bool allow_port_zero) {
  if (address.empty()) return absl::InvalidArgumentError("is empty; expected host:port");
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", address, "\" is not host:port (e.g. 127.0.0.1:41001)"));
  }
  absl::string_view host = address.substr(0, colon);
  if (host.front() == '[' && host.back() != ']') {
    return absl::InvalidArgumentError(absl::StrCat("\"", address, "\": unclosed [ in host"));
  }
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535 ||
      (port == 0 && !allow_port_zero)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", address, "\": port must be ", allow_port_zero ? "0" : "1", "..65535"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerSettings> ValidateServerConfig(const ConfigFile& file,
                                                    const hie::v1::ServerConfig& config,
                                                    absl::string_view field) {
  const std::string f(field);
  ServerSettings out;
  if (config.listen_address().empty()) {
    return file.FieldError(f + ".listen_address", "is required (e.g. \"127.0.0.1:41001\")");
  }
  if (absl::Status s = CheckHostPort(config.listen_address(), /*allow_port_zero=*/true); !s.ok()) {
    return file.FieldError(f + ".listen_address", s.message());
  }
  out.listen_address = config.listen_address();

  if (!config.has_tls()) {
    return file.FieldError(f + ".tls",
                           "is required: every listener is mutual TLS (ca_file, cert_file, "
                           "key_file, crl_dir)");
  }
  const hie::v1::TlsConfig& tls = config.tls();
  HIE_ASSIGN_OR_RETURN(out.tls.ca_file,
                       RequireReadableFile(file, tls.ca_file(), f + ".tls.ca_file"));
  HIE_ASSIGN_OR_RETURN(out.tls.cert_file,
                       RequireReadableFile(file, tls.cert_file(), f + ".tls.cert_file"));
  HIE_ASSIGN_OR_RETURN(out.tls.key_file,
                       RequireReadableFile(file, tls.key_file(), f + ".tls.key_file"));
  if (tls.crl_dir().empty()) {
    return file.FieldError(f + ".tls.crl_dir",
                           "is required: the directory holding the exchange CA's CRL");
  }
  out.tls.crl_dir = file.ResolvePath(tls.crl_dir());
  std::error_code ec;
  if (!std::filesystem::is_directory(out.tls.crl_dir, ec)) {
    return file.FieldError(f + ".tls.crl_dir",
                           absl::StrCat("\"", out.tls.crl_dir, "\" is not a directory"));
  }
  if (tls.reload_interval_seconds() != 0) {
    if (tls.reload_interval_seconds() > 3600) {
      return file.FieldError(f + ".tls.reload_interval_seconds", "must be in 1..3600");
    }
    out.tls.reload_interval = absl::Seconds(tls.reload_interval_seconds());
  }

  if (config.max_message_bytes() != 0) {
    if (config.max_message_bytes() < static_cast<uint32_t>(kMinMessageBytes) ||
        config.max_message_bytes() > static_cast<uint32_t>(kMaxMessageBytes)) {
      return file.FieldError(f + ".max_message_bytes",
                             absl::StrCat("must be in ", kMinMessageBytes, "..", kMaxMessageBytes));
    }
    out.max_message_bytes = static_cast<int>(config.max_message_bytes());
  }
  out.port_file = file.ResolvePath(config.port_file());
  out.log_requests = !config.has_log_requests() || config.log_requests();

  const hie::v1::PeerLimitsConfig& limits = config.peer_limits();
  if (limits.has_max_concurrent_calls()) {
    if (limits.max_concurrent_calls() < 1 || limits.max_concurrent_calls() > 100000) {
      return file.FieldError(f + ".peer_limits.max_concurrent_calls", "must be in 1..100000");
    }
    out.peer_limits.max_concurrent_calls = static_cast<int>(limits.max_concurrent_calls());
  }
  if (limits.has_calls_per_second()) {
    if (!(limits.calls_per_second() >= 0 && limits.calls_per_second() <= 1000000)) {
      return file.FieldError(f + ".peer_limits.calls_per_second", "must be in 0..1000000");
    }
    out.peer_limits.calls_per_second = limits.calls_per_second();
  }
  if (limits.has_burst()) {
    if (limits.burst() < 1 || limits.burst() > 1000000) {
      return file.FieldError(f + ".peer_limits.burst", "must be in 1..1000000");
    }
    if (out.peer_limits.calls_per_second <= 0) {
      return file.FieldError(f + ".peer_limits.burst", "needs peer_limits.calls_per_second");
    }
    out.peer_limits.burst = static_cast<int>(limits.burst());
  }

  // A bounded optional field: the default if unset, else checked against [lo, hi].
  auto bounded = [&](bool has, uint32_t value, uint32_t lo, uint32_t hi, const std::string& name,
                     int* target) -> absl::Status {
    if (!has) return absl::OkStatus();
    if (value < lo || value > hi) {
      return file.FieldError(absl::StrCat(f, ".", name), absl::StrCat("must be in ", lo, "..", hi));
    }
    *target = static_cast<int>(value);
    return absl::OkStatus();
  };
  const hie::v1::ConnectionLimitsConfig& c = config.connection_limits();
  ConnectionLimits& cl = out.connection_limits;
  HIE_RETURN_IF_ERROR(bounded(c.has_reserved_descriptors(), c.reserved_descriptors(), 8, 100000,
                              "connection_limits.reserved_descriptors", &cl.reserved_descriptors));
  int seconds = 0;
  seconds = static_cast<int>(absl::ToInt64Seconds(cl.handshake_timeout));
  HIE_RETURN_IF_ERROR(bounded(c.has_handshake_timeout_seconds(), c.handshake_timeout_seconds(), 1,
                              300, "connection_limits.handshake_timeout_seconds", &seconds));
  cl.handshake_timeout = absl::Seconds(seconds);
  seconds = static_cast<int>(absl::ToInt64Seconds(cl.idle_timeout));
  HIE_RETURN_IF_ERROR(bounded(c.has_idle_timeout_seconds(), c.idle_timeout_seconds(), 10, 86400,
                              "connection_limits.idle_timeout_seconds", &seconds));
  cl.idle_timeout = absl::Seconds(seconds);
  HIE_RETURN_IF_ERROR(bounded(c.has_max_concurrent_streams(), c.max_concurrent_streams(), 1, 10000,
                              "connection_limits.max_concurrent_streams",
                              &cl.max_concurrent_streams));
  seconds = static_cast<int>(absl::ToInt64Seconds(cl.keepalive));
  HIE_RETURN_IF_ERROR(bounded(c.has_keepalive_seconds(), c.keepalive_seconds(), 10, 86400,
                              "connection_limits.keepalive_seconds", &seconds));
  cl.keepalive = absl::Seconds(seconds);

  const hie::v1::SecurityAuditConfig& a = config.security_audit();
  seconds = static_cast<int>(absl::ToInt64Seconds(out.security_audit.window));
  HIE_RETURN_IF_ERROR(bounded(a.has_window_seconds(), a.window_seconds(), 1, 3600,
                              "security_audit.window_seconds", &seconds));
  out.security_audit.window = absl::Seconds(seconds);
  HIE_RETURN_IF_ERROR(bounded(a.has_max_keys(), a.max_keys(), 1, 100000, "security_audit.max_keys",
                              &out.security_audit.max_keys));
  return out;
}

absl::StatusOr<PeerSettings> ValidatePeerConfig(const ConfigFile& file,
                                                const hie::v1::PeerConfig& config,
                                                absl::string_view field) {
  const std::string f(field);
  if (config.address().empty()) return file.FieldError(f + ".address", "is required");
  if (absl::Status s = CheckHostPort(config.address(), /*allow_port_zero=*/false); !s.ok()) {
    return file.FieldError(f + ".address", s.message());
  }
  if (config.expected_org().empty()) {
    return file.FieldError(f + ".expected_org",
                           "is required: the org id the peer's certificate must name");
  }
  if (!pki::IsValidOrgId(config.expected_org())) {
    return file.FieldError(f + ".expected_org",
                           "is not a valid org id (1-63 of a-z, 0-9, '-', not starting with '-')");
  }
  return PeerSettings{config.address(), config.expected_org()};
}

absl::StatusOr<std::string> ValidateDataDir(const ConfigFile& file, const std::string& value,
                                            absl::string_view field) {
  if (value.empty()) return file.FieldError(field, "is required");
  std::string path = file.ResolvePath(value);
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_directory(path, ec)) {
    return file.FieldError(field, absl::StrCat("\"", path, "\" exists and is not a directory"));
  }
  return path;
}

}  // namespace hie
