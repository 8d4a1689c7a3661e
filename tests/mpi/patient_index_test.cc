// The persistent index: placement, cross-references, guards, and persistence.
#include "mpi/index/patient_index.h"

#include <algorithm>
#include <filesystem>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/store/key_codec.h"
#include "common/testing/fault_env.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mpi/index/index_evaluation.h"
#include "mpi/match/text.h"
#include "mpi/testing/synthetic.h"

namespace hie::mpi {
namespace {

namespace fs = std::filesystem;
using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::UnorderedElementsAre;

Person Jane() {
  Person p;
  p.given = {"Jane", "Marie"};
  p.family = "Oyelaran";
  p.birth_date = {1984, 6, 2};
  p.sex = Sex::kFemale;
  p.street = {"12 Main Street"};
  p.city = "Springfield";
  p.postal_code = "62701";
  p.phones = {"217-555-0101"};
  return p;
}

// Jane moved house and phone, with a birth date a digit off: the birth date guard's
// question against Jane.
Person JaneMoved() {
  Person p = Jane();
  p.birth_date = {1984, 6, 3};
  p.street = {"77 Lakeview Drive"};
  p.phones = {"217-555-0199"};
  return p;
}

// Jane as the first twin, and her sister the second (the moved Jane's demographics):
// birth orders that differ, two people.
std::pair<Person, Person> JaneAndHerTwin() {
  Person first = Jane();
  first.multiple_birth = true;
  first.multiple_birth_order = 1;
  Person second = JaneMoved();
  second.multiple_birth = true;
  second.multiple_birth_order = 2;
  return {first, second};
}

// A person's registrations as "org/local".
std::vector<std::string> Members(const CrossReferenceResult& xref) {
  std::vector<std::string> members;
  for (const auto& r : xref.registrations) members.push_back(r.org_id + "/" + r.local_id);
  return members;
}

Person Bob() {
  Person p;
  p.given = {"Robert"};
  p.family = "Lindqvist";
  p.birth_date = {1950, 11, 30};
  p.sex = Sex::kMale;
  p.street = {"9 Elm Road"};
  p.city = "Salem";
  p.postal_code = "97301";
  return p;
}

// Michaelo of `family`, a man born on 15 October of `year` at `street`, `postal`: a
// name no one else of these tests carries, for the common name guards to count.
Person Michaelo(const std::string& family, int year, const std::string& street,
                const std::string& postal) {
  Person p;
  p.given = {"Michaelo"};
  p.family = family;
  p.sex = Sex::kMale;
  p.birth_date = {year, 10, 15};
  p.street = {street};
  p.postal_code = postal;
  return p;
}

class PatientIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-index-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    Reopen();
    // A population, so that name frequencies and candidate sets are realistic.
    testing::SyntheticPeople gen(3);
    for (int i = 0; i < 300; ++i) {
      ASSERT_THAT(index_->Register("org-z", absl::StrCat("z", i), gen.NewPerson()), IsOk());
    }
  }
  void TearDown() override {
    index_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void Reopen() {
    index_.reset();
    store_.reset();
    ASSERT_OK_AND_ASSIGN(store_, store::KvStore::Open(dir_));
    ASSERT_OK_AND_ASSIGN(index_, PatientIndex::Open(store_.get(), Clock::Real(), IndexOptions{}));
  }
  // Registers `p`, which the index must hold for review, and decides its item "same
  // person", as an operator would; the registration then joins the person it was
  // asked about. Returns the person after (call under ASSERT_NO_FATAL_FAILURE).
  CrossReferenceResult JoinedByOperator(const std::string& org, const std::string& local,
                                        const Person& p) {
    auto registered = index_->Register(org, local, p);
    EXPECT_THAT(registered, IsOk());
    if (!registered.ok() || registered->review_id.empty()) {
      ADD_FAILURE() << org << "/" << local << " was not held for review";
      return {};
    }
    auto joined = index_->ResolveReview(registered->review_id, /*same_person=*/true, "one");
    EXPECT_THAT(joined, IsOk());
    return joined.ok() ? *joined : CrossReferenceResult{};
  }

  std::string dir_;
  std::unique_ptr<store::KvStore> store_;
  std::unique_ptr<PatientIndex> index_;
};

TEST_F(PatientIndexTest, SamePersonAtTwoPracticesSharesAnEuid) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  Person variant = Jane();
  variant.given = {"Jane"};
  variant.family = "OYELARAN";
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B7", variant));
  EXPECT_EQ(a.euid, b.euid);
  EXPECT_EQ(b.grade, Grade::kCertain);
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult xref, index_->CrossReference("org-a", "A1"));
  EXPECT_EQ(xref.euid, a.euid);
  EXPECT_THAT(Members(xref), UnorderedElementsAre("org-a/A1", "org-b/B7"));
}

TEST_F(PatientIndexTest, DifferentPeopleGetDifferentEuids) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", Bob()));
  EXPECT_NE(a.euid, b.euid);
}

TEST_F(PatientIndexTest, TwoLocalIdsOfOneOrganisationGoToReview) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult dup, index_->Register("org-a", "A2", Jane()));
  EXPECT_NE(dup.euid, a.euid);
  EXPECT_EQ(dup.grade, Grade::kProbable);
  EXPECT_FALSE(dup.review_id.empty());
}

TEST_F(PatientIndexTest, SameOrganisationIsNotLinkedThroughAnotherPractice) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", Jane()));
  ASSERT_EQ(a.euid, b.euid);
  // A2 matches B1 as well as A1: joining B1's person would link A1 and A2 too.
  ASSERT_OK_AND_ASSIGN(RegisterResult dup, index_->Register("org-a", "A2", Jane()));
  EXPECT_NE(dup.euid, a.euid);
  EXPECT_EQ(dup.grade, Grade::kProbable);
}

TEST_F(PatientIndexTest, EvidencedTwinsAreNotLinked) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  Person twin = Jane();
  twin.given = {"Joan"};
  twin.multiple_birth = true;
  ASSERT_OK_AND_ASSIGN(RegisterResult t, index_->Register("org-b", "B1", twin));
  EXPECT_NE(t.euid, a.euid);
}

// A guarded candidate that outscores the best unguarded one, itself only between the
// thresholds, is put in front of an operator as well: the likelier pair is not lost
// behind the less likely one.
TEST_F(PatientIndexTest, AGuardedCandidateOutscoringAReviewItemIsReviewedToo) {
  ASSERT_THAT(index_->Register("org-a", "A1", Jane()), IsOk());
  Person other = Jane();  // another Jane, born on the day the newcomer gives
  other.given = {"Jane"};
  other.family = "Whitfield";
  other.birth_date = {1984, 6, 3};
  other.street = {"4 Oak Lane"};
  other.city = "Salem";
  other.postal_code = "97301";
  other.phones.clear();
  ASSERT_THAT(index_->Register("org-c", "C1", other), IsOk());
  Person moved = JaneMoved();
  ASSERT_OK_AND_ASSIGN(RegisterResult n, index_->Register("org-b", "B1", moved));
  ASSERT_OK_AND_ASSIGN(auto with_c1, index_->Explain({"org-b", "B1"}, {"org-c", "C1"}));
  ASSERT_OK_AND_ASSIGN(auto with_a1, index_->Explain({"org-b", "B1"}, {"org-a", "A1"}));
  ASSERT_STREQ(with_c1.decision.decided_by, "between thresholds") << with_c1.score.total;
  ASSERT_STREQ(with_a1.decision.decided_by, "birth date guard");
  ASSERT_GT(with_a1.score.total, with_c1.score.total);
  EXPECT_EQ(n.placement, Placement::kReview);
  EXPECT_FALSE(n.other_review_ids.empty());
  ASSERT_OK_AND_ASSIGN(auto items, index_->ListReviews());
  std::vector<std::string> questions;
  for (const auto& item : items) {
    if (item.a.local_id == "B1")
      questions.push_back(absl::StrCat(item.b.local_id, " ", item.reason));
  }
  EXPECT_THAT(questions, UnorderedElementsAre("C1 between thresholds", "A1 birth date guard"));
}

// Deciding "same person" makes the two persons one: a registration that joined the
// newcomer automatically after the item opened (it matched the newcomer) comes along,
// rather than being left behind as a person of its own.
TEST_F(PatientIndexTest, DecidingSamePersonBringsWhoJoinedTheNewcomerAlong) {
  ASSERT_THAT(index_->Register("org-b", "B1", Jane()), IsOk());
  Person moved = JaneMoved();
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", moved));
  ASSERT_EQ(a.placement, Placement::kReview);
  ASSERT_OK_AND_ASSIGN(RegisterResult c, index_->Register("org-0", "C1", moved));
  ASSERT_EQ(c.placement, Placement::kLinked);  // the same as A1 in every field
  ASSERT_EQ(c.euid, a.euid);
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult merged,
                       index_->ResolveReview(a.review_id, /*same_person=*/true, "moved"));
  EXPECT_THAT(Members(merged), UnorderedElementsAre("org-a/A1", "org-b/B1", "org-0/C1"));
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult by_c, index_->CrossReference("org-0", "C1"));
  EXPECT_EQ(by_c.euid, merged.euid);
  // The pair's decision is recorded as the operator's link, which matching never undoes
  // (the merge alone records one between the persons' first registrations: org-0's C1).
  ASSERT_OK_AND_ASSIGN(auto explained, index_->Explain({"org-a", "A1"}, {"org-b", "B1"}));
  EXPECT_EQ(explained.manual, "manual link");
}

