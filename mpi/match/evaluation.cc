#include "mpi/match/evaluation.h"

#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace hie::mpi {

absl::StatusOr<std::vector<LabelledRecord>> LoadFebrlCsv(const std::string& path, bool drop_ssn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::vector<LabelledRecord> records;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    for (std::string& f : fields) f = std::string(absl::StripAsciiWhitespace(f));
    if (line_number == 1) {
      if (fields.empty() || fields[0] != "rec_id" || fields.size() != 11) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ":1: not a Febrl header (rec_id, given_name, surname, ...)"));
      }
      continue;
    }
    if (fields.size() != 11) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": ", fields.size(), " fields, want 11"));
    }
    LabelledRecord r;
    r.id = fields[0];
    Person& p = r.person;
    if (!fields[1].empty()) p.given.push_back(fields[1]);
    p.family = fields[2];
    std::string street = absl::StrCat(fields[3], fields[3].empty() ? "" : " ", fields[4]);
    if (!absl::StripAsciiWhitespace(street).empty()) p.street.push_back(street);
    if (!fields[5].empty()) p.street.push_back(fields[5]);
    p.city = fields[6];
    p.postal_code = fields[7];
    p.state = fields[8];
    const std::string& dob = fields[9];
    int year = 0, month = 0, day = 0;
    if (dob.size() == 8 && absl::SimpleAtoi(dob.substr(0, 4), &year) &&
        absl::SimpleAtoi(dob.substr(4, 2), &month) && absl::SimpleAtoi(dob.substr(6, 2), &day)) {
      p.birth_date = {year, month, day};
    }
    if (!drop_ssn && !fields[10].empty()) p.identifiers.emplace_back("ssn", fields[10]);
    records.push_back(std::move(r));
  }
  return records;
}

std::string FebrlEntity(const std::string& record_id) {
  std::vector<std::string> parts = absl::StrSplit(record_id, '-');
  if (parts.size() < 3 || parts[0] != "rec") return "";
  return parts[1];
}

PairwiseMetrics ComparePairs(const std::vector<int>& cluster, const std::vector<std::string>& truth,
                             const std::vector<int>& side) {
  PairwiseMetrics m;
  // Pairs within a group, or across sides of a group.
  auto count_pairs =
      [&](const absl::flat_hash_map<std::string, std::pair<int64_t, int64_t>>& groups) {
        int64_t total = 0;
        for (const auto& [key, sizes] : groups) {
          if (side.empty()) {
            int64_t k = sizes.first;
            total += k * (k - 1) / 2;
          } else {
            total += sizes.first * sizes.second;
          }
        }
        return total;
      };
  absl::flat_hash_map<std::string, std::pair<int64_t, int64_t>> by_truth, by_cluster, by_both;
  for (size_t i = 0; i < cluster.size(); ++i) {
    bool right = !side.empty() && side[i] == 1;
    auto bump = [&](auto& map, const std::string& key) {
      auto& sizes = map[key];
      (right ? sizes.second : sizes.first) += 1;
    };
    std::string c = std::to_string(cluster[i]);
    bump(by_truth, truth[i]);
    bump(by_cluster, c);
    bump(by_both, absl::StrCat(truth[i], "|", c));
  }
  m.true_pairs = count_pairs(by_truth);
  m.predicted_pairs = count_pairs(by_cluster);
  m.correct_pairs = count_pairs(by_both);
  m.precision =
      m.predicted_pairs == 0 ? 1.0 : static_cast<double>(m.correct_pairs) / m.predicted_pairs;
  m.recall = m.true_pairs == 0 ? 1.0 : static_cast<double>(m.correct_pairs) / m.true_pairs;
  m.f1 = m.precision + m.recall == 0 ? 0 : 2 * m.precision * m.recall / (m.precision + m.recall);
  return m;
}

}  // namespace hie::mpi
