// Writes a labelled set of clinic-style registrations (MakeClinicRegistrations) as CSV,
// for measuring the MPI's auto-link precision on people registered at several practices,
// families that produce false links included. The true person of a row is the number
// between the first two '-' of its rec_id. Prints a one-line summary to stderr.
//
//   build/bin/mpi_clinic_set --seed 1 --people 4000 --orgs 5 --out clinic.csv
//
// Columns: rec_id,org,given_name,middle_name,surname,former_surname,sex,street_number,
// address_1,address_2,suburb,postcode,state,date_of_birth,soc_sec_id,phone,multiple_birth
// No quoting (no value holds a comma); empty is missing; sex m, f or empty; date_of_birth
// YYYYMMDD as registered, a typed digit included (19691194).
#include <cstdint>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "mpi/match/person.h"
#include "mpi/testing/synthetic.h"

namespace {

using hie::mpi::Person;
using hie::mpi::testing::ClinicRegistration;

constexpr char kHeader[] =
    "rec_id,org,given_name,middle_name,surname,former_surname,sex,street_number,address_1,"
    "address_2,suburb,postcode,state,date_of_birth,soc_sec_id,phone,multiple_birth";

constexpr char kUsage[] =
    "usage: mpi_clinic_set --out FILE [--seed N] [--people N] [--orgs N] [--ssn-slips P]\n"
    "\n"
    "Writes a labelled set of clinic-style registrations as CSV: N people registered at\n"
    "practices org-a, org-b, ... (1.6 registrations per person on average) with clerks'\n"
    "errors, twins, married names, juniors and seniors, near birth dates and similar and\n"
    "common names. The true person of a row is the number in its rec_id (rec-<person>-\n"
    "<org>-<k>). Deterministic for a seed. Prints a one-line summary to stderr.\n"
    "\n"
    "  --out FILE    where to write the CSV (required)\n"
    "  --seed N      generator seed, 0 to 2^64-1 (default 1)\n"
    "  --people N    distinct people, 1 to 10000000 (default 4000)\n"
    "  --orgs N      practices, 1 to 26 (default 5)\n"
    "  --ssn-slips P share of the registrations sent with an SSN that carry it mistyped\n"
    "                (a digit typed as another, or two neighbouring digits swapped), 0 to\n"
    "                1 (default 0). Drawn apart from the rest: the set is the seed's set\n"
    "                without slips but for those numbers.\n";

int BadFlag(const std::string& message) {
  std::cerr << "mpi_clinic_set: " << message << "\n\n" << kUsage;
  return 2;
}

// The first street line as house number and rest: "12 Oak Street" -> {"12", "Oak Street"}.
// The number is the line's leading digits (a typo may have glued them to the street name:
// "12bOak Street" -> {"12", "bOak Street"}); a line without them has no number.
std::pair<std::string, std::string> SplitStreet(const std::string& line) {
  size_t digits = 0;
  while (digits < line.size() && absl::ascii_isdigit(static_cast<unsigned char>(line[digits]))) {
    ++digits;
  }
  return {line.substr(0, digits),
          std::string(absl::StripLeadingAsciiWhitespace(absl::string_view(line).substr(digits)))};
}

std::string SexCode(hie::mpi::Sex sex) {
  switch (sex) {
    case hie::mpi::Sex::kMale:
      return "m";
    case hie::mpi::Sex::kFemale:
      return "f";
    default:
      return "";
  }
}

std::vector<std::string> Row(const ClinicRegistration& r) {
  const Person& p = r.person;
  std::pair<std::string, std::string> street =
      p.street.empty() ? std::pair<std::string, std::string>() : SplitStreet(p.street[0]);
  std::string ssn;
  for (const auto& [system, value] : p.identifiers) {
    if (system == "ssn") ssn = value;
  }
  return {
      r.rec_id,
      r.org,
      p.given.empty() ? "" : p.given[0],
      p.given.size() < 2 ? "" : absl::StrJoin(p.given.begin() + 1, p.given.end(), " "),
      p.family,
      p.former_family.empty() ? "" : p.former_family[0],
      SexCode(p.sex),
      street.first,
      street.second,
      p.street.size() < 2 ? "" : p.street[1],
      p.city,
      p.postal_code,
      p.state,
      p.birth_date.known()
          ? absl::StrFormat("%04d%02d%02d", p.birth_date.year, p.birth_date.month, p.birth_date.day)
          : "",
      ssn,
      p.phones.empty() ? "" : p.phones[0],
      p.multiple_birth_order > 0 ? absl::StrCat(p.multiple_birth_order) : "",
  };
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 1;
  int people = 4000;
  int orgs = 5;
  double ssn_slips = 0;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    std::string value;
    size_t equals = arg.find('=');
    if (arg.rfind("--", 0) == 0 && equals != std::string::npos) {
      value = arg.substr(equals + 1);
      arg = arg.substr(0, equals);
    } else if (arg == "--seed" || arg == "--people" || arg == "--orgs" || arg == "--out" ||
               arg == "--ssn-slips") {
      if (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0) {
        return BadFlag(absl::StrCat(arg, " needs a value"));
      }
      value = argv[++i];
    } else {
      return BadFlag(absl::StrCat("unknown argument '", arg, "'"));
    }
    if (arg == "--seed") {
      if (!absl::SimpleAtoi(value, &seed) || value.empty() || value[0] == '-') {
        return BadFlag(absl::StrCat("--seed: want an integer from 0 to 2^64-1, got '", value, "'"));
      }
    } else if (arg == "--people") {
      if (!absl::SimpleAtoi(value, &people) || people < 1 || people > 10000000) {
        return BadFlag(
            absl::StrCat("--people: want an integer from 1 to 10000000, got '", value, "'"));
      }
    } else if (arg == "--orgs") {
      if (!absl::SimpleAtoi(value, &orgs) || orgs < 1 || orgs > 26) {
        return BadFlag(absl::StrCat("--orgs: want an integer from 1 to 26, got '", value, "'"));
      }
    } else if (arg == "--ssn-slips") {
      if (!absl::SimpleAtod(value, &ssn_slips) || !(ssn_slips >= 0 && ssn_slips <= 1)) {
        return BadFlag(absl::StrCat("--ssn-slips: want a share from 0 to 1, got '", value, "'"));
      }
    } else if (arg == "--out") {
      if (value.empty()) return BadFlag("--out: want a file name");
      out = value;
    } else {
      return BadFlag(absl::StrCat("unknown option '", arg, "'"));
    }
  }
  if (out.empty()) return BadFlag("--out FILE is required");

