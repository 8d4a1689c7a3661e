#include "common/fhir/datetime.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace hie::fhir {
namespace {

using ::hie::testing::StatusIs;

absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

TEST(ParseDateTimeTest, EachPrecisionCoversItsWholeUnit) {
  ASSERT_OK_AND_ASSIGN(TimeRange year, ParseDateTime("2016"));
  EXPECT_EQ(year.begin, Utc(2016, 1, 1));
  EXPECT_EQ(year.end, Utc(2017, 1, 1));
  ASSERT_OK_AND_ASSIGN(TimeRange month, ParseDateTime("2016-12"));
  EXPECT_EQ(month.end, Utc(2017, 1, 1));
  ASSERT_OK_AND_ASSIGN(TimeRange day, ParseDateTime("2016-02-29"));
  EXPECT_EQ(day.begin, Utc(2016, 2, 29));
  EXPECT_EQ(day.end, Utc(2016, 3, 1));
  ASSERT_OK_AND_ASSIGN(TimeRange second, ParseDateTime("2016-06-23T17:02:33+10:00"));
  EXPECT_EQ(second.begin, Utc(2016, 6, 23, 7, 2, 33));
  EXPECT_EQ(second.end - second.begin, absl::Seconds(1));
  ASSERT_OK_AND_ASSIGN(TimeRange millis, ParseDateTime("2016-06-23T07:02:33.250Z"));
  EXPECT_EQ(millis.begin, Utc(2016, 6, 23, 7, 2, 33) + absl::Milliseconds(250));
}

TEST(ParseDateTimeTest, RefusesWhatFhirRefuses) {
  for (const char* bad : {"", "16", "2016-1", "2016-13", "2015-02-29", "2016-04-31",
                          "2016-01-01T10:00", "2016-01-01T10:00:00", "2016-01-01T24:00:00Z",
                          "2016-01-01T10:00:00+1000", "2016-01-01 10:00:00Z", "2016-01-01Tx",
                          "2016-01-01T10:00:00.Z", "2016-01-01T10:00:00Zjunk", "0000"}) {
    EXPECT_THAT(ParseDateTime(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(PeriodTest, EndCoversItsWholeDayAndOpenBoundsAreInfinite) {
  Period period;
  period.end = *ParseDateTime("2016-01-01");
  EXPECT_TRUE(period.Contains(Utc(1900, 1, 1)));
  EXPECT_TRUE(period.Contains(Utc(2016, 1, 1, 23, 59, 59)));
  EXPECT_FALSE(period.Contains(Utc(2016, 1, 2)));
  period.start = *ParseDateTime("2015-06");
  EXPECT_FALSE(period.Contains(Utc(2015, 5, 31, 23, 59, 59)));
  EXPECT_EQ(FormatInstant(Utc(2026, 11, 25, 10, 0, 0)), "2026-11-25T10:00:00Z");
}

}  // namespace
}  // namespace hie::fhir
