#include "common/fhir/date_search.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace hie::fhir {

bool DateParam::Matches(const TimeRange& target) const {
  const bool eq = target.begin >= value.begin && target.end <= value.end;
  const bool gt = target.end > value.end;
  const bool lt = target.begin < value.begin;
  if (prefix == "eq") return eq;
  if (prefix == "ne") return !eq;
  if (prefix == "gt") return gt;
  if (prefix == "lt") return lt;
  if (prefix == "ge") return gt || eq;
  if (prefix == "le") return lt || eq;
  if (prefix == "sa") return target.begin >= value.end;
  if (prefix == "eb") return target.end <= value.begin;
  return false;
}

absl::StatusOr<TimeRange> ParseSearchDate(absl::string_view text) {
  const size_t t = text.find('T');
  if (t == absl::string_view::npos) return ParseDateTime(text);
  absl::string_view time = text.substr(t + 1);
  const size_t zone = time.find_first_of("Z+-");
  std::string clock(time.substr(0, zone));
  const std::string tz(zone == absl::string_view::npos ? "Z" : time.substr(zone));
  const bool minutes = clock.size() == 5;
  if (minutes) clock += ":00";
  absl::StatusOr<TimeRange> range = ParseDateTime(absl::StrCat(text.substr(0, t), "T", clock, tz));
  if (range.ok() && minutes) range->end = range->begin + absl::Minutes(1);
  return range;
}

absl::StatusOr<DateParam> ParseDateParam(absl::string_view text) {
  DateParam param;
  param.prefix = "eq";
  if (text.size() >= 2 && absl::ascii_isalpha(text[0]) && absl::ascii_isalpha(text[1])) {
    param.prefix = std::string(text.substr(0, 2));
    text.remove_prefix(2);
    static constexpr absl::string_view kPrefixes[] = {"eq", "ne", "gt", "lt",
                                                      "ge", "le", "sa", "eb"};
    bool known = false;
    for (absl::string_view p : kPrefixes) known = known || p == param.prefix;
    if (param.prefix == "ap") {
      return absl::InvalidArgumentError("the prefix ap (approximately) is not supported");
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat("unknown prefix \"", param.prefix,
                                                     "\": use eq, ne, gt, lt, ge, le, sa or eb"));
    }
  }
  absl::StatusOr<TimeRange> range = ParseSearchDate(text);
  if (!range.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a date (YYYY, YYYY-MM, YYYY-MM-DD or "
                     "YYYY-MM-DDThh:mm[:ss][Z|+hh:mm]): ",
                     range.status().message()));
  }
  param.value = *range;
  return param;
}

}  // namespace hie::fhir
