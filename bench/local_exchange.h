// A small exchange on loopback for benchmarks: a CA, certificates, and the real hie-mpi,
// hie-consent and hie-node processes, started from the build's bin directory.
#ifndef HIE_BENCH_LOCAL_EXCHANGE_H_
#define HIE_BENCH_LOCAL_EXCHANGE_H_

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/grpc/tls.h"
#include "grpcpp/channel.h"
#include "tests/integration/daemon_process.h"

namespace hie::bench {

// How StartNode runs a node beyond the defaults.
struct NodeOptions {
  // Turn on the node's FHIR REST API (fhir_api in its config) on a port of its choosing;
  // LocalExchange::fhir_port(org) then names it.
  bool fhir_api = false;
  // fhir_api.workers; 0 leaves the node's default.
  int fhir_workers = 0;
};

class LocalExchange {
 public:
  LocalExchange();
  ~LocalExchange();

  // Issues certificates for the MPI, consent service, operator and each org in `orgs`
  // (as node-<org>), then starts the MPI and the consent service.
  absl::Status Start(const std::string& bin_dir, const std::vector<std::string>& orgs);

  // Starts org's node and enrolls the org with its node's address as endpoint. Returns
  // the node's gRPC port.
  absl::StatusOr<int> StartNode(const std::string& org, const NodeOptions& options = {});

  // The FHIR API's port of a node started with NodeOptions::fhir_api; 0 for another.
  int fhir_port(const std::string& org) const;

  // Enrolls `org` with `endpoint` at the MPI.
  absl::Status Enroll(const std::string& org, const std::string& endpoint);

  // A new channel presenting `who`'s certificate ("operator", "node-org-a"...).
  std::shared_ptr<grpc::Channel> Channel(const std::string& who, int port);
  std::shared_ptr<TlsContext> Tls(const std::string& who);

  // Each daemon's peak resident memory so far (VmHWM), in KiB, as JSON: {"mpi": n, ...}.
  std::string PeakMemoryJson() const;

  // CPU time (user + system) the daemon `name` ("mpi", "node-org-a"...) has used so
  // far, in seconds; 0 for a name not started.
  double CpuSeconds(const std::string& name) const;

  int mpi_port() const { return mpi_port_; }
  int consent_port() const { return consent_port_; }
  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& name) const;

 private:
  absl::StatusOr<int> StartDaemon(const std::string& binary, const std::string& name,
                                  const std::string& cert, const std::string& extra);

  std::string bin_dir_;
  std::string dir_;
  std::vector<hie::testing::ChildProcess> processes_;
  std::vector<std::string> names_;         // parallel to processes_
  std::map<std::string, int> fhir_ports_;  // by org
  int mpi_port_ = 0;
  int consent_port_ = 0;
  std::atomic<int> channels_{0};
};

}  // namespace hie::bench

#endif  // HIE_BENCH_LOCAL_EXCHANGE_H_
