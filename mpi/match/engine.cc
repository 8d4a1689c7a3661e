#include "mpi/match/engine.h"

#include <algorithm>

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
  // Each part of a hyphenated or former family name with the birth year, and with the
  // first name: a married name meets the maiden one, and Dalenwell meets
  // Dalenwell-O'Brien, with or without a birth date.
  // At most four parts: a registration's keys stay few whatever it carries.
  for (size_t i = 0; i < p.family_parts.size() && i < 4; ++i) {
    std::string code = Nysiis(p.family_parts[i]);
    if (code.empty() || code == p.family_nysiis) continue;
    if (!year.empty()) keys.push_back(absl::StrCat("fy|", code, "|", year));
    if (!p.given_nysiis.empty()) keys.push_back(absl::StrCat("fg|", code, "|", p.given_nysiis));
  }
  // The first name with the birth year and the family name's initial: a family name
  // mistyped after its first letter and a mistyped or swapped day or month still meet.
  // (Without the initial, a common first name's block at a million registrations holds
  // thousands, and throughput falls by a third.)
  if (!p.given_nysiis.empty() && !year.empty() && !p.family.empty()) {
    keys.push_back(absl::StrCat("gy|", p.given_nysiis, "|", year, "|", p.family.substr(0, 1)));
  }
  if (!p.birth_digits.empty()) {
    keys.push_back(absl::StrCat("bd|", p.birth_digits));
    // Either name with the day and month: a mistyped year still meets, with a typo in
    // the other name too.
    if (!p.given_nysiis.empty() && p.birth_digits.size() == 8) {
      keys.push_back(absl::StrCat("gd|", p.given_nysiis, "|", p.birth_digits.substr(4)));
    }
    if (!p.family_nysiis.empty() && p.birth_digits.size() == 8) {
      keys.push_back(absl::StrCat("fd|", p.family_nysiis, "|", p.birth_digits.substr(4)));
    }
  }
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
    // The value with each character left out in turn: a value with one character
    // changed, or two swapped, shares one of these with the right one (a registration
    // whose names and birth date were also replaced still meets). Only for a number
    // one person carries everywhere (the SSN), sparse enough that such a block holds a
    // value's typed slips; a practice's record numbers are issued densely, in sequence.
    // At most 16 characters (an SSN has 9): a value as long as a request allows would
    // make as many keys, each nearly as long.
    if (value.size() >= 7 && value.size() <= 16 && IsPersonWideSystem(system)) {
      for (size_t i = 0; i < value.size(); ++i) {
        keys.push_back(absl::StrCat("ie|", system, "|", value.substr(0, i), value.substr(i + 1)));
      }
    }
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

const char* GuardName(Guard guard) {
  switch (guard) {
    case Guard::kNone:
      return "none";
    case Guard::kTwins:
      return "twin guard";
    case Guard::kBirthOrder:
      return "birth order guard";
    case Guard::kSex:
      return "sex guard";
    case Guard::kNamesake:
      return "namesake guard";
    case Guard::kOtherNames:
      return "other names guard";
    case Guard::kBirthDate:
      return "birth date guard";
    case Guard::kSimilarNames:
      return "similar names guard";
    case Guard::kNoName:
      return "no name guard";
    case Guard::kCommonName:
      return "common name guard";
    case Guard::kNameOnly:
      return "name only";
    case Guard::kTwinsApart:
      return "twins apart guard";
    case Guard::kOtherNumbers:
      return "other numbers guard";
    case Guard::kSharedNumber:
      return "shared number guard";
  }
  return "?";
}

bool SaysTwoPeople(Guard guard) {
  return guard == Guard::kBirthOrder || guard == Guard::kSex || guard == Guard::kSimilarNames ||
         guard == Guard::kNamesake || guard == Guard::kNameOnly || guard == Guard::kTwinsApart;
}

