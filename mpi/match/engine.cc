#include "mpi/match/engine.h"

#include <algorithm>
#include <array>
#include <numeric>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "mpi/match/text.h"

namespace hie::mpi {

namespace {

// The name of the street on a normalized line: its first word of four letters or more
// that is neither the house number nor a street type ("121 blackbutt st" ->
// "blackbutt"), so that a mistyped number or street type changes nothing. "" if there
// is none.
absl::string_view StreetName(absl::string_view line) {
  for (absl::string_view word : absl::StrSplit(line, ' ')) {
    if (word.size() < 4 || absl::ascii_isdigit(word.front()) || IsStreetType(word)) continue;
    return word;
  }
  return "";
}

}  // namespace

std::vector<std::string> BlockingKeys(const PreparedPerson& p) {
  std::vector<std::string> keys;
  const std::string year = p.birth_date.known() ? std::to_string(p.birth_date.year) : "";
  if (!p.family_nysiis.empty() && !year.empty()) {
    keys.push_back(absl::StrCat("fy|", p.family_nysiis, "|", year));
  }
  if (!p.birth_digits.empty()) keys.push_back(absl::StrCat("bd|", p.birth_digits));
  // Either name with the postal code or the city: the name keys are shared by the given
  // and family name, so that names entered in each other's field still meet.
  for (const std::string* name : {&p.given_nysiis, &p.family_nysiis}) {
    if (name->empty()) continue;
    if (!p.postal_code.empty()) keys.push_back(absl::StrCat("np|", *name, "|", p.postal_code));
    if (!p.city.empty()) keys.push_back(absl::StrCat("nc|", *name, "|", p.city));
  }
  if (!p.family_nysiis.empty() && !p.given_nysiis.empty()) {
    keys.push_back(absl::StrCat("fg|", p.family_nysiis, "|", p.given_nysiis));
    keys.push_back(absl::StrCat("fg|", p.given_nysiis, "|", p.family_nysiis));
    // A nickname also meets its formal names (Bob Lindqvist, Robert Lindqvist), so that
    // a search by name alone finds the person whichever form was registered.
    if (p.given_forms.size() > 1) {
      for (const std::string& form : p.given_forms) {
        keys.push_back(absl::StrCat("fg|", p.family_nysiis, "|", Nysiis(form)));
      }
    }
  }
  for (const auto& phone : p.phones) keys.push_back(absl::StrCat("ph|", phone));
  for (const auto& [system, value] : p.identifiers) {
    keys.push_back(absl::StrCat("id|", system, "|", value));
  }
  // Each address line on its own (a household, a building): catches a person whose
  // names and birth date were all mistyped, and lines entered in another order. And the
  // street's name with the postal code and the family name's initial, and with the city
  // and the birth year, so that a mistyped or missing house number, or a line entered
  // in another field, still meets.
  for (size_t i = 0; i < p.street_joined.size(); ++i) {
    // A unit line alone ("apt 4b") is shared by every building's fourth-floor flat.
    if (absl::StartsWith(p.street[i], "apt ")) continue;
    if (p.street_joined[i].size() >= 6) keys.push_back(absl::StrCat("sl|", p.street_joined[i]));
    absl::string_view name = StreetName(p.street[i]);
    if (name.empty()) continue;
    // With the postal code, the family name's initial too: a household, not a street.
    if (!p.postal_code.empty() && !p.family.empty()) {
      keys.push_back(absl::StrCat("sp|", name, "|", p.postal_code, "|", p.family.substr(0, 1)));
    }
    // A town's street holds many households: with the city, the birth year too.
    if (!p.city.empty() && !year.empty()) {
      keys.push_back(absl::StrCat("sc|", name, "|", p.city, "|", year));
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

Guard CheckGuards(const PreparedPerson& a, const PreparedPerson& b, const Comparison& c) {
  bool same_family = c.at(Field::kFamilyName) <= Level::kEquivalent;
  bool same_birth = c.at(Field::kBirthDate) == Level::kExact;
  if (!same_family || !same_birth) return Guard::kNone;
  if (a.multiple_birth_order > 0 && b.multiple_birth_order > 0 &&
      a.multiple_birth_order != b.multiple_birth_order) {
    return Guard::kTwins;
  }
  // With a multiple birth on record, first names that differ (even where one is the
  // other's middle name) are two children.
  if (a.multiple_birth || b.multiple_birth) {
    bool same_first =
        !a.given.empty() && !b.given.empty() &&
        (a.given.front() == b.given.front() || c.at(Field::kGivenName) == Level::kClose ||
         std::any_of(a.given_forms.begin(), a.given_forms.end(), [&](const auto& f) {
           return std::find(b.given_forms.begin(), b.given_forms.end(), f) != b.given_forms.end();
         }));
    if (!same_first && !c.names_swapped) return Guard::kTwins;
  }
  // Different given names that are not a typo, nickname or swap of each other...
  if (c.at(Field::kGivenName) != Level::kDifferent || c.names_swapped) return Guard::kNone;
  // ...are twins whenever the registrations can tell: a multiple birth on record,
  // identifiers of one system that differ outright, or the sex recorded on both (the
  // same sex or not). Registrations that record none of these (research extracts, bare
  // lab feeds) cannot tell a twin from a replaced first name, and the score decides.
  // One identifier on both is one person, whatever the first names say.
  if (c.at(Field::kIdentifier) == Level::kExact) return Guard::kNone;
  bool multiple_birth = a.multiple_birth || b.multiple_birth;
  bool identifiers_differ = c.at(Field::kIdentifier) == Level::kDifferent;
  bool sex_recorded = c.at(Field::kSex) != Level::kMissing;
  return multiple_birth || identifiers_differ || sex_recorded ? Guard::kTwins : Guard::kNone;
}

Decision Decide(double score, Guard guard, const Thresholds& thresholds) {
  Decision d;
  d.score = score;
  if (guard == Guard::kTwins) {
    d.grade = score >= thresholds.possible ? Grade::kPossible : Grade::kNone;
    d.decided_by = "twin guard";
  } else if (score >= thresholds.upper) {
    d.grade = Grade::kCertain;
    d.decided_by = "above upper threshold";
  } else if (score >= thresholds.lower) {
    d.grade = Grade::kProbable;
    d.decided_by = "between thresholds";
  } else {
    d.grade = score >= thresholds.possible ? Grade::kPossible : Grade::kNone;
    d.decided_by = "below lower threshold";
  }
  return d;
}

namespace {

int Find(std::vector<int>& parent, int x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

}  // namespace

BatchResult LinkBatch(const std::vector<Person>& records, const std::vector<int>& side,
                      const BatchOptions& options) {
  BatchResult result;
  const size_t n = records.size();
  result.stats.records = n;
  std::vector<PreparedPerson> prepared;
  prepared.reserve(n);
  NameFrequencies& frequencies = result.frequencies;
  for (const Person& p : records) {
    prepared.push_back(Prepare(p));
    frequencies.Add(prepared.back());
  }
  auto across = [&](size_t i, size_t j) { return side.empty() || side[i] != side[j]; };

  // Blocking.
  absl::flat_hash_map<std::string, std::vector<uint32_t>> blocks;
  for (uint32_t i = 0; i < n; ++i) {
    for (std::string& key : BlockingKeys(prepared[i])) blocks[key].push_back(i);
  }
  absl::flat_hash_set<uint64_t> pairs;
  for (auto& [key, members] : blocks) {
    if (members.size() < 2) continue;
    ++result.stats.blocks;
    if (members.size() > options.max_block_size) {
      ++result.stats.blocks_truncated;
      members.resize(options.max_block_size);
    }
    for (size_t x = 0; x < members.size(); ++x) {
      for (size_t y = x + 1; y < members.size(); ++y) {
        uint32_t i = members[x], j = members[y];
        if (!across(i, j)) continue;
        if (i > j) std::swap(i, j);
        pairs.insert((static_cast<uint64_t>(i) << 32) | j);
      }
    }
  }
  std::vector<uint64_t> pair_list(pairs.begin(), pairs.end());
  std::sort(pair_list.begin(), pair_list.end());
  result.stats.candidate_pairs = pair_list.size();

  // u from random pairs, m by EM over the candidates.
  std::mt19937_64 rng(options.seed);
  std::vector<Comparison> random;
  if (n >= 2) {
    std::uniform_int_distribution<size_t> pick(0, n - 1);
    for (size_t k = 0; k < options.random_pairs; ++k) {
      size_t i = pick(rng), j = pick(rng);
      if (i == j || !across(i, j)) continue;
      random.push_back(Compare(prepared[i], prepared[j]));
    }
  }
  result.model.FitU(random);
  std::vector<Comparison> comparisons;
  comparisons.reserve(pair_list.size());
  for (uint64_t pair : pair_list) {
    comparisons.push_back(Compare(prepared[pair >> 32], prepared[pair & 0xffffffff]));
  }
  result.stats.em_iterations = result.model.FitM(comparisons);

  // Score and decide every candidate pair.
  struct Link {
    double score;
    uint32_t i, j;
  };
  std::vector<Link> certain;
  for (size_t k = 0; k < pair_list.size(); ++k) {
    uint32_t i = pair_list[k] >> 32, j = pair_list[k] & 0xffffffff;
    const Comparison& c = comparisons[k];
    Score score = result.model.Evaluate(prepared[i], prepared[j], c, &frequencies);
    Guard guard = CheckGuards(prepared[i], prepared[j], c);
    Decision d = Decide(score.total, guard, options.thresholds);
    if (guard != Guard::kNone) ++result.stats.guarded;
    if (d.grade == Grade::kCertain) {
      certain.push_back({score.total, i, j});
    } else if (d.grade == Grade::kProbable) {
      ++result.stats.reviews;
    }
  }

  // Cluster the automatic links, strongest first. Linking two files, a person has at
  // most one record in each (as the index never links two registrations of one
  // organisation automatically): a link that would put two records of one file in a
  // cluster goes to review instead, so that one weak link cannot chain two people.
  std::stable_sort(certain.begin(), certain.end(),
                   [](const Link& x, const Link& y) { return x.score > y.score; });
  std::vector<int> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  std::vector<std::array<bool, 2>> has_side(side.empty() ? 0 : n);
  for (size_t i = 0; i < has_side.size(); ++i) has_side[i][side[i]] = true;
  for (const Link& link : certain) {
    int ri = Find(parent, link.i), rj = Find(parent, link.j);
    if (ri == rj) {
      ++result.stats.links;
      continue;
    }
    if (!side.empty() &&
        ((has_side[ri][0] && has_side[rj][0]) || (has_side[ri][1] && has_side[rj][1]))) {
      ++result.stats.reviews;
      continue;
    }
    ++result.stats.links;
    parent[ri] = rj;
    if (!side.empty()) {
      has_side[rj][0] = has_side[rj][0] || has_side[ri][0];
      has_side[rj][1] = has_side[rj][1] || has_side[ri][1];
    }
  }
  absl::flat_hash_map<int, int> numbering;
  result.cluster.resize(n);
  for (size_t i = 0; i < n; ++i) {
    int root = Find(parent, i);
    auto [it, inserted] = numbering.emplace(root, static_cast<int>(numbering.size()));
    result.cluster[i] = it->second;
  }
  return result;
}

}  // namespace hie::mpi
