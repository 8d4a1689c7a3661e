#include "cli/connection.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/config/config_file.h"
#include "common/config/server_config.h"
#include "common/status/status_macros.h"
#include "grpcpp/create_channel.h"
#include "proto/hie/v1/config.pb.h"

namespace hie::cli {

void AddConnectionFlags(FlagSet& flags, ConnectionFlags* out) {
  flags.String("target", &out->target, "HOST:PORT", "the daemon to talk to");
  flags.String("ca", &out->ca_file, "FILE", "the exchange CA certificate (PEM)");
  flags.String("cert", &out->cert_file, "FILE", "your certificate (PEM)");
  flags.String("key", &out->key_file, "FILE", "your private key (PEM)");
  flags.String("crl-dir", &out->crl_dir, "DIR",
               "also check the server's certificate against the CA's CRL in DIR");
  flags.String("expect-org", &out->expect_org, "ORG",
               "refuse the server unless its certificate names org ORG");
  flags.String("profile", &out->profile, "FILE",
               "connection profile (hie.v1.ClientProfile textproto; default $HIECTL_PROFILE)");
  flags.Int("timeout-ms", &out->timeout_ms, "MS", "deadline for each call (default 5000)");
}

absl::StatusOr<Connection> Connect(const ConnectionFlags& flags) {
  ConnectionFlags merged = flags;
  std::string profile_path = flags.profile;
  if (profile_path.empty()) {
    if (const char* env = std::getenv("HIECTL_PROFILE"); env != nullptr) profile_path = env;
  }
  if (!profile_path.empty()) {
    hie::v1::ClientProfile profile;
    HIE_ASSIGN_OR_RETURN(ConfigFile file, ConfigFile::Load(profile_path, &profile));
    auto fill = [&](std::string& field, const std::string& value, bool is_path) {
      if (field.empty()) field = is_path ? file.ResolvePath(value) : value;
    };
    fill(merged.target, profile.target(), false);
    fill(merged.ca_file, profile.ca_file(), true);
    fill(merged.cert_file, profile.cert_file(), true);
    fill(merged.key_file, profile.key_file(), true);
    fill(merged.crl_dir, profile.crl_dir(), true);
    fill(merged.expect_org, profile.expected_org(), false);
  }
  if (merged.target.empty()) {
    return absl::InvalidArgumentError("--target HOST:PORT is required (or --profile FILE)");
  }
  if (absl::Status s = CheckHostPort(merged.target, false); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--target: ", s.message()));
  }
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string*>{"--ca", &merged.ca_file},
        {"--cert", &merged.cert_file},
        {"--key", &merged.key_file}}) {
    if (value->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " FILE is required: hiectl speaks mutual TLS only (or --profile)"));
    }
  }
  if (merged.timeout_ms <= 0) {
    return absl::InvalidArgumentError("--timeout-ms must be positive");
  }
  TlsOptions options;
  options.files.ca_file = merged.ca_file;
  options.files.cert_file = merged.cert_file;
  options.files.key_file = merged.key_file;
  options.files.crl_dir = merged.crl_dir;
  options.check_revocation = !merged.crl_dir.empty();
  HIE_ASSIGN_OR_RETURN(std::shared_ptr<TlsContext> tls, TlsContext::Create(options));
  PeerExpectation expect;
  expect.org_id = merged.expect_org;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  Connection connection;
  connection.target = merged.target;
  connection.channel =
      grpc::CreateCustomChannel(merged.target, tls->ChannelCredentials(expect), args);
  connection.tls = std::move(tls);
  connection.timeout_ms = merged.timeout_ms;
  return connection;
}

}  // namespace hie::cli
