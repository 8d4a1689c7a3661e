#include "mpi/match/model.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace hie::mpi {
namespace {

constexpr double kFloor = 1e-6;

// Levels a field can take (others get probability ~0).
constexpr std::array<std::array<double, kLevelCount>, kFieldCount> kInitialM = {{
    //  exact equiv close phon  diff  missing
    {0.80, 0.06, 0.06, 0.03, 0.05, 0},  // given
    {0.85, 0.04, 0.06, 0.02, 0.03, 0},  // family
    {0.85, 0.02, 0.08, 0.00, 0.05, 0},  // birth date
    {0.97, 0.00, 0.00, 0.00, 0.03, 0},  // sex
    {0.75, 0.05, 0.10, 0.00, 0.10, 0},  // street
    {0.80, 0.00, 0.10, 0.00, 0.10, 0},  // city
    {0.85, 0.00, 0.07, 0.00, 0.08, 0},  // postal
    {0.80, 0.00, 0.05, 0.00, 0.15, 0},  // phone
    {0.90, 0.00, 0.05, 0.00, 0.05, 0},  // identifier
}};
constexpr std::array<std::array<double, kLevelCount>, kFieldCount> kInitialU = {{
    {0.010, 0.003, 0.010, 0.010, 0.967, 0},
    {0.005, 0.001, 0.005, 0.010, 0.979, 0},
    {0.0001, 0.00005, 0.001, 0.0, 0.99885, 0},
    {0.50, 0.0, 0.0, 0.0, 0.50, 0},
    {0.0005, 0.0002, 0.001, 0.0, 0.9983, 0},
    {0.01, 0.0, 0.01, 0.0, 0.98, 0},
    {0.005, 0.0, 0.02, 0.0, 0.975, 0},
    {0.0001, 0.0, 0.0005, 0.0, 0.9994, 0},
    {0.00001, 0.0, 0.0001, 0.0, 0.99989, 0},
}};

// Normalizes the non-missing levels of each field to sum to 1, flooring each.
void Normalize(std::array<std::array<double, kLevelCount>, kFieldCount>* table) {
  for (auto& row : *table) {
    double sum = 0;
    for (int l = 0; l < kLevelCount - 1; ++l) {
      row[l] = std::max(row[l], kFloor);
      sum += row[l];
    }
    for (int l = 0; l < kLevelCount - 1; ++l) row[l] /= sum;
    row[kLevelCount - 1] = 1.0;
  }
}

// The least probability that one person's two registrations disagree on a field: people
// move, marry, change phones, and clerks mistype. EM over a set in which households
// cluster would otherwise learn that a true match never moves (a household looks like
// one "person" to it) and punish a move with the weight of a contradiction.
constexpr std::array<double, kFieldCount> kMinDifferentM = {
    0.0,   // given: left to the data
    0.0,   // family: left to the data
    0.0,   // birth date
    0.0,   // sex
    0.12,  // street
    0.10,  // city
    0.12,  // postal code
    0.15,  // phone
    0.0,   // identifier
};

void FloorDifferent(std::array<std::array<double, kLevelCount>, kFieldCount>* m) {
  constexpr int kDifferent = static_cast<int>(Level::kDifferent);
  for (int f = 0; f < kFieldCount; ++f) {
    (*m)[f][kDifferent] = std::max((*m)[f][kDifferent], kMinDifferentM[f]);
  }
  Normalize(m);
}

bool InHousehold(Field f) {
  return f == Field::kStreet || f == Field::kCity || f == Field::kPostalCode || f == Field::kPhone;
}

}  // namespace

const char* GradeName(Grade grade) {
  switch (grade) {
    case Grade::kCertain:
      return "certain";
    case Grade::kProbable:
      return "probable";
    case Grade::kPossible:
      return "possible";
    case Grade::kNone:
      return "none";
  }
  return "?";
}

void NameFrequencies::Add(const PreparedPerson& p) {
  ++total_;
  if (!p.family.empty()) ++family_[p.family];
  if (!p.given.empty()) ++given_[p.given.front()];
}

