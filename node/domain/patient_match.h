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
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/hie/v1/common.pb.h"
#include "proto/hie/v1/demographics.pb.h"

namespace hie::node {

inline constexpr char kEuidSystem[] = "urn:hie:euid";
inline constexpr char kMatchGradeExtension[] =
    "http://hl7.org/fhir/StructureDefinition/match-grade";

// What $match asks the MPI.
struct MatchQuery {
  hie::v1::Demographics demographics;  // as a registration gives them
  int count = 10;                      // 1..100
  bool only_certain = false;           // leave out all but certain matches
};

// The match-grade extension's code for `grade`: "certain", "probable", "possible", or
// "certainly-not" for anything else.
const char* MatchGradeCode(hie::v1::MatchGrade grade);

// One person the MPI found.
struct MatchCandidate {
  std::string euid;
  hie::v1::MatchGrade grade = hie::v1::MATCH_GRADE_UNSPECIFIED;
  // The names and birth date of the best-matching registration (nothing else).
  hie::v1::Demographics shown;
};

// The MPI's demographic search, as the node calls it. Implemented over gRPC in
// node/service/query_clients.h. Thread-safe; `done` is called once, on any thread, with
// the candidates best first.
class MpiSearch {
 public:
  virtual ~MpiSearch() = default;
  virtual void Search(const MatchQuery& query,
                      std::function<void(absl::StatusOr<std::vector<MatchCandidate>>)> done) = 0;
};

// The $match input: a Parameters resource with a `resource` parameter holding the
// Patient, and optionally `onlyCertainMatches` (valueBoolean) and `count`
// (valueInteger, 1..100; default 10). Errors: InvalidArgument naming what is wrong
// (not JSON, not Parameters, no Patient, nothing searchable in it, a count out of range).
absl::StatusOr<MatchQuery> ParseMatchParameters(absl::string_view json);

// The searchset Bundle for the MPI's answer, best first. search.score is the grade's
// (certain 1.0, probable 0.7, possible 0.4: a practice is not told the MPI's raw score,
// which would let it tell whether a guessed field is right).
std::string MatchBundle(const std::vector<MatchCandidate>& candidates);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_PATIENT_MATCH_H_