  hie::mpi::testing::ClinicSetCounts counts;
  std::vector<ClinicRegistration> set = hie::mpi::testing::MakeClinicRegistrations(
      seed, people, {.orgs = orgs, .ssn_slips = ssn_slips}, &counts);
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  if (!file) {
    std::cerr << "mpi_clinic_set: " << out << ": cannot open for writing\n";
    return 1;
  }
  file << kHeader << "\n";
  for (const ClinicRegistration& r : set) {
    std::vector<std::string> row = Row(r);
    for (const std::string& field : row) {
      // The format has no quoting: a value with a separator would shift every column.
      if (field.find_first_of(",\r\n") != std::string::npos) {
        std::cerr << "mpi_clinic_set: " << r.rec_id << ": a value holds a comma or line break: '"
                  << field << "'\n";
        return 1;
      }
    }
    file << absl::StrJoin(row, ",") << "\n";
  }
  file.close();
  if (!file) {
    std::cerr << "mpi_clinic_set: " << out << ": write failed\n";
    return 1;
  }
  std::cerr << absl::StrFormat(
      "mpi_clinic_set: seed %d: %d persons, %d registrations at %d practices, %d true pairs; "
      "twin pairs %d (%d same sex, similar names), sibling pairs %d, married women %d (%d "
      "namesakes), junior/senior pairs %d, near-birth-date pairs %d, similar-name pairs %d, "
      "common-name persons %d, registrations with a birth-date error %d, with an SSN slip %d\n",
      seed, counts.persons, counts.registrations, orgs, counts.true_pairs, counts.twin_pairs,
      counts.similar_name_twin_pairs, counts.sibling_pairs, counts.married_women,
      counts.married_name_namesakes, counts.junior_senior_pairs, counts.near_birth_date_pairs,
      counts.similar_name_pairs, counts.common_name_persons, counts.birth_date_error_registrations,
      counts.ssn_slip_registrations);
  return 0;
}
