// Loading Febrl CSV and scoring a clustering pairwise.
#include "mpi/match/evaluation.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mpi/match/engine.h"

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

// The i-th of a few hundred distinct people, each at an address of their own.
Person Stranger(int i) {
  static const std::vector<std::string> given = {
      "oliver", "amelia", "harry", "isla",  "george", "ava",    "noah",  "mia",   "jack",
      "ivy",    "leo",    "grace", "oscar", "lily",   "arthur", "freya", "henry", "emily"};
  static const std::vector<std::string> family = {
      "smith",   "jones",  "taylor", "brown",    "wilson",   "evans", "thomas",
      "roberts", "walker", "wright", "robinson", "thompson", "white", "hughes",
      "edwards", "green",  "hall",   "wood",     "harris",   "lewis"};
  Person p;
  p.given = {given[i % given.size()]};
  p.family = family[(i / given.size()) % family.size()];
  p.birth_date = {1930 + i % 70, 1 + i % 12, 1 + i % 28};
  p.street = {absl::StrCat(i, " main street")};
  p.postal_code = absl::StrCat(10000 + i);
  return p;
}

TEST(LinkBatchTest, LinksTyposAndKeepsStrangersApart) {
  std::vector<Person> people;
  // 300 distinct people, then typo'd copies of the first 100.
  for (int i = 0; i < 300; ++i) people.push_back(Stranger(i));
  for (int i = 0; i < 100; ++i) {
    Person copy = people[i];
    copy.family += "x";  // one typo
    people.push_back(copy);
  }
  BatchResult result = LinkBatch(people, {}, BatchOptions{});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(result.cluster[i], result.cluster[300 + i]) << i;
  for (int i = 0; i < 299; ++i) EXPECT_NE(result.cluster[i], result.cluster[i + 1]) << i;
}

// Linking two files, a record of one file joins at most one record of the other, as the
// index never links two registrations of one organisation automatically: two records of
// file A that both match a record of file B are not chained into one person.
TEST(LinkBatchTest, LinkingTwoFilesNeverPutsTwoRecordsOfOneFileTogether) {
  std::vector<Person> people;
  std::vector<int> side;
  for (int i = 0; i < 300; ++i) {
    people.push_back(Stranger(i));
    side.push_back(0);
  }
  people.push_back(Stranger(0));  // file A holds person 0 twice
  side.push_back(0);
  for (int i = 0; i < 300; ++i) {
    Person copy = Stranger(i);
    copy.family += "x";
    people.push_back(copy);
    side.push_back(1);
  }
  BatchResult result = LinkBatch(people, side, BatchOptions{});
  const std::vector<int>& cluster = result.cluster;
  for (int i = 1; i < 300; ++i) EXPECT_EQ(cluster[i], cluster[301 + i]) << i;
  // Person 0's copy in file B joins one of the two records in file A, not both.
  EXPECT_NE(cluster[0], cluster[300]);
  EXPECT_TRUE(cluster[301] == cluster[0] || cluster[301] == cluster[300]);
  EXPECT_GE(result.stats.reviews, 1u);
}

}  // namespace
}  // namespace hie::mpi
