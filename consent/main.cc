// hie-consent: directives, decisions, signed disclosure grants and the consent audit log.

#include "absl/strings/str_cat.h"
#include "common/config/server_config.h"
#include "common/grpc/audit_witness.h"
#include "common/grpc/daemon_main.h"
#include "common/grpc/server_runner.h"
#include "common/status/status_macros.h"
#include "consent/service/consent_services.h"
#include "proto/hie/v1/config.pb.h"

namespace {

const hie::DaemonDescription kDescription = {
    .program = "hie-consent",
    .summary =
        "The exchange's consent service: it keeps patients' directives (FHIR R4 Consent),\n"
        "decides each request for records under the patient's choices and the exchange's\n"
        "policy, hands the requester a signed disclosure grant that every record holder\n"
        "checks on its own, and keeps a hash-chained audit of every decision. It resolves\n"
        "patients at the MPI and never holds clinical data.",
    .config_fields =
        "  (hie.v1.ConsentConfig)\n"
        "  server                    the listener: see the shared fields below\n"
        "  data_dir                  directory for directives, signing keys, the audit chain\n"
        "                            and TLS working files; created mode 0700 if missing\n"
        "  mpi { address expected_org }   the MPI to resolve patients at\n"
        "  policy                    the exchange's consent policy (docs/consent.md):\n"
        "    model                   MODEL_OPT_OUT (default) or MODEL_OPT_IN\n"
        "    purposes_without_consent { codes: \"TREAT\" ... }  under opt-out, purposes\n"
        "                            allowed with no consent on file (default TREAT, ETREAT)\n"
        "    withheld_categories { codes: \"ETH\" ... }  categories withheld unless the\n"
        "                            patient releases them (default ETH, substance use)\n"
        "    break_glass_allowed     ETREAT with a reason overrides a deny (default true)\n"
        "    break_glass_roles { codes: \"physician\" ... }  the user roles that may use ETREAT\n"
        "                            at all (default physician, nurse, nurse-practitioner,\n"
        "                            physician-assistant, paramedic)\n"
        "    break_glass_overrides_directives   ETREAT may override a patient's own deny\n"
        "                            (an opt-out on file), not only the policy's (default false)\n"
        "  grants                    how disclosure grants are signed:\n"
        "    validity_seconds        how long a grant is valid (default 300; 30..3600)\n"
        "    key_rotation_days       a signing key's service life (default 30; 1..3650)\n",
    .example_config = R"(# consent.textproto
server {
  listen_address: "127.0.0.1:41002"
  tls {
    ca_file: "exchange-ca/ca.crt"
    cert_file: "certs/consent.crt"
    key_file: "certs/consent.key"
    crl_dir: "exchange-ca/crl"
  }
}
data_dir: "/var/lib/hie/consent"
mpi { address: "127.0.0.1:41001" expected_org: "exchange" }
policy {
  model: MODEL_OPT_OUT
  withheld_categories { codes: "ETH" codes: "PSY" }
}
grants { validity_seconds: 300 }
)",
};

}  // namespace

int main(int argc, char** argv) {
  hie::BlockTerminationSignals();
  hie::v1::ConsentConfig config;
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
        hie::consent::ConsentOptions options;
        options.mpi = mpi;
        absl::StatusOr<hie::consent::Policy> policy =
            hie::consent::PolicyFromConfig(config.policy());
        if (!policy.ok()) {
          // "field: what" from PolicyFromConfig, placed at its line in the file.
          std::string message(policy.status().message());
          size_t colon = message.find(": ");
          return file.FieldError(absl::StrCat("policy.", message.substr(0, colon)),
                                 message.substr(colon + 2));
        }
        options.policy = *std::move(policy);
        if (config.grants().has_validity_seconds()) {
          uint32_t v = config.grants().validity_seconds();
          if (v < 30 || v > 3600)
            return file.FieldError("grants.validity_seconds", "must be 30..3600");
          options.grant_validity = absl::Seconds(v);
        }
        if (config.grants().has_key_rotation_days()) {
          uint32_t d = config.grants().key_rotation_days();
          if (d < 1 || d > 3650)
            return file.FieldError("grants.key_rotation_days", "must be 1..3650");
          options.key_rotation = absl::Hours(24 * d);
        }
        plan.policy = hie::consent::ConsentAuthorizationPolicy();
        HIE_ASSIGN_OR_RETURN(
            hie::audit::CheckpointerOptions checkpoints,
            hie::ValidateAuditCheckpointConfig(file, config.server(), plan.server));
        plan.open_services = [options, checkpoints](const std::string& data_dir,
                                                    const std::shared_ptr<hie::TlsContext>& tls)
            -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
          HIE_ASSIGN_OR_RETURN(auto services,
                               hie::consent::OpenConsentServices(
                                   data_dir,
                                   tls->ChannelCredentials({.org_id = options.mpi.expected_org,
                                                            .role = hie::pki::Role::kMpi}),
                                   options));
          HIE_RETURN_IF_ERROR(hie::EnableAuditWitnessing(
              &services, tls, checkpoints, {{"mpi", options.mpi, hie::pki::Role::kMpi}},
              /*serve_witness=*/true));
          return services;
        };
        return plan;
      });
}
