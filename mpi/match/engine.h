// The matching engine's decisions, used by the persistent index (which `hiectl mpi
// evaluate` runs too): blocking keys, guards, and the grade of a scored pair.
#ifndef HIE_MPI_MATCH_ENGINE_H_
#define HIE_MPI_MATCH_ENGINE_H_

#include <string>
#include <vector>

#include "mpi/match/compare.h"
#include "mpi/match/model.h"
#include "mpi/match/person.h"

namespace hie::mpi {

// Independent blocking keys of one registration: a pair is scored if it shares any, so
// one corrupted field never hides a true match. Keys: family phonetic + birth year,
// and + birth day and month (each part of a hyphenated or former family name + birth
// year, and + first name); first name phonetic + birth year + family initial, and +
// birth day and month; full birth date; either name's phonetic code + postal code, and
// + city; both names' phonetic codes (in either order); each phone; each identifier,
// and an SSN of seven characters or more with each character left out in turn; each
// address line; each line's street name + postal code + family initial, and +
// city + birth year.
std::vector<std::string> BlockingKeys(const PreparedPerson& p);

// Why a pair that scores high must still not be linked automatically: a guarded pair
// goes to review when it scores at least the review threshold (unless the guard says
// two people, SaysTwoPeople), and is never linked without an operator. See
// docs/matching.md for each rule's reasoning.
enum class Guard {
  kNone,
  // Same family name (allowing typos) and birth date, first names that are neither
  // equal, nicknames, initials nor a typo of each other, wherever the records can tell
  // (a sex, phone or identifier on either side; an identifier on one side only is no
  // evidence of one person); or an initial against a full first name with two middle
  // names that are not one name. On one birth date whatever the family names: first
  // names a letter apart with the identifiers differing, both proper names (Gina /
  // Tina), or one the other with a feminine ending (Simon / Simone). With a multiple
  // birth on record, first names that are not one name. One identifier value on both
  // sides says one person, and so does one value a typed slip apart (not two numbers in
  // sequence, as twins' often are).
  kTwins,
  // Birth orders on record that differ (the first and the second twin): two people.
  kBirthOrder,
  // Sexes on record that differ, with first names that are not one name (a brother and
  // a sister, boy and girl twins): two people.
  kSex,
  // A birth date a digit apart or with day and month swapped, without names that are
  // one person's (not two proper names a letter apart, two middle names, or an initial
  // against a mistyped family name), an address or phone agreeing, and one generation
  // of the name on both (or none on either); none on one side where the records can
  // tell (only an identifier in common links it); on bare records (no sex, phone or
  // identifier) either, without an address agreeing; at one address, another birth
  // date two digits apart, wherever the records can tell; two generations of the name
  // on one birth date, a near one or none.
  kBirthDate,
  // Another birth date altogether at another address and phone, or three or more
  // digits apart at one address with both sexes on record, wherever the records can
  // tell; or two generations of the name (Sr and Jr, Jr and III) on another birth date:
  // a namesake (a father and son of one name). Two people.
  kNamesake,
  // Given names only alike (François / Francisco, Jon / Joan), on another birth date
  // and at another address: two people, whatever else agrees.
  kSimilarNames,
  // One side has no name at all: demographics alone never link it.
  kNoName,
  // Neither name in common (first and family names both different, not swapped),
  // wherever the records can tell: a household or a shared birthday, never linked
  // without an operator.
  kOtherNames,
  // A name several persons of the index share (three among a registration's candidates),
  // with a birth date and nothing else in common: namesakes share as much. Decided by
  // the index, which knows how common the name is; never linked without an operator.
  kCommonName,
  // No birth date on one side, nothing but the names in common, and a name several
  // persons of the index share: no question an operator could answer (each John Brown
  // would be asked about). Decided by the index; neither linked nor queued.
  kNameOnly,
  // Same family name and birth date, first names that are different names, each a
  // proper name of the word list (not a nickname, an initial, a middle name, a typo, a
  // letter apart, alike in sound, a placeholder or a swap), the sex on
  // both registrations and the same, and two numbers of a system one person carries
  // everywhere (the SSN, not a practice's record numbers) of one length, more than a
  // slip apart and not in sequence: twins a registration desk has told apart by their
  // numbers. Two people.
  kTwinsApart,
  // Numbers of a system one person carries everywhere (the SSN) on both sides that are
  // not one number (not a slip of it), and neither an address nor a phone in common:
  // a namesake with a number of their own (Mary Brown of 2003-06-23, in two streets),
  // or one person whose number was replaced and who moved. Never linked without an
  // operator.
  kOtherNumbers,
  // One identifier value on both sides, on registrations that otherwise say two
  // people: two generations of the name, or one on one side with birth dates that are
  // not one; birth orders that differ; with the sex on both (a desk's registrations),
  // sexes that differ and first names not one name as typed, or another birth date
  // with first names that are two names or three or more digits apart. A parent's or a
  // spouse's number typed on a dependant's registration (the guarantor's) looks the
  // same. Never linked without an operator.
  kSharedNumber,
};
const char* GuardName(Guard guard);
// True for the guards that say two people (kBirthOrder, kSex, kNamesake, kSimilarNames,
// kTwinsApart), or
// that nothing could tell (kNameOnly): such a pair is neither linked nor put in front of
// an operator, whatever it scores. The other guards hold a pair for review.
bool SaysTwoPeople(Guard guard);
Guard CheckGuards(const PreparedPerson& a, const PreparedPerson& b, const Comparison& c);
// True if `a` and `b` carry one identifier value of one system: as typed, or with a
// typed slip (one character changed, or two swapped; not two numbers in sequence, which
// are twins'). `c` is Compare(a, b).
bool OneIdentifier(const PreparedPerson& a, const PreparedPerson& b, const Comparison& c);

struct Decision {
  Grade grade = Grade::kNone;
  double score = 0;
  // "above upper threshold", "between thresholds", "below lower threshold", or the
  // guard's name ("twin guard", ...).
  const char* decided_by = "";
};
Decision Decide(double score, Guard guard, const Thresholds& thresholds);

}  // namespace hie::mpi

#endif  // HIE_MPI_MATCH_ENGINE_H_
