// The matching engine's decisions, shared by the persistent index and the batch linker
// behind `hiectl mpi evaluate`: blocking keys, guards, the grade of a scored pair, and
// linking a whole set of registrations at once.
#ifndef HIE_MPI_MATCH_ENGINE_H_
#define HIE_MPI_MATCH_ENGINE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "mpi/match/compare.h"
#include "mpi/match/model.h"
#include "mpi/match/person.h"

namespace hie::mpi {

// Independent blocking keys of one registration: a pair is scored if it shares any, so
// one corrupted field never hides a true match. Keys: family phonetic + birth year;
// full birth date; either name's phonetic code + postal code, and + city; both names'
// phonetic codes (in either order); each phone; each identifier; each address line;
// each line's street name + postal code + family initial, and + city + birth year.
std::vector<std::string> BlockingKeys(const PreparedPerson& p);

// Why a pair that scores high must still not be linked automatically.
enum class Guard {
  kNone,
  // Same family name and birth date but different birth orders, or different first
  // names where a multiple birth, differing identifiers or the recorded sex can tell.
  kTwins,
};
Guard CheckGuards(const PreparedPerson& a, const PreparedPerson& b, const Comparison& c);

struct Decision {
  Grade grade = Grade::kNone;
  double score = 0;
  // "above upper threshold", "between thresholds", "below lower threshold", "twin guard".
  const char* decided_by = "";
};
Decision Decide(double score, Guard guard, const Thresholds& thresholds);

struct BatchOptions {
  Thresholds thresholds;
  // Blocks larger than this are cut (and counted): a key shared by thousands of
  // registrations carries little evidence and costs quadratic time.
  size_t max_block_size = 500;
  // Random pairs sampled to estimate u.
  size_t random_pairs = 100000;
  uint64_t seed = 42;
};

struct BatchStats {
  size_t records = 0;
  size_t blocks = 0;
  size_t blocks_truncated = 0;
  size_t candidate_pairs = 0;
  size_t links = 0;
  size_t reviews = 0;
  size_t guarded = 0;
  int em_iterations = 0;
};

struct BatchResult {
  // The cluster (person) of each record, numbered from 0.
  std::vector<int> cluster;
  BatchStats stats;
  MatchModel model;
  // Of the records, for scoring a pair as LinkBatch did.
  NameFrequencies frequencies;
};

// Links `records`. With `side` empty it deduplicates (any two records may match);
// otherwise side[i] is 0 or 1 and only pairs across sides are considered (two files).
// Clusters are the transitive closure of automatic links, taken strongest first; linking
// two files, a link that would put two records of one file in a cluster goes to review.
BatchResult LinkBatch(const std::vector<Person>& records, const std::vector<int>& side,
                      const BatchOptions& options);

}  // namespace hie::mpi

#endif  // HIE_MPI_MATCH_ENGINE_H_
