// hie-node: a practice's node beside its EMR.

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/config/server_config.h"
#include "common/grpc/audit_witness.h"
#include "common/grpc/daemon_main.h"
#include "common/grpc/server_runner.h"
#include "common/status/status_macros.h"
#include "node/domain/labeler.h"
#include "node/rest/fhir_api.h"
#include "node/service/node_services.h"
#include "proto/hie/v1/config.pb.h"

namespace {

const hie::DaemonDescription kDescription = {
    .program = "hie-node",
    .summary =
        "A practice's hie node. It runs beside the practice's EMR and keeps the practice's\n"
        "records (FHIR R4), registers its patients with the exchange's MPI, serves records\n"
        "to other practices that hold a valid disclosure grant, and answers the practice's\n"
        "clinicians with everything about a patient from every practice that may share it.",
    .config_fields =
        "  (hie.v1.NodeConfig)\n"
        "  server                    the listener: see the shared fields below\n"
        "  data_dir                  directory for the record store, the outbox to the MPI, the\n"
        "                            audit chain and TLS working files; created mode 0700\n"
        "  mpi { address expected_org }       the exchange's MPI\n"
        "  consent { address expected_org }   the exchange's consent service\n"
        "  labelling                 sensitivity categories on ingest (docs/labelling.md);\n"
        "                            every meta.security label is honoured, and one hie does\n"
        "                            not know withholds the record under every grant\n"
        "    use_default_rules       the built-in ICD-10 / SNOMED CT / LOINC / RxNorm rules\n"
        "                            (default true)\n"
        "    rules { system codes code_prefixes category }   more rules: a Coding of `system`\n"
        "                            whose code is in `codes` or starts with one of\n"
        "                            `code_prefixes` gives the resource `category` (ETH, PSY...)\n"
        "    inherit_through_references   a record referencing a labelled Condition,\n"
        "                            Observation... of the same import inherits its categories\n"
        "                            (default true)\n"
        "  hl7                       an HL7 v2 feed over MLLP (docs/hl7.md); absent: none.\n"
        "                            Messages go through the same FHIR ingest, labelling and\n"
        "                            MPI outbox as imports; each is answered AA, AE or AR.\n"
        "    listen_address          host:port (default 127.0.0.1:2575, loopback only)\n"
        "    port_file               write the bound port here (for port 0)\n"
        "    tls                     TLS with the node's certificate and key (server.tls)\n"
        "    require_client_certificate   with tls: the engine must present a certificate\n"
        "                            of the exchange CA (server.tls.ca_file)\n"
        "    allow_plaintext_lan     allow a non-loopback address without tls (default false)\n"
        "    max_message_bytes       longest message; a longer one closes the connection\n"
        "                            (default 4194304)\n"
        "    idle_timeout_seconds    close a connection that brings no whole message this\n"
        "                            long (default 300); a TLS handshake gets 10 s\n"
        "    max_connections         connections at once (default 16)\n"
        "    application             MSH-3 of the ACKs when a message names no receiving\n"
        "                            application (default HIE; MSH-4 defaults to the org)\n"
        "  fhir_api                  the FHIR R4 REST API over HTTPS (docs/fhir-api.md); absent:\n"
        "                            none. TLS with the node's certificate (server.tls); callers\n"
        "                            bring a SMART Backend Services token from /auth/token\n"
        "                            (clients registered with `hiectl fhir client add`)\n"
        "    listen_address          host:port (required; port 0 picks one)\n"
        "    port_file               write the bound port here (for port 0)\n"
        "    base_url                the https:// URL clients use (token assertions' aud is\n"
        "                            base_url + /auth/token); default https://<listen_address>\n"
        "    token_lifetime_seconds  access token lifetime (default 300; 60..3600)\n"
        "    workers                 threads for store work (default 4; 1..64); beyond them\n"
        "                            and a queue of 256 requests are answered 429\n"
        "  limits                    sizes of single records (answers always travel in\n"
        "                            bounded pieces, whatever these are)\n"
        "    max_import_resource_bytes   largest resource (or JSON document) accepted on\n"
        "                            import; a larger one is rejected and reported\n"
        "                            (default 67108864, at most 1073741824)\n"
        "    max_record_bytes        largest record sent to a peer or taken into a federated\n"
        "                            answer; a larger one is skipped and named (Type/id) in\n"
        "                            its holder's status and the audit (default 67108864)\n"
        "    max_answer_bytes        most record text one holder's answer may bring into a\n"
        "                            federated query; a holder sending more is cut off and\n"
        "                            reported failed (default 536870912)\n"
        "  directive_feed            the consent service's feed of directive changes, which\n"
        "                            stops grants decided before a change (docs/consent.md):\n"
        "    pull_interval_ms        how often it is read (default 2000; 200..5000)\n"
        "    max_staleness_ms        a grant is served only if the feed was read this recently;\n"
        "                            else the node reads it first, and refuses if it cannot\n"
        "                            (default 8000; pull_interval_ms..9000)\n",
    .example_config = R"(# node.textproto
server {
  listen_address: "127.0.0.1:41003"
  tls {
    ca_file: "exchange-ca/ca.crt"
    cert_file: "certs/org-a.crt"
    key_file: "certs/org-a.key"
    crl_dir: "exchange-ca/crl"
  }
}
data_dir: "/var/lib/hie/node"
mpi { address: "127.0.0.1:41001" expected_org: "exchange" }
consent { address: "127.0.0.1:41002" expected_org: "exchange" }
hl7 { listen_address: "127.0.0.1:2575" }
)",
};