namespace {

// True if the first given names are one name: equal, or a nickname or formal form of
// each other (not merely alike: Christian / Christina are two).
bool SameFirstName(const PreparedPerson& a, const PreparedPerson& b) {
  if (a.given.empty() || b.given.empty()) return false;
  return a.given.front() == b.given.front() || Intersects(a.given_forms, b.given_forms);
}

// The feminine ending one first name is the other with ("" if none): a second name,
// which a typo rarely makes.
absl::string_view FeminineEnding(const std::string& x, const std::string& y) {
  const std::string& shorter = x.size() < y.size() ? x : y;
  const std::string& longer = x.size() < y.size() ? y : x;
  if (shorter.size() < 3 || !absl::StartsWith(longer, shorter)) return {};
  absl::string_view ending = absl::string_view(longer).substr(shorter.size());
  for (absl::string_view feminine : {"a", "e", "ne", "le", "lle", "ine", "ina", "ette"}) {
    if (ending == feminine) return feminine;
  }
  return {};
}

bool GenderedNames(const std::string& x, const std::string& y) {
  return !FeminineEnding(x, y).empty();
}

// The same for a pair read across a swap of the name fields, where one of the two pairs
// compared is the family names: a bare "e" is as often a family name's (Clark /
// Clarke, Brown / Browne), and only the longer feminine endings count.
bool SwappedGendered(const std::string& x, const std::string& y) {
  absl::string_view ending = FeminineEnding(x, y);
  return !ending.empty() && ending != "e";
}

// The same of two registrations' first names.
bool GenderedPair(const PreparedPerson& a, const PreparedPerson& b) {
  return !a.given.empty() && !b.given.empty() && GenderedNames(a.given.front(), b.given.front());
}

// How many digits of two birth dates (YYYYMMDD) differ, the smaller of as they are and
// with one's day and month swapped (the swap counting as one).
int BirthDigitsApart(const PreparedPerson& a, const PreparedPerson& b) {
  const std::string& x = a.birth_digits;
  const std::string& y = b.birth_digits;
  if (x.size() != 8 || y.size() != 8) return 8;
  auto differing = [&x](const std::string& z) {
    int n = 0;
    for (size_t i = 0; i < 8; ++i) n += x[i] != z[i];
    return n;
  };
  const std::string swapped = y.substr(0, 4) + y.substr(6, 2) + y.substr(4, 2);
  return std::min(differing(y), differing(swapped) + 1);
}

// The number a value ends with (its last digits, at most 18), and what comes before it.
std::pair<absl::string_view, uint64_t> TrailingNumber(absl::string_view v) {
  size_t start = v.size();
  while (start > 0 && v.size() - start < 18 && absl::ascii_isdigit(v[start - 1])) --start;
  uint64_t n = 0;
  for (char ch : v.substr(start)) n = n * 10 + static_cast<uint64_t>(ch - '0');
  return {v.substr(0, start), n};
}

// True if two values of one system look issued one after another (a digit or two apart
// at their end, whatever comes before): twins', or triplets', numbers.
bool InSequence(absl::string_view x, absl::string_view y) {
  auto [head_x, nx] = TrailingNumber(x);
  auto [head_y, ny] = TrailingNumber(y);
  if (head_x != head_y || x.size() != y.size() || x.size() == head_x.size()) return false;
  return (nx > ny ? nx - ny : ny - nx) <= 2;
}

// True if the two carry one identifier value with a typed slip (one character changed,
// or two swapped) in the same system, and not two numbers in sequence: twins' numbers
// are often issued one after the other.
bool OneIdentifierMistyped(const PreparedPerson& a, const PreparedPerson& b) {
  for (const auto& [sa, va] : a.identifiers) {
    for (const auto& [sb, vb] : b.identifiers) {
      if (sa != sb || va == vb || !OneSlipApart(va, vb)) continue;
      if (InSequence(va, vb)) continue;
      return true;
    }
  }
  return false;
}

// True if both carry a number of a system one person carries everywhere (the SSN), and
// those numbers are two: of one length, more than a typed slip apart, and not in
// sequence. A number with a character dropped, or a digit or two off at its end, may be
// one person's.
bool TwoPersonWideNumbers(const PreparedPerson& a, const PreparedPerson& b) {
  bool two = false;
  for (const auto& [sa, va] : a.identifiers) {
    if (!IsPersonWideSystem(sa)) continue;
    for (const auto& [sb, vb] : b.identifiers) {
      if (sa != sb) continue;
      if (va.size() != vb.size() || OneSlipApart(va, vb) || InSequence(va, vb)) return false;
      two = true;
    }
  }
  return two;
}

// True if two folded names differ and are both proper names (Louis and Louise).
bool TwoProperNames(const std::string& x, const std::string& y) {
  return x != y && IsProperName(x) && IsProperName(y);
}

// True if `name` is `p`'s family name or one of its parts (a half of a hyphenated name,
// a former name), as typed.
bool InFamilyName(const std::string& name, const PreparedPerson& p) {
  return name == p.family ||
         std::find(p.family_parts.begin(), p.family_parts.end(), name) != p.family_parts.end();
}

// Across a swap of the name fields, `given` against the first name `other` holds in its
// family field: two names (Louis / "Schäfer, Louise", Joel / "Walachberg, Joelle"). In a
// family field of several parts (hyphenated, or with a former name), also each part
// the swap may have been read from (one a typo or an ending away): "Groß, Carl-Moreau"
// against Carla Groß. The family name, or a part of it, that is `given` itself makes
// one name.
bool SwappedTwoNames(const std::string& given, const PreparedPerson& other) {
  auto two = [&given](const std::string& name) {
    return (TwoProperNames(given, name) && !OneGivenName(given, name)) ||
           SwappedGendered(given, name);
  };
  if (InFamilyName(given, other)) return false;
  if (two(other.family)) return true;
  const std::vector<std::string>& parts = other.family_parts;
  return std::any_of(parts.begin(), parts.end(), [&](const std::string& part) {
    return SwappedGendered(given, part) || (Close(given, part) && two(part));
  });
}

// True if, across a swap of the name fields, both halves are one name: each given name
// is the other's family name or a part of it (a half of a hyphenated name, a former
// name) as typed or, with `nicknames`, a nickname of it. Which half holds the first
// names cannot be told, so neither may carry a typo.
bool SwappedHalvesOneName(const PreparedPerson& a, const PreparedPerson& b, bool nicknames) {
  auto half = [nicknames](const PreparedPerson& x, const PreparedPerson& y) {
    const std::string& given = x.given.front();
    return InFamilyName(given, y) || x.given_as_family == y.family ||
           (nicknames && OneGivenName(given, y.family));
  };
  return half(a, b) && half(b, a);
}

// True if the first names are one name as typed, where the sexes on record differ: a
// duplicate whose sex was mistyped keeps its name; a nickname may be either's (Sam is
// Samuel or Samantha; Alex, Chris, Pat), and a typo one of two names (Jon / Joan).
// Across a swap of the name fields, both halves as typed.
bool OneNameAsTyped(const PreparedPerson& a, const PreparedPerson& b, const Comparison& c) {
  if (a.given.empty() || b.given.empty()) return false;
  if (!c.names_swapped) return a.given.front() == b.given.front();
  return SwappedHalvesOneName(a, b, /*nicknames=*/false);
}

// True if both carry a middle name and the two are not one name (neither equal, an
// initial of the other, nor a typo apart): Heather Michelle and Heather Sandra.
bool OtherMiddleNames(const PreparedPerson& a, const PreparedPerson& b) {
  if (a.given.size() < 2 || b.given.size() < 2) return false;
  const std::string& ma = a.given[1];
  const std::string& mb = b.given[1];
  if (ma.size() == 1 || mb.size() == 1) return ma.front() != mb.front();
  return !WithinOneEdit(ma, mb);
}

// True if one first name is the other's initial and their middle names are two names
// (L. Katherine and Laura Mary): with the first name cut to a letter, the middle name is
// what is left of it to compare.
bool InitialWithOtherMiddle(const PreparedPerson& a, const PreparedPerson& b) {
  // OtherMiddleNames first: it holds only where both carry two given names.
  return OtherMiddleNames(a, b) && (FirstNameIsInitial(a) || FirstNameIsInitial(b)) &&
         a.given.front().front() == b.given.front().front();
}

// Generations of the name on record (Jr, Sr, III): two that differ say a father and
// his son; one on one side only says the name has a father or a son of it.
bool TwoGenerations(const PreparedPerson& a, const PreparedPerson& b) {
  return a.generation != Generation::kNone && b.generation != Generation::kNone &&
         a.generation != b.generation;
}
bool OneGeneration(const PreparedPerson& a, const PreparedPerson& b) {
  return (a.generation == Generation::kNone) != (b.generation == Generation::kNone);
}

// The first and the second twin.
bool BirthOrdersDiffer(const PreparedPerson& a, const PreparedPerson& b) {
  return a.multiple_birth_order > 0 && b.multiple_birth_order > 0 &&
         a.multiple_birth_order != b.multiple_birth_order;
}

// True if registrations that carry one number otherwise say two people: a guarantor's
// (a parent's, a spouse's) typed as the patient's, or a mother's on her twins'. A sex
// mistyped keeps its name; a first name and a birth date both replaced, or a birth date
// replaced outright, on a desk's registrations (the sex on both) are no clerk's slip.
bool OneNumberOnTwoPeople(const PreparedPerson& a, const PreparedPerson& b, const Comparison& c) {
  const Level given = c.at(Field::kGivenName);
  const Level birth = c.at(Field::kBirthDate);
  if (TwoGenerations(a, b) || BirthOrdersDiffer(a, b)) return true;
  if (OneGeneration(a, b) && birth != Level::kExact) return true;
  if (a.sex == Sex::kUnknown || b.sex == Sex::kUnknown || given == Level::kMissing) return false;
  if (c.at(Field::kSex) == Level::kDifferent && !OneNameAsTyped(a, b, c)) return true;
  if (birth != Level::kDifferent) return false;
  return BirthDigitsApart(a, b) >= 3 ||
         ((given == Level::kDifferent || given == Level::kPhonetic) && !c.names_swapped);
}

}  // namespace

