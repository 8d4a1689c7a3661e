// Fellegi-Sunter scoring: per field and comparison level, m = P(level | same person)
// and u = P(level | different people); a pair's score is the sum over fields of
// log2(m/u) (a missing field adds nothing). m is estimated from the index's own
// candidate pairs by expectation-maximisation, u from random pairs, and an exact name
// agreement is adjusted by how common that name is (a shared "Smith" weighs less than
// a shared "Oyelaran").
#ifndef HIE_MPI_MATCH_MODEL_H_
#define HIE_MPI_MATCH_MODEL_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "mpi/match/compare.h"

namespace hie::mpi {

// How often each folded name occurs among the registrations, for term-frequency
// adjustment. Thread-compatible.
class NameFrequencies {
 public:
  void Add(const PreparedPerson& p);
  void Remove(const PreparedPerson& p);
  // Fraction of registrations with this family (given) name; 0 when unknown.
  double FamilyShare(const std::string& family) const;
  double GivenShare(const std::string& given) const;
  int64_t total() const { return total_; }

 private:
  absl::flat_hash_map<std::string, int64_t> family_;
  absl::flat_hash_map<std::string, int64_t> given_;
  int64_t total_ = 0;
};

// Where the thresholds sit and what decided.
enum class Grade { kCertain, kProbable, kPossible, kNone };
const char* GradeName(Grade grade);

struct Thresholds {
  // Total log2 weight at or above which a pair is linked automatically.
  double upper = 16.0;
  // At or above this (and below upper) the pair goes to the review queue.
  double lower = 8.0;
  // At or above this a search reports the candidate as possible.
  double possible = 0.0;
  // A registration that matches two persons certainly, scoring less than this much more
  // with the better (log2: 2^10 to 1), where the two persons look like two people
  // (guarded or below the review threshold against each other), is linked to neither:
  // both go to review. Otherwise it joins the better, and the other person goes to
  // review ("matches two persons": deciding it "same person" merges the two).
  double margin = 10.0;
};

struct FieldScore {
  Field field;
  Level level;
  double weight;  // after term-frequency adjustment
};

struct Score {
  double total = 0;
  // One per field, in Field order.
  std::array<FieldScore, kFieldCount> fields;
};

// What a model learns: per field and level, m = P(level | same person) and
// u = P(level | different people), and the share of matches among blocked candidates.
struct ModelParameters {
  std::array<std::array<double, kLevelCount>, kFieldCount> m;
  std::array<std::array<double, kLevelCount>, kFieldCount> u;
  double prior = 0.01;
};

class MatchModel {
 public:
  // Starting parameters that work before any data has been seen.
  MatchModel();
  // A model with these parameters (levels of a field renormalized as a fit leaves
  // them). Errors: InvalidArgument for a probability outside [0, 1] or not a number.
  static absl::StatusOr<MatchModel> FromParameters(const ModelParameters& parameters);
  ModelParameters parameters() const { return {m_, u_, prior_}; }

  // Estimates u from comparisons of random (almost surely different) pairs.
  void FitU(const std::vector<Comparison>& random_pairs);
  // Estimates m and the match prior by EM over blocked candidate comparisons; u stays
  // as FitU left it. Returns the number of iterations run.
  int FitM(const std::vector<Comparison>& candidates, int max_iterations = 30);

  double m(Field f, Level l) const { return m_[Index(f)][Index(l)]; }
  double u(Field f, Level l) const { return u_[Index(f)][Index(l)]; }
  // log2(m/u), 0 for a missing field.
  double Weight(Field f, Level l) const { return weights_[Index(f)][Index(l)]; }

  // The pair's score; `frequencies` (optional) adjusts exact name agreement.
  Score Evaluate(const PreparedPerson& a, const PreparedPerson& b, const Comparison& c,
                 const NameFrequencies* frequencies) const;

  // The same in two steps, for scoring one newcomer against many candidates: the
  // adjustments of an exact agreement on a's family and given name (log2 weight, 0 when
  // not adjusted), then each comparison's score with them.
  struct NameAdjustments {
    double family = 0;
    double given = 0;
  };
  NameAdjustments Adjustments(const PreparedPerson& a, const NameFrequencies* frequencies) const;
  Score Evaluate(const Comparison& c, const NameAdjustments& adjustments) const;
  double prior() const { return prior_; }

 private:
  static int Index(Field f) { return static_cast<int>(f); }
  static int Index(Level l) { return static_cast<int>(l); }

  std::array<std::array<double, kLevelCount>, kFieldCount> m_;
  std::array<std::array<double, kLevelCount>, kFieldCount> u_;
  // Weight() of every field and level, worked out whenever m or u change.
  std::array<std::array<double, kLevelCount>, kFieldCount> weights_;
  void UpdateWeights();
  double prior_ = 0.01;
};

}  // namespace hie::mpi

#endif  // HIE_MPI_MATCH_MODEL_H_
