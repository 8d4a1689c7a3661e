// Synthetic registrations for tests and benchmarks: realistic demographics, and the
// errors clinics actually make when registering a returning patient (nicknames,
// married and hyphenated surnames, day/month swaps, dropped accents, swapped name
// fields, moves, missing identifiers), plus twins and common names that must stay
// apart. No real person is in it. Deterministic for a seed.
#ifndef HIE_MPI_TESTING_SYNTHETIC_H_
#define HIE_MPI_TESTING_SYNTHETIC_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "mpi/match/person.h"

namespace hie::mpi::testing {

class SyntheticPeople {
 public:
  explicit SyntheticPeople(uint64_t seed) : rng_(seed) {}

  // A new person. About 40% carry an SSN, 70% a phone.
  Person NewPerson();
  // A person sharing a very common name ("James Smith", "Maria Garcia") with others.
  Person CommonNamePerson();
  // `person`'s twin: same family name, birth date, address and phone; another given
  // name (and often sex), another SSN; multiple birth recorded half the time.
  Person TwinOf(const Person& person);
  // The same person as registered at another clinic, with one to three clinic errors.
  Person ClinicVariant(const Person& person);
  // The same person with Febrl-style typing errors (a character inserted, deleted,
  // substituted or transposed in one to two fields).
  Person TypoVariant(const Person& person);

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Uniform(0, static_cast<int>(v.size()) - 1))];
  }
  std::string Typo(const std::string& s);
  void NewAddress(Person* p);
  std::string NewSsn();

  std::mt19937_64 rng_;
};

// A labelled set: registrations and, for each, the true person it belongs to.
struct LabelledSet {
  std::vector<Person> people;
  std::vector<std::string> truth;
};

// `persons` distinct people (5% of them twins of another, 5% sharing common names),
// each registered once, and a clinic variant for `variant_share` of them.
LabelledSet MakeClinicSet(uint64_t seed, int persons, double variant_share);

// One registration of a person at a practice, as the practice sent it to the index.
struct ClinicRegistration {
  // "rec-<person>-<org>-<k>": the true person's index in [0, persons), the practice's
  // index (0 for org-a) and the registration's rank among that person's (0 = earliest).
  std::string rec_id;
  // "org-a", "org-b", ...
  std::string org;
  Person person;
};

// What MakeClinicRegistrations put in a set. Pairs are pairs of distinct people.
struct ClinicSetCounts {
  int persons = 0;
  int registrations = 0;
  // Pairs of registrations of the same person.
  int64_t true_pairs = 0;
  int twin_pairs = 0;
  // Of twin_pairs: the same sex and names one to three edits apart (Jon / Joan).
  int similar_name_twin_pairs = 0;
  int sibling_pairs = 0;
  // Women registered under their maiden name first and a married name afterwards.
  int married_women = 0;
  // Other women with a married woman's given and new family name, another birth date.
  int married_name_namesakes = 0;
  int junior_senior_pairs = 0;
  // Cousins: same family name, similar given names, birth dates one digit apart or with
  // day and month swapped.
  int near_birth_date_pairs = 0;
  // François / Francisco: same or similar family name, other birth date and address.
  int similar_name_pairs = 0;
  // People called James Smith, Maria Garcia and the like.
  int common_name_persons = 0;
  // Registrations whose birth date has a typed digit or day and month swapped.
  int birth_date_error_registrations = 0;
  // Registrations whose SSN has a typed slip (with ssn_slips above 0).
  int ssn_slip_registrations = 0;
};

// How MakeClinicRegistrations registers its people.
struct ClinicSetOptions {
  // Practices, 1 to 26.
  int orgs = 5;
  // The share (0 to 1) of the registrations sent with an SSN that carry it mistyped (a
  // digit typed as another, or two neighbouring digits swapped), drawn apart from
  // everything else: the set is the one without slips but for those numbers. The
  // default makes none.
  double ssn_slips = 0;
};

// A labelled set of clinic-style registrations: `persons` distinct people registered at
// `orgs` practices, 1 to 4 registrations each and at most one per practice (62% at one,
// 24% two, 9% three, 5% four; the married women two at least: about 1.6 on average, fewer
// when orgs < 4). Every registration is a clerk's version of the person with none to
// three errors (half have none): nicknames, initials, dropped middle names, lost accents,
// hyphenated or half-hyphenated surnames, given and family name swapped, a typed
// character, a typed birth-date digit or day and month swapped (about 6% of
// registrations), a move with a new phone, a new phone; and gaps: an SSN is on file for
// 60% of people and sent on two thirds of their registrations (about 40% carry one), a
// phone on about 64%, address parts, sex and birth date now and then.
//
// The people include the families that make an index link people it must not link
// (shares of `persons`):
//   5%  twins (N/40 pairs): same family name, birth date and usually address and phone;
//       truly different given names, half of the pairs with the same sex and names one to
//       three edits apart (Jon / Joan, Daniel / Danielle, Francis / Frances), the others
//       of either sex; each twin's SSN on file or not on its own; the birth order (1, 2)
//       on 40% of their registrations.
//   4%  siblings: same family name and usually address and phone, 1-8 years apart.
//   4%  married women, maiden name at first and a married name at a new address later
//       (the maiden name as former family name on half of those registrations, the two
//       names hyphenated on some); for 60% of them another woman with the same given name
//       and new family name, another birth date (the same year for a fifth) and for 40% of
//       those the same address, so that a chain maiden - married - namesake can form.
//   3%  junior / senior: father and son, same names, address and phone, born 20-35 years
//       apart.
//   3%  cousins: same family name, similar given names, birth dates one digit apart or
//       with day and month swapped; half in the same town.
//   4%  similar names: François / Francisco, Erik / Eric; same or similar family name
//       (Johnson / Johnston), other birth date and address; 30% in the same town.
//   6%  common names (James Smith, Maria Garcia, ...), a quarter born the same year as an
//       earlier namesake.
//   the rest (about 70%) single people.
// Small sets hold fewer families. The registrations are shuffled, so that a person's
// registrations are not adjacent, and person indices are shuffled across families.
// Deterministic for a seed (with one standard library). Fills `counts` if not null.
// REQUIRES: persons >= 0, and `options` as documented there.
std::vector<ClinicRegistration> MakeClinicRegistrations(uint64_t seed, int persons,
                                                        const ClinicSetOptions& options = {},
                                                        ClinicSetCounts* counts = nullptr);

}  // namespace hie::mpi::testing

#endif  // HIE_MPI_TESTING_SYNTHETIC_H_
