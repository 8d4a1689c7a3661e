// The engine on clinic registration errors (nicknames, married and hyphenated surnames,
// day/month swaps, lost accents, swapped name fields, moves, missing identifiers) with
// twins and common names that must stay apart: precision first, then recall.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mpi/match/engine.h"
#include "mpi/match/evaluation.h"
#include "mpi/testing/synthetic.h"

namespace hie::mpi {
namespace {

using ::testing::Ge;

TEST(ClinicErrorsTest, PrecisionAndRecallOnClinicErrors) {
  testing::LabelledSet set = testing::MakeClinicSet(/*seed=*/7, /*persons=*/4000, 0.5);
  BatchResult result = LinkBatch(set.people, {}, BatchOptions{});
  PairwiseMetrics m = ComparePairs(result.cluster, set.truth, {});
  RecordProperty("precision", std::to_string(m.precision));
  RecordProperty("recall", std::to_string(m.recall));
  std::cout << "clinic errors: precision " << m.precision << " recall " << m.recall << " F1 "
            << m.f1 << " (" << m.true_pairs << " true pairs)\n";
  // Measured 0.90 / 0.998 / 0.95 at the default thresholds; the precision lost is
  // same-sex twins with nothing on record that tells them apart (see TwinsStayApart).
  EXPECT_THAT(m.precision, Ge(0.88));
  EXPECT_THAT(m.recall, Ge(0.99));
  EXPECT_THAT(m.f1, Ge(0.93));
}

TEST(ClinicErrorsTest, TwinsWithAnythingOnRecordStayApart) {
  testing::SyntheticPeople gen(11);
  std::vector<Person> people;
  for (int i = 0; i < 300; ++i) {
    Person p = gen.NewPerson();
    people.push_back(p);
    people.push_back(gen.TwinOf(p));
  }
  BatchResult result = LinkBatch(people, {}, BatchOptions{});
  int evidenced = 0, linked = 0, unevidenced = 0, unevidenced_linked = 0;
  for (size_t i = 0; i < people.size(); i += 2) {
    const Person& a = people[i];
    const Person& b = people[i + 1];
    bool evidence =
        a.sex != b.sex || b.multiple_birth || (!a.identifiers.empty() && !b.identifiers.empty());
    bool same = result.cluster[i] == result.cluster[i + 1];
    if (evidence) {
      ++evidenced;
      linked += same;
    } else {
      ++unevidenced;
      unevidenced_linked += same;
    }
  }
  // Twins whose registrations record a multiple birth, another sex or their own
  // identifiers are never linked.
  EXPECT_GT(evidenced, 200);
  EXPECT_EQ(linked, 0) << "of " << evidenced;
  // Same-sex twins with no identifier and no multiple birth on record look exactly like
  // one person whose first name was entered wrongly; the score decides. Reported, not
  // asserted: this is the engine's known limit.
  std::cout << "twins without evidence linked: " << unevidenced_linked << " of " << unevidenced
            << "\n";
}

}  // namespace
}  // namespace hie::mpi
