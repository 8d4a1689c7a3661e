// hie-consent: directives, decisions, signed disclosure grants and the consent audit log.

#include "common/config/server_config.h"
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
        "  mpi { address expected_org }   the MPI to resolve patients at\n",
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
        (void)mpi;  // used once Authorize resolves patients
        plan.policy = hie::consent::ConsentAuthorizationPolicy();
        plan.services = hie::consent::MakeConsentServices();
        return plan;
      });
}