// A re-registration's question moves that registration alone: the person it had holds
// other practices' registrations of someone else, who must not be merged along.
TEST_F(PatientIndexTest, DecidingSamePersonOnAReRegistrationMovesItAlone) {
  ASSERT_OK_AND_ASSIGN(RegisterResult jane, index_->Register("org-b", "B1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult bob, index_->Register("org-a", "A1", Bob()));
  ASSERT_OK_AND_ASSIGN(RegisterResult bob_c, index_->Register("org-c", "C1", Bob()));
  ASSERT_EQ(bob_c.euid, bob.euid);
  // org-a's local id A1 now carries Jane's (moved, birth date a digit off): a question.
  ASSERT_OK_AND_ASSIGN(RegisterResult again, index_->Register("org-a", "A1", JaneMoved()));
  ASSERT_EQ(again.placement, Placement::kReview) << again.review_reason;
  ASSERT_EQ(again.euid, bob.euid);
  ASSERT_OK_AND_ASSIGN(auto items, index_->ListReviews());
  bool flagged = false;
  for (const auto& item : items)
    flagged |= item.review_id == again.review_id && item.re_registration;
  EXPECT_TRUE(flagged);
  ASSERT_THAT(index_->ResolveReview(again.review_id, /*same_person=*/true, "A1 is Jane now"),
              IsOk());
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult a1, index_->CrossReference("org-a", "A1"));
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult c1, index_->CrossReference("org-c", "C1"));
  EXPECT_EQ(a1.euid, jane.euid);
  EXPECT_EQ(c1.euid, bob.euid);  // Bob stays Bob
}

// The evaluation's worked queue goes through the index's own resolve: an item the truth
// calls one person joins the two, one it calls two people is kept apart for good.
TEST_F(PatientIndexTest, DecideQueueResolvesEachItemAsTheTruthSays) {
  Person other = Bob();
  Person other_moved = Bob();
  other_moved.birth_date = {1950, 11, 3};  // a digit off, moved
  other_moved.street = {"2 Pine Road"};
  std::vector<PatientIndex::Registration> regs = {{"org-b", "B1", Jane()},
                                                  {"org-a", "A1", JaneMoved()},
                                                  {"org-b", "B2", other},
                                                  {"org-a", "A2", other_moved}};
  ASSERT_OK_AND_ASSIGN(PlacementRun run, PlaceAll(*index_, regs));
  ASSERT_EQ(run.reviews.size(), 2u);
  ASSERT_NE(run.euid[0], run.euid[1]);
  ASSERT_NE(run.euid[2], run.euid[3]);
  // Jane is one person; the two Bobs, says this truth, are two.
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> after,
                       DecideQueue(*index_, regs, {"jane", "jane", "bob", "robert"}));
  EXPECT_EQ(after[0], after[1]);
  EXPECT_NE(after[2], after[3]);
  ASSERT_OK_AND_ASSIGN(auto items, index_->ListReviews());
  for (const auto& item : items) EXPECT_EQ(item.a.org_id, "org-z") << item.a.local_id;
  // The keep-apart decision sticks: registering A2 again opens no question.
  ASSERT_OK_AND_ASSIGN(RegisterResult again, index_->Register("org-a", "A2", other_moved));
  EXPECT_NE(again.placement, Placement::kReview);
  EXPECT_NE(again.euid, after[2]);
}

TEST_F(PatientIndexTest, IndexSurvivesARestart) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  int64_t size = index_->size();
  Reopen();
  EXPECT_EQ(index_->size(), size);
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult xref, index_->CrossReference("org-a", "A1"));
  EXPECT_EQ(xref.euid, a.euid);
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-c", "C1", Jane()));
  EXPECT_EQ(b.euid, a.euid);
}

TEST_F(PatientIndexTest, ReRegistrationReplacesDemographicsAndKeys) {
  ASSERT_OK_AND_ASSIGN(RegisterResult first, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult again, index_->Register("org-a", "A1", Bob()));
  EXPECT_EQ(again.version, 2);
  EXPECT_EQ(again.euid, first.euid);  // a registration keeps its person
  ASSERT_OK_AND_ASSIGN(Person stored, index_->GetPerson("org-a", "A1"));
  EXPECT_EQ(stored.family, "Lindqvist");
  // Jane's old blocking keys are gone: a new Jane is not placed with A1.
  ASSERT_OK_AND_ASSIGN(RegisterResult jane, index_->Register("org-b", "B1", Jane()));
  EXPECT_NE(jane.euid, first.euid);
}

TEST_F(PatientIndexTest, BatchRegistrationSeesEarlierEntriesAndPersists) {
  Person variant = Jane();
  variant.given = {"Jane"};
  ASSERT_OK_AND_ASSIGN(auto results, index_->RegisterBatch({{"org-a", "A1", Jane()},
                                                            {"org-b", "B1", variant},
                                                            {"org-c", "", Jane()},
                                                            {"org-d", "D1", Bob()}}));
  ASSERT_EQ(results.size(), 4u);
  ASSERT_THAT(results[0], IsOk());
  ASSERT_THAT(results[1], IsOk());
  EXPECT_EQ(results[1]->euid, results[0]->euid);  // matched within the batch
  EXPECT_THAT(results[2], StatusIs(absl::StatusCode::kInvalidArgument));  // one bad entry
  ASSERT_THAT(results[3], IsOk());
  Reopen();
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult xref, index_->CrossReference("org-b", "B1"));
  EXPECT_EQ(xref.euid, results[0]->euid);
  EXPECT_THAT(index_->CrossReference("org-d", "D1"), IsOk());
}

TEST_F(PatientIndexTest, RemoveDropsTheRegistration) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK(index_->Remove("org-a", "A1"));
  EXPECT_THAT(index_->CrossReference("org-a", "A1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(index_->Remove("org-a", "A1"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(PatientIndexTest, ManualUnlinkSticksThroughReRegistrationAndRestart) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", Jane()));
  ASSERT_EQ(a.euid, b.euid);
  EXPECT_THAT(index_->Unlink({"org-a", "A1"}, {"org-b", "B1"}, ""),
              StatusIs(absl::StatusCode::kInvalidArgument));  // a reason is required
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult apart,
                       index_->Unlink({"org-a", "A1"}, {"org-b", "B1"}, "different mothers"));
  EXPECT_NE(apart.euid, a.euid);
  ASSERT_OK_AND_ASSIGN(RegisterResult again, index_->Register("org-b", "B1", Jane()));
  EXPECT_NE(again.euid, a.euid) << "automatic matching undid an operator's unlink";
  Reopen();
  ASSERT_OK_AND_ASSIGN(RegisterResult after, index_->Register("org-b", "B1", Jane()));
  EXPECT_NE(after.euid, a.euid);
  ASSERT_OK_AND_ASSIGN(auto e, index_->Explain({"org-a", "A1"}, {"org-b", "B1"}));
  EXPECT_EQ(e.manual, "manual unlink");
}

