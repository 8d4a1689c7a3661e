// FHIR R4 date, dateTime and instant values as time ranges.
//
// A FHIR value is as precise as it is written: "2016" means the whole year, "2016-05"
// the month, "2016-05-11" the day (taken in UTC, as a date has no zone), and a full
// dateTime one second (or one millisecond with a fraction). Comparisons of periods and
// of "now" against them use these ranges, so that a period ending "2016-01-01" covers
// that whole day, as FHIR's Period.end does.
#ifndef HIE_COMMON_FHIR_DATETIME_H_
#define HIE_COMMON_FHIR_DATETIME_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hie::fhir {

// [begin, end) of a FHIR date/dateTime value.
struct TimeRange {
  absl::Time begin;
  absl::Time end;
};

// Parses YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.f+](Z|(+|-)hh:mm), checking
// every component's range (Feb 29 only in leap years). A time needs its zone, as FHIR
// requires. Errors: InvalidArgument saying what is wrong (without a path: the caller
// knows where the value came from).
absl::StatusOr<TimeRange> ParseDateTime(absl::string_view text);

// A FHIR Period with optional bounds: an unset start is the infinite past, an unset end
// the infinite future.
struct Period {
  std::optional<TimeRange> start;
  std::optional<TimeRange> end;

  // True if instant `t` lies within the period: at or after the start value's beginning
  // and before the end value's end.
  bool Contains(absl::Time t) const;
  // The period as a half-open interval of instants.
  absl::Time Begin() const { return start ? start->begin : absl::InfinitePast(); }
  absl::Time End() const { return end ? end->end : absl::InfiniteFuture(); }
};

// RFC 3339 in UTC with seconds ("2026-11-25T10:00:00Z"), as FHIR instants are written.
std::string FormatInstant(absl::Time t);

}  // namespace hie::fhir

#endif  // HIE_COMMON_FHIR_DATETIME_H_
