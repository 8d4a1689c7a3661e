// Loading Febrl CSV and scoring a clustering pairwise.
#include "mpi/match/evaluation.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::mpi {
namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = absl::StrCat(::testing::TempDir(), "hie-eval-", getpid(), "-", name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

constexpr char kHeader[] =
    "rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, "
    "state, date_of_birth, soc_sec_id";

TEST(FebrlTest, LoadsCrlfBlanksAndMissingValues) {
  std::string path =
      WriteTemp("a.csv", absl::StrCat(kHeader,
                                      "\r\nrec-1-org, michaela, neumann, 8, stanley street, "
                                      "miami, winston hills, 4223, nsw, 19151111, 5304218\r\n"
                                      "rec-1-dup-0,  michaela, neumann, , stanley street, , "
                                      "winston hills, 4223, nsw, , "));
  auto records = LoadFebrlCsv(path, /*drop_ssn=*/false);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  const Person& p = (*records)[0].person;
  EXPECT_EQ(p.given.front(), "michaela");
  EXPECT_EQ(p.birth_date.year, 1915);
  EXPECT_EQ(p.identifiers.size(), 1u);
  const Person& q = (*records)[1].person;
  EXPECT_EQ(q.given.front(), "michaela");
  EXPECT_FALSE(q.birth_date.known());
  EXPECT_TRUE(q.identifiers.empty());
  auto dropped = LoadFebrlCsv(path, /*drop_ssn=*/true);
  ASSERT_TRUE(dropped.ok());
  EXPECT_TRUE((*dropped)[0].person.identifiers.empty());
  std::remove(path.c_str());
}

TEST(FebrlTest, BadRowsNameTheirLine) {
  std::string path = WriteTemp("b.csv", absl::StrCat(kHeader, "\nrec-1-org, only, three\n"));
  auto records = LoadFebrlCsv(path, false);
  EXPECT_EQ(records.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(records.status().message()), ::testing::HasSubstr(":2:"));
  std::remove(path.c_str());
  EXPECT_EQ(LoadFebrlCsv("/nonexistent/x.csv", false).status().code(), absl::StatusCode::kNotFound);
}

TEST(FebrlTest, EntityFromRecordId) {
  EXPECT_EQ(FebrlEntity("rec-552-dup-3"), "552");
  EXPECT_EQ(FebrlEntity("rec-1070-org"), "1070");
  EXPECT_EQ(FebrlEntity("patient-7"), "");
}

TEST(PairwiseTest, ClusterNumbersFollowFirstAppearance) {
  EXPECT_EQ(ClusterNumbers({"e7", "e2", "e7", "e9", "e2"}), (std::vector<int>{0, 1, 0, 2, 1}));
  EXPECT_TRUE(ClusterNumbers({}).empty());
}

TEST(PairwiseTest, CountsPairsWithinAndAcross) {
  // Truth: {0,1,2} one person, {3} another. Prediction: {0,1}, {2,3}.
  std::vector<std::string> truth = {"a", "a", "a", "b"};
  std::vector<int> cluster = {0, 0, 1, 1};
  PairwiseMetrics m = ComparePairs(cluster, truth, {});
  EXPECT_EQ(m.true_pairs, 3);
  EXPECT_EQ(m.predicted_pairs, 2);
  EXPECT_EQ(m.correct_pairs, 1);
  EXPECT_DOUBLE_EQ(m.precision, 0.5);
  EXPECT_DOUBLE_EQ(m.recall, 1.0 / 3);
  // Across two sides only: side 0 = {0, 2}, side 1 = {1, 3}.
  PairwiseMetrics across = ComparePairs(cluster, truth, {0, 1, 0, 1});
  EXPECT_EQ(across.true_pairs, 2);       // 0-1, 2-1
  EXPECT_EQ(across.predicted_pairs, 2);  // 0-1, 2-3
  EXPECT_EQ(across.correct_pairs, 1);
}

// A review pair counts as found: an operator deciding it would join the two persons.
TEST(PairwiseTest, RecallCountsReviewPairsAsFound) {
  // Truth {0,1,2} and {3}; clusters {0,1}, {2}, {3}.
  std::vector<std::string> truth = {"a", "a", "a", "b"};
  std::vector<int> cluster = {0, 0, 1, 2};
  EXPECT_DOUBLE_EQ(RecallWithReviews(cluster, truth, {}, {}), 1.0 / 3);
  // A review between record 2 and record 0 joins record 2 to cluster 0: all three found.
  EXPECT_DOUBLE_EQ(RecallWithReviews(cluster, truth, {}, {{2, 0, false}}), 1.0);
  // A review to the wrong person finds nothing more.
  EXPECT_DOUBLE_EQ(RecallWithReviews(cluster, truth, {}, {{2, 3, false}}), 1.0 / 3);
  // Truth {0,1,2,3} one person; clusters {0,1} and {2,3}. Joining record 2 alone to
  // cluster 0 finds 0-2 and 1-2 but not 0-3, 1-3; merging the persons finds all.
  std::vector<std::string> one = {"a", "a", "a", "a"};
  std::vector<int> two = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(RecallWithReviews(two, one, {}, {{2, 0, false}}), 4.0 / 6);
  EXPECT_DOUBLE_EQ(RecallWithReviews(two, one, {}, {{2, 0, true}}), 1.0);
}

// More columns than Febrl's, in another order, with the practice in a column of its own.
TEST(RegistrationCsvTest, ReadsNamedColumnsInAnyOrder) {
  std::string path = WriteTemp(
      "c.csv",
      "rec_id,org,surname,given_name,middle_name,former_surname,sex,date_of_birth,phone,"
      "soc_sec_id,multiple_birth,extra\n"
      "rec-7-0-0,org-b,Oyelaran,Jane,Marie,Smith,f,1984-06-02,217-555-0101,123-45-6789,2,x\n");
  auto records = LoadRegistrationCsv(path, CsvOptions{false, "org"});
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 1u);
  const LabelledRecord& r = (*records)[0];
  EXPECT_EQ(r.org, "org-b");
  EXPECT_EQ(r.person.given, (std::vector<std::string>{"Jane", "Marie"}));
  EXPECT_EQ(r.person.former_family, std::vector<std::string>{"Smith"});
  EXPECT_EQ(r.person.sex, Sex::kFemale);
  EXPECT_EQ(r.person.birth_date.day, 2);
  EXPECT_EQ(r.person.phones.size(), 1u);
  EXPECT_EQ(r.person.multiple_birth_order, 2);
  EXPECT_EQ(FebrlEntity(r.id), "7");
  auto no_org = LoadRegistrationCsv(path, CsvOptions{false, "practice"});
  EXPECT_EQ(no_org.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(no_org.status().message()), ::testing::HasSubstr("practice"));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace hie::mpi