TEST_F(PatientIndexTest, ManualLinkSticksThroughReRegistration) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", Bob()));
  ASSERT_NE(a.euid, b.euid);
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult linked,
                       index_->Link({"org-a", "A1"}, {"org-b", "B1"}, "name change documented"));
  EXPECT_EQ(linked.euid, a.euid);
  EXPECT_EQ(linked.registrations.size(), 2u);
  ASSERT_OK_AND_ASSIGN(RegisterResult again, index_->Register("org-b", "B1", Bob()));
  EXPECT_EQ(again.euid, a.euid);
  EXPECT_THAT(index_->Link({"org-a", "A1"}, {"org-x", "X1"}, "r"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(PatientIndexTest, ReviewItemsAreListedAndResolved) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult dup, index_->Register("org-a", "A2", Jane()));
  ASSERT_EQ(dup.grade, Grade::kProbable);
  auto find =
      [&](const std::vector<PatientIndex::ReviewItem>& items) -> const PatientIndex::ReviewItem* {
    for (const auto& item : items) {
      if (item.review_id == dup.review_id) return &item;
    }
    return nullptr;
  };
  ASSERT_OK_AND_ASSIGN(auto items, index_->ListReviews());
  const PatientIndex::ReviewItem* item = find(items);
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(item->a.local_id, "A2");
  EXPECT_EQ(item->b.local_id, "A1");
  ASSERT_OK_AND_ASSIGN(
      CrossReferenceResult merged,
      index_->ResolveReview(dup.review_id, /*same_person=*/true, "duplicate chart"));
  EXPECT_EQ(merged.registrations.size(), 2u);
  ASSERT_OK_AND_ASSIGN(items, index_->ListReviews());
  EXPECT_EQ(find(items), nullptr);
  EXPECT_THAT(index_->ResolveReview(dup.review_id, true, "again"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(PatientIndexTest, ExplainShowsEveryFieldAndWhatDecided) {
  ASSERT_THAT(index_->Register("org-a", "A1", Jane()), IsOk());
  ASSERT_THAT(index_->Register("org-b", "B1", Bob()), IsOk());
  ASSERT_OK_AND_ASSIGN(auto e, index_->Explain({"org-a", "A1"}, {"org-b", "B1"}));
  EXPECT_EQ(e.score.fields.size(), static_cast<size_t>(kFieldCount));
  EXPECT_LT(e.score.total, 0);
  EXPECT_STREQ(e.decision.decided_by, "below lower threshold");
  EXPECT_TRUE(e.manual.empty());
}

TEST_F(PatientIndexTest, MergeMovesAPersonAndKeepsTheOldEuidResolvable) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", Bob()));
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult merged, index_->Merge(b.euid, a.euid, "same person"));
  EXPECT_EQ(merged.euid, a.euid);
  EXPECT_EQ(merged.registrations.size(), 2u);
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult via_old, index_->CrossReferenceByEuid(b.euid));
  EXPECT_EQ(via_old.euid, a.euid);
  ASSERT_OK_AND_ASSIGN(RegisterResult again, index_->Register("org-b", "B1", Bob()));
  EXPECT_EQ(again.euid, a.euid);  // a merge is a manual decision: it sticks
  EXPECT_THAT(index_->Merge("nope", a.euid, "r"), StatusIs(absl::StatusCode::kNotFound));
  // Merging the old EUID again is refused, and both EUIDs still resolve.
  EXPECT_THAT(index_->Merge(b.euid, a.euid, "again"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("already")));
  EXPECT_THAT(index_->Merge(a.euid, b.euid, "backwards"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(index_->CrossReferenceByEuid(b.euid), IsOk());
  EXPECT_THAT(index_->CrossReferenceByEuid(a.euid), IsOk());
}

TEST_F(PatientIndexTest, SearchRanksPersonsWithoutRegistering) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  int64_t size = index_->size();
  Person query;
  query.given = {"Jane"};
  query.family = "Oyelaran";
  query.birth_date = {1984, 6, 2};
  PatientIndex::SearchResult found = index_->Search(query, 5, Grade::kPossible);
  ASSERT_FALSE(found.candidates.empty());
  EXPECT_EQ(found.candidates[0].euid, a.euid);
  EXPECT_EQ(found.candidates[0].best.local_id, "A1");
  for (size_t i = 1; i < found.candidates.size(); ++i) {
    EXPECT_GE(found.candidates[i - 1].score, found.candidates[i].score);
  }
  EXPECT_LE(found.candidates.size(), 5u);
  EXPECT_EQ(index_->size(), size);
  ASSERT_OK_AND_ASSIGN(int64_t version, index_->Version("org-a", "A1"));
  EXPECT_EQ(version, 1);
}

// The daemon's own matching, registration by registration through the index, on the
// clinic-error set: what the practices' patients actually get.
// Registers a clinic-error set, each registration at one of 40 practices named
// `prefix`-N, and returns the pairwise precision and recall of the EUIDs it got.
std::pair<double, double> RegisterClinicSet(PatientIndex& index, int seed,
                                            const std::string& prefix) {
  testing::LabelledSet set = testing::MakeClinicSet(seed, /*persons=*/3000, 0.5);
  std::vector<PatientIndex::Registration> batch;
  for (size_t i = 0; i < set.people.size(); ++i) {
    // Each registration at its own practice, as a patient seen at several clinics.
    batch.push_back({absl::StrCat(prefix, "-", i % 40), absl::StrCat("P", i), set.people[i]});
  }
  absl::StatusOr<std::vector<absl::StatusOr<RegisterResult>>> results = index.RegisterBatch(batch);
  EXPECT_THAT(results, IsOk());
  if (!results.ok()) return {0, 0};
  std::vector<std::string> euids;
  for (const auto& r : *results) {
    EXPECT_THAT(r, IsOk());
    euids.push_back(r.ok() ? r->euid : "");
  }
  int64_t predicted = 0, correct = 0, truth_pairs = 0;
  for (size_t i = 0; i < euids.size(); ++i) {
    for (size_t j = i + 1; j < euids.size(); ++j) {
      bool same = euids[i] == euids[j];
      bool truly = set.truth[i] == set.truth[j];
      predicted += same;
      truth_pairs += truly;
      correct += same && truly;
    }
  }
  double precision = predicted == 0 ? 1 : static_cast<double>(correct) / predicted;
  double recall = static_cast<double>(correct) / truth_pairs;
  std::cout << prefix << ": precision " << precision << " recall " << recall << " (" << truth_pairs
            << " true pairs)\n";
  return {precision, recall};
}

TEST_F(PatientIndexTest, ClinicSetThroughTheIndex) {
  // Measured 0.998 and 0.938: what is not linked is in the review queue.
  auto [precision, recall] = RegisterClinicSet(*index_, /*seed=*/21, "clinic");
  EXPECT_GE(precision, 0.99);
  EXPECT_GE(recall, 0.92);
}

// The index learns m and u from its own registrations, keeps them across a restart,
// and scores with them afterwards.
TEST_F(PatientIndexTest, FitLearnsFromTheIndexAndPersists) {
  EXPECT_EQ(index_->Model().fitted_at, absl::InfinitePast());
  EXPECT_THAT(index_->FitModel({}), StatusIs(absl::StatusCode::kFailedPrecondition,
                                             ::testing::HasSubstr("at least 1000")));
  RegisterClinicSet(*index_, /*seed=*/21, "clinic");
  ASSERT_OK_AND_ASSIGN(PatientIndex::FittedModel fitted, index_->FitModel({}));
  EXPECT_EQ(fitted.registrations, index_->size());
  EXPECT_GT(fitted.candidate_pairs, 1000);
  EXPECT_GT(fitted.random_pairs, 90000);
  EXPECT_GT(fitted.em_iterations, 0);
  // Agreement is evidence for, disagreement against, on every field; and the data moved
  // the weights away from the starting ones.
  const MatchModel start;
  double moved = 0;
  for (int f = 0; f < kFieldCount; ++f) {
    auto field = static_cast<Field>(f);
    EXPECT_GT(fitted.model.Weight(field, Level::kExact), 0) << FieldName(field);
    EXPECT_LT(fitted.model.Weight(field, Level::kDifferent), 0) << FieldName(field);
    moved = std::max(moved, std::abs(fitted.model.Weight(field, Level::kExact) -
                                     start.Weight(field, Level::kExact)));
  }
  EXPECT_GT(moved, 0.5);

  // Explain scores with the fitted model.
  ASSERT_THAT(index_->Register("org-a", "A1", Jane()), IsOk());
  ASSERT_THAT(index_->Register("org-b", "B1", Jane()), IsOk());
  ASSERT_OK_AND_ASSIGN(PatientIndex::Explanation e,
                       index_->Explain({"org-a", "A1"}, {"org-b", "B1"}));
  const FieldScore& birth = e.score.fields[static_cast<int>(Field::kBirthDate)];
  EXPECT_DOUBLE_EQ(birth.weight, fitted.model.Weight(Field::kBirthDate, Level::kExact));

  Reopen();
  PatientIndex::FittedModel reopened = index_->Model();
  EXPECT_EQ(reopened.fitted_at, fitted.fitted_at);
  EXPECT_EQ(reopened.candidate_pairs, fitted.candidate_pairs);
  for (int f = 0; f < kFieldCount; ++f) {
    for (int l = 0; l + 1 < kLevelCount; ++l) {
      EXPECT_NEAR(reopened.model.Weight(static_cast<Field>(f), static_cast<Level>(l)),
                  fitted.model.Weight(static_cast<Field>(f), static_cast<Level>(l)), 1e-9);
    }
  }

  // People registered afterwards are placed well: measured precision 0.9993 and recall
  // 0.936, where the starting parameters give 0.9942 and 0.936 on the same registrations.
  auto [precision, recall] = RegisterClinicSet(*index_, /*seed=*/22, "later");
  EXPECT_GE(precision, 0.99);
  EXPECT_GE(recall, 0.92);
}

TEST_F(PatientIndexTest, AnUnreadableStoredModelFailsTheOpen) {
  index_.reset();
  ASSERT_OK(store_->Put(store::KeyBuilder().AddString("P").Build(), "\xff not a model"));
  EXPECT_THAT(PatientIndex::Open(store_.get(), Clock::Real(), IndexOptions{}),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("matching model")));
}

// A batch compares its newcomers with the index on every core before placing them one
// by one; the placements must be exactly those of registering one at a time: the same
// people together, the same grades, scores and review items. The batches mix new
// people, variants of people already held and of people earlier in the same batch,
// twins, re-registrations with changed demographics (of registrations before and
// within the batch, then met by a newcomer compared in the first pass with the old
// demographics) and refusals.
TEST(PatientIndexBatchTest, PlacesEveryoneAsRegisteringOneByOneWould) {
  std::string base = absl::StrCat(::testing::TempDir(), "hie-index-batch-", getpid());
  fs::remove_all(base);
  ASSERT_OK_AND_ASSIGN(auto store_a, store::KvStore::Open(base + "-a"));
  ASSERT_OK_AND_ASSIGN(auto store_b, store::KvStore::Open(base + "-b"));
  ASSERT_OK_AND_ASSIGN(auto batched, PatientIndex::Open(store_a.get(), Clock::Real(), {}));
  ASSERT_OK_AND_ASSIGN(auto single, PatientIndex::Open(store_b.get(), Clock::Real(), {}));

  testing::SyntheticPeople gen(77);
  std::vector<PatientIndex::Registration> all;
  std::vector<Person> people;  // as first registered, by index in `all`
  size_t moved = 0;            // the registration re-registered last
  // At least 5,000: `hiectl mpi evaluate` places through RegisterBatch on the strength
  // of this test.
  for (size_t i = 0; i < 5200; ++i) {
    Person p;
    std::string org = absl::StrCat("org-", i % 7), local = absl::StrCat("L", i);
    size_t kind = i % 13;
    if (i < 13 || kind < 5) {
      p = gen.NewPerson();
    } else if (kind < 8) {
      p = gen.ClinicVariant(people[(i * 7919) % people.size()]);
    } else if (kind == 8) {
      p = gen.TwinOf(people.back());
    } else if (kind == 9) {
      p = gen.TypoVariant(people.back());
    } else if (kind == 10) {
      // Re-registers one a few places back (in this batch) or far back (before it),
      // with its demographics changed...
      moved = i % 26 == 10 ? i - 3 : i / 2;
      org = all[moved].org_id;
      local = all[moved].local_id;
      p = gen.ClinicVariant(people[moved]);
    } else if (kind == 11) {
      // ...and then the same person arrives from elsewhere: it was compared with the
      // old demographics in the batch's first pass, and must meet the new ones.
      p = gen.TypoVariant(people[moved]);
    } else {
      p = Person{};  // refused: no name
    }
    people.push_back(p);
    all.push_back({org, local, std::move(p)});
  }
  std::vector<absl::StatusOr<RegisterResult>> from_batches, from_singles;
  for (size_t first = 0; first < all.size(); first += 400) {
    std::vector<PatientIndex::Registration> batch(
        all.begin() + static_cast<long>(first),
        all.begin() + static_cast<long>(std::min(all.size(), first + 400)));
    ASSERT_OK_AND_ASSIGN(auto results, batched->RegisterBatch(batch));
    for (auto& r : results) from_batches.push_back(std::move(r));
    for (const auto& r : batch) {
      from_singles.push_back(single->Register(r.org_id, r.local_id, r.person));
    }
  }
  ASSERT_EQ(from_batches.size(), from_singles.size());
  // EUIDs are random: compare the partition they make.
  absl::flat_hash_map<std::string, std::string> euid_map, reverse_map;
  int reviews = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("registration ", i));
    ASSERT_EQ(from_batches[i].ok(), from_singles[i].ok()) << from_batches[i].status();
    if (!from_batches[i].ok()) continue;
    const RegisterResult& x = *from_batches[i];
    const RegisterResult& y = *from_singles[i];
    EXPECT_EQ(x.grade, y.grade);
    EXPECT_EQ(x.score, y.score);
    EXPECT_EQ(x.version, y.version);
    EXPECT_EQ(x.review_id.empty(), y.review_id.empty());
    EXPECT_EQ(x.candidates_scored, y.candidates_scored);
    reviews += !x.review_id.empty();
    auto [it, fresh] = euid_map.emplace(x.euid, y.euid);
    EXPECT_EQ(it->second, y.euid) << "batched placement differs";
    auto [rit, rfresh] = reverse_map.emplace(y.euid, x.euid);
    EXPECT_EQ(rit->second, x.euid) << "batched placement differs";
  }
  // The mix exercised linking and review, not only new people.
  EXPECT_LT(euid_map.size(), all.size() * 3 / 4);
  EXPECT_GT(reviews, 0);
  // And left the same review queue: the same pairs, scores and reasons.
  auto queue = [](PatientIndex& index) {
    std::vector<std::string> items;
    auto listed = index.ListReviews();
    EXPECT_THAT(listed, IsOk());
    if (!listed.ok()) return items;
    for (const auto& item : *listed) {
      items.push_back(absl::StrCat(item.a.org_id, "/", item.a.local_id, " ", item.b.org_id, "/",
                                   item.b.local_id, " ", item.score, " ", item.reason));
    }
    std::sort(items.begin(), items.end());
    return items;
  };
  std::vector<std::string> batched_queue = queue(*batched);
  EXPECT_GT(batched_queue.size(), 0u);
  EXPECT_EQ(batched_queue, queue(*single));
  batched.reset();
  single.reset();
  store_a.reset();
  store_b.reset();
  fs::remove_all(base + "-a");
  fs::remove_all(base + "-b");
}

