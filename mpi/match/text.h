// Text normalization for matching demographics: Unicode folding to comparable ASCII,
// name parts, nicknames, phonetic codes, and the string comparators the scorer uses.
// Pure functions; thread-safe.
#ifndef HIE_MPI_MATCH_TEXT_H_
#define HIE_MPI_MATCH_TEXT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace hie::mpi {

// Folds UTF-8 text for comparison: lower case; Latin accents dropped (José -> jose,
// Ordóñez -> ordonez) and German umlauts transliterated (Müller -> mueller, so that it
// equals the customary spelling Mueller); apostrophes removed (O'Brien -> obrien); every
// run of other punctuation, hyphens and white space becomes one space; leading and
// trailing spaces trimmed. Characters with no Latin form (张) are kept. Bytes that are
// not valid UTF-8 are read as Latin-1, the usual cause of such bytes in EMR exports.
std::string FoldText(absl::string_view utf8);

// The words of FoldText(utf8).
std::vector<std::string> Words(absl::string_view utf8);

// True for surname particles that registrations keep or drop inconsistently
// ("van", "der", "de", "la", "del", "von", "da", "dos", "st", ...).
bool IsSurnameParticle(absl::string_view folded_word);

// Which of a name's generations a name suffix says: the father's (Sr), the second of the
// name (Jr, II: one generation, as desks write either), the third (III), the fourth (IV).
enum class Generation : uint8_t { kNone, kSenior, kSecond, kThird, kFourth };

// The generation one word of a name's suffixes says ("Jr.", "junior", "II", "Sr"...), or
// kNone (a degree such as MD, or any other word).
Generation GenerationSuffix(absl::string_view utf8_word);

// A family name as comparable parts: folded words with particles removed, so that
// "van der Berg" and "Berg" share "berg", and "García-López" yields {"garcia", "lopez"}.
// Falls back to every word if all words are particles.
std::vector<std::string> SurnameParts(absl::string_view family);

// The canonical forms of a folded given name: itself, plus the formal names it is a
// nickname for (bill -> william, peggy -> margaret, jim -> james). Sorted, unique.
std::vector<std::string> GivenNameForms(absl::string_view folded_given);

// True if two folded given names are one name: equal, or sharing a form (jenny and
// jennifer, mike and mick).
bool OneGivenName(absl::string_view x, absl::string_view y);

// True if `a` and `b` hold a string in common (two names' forms, two family names'
// parts).
bool Intersects(const std::vector<std::string>& a, const std::vector<std::string>& b);

// True if a folded word is a proper name of the English word list the build read
// (Debian's wamerican: Gina, Tina, Ivan, Ian; not Jonh): a first name a letter from
// another that is also a name is a second name rather than a typo.
bool IsProperName(absl::string_view folded_word);

// The New York State Identification and Intelligence System phonetic code of a folded
// word (letters only are used), e.g. "johnson" -> "JANSAN". Empty for empty input.
std::string Nysiis(absl::string_view folded_word);

// Jaro-Winkler similarity in [0, 1] (prefix scale 0.1, up to 4 characters).
double JaroWinkler(absl::string_view a, absl::string_view b);

// Optimal string alignment distance: insertions, deletions, substitutions and
// transpositions of adjacent characters each cost 1.
int EditDistance(absl::string_view a, absl::string_view b);

// EditDistance(a, b) <= 1, in linear time.
bool WithinOneEdit(absl::string_view a, absl::string_view b);

// True if two folded names are a typo apart: within one edit (the shorter of four
// characters or more), or Jaro-Winkler >= 0.92. Cheap for the many pairs that are not.
bool Close(absl::string_view a, absl::string_view b);

// True if two identifier values of one length are equal or one typed slip apart (one
// character changed, or two adjacent ones swapped): a number's slip keeps its length.
bool OneSlipApart(absl::string_view a, absl::string_view b);

// Digits only, with a leading North American "1" dropped from 11-digit numbers:
// "+1 (555) 010-2030" -> "5550102030".
std::string NormalizePhone(absl::string_view phone);

// An identifier value as compared within its system: upper-case letters and digits
// only ("123-45-6789" -> "123456789", "d1234 567" -> "D1234567").
std::string NormalizeIdentifier(absl::string_view value);

// An identifier system as compared: trimmed, without a trailing '/', and a system known
// by more than one name given one name (the US SSN's OID, "urn:oid:2.16.840.1.113883.4.1"
// or bare, is "http://hl7.org/fhir/sid/us-ssn"), so that a number cannot dodge a
// comparison under another name of its system.
std::string NormalizeIdentifierSystem(absl::string_view system);

// True for a normalized system whose numbers are one person's across every organisation:
// the US SSN (its URI or OID, or "ssn", as research extracts and `hiectl mpi evaluate`
// name the column). A practice's record numbers are not: two local ids of one practice
// carry two of them whether or not they are one person.
bool IsPersonWideSystem(absl::string_view normalized_system);

// True for a normalized value that stands for "no number" rather than a person's: one
// character repeated (000000000, 999999999), as registration desks type where the
// patient has no number or did not give it.
bool IsPlaceholderNumber(absl::string_view normalized_value);

// A street line folded with its common abbreviations unified (street -> st,
// avenue -> ave, apartment/unit/# -> apt, north -> n, ...).
std::string NormalizeStreet(absl::string_view line);

// True for a street type as NormalizeStreet writes it ("st", "ave", "blvd", "cres"...).
bool IsStreetType(absl::string_view normalized_word);

// Postal code: upper-case letters and digits; a US ZIP+4 is cut to its five digits.
std::string NormalizePostalCode(absl::string_view code);

}  // namespace hie::mpi

#endif  // HIE_MPI_MATCH_TEXT_H_