void NameFrequencies::Remove(const PreparedPerson& p) {
  --total_;
  if (!p.family.empty() && --family_[p.family] <= 0) family_.erase(p.family);
  if (!p.given.empty() && --given_[p.given.front()] <= 0) given_.erase(p.given.front());
}

double NameFrequencies::FamilyShare(const std::string& family) const {
  auto it = family_.find(family);
  return it == family_.end() || total_ == 0 ? 0 : static_cast<double>(it->second) / total_;
}

double NameFrequencies::GivenShare(const std::string& given) const {
  auto it = given_.find(given);
  return it == given_.end() || total_ == 0 ? 0 : static_cast<double>(it->second) / total_;
}

MatchModel::MatchModel() : m_(kInitialM), u_(kInitialU) {
  FloorDifferent(&m_);
  Normalize(&u_);
  UpdateWeights();
}

absl::StatusOr<MatchModel> MatchModel::FromParameters(const ModelParameters& parameters) {
  auto valid = [](double p) { return p >= 0 && p <= 1; };  // false for NaN
  for (int f = 0; f < kFieldCount; ++f) {
    for (int l = 0; l + 1 < kLevelCount; ++l) {
      if (!valid(parameters.m[f][l]) || !valid(parameters.u[f][l])) {
        return absl::InvalidArgumentError(
            absl::StrCat("m or u of ", FieldName(static_cast<Field>(f)), " ",
                         LevelName(static_cast<Level>(l)), " is not a probability"));
      }
    }
  }
  if (!(parameters.prior > 0 && parameters.prior < 1)) {
    return absl::InvalidArgumentError("the match prior is not a probability");
  }
  MatchModel model;
  model.m_ = parameters.m;
  model.u_ = parameters.u;
  model.prior_ = parameters.prior;
  Normalize(&model.m_);
  Normalize(&model.u_);
  model.UpdateWeights();
  return model;
}

void MatchModel::UpdateWeights() {
  for (int f = 0; f < kFieldCount; ++f) {
    for (int l = 0; l < kLevelCount; ++l) {
      weights_[f][l] = l == Index(Level::kMissing) ? 0 : std::log2(m_[f][l] / u_[f][l]);
    }
  }
}

void MatchModel::FitU(const std::vector<Comparison>& random_pairs) {
  if (random_pairs.size() < 100) return;
  std::array<std::array<double, kLevelCount>, kFieldCount> counts{};
  for (const Comparison& c : random_pairs) {
    for (int f = 0; f < kFieldCount; ++f) counts[f][static_cast<int>(c.levels[f])] += 1;
  }
  for (int f = 0; f < kFieldCount; ++f) {
    double seen = 0;
    for (int l = 0; l < kLevelCount - 1; ++l) seen += counts[f][l];
    if (seen < 100) continue;  // too few observations: keep the prior row
    for (int l = 0; l < kLevelCount - 1; ++l) {
      // Half an observation of smoothing keeps unseen levels from infinite weights.
      u_[f][l] = (counts[f][l] + 0.5) / (seen + 0.5 * (kLevelCount - 1));
    }
  }
  Normalize(&u_);
  UpdateWeights();
}