// An operator decision that cannot be read back is reported when the index opens, never
// skipped: skipping it would let automatic matching undo the operator.
TEST_F(PatientIndexTest, AnUnreadableOperatorDecisionFailsTheOpen) {
  ASSERT_THAT(index_->Register("org-a", "A1", Jane()), IsOk());
  ASSERT_THAT(index_->Register("org-b", "B1", Bob()), IsOk());
  ASSERT_THAT(index_->Unlink({"org-a", "A1"}, {"org-b", "B1"}, "two people"), IsOk());
  index_.reset();
  store::WriteBatch batch;
  batch.Put(store::KeyBuilder().AddString("M").AddString("org-a\nA1 and no partner").Build(),
            "unlink: damaged");
  ASSERT_OK(store_->Write(batch));
  EXPECT_THAT(PatientIndex::Open(store_.get(), Clock::Real(), IndexOptions{}),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("operator decision")));
}

TEST_F(PatientIndexTest, UpdateChecksTheVersionUnderTheSameLock) {
  EXPECT_THAT(index_->Update("org-a", "A1", Jane(), 0), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(index_->Register("org-a", "A1", Jane()), IsOk());
  EXPECT_THAT(index_->Update("org-a", "A1", Jane(), 7), StatusIs(absl::StatusCode::kAborted));
  ASSERT_OK_AND_ASSIGN(RegisterResult updated, index_->Update("org-a", "A1", Jane(), 1));
  EXPECT_EQ(updated.version, 2);
}

// A practice learns the EUID and its own registrations of a person, nothing of other
// holders; a person it does not hold is answered as one that does not exist.
TEST_F(PatientIndexTest, AMemberSeesOnlyItsOwnRegistrations) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult s, index_->Register("org-sud", "S1", Jane()));
  ASSERT_EQ(a.euid, b.euid);
  ASSERT_EQ(a.euid, s.euid);
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult full, index_->CrossReference("org-a", "A1"));
  EXPECT_EQ(full.registrations.size(), 3u);

  ASSERT_OK_AND_ASSIGN(CrossReferenceResult own,
                       index_->MemberCrossReference("org-a", {"org-a", "A1"}));
  EXPECT_EQ(own.euid, a.euid);
  EXPECT_THAT(Members(own), UnorderedElementsAre("org-a/A1"));
  ASSERT_OK_AND_ASSIGN(own, index_->MemberCrossReferenceByEuid("org-b", a.euid));
  EXPECT_THAT(Members(own), UnorderedElementsAre("org-b/B1"));

  // Not yours and not found: one answer.
  ASSERT_THAT(index_->Register("org-a", "A2", Bob()), IsOk());
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult bob, index_->CrossReference("org-a", "A2"));
  const auto not_held = StatusIs(absl::StatusCode::kNotFound, kNotHeldMessage);
  EXPECT_THAT(index_->MemberCrossReference("org-b", {"org-a", "A2"}), not_held);
  EXPECT_THAT(index_->MemberCrossReference("org-b", {"org-a", "nobody"}), not_held);
  EXPECT_THAT(index_->MemberCrossReference("org-b", {"org-b", "nobody"}), not_held);
  EXPECT_THAT(index_->MemberCrossReferenceByEuid("org-b", bob.euid), not_held);
  EXPECT_THAT(index_->MemberCrossReferenceByEuid("org-b", "0123456789abcdef"), not_held);
  // An org id that prefixes another's is not that org.
  EXPECT_THAT(index_->MemberCrossReferenceByEuid("org-", a.euid), not_held);
}

// A merged-away EUID still answers a holder, with the surviving EUID.
TEST_F(PatientIndexTest, AMemberFollowsAMergeToItsOwnRegistrations) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", Bob()));
  ASSERT_OK(index_->Merge(a.euid, b.euid, "same person, documented").status());
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult own,
                       index_->MemberCrossReferenceByEuid("org-a", a.euid));
  EXPECT_EQ(own.euid, b.euid);
  EXPECT_THAT(Members(own), UnorderedElementsAre("org-a/A1"));
}

// A first registration that matches another practice's patient is linked, and the
// result carries the evidence the audit records: the candidate, and every field's level
// and weight.
TEST_F(PatientIndexTest, AnAutomaticLinkCarriesItsEvidence) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  EXPECT_EQ(a.placement, Placement::kNewPerson);
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", Jane()));
  EXPECT_EQ(b.placement, Placement::kLinked);
  EXPECT_EQ(b.euid, a.euid);
  ASSERT_TRUE(b.has_match);
  EXPECT_EQ(b.matched.org_id, "org-a");
  EXPECT_EQ(b.matched.local_id, "A1");
  std::string text = DescribePlacement(b, index_->thresholds());
  EXPECT_THAT(text, ::testing::HasSubstr("linked to " + a.euid));
  EXPECT_THAT(text, ::testing::HasSubstr("org-a/A1"));
  EXPECT_THAT(text, ::testing::HasSubstr("family_name exact +"));
  EXPECT_THAT(text, ::testing::HasSubstr("birth_date exact +"));
}

