// The engine on the Febrl sets beside the checkout (../shared/data/febrl), against the
// bars of the Python Record Linkage Toolkit measured on the same data. Skipped when the
// data is not there.
#include <cstdlib>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mpi/match/engine.h"
#include "mpi/match/evaluation.h"

namespace hie::mpi {
namespace {

namespace fs = std::filesystem;
using ::testing::Ge;

fs::path FebrlDir() {
  const char* dir = std::getenv("HIE_SOURCE_DIR");
  return fs::path(dir ? dir : HIE_TEST_SOURCE_DIR) / "../shared/data/febrl";
}

struct Cell {
  std::vector<std::string> files;
  bool drop_ssn;
  double min_f1;
};

PairwiseMetrics LinkAndScore(const Cell& cell) {
  std::vector<Person> people;
  std::vector<std::string> truth;
  std::vector<int> side;
  for (size_t f = 0; f < cell.files.size(); ++f) {
    auto records = LoadFebrlCsv((FebrlDir() / cell.files[f]).string(), cell.drop_ssn);
    EXPECT_TRUE(records.ok()) << records.status();
    if (!records.ok()) return {};
    for (LabelledRecord& r : *records) {
      truth.push_back(FebrlEntity(r.id));
      people.push_back(std::move(r.person));
      if (cell.files.size() == 2) side.push_back(static_cast<int>(f));
    }
  }
  BatchResult result = LinkBatch(people, side, BatchOptions{});
  return ComparePairs(result.cluster, truth, side);
}

class FebrlBarTest : public ::testing::TestWithParam<Cell> {};

TEST_P(FebrlBarTest, MeetsTheBar) {
  if (!fs::exists(FebrlDir())) GTEST_SKIP() << "shared Febrl data not present";
  PairwiseMetrics m = LinkAndScore(GetParam());
  std::cout << "precision " << m.precision << " recall " << m.recall << " F1 " << m.f1 << "\n";
  RecordProperty("f1", std::to_string(m.f1));
  // A false link is worse than a missed one.
  EXPECT_THAT(m.precision, Ge(0.999));
  EXPECT_THAT(m.f1, Ge(GetParam().min_f1));
}

INSTANTIATE_TEST_SUITE_P(
    Sets, FebrlBarTest,
    ::testing::Values(
        // With the SSN column, the toolkit's bars are 0.9998 (febrl4) and 0.999 (febrl3).
        // Febrl replaced both the first name and the SSN of some duplicates while keeping
        // family name, birth date and address: what twins look like, and the twin guard
        // keeps them apart (ten pairs in febrl4, fifteen in febrl3). Febrl3 also has a
        // duplicate with both names replaced and no birth date, which no blocking key
        // finds (four pairs). Measured 0.99850 and 0.99854; the floors guard against
        // falling back.
        Cell{{"dataset4a.csv", "dataset4b.csv"}, false, 0.9984},
        Cell{{"dataset4a.csv", "dataset4b.csv"}, true, 0.997},
        Cell{{"dataset3.csv"}, false, 0.9985}, Cell{{"dataset3.csv"}, true, 0.991}),
    [](const ::testing::TestParamInfo<Cell>& info) {
      return std::string(info.param.files.size() == 2 ? "Febrl4" : "Febrl3") +
             (info.param.drop_ssn ? "WithoutSsn" : "WithSsn");
    });

}  // namespace
}  // namespace hie::mpi
