#include "mpi/match/compare.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "mpi/match/text.h"

namespace hie::mpi {

const char* FieldName(Field field) {
  switch (field) {
    case Field::kGivenName:
      return "given_name";
    case Field::kFamilyName:
      return "family_name";
    case Field::kBirthDate:
      return "birth_date";
    case Field::kSex:
      return "sex";
    case Field::kStreet:
      return "street";
    case Field::kCity:
      return "city";
    case Field::kPostalCode:
      return "postal_code";
    case Field::kPhone:
      return "phone";
    case Field::kIdentifier:
      return "identifier";
  }
  return "?";
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kExact:
      return "exact";
    case Level::kEquivalent:
      return "equivalent";
    case Level::kClose:
      return "close";
    case Level::kPhonetic:
      return "phonetic";
    case Level::kDifferent:
      return "different";
    case Level::kMissing:
      return "missing";
  }
  return "?";
}

PreparedPerson Prepare(const Person& person) {
  PreparedPerson p;
  for (const std::string& suffix : person.suffix) {
    for (absl::string_view word : absl::StrSplit(suffix, absl::ByAnyChar(" ,"))) {
      if (p.generation == Generation::kNone) p.generation = GenerationSuffix(word);
    }
  }
  // A generation typed as the last word of a name field ("Garcia Jr.", "John Sr"), after
  // a space or a comma; a hyphen joins a name's own parts (Tanaka-Ii). True if `field`
  // ends in one, which is then noted and is no part of the name.
  auto ends_in_generation = [&p](const std::string& field) {
    absl::string_view trimmed = absl::StripAsciiWhitespace(field);
    const size_t cut = trimmed.find_last_of(" ,");
    if (cut == absl::string_view::npos) return false;
    const Generation g = GenerationSuffix(trimmed.substr(cut + 1));
    if (g == Generation::kNone) return false;
    if (p.generation == Generation::kNone) p.generation = g;
    return true;
  };
  for (const std::string& g : person.given) {
    for (std::string& w : Words(g)) p.given.push_back(std::move(w));
  }
  // The given names read as one field: "William Jr" and {"William", "Jr"} alike.
  if (p.given.size() > 1 && ends_in_generation(absl::StrJoin(person.given, " "))) {
    p.given.pop_back();
  }
  p.given_joined = absl::StrJoin(p.given, "");
  if (!p.given.empty()) {
    p.given_forms = GivenNameForms(p.given.front());
    p.given_nysiis = Nysiis(p.given.front());
  }
  p.given_as_family = absl::StrJoin(SurnameParts(absl::StrJoin(p.given, " ")), "");
  std::vector<std::string> parts = SurnameParts(person.family);
  if (parts.size() > 1 && ends_in_generation(person.family)) parts.pop_back();
  p.family = absl::StrJoin(parts, "");
  p.family_parts = parts;
  for (const std::string& former : person.former_family) {
    for (std::string& part : SurnameParts(former)) p.family_parts.push_back(std::move(part));
  }
  std::sort(p.family_parts.begin(), p.family_parts.end());
  p.family_parts.erase(std::unique(p.family_parts.begin(), p.family_parts.end()),
                       p.family_parts.end());
  p.family_nysiis = Nysiis(p.family);
  p.birth_date = person.birth_date;
  if (person.birth_date.known()) {
    p.birth_digits = absl::StrFormat("%04d%02d%02d", person.birth_date.year,
                                     person.birth_date.month, person.birth_date.day);
  }
  p.sex = person.sex;
  for (const std::string& line : person.street) {
    std::string normalized = NormalizeStreet(line);
    if (normalized.empty()) continue;
    p.street_joined.push_back(absl::StrReplaceAll(normalized, {{" ", ""}}));
    p.street.push_back(std::move(normalized));
  }
  p.city = absl::StrReplaceAll(FoldText(person.city), {{" ", ""}});
  p.postal_code = NormalizePostalCode(person.postal_code);
  for (const std::string& phone : person.phones) {
    std::string digits = NormalizePhone(phone);
    if (digits.size() >= 6) p.phones.push_back(std::move(digits));
  }
  for (const auto& [system, value] : person.identifiers) {
    std::string normalized = NormalizeIdentifier(value);
    std::string normalized_system = NormalizeIdentifierSystem(system);
    // A placeholder SSN (000-00-0000) is no number: two people typed with it are not
    // one person, nor two told apart.
    if (normalized.empty() ||
        (IsPersonWideSystem(normalized_system) && IsPlaceholderNumber(normalized))) {
      continue;
    }
    p.identifiers.emplace_back(std::move(normalized_system), std::move(normalized));
  }
  p.multiple_birth_order = person.multiple_birth_order;
  p.multiple_birth = person.multiple_birth || person.multiple_birth_order > 0;
  return p;
}

