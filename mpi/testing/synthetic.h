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

}  // namespace hie::mpi::testing

#endif  // HIE_MPI_TESTING_SYNTHETIC_H_
