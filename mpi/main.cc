// hie-mpi: the exchange's master patient index and directory of member organisations.

#include "common/config/server_config.h"
#include "common/grpc/daemon_main.h"
#include "common/grpc/server_runner.h"
#include "common/status/status_macros.h"
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
        "                            created mode 0700 if missing; one daemon per directory\n",
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
        plan.open_services = hie::mpi::OpenMpiServices;
        return plan;
      });
}
