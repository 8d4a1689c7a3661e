// The index on clinic registration errors (nicknames, married and hyphenated surnames,
// day/month swaps, lost accents, swapped name fields, moves, missing identifiers) with
// twins and common names that must stay apart: precision first, then recall. Placed as
// hie-mpi places registrations, one after another.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mpi/index/index_evaluation.h"
#include "mpi/match/engine.h"
#include "mpi/match/evaluation.h"
#include "mpi/testing/synthetic.h"

namespace hie::mpi {
namespace {

using ::testing::Ge;

// Twins registered with their sex (every clinic registration here) are never linked,
// also without identifiers or a multiple birth on record. Twins of one sex are in the
// review queue instead, unless each carries its own number of one system (told apart:
// two people); a brother and a sister are two people, and no question.
TEST(ClinicErrorsTest, TwinsStayApartAndAreReviewed) {
  testing::SyntheticPeople gen(11);
  std::vector<PatientIndex::Registration> registrations;
  for (int i = 0; i < 300; ++i) {
    Person p = gen.NewPerson();
    Person twin = gen.TwinOf(p);
    registrations.push_back({"org-a", absl::StrCat("A", i), std::move(p)});
    registrations.push_back({"org-b", absl::StrCat("B", i), std::move(twin)});
  }
  auto scratch = ScratchIndex::Create(IndexOptions{});
  ASSERT_TRUE(scratch.ok()) << scratch.status();
  auto run = PlaceAll((*scratch)->index(), registrations);
  ASSERT_TRUE(run.ok()) << run.status();
  int linked = 0;
  for (size_t i = 0; i < registrations.size(); i += 2) linked += run->euid[i] == run->euid[i + 1];
  EXPECT_EQ(linked, 0) << "of " << registrations.size() / 2;
  // Whether the twins at i and i + 1 carry two values of one identifier system.
  auto own_numbers = [&](size_t i) {
    for (const auto& [system, value] : registrations[i].person.identifiers) {
      for (const auto& [other_system, other_value] : registrations[i + 1].person.identifiers) {
        if (system == other_system && value != other_value) return true;
      }
    }
    return false;
  };
  int same_sex = 0;
  for (size_t i = 0; i < registrations.size(); i += 2) {
    same_sex += registrations[i].person.sex == registrations[i + 1].person.sex;
  }
  std::vector<bool> reviewed_pair(registrations.size() / 2, false);
  int opposite_reviewed = 0;
  for (const auto& r : run->reviews) {
    if (r.a / 2 != r.b / 2) continue;
    if (registrations[r.a].person.sex != registrations[r.b].person.sex) {
      ++opposite_reviewed;
    } else if (r.reason == "twin guard") {
      reviewed_pair[r.a / 2] = true;
    }
  }
  // Twins of one sex are asked about, or told apart by their own numbers.
  int reviewed = 0, told_apart = 0;
  for (size_t i = 0; i < registrations.size(); i += 2) {
    if (registrations[i].person.sex != registrations[i + 1].person.sex) continue;
    if (reviewed_pair[i / 2]) {
      ++reviewed;
    } else if (own_numbers(i)) {
      // Left out of the queue only by the guard that tells twins apart.
      PreparedPerson a = Prepare(registrations[i].person);
      PreparedPerson b = Prepare(registrations[i + 1].person);
      told_apart += CheckGuards(a, b, Compare(a, b)) == Guard::kTwinsApart;
    }
  }
  EXPECT_GE(same_sex, 100);  // the generator makes both kinds
  EXPECT_LE(same_sex, 200);
  EXPECT_GE(told_apart, 10);
  EXPECT_GE(reviewed + told_apart, same_sex * 97 / 100) << "of " << same_sex << " twins of one sex";
  EXPECT_EQ(opposite_reviewed, 0);
}

// The clinic-style set (twins, siblings, married names, junior and senior, birth-date
// errors, similar names, common names) placed as the practices would register it. A
// seed the rules were not tuned on; `mpi_clinic_set` writes the same sets as CSV for
// `hiectl mpi evaluate`.
TEST(ClinicErrorsTest, ClinicStyleSetThroughTheIndex) {
  std::vector<testing::ClinicRegistration> set =
      testing::MakeClinicRegistrations(/*seed=*/25, /*persons=*/4000);
  std::vector<PatientIndex::Registration> registrations;
  std::vector<std::string> truth;
  for (const auto& r : set) {
    registrations.push_back({r.org, r.rec_id, r.person});
    truth.push_back(FebrlEntity(r.rec_id));
  }
  auto scratch = ScratchIndex::Create(IndexOptions{});
  ASSERT_TRUE(scratch.ok()) << scratch.status();
  auto run = PlaceAll((*scratch)->index(), registrations);
  ASSERT_TRUE(run.ok()) << run.status();
  std::vector<int> cluster = ClusterNumbers(run->euid);
  PairwiseMetrics m = ComparePairs(cluster, truth, {});
  double with_reviews = RecallWithReviews(cluster, truth, {}, ReviewJoins(*run));
  std::cout << "clinic-style: precision " << m.precision << " recall " << m.recall
            << " recall with reviews " << with_reviews << " review pairs " << run->reviews.size()
            << " of " << registrations.size() << "\n";
  // Measured on this seed: precision 0.9997, recall with reviews 0.9939, 401 review pairs
  // (6.2%; docs/matching.md has the held-out seeds). Floors a little under, so that a
  // change that loses ground fails.
  EXPECT_THAT(m.precision, Ge(0.999));
  EXPECT_THAT(with_reviews, Ge(0.992));
  EXPECT_LE(run->reviews.size(), registrations.size() * 65 / 1000);
}

}  // namespace
}  // namespace hie::mpi
