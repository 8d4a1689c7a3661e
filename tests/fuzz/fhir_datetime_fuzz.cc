// FHIR date, dateTime and instant values from outside (Consent periods, clinical dates,
// query filters). The input is one value, or two separated by a slash as a Period.
// Properties checked: a value is refused with InvalidArgument or becomes a non-empty
// range whose width is one of the precisions FHIR allows; a whole-second instant
// written back by FormatInstant parses to the same instant; a Period contains its own
// beginning exactly when it is not empty.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fhir/datetime.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckValue(absl::string_view text, std::optional<hie::fhir::TimeRange>* out) {
  auto range = hie::fhir::ParseDateTime(text);
  if (!range.ok()) {
    Check(absl::IsInvalidArgument(range.status()) && !range.status().message().empty());
    return;
  }
  absl::Duration width = range->end - range->begin;
  Check(width == absl::Milliseconds(1) || width == absl::Seconds(1) || width == absl::Hours(24) ||
        (width >= absl::Hours(24 * 28) && width <= absl::Hours(24 * 31)) ||
        width == absl::Hours(24 * 365) || width == absl::Hours(24 * 366));
  std::string written = hie::fhir::FormatInstant(range->begin);
  // Years 0001-9999 only: a zone offset can move an instant out of them.
  if (written.size() == 20 && written.compare(0, 4, "0000") != 0) {
    auto back = hie::fhir::ParseDateTime(written);
    Check(back.ok() && back->begin == absl::FromUnixSeconds(absl::ToUnixSeconds(range->begin)));
  }
  *out = *range;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256) return 0;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  size_t slash = text.find('/');
  hie::fhir::Period period;
  CheckValue(text.substr(0, slash), &period.start);
  if (slash != absl::string_view::npos) CheckValue(text.substr(slash + 1), &period.end);
  Check(period.Contains(period.Begin()) == (period.Begin() < period.End()) ||
        period.Begin() == absl::InfinitePast());
  return 0;
}
