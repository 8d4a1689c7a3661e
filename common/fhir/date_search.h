// FHIR R4 search on dates: a parameter value such as "ge2025-01-01" or "2025-03" as a
// prefix and a range, matched against a resource's date range as the specification
// says (search.html#prefix): eq — the value's range contains the target's; gt — the
// target reaches past the value's range; lt — the target starts before it; ge / le — gt
// or eq / lt or eq; ne — not eq; sa — the target starts after the value's range ends;
// eb — the target ends before it begins. "ap" is not supported.
#ifndef HIE_COMMON_FHIR_DATE_SEARCH_H_
#define HIE_COMMON_FHIR_DATE_SEARCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/fhir/datetime.h"

namespace hie::fhir {

struct DateParam {
  std::string prefix;  // "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"
  TimeRange value;

  // Whether a resource whose date is `target` matches.
  bool Matches(const TimeRange& target) const;
};

// A date as a search value or a stored resource's element: what ParseDateTime reads,
// and also a time to the minute (2020-01-02T10:00, one minute long) and a time without
// a zone (taken as UTC), as clients and older records write them.
// Errors: InvalidArgument saying what is wrong.
absl::StatusOr<TimeRange> ParseSearchDate(absl::string_view text);

// "[prefix]date" (the date as ParseSearchDate reads it).
// Errors: InvalidArgument naming the problem ("ap" unsupported, an unknown prefix, a bad
// date).
absl::StatusOr<DateParam> ParseDateParam(absl::string_view text);

}  // namespace hie::fhir

#endif  // HIE_COMMON_FHIR_DATE_SEARCH_H_
