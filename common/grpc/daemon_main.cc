#include "common/grpc/daemon_main.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string_view>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/grpc/audit_service.h"
#include "common/grpc/security_events.h"
#include "common/grpc/server_runner.h"
#include "common/grpc/tls.h"
#include "common/limits/descriptors.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"

namespace hie {
namespace {

constexpr char kVersion[] = "0.1.0";

constexpr char kSharedFields[] =
    R"(Fields shared by every daemon (hie.v1.ServerConfig, under "server"):
  listen_address            host:port to listen on, e.g. "127.0.0.1:41001"; port 0 picks a
                            free port (see port_file). Mutual TLS only: there is no
                            plaintext listener.
  tls {                     (hie.v1.TlsConfig; all PEM; relative paths are resolved
                            against the config file's directory)
    ca_file                 the exchange CA certificate, the only trust anchor
    cert_file               this daemon's certificate (leaf first); its URI SAN
                            hie://org/<org-id> is the daemon's identity
    key_file                its private key; keep it mode 0600
    crl_dir                 directory holding the exchange CA's current CRL (required;
                            the daemon refuses to start without a current, correctly
                            signed CRL). Of several CRLs the highest CRL number wins;
                            one numbered below a CRL accepted before (data_dir/
                            crl-number) is refused, logged and audited)
    reload_interval_seconds how often certificate, key and CRL are re-read (default 2,
                            1..3600). A rotated certificate goes into service only if its
                            key matches and it chains to the CA; a CRL that goes missing
                            or fails to verify leaves the last good one in force until
                            its nextUpdate, after which every peer is refused.
  }
  max_message_bytes         largest message in or out (default 4194304, 1024..67108864)
  port_file                 if set, the bound port is written there once serving
  log_requests              one log line per request on stderr (default true)
  connection_limits {       descriptors and connections (the daemon raises its descriptor
                            soft limit to the hard limit at start)
    reserved_descriptors    descriptors kept free for the audit log, store and outbound
                            calls; a connection that would take one is closed on accept
                            (default 64, 8..100000, at most half the limit)
    handshake_timeout_seconds  a connection without a completed TLS handshake this long
                            is closed (default 10, 1..300)
    idle_timeout_seconds    a connection with no call this long is closed (default 600)
    max_concurrent_streams  calls open at once on one connection (default 100)
    keepalive_seconds       idle connections are pinged this often; no answer in 20 s
                            closes them (default 120)
  }
  security_audit {          refused handshakes, calls and CRLs become audit entries
                            (AUTHENTICATION, REFUSE, SECURITY_CONFIG), aggregated:
    window_seconds          the first of a kind at once, then one summary per window
                            with the count (default 60, 1..3600)
    max_keys                distinct refusals tracked per window (default 256)
  }
  peer_limits {             per calling org (its certificate's org id); a call over a
                            limit is refused with RESOURCE_EXHAUSTED naming it. The
                            exchange's own services (roles mpi, consent) are not limited.
    max_concurrent_calls    calls of one org in flight at once (default 64, 1..100000)
    calls_per_second        sustained calls per second of one org, a token bucket
                            (default 0: no rate limit)
    burst                   calls one org may start at once above that rate (default
                            calls_per_second rounded up)
  }
  audit_checkpoints {       witnessed audit: the chain head is signed with the TLS key
                            and deposited with the witnesses (a node: consent and MPI;
                            consent: the MPI; the MPI: consent if configured) through a
                            persistent outbox; entries after the last witnessed
                            checkpoint are not protected (docs/security.md)
    interval_seconds        sign at most this long after the chain grew (default 60,
                            1..86400)
    every_entries           sign after this many new entries (default 100, 1..1000)
  }

Peers (hie.v1.PeerConfig, e.g. "mpi", "consent"):
  address                   host:port of the peer
  expected_org              the org id the peer's certificate must name; any other
                            member's certificate is refused
)";

void PrintError(const std::string& program, absl::string_view message) {
  std::cerr << program << ": " << message << "\n";
}

absl::Status PrepareDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create data directory ", dir, ": ", ec.message()));
  if (::chmod(dir.c_str(), 0700) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot restrict data directory ", dir, " to mode 0700"));
  }
  return absl::OkStatus();
}

// Takes an exclusive lock on DIR/daemon.lock for the life of the process, so that two
// daemons never share a data directory. Returns the open descriptor.
absl::StatusOr<int> LockDataDir(const std::string& dir) {
  const std::string path = dir + "/daemon.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::string holder;
    std::ifstream(path) >> holder;
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", dir, " is in use by another process",
                     holder.empty() ? "" : absl::StrCat(" (pid ", holder, ")")));
  }
  std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) != 0 || ::write(fd, pid.data(), pid.size()) < 0) {
    LogWarning("cannot record pid in ", path);
  }
  return fd;
}

// Writes security refusals to the daemon's own audit chain.
SecurityEventRecorder::Writer AuditWriter(audit::AuditLog* log) {
  return [log](const SecurityEvent& event, uint64_t count, bool summary) -> absl::Status {
    hie::v1::AuditEntry entry;
    switch (event.kind) {
      case SecurityEventKind::kAuthentication:
        entry.set_action(hie::v1::AUDIT_ACTION_AUTHENTICATION);
        break;
      case SecurityEventKind::kAuthorization:
        entry.set_action(hie::v1::AUDIT_ACTION_REFUSE);
        break;
      case SecurityEventKind::kSecurityConfig:
        entry.set_action(hie::v1::AUDIT_ACTION_SECURITY_CONFIG);
        break;
    }
    entry.set_actor_org(event.org_id);
    entry.set_outcome("refused");
    std::string detail = DescribeSecurityEvent(event);
    if (summary)
      detail = absl::StrCat(count, " more refusals like this in the last window: ", detail);
    entry.set_detail(detail);
    return log->Append(std::move(entry)).status();
  };
}

}  // namespace

