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
  // Measured 0.975 / 0.970 / 0.972 at the default thresholds. What recall is lost is
  // compound errors the twin guard holds back (a married name with its first name
  // mistyped); what precision is lost is common names at one address and birth date.
  EXPECT_THAT(m.precision, Ge(0.96));
  EXPECT_THAT(m.recall, Ge(0.95));
  EXPECT_THAT(m.f1, Ge(0.96));
}

// Twins registered with their sex (every clinic registration here) are never linked,
// also without identifiers or a multiple birth on record; without a sex on one side the
// score decides.
TEST(ClinicErrorsTest, TwinsStayApart) {
  testing::SyntheticPeople gen(11);
  std::vector<Person> people;
  for (int i = 0; i < 300; ++i) {
    Person p = gen.NewPerson();
    people.push_back(p);
    people.push_back(gen.TwinOf(p));
  }
  BatchResult result = LinkBatch(people, {}, BatchOptions{});
  int linked = 0;
  for (size_t i = 0; i < people.size(); i += 2)
    linked += result.cluster[i] == result.cluster[i + 1];
  EXPECT_EQ(linked, 0) << "of " << people.size() / 2;
}

}  // namespace
}  // namespace hie::mpi
