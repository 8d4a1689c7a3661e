// A person as the matching engine sees one registration: plain demographics, no gRPC
// types. The service layer converts hie.v1.Demographics to this; hiectl mpi evaluate
// builds it from CSV.
#ifndef HIE_MPI_MATCH_PERSON_H_
#define HIE_MPI_MATCH_PERSON_H_

#include <string>
#include <utility>
#include <vector>

namespace hie::mpi {

// A calendar date; 0 marks an unknown part (year 0: no date at all). Values are kept
// as registered, even when they are not a real date (a typo'd 31 February), because
// the comparator can still use their digits.
struct Date {
  int year = 0;
  int month = 0;
  int day = 0;
  bool known() const { return year != 0; }
};

enum class Sex { kUnknown, kMale, kFemale, kOther };

struct Person {
  // Given names in order; the first is the one called by.
  std::vector<std::string> given;
  std::string family;
  // Earlier family names (maiden, before a marriage).
  std::vector<std::string> former_family;
  // Name suffixes as registered ("Jr", "III", "MD"). A generation may also come typed
  // at the end of the family or given names ("Smith Jr").
  std::vector<std::string> suffix;
  Date birth_date;
  Sex sex = Sex::kUnknown;
  // Street lines, number included ("12 Main St", "Apt 4").
  std::vector<std::string> street;
  std::string city;
  std::string postal_code;
  std::string state;
  std::vector<std::string> phones;
  // (system, value) pairs.
  std::vector<std::pair<std::string, std::string>> identifiers;
  // 0 if not part of a multiple birth or unknown; otherwise the birth order (1, 2...).
  // multiple_birth is true if the registration says multiple birth without an order.
  int multiple_birth_order = 0;
  bool multiple_birth = false;
};

}  // namespace hie::mpi

#endif  // HIE_MPI_MATCH_PERSON_H_