namespace {

Level CompareGiven(const PreparedPerson& a, const PreparedPerson& b) {
  if (a.given.empty() || b.given.empty()) return Level::kMissing;
  const std::string& x = a.given.front();
  const std::string& y = b.given.front();
  // A blank typed inside a name ("j oel") changes nothing.
  if (x == y || a.given_joined == b.given_joined) return Level::kExact;
  if (Intersects(a.given_forms, b.given_forms)) return Level::kEquivalent;
  // A middle name used as the first name, in either direction.
  if (std::find(b.given.begin(), b.given.end(), x) != b.given.end() ||
      std::find(a.given.begin(), a.given.end(), y) != a.given.end()) {
    return Level::kEquivalent;
  }
  if (Close(x, y)) return Level::kClose;
  // An initial for the name ("J" for John): weak agreement, as a typo is.
  if ((x.size() == 1 || y.size() == 1) && x.front() == y.front()) return Level::kClose;
  // The joined words differ from the first word only when there are several.
  bool several = a.given.size() > 1 || b.given.size() > 1;
  if (several && Close(a.given_joined, b.given_joined)) return Level::kClose;
  if (!a.given_nysiis.empty() && a.given_nysiis == b.given_nysiis) return Level::kPhonetic;
  return Level::kDifferent;
}

Level CompareFamily(const PreparedPerson& a, const PreparedPerson& b) {
  if (a.family.empty() || b.family.empty()) return Level::kMissing;
  if (a.family == b.family) return Level::kExact;
  if (Intersects(a.family_parts, b.family_parts)) return Level::kEquivalent;
  if (Close(a.family, b.family)) return Level::kClose;
  if (!a.family_nysiis.empty() && a.family_nysiis == b.family_nysiis) return Level::kPhonetic;
  return Level::kDifferent;
}

Level CompareBirthDate(const PreparedPerson& a, const PreparedPerson& b) {
  if (a.birth_digits.empty() || b.birth_digits.empty()) return Level::kMissing;
  if (a.birth_digits == b.birth_digits) return Level::kExact;
  const Date& x = a.birth_date;
  const Date& y = b.birth_date;
  if (x.year == y.year && x.month == y.day && x.day == y.month) return Level::kEquivalent;
  if (WithinOneEdit(a.birth_digits, b.birth_digits)) return Level::kClose;
  return Level::kDifferent;
}

Level CompareSex(const PreparedPerson& a, const PreparedPerson& b) {
  if (a.sex == Sex::kUnknown || b.sex == Sex::kUnknown) return Level::kMissing;
  return a.sex == b.sex ? Level::kExact : Level::kDifferent;
}

Level CompareStreet(const PreparedPerson& a, const PreparedPerson& b) {
  if (a.street.empty() || b.street.empty()) return Level::kMissing;
  if (a.street_joined.front() == b.street_joined.front()) return Level::kExact;
  // Lines in another order (street and building name swapped) are equivalent.
  Level best = Level::kDifferent;
  for (const auto& x : a.street_joined) {
    for (const auto& y : b.street_joined) {
      if (x == y)
        best = std::min(best, Level::kEquivalent);
      else if (Close(x, y))
        best = std::min(best, Level::kClose);
    }
  }
  return best;
}

Level CompareCity(const PreparedPerson& a, const PreparedPerson& b) {
  if (a.city.empty() || b.city.empty()) return Level::kMissing;
  if (a.city == b.city) return Level::kExact;
  if (Close(a.city, b.city)) return Level::kClose;
  return Level::kDifferent;
}

Level ComparePostal(const PreparedPerson& a, const PreparedPerson& b) {
  if (a.postal_code.empty() || b.postal_code.empty()) return Level::kMissing;
  if (a.postal_code == b.postal_code) return Level::kExact;
  if (a.postal_code.size() == b.postal_code.size() && WithinOneEdit(a.postal_code, b.postal_code)) {
    return Level::kClose;
  }
  return Level::kDifferent;
}

Level ComparePhone(const PreparedPerson& a, const PreparedPerson& b) {
  if (a.phones.empty() || b.phones.empty()) return Level::kMissing;
  Level best = Level::kDifferent;
  for (const auto& x : a.phones) {
    for (const auto& y : b.phones) {
      if (x == y) return Level::kExact;
      if (x.size() == y.size() && WithinOneEdit(x, y)) best = Level::kClose;
    }
  }
  return best;
}

Level CompareIdentifier(const PreparedPerson& a, const PreparedPerson& b) {
  Level best = Level::kMissing;
  for (const auto& [sa, va] : a.identifiers) {
    for (const auto& [sb, vb] : b.identifiers) {
      if (sa != sb) continue;
      if (va == vb) return Level::kExact;
      if (OneSlipApart(va, vb)) {
        best = std::min(best, Level::kClose);
      } else {
        best = std::min(best, Level::kDifferent);
      }
    }
  }
  return best;
}

// The given names of `p` are `other`'s family name, as typed or a typo away: the whole
// of it, or the first given name one of its parts (one half of a hyphenated name, a
// former name: "Davis, Patricia" against Patricia Cromuberg, born Davis).
bool GivenIsFamily(const PreparedPerson& p, const PreparedPerson& other) {
  const std::string& first = p.given.front();
  const std::string& family = other.family;
  if (first == family || p.given_as_family == family || Close(first, family) ||
      (p.given.size() > 1 && Close(p.given_as_family, family))) {
    return true;
  }
  if (other.family_parts.size() < 2) return false;
  return std::any_of(other.family_parts.begin(), other.family_parts.end(),
                     [&](const std::string& part) { return first == part || Close(first, part); });
}

}  // namespace

