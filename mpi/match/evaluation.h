// Measuring the engine against labelled data: loading registrations from CSV (the Febrl
// benchmark format, and the same with more columns) and pairwise precision, recall and
// F1 of a clustering.
#ifndef HIE_MPI_MATCH_EVALUATION_H_
#define HIE_MPI_MATCH_EVALUATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mpi/match/person.h"

namespace hie::mpi {

struct LabelledRecord {
  std::string id;   // the file's record id (rec_id)
  std::string org;  // the registering organisation, from CsvOptions::org_column ("" if none)
  Person person;
};

struct CsvOptions {
  // Blank the identifier column, as most registrations lack one.
  bool drop_ssn = false;
  // The column naming each record's organisation; "" when there is none.
  std::string org_column;
};

// Reads registrations from CSV whose header names the columns, in any order: Febrl's
// `rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode,
// state, date_of_birth, soc_sec_id`, and optionally `middle_name`, `former_surname`,
// `sex` (m / f / male / female), `phone`, `multiple_birth` (the birth order) and the
// organisation column. Other columns are ignored. Blanks after commas, CRLF or LF,
// empty fields missing; date_of_birth is YYYYMMDD or YYYY-MM-DD, kept as written even
// when it is not a real date. The SSN becomes an identifier of system "ssn".
// Errors: NotFound for a missing file; InvalidArgument naming the line for a row with
// the wrong number of fields, a header without rec_id or any name column, or an
// org_column the header lacks.
absl::StatusOr<std::vector<LabelledRecord>> LoadRegistrationCsv(const std::string& path,
                                                                const CsvOptions& options);
// The same for a Febrl file.
absl::StatusOr<std::vector<LabelledRecord>> LoadFebrlCsv(const std::string& path, bool drop_ssn);

// The true person of a Febrl record id ("rec-552-dup-3" -> "552"), or "" if the id does
// not follow the convention.
std::string FebrlEntity(const std::string& record_id);

struct PairwiseMetrics {
  int64_t true_pairs = 0;
  int64_t predicted_pairs = 0;
  int64_t correct_pairs = 0;
  double precision = 0;
  double recall = 0;
  double f1 = 0;
};

// Each record's person as a cluster number (0, 1, ... in order of first appearance),
// from its person id (an EUID): what ComparePairs and RecallWithReviews take.
std::vector<int> ClusterNumbers(const std::vector<std::string>& person_ids);

// Pairwise metrics of `cluster` against `truth` (same length; equal values = same
// person). With `side` non-empty, only pairs across sides count (linking two files).
PairwiseMetrics ComparePairs(const std::vector<int>& cluster, const std::vector<std::string>& truth,
                             const std::vector<int>& side);

// A review item as an operator's "same person" would resolve it (PatientIndex::
// ResolveReview): the two persons become one (`merges_persons`), or, for a
// re-registration that would move, registration `a` alone joins the person of `b`.
struct ReviewJoin {
  size_t a = 0;
  size_t b = 0;
  bool merges_persons = false;
};

// The share of true pairs (by `truth`, across sides when `side` is non-empty) that are
// found: in one cluster, or joined by deciding one review item "same person" (1 when
// there are none).
double RecallWithReviews(const std::vector<int>& cluster, const std::vector<std::string>& truth,
                         const std::vector<int>& side, const std::vector<ReviewJoin>& reviews);

}  // namespace hie::mpi

#endif  // HIE_MPI_MATCH_EVALUATION_H_
