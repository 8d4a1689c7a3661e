// The patient the federated-query benchmarks ask for: Jane Oyelaran, held by every
// practice of a LocalExchange with R resources at each (her Patient and R-1
// Observations of that practice's own), registered with the MPI through each node's
// outbox and linked by it. The first practice asks; the others are holders.
#ifndef HIE_BENCH_FEDERATED_PATIENT_H_
#define HIE_BENCH_FEDERATED_PATIENT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/local_exchange.h"
#include "proto/hie/v1/node.grpc.pb.h"

namespace hie::bench {

// The patient's local id at `org`.
std::string PatientId(const std::string& org);

// `org`'s i-th Observation of her (i >= 1), FHIR JSON; each practice's in other years,
// so none fold as duplicates across practices.
std::string Observation(const std::string& org, int i);

// A transaction Bundle of her Patient and Observations 1..records-1 at `org`.
std::string PatientBundle(const std::string& org, int records);

struct FederatedPatient {
  std::map<std::string, int> ports;  // each org's node, gRPC
  uint64_t bytes_per_holder = 0;     // one practice's import, bytes of JSON
};

// Starts the node of every org in `orgs` (orgs[0]'s with `requester`'s options, the
// others with the defaults), imports the patient's `records` resources at each, and
// waits (at most a minute) until the MPI links all of her registrations.
// Errors: whatever starting a node or importing returned; DeadlineExceeded when the
// links are not all made in time.
absl::StatusOr<FederatedPatient> StartNodesWithPatient(LocalExchange& exchange,
                                                       const std::vector<std::string>& orgs,
                                                       int records,
                                                       const NodeOptions& requester = {});

struct QueryOutcome {
  int64_t entries = 0;            // in the merged Bundle
  double first_piece_millis = 0;  // from the call's start to the Bundle's first piece
  double millis = 0;              // from the call's start to its end
};

// One federated query for `patient` as `hiectl query` makes it (FederatedQuery.Query,
// purpose TREAT, the Bundle's pieces read to the end). OK only when each of `holders`
// answered in full and the whole Bundle arrived. With `bundle` non-null, joins the
// Bundle's pieces there as hiectl does.
absl::StatusOr<QueryOutcome> QueryOnce(hie::v1::FederatedQuery::Stub& stub,
                                       const std::string& patient, int holders,
                                       std::string* bundle = nullptr);

}  // namespace hie::bench

#endif  // HIE_BENCH_FEDERATED_PATIENT_H_
