// FHIR date search prefixes against targets of every precision.
#include "common/fhir/date_search.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::fhir {
namespace {

using ::hie::testing::StatusIs;

bool Match(const char* param, const char* target) {
  absl::StatusOr<DateParam> p = ParseDateParam(param);
  absl::StatusOr<TimeRange> t = ParseDateTime(target);
  EXPECT_TRUE(p.ok() && t.ok()) << param << " " << target;
  return p.ok() && t.ok() && p->Matches(*t);
}

TEST(DateSearchTest, PrefixesFollowTheSpecification) {
  // eq (the default): the value's range contains the target's.
  EXPECT_TRUE(Match("2025-03", "2025-03-14"));
  EXPECT_TRUE(Match("eq2025-03", "2025-03-14T10:00:00Z"));
  EXPECT_FALSE(Match("2025-03-14", "2025-03"));  // the month is wider than the day
  EXPECT_FALSE(Match("2025-03", "2025-04-01"));
  EXPECT_TRUE(Match("ne2025-03", "2025-04-01"));
  // gt / lt: the target reaches past, or starts before, the value's range.
  EXPECT_TRUE(Match("gt2025-03", "2025-04-01"));
  EXPECT_FALSE(Match("gt2025-03", "2025-03-31"));
  EXPECT_TRUE(Match("lt2025-03", "2025-02-28"));
  EXPECT_FALSE(Match("lt2025-03", "2025-03-01"));
  // ge / le include the value's own range.
  EXPECT_TRUE(Match("ge2025-03-14", "2025-03-14T23:59:59Z"));
  EXPECT_FALSE(Match("ge2025-03-14", "2025-03-13T23:59:59Z"));
  EXPECT_TRUE(Match("le2025-03-14", "2025-03-14T00:00:00Z"));
  EXPECT_FALSE(Match("le2025-03-14", "2025-03-15"));
  // sa / eb: wholly after, wholly before.
  EXPECT_TRUE(Match("sa2025", "2026-01-01"));
  EXPECT_FALSE(Match("sa2025", "2025-12-31"));
  EXPECT_TRUE(Match("eb2025", "2024-12-31"));
  EXPECT_FALSE(Match("eb2025", "2025"));
}

TEST(DateSearchTest, UnsupportedPrefixesAndBadDatesAreRefused) {
  EXPECT_THAT(ParseDateParam("ap2025"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                 ::testing::HasSubstr("ap (approximately)")));
  EXPECT_THAT(ParseDateParam("ge2025-13"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseDateParam("yesterday"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace hie::fhir
