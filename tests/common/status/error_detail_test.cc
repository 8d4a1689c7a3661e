#include "common/status/error_detail.h"

#include "gtest/gtest.h"

namespace hie {
namespace {

TEST(ErrorDetailTest, DetailRoundTripsWithItsViolations) {
  absl::Status s =
      InvalidResource({{"Consent.status", "is required"}, {"Consent.dateTime", "bad"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "Consent.status: is required (and 1 more)");
  auto detail = GetErrorDetail(s);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->reason(), hie::v1::ERROR_REASON_INVALID_RESOURCE);
  ASSERT_EQ(detail->field_violations_size(), 2);
  EXPECT_EQ(detail->field_violations(1).field(), "Consent.dateTime");
  EXPECT_FALSE(GetErrorDetail(absl::InternalError("plain")).has_value());
  EXPECT_TRUE(WithReason(absl::OkStatus(), hie::v1::ERROR_REASON_TOO_LARGE).ok());
}

// Messages may quote what a peer sent; the detail must stay parseable (proto3 strings are
// UTF-8), so invalid bytes are replaced and valid non-ASCII text is kept.
TEST(ErrorDetailTest, InvalidUtf8FromAPeerNeverMakesTheDetailUnreadable) {
  std::string quoted = "key \xff\xfe\xc0\xaf unknown; José \xed\xa0\x80 \xf4\x90\x80\x80 ok";
  absl::Status s = InvalidResource({{quoted, quoted}});
  auto detail = GetErrorDetail(s);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->field_violations(0).field(), "key ???? unknown; José ??? ???? ok");
}

}  // namespace
}  // namespace hie