bool IsLoopback(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  return host == "localhost" || host == "[::1]" || host == "::1" || host.rfind("127.", 0) == 0;
}

absl::StatusOr<std::optional<hie::node::MllpServiceOptions>> ValidateHl7Config(
    const hie::ConfigFile& file, const hie::v1::NodeConfig& config,
    const hie::ServerSettings& server) {
  if (!config.has_hl7()) return std::nullopt;
  const hie::v1::Hl7Config& hl7 = config.hl7();
  hie::node::MllpServiceOptions out;
  if (!hl7.listen_address().empty()) out.listener.listen_address = hl7.listen_address();
  const std::string& address = out.listener.listen_address;
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return file.FieldError("hl7.listen_address", "must be host:port (127.0.0.1:2575, say)");
  }
  if (!IsLoopback(address) && !hl7.tls() && !hl7.allow_plaintext_lan()) {
    return file.FieldError("hl7.listen_address",
                           "is not a loopback address: set tls: true, or allow_plaintext_lan: "
                           "true to carry health data in clear on the LAN");
  }
  if (hl7.require_client_certificate() && !hl7.tls()) {
    return file.FieldError("hl7.require_client_certificate", "needs tls: true");
  }
  if (hl7.tls()) {
    out.listener.cert_file = server.tls.cert_file;
    out.listener.key_file = server.tls.key_file;
    out.listener.ca_file = server.tls.ca_file;
    out.listener.require_client_certificate = hl7.require_client_certificate();
  }
  if (hl7.max_message_bytes() > 0) out.listener.max_message_bytes = hl7.max_message_bytes();
  if (hl7.idle_timeout_seconds() > 0) {
    out.listener.idle_timeout = absl::Seconds(hl7.idle_timeout_seconds());
  }
  if (hl7.max_connections() > 0) out.listener.max_connections = hl7.max_connections();
  if (!hl7.application().empty()) out.processor.application = hl7.application();
  if (!hl7.port_file().empty()) out.port_file = file.ResolvePath(hl7.port_file());
  return out;
}