// A practice re-registering one of its local ids with another person's demographics
// does not take that person over: the registration stays with its person (with the new
// demographics recorded) and a review item is opened. The operator's "same person"
// moves it alone; its old person keeps its other registrations.
// Removing a registration and registering the local id again is no way around review.
TEST_F(PatientIndexTest, RegisteringARemovedLocalIdAsAnotherPersonGoesToReview) {
  ASSERT_OK_AND_ASSIGN(RegisterResult jane_b, index_->Register("org-b", "B1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult bob_a, index_->Register("org-a", "A1", Bob()));
  ASSERT_OK_AND_ASSIGN(RegisterResult bob_c, index_->Register("org-c", "C1", Bob()));
  ASSERT_EQ(bob_a.euid, bob_c.euid);
  ASSERT_OK(index_->Remove("org-a", "A1"));
  ASSERT_OK_AND_ASSIGN(RegisterResult moved, index_->Register("org-a", "A1", Jane()));
  EXPECT_EQ(moved.placement, Placement::kReview);
  EXPECT_THAT(moved.review_reason, ::testing::HasSubstr("moves to another person"));
  EXPECT_NE(moved.euid, jane_b.euid);
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult jane, index_->CrossReference("org-b", "B1"));
  EXPECT_THAT(Members(jane), UnorderedElementsAre("org-b/B1"));
  // Registered again as the person it was: linked as before.
  ASSERT_OK(index_->Remove("org-c", "C1"));
  ASSERT_OK_AND_ASSIGN(RegisterResult back, index_->Register("org-c", "C1", Bob()));
  EXPECT_NE(back.placement, Placement::kReview) << back.review_reason;
}

TEST_F(PatientIndexTest, AReRegistrationThatWouldMoveGoesToReview) {
  ASSERT_OK_AND_ASSIGN(RegisterResult jane_b, index_->Register("org-b", "B1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult bob_a, index_->Register("org-a", "A1", Bob()));
  ASSERT_OK_AND_ASSIGN(RegisterResult bob_c, index_->Register("org-c", "C1", Bob()));
  ASSERT_EQ(bob_a.euid, bob_c.euid);
  ASSERT_NE(bob_a.euid, jane_b.euid);
  std::string first_review;
  for (bool update : {false, true}) {
    ASSERT_OK_AND_ASSIGN(RegisterResult moved, update ? index_->Update("org-a", "A1", Jane(), 0)
                                                      : index_->Register("org-a", "A1", Jane()));
    EXPECT_EQ(moved.placement, Placement::kReview);
    EXPECT_EQ(moved.review_reason, "moves to another person");
    EXPECT_EQ(moved.grade, Grade::kProbable);
    EXPECT_EQ(moved.euid, bob_a.euid);
    EXPECT_EQ(moved.previous_euid, bob_a.euid);
    EXPECT_EQ(moved.matched_euid, jane_b.euid);
    // Sent again: the same item, not another.
    if (first_review.empty()) first_review = moved.review_id;
    EXPECT_EQ(moved.review_id, first_review);
    ASSERT_OK_AND_ASSIGN(CrossReferenceResult jane, index_->CrossReference("org-b", "B1"));
    EXPECT_THAT(Members(jane), UnorderedElementsAre("org-b/B1"));
  }
  Reopen();  // open items are known again after a restart
  ASSERT_OK_AND_ASSIGN(RegisterResult again, index_->Register("org-a", "A1", Jane()));
  EXPECT_EQ(again.review_id, first_review);
  ASSERT_OK_AND_ASSIGN(auto items, index_->ListReviews());
  std::string review_id;
  int open_for_a1 = 0;
  for (const auto& item : items) {
    if (item.a.local_id == "A1" && item.reason == "moves to another person") {
      review_id = item.review_id;
      ++open_for_a1;
    }
  }
  ASSERT_EQ(open_for_a1, 1);
  EXPECT_EQ(review_id, first_review);
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult decided,
                       index_->ResolveReview(review_id, true, "patient's record was mixed up"));
  EXPECT_EQ(decided.euid, jane_b.euid);
  EXPECT_THAT(Members(decided), UnorderedElementsAre("org-b/B1", "org-a/A1"));
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult bob, index_->CrossReference("org-c", "C1"));
  EXPECT_THAT(Members(bob), UnorderedElementsAre("org-c/C1"));
}

// A registration whose SSN (or any identifier system) contradicts one of the person's
// registrations is not linked automatically, however well the rest agrees; one that
// agrees on one of the values is.
TEST_F(PatientIndexTest, AContradictingIdentifierGoesToReview) {
  Person with_ssn = Jane();
  with_ssn.identifiers = {{"http://hl7.org/fhir/sid/us-ssn", "123-45-6789"}};
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", with_ssn));
  ASSERT_EQ(b.euid, a.euid);  // org-a's registration carries no SSN: nothing contradicts

  // A re-registration that would join the person against another SSN goes to review.
  Person other_ssn = Jane();
  other_ssn.identifiers = {{"http://hl7.org/fhir/sid/us-ssn", "987-65-4321"}};
  ASSERT_THAT(index_->Register("org-c", "C1", Bob()), IsOk());
  ASSERT_OK_AND_ASSIGN(RegisterResult c, index_->Register("org-c", "C1", other_ssn));
  EXPECT_EQ(c.placement, Placement::kReview);
  EXPECT_EQ(c.review_reason, "contradicting identifier");
  EXPECT_NE(c.euid, a.euid);
  // A first registration is scored: the other SSN weighs against it, and the rest of
  // Jane's demographics outweigh it (a mistyped number).
  Person third_ssn = Jane();
  third_ssn.identifiers = {{"http://hl7.org/fhir/sid/us-ssn", "555-12-3456"}};
  ASSERT_OK_AND_ASSIGN(RegisterResult e, index_->Register("org-e", "E1", third_ssn));
  EXPECT_EQ(e.placement, Placement::kLinked);
  EXPECT_EQ(e.euid, a.euid);

  Person both = other_ssn;
  both.identifiers.push_back({"http://hl7.org/fhir/sid/us-ssn", "123-45-6789"});
  ASSERT_OK_AND_ASSIGN(RegisterResult d, index_->Register("org-d", "D1", both));
  EXPECT_EQ(d.placement, Placement::kLinked);  // to either: each agrees on one SSN
  EXPECT_TRUE(d.euid == a.euid || d.euid == c.euid) << d.euid;
}

TEST_F(PatientIndexTest, AContradictingSsnUnderTheSsnOidGoesToReviewToo) {
  Person with_ssn = Jane();
  with_ssn.identifiers = {{"http://hl7.org/fhir/sid/us-ssn", "123-45-6789"}};
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", with_ssn));
  // The same system under its OID, as C-CDA and HL7 v2 name it, with another number.
  for (const char* system : {"urn:oid:2.16.840.1.113883.4.1", "2.16.840.1.113883.4.1",
                             "http://hl7.org/fhir/sid/us-ssn/"}) {
    Person other = Jane();
    other.identifiers = {{system, "987-65-4321"}};
    ASSERT_THAT(index_->Register("org-b", absl::StrCat("B-", system), Bob()), IsOk());
    ASSERT_OK_AND_ASSIGN(RegisterResult b,
                         index_->Register("org-b", absl::StrCat("B-", system), other));
    EXPECT_EQ(b.placement, Placement::kReview) << system;
    EXPECT_NE(b.euid, a.euid) << system;
  }
  EXPECT_EQ(NormalizeIdentifierSystem(" urn:oid:2.16.840.1.113883.4.1 "),
            "http://hl7.org/fhir/sid/us-ssn");
  EXPECT_EQ(NormalizeIdentifierSystem("http://example.org/mrn"), "http://example.org/mrn");
}

TEST_F(PatientIndexTest, BadRegistrationsAreRefused) {
  EXPECT_THAT(index_->Register("", "A1", Jane()), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(index_->Register("org-a", "", Jane()), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(index_->Register("org-a", "A1", Person{}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  Person latin1 = Jane();
  latin1.family = "Jos\xE9";  // Latin-1, not UTF-8: could be stored but never read back
  EXPECT_THAT(index_->Register("org-a", "A1", latin1),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("UTF-8")));
  EXPECT_THAT(index_->CrossReference("org-a", "A1"), StatusIs(absl::StatusCode::kNotFound));
}

// Batch loads group-commit (unsynced writes, one sync at the end). After a power cut
// every registration of a batch that returned is there, with its cross-reference, and
// the index loads.
TEST(PatientIndexPowerCutTest, AcknowledgedRegistrationsSurvive) {
  std::string dir = absl::StrCat(::testing::TempDir(), "hie-index-power-cut-", getpid());
  fs::remove_all(dir);
  hie::testing::FaultInjectionEnv env;
  store::KvStoreOptions options;
  options.env = &env;
  options.write_buffer_bytes = 64 << 10;
  testing::SyntheticPeople gen(11);
  std::vector<std::string> acknowledged;
  for (int round = 0; round < 6; ++round) {
    {
      ASSERT_OK_AND_ASSIGN(auto store, store::KvStore::Open(dir, options));
      ASSERT_OK_AND_ASSIGN(auto index, PatientIndex::Open(store.get(), Clock::Real(), {}));
      std::vector<PatientIndex::Registration> batch;
      for (int i = 0; i < 150; ++i) {
        batch.push_back({"org-a", absl::StrCat("r", round, "-", i), gen.NewPerson()});
      }
      ASSERT_OK_AND_ASSIGN(auto results, index->RegisterBatch(batch));
      for (size_t i = 0; i < results.size(); ++i) {
        if (results[i].ok()) acknowledged.push_back(batch[i].local_id);
      }
      // Then single registrations, each synced; the power goes when the process ends.
      for (int i = 0; i < 20; ++i) {
        std::string id = absl::StrCat("s", round, "-", i);
        if (index->Register("org-b", id, gen.NewPerson()).ok()) acknowledged.push_back(id);
      }
    }
    ASSERT_OK(env.DropUnsyncedData());
    ASSERT_OK_AND_ASSIGN(auto store, store::KvStore::Open(dir, options));
    ASSERT_OK_AND_ASSIGN(auto index, PatientIndex::Open(store.get(), Clock::Real(), {}));
    for (const std::string& id : acknowledged) {
      std::string org = id[0] == 's' ? "org-b" : "org-a";
      ASSERT_THAT(index->CrossReference(org, id), IsOk()) << "round " << round << " lost " << id;
      ASSERT_THAT(index->GetPerson(org, id), IsOk()) << id;
    }
  }
  fs::remove_all(dir);
}

// Poisoning: a registration crafted to collide with many persons (a common name, a
// placeholder birth date, a phone they share) merges no one and links to no one.
TEST_F(PatientIndexTest, ACraftedCollisionMergesNoOne) {
  std::vector<std::string> euids;
  for (int i = 0; i < 8; ++i) {
    Person p;
    p.given = {"James"};
    p.family = "Smith";
    p.sex = Sex::kMale;
    p.birth_date = {1950 + i, 1 + i, 10 + i};
    p.street = {absl::StrCat(10 + i, " Oak Street")};
    p.city = "Springfield";
    p.postal_code = "62701";
    p.phones = {"217-555-0100"};  // a shared line: a care home, a clinic's own number
    ASSERT_OK_AND_ASSIGN(RegisterResult r, index_->Register("org-b", absl::StrCat("B", i), p));
    euids.push_back(r.euid);
  }
  Person crafted;
  crafted.given = {"James"};
  crafted.family = "Smith";
  crafted.sex = Sex::kMale;
  crafted.birth_date = {1900, 1, 1};
  crafted.city = "Springfield";
  crafted.postal_code = "62701";
  crafted.phones = {"217-555-0100"};
  ASSERT_OK_AND_ASSIGN(RegisterResult c, index_->Register("org-a", "X1", crafted));
  EXPECT_NE(c.placement, Placement::kLinked);
  for (int i = 0; i < 8; ++i) {
    ASSERT_OK_AND_ASSIGN(CrossReferenceResult x,
                         index_->CrossReference("org-b", absl::StrCat("B", i)));
    EXPECT_EQ(x.euid, euids[i]);
    EXPECT_EQ(x.registrations.size(), 1u) << "person " << i << " was merged";
  }
}

// Poisoning: a member asserting another member's MRN is not believed. org-a assigns
// urn:oid:1.2.3.4; org-b registers someone else with org-a's MRN for Jane and a bare
// name: linked without the rule (the MRN confirms the names), kept apart with it. org-a's own MRN
// still counts.
TEST(PatientIndexPoisoningTest, AnotherMembersIdentifierSystemIsNoEvidence) {
  const std::string system = "urn:oid:1.2.3.4";
  Person jane = Jane();
  jane.identifiers = {{system, "MRN-1"}};
  Person claim;
  claim.given = {"Jane"};
  claim.family = "Oyelaran";
  claim.identifiers = {{system, "MRN-1"}};
  for (bool owned : {false, true}) {
    SCOPED_TRACE(owned ? "system owned by org-a" : "system owned by no one");
    IndexOptions options;
    if (owned) options.identifier_system_owners[system] = "org-a";
    ASSERT_OK_AND_ASSIGN(auto scratch, ScratchIndex::Create(options));
    PatientIndex& index = scratch->index();
    ASSERT_OK_AND_ASSIGN(RegisterResult a, index.Register("org-a", "A1", jane));
    ASSERT_OK_AND_ASSIGN(RegisterResult b, index.Register("org-b", "B1", claim));
    if (owned) {
      EXPECT_NE(b.euid, a.euid);
      EXPECT_NE(b.evidence.fields[static_cast<int>(Field::kIdentifier)].level, Level::kExact);
    } else {
      EXPECT_EQ(b.euid, a.euid);  // what the rule prevents
    }
    // org-a's own registrations carrying its MRN still agree on it.
    ASSERT_THAT(index.Register("org-a", "A2", jane), IsOk());
    ASSERT_OK_AND_ASSIGN(auto e, index.Explain({"org-a", "A1"}, {"org-a", "A2"}));
    EXPECT_EQ(e.score.fields[static_cast<int>(Field::kIdentifier)].level, Level::kExact);
  }
}

// Poisoning: an organisation over its registration rate has its further links held for
// review, not applied.
TEST_F(PatientIndexTest, ALinkHeldForABurstGoesToReview) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult b,
                       index_->Register("org-b", "B1", Jane(), {.hold_cross_org_links = true}));
  EXPECT_EQ(b.placement, Placement::kReview);
  EXPECT_EQ(b.review_reason, "registration burst");
  EXPECT_NE(b.euid, a.euid);
  ASSERT_OK_AND_ASSIGN(auto reviews, index_->ListReviews());
  int burst = 0;
  for (const auto& item : reviews) {
    burst +=
        item.reason == "registration burst" && item.a.local_id == "B1" && item.b.local_id == "A1";
  }
  EXPECT_EQ(burst, 1);
}

// A registration that matched two persons certainly opens "matches two persons"; the
// operator's "same person" merges the two persons (moving the registration alone would
// undo its link to the first).
TEST_F(PatientIndexTest, MatchesTwoPersonsResolvedSamePersonMergesThem) {
  Person jane = Jane();
  Person jane_moved = Jane();
  jane_moved.street = {"40 Oak Avenue"};
  jane_moved.city = "Salem";
  jane_moved.postal_code = "97301";
  jane_moved.phones = {"503-555-0199"};
  // The same Jane held twice: an operator kept two registrations apart, so they are
  // two persons the index will not join by itself.
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", jane));
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", jane_moved));
  if (a.euid == b.euid) {
    ASSERT_THAT(index_->Unlink({"org-a", "A1"}, {"org-b", "B1"}, "test: two persons"), IsOk());
  }
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult xa, index_->CrossReference("org-a", "A1"));
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult xb, index_->CrossReference("org-b", "B1"));
  ASSERT_NE(xa.euid, xb.euid);
  // A third registration matching both.
  Person both = Jane();
  both.phones = {"217-555-0101", "503-555-0199"};
  ASSERT_OK_AND_ASSIGN(RegisterResult c, index_->Register("org-c", "C1", both));
  ASSERT_OK_AND_ASSIGN(auto items, index_->ListReviews());
  std::string item_id;
  for (const auto& item : items) {
    if (item.reason == kMatchesTwoPersons && item.a.local_id == "C1") item_id = item.review_id;
  }
  ASSERT_FALSE(item_id.empty()) << "no 'matches two persons' item for C1";
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult merged,
                       index_->ResolveReview(item_id, /*same_person=*/true, "one Jane"));
  EXPECT_EQ(merged.registrations.size(), 3u);
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult x1, index_->CrossReference("org-a", "A1"));
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult x2, index_->CrossReference("org-b", "B1"));
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult x3, index_->CrossReference("org-c", "C1"));
  EXPECT_EQ(x1.euid, x2.euid);
  EXPECT_EQ(x1.euid, x3.euid);
}