int MatchModel::FitM(const std::vector<Comparison>& candidates, int max_iterations) {
  if (candidates.empty()) return 0;
  // Classic two-class EM over the candidates, with both classes' level probabilities
  // free: blocked candidates are far more alike than random pairs, so a non-match class
  // held at the random-pair u would let the match class swallow every candidate. Only m
  // is kept; weights use u from random pairs (FitU), the population's own.
  auto u_candidates = u_;
  int iteration = 0;
  for (; iteration < max_iterations; ++iteration) {
    std::array<std::array<double, kLevelCount>, kFieldCount> m_counts{}, u_counts{};
    double total_g = 0;
    for (const Comparison& c : candidates) {
      double log_m = std::log(prior_), log_u = std::log(1 - prior_);
      for (int f = 0; f < kFieldCount; ++f) {
        int l = static_cast<int>(c.levels[f]);
        if (l == kLevelCount - 1) continue;
        log_m += std::log(m_[f][l]);
        log_u += std::log(u_candidates[f][l]);
      }
      double g = 1.0 / (1.0 + std::exp(log_u - log_m));
      total_g += g;
      for (int f = 0; f < kFieldCount; ++f) {
        m_counts[f][static_cast<int>(c.levels[f])] += g;
        u_counts[f][static_cast<int>(c.levels[f])] += 1 - g;
      }
    }
    double new_prior = std::clamp(total_g / candidates.size(), 1e-6, 1 - 1e-6);
    auto previous = m_;
    auto update = [](const auto& counts, auto* table) {
      for (int f = 0; f < kFieldCount; ++f) {
        double seen = 0;
        for (int l = 0; l < kLevelCount - 1; ++l) seen += counts[f][l];
        if (seen < 1) continue;
        for (int l = 0; l < kLevelCount - 1; ++l) {
          (*table)[f][l] = (counts[f][l] + 0.01) / (seen + 0.05);
        }
      }
      Normalize(table);
    };
    update(m_counts, &m_);
    FloorDifferent(&m_);
    update(u_counts, &u_candidates);
    double change = std::abs(new_prior - prior_);
    for (int f = 0; f < kFieldCount; ++f) {
      for (int l = 0; l < kLevelCount; ++l) {
        change = std::max(change, std::abs(m_[f][l] - previous[f][l]));
      }
    }
    prior_ = new_prior;
    if (change < 1e-5) {
      ++iteration;
      break;
    }
  }
  UpdateWeights();
  return iteration;
}

Score MatchModel::Evaluate(const PreparedPerson& a, const PreparedPerson&, const Comparison& c,
                           const NameFrequencies* frequencies) const {
  return Evaluate(c, Adjustments(a, frequencies));
}

MatchModel::NameAdjustments MatchModel::Adjustments(const PreparedPerson& a,
                                                    const NameFrequencies* frequencies) const {
  // Term-frequency adjustment of exact name agreement: replace the average chance of
  // two different people sharing a name by this name's own share, within limits.
  NameAdjustments adjustments;
  if (frequencies == nullptr || frequencies->total() <= 1000) return adjustments;
  auto adjust = [&](Field field, double share) {
    return share > 0 ? std::clamp(std::log2(u_[Index(field)][0] / share), -4.0, 3.0) : 0.0;
  };
  if (!a.family.empty()) {
    adjustments.family = adjust(Field::kFamilyName, frequencies->FamilyShare(a.family));
  }
  if (!a.given.empty()) {
    adjustments.given = adjust(Field::kGivenName, frequencies->GivenShare(a.given.front()));
  }
  return adjustments;
}

Score MatchModel::Evaluate(const Comparison& c, const NameAdjustments& adjustments) const {
  Score score;
  for (int f = 0; f < kFieldCount; ++f) {
    Field field = static_cast<Field>(f);
    Level level = c.levels[f];
    double weight = Weight(field, level);
    if (level == Level::kExact && field == Field::kFamilyName) weight += adjustments.family;
    if (level == Level::kExact && field == Field::kGivenName) weight += adjustments.given;
    score.fields[f] = {field, level, weight};
  }
  // Street, city, postal code and phone describe one household and move together: their
  // weights are not independent evidence. The household counts once, by its strongest
  // agreement, or, if nothing agrees, by its mildest disagreement (one move). The other
  // household fields are reported with weight 0.
  int strongest = -1, second = -1;
  for (int f = 0; f < kFieldCount; ++f) {
    if (!InHousehold(static_cast<Field>(f)) || c.levels[f] == Level::kMissing) continue;
    if (strongest < 0 || score.fields[f].weight > score.fields[strongest].weight) {
      second = strongest;
      strongest = f;
    } else if (second < 0 || score.fields[f].weight > score.fields[second].weight) {
      second = f;
    }
  }
  for (int f = 0; f < kFieldCount; ++f) {
    if (InHousehold(static_cast<Field>(f)) && f != strongest) {
      // A second agreeing household field adds half its weight: two agreements are
      // stronger than one, but far from independent.
      bool corroborates = f == second && score.fields[f].weight > 0;
      score.fields[f].weight = corroborates ? score.fields[f].weight / 2 : 0;
    }
    score.total += score.fields[f].weight;
  }
  return score;
}

}  // namespace hie::mpi
