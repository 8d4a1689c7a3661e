#include "common/fhir/datetime.h"

#include <cctype>

#include "absl/strings/str_cat.h"

namespace hie::fhir {
namespace {

// Reads exactly `n` digits at `pos`, advancing it.
bool Digits(absl::string_view s, size_t& pos, int n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  *out = v;
  return true;
}

bool Expect(absl::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

absl::Status Bad(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("\"", text, "\" is not a FHIR date/dateTime: ", why));
}

}  // namespace

absl::StatusOr<TimeRange> ParseDateTime(absl::string_view text) {
  size_t pos = 0;
  int year = 0, month = 1, day = 1;
  if (!Digits(text, pos, 4, &year)) return Bad(text, "expected a four-digit year");
  if (year < 1) return Bad(text, "year must be at least 0001");
  absl::CivilSecond begin;
  absl::CivilSecond end;
  if (pos == text.size()) {
    begin = absl::CivilYear(year);
    end = absl::CivilYear(year + 1);
    return TimeRange{absl::FromCivil(begin, absl::UTCTimeZone()),
                     absl::FromCivil(end, absl::UTCTimeZone())};
  }
  if (!Expect(text, pos, '-') || !Digits(text, pos, 2, &month)) {
    return Bad(text, "expected -MM after the year");
  }
  if (month < 1 || month > 12) return Bad(text, "month must be 01-12");
  if (pos == text.size()) {
    absl::CivilMonth m(year, month);
    return TimeRange{absl::FromCivil(m, absl::UTCTimeZone()),
                     absl::FromCivil(m + 1, absl::UTCTimeZone())};
  }
  if (!Expect(text, pos, '-') || !Digits(text, pos, 2, &day)) {
    return Bad(text, "expected -DD after the month");
  }
  if (day < 1 || day > DaysInMonth(year, month)) return Bad(text, "no such day in that month");
  if (pos == text.size()) {
    absl::CivilDay d(year, month, day);
    return TimeRange{absl::FromCivil(d, absl::UTCTimeZone()),
                     absl::FromCivil(d + 1, absl::UTCTimeZone())};
  }
  int hour = 0, minute = 0, second = 0;
  if (!Expect(text, pos, 'T') || !Digits(text, pos, 2, &hour) || !Expect(text, pos, ':') ||
      !Digits(text, pos, 2, &minute) || !Expect(text, pos, ':') || !Digits(text, pos, 2, &second)) {
    return Bad(text, "expected Thh:mm:ss after the date");
  }
  if (hour > 23 || minute > 59 || second > 59) return Bad(text, "time out of range");
  absl::Duration fraction;
  absl::Duration precision = absl::Seconds(1);
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t nanos = 0;
    int scale = 100000000;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (scale > 0) nanos += (text[pos] - '0') * static_cast<int64_t>(scale);
      scale /= 10;
      ++pos;
    }
    if (pos == start) return Bad(text, "expected digits after the decimal point");
    fraction = absl::Nanoseconds(nanos);
    precision = absl::Milliseconds(1);
  }
  if (pos >= text.size()) return Bad(text, "a time needs a zone (Z or +hh:mm)");
  int offset_minutes = 0;
  if (text[pos] == 'Z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!Digits(text, pos, 2, &oh) || !Expect(text, pos, ':') || !Digits(text, pos, 2, &om)) {
      return Bad(text, "zone must be Z or (+|-)hh:mm");
    }
    if (oh > 14 || om > 59) return Bad(text, "zone offset out of range");
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return Bad(text, "zone must be Z or (+|-)hh:mm");
  }
  if (pos != text.size()) return Bad(text, "unexpected characters after the zone");
  absl::Time t = absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, second),
                                 absl::UTCTimeZone()) -
                 absl::Minutes(offset_minutes) + fraction;
  return TimeRange{t, t + precision};
}

bool Period::Contains(absl::Time t) const { return t >= Begin() && t < End(); }

std::string FormatInstant(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace hie::fhir
