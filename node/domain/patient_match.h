// FHIR's Patient $match (POST /Patient/$match) answered by the exchange's MPI: the
// Parameters a client sends (a Patient, onlyCertainMatches, count) as a demographic
// search, and the MPI's ranked candidates as a searchset Bundle with search.score and
// the match-grade extension. The candidates are people of the exchange, not records of
// this node: each is a Patient naming its EUID (identifier system kEuidSystem) with the
// names and birth date of its best-matching registration, and never the practices that
// hold it (where a person was treated is itself sensitive; the MPI keeps it back).
#ifndef HIE_NODE_DOMAIN_PATIENT_MATCH_H_
#define HIE_NODE_DOMAIN_PATIENT_MATCH_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/hie/v1/mpi.pb.h"

namespace hie::node {

inline constexpr char kEuidSystem[] = "urn:hie:euid";
inline constexpr char kMatchGradeExtension[] =
    "http://hl7.org/fhir/StructureDefinition/match-grade";

// The MPI's SearchPatients, as the node calls it. Implemented over gRPC in
// node/service/mpi_search_client.h. Thread-safe; `done` is called once, on any thread.
class MpiSearch {
 public:
  virtual ~MpiSearch() = default;
  virtual void Search(
      const hie::v1::SearchPatientsRequest& request,
      std::function<void(absl::StatusOr<hie::v1::SearchPatientsResponse>)> done) = 0;
};

// The $match input: a Parameters resource with a `resource` parameter holding the
// Patient, and optionally `onlyCertainMatches` (valueBoolean) and `count`
// (valueInteger, 1..100; default 10). Errors: InvalidArgument naming what is wrong
// (not JSON, not Parameters, no Patient, nothing searchable in it, a count out of range).
absl::StatusOr<hie::v1::SearchPatientsRequest> ParseMatchParameters(absl::string_view json);

// The searchset Bundle for the MPI's answer, best first. search.score is the grade's
// (certain 1.0, probable 0.7, possible 0.4: a practice is not told the MPI's raw score,
// which would let it tell whether a guessed field is right).
std::string MatchBundle(const hie::v1::SearchPatientsResponse& response);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_PATIENT_MATCH_H_