// NodeConfig.fhir_api -> the REST front's options; nullopt when it is absent.
absl::StatusOr<std::optional<hie::node::FhirApiOptions>> ValidateFhirApiConfig(
    const hie::ConfigFile& file, const hie::v1::NodeConfig& config,
    const hie::ServerSettings& server) {
  if (!config.has_fhir_api()) return std::nullopt;
  const hie::v1::FhirApiConfig& api = config.fhir_api();
  hie::node::FhirApiOptions out;
  const std::string& address = api.listen_address();
  size_t colon = address.rfind(':');
  int port = 0;
  if (address.empty() || colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return file.FieldError("fhir_api.listen_address", "must be host:port (127.0.0.1:8443, say)");
  }
  out.server.listen_address = address;
  out.server.cert_file = server.tls.cert_file;
  out.server.key_file = server.tls.key_file;
  out.server.ca_file = server.tls.ca_file;
  if (api.has_token_lifetime_seconds()) {
    if (api.token_lifetime_seconds() < 60 || api.token_lifetime_seconds() > 3600) {
      return file.FieldError("fhir_api.token_lifetime_seconds", "must be in 60..3600");
    }
    out.token_lifetime = absl::Seconds(api.token_lifetime_seconds());
  }
  if (api.has_workers()) {
    if (api.workers() < 1 || api.workers() > 64) {
      return file.FieldError("fhir_api.workers", "must be in 1..64");
    }
    out.workers = static_cast<int>(api.workers());
  }
  if (!api.base_url().empty() && api.base_url().rfind("https://", 0) != 0) {
    return file.FieldError("fhir_api.base_url", "must start with https://");
  }
  out.base_url = api.base_url();
  while (!out.base_url.empty() && out.base_url.back() == '/') out.base_url.pop_back();
  if (!api.port_file().empty()) out.port_file = file.ResolvePath(api.port_file());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  hie::BlockTerminationSignals();
  hie::v1::NodeConfig config;
  return hie::RunDaemon(
      argc, argv, kDescription, &config,
      [&config](const hie::ConfigFile& file) -> absl::StatusOr<hie::DaemonPlan> {
        hie::DaemonPlan plan;
        HIE_ASSIGN_OR_RETURN(plan.server,
                             hie::ValidateServerConfig(file, config.server(), "server"));
        HIE_ASSIGN_OR_RETURN(plan.data_dir,
                             hie::ValidateDataDir(file, config.data_dir(), "data_dir"));
        HIE_ASSIGN_OR_RETURN(hie::PeerSettings mpi,
                             hie::ValidatePeerConfig(file, config.mpi(), "mpi"));
        HIE_ASSIGN_OR_RETURN(hie::PeerSettings consent,
                             hie::ValidatePeerConfig(file, config.consent(), "consent"));
        if (auto labeler = hie::node::Labeler::FromConfig(config.labelling()); !labeler.ok()) {
          std::string message(labeler.status().message());
          size_t colon = message.find(": ");
          return file.FieldError(absl::StrCat("labelling.", message.substr(0, colon)),
                                 message.substr(colon + 2));
        }
        plan.policy = hie::node::NodeAuthorizationPolicy();
        HIE_ASSIGN_OR_RETURN(std::optional<hie::node::MllpServiceOptions> hl7,
                             ValidateHl7Config(file, config, plan.server));
        HIE_ASSIGN_OR_RETURN(std::optional<hie::node::FhirApiOptions> fhir_api,
                             ValidateFhirApiConfig(file, config, plan.server));
        hie::node::NodeOptions options;
        const hie::v1::DirectiveFeedConfig& feed = config.directive_feed();
        uint32_t interval_ms = feed.has_pull_interval_ms() ? feed.pull_interval_ms() : 2000;
        uint32_t staleness_ms = feed.has_max_staleness_ms() ? feed.max_staleness_ms() : 8000;
        if (interval_ms < 200 || interval_ms > 5000) {
          return file.FieldError("directive_feed.pull_interval_ms", "must be in 200..5000");
        }
        if (staleness_ms < interval_ms || staleness_ms > 9000) {
          return file.FieldError("directive_feed.max_staleness_ms",
                                 "must be in pull_interval_ms..9000 (directive changes must "
                                 "stop older grants within 10 seconds)");
        }
        options.directive_feed_interval = absl::Milliseconds(interval_ms);
        options.directive_feed_max_staleness = absl::Milliseconds(staleness_ms);
        options.hl7 = hl7;
        options.labelling = config.labelling();
        options.consent_address = consent.address;
        options.mpi_address = mpi.address;
        options.certificate_file = plan.server.tls.cert_file;
        constexpr uint64_t kMaxLimit = uint64_t{1} << 30;
        for (auto [value, name] :
             {std::pair{config.limits().max_import_resource_bytes(), "max_import_resource_bytes"},
              std::pair{config.limits().max_record_bytes(), "max_record_bytes"}}) {
          if (value > kMaxLimit) {
            return file.FieldError(absl::StrCat("limits.", name),
                                   absl::StrCat("must be at most ", kMaxLimit));
          }
        }
        options.max_import_resource_bytes = config.limits().max_import_resource_bytes();
        options.max_record_bytes = config.limits().max_record_bytes();
        if (uint64_t answer = config.limits().max_answer_bytes(); answer != 0) {
          const uint64_t record = config.limits().max_record_bytes() != 0
                                      ? config.limits().max_record_bytes()
                                      : uint64_t{64} << 20;
          if (answer < record || answer > (uint64_t{16} << 30)) {
            return file.FieldError("limits.max_answer_bytes",
                                   "must be at least max_record_bytes and at most 17179869184");
          }
          options.max_answer_bytes = answer;
        }
        options.max_message_bytes = static_cast<size_t>(plan.server.max_message_bytes);
        HIE_ASSIGN_OR_RETURN(
            hie::audit::CheckpointerOptions checkpoints,
            hie::ValidateAuditCheckpointConfig(file, config.server(), plan.server));
        plan.open_services = [options, consent, mpi, checkpoints, fhir_api](
                                 const std::string& data_dir,
                                 const std::shared_ptr<hie::TlsContext>& tls) mutable
            -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
          options.own_org = tls->self().org_id;
          if (options.hl7.has_value() && options.hl7->processor.facility.empty()) {
            options.hl7->processor.facility = options.own_org;
          }
          options.consent_credentials = tls->ChannelCredentials(
              {.org_id = consent.expected_org, .role = hie::pki::Role::kConsent});
          options.mpi_credentials =
              tls->ChannelCredentials({.org_id = mpi.expected_org, .role = hie::pki::Role::kMpi});
          options.peer_credentials = [tls](const std::string& org) {
            return tls->ChannelCredentials({.org_id = org, .role = hie::pki::Role::kNode});
          };
          if (fhir_api.has_value()) {
            // Client certificates on the REST front are checked as on gRPC: revoked
            // ones (the CRL) are refused.
            fhir_api->server.check_certificate = [tls](const hie::pki::CertIdentity& peer) {
              return tls->CheckPeer(peer);
            };
            options.fronts.push_back(
                [api = *fhir_api](std::shared_ptr<hie::node::NodeState> state,
                                  std::shared_ptr<hie::node::FederatedQuery> query) {
                  return hie::node::StartFhirApi(std::move(state), std::move(query), api);
                });
          }
          HIE_ASSIGN_OR_RETURN(auto services, hie::node::OpenNodeServices(data_dir, options));
          HIE_RETURN_IF_ERROR(hie::EnableAuditWitnessing(
              &services, tls, checkpoints,
              {{"consent", consent, hie::pki::Role::kConsent}, {"mpi", mpi, hie::pki::Role::kMpi}},
              /*serve_witness=*/false));
          return services;
        };
        return plan;
      });
}
