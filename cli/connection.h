// Whom hiectl talks to and as whom: --target, --ca, --cert, --key (and optionally
// --crl-dir, --expect-org), or a --profile file holding them (hie.v1.ClientProfile,
// text format; the HIECTL_PROFILE environment variable names a default profile).
// Flags override the profile.
#ifndef HIE_CLI_CONNECTION_H_
#define HIE_CLI_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cli/flags.h"
#include "common/grpc/tls.h"
#include "grpcpp/channel.h"

namespace hie::cli {

struct ConnectionFlags {
  std::string target;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string crl_dir;
  std::string expect_org;
  std::string profile;
  int timeout_ms = 5000;
};

void AddConnectionFlags(FlagSet& flags, ConnectionFlags* out);

struct Connection {
  std::string target;
  std::shared_ptr<TlsContext> tls;
  std::shared_ptr<grpc::Channel> channel;
  int timeout_ms = 5000;
};

// Resolves the profile and flags and makes a mutual-TLS channel (not yet connected).
// Errors: InvalidArgument naming the missing or bad option; FailedPrecondition for
// unusable certificate files.
absl::StatusOr<Connection> Connect(const ConnectionFlags& flags);

}  // namespace hie::cli

#endif  // HIE_CLI_CONNECTION_H_