// A registration matching two persons that an open item already asks about joins the
// better, and the operator is asked once: deciding that item "same person" brings all
// three together.
TEST_F(PatientIndexTest, TwoPersonsAlreadyInQuestionAreAskedAboutOnce) {
  // One practice registered Jane twice: two persons, and a question.
  ASSERT_OK_AND_ASSIGN(RegisterResult a1, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult a2, index_->Register("org-a", "A2", Jane()));
  ASSERT_NE(a1.euid, a2.euid);
  ASSERT_FALSE(a2.review_id.empty());
  Reopen();  // the item is known from the store, with what deciding it does
  ASSERT_OK_AND_ASSIGN(auto before, index_->ListReviews());
  ASSERT_OK_AND_ASSIGN(RegisterResult c, index_->Register("org-c", "C1", Jane()));
  EXPECT_EQ(c.placement, Placement::kLinked);
  EXPECT_TRUE(c.euid == a1.euid || c.euid == a2.euid);
  EXPECT_THAT(c.other_review_ids, ::testing::ElementsAre(a2.review_id));
  ASSERT_OK_AND_ASSIGN(auto after, index_->ListReviews());
  EXPECT_EQ(after.size(), before.size());
  ASSERT_OK_AND_ASSIGN(CrossReferenceResult merged,
                       index_->ResolveReview(a2.review_id, /*same_person=*/true, "one Jane"));
  EXPECT_EQ(merged.registrations.size(), 3u);
}

// Without a birth date, and with no address, phone or identifier in common, a name is
// all there is: worth a question when one person carries it, not when three do.
TEST_F(PatientIndexTest, ACommonNameWithoutABirthDateIsNoQuestion) {
  auto john = [](int year, const std::string& street, const std::string& postal) {
    Person p;
    p.given = {"Johnathan"};
    p.family = "Brownlowe";
    p.sex = Sex::kMale;
    if (year > 0) p.birth_date = {year, 3, 14};
    p.street = {street};
    p.postal_code = postal;
    return p;
  };
  ASSERT_OK_AND_ASSIGN(RegisterResult first,
                       index_->Register("org-a", "A1", john(1961, "1 Elm Road", "11111")));
  ASSERT_OK_AND_ASSIGN(RegisterResult alone,
                       index_->Register("org-b", "B1", john(0, "9 Lake Road", "99999")));
  EXPECT_EQ(alone.placement, Placement::kReview) << "one person of the name: ask";
  EXPECT_EQ(alone.matched.local_id, "A1");
  ASSERT_THAT(index_->Register("org-a", "A2", john(1974, "2 Oak Lane", "22222")), IsOk());
  ASSERT_THAT(index_->Register("org-d", "A3", john(1988, "3 Pine Court", "33333")), IsOk());
  ASSERT_OK_AND_ASSIGN(RegisterResult common,
                       index_->Register("org-c", "C1", john(0, "7 Hill Street", "77777")));
  EXPECT_EQ(common.placement, Placement::kNewPerson);
  EXPECT_TRUE(common.review_id.empty());
  EXPECT_TRUE(common.other_review_ids.empty());
  // An address in common is something to go by, however common the name.
  ASSERT_OK_AND_ASSIGN(RegisterResult at_home,
                       index_->Register("org-c", "C2", john(0, "2 Oak Lane", "22222")));
  EXPECT_NE(at_home.placement, Placement::kNewPerson);
  EXPECT_EQ(at_home.matched.local_id, "A2");
}

// A registration that joins one twin and would have matched the other but for its birth
// date is not asked about the other: the twins' birth orders say two people, and deciding
// such an item "same person" would merge the two persons.
TEST_F(PatientIndexTest, AHeldBackMatchWithTheOtherTwinIsNotAskedAboutOnceLinked) {
  auto [first, second] = JaneAndHerTwin();
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", first));
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", second));
  ASSERT_NE(a.euid, b.euid);
  ASSERT_TRUE(b.review_id.empty()) << "birth orders that differ: two people";
  ASSERT_OK_AND_ASSIGN(RegisterResult c, index_->Register("org-c", "C1", Jane()));
  EXPECT_EQ(c.placement, Placement::kLinked);
  EXPECT_EQ(c.euid, a.euid);
  ASSERT_OK_AND_ASSIGN(auto with_b1, index_->Explain({"org-c", "C1"}, {"org-b", "B1"}));
  ASSERT_STREQ(with_b1.decision.decided_by, "birth date guard");
  ASSERT_GE(with_b1.score.total, IndexOptions{}.thresholds.upper);
  EXPECT_TRUE(c.other_review_ids.empty());
  ASSERT_OK_AND_ASSIGN(auto items, index_->ListReviews());
  for (const auto& item : items) EXPECT_NE(item.a.local_id, "C1");
}

// Held back from both twins by its birth date (a digit from each), a registration asks
// about both, not only about the likelier: either may be its person.
TEST_F(PatientIndexTest, HeldBackFromTwoPersonsAsksAboutBoth) {
  auto [first, second] = JaneAndHerTwin();
  ASSERT_THAT(index_->Register("org-a", "A1", first), IsOk());
  ASSERT_THAT(index_->Register("org-b", "B1", second), IsOk());
  Person third = Jane();
  third.birth_date = {1984, 6, 4};
  third.street = {"5 Harbour View"};
  third.phones = {"217-555-0333"};
  ASSERT_OK_AND_ASSIGN(RegisterResult c, index_->Register("org-c", "C1", third));
  EXPECT_EQ(c.placement, Placement::kReview);
  ASSERT_OK_AND_ASSIGN(auto items, index_->ListReviews());
  std::vector<std::string> asked;
  for (const auto& item : items) {
    if (item.a.local_id == "C1") asked.push_back(absl::StrCat(item.b.local_id, " ", item.reason));
  }
  EXPECT_THAT(asked, UnorderedElementsAre("A1 birth date guard", "B1 birth date guard"));
  // The audit names both items.
  auto audit = AuditOfPlacement(c, index_->thresholds());
  ASSERT_TRUE(audit.has_value());
  EXPECT_THAT(audit->detail, ::testing::HasSubstr(c.review_id));
  ASSERT_EQ(c.other_review_ids.size(), 1u);
  EXPECT_THAT(audit->detail, ::testing::HasSubstr(c.other_review_ids[0]));
}

// A name three persons carry and one birth date, with nothing else in common: namesakes
// share as much, so an operator decides. A name one person carries links as before.
TEST_F(PatientIndexTest, ACommonNameAndABirthDateAloneAreAQuestion) {
  auto michael = [](int year, const std::string& street, const std::string& postal) {
    return Michaelo("Johnstonne", year, street, postal);
  };
  ASSERT_THAT(index_->Register("org-a", "A1", michael(1989, "1 Elm Road", "11111")), IsOk());
  ASSERT_OK_AND_ASSIGN(RegisterResult rare,
                       index_->Register("org-b", "B1", michael(1989, "9 Lake Road", "99999")));
  EXPECT_EQ(rare.placement, Placement::kLinked) << "one person of the name";
  ASSERT_THAT(index_->Register("org-a", "A2", michael(1962, "2 Oak Lane", "22222")), IsOk());
  ASSERT_THAT(index_->Register("org-d", "A3", michael(1975, "3 Pine Court", "33333")), IsOk());
  ASSERT_OK_AND_ASSIGN(RegisterResult common,
                       index_->Register("org-c", "C1", michael(1962, "7 Hill Street", "77777")));
  EXPECT_EQ(common.placement, Placement::kReview);
  EXPECT_EQ(common.review_reason, "common name guard");
  EXPECT_EQ(common.matched.local_id, "A2");
  ASSERT_OK_AND_ASSIGN(auto why, index_->Explain({"org-c", "C1"}, {"org-a", "A2"}));
  EXPECT_EQ(why.guard, Guard::kCommonName);
  // A search grades the pair as registering would: not certain.
  PatientIndex::SearchResult found =
      index_->Search(michael(1962, "8 Bay Road", "88888"), 10, Grade::kPossible, "org-e");
  ASSERT_FALSE(found.candidates.empty());
  for (const auto& candidate : found.candidates) EXPECT_NE(candidate.grade, Grade::kCertain);
  // An address in common says more than the name: linked.
  ASSERT_OK_AND_ASSIGN(RegisterResult at_home,
                       index_->Register("org-c", "C2", michael(1975, "3 Pine Court", "33333")));
  EXPECT_EQ(at_home.placement, Placement::kLinked);
}

