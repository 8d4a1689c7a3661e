// Measuring the engine against labelled data: loading registrations from CSV (the Febrl
// benchmark format) and pairwise precision, recall and F1 of a clustering.
#ifndef HIE_MPI_MATCH_EVALUATION_H_
#define HIE_MPI_MATCH_EVALUATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mpi/match/person.h"

namespace hie::mpi {

struct LabelledRecord {
  std::string id;  // the file's record id (rec_id)
  Person person;
};

// Reads a Febrl CSV: header `rec_id, given_name, surname, street_number, address_1,
// address_2, suburb, postcode, state, date_of_birth, soc_sec_id`; blanks after commas,
// CRLF or LF, empty fields missing. The SSN becomes an identifier of system "ssn"
// unless `drop_ssn`. Errors: NotFound for a missing file; InvalidArgument naming the
// line for a row with the wrong number of fields or an unexpected header.
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

// Pairwise metrics of `cluster` against `truth` (same length; equal values = same
// person). With `side` non-empty, only pairs across sides count (linking two files).
PairwiseMetrics ComparePairs(const std::vector<int>& cluster, const std::vector<std::string>& truth,
                             const std::vector<int>& side);

}  // namespace hie::mpi

#endif  // HIE_MPI_MATCH_EVALUATION_H_
