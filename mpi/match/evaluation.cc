#include "mpi/match/evaluation.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace hie::mpi {

namespace {

// A column's index in the header, or -1.
int Column(const std::vector<std::string>& header, absl::string_view name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (absl::EqualsIgnoreCase(header[i], name)) return static_cast<int>(i);
  }
  return -1;
}

// YYYYMMDD or YYYY-MM-DD, digits kept as written; an unknown date otherwise.
Date ParseCsvDate(std::string text) {
  text.erase(std::remove(text.begin(), text.end(), '-'), text.end());
  int year = 0, month = 0, day = 0;
  if (text.size() == 8 && absl::SimpleAtoi(text.substr(0, 4), &year) &&
      absl::SimpleAtoi(text.substr(4, 2), &month) && absl::SimpleAtoi(text.substr(6, 2), &day)) {
    return {year, month, day};
  }
  return {};
}

}  // namespace

absl::StatusOr<std::vector<LabelledRecord>> LoadRegistrationCsv(const std::string& path,
                                                                const CsvOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::vector<LabelledRecord> records;
  std::vector<std::string> header;
  struct Columns {
    int id, given, middle, family, former, sex, number, address1, address2, city, postal, state,
        birth, ssn, phone, multiple_birth, org;
  } col{};
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (header.empty() && absl::StartsWith(line, "\xEF\xBB\xBF")) line.erase(0, 3);  // a BOM
    if (line.find('"') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_number, ": quoted fields are not supported (no value may hold a comma)"));
    }
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    for (std::string& f : fields) f = std::string(absl::StripAsciiWhitespace(f));
    if (header.empty()) {
      for (size_t a = 0; a < fields.size(); ++a) {
        for (size_t b = a + 1; b < fields.size(); ++b) {
          if (absl::EqualsIgnoreCase(fields[a], fields[b])) {
            return absl::InvalidArgumentError(
                absl::StrCat(path, ":1: column ", fields[a], " appears twice"));
          }
        }
      }
      header = fields;
      auto at = [&](absl::string_view a, absl::string_view b = "") {
        int i = Column(header, a);
        return i >= 0 || b.empty() ? i : Column(header, b);
      };
      col = {at("rec_id"),
             at("given_name"),
             at("middle_name"),
             at("surname", "family_name"),
             at("former_surname"),
             at("sex", "gender"),
             at("street_number"),
             at("address_1"),
             at("address_2"),
             at("suburb", "city"),
             at("postcode", "postal_code"),
             at("state"),
             at("date_of_birth", "birth_date"),
             at("soc_sec_id", "ssn"),
             at("phone"),
             at("multiple_birth"),
             -1};
      if (col.id < 0 || (col.given < 0 && col.family < 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ":1: not a registration header (rec_id, given_name, surname, ...)"));
      }
      if (!options.org_column.empty()) {
        col.org = Column(header, options.org_column);
        if (col.org < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ":1: no column ", options.org_column, " (--org-column)"));
        }
      }
      continue;
    }
    if (fields.size() != header.size()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_number, ": ", fields.size(),
                                                     " fields, want ", header.size()));
    }
    auto field = [&](int i) -> const std::string& {
      static const std::string* empty = new std::string;
      return i < 0 ? *empty : fields[static_cast<size_t>(i)];
    };
    LabelledRecord r;
    r.id = field(col.id);
    r.org = field(col.org);
    Person& p = r.person;
    if (!field(col.given).empty()) p.given.push_back(field(col.given));
    if (!field(col.middle).empty()) p.given.push_back(field(col.middle));
    p.family = field(col.family);
    if (!field(col.former).empty()) p.former_family.push_back(field(col.former));
    const std::string sex = absl::AsciiStrToLower(field(col.sex));
    if (sex == "m" || sex == "male") p.sex = Sex::kMale;
    if (sex == "f" || sex == "female") p.sex = Sex::kFemale;
    const std::string& number = field(col.number);
    std::string street = absl::StrCat(number, number.empty() ? "" : " ", field(col.address1));
    if (!absl::StripAsciiWhitespace(street).empty()) p.street.push_back(street);
    if (!field(col.address2).empty()) p.street.push_back(field(col.address2));
    p.city = field(col.city);
    p.postal_code = field(col.postal);
    p.state = field(col.state);
    p.birth_date = ParseCsvDate(field(col.birth));
    if (!options.drop_ssn && !field(col.ssn).empty()) {
      p.identifiers.emplace_back("ssn", field(col.ssn));
    }
    if (!field(col.phone).empty()) p.phones.push_back(field(col.phone));
    int order = 0;
    if (absl::SimpleAtoi(field(col.multiple_birth), &order) && order > 0) {
      p.multiple_birth_order = order;
      p.multiple_birth = true;
    }
    records.push_back(std::move(r));
  }
  if (header.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty file"));
  return records;
}

absl::StatusOr<std::vector<LabelledRecord>> LoadFebrlCsv(const std::string& path, bool drop_ssn) {
  return LoadRegistrationCsv(path, CsvOptions{drop_ssn, ""});
}

std::string FebrlEntity(const std::string& record_id) {
  std::vector<std::string> parts = absl::StrSplit(record_id, '-');
  if (parts.size() < 3 || parts[0] != "rec") return "";
  return parts[1];
}

std::vector<int> ClusterNumbers(const std::vector<std::string>& person_ids) {
  absl::flat_hash_map<absl::string_view, int> numbering;
  std::vector<int> cluster;
  cluster.reserve(person_ids.size());
  for (const std::string& id : person_ids) {
    cluster.push_back(numbering.emplace(id, static_cast<int>(numbering.size())).first->second);
  }
  return cluster;
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

double RecallWithReviews(const std::vector<int>& cluster, const std::vector<std::string>& truth,
                         const std::vector<int>& side, const std::vector<ReviewJoin>& reviews) {
  absl::flat_hash_set<std::pair<int, int>> merged;           // two clusters become one
  absl::flat_hash_set<std::pair<size_t, int>> record_joins;  // a record joins a cluster
  for (const ReviewJoin& r : reviews) {
    if (r.merges_persons) {
      merged.insert(std::minmax(cluster[r.a], cluster[r.b]));
    } else {
      record_joins.insert({r.a, cluster[r.b]});
    }
  }
  auto found = [&](size_t i, size_t j) {
    return cluster[i] == cluster[j] || merged.contains(std::minmax(cluster[i], cluster[j])) ||
           record_joins.contains({i, cluster[j]}) || record_joins.contains({j, cluster[i]});
  };
  absl::flat_hash_map<std::string, std::vector<size_t>> by_truth;
  for (size_t i = 0; i < truth.size(); ++i) by_truth[truth[i]].push_back(i);
  int64_t pairs = 0, hits = 0;
  for (const auto& [entity, members] : by_truth) {
    for (size_t x = 0; x < members.size(); ++x) {
      for (size_t y = x + 1; y < members.size(); ++y) {
        size_t i = members[x], j = members[y];
        if (!side.empty() && side[i] == side[j]) continue;
        ++pairs;
        hits += found(i, j);
      }
    }
  }
  return pairs == 0 ? 1.0 : static_cast<double>(hits) / pairs;
}

}  // namespace hie::mpi