// The name may be common as the candidate gives it: a registration whose family name
// was mistyped (Johnstone for Johnstonne, a name no one else carries) meeting one of
// three Michaelo Johnstonnes on its birth date alone is as likely another of them.
TEST_F(PatientIndexTest, ACommonNameAsTheCandidateGivesItIsAQuestion) {
  ASSERT_THAT(index_->Register("org-a", "A1", Michaelo("Johnstonne", 1962, "2 Oak Lane", "22222")),
              IsOk());
  // One person of the name: the typo links as before.
  ASSERT_OK_AND_ASSIGN(
      RegisterResult rare,
      index_->Register("org-b", "B1", Michaelo("Johnstone", 1962, "7 Hill Street", "77777")));
  EXPECT_EQ(rare.placement, Placement::kLinked) << "one person of the name";
  ASSERT_THAT(
      index_->Register("org-c", "C1", Michaelo("Johnstonne", 1975, "3 Pine Court", "33333")),
      IsOk());
  ASSERT_THAT(index_->Register("org-d", "D1", Michaelo("Johnstonne", 1989, "4 Bay Road", "44444")),
              IsOk());
  ASSERT_OK_AND_ASSIGN(
      RegisterResult common,
      index_->Register("org-e", "E1", Michaelo("Johnstone", 1975, "9 Lake Road", "99999")));
  EXPECT_EQ(common.placement, Placement::kReview);
  EXPECT_EQ(common.review_reason, "common name guard");
  EXPECT_EQ(common.matched.local_id, "C1");
  ASSERT_OK_AND_ASSIGN(auto why, index_->Explain({"org-e", "E1"}, {"org-c", "C1"}));
  EXPECT_EQ(why.guard, Guard::kCommonName);
}

// A registration carrying the identifier of the registration it matches joins that
// person though it is only in question against another member (one the operator added,
// its first name garbled, without the identifier); one whose member says two people
// still waits for an operator.
TEST_F(PatientIndexTest, AnIdentifierInCommonJoinsDespiteAQuestionWithAnotherMember) {
  Person jane = Jane();
  jane.identifiers = {{"ssn", "123-45-6789"}};
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", jane));
  Person garbled = Jane();
  garbled.given = {"Oyelaran"};  // the family name typed in both fields
  garbled.family = "Oyelaran";
  ASSERT_EQ(JoinedByOperator("org-b", "B1", garbled).registrations.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto with_b1, index_->Explain({"org-a", "A1"}, {"org-b", "B1"}));
  ASSERT_NE(with_b1.guard, Guard::kNone);
  ASSERT_FALSE(SaysTwoPeople(with_b1.guard));
  // Without the identifier, the question against B1 (one of the person's two) holds it
  // back.
  ASSERT_OK_AND_ASSIGN(RegisterResult d, index_->Register("org-d", "D1", Jane()));
  EXPECT_EQ(d.placement, Placement::kReview);
  ASSERT_OK_AND_ASSIGN(RegisterResult c, index_->Register("org-c", "C1", jane));
  EXPECT_EQ(c.placement, Placement::kLinked);
  EXPECT_EQ(c.euid, a.euid);
}

// A number with a typed slip (two digits swapped) in common with the matched
// registration says less than one as typed: it outweighs a member's question over the
// birth date (a digit off, at another address), not a twin's question over the names
// (twins' numbers may be a digit apart).
TEST_F(PatientIndexTest, ANumberWithASlipOutweighsABirthDateQuestionNotATwins) {
  Person jane = Jane();
  jane.identifiers = {{"ssn", "123-45-6789"}};
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", jane));
  ASSERT_EQ(JoinedByOperator("org-b", "B1", JaneMoved()).euid, a.euid);
  ASSERT_OK_AND_ASSIGN(auto moved, index_->Explain({"org-a", "A1"}, {"org-b", "B1"}));
  ASSERT_EQ(moved.guard, Guard::kBirthDate);
  Person slipped = jane;
  slipped.identifiers = {{"ssn", "123-54-6789"}};
  ASSERT_OK_AND_ASSIGN(RegisterResult c, index_->Register("org-c", "C1", slipped));
  EXPECT_EQ(c.placement, Placement::kLinked);
  EXPECT_EQ(c.euid, a.euid);

  // Laura, registered with her number and without it; her twin Lisa's number a digit
  // from hers (not in sequence).
  Person laura = Jane();
  laura.given = {"Laura"};
  laura.family = "Abernethy";
  laura.identifiers = {{"ssn", "555-12-6781"}};
  ASSERT_OK_AND_ASSIGN(RegisterResult l1, index_->Register("org-a", "L1", laura));
  Person laura_plain = laura;
  laura_plain.identifiers.clear();
  ASSERT_OK_AND_ASSIGN(RegisterResult l2, index_->Register("org-b", "L2", laura_plain));
  ASSERT_EQ(l2.euid, l1.euid);
  Person lisa = laura;
  lisa.given = {"Lisa"};
  lisa.identifiers = {{"ssn", "555-12-6785"}};
  ASSERT_OK_AND_ASSIGN(RegisterResult twin, index_->Register("org-c", "T1", lisa));
  EXPECT_NE(twin.euid, l1.euid);
  EXPECT_EQ(twin.placement, Placement::kReview);
}

// A member without a birth date, in question with a registration of its first name only
// for that, is no doubt about a person where the registration gives the birth date of
// the registration it is certain with; a member of another first name still is, and an
// undated registration is still held back by a dated member (the date is what tells a
// mother from a daughter of one name at one address).
TEST_F(PatientIndexTest, AnUndatedMemberDoesNotHoldBackWhatItsPersonsDatedOneAnswers) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  Person undated = Jane();
  undated.birth_date = {};
  ASSERT_EQ(JoinedByOperator("org-b", "B1", undated).euid, a.euid);
  ASSERT_OK_AND_ASSIGN(auto question, index_->Explain({"org-a", "A1"}, {"org-b", "B1"}));
  ASSERT_EQ(question.guard, Guard::kBirthDate);
  ASSERT_OK_AND_ASSIGN(RegisterResult c, index_->Register("org-c", "C1", Jane()));
  EXPECT_EQ(c.placement, Placement::kLinked);
  EXPECT_EQ(c.euid, a.euid);

  // Another Jane, of her own birth date and address, with an undated member under
  // another first name (the family name typed in both fields): a question about the
  // names, which one dated member does not outvote.
  Person other = Jane();
  other.family = "Abernethy";
  other.birth_date = {1971, 9, 14};
  other.street = {"4 Elm Court"};
  other.phones = {"217-555-0404"};
  ASSERT_OK_AND_ASSIGN(RegisterResult d, index_->Register("org-d", "D1", other));
  Person garbled = other;
  garbled.given = {"Abernethy"};
  garbled.birth_date = {};
  ASSERT_EQ(JoinedByOperator("org-e", "E1", garbled).euid, d.euid);
  ASSERT_OK_AND_ASSIGN(RegisterResult f, index_->Register("org-f", "F1", other));
  ASSERT_OK_AND_ASSIGN(auto names, index_->Explain({"org-f", "F1"}, {"org-e", "E1"}));
  EXPECT_NE(names.guard, Guard::kNone);
  EXPECT_FALSE(SaysTwoPeople(names.guard));
  EXPECT_EQ(f.review_reason, kDisagreesWithPerson);
  EXPECT_NE(f.euid, d.euid);
}

// A mother's bare research-extract registration and her desk registration (sex, phone)
// make one person; her daughter of the same name at that address, bare and undated, is
// certain with the bare one but held back by the dated desk registration.
TEST_F(PatientIndexTest, AnUndatedRegistrationIsStillHeldBackByADatedMember) {
  Person bare;
  bare.given = {"Jane"};
  bare.family = "Oyelaran";
  bare.birth_date = {1950, 3, 4};
  bare.street = {"12 Main Street"};
  bare.city = "Springfield";
  bare.postal_code = "62701";
  ASSERT_OK_AND_ASSIGN(RegisterResult mother, index_->Register("org-r", "M1", bare));
  Person desk = bare;
  desk.sex = Sex::kFemale;
  desk.phones = {"217-555-0101"};
  ASSERT_OK_AND_ASSIGN(RegisterResult x, index_->Register("org-a", "X1", desk));
  ASSERT_EQ(x.euid, mother.euid);
  Person daughter = bare;
  daughter.birth_date = {};
  ASSERT_OK_AND_ASSIGN(RegisterResult p, index_->Register("org-s", "P1", daughter));
  EXPECT_NE(p.euid, mother.euid);
  EXPECT_EQ(p.review_reason, kDisagreesWithPerson);
  ASSERT_OK_AND_ASSIGN(auto with_bare, index_->Explain({"org-s", "P1"}, {"org-r", "M1"}));
  EXPECT_EQ(with_bare.guard, Guard::kNone);
  ASSERT_OK_AND_ASSIGN(auto with_desk, index_->Explain({"org-s", "P1"}, {"org-a", "X1"}));
  EXPECT_NE(with_desk.guard, Guard::kNone);
}

