// hiectl mpi evaluate as the team and a practice use it: the output contract (clusters,
// reviews, the summary's names) on Febrl, a CSV with a practice column, a FHIR NDJSON
// export, and clear errors for bad input.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/daemon_process.h"

namespace hie::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

class MpiEvaluateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("hie-evaluate-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string Hiectl() { return BinDir() + "/hiectl"; }
  static fs::path SharedData() { return fs::path(HIE_TEST_SOURCE_DIR) / "../shared/data"; }

  fs::path dir_;
};

TEST_F(MpiEvaluateTest, FebrlLinkWritesClustersReviewsAndTheSummary) {
  fs::path febrl = SharedData() / "febrl";
  if (!fs::exists(febrl)) GTEST_SKIP() << "shared Febrl data not present";
  CommandResult r =
      RunCommand({Hiectl(), "mpi", "evaluate", "--csv", (febrl / "dataset4a.csv").string(), "--csv",
                  (febrl / "dataset4b.csv").string(), "--clusters-out", Path("clusters.csv"),
                  "--reviews-out", Path("reviews.csv")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("10000 records placed"), HasSubstr("auto-link precision"),
                           HasSubstr("recall counting review pairs as found"),
                           HasSubstr("once the queue is worked"), HasSubstr("review pairs"),
                           HasSubstr("records/s")));
  std::vector<std::string> clusters =
      absl::StrSplit(ReadWholeFile(Path("clusters.csv")), '\n', absl::SkipEmpty());
  ASSERT_EQ(clusters.size(), 10001u);
  EXPECT_EQ(clusters[0], "rec_id,euid");
  std::vector<std::string> reviews =
      absl::StrSplit(ReadWholeFile(Path("reviews.csv")), '\n', absl::SkipEmpty());
  ASSERT_GE(reviews.size(), 2u);
  EXPECT_EQ(reviews[0], "rec_a,rec_b,score");
  std::vector<std::string> row = absl::StrSplit(reviews[1], ',');
  ASSERT_EQ(row.size(), 3u);
  EXPECT_THAT(row[0], HasSubstr("rec-"));
  EXPECT_THAT(row[1], HasSubstr("rec-"));

  CommandResult json = RunCommand(
      {Hiectl(), "mpi", "evaluate", "--csv", (febrl / "dataset4a.csv").string(), "--csv",
       (febrl / "dataset4b.csv").string(), "--clusters-out", Path("clusters.csv"), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, AllOf(HasSubstr("\"precision\": 1"), HasSubstr("\"recall_with_reviews\""),
                              HasSubstr("\"recall_queue_worked\""), HasSubstr("\"review_pairs\""),
                              HasSubstr("\"records_per_second\"")));
}

// Deduplicating one file whose records name their practice: two registrations of one
// practice are never linked automatically; across practices they are.
TEST_F(MpiEvaluateTest, APracticeColumnDecidesWhoRegistered) {
  std::ofstream(Path("set.csv"))
      << "rec_id,org,given_name,surname,sex,date_of_birth,address_1,suburb,postcode,phone\n"
         "rec-1-0-0,org-a,Jane,Oyelaran,f,19840602,12 Main Street,Springfield,62701,"
         "217-555-0101\n"
         "rec-1-1-0,org-b,Jane,Oyelaran,f,19840602,12 Main Street,Springfield,62701,"
         "217-555-0101\n"
         "rec-1-1-1,org-b,Jane,Oyelaran,f,19840602,12 Main Street,Springfield,62701,"
         "217-555-0101\n"
         "rec-2-0-0,org-a,Robert,Lindqvist,m,19501130,9 Elm Road,Salem,97301,\n";
  CommandResult r =
      RunCommand({Hiectl(), "mpi", "evaluate", "--csv", Path("set.csv"), "--org-column", "org",
                  "--clusters-out", Path("c.csv"), "--reviews-out", Path("r.csv")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("4 records placed"), HasSubstr("1 automatic links"),
                           HasSubstr("same organisation")));
  EXPECT_THAT(ReadWholeFile(Path("r.csv")), HasSubstr("rec-1-1-1,rec-1-1-0"));

  // With --review-reasons, each pair says why it waits.
  CommandResult reasons = RunCommand({Hiectl(), "mpi", "evaluate", "--csv", Path("set.csv"),
                                      "--org-column", "org", "--clusters-out", Path("c.csv"),
                                      "--reviews-out", Path("r.csv"), "--review-reasons"});
  ASSERT_EQ(reasons.exit_code, 0) << reasons.err;
  std::vector<std::string> lines =
      absl::StrSplit(ReadWholeFile(Path("r.csv")), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "rec_a,rec_b,score,reason");
  EXPECT_THAT(lines[1], AllOf(::testing::StartsWith("rec-1-1-1,rec-1-1-0,"),
                              ::testing::EndsWith(",\"same organisation\"")));
  CommandResult alone =
      RunCommand({Hiectl(), "mpi", "evaluate", "--csv", Path("set.csv"), "--org-column", "org",
                  "--clusters-out", Path("c.csv"), "--review-reasons"});
  EXPECT_NE(alone.exit_code, 0);
  EXPECT_THAT(alone.err, HasSubstr("--review-reasons adds to --reviews-out"));

  CommandResult bad = RunCommand({Hiectl(), "mpi", "evaluate", "--csv", Path("set.csv"),
                                  "--org-column", "practice", "--clusters-out", Path("c.csv")});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("no column practice"));
}

// A practice's own export: FHIR Patients one a line, read as a node reads them.
TEST_F(MpiEvaluateTest, FhirNdjsonIsReadAsANodeReadsPatients) {
  std::ofstream(Path("patients.ndjson"))
      << R"({"resourceType":"Patient","id":"rec-1-a","name":[{"family":"Oyelaran","given":["Jane"]}],"gender":"female","birthDate":"1984-06-02","address":[{"line":["12 Main Street"],"city":"Springfield","postalCode":"62701"}],"telecom":[{"system":"phone","value":"217-555-0101"}]})"
      << "\n"
      << R"({"resourceType":"Patient","id":"rec-1-b","name":[{"family":"Oyelaran","given":["Jane","Marie"]}],"gender":"female","birthDate":"1984-06-02","address":[{"line":["12 Main St"],"city":"Springfield","postalCode":"62701"}],"telecom":[{"system":"phone","value":"(217) 555-0101"}]})"
      << "\n"
      << R"({"resourceType":"Patient","id":"rec-2-a","name":[{"family":"Lindqvist","given":["Robert"]}],"gender":"male","birthDate":"1950-11-30"})"
      << "\n";
  CommandResult r = RunCommand({Hiectl(), "mpi", "evaluate", "--format", "fhir-ndjson", "--input",
                                Path("patients.ndjson"), "--clusters-out", Path("c.csv")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("3 records placed"),
                           HasSubstr("auto-link precision 1.00000  recall 1.00000")));

  std::ofstream(Path("bad.ndjson")) << R"({"resourceType":"Observation","id":"x"})"
                                    << "\n";
  CommandResult bad = RunCommand({Hiectl(), "mpi", "evaluate", "--format", "fhir-ndjson", "--input",
                                  Path("bad.ndjson"), "--clusters-out", Path("c.csv")});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("bad.ndjson:1:"));
  CommandResult none = RunCommand({Hiectl(), "mpi", "evaluate", "--csv", Path("patients.ndjson")});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("--clusters-out"));
}

}  // namespace
}  // namespace hie::testing
