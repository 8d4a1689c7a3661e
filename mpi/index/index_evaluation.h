// Measuring the index as the daemon runs it: registrations placed one after another
// through PatientIndex (the code hie-mpi runs) in a temporary store, then each
// registration's person and the review queue read back. `hiectl mpi evaluate` and the
// matching tests score what this returns.
#ifndef HIE_MPI_INDEX_INDEX_EVALUATION_H_
#define HIE_MPI_INDEX_INDEX_EVALUATION_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/store/kv_store.h"
#include "mpi/index/patient_index.h"
#include "mpi/match/evaluation.h"

namespace hie::mpi {

// A PatientIndex in a fresh temporary directory, removed with it.
class ScratchIndex {
 public:
  // Errors: as KvStore::Open and PatientIndex::Open.
  static absl::StatusOr<std::unique_ptr<ScratchIndex>> Create(const IndexOptions& options);
  ~ScratchIndex();
  ScratchIndex(const ScratchIndex&) = delete;
  ScratchIndex& operator=(const ScratchIndex&) = delete;

  PatientIndex& index() { return *index_; }

 private:
  ScratchIndex() = default;
  std::string dir_;
  std::unique_ptr<store::KvStore> store_;
  std::unique_ptr<PatientIndex> index_;
};

struct PlacementRun {
  // Per registration, in input order: its person after every registration was placed
  // (one a line of its own for a registration the index refused).
  std::vector<std::string> euid;
  struct Review {
    size_t a = 0;  // the newer registration, by input position
    size_t b = 0;  // the candidate it matched
    double score = 0;
    std::string reason;
  };
  // The open review queue at the end.
  std::vector<Review> reviews;
  int64_t links = 0;    // placements that joined an existing person
  int64_t refused = 0;  // registrations the index refused (no name, say)
  double seconds = 0;   // placing only (not reading back)
};

// The review queue of `run` as an operator's "same person" would resolve each item
// (PatientIndex::ResolveReview), for RecallWithReviews.
std::vector<ReviewJoin> ReviewJoins(const PlacementRun& run);

// Places `registrations` in order, in batches of `batch_size` (PatientIndex::RegisterBatch,
// which places each exactly as one registration after another would), calling
// `progress` with the count placed after each batch. (org_id, local_id) pairs must be
// unique: a repeat would be a re-registration. Errors: InvalidArgument for a repeat;
// the store's errors.
absl::StatusOr<PlacementRun> PlaceAll(PatientIndex& index,
                                      const std::vector<PatientIndex::Registration>& registrations,
                                      size_t batch_size = 1000,
                                      const std::function<void(size_t)>& progress = nullptr);

// Works the open review queue as an operator who knows the truth would: each item,
// in input order of the newer registration then of the candidate, decided through the index's own
// PatientIndex::ResolveReview ("same person" when `truth` says the two registrations are
// one, "keep apart" otherwise). Returns each registration's person afterwards, in input
// order (refused registrations keep a line of their own): what the queue delivers once
// it is worked. `registrations` and `truth` are PlaceAll's input, placed already.
// Errors: InvalidArgument if `truth` is not one entry a registration; the index's.
absl::StatusOr<std::vector<std::string>> DecideQueue(
    PatientIndex& index, const std::vector<PatientIndex::Registration>& registrations,
    const std::vector<std::string>& truth);

}  // namespace hie::mpi

#endif  // HIE_MPI_INDEX_INDEX_EVALUATION_H_
