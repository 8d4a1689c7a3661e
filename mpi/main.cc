// hie-mpi: the exchange's master patient index and directory of member organisations.

#include "absl/strings/str_cat.h"
#include "common/config/server_config.h"
#include "common/grpc/audit_witness.h"
#include "common/grpc/daemon_main.h"
#include "common/grpc/server_runner.h"
#include "common/status/status_macros.h"
#include "mpi/match/text.h"
#include "mpi/service/mpi_services.h"
#include "proto/hie/v1/config.pb.h"

namespace {

const hie::DaemonDescription kDescription = {
    .program = "hie-mpi",
    .summary =
        "The exchange's master patient index (MPI): it learns which registrations at which\n"
        "practices are the same person and answers cross-references, and it keeps the\n"
        "directory of member organisations. It never holds clinical data. Run by the\n"
        "exchange operator; callers are practice nodes, the consent service and operators,\n"
        "each known by its certificate.",
    .config_fields =
        "  (hie.v1.MpiConfig)\n"
        "  server                    the listener: see the shared fields below\n"
        "  data_dir                  directory for the index (LevelDB) and TLS working files;\n"
        "                            created mode 0700 if missing; one daemon per directory\n"
        "  matching {                how registrations are matched (scores are log2 weights;\n"
        "                            `hiectl mpi explain` shows them, `hiectl mpi evaluate`\n"
        "                            measures a setting on labelled data; m and u are fitted\n"
        "                            to the index by `hiectl mpi fit` and kept with it)\n"
        "    auto_link_weight        link automatically at or above (default 16); raise for\n"
        "                            fewer false links\n"
        "    review_weight           review queue at or above (default 8; <= auto_link_weight)\n"
        "    max_candidates_per_key  registrations scored per blocking key (default 100)\n"
        "    identifier_systems { system org_id }   (repeated) an identifier system a\n"
        "                            member assigns (its MRNs): evidence only in that\n"
        "                            member's own registrations, never when another\n"
        "                            member asserts it\n"
        "  }\n"
        "  registration_alert {      when a member's registrations raise an alert (log line,\n"
        "                            ALERT audit entry): its automatic links to persons other\n"
        "                            members hold exceed max_cross_org_links within the window\n"
        "    max_cross_org_links     default 50; 0 turns the alert off (links are still audited);\n"
        "                            above it, the member's further links to persons others\n"
        "                            hold wait in the review queue until the window passes\n"
        "    window_seconds          default 3600; range 1..604800\n"
        "  }\n"
        "  consent { address expected_org }   the consent service, which witnesses the\n"
        "                            MPI's audit checkpoints (unset: no witness)\n",
    .example_config = R"(# mpi.textproto
server {
  listen_address: "127.0.0.1:41001"
  tls {
    ca_file: "exchange-ca/ca.crt"
    cert_file: "certs/mpi.crt"
    key_file: "certs/mpi.key"
    crl_dir: "exchange-ca/crl"
  }
}
data_dir: "/var/lib/hie/mpi"
consent { address: "127.0.0.1:41002" expected_org: "exchange" }
)",
};

}  // namespace

int main(int argc, char** argv) {
  hie::BlockTerminationSignals();
  hie::v1::MpiConfig config;
  return hie::RunDaemon(
      argc, argv, kDescription, &config,
      [&config](const hie::ConfigFile& file) -> absl::StatusOr<hie::DaemonPlan> {
        hie::DaemonPlan plan;
        HIE_ASSIGN_OR_RETURN(plan.server,
                             hie::ValidateServerConfig(file, config.server(), "server"));
        HIE_ASSIGN_OR_RETURN(plan.data_dir,
                             hie::ValidateDataDir(file, config.data_dir(), "data_dir"));
        plan.policy = hie::mpi::MpiAuthorizationPolicy();
        hie::mpi::IndexOptions options;
        const hie::v1::MatchingConfig& m = config.matching();
        if (m.has_auto_link_weight()) {
          if (m.auto_link_weight() < -50 || m.auto_link_weight() > 100) {
            return file.FieldError("matching.auto_link_weight", "must be between -50 and 100");
          }
          options.thresholds.upper = m.auto_link_weight();
        }
        if (m.has_review_weight()) options.thresholds.lower = m.review_weight();
        if (options.thresholds.lower > options.thresholds.upper) {
          return file.FieldError("matching.review_weight", "must not exceed auto_link_weight");
        }
        if (m.has_max_candidates_per_key()) {
          if (m.max_candidates_per_key() < 1 || m.max_candidates_per_key() > 10000) {
            return file.FieldError("matching.max_candidates_per_key", "must be 1..10000");
          }
          options.max_candidates_per_key = m.max_candidates_per_key();
        }
        for (int i = 0; i < m.identifier_systems_size(); ++i) {
          const hie::v1::IdentifierSystemOwner& owner = m.identifier_systems(i);
          const std::string field = absl::StrCat("matching.identifier_systems[", i, "]");
          if (owner.system().empty() || owner.org_id().empty()) {
            return file.FieldError(field, "needs a system and an org_id");
          }
          auto [it, inserted] = options.identifier_system_owners.emplace(
              hie::mpi::NormalizeIdentifierSystem(owner.system()), owner.org_id());
          if (!inserted && it->second != owner.org_id()) {
            return file.FieldError(field, absl::StrCat("system ", owner.system(),
                                                       " is already assigned by ", it->second));
          }
        }
        hie::mpi::RegistrationAlertOptions alerts;
        const hie::v1::RegistrationAlertConfig& a = config.registration_alert();
        if (a.has_max_cross_org_links()) alerts.max_cross_org_links = a.max_cross_org_links();
        if (a.has_window_seconds()) {
          if (a.window_seconds() < 1 || a.window_seconds() > 604800) {
            return file.FieldError("registration_alert.window_seconds", "must be 1..604800");
          }
          alerts.window = absl::Seconds(a.window_seconds());
        }
        HIE_ASSIGN_OR_RETURN(
            hie::audit::CheckpointerOptions checkpoints,
            hie::ValidateAuditCheckpointConfig(file, config.server(), plan.server));
        std::vector<hie::WitnessPeer> witnesses;
        if (config.has_consent()) {
          HIE_ASSIGN_OR_RETURN(hie::PeerSettings consent,
                               hie::ValidatePeerConfig(file, config.consent(), "consent"));
          witnesses.push_back({"consent", consent, hie::pki::Role::kConsent});
        }
        plan.open_services = [options, alerts, checkpoints, witnesses](
                                 const std::string& data_dir,
                                 const std::shared_ptr<hie::TlsContext>& tls)
            -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
          HIE_ASSIGN_OR_RETURN(auto services, hie::mpi::OpenMpiServices(data_dir, options, alerts));
          HIE_RETURN_IF_ERROR(hie::EnableAuditWitnessing(&services, tls, checkpoints, witnesses,
                                                         /*serve_witness=*/true));
          return services;
        };
        return plan;
      });
}