// A registration certain with most of a person's registrations joins it despite a
// member it is only in question with (one garbled in other fields); a member whose
// guard says two people still holds it back, and so does a question with one of two.
TEST_F(PatientIndexTest, AMemberInQuestionIsOutvotedByMostOfThePerson) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", Jane()));
  ASSERT_EQ(b.euid, a.euid);
  Person garbled = Jane();
  garbled.given = {"Oyelaran"};  // the family name typed in both fields
  ASSERT_EQ(JoinedByOperator("org-c", "C1", garbled).registrations.size(), 3u);
  ASSERT_OK_AND_ASSIGN(auto with_c1, index_->Explain({"org-a", "A1"}, {"org-c", "C1"}));
  ASSERT_NE(with_c1.guard, Guard::kNone);
  ASSERT_FALSE(SaysTwoPeople(with_c1.guard));
  ASSERT_OK_AND_ASSIGN(RegisterResult d, index_->Register("org-d", "D1", Jane()));
  EXPECT_EQ(d.placement, Placement::kLinked);
  EXPECT_EQ(d.euid, a.euid);
  // A member the newcomer's guard says is another person: held back, however many agree.
  Person second_twin = Jane();
  second_twin.multiple_birth = true;
  second_twin.multiple_birth_order = 2;
  ASSERT_OK_AND_ASSIGN(RegisterResult e, index_->Register("org-e", "E1", second_twin));
  ASSERT_EQ(e.euid, a.euid);  // no order on the others: one Jane, as far as they tell
  Person first_twin = second_twin;
  first_twin.multiple_birth_order = 1;
  ASSERT_OK_AND_ASSIGN(RegisterResult f, index_->Register("org-f", "F1", first_twin));
  EXPECT_NE(f.placement, Placement::kLinked);
  EXPECT_EQ(f.review_reason, kDisagreesWithPerson);
}

// Where the doubt is only a birth date's (one first name on both), any certain match
// votes, a typo of the first name too: Jane and Jnae outvote the Jane without a birth
// date. Against a twin question only registrations of the same first name would.
TEST_F(PatientIndexTest, TyposVoteAgainstABirthDateQuestion) {
  ASSERT_OK_AND_ASSIGN(RegisterResult a, index_->Register("org-a", "A1", Jane()));
  Person jnae = Jane();
  jnae.given = {"Jnae", "Marie"};
  ASSERT_OK_AND_ASSIGN(RegisterResult b, index_->Register("org-b", "B1", jnae));
  ASSERT_EQ(b.euid, a.euid);
  Person undated = Jane();
  undated.birth_date = {};
  ASSERT_EQ(JoinedByOperator("org-c", "C1", undated).registrations.size(), 3u);
  ASSERT_OK_AND_ASSIGN(auto with_c1, index_->Explain({"org-a", "A1"}, {"org-c", "C1"}));
  ASSERT_EQ(with_c1.guard, Guard::kBirthDate);
  ASSERT_OK_AND_ASSIGN(RegisterResult d, index_->Register("org-d", "D1", Jane()));
  EXPECT_EQ(d.placement, Placement::kLinked);
  EXPECT_EQ(d.euid, a.euid);
}

// Only registrations of the same first name outvote a twin question: L. and L. (or
// Laure and Laure) linked to Laura would otherwise carry her twin Lisa (or Lauren) into
// Laura's person.
TEST_F(PatientIndexTest, InitialsAndTyposDoNotOutvoteATwinQuestion) {
  // Registers `person` at three practices (one person: the first and the last without
  // a guard between them), then `twin` at a fourth, which must stay out of that person.
  auto twin_stays_out = [&](const std::string& suffix, const std::vector<Person>& person,
                            const Person& twin) {
    ASSERT_EQ(person.size(), 3u);  // the third is P2, at org-c
    std::string euid;
    for (size_t i = 0; i < person.size(); ++i) {
      ASSERT_OK_AND_ASSIGN(RegisterResult r,
                           index_->Register(absl::StrCat("org-", std::string(1, 'a' + i)),
                                            absl::StrCat("P", i, suffix), person[i]));
      if (i == 0) euid = r.euid;
      ASSERT_EQ(r.euid, euid);
    }
    ASSERT_OK_AND_ASSIGN(auto unguarded, index_->Explain({"org-a", absl::StrCat("P0", suffix)},
                                                         {"org-c", absl::StrCat("P2", suffix)}));
    ASSERT_EQ(unguarded.guard, Guard::kNone);
    ASSERT_OK_AND_ASSIGN(RegisterResult r,
                         index_->Register("org-d", absl::StrCat("R", suffix), twin));
    EXPECT_NE(r.euid, euid);
    EXPECT_EQ(r.review_reason, kDisagreesWithPerson);
  };
  Person laura = Jane();
  laura.given = {"Laura"};
  Person l = laura, lisa = laura;
  l.given = {"L"};
  lisa.given = {"Lisa"};
  ASSERT_NO_FATAL_FAILURE(twin_stays_out("a", {l, l, laura}, lisa));
  // Nor do typos that may be either twin's: Laure and Laure linked to another Laura,
  // then her twin Lauren.
  Person laura2 = laura;
  laura2.family = "Oyelaran-Bassey";
  laura2.birth_date = {1991, 2, 3};
  Person laure = laura2, lauren = laura2;
  laure.given = {"Laure"};
  lauren.given = {"Lauren"};
  ASSERT_NO_FATAL_FAILURE(twin_stays_out("b", {laura2, laure, laure}, lauren));
}

// The same registration sent again asks the same questions, and no more.
TEST_F(PatientIndexTest, ARegistrationSentAgainQueuesNothingMore) {
  auto [first, second] = JaneAndHerTwin();
  ASSERT_THAT(index_->Register("org-a", "A1", first), IsOk());
  ASSERT_THAT(index_->Register("org-b", "B1", second), IsOk());
  Person third = Jane();
  third.birth_date = {1984, 6, 4};
  third.street = {"5 Harbour View"};
  third.phones = {"217-555-0333"};
  ASSERT_OK_AND_ASSIGN(RegisterResult once, index_->Register("org-c", "C1", third));
  ASSERT_OK_AND_ASSIGN(auto after_once, index_->ListReviews());
  for (int resend = 0; resend < 3; ++resend) {
    ASSERT_OK_AND_ASSIGN(RegisterResult again, index_->Register("org-c", "C1", third));
    EXPECT_EQ(again.review_id, once.review_id);
    EXPECT_EQ(again.other_review_ids, once.other_review_ids);
  }
  ASSERT_OK_AND_ASSIGN(auto after_resends, index_->ListReviews());
  EXPECT_EQ(after_resends.size(), after_once.size());
}

// Decoys one organisation registers under a name do not make the name common: an
// undated registration of it from another practice is still a question.
TEST_F(PatientIndexTest, OneOrganisationsDecoysDoNotMakeANameCommon) {
  auto john = [](int year, const std::string& street, const std::string& postal) {
    Person p;
    p.given = {"Johnathan"};
    p.family = "Brownlowe";
    p.sex = Sex::kMale;
    if (year > 0) p.birth_date = {year, 3, 14};
    p.street = {street};
    p.postal_code = postal;
    return p;
  };
  ASSERT_THAT(index_->Register("org-a", "A1", john(1961, "1 Elm Road", "11111")), IsOk());
  ASSERT_THAT(index_->Register("org-m", "M1", john(1974, "2 Oak Lane", "22222")), IsOk());
  ASSERT_THAT(index_->Register("org-m", "M2", john(1988, "3 Pine Court", "33333")), IsOk());
  ASSERT_THAT(index_->Register("org-m", "M3", john(1993, "4 Fir Way", "44444")), IsOk());
  ASSERT_OK_AND_ASSIGN(RegisterResult undated,
                       index_->Register("org-c", "C1", john(0, "7 Hill Street", "77777")));
  EXPECT_EQ(undated.placement, Placement::kReview);
}

// A "moves to another person" item read back from the store does not stand for a
// question about two persons (deciding it moves the registration alone): a registration
// matching both persons gets its own item.
TEST_F(PatientIndexTest, AMoveItemReadBackIsNoQuestionAboutTwoPersons) {
  ASSERT_THAT(index_->Register("org-b", "B1", Bob()), IsOk());
  ASSERT_THAT(index_->Register("org-a", "A1", Jane()), IsOk());
  ASSERT_OK_AND_ASSIGN(RegisterResult moved, index_->Register("org-a", "A1", Bob()));
  ASSERT_EQ(moved.review_reason, kMovesToAnotherPerson);
  Reopen();
  ASSERT_OK_AND_ASSIGN(RegisterResult c, index_->Register("org-c", "C1", Bob()));
  ASSERT_FALSE(c.other_review_ids.empty());
  EXPECT_THAT(c.other_review_ids, ::testing::Not(::testing::Contains(moved.review_id)));
}

// Deciding an item that is not open says so; one the store holds unreadable is reported
// as lost data, decides nothing, and leaves the queue listable.
TEST_F(PatientIndexTest, ResolvingAnUnknownOrUnreadableItemIsAClearError) {
  EXPECT_THAT(index_->ResolveReview("0123456789abcdef", true, "no such item"),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(store_->Put(store::KeyBuilder().AddString("Q").AddString("garbled").Build(),
                        "only\ntwo lines"));
  EXPECT_THAT(index_->ResolveReview("garbled", true, "unreadable"),
              StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK_AND_ASSIGN(auto items, index_->ListReviews());
  for (const auto& item : items) EXPECT_NE(item.review_id, "garbled");
}

// A member's search weighs another member's MRN as its registration would: not at all.
TEST(PatientIndexPoisoningTest, AMembersSearchIgnoresAnotherMembersMrn) {
  const std::string system = "urn:oid:1.2.3.4";
  IndexOptions options;
  options.identifier_system_owners[system] = "org-a";
  ASSERT_OK_AND_ASSIGN(auto scratch, ScratchIndex::Create(options));
  PatientIndex& index = scratch->index();
  Person jane = Jane();
  jane.identifiers = {{system, "MRN-1"}};
  ASSERT_THAT(index.Register("org-a", "A1", jane), IsOk());
  Person probe;
  probe.family = "Oyelaran";
  probe.identifiers = {{system, "MRN-1"}};
  PatientIndex::SearchResult as_member = index.Search(probe, 5, Grade::kCertain, "org-b");
  EXPECT_TRUE(as_member.candidates.empty());
  PatientIndex::SearchResult as_owner = index.Search(probe, 5, Grade::kCertain, "org-a");
  EXPECT_EQ(as_owner.candidates.size(), 1u);
}

}  // namespace
}  // namespace hie::mpi
