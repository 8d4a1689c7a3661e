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
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "date prefix \"", param.prefix, "\" is not supported (eq, ne, gt, lt, ge, le, sa, eb)"));
    }
  }
  absl::StatusOr<TimeRange> range = ParseDateTime(text);
  if (!range.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a FHIR date: ", range.status().message()));
  }
  param.value = *range;
  return param;
}

}  // namespace hie::fhir