std::string DaemonHelp(const DaemonDescription& d) {
  return absl::StrCat("Usage: ", d.program, " --config FILE [--check]\n\n", d.summary,
                      "\n\nOptions:\n"
                      "  --config FILE   the daemon's configuration, protobuf text format\n"
                      "  --check         validate the configuration and the TLS material, "
                      "then exit\n"
                      "  --help          show this help\n"
                      "  --version       print the version\n\n"
                      "Configuration fields of this daemon:\n",
                      d.config_fields, "\n", kSharedFields, "\nExample configuration:\n\n",
                      d.example_config,
                      "\nSignals: SIGTERM or SIGINT stop the daemon cleanly (calls in flight "
                      "get 5 seconds).\n");
}

int RunDaemon(int argc, char** argv, const DaemonDescription& description,
              google::protobuf::Message* config, const PlanFunction& plan_function) {
  SetLogProgramName(description.program);
  // Descriptors: as many as the hard limit allows (the systemd units set LimitNOFILE).
  absl::StatusOr<uint64_t> descriptors = RaiseDescriptorLimit();
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << DaemonHelp(description);
      return 0;
    } else if (arg == "--version") {
      std::cout << description.program << " " << kVersion << "\n";
      return 0;
    } else if (arg == "--check") {
      check_only = true;
    } else if (arg == "--config") {
      if (i + 1 >= argc) {
        PrintError(description.program, "--config needs a file (see --help)");
        return 2;
      }
      config_path = argv[++i];
    } else if (absl::StartsWith(arg, "--config=")) {
      config_path = std::string(arg.substr(9));
    } else {
      PrintError(description.program, absl::StrCat("unknown argument \"", arg, "\" (see --help)"));
      return 2;
    }
  }
  if (config_path.empty()) {
    PrintError(description.program, "--config FILE is required (see --help)");
    return 2;
  }

  absl::StatusOr<ConfigFile> file = ConfigFile::Load(config_path, config);
  if (!file.ok()) {
    PrintError(description.program, file.status().message());
    return 1;
  }
  absl::StatusOr<DaemonPlan> plan = plan_function(*file);
  if (!plan.ok()) {
    PrintError(description.program, plan.status().message());
    return 1;
  }
  if (absl::Status s = PrepareDataDir(plan->data_dir); !s.ok()) {
    PrintError(description.program, s.message());
    return 1;
  }
  absl::StatusOr<int> lock = LockDataDir(plan->data_dir);
  if (!lock.ok()) {
    PrintError(description.program, lock.status().message());
    return 1;
  }
  SecurityEventRecorderOptions recorder_options;
  recorder_options.window = plan->server.security_audit.window;
  recorder_options.max_keys = static_cast<size_t>(plan->server.security_audit.max_keys);
  auto security_events = std::make_shared<SecurityEventRecorder>(recorder_options);
  security_events->HoldUntilWriter();  // released below, once the audit chain is open
  // Stopped (pending summaries written, writer dropped) before the services holding the
  // audit log go, on every path out.
  absl::Cleanup stop_security_events = [&security_events] { security_events->Stop(); };
  TlsOptions tls_options;
  tls_options.files = plan->server.tls;
  tls_options.working_dir = plan->data_dir;
  tls_options.security_events = security_events;
  absl::StatusOr<std::shared_ptr<TlsContext>> tls = TlsContext::Create(tls_options);
  if (!tls.ok()) {
    PrintError(description.program, tls.status().message());
    return 1;
  }
  if (check_only) {
    std::cout << config_path << ": OK (org \"" << (*tls)->self().org_id << "\", role "
              << pki::RoleName((*tls)->self().role) << ")\n";
    return 0;
  }

  if (plan->open_services) {
    auto opened = plan->open_services(plan->data_dir, *tls);
    if (!opened.ok()) {
      PrintError(description.program, opened.status().message());
      return 1;
    }
    for (auto& service : *opened) plan->services.push_back(std::move(service));
  }
  bool audited = false;
  for (auto& service : plan->services) {
    if (auto* audit = dynamic_cast<AuditLogService*>(service.get()); audit != nullptr) {
      security_events->SetWriter(AuditWriter(audit->log()));
      audited = true;
      break;
    }
  }
  if (!audited) security_events->SetWriter(nullptr);  // logged only, from now on
  ServerRunnerOptions options;
  options.settings = plan->server;
  options.tls = *tls;
  options.policy = plan->policy;
  options.security_events = security_events;
  for (auto& service : plan->services) options.services.push_back(service.get());
  absl::StatusOr<std::unique_ptr<ServerRunner>> server = ServerRunner::Start(std::move(options));
  if (!server.ok()) {
    PrintError(description.program, server.status().message());
    return 1;
  }
  pki::CertIdentity self = (*tls)->self();
  LogInfo("serving as org \"", self.org_id, "\" (", std::string(pki::RoleName(self.role)), ") on ",
          plan->server.listen_address, " (port ", (*server)->port(), "), mutual TLS, ",
          descriptors.ok() ? absl::StrCat(*descriptors) : "unknown", " descriptors");
  int signal = WaitForTerminationSignal();
  LogInfo("signal ", signal, " received: stopping");
  (*server)->Shutdown(absl::Seconds(5));
  LogInfo("stopped");
  return 0;
}

}  // namespace hie
