// Demographics normalization and matching on arbitrary registrations. The input is the
// rows of a Febrl CSV (the format `hiectl mpi evaluate` reads; the header is added
// here), so the CSV loader is fuzzed too. Up to six loaded records are enriched from
// their own columns (a second given name, a former family name, a phone, sex, birth
// order), prepared, and compared pairwise; the text helpers also run on the raw halves
// of the input. Properties checked:
//   - string measures: Jaro-Winkler in [0, 1] and symmetric, edit distance symmetric,
//     zero on equal strings, and WithinOneEdit agreeing with it;
//   - folding is idempotent and yields no upper-case ASCII;
//   - Compare(a, b) and Compare(b, a) agree field by field, and so do the scores;
//   - a registration compared with itself differs in no field and trips no guard;
//   - an exact phone or identifier agreement means the pair shares a blocking key;
//   - the batch linker gives every record a cluster.
// Inputs are capped at 1 KiB (the string measures see at most 32 bytes a side) so that
// the quadratic measures stay cheap per input.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "mpi/match/compare.h"
#include "mpi/match/engine.h"
#include "mpi/match/evaluation.h"
#include "mpi/match/model.h"
#include "mpi/match/text.h"

namespace {

constexpr size_t kMaxInput = 1024;
constexpr size_t kMaxMeasured = 32;
constexpr size_t kMaxRecords = 6;

void Check(bool ok) {
  if (!ok) std::abort();
}

const std::string& CsvPath() {
  static const std::string* path = new std::string(absl::StrCat(
      std::filesystem::temp_directory_path().string(), "/hie-match-fuzz-", getpid(), ".csv"));
  return *path;
}

void CheckStrings(absl::string_view a, absl::string_view b) {
  double ab = hie::mpi::JaroWinkler(a, b);
  double ba = hie::mpi::JaroWinkler(b, a);
  Check(ab >= 0 && ab <= 1 && std::fabs(ab - ba) < 1e-9);
  if (!a.empty()) Check(hie::mpi::JaroWinkler(a, a) == 1.0);
  int d = hie::mpi::EditDistance(a, b);
  Check(d == hie::mpi::EditDistance(b, a));
  Check(d >= 0 && static_cast<size_t>(d) <= std::max(a.size(), b.size()));
  Check(hie::mpi::EditDistance(a, a) == 0);
  Check(hie::mpi::WithinOneEdit(a, b) == (d <= 1));

  std::string folded = hie::mpi::FoldText(a);
  Check(hie::mpi::FoldText(folded) == folded);
  for (char c : folded) Check(!absl::ascii_isupper(static_cast<unsigned char>(c)));
  (void)hie::mpi::Words(a);
  (void)hie::mpi::SurnameParts(a);
  (void)hie::mpi::GivenNameForms(folded);
  std::string code = hie::mpi::Nysiis(folded);
  for (char c : code) Check(absl::ascii_isupper(static_cast<unsigned char>(c)));
  (void)hie::mpi::NormalizePhone(a);
  (void)hie::mpi::NormalizeIdentifier(a);
  (void)hie::mpi::NormalizeStreet(a);
  (void)hie::mpi::NormalizePostalCode(a);
}

// More fields than Febrl has, taken from the record's own columns, so that the phone,
// sex, former-name and twin rules see fuzzed values too.
void Enrich(hie::mpi::Person& p) {
  if (!p.state.empty()) p.given.push_back(p.state);
  if (p.street.size() > 1) p.former_family.push_back(p.street[1]);
  for (const auto& [system, value] : p.identifiers) p.phones.push_back(value);
  if (!p.postal_code.empty()) {
    char c = p.postal_code.back();
    p.sex = c == 'm'   ? hie::mpi::Sex::kMale
            : c == 'f' ? hie::mpi::Sex::kFemale
            : c == 'o' ? hie::mpi::Sex::kOther
                       : hie::mpi::Sex::kUnknown;
    if (c >= '1' && c <= '4') p.multiple_birth_order = c - '0';
    p.multiple_birth = c == 'x';
  }
}

bool ShareKey(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const auto& k : a) {
    if (std::find(b.begin(), b.end(), k) != b.end()) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput) return 0;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  CheckStrings(input.substr(0, std::min(size / 2, kMaxMeasured)),
               input.substr(size / 2, kMaxMeasured));

  {
    std::ofstream out(CsvPath(), std::ios::binary | std::ios::trunc);
    out << "rec_id, given_name, surname, street_number, address_1, address_2, suburb, "
           "postcode, state, date_of_birth, soc_sec_id\n";
    out.write(input.data(), static_cast<std::streamsize>(input.size()));
  }
  auto loaded = hie::mpi::LoadFebrlCsv(CsvPath(), /*drop_ssn=*/false);
  if (!loaded.ok()) {
    Check(absl::IsInvalidArgument(loaded.status()));
    return 0;
  }
  std::vector<hie::mpi::Person> persons;
  for (auto& r : *loaded) {
    if (persons.size() == kMaxRecords) break;
    (void)hie::mpi::FebrlEntity(r.id);
    Enrich(r.person);
    persons.push_back(r.person);
  }

  static const hie::mpi::MatchModel* model = new hie::mpi::MatchModel();
  hie::mpi::NameFrequencies frequencies;
  std::vector<hie::mpi::PreparedPerson> prepared;
  std::vector<std::vector<std::string>> keys;
  for (const auto& p : persons) {
    prepared.push_back(hie::mpi::Prepare(p));
    keys.push_back(hie::mpi::BlockingKeys(prepared.back()));
    frequencies.Add(prepared.back());
  }
  for (size_t i = 0; i < prepared.size(); ++i) {
    const auto& a = prepared[i];
    hie::mpi::Comparison self = hie::mpi::Compare(a, a);
    for (auto level : self.levels) Check(level != hie::mpi::Level::kDifferent);
    // Against itself nothing guards, but a registration too bare to vouch for anyone:
    // without a name or a birth date.
    const bool bare = (a.given.empty() && a.family.empty()) || a.birth_digits.empty();
    Check(bare || hie::mpi::CheckGuards(a, a, self) == hie::mpi::Guard::kNone);
    for (size_t j = i + 1; j < prepared.size(); ++j) {
      const auto& b = prepared[j];
      hie::mpi::Comparison ab = hie::mpi::Compare(a, b);
      hie::mpi::Comparison ba = hie::mpi::Compare(b, a);
      Check(ab.levels == ba.levels && ab.names_swapped == ba.names_swapped);
      Check(hie::mpi::CheckGuards(a, b, ab) == hie::mpi::CheckGuards(b, a, ba));
      double sab = model->Evaluate(a, b, ab, &frequencies).total;
      double sba = model->Evaluate(b, a, ba, &frequencies).total;
      Check(std::isfinite(sab) && std::fabs(sab - sba) < 1e-9);
      if (ab.at(hie::mpi::Field::kPhone) == hie::mpi::Level::kExact ||
          ab.at(hie::mpi::Field::kIdentifier) == hie::mpi::Level::kExact) {
        Check(ShareKey(keys[i], keys[j]));
      }
      hie::mpi::Decision d =
          hie::mpi::Decide(sab, hie::mpi::CheckGuards(a, b, ab), hie::mpi::Thresholds{});
      Check(d.decided_by != nullptr && d.decided_by[0] != '\0');
    }
  }

  return 0;
}
