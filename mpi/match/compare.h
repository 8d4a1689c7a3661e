// Field-by-field comparison of two registrations: each field lands on one comparison
// level (exact, close, phonetic, different, missing...). The scorer weighs levels; the
// levels themselves carry no weight.
#ifndef HIE_MPI_MATCH_COMPARE_H_
#define HIE_MPI_MATCH_COMPARE_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "mpi/match/person.h"
#include "mpi/match/text.h"

namespace hie::mpi {

// The fields compared, in a fixed order.
enum class Field : uint8_t {
  kGivenName,
  kFamilyName,
  kBirthDate,
  kSex,
  kStreet,
  kCity,
  kPostalCode,
  kPhone,
  kIdentifier,
};
constexpr int kFieldCount = 9;

// Levels, from strongest agreement to disagreement. Not every field uses every level;
// kMissing means either side lacks the field and adds no evidence.
enum class Level : uint8_t {
  kExact,       // equal after normalization
  kEquivalent,  // equal by rule: a nickname, a shared surname part, swapped day/month
  kClose,       // a typo away (Jaro-Winkler or one edit)
  kPhonetic,    // sound alike (NYSIIS)
  kDifferent,
  kMissing,
};
constexpr int kLevelCount = 6;

const char* FieldName(Field field);
const char* LevelName(Level level);

// A registration prepared once for many comparisons: folded, normalized, phonetic
// codes computed.
struct PreparedPerson {
  std::vector<std::string> given;         // folded words of all given names
  std::string given_joined;               // those words without spaces
  std::vector<std::string> given_forms;   // first given name and its formal forms
  std::string given_nysiis;               // of the first given name
  std::string given_as_family;            // the given names read as a family name
  std::string family;                     // folded, particles removed, joined
  std::vector<std::string> family_parts;  // of current and former names
  std::string family_nysiis;
  Date birth_date;
  std::string birth_digits;  // YYYYMMDD, "" if unknown
  Sex sex = Sex::kUnknown;
  std::vector<std::string> street;         // normalized lines
  std::vector<std::string> street_joined;  // the same without spaces
  std::string city;                        // folded, without spaces
  std::string postal_code;
  std::vector<std::string> phones;
  std::vector<std::pair<std::string, std::string>> identifiers;  // (system, normalized)
  int multiple_birth_order = 0;
  bool multiple_birth = false;
  // The generation the name carries: from its suffixes, or a last word typed after the
  // family or given names ("Garcia Jr."), which is then no part of the name.
  Generation generation = Generation::kNone;
};

PreparedPerson Prepare(const Person& person);

// True if the first given name is a bare initial ("L", "L."): it may be either twin's.
inline bool FirstNameIsInitial(const PreparedPerson& p) {
  return !p.given.empty() && p.given.front().size() == 1;
}

struct Comparison {
  std::array<Level, kFieldCount> levels;
  // True if given and family names agree only when swapped (Donald Duck / Duck Donald).
  bool names_swapped = false;
  Level at(Field f) const { return levels[static_cast<int>(f)]; }
};

Comparison Compare(const PreparedPerson& a, const PreparedPerson& b);

}  // namespace hie::mpi

#endif  // HIE_MPI_MATCH_COMPARE_H_
