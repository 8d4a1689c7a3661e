// hie-node: a practice's node beside its EMR.

#include "absl/strings/str_cat.h"
#include "common/config/server_config.h"
#include "common/grpc/daemon_main.h"
#include "common/grpc/server_runner.h"
#include "common/status/status_macros.h"
#include "node/domain/labeler.h"
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
        "  labelling                 sensitivity categories on ingest (docs/labelling.md):\n"
        "    use_default_rules       the built-in ICD-10 / SNOMED CT / LOINC rules (default true)\n"
        "    rules { system codes code_prefixes category }   more rules: a Coding of `system`\n"
        "                            whose code is in `codes` or starts with one of\n"
        "                            `code_prefixes` gives the resource `category` (ETH, PSY...)\n"
        "    inherit_through_references   a record referencing a labelled Condition,\n"
        "                            Observation... of the same import inherits its categories\n"
        "                            (default true)\n",
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
)",
};

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
        hie::node::NodeOptions options;
        options.labelling = config.labelling();
        options.consent_address = consent.address;
        options.mpi_address = mpi.address;
        plan.open_services = [options, consent, mpi](
                                 const std::string& data_dir,
                                 const std::shared_ptr<hie::TlsContext>& tls) mutable {
          options.own_org = tls->self().org_id;
          options.consent_credentials = tls->ChannelCredentials(
              {.org_id = consent.expected_org, .role = hie::pki::Role::kConsent});
          options.mpi_credentials =
              tls->ChannelCredentials({.org_id = mpi.expected_org, .role = hie::pki::Role::kMpi});
          options.peer_credentials = [tls](const std::string& org) {
            return tls->ChannelCredentials({.org_id = org, .role = hie::pki::Role::kNode});
          };
          return hie::node::OpenNodeServices(data_dir, options);
        };
        return plan;
      });
}
