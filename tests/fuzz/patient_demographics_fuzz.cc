// A FHIR Patient from a practice's feed on its way to the MPI: arbitrary JSON through
// DemographicsFromFhirPatient, then the MPI's conversion to its matching Person and
// back, then preparation for matching. Properties checked: a refusal is
// InvalidArgument; the demographics survive their wire encoding; converting the Person
// to demographics and back keeps every field the matcher uses; a registration compared
// with itself differs in no field. Inputs are capped at 8 KiB (a Patient is small).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "mpi/index/person_proto.h"
#include "mpi/match/compare.h"
#include "mpi/match/engine.h"
#include "node/domain/patient_demographics.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool SameDate(const hie::mpi::Date& a, const hie::mpi::Date& b) {
  return a.year == b.year && a.month == b.month && a.day == b.day;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  absl::string_view json(reinterpret_cast<const char*>(data), size);
  auto demographics = hie::node::DemographicsFromFhirPatient(json);
  if (!demographics.ok()) {
    Check(absl::IsInvalidArgument(demographics.status()));
    return 0;
  }
  std::string wire;
  Check(demographics->SerializeToString(&wire));
  hie::v1::Demographics parsed;
  Check(parsed.ParseFromString(wire));

  hie::mpi::Person person = hie::mpi::PersonFromDemographics(parsed);
  hie::mpi::Person again =
      hie::mpi::PersonFromDemographics(hie::mpi::DemographicsFromPerson(person));
  Check(again.given == person.given && again.family == person.family);
  Check(again.former_family == person.former_family && again.suffix == person.suffix);
  Check(!person.birth_date.known() || SameDate(again.birth_date, person.birth_date));
  Check(again.sex == person.sex);
  Check(again.street == person.street && again.city == person.city);
  Check(again.postal_code == person.postal_code);
  Check(again.phones == person.phones && again.identifiers == person.identifiers);

  hie::mpi::PreparedPerson prepared = hie::mpi::Prepare(person);
  hie::mpi::Comparison self = hie::mpi::Compare(prepared, prepared);
  for (auto level : self.levels) Check(level != hie::mpi::Level::kDifferent);
  (void)hie::mpi::BlockingKeys(prepared);
  return 0;
}