Comparison Compare(const PreparedPerson& a, const PreparedPerson& b) {
  Comparison c;
  auto set = [&](Field f, Level l) { c.levels[static_cast<int>(f)] = l; };
  Level given = CompareGiven(a, b);
  Level family = CompareFamily(a, b);
  // Names entered in each other's fields. Both swapped: the given and family names
  // agree crosswise. Or one registration's family name typed as the other's given name
  // ("Weller, Ebony" against "Flynn Weller"): the family name agrees, and the given
  // names (Flynn, Ebony) still differ, so the twin guard still looks at them.
  if (given >= Level::kPhonetic && given != Level::kMissing && family != Level::kMissing) {
    bool a_given_is_b_family = GivenIsFamily(a, b);
    bool b_given_is_a_family = GivenIsFamily(b, a);
    // With one half of a swap in place, the other may be a nickname of the first name
    // (Jenny Lee against "Lee, Jennifer"); looked up only then.
    if (a_given_is_b_family != b_given_is_a_family) {
      const PreparedPerson& by_name = a_given_is_b_family ? b : a;
      const PreparedPerson& by_family = a_given_is_b_family ? a : b;
      if (OneGivenName(by_name.given.front(), by_family.family)) {
        a_given_is_b_family = b_given_is_a_family = true;
      }
    }
    if (family >= Level::kPhonetic && a_given_is_b_family && b_given_is_a_family) {
      given = Level::kEquivalent;
      family = Level::kEquivalent;
      c.names_swapped = true;
    } else if (a_given_is_b_family || b_given_is_a_family) {
      family = std::min(family, Level::kEquivalent);
    }
  }
  set(Field::kGivenName, given);
  set(Field::kFamilyName, family);
  set(Field::kBirthDate, CompareBirthDate(a, b));
  set(Field::kSex, CompareSex(a, b));
  set(Field::kStreet, CompareStreet(a, b));
  set(Field::kCity, CompareCity(a, b));
  set(Field::kPostalCode, ComparePostal(a, b));
  set(Field::kPhone, ComparePhone(a, b));
  set(Field::kIdentifier, CompareIdentifier(a, b));
  return c;
}

}  // namespace hie::mpi