bool OneIdentifier(const PreparedPerson& a, const PreparedPerson& b, const Comparison& c) {
  const Level level = c.at(Field::kIdentifier);
  return level == Level::kExact || (level == Level::kClose && OneIdentifierMistyped(a, b));
}

Guard CheckGuards(const PreparedPerson& a, const PreparedPerson& b, const Comparison& c) {
  if ((a.given.empty() && a.family.empty()) || (b.given.empty() && b.family.empty())) {
    return Guard::kNoName;
  }
  const Level given = c.at(Field::kGivenName);
  const Level family = c.at(Field::kFamilyName);
  const Level birth = c.at(Field::kBirthDate);
  // One family, allowing typos (a family name that sounds the same).
  const bool same_family = family <= Level::kPhonetic;
  // One identifier value on both sides is one person, whatever the names say; so is one
  // value with a typed slip (not a number in sequence: twins'), except against the
  // guards that say two people: a sex or a birth order that differs outweighs a slip.
  const bool exact_identifier = c.at(Field::kIdentifier) == Level::kExact;
  const bool same_identifier = OneIdentifier(a, b, c);
  const bool mistyped_identifier = same_identifier && !exact_identifier;
  // Identifiers of one system on both sides that are not one person's value.
  const bool identifiers_differ =
      c.at(Field::kIdentifier) == Level::kDifferent ||
      (c.at(Field::kIdentifier) == Level::kClose && !mistyped_identifier);
  // A birth date a typed digit from the other, or day and month swapped. Two digits
  // apart is another birth date: a namesake relative born that year at one address
  // looks the same (a placeholder such as 1900-01-01 is near no one).
  const bool near_birth = birth == Level::kClose || birth == Level::kEquivalent;
  const bool same_address =
      c.at(Field::kStreet) <= Level::kClose || c.at(Field::kPhone) == Level::kExact;

  if (exact_identifier && OneNumberOnTwoPeople(a, b, c)) return Guard::kSharedNumber;
  // Two generations without one number: a father and son on two birth dates; on one (or
  // a near one, or none on record) a question, since Jr and III are written for one
  // another by some desks.
  if (TwoGenerations(a, b))
    return birth == Level::kDifferent ? Guard::kNamesake : Guard::kBirthDate;
  // A brother and a sister (boy and girl twins included): both sexes on record, and
  // first names on both that are not one name as typed (a nickname may be either's:
  // Sam Lee and "Lee, Samantha"). A sex mistyped on a duplicate keeps its name; one
  // without a first name says nothing either way.
  if (!exact_identifier && c.at(Field::kSex) == Level::kDifferent && given != Level::kMissing &&
      !OneNameAsTyped(a, b, c)) {
    return Guard::kSex;
  }
  // Birth orders that differ, whatever else agrees (the family name too may be
  // mistyped or swapped).
  if (!exact_identifier && BirthOrdersDiffer(a, b)) return Guard::kBirthOrder;
  // Twins a registration desk has told apart by their numbers: the sex on both, and
  // two numbers of a system one person carries everywhere (the SSN; not a practice's
  // record numbers) that are not one number's slip: as long as each other, more than
  // one character apart, and not in sequence.
  const bool told_apart = a.sex != Sex::kUnknown && a.sex == b.sex && TwoPersonWideNumbers(a, b);
  // Twins and siblings of one birth.
  if (same_family && !same_identifier) {
    // With a multiple birth on record, first names that are not one name (even a
    // letter apart, Christian / Christina, or one the other's middle name) are two
    // children; unless both give one birth order: one child, its name mistyped. Across
    // a swap of the name fields, the names read crosswise ("Shah, Christpan" against
    // Christina Shah is her twin Christian's, mistyped).
    const bool one_birth_order =
        a.multiple_birth_order > 0 && a.multiple_birth_order == b.multiple_birth_order;
    if ((a.multiple_birth || b.multiple_birth) && birth != Level::kDifferent && !one_birth_order &&
        !(c.names_swapped ? SwappedHalvesOneName(a, b, /*nicknames=*/true) : SameFirstName(a, b))) {
      return Guard::kTwins;
    }
  }
  // Whether the registrations carry what a registration desk records (a sex, a phone,
  // an identifier, on either side): research extracts without any of these cannot tell a twin from
  // a replaced first name, or a parent from a mistyped birth date.
  const bool can_tell = a.sex != Sex::kUnknown || b.sex != Sex::kUnknown ||
                        !a.identifiers.empty() || !b.identifiers.empty() || !a.phones.empty() ||
                        !b.phones.empty();
  if (same_family && birth == Level::kExact && !same_identifier) {
    // First names that are not equal, a nickname, an initial, a middle name or a typo
    // of each other are siblings of one birth wherever the registrations can tell: a
    // sex on both, a multiple birth, an identifier on either side (one on one side only
    // is no evidence of one person), a phone on both. Bare records with none of these
    // (research extracts) cannot tell a twin from a replaced first name, and the score
    // decides; see docs/matching.md.
    const bool different_first =
        (given == Level::kDifferent || given == Level::kPhonetic) && !c.names_swapped;
    // Told apart by their numbers: with the sex on both (a registration desk's), two
    // different first names, each a name in its own right (not spellings of one that
    // sound alike, Steven / Stephen, nor a placeholder such as Baby), and two SSNs are
    // two children. (Research extracts without a sex cannot tell a twin from a record
    // whose first name and number were both replaced: those stay a question.)
    if (given == Level::kDifferent && !c.names_swapped && told_apart &&
        TwoProperNames(a.given.front(), b.given.front())) {
      return Guard::kTwinsApart;
    }
    if (different_first && can_tell) return Guard::kTwins;
    // An initial for a full first name, with middle names that are two names.
    if (can_tell && InitialWithOtherMiddle(a, b)) return Guard::kTwins;
    // The names entered in each other's fields (Louis Schäfer against "Schäfer,
    // Louise"): the swap is one name's, the twins' names still two.
    // So is one the other with a feminine ending (Joel Walachberg against "Walachberg,
    // Joelle").
    if (c.names_swapped && can_tell &&
        (SwappedTwoNames(a.given.front(), b) || SwappedTwoNames(b.given.front(), a))) {
      return Guard::kTwins;
    }
  }
  // First names a letter apart on one birth date, whatever the family names say (a
  // twin's may be mistyped past recognition, Green / rGen, or carry a second part):
  // one the other with a feminine ending (Simon and Simone, Carl and Carla, Daniel and
  // Danielle), or both names (Gina and Tina, Ivan and Ian, Ryan and Bryan), are two
  // children, not a typo: a question, also with two numbers (Ann / Anne is as often one
  // name spelt two ways). A typo (Jonh) with the identifiers differing is a question. (With the
  // sexes differing, the sex guard above has decided already: Jon and Joan.)
  if (birth == Level::kExact && !same_identifier && given == Level::kClose) {
    const bool two_names =
        can_tell && (GenderedPair(a, b) || TwoProperNames(a.given.front(), b.given.front()));
    if (two_names || c.at(Field::kIdentifier) == Level::kDifferent) return Guard::kTwins;
  }
  if (same_identifier) return Guard::kNone;

  // Names only alike (a letter apart, or sounding alike) on another birth date and at
  // another address: François / Francisco. Both must be names: a typo (Lachlarn for
  // Lachlan) is one name, and the rules below decide. On a birth date a digit away it
  // stays a question (the birth date guard below): Sara and Sarah, Steven and Stephen
  // are as often one woman or man whose date was mistyped as two cousins.
  if ((given == Level::kClose || given == Level::kPhonetic) && birth == Level::kDifferent &&
      !same_address && TwoProperNames(a.given.front(), b.given.front())) {
    return Guard::kSimilarNames;
  }
  // Names that are one person's: each a typo away at most, but not two middle names, an
  // initial against a mistyped family name, or two proper names a letter apart.
  const bool initial_and_mistyped_family =
      family == Level::kClose && (FirstNameIsInitial(a) || FirstNameIsInitial(b));
  const bool names_agree =
      given <= Level::kClose && family <= Level::kClose && !OtherMiddleNames(a, b) &&
      !initial_and_mistyped_family &&
      !(given == Level::kClose && TwoProperNames(a.given.front(), b.given.front()));
  // Another birth date altogether (more than a digit or a swap): a parent and a child of one
  // name at one address (junior and senior), a namesake; wherever the records can tell
  // (as for twins: bare records cannot tell a parent from a mistyped birth date).
  if (birth == Level::kDifferent && can_tell) {
    // Birth dates three or more digits apart (even with day and month swapped back) are
    // no typist's slip: at another address and phone, nothing but the name is shared (a
    // namesake); at one address, on registrations that record the sex (a registration
    // desk's, not a research extract's), a father and son, a mother and daughter. Two
    // digits apart (a mover whose day was mistyped twice) stays a question.
    const bool sexes_on_record = a.sex != Sex::kUnknown && b.sex != Sex::kUnknown;
    if (BirthDigitsApart(a, b) >= 3 && (!same_address || sexes_on_record)) {
      return Guard::kNamesake;
    }
    return Guard::kBirthDate;
  }
  // Neither name in common (first names and family names both different, and not
  // entered in each other's fields): whatever else agrees, a household or a birthday
  // shared, not one person's name.
  if ((given == Level::kDifferent || given == Level::kPhonetic) && family == Level::kDifferent &&
      !c.names_swapped && can_tell) {
    return Guard::kOtherNames;
  }
  // A birth date a digit apart, or day and month swapped, is the same date only
  // when the names agree and an address or phone agrees too, and the identifiers on
  // both sides do not differ. Bare records (research extracts) cannot tell a sibling
  // from a duplicate whose first name was replaced: there the address and the score
  // decide.
  // A generation on one side only (Jose Garcia Jr against Jose Garcia): a birth date a
  // digit from the other's may be his father's or son's.
  if (near_birth &&
      ((!names_agree && can_tell) || !same_address || identifiers_differ || OneGeneration(a, b))) {
    return Guard::kBirthDate;
  }
  // No birth date on one side: the birth date is what tells a mother and daughter of one
  // name in one household apart (one address, one phone), so only an identifier in
  // common links it (one returned above); wherever the records cannot tell (research
  // extracts), an address agreeing and the score decide: a common name in one town is
  // not a person, and a name replaced in one household cannot be told from a relative.
  if (birth == Level::kMissing && (!same_address || can_tell)) {
    return Guard::kBirthDate;
  }
  // Two numbers, not one number's slip, and no household in common: only the name and
  // the birth date say one person, and a namesake shares those.
  if (identifiers_differ && TwoPersonWideNumbers(a, b) && !same_address) {
    return Guard::kOtherNumbers;
  }
  return Guard::kNone;
}

Decision Decide(double score, Guard guard, const Thresholds& thresholds) {
  Decision d;
  d.score = score;
  if (guard != Guard::kNone && score >= thresholds.lower) {
    // A guard decides only a pair the score would have linked or queued.
    d.grade =
        score >= thresholds.possible && !SaysTwoPeople(guard) ? Grade::kPossible : Grade::kNone;
    d.decided_by = GuardName(guard);
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

}  // namespace hie::mpi
