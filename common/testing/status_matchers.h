// gMock matchers for absl::Status and absl::StatusOr (test-only).
//
//   EXPECT_THAT(DoIt(), IsOk());
//   EXPECT_THAT(GetIt(), IsOkAndHolds("value"));
//   EXPECT_THAT(DoIt(), StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(DoIt(), StatusIs(absl::StatusCode::kNotFound, HasSubstr("org-a")));
//   ASSERT_OK_AND_ASSIGN(auto value, MakeIt());
#ifndef HIE_COMMON_TESTING_STATUS_MATCHERS_H_
#define HIE_COMMON_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = ::hie::testing::GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status;
  return status.ok();
}

MATCHER_P(StatusIs, code, "has status code " + ::testing::PrintToString(code)) {
  const absl::Status& status = ::hie::testing::GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has status code " + ::testing::PrintToString(code) + " and a matching message") {
  const absl::Status& status = ::hie::testing::GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace hie::testing

#define HIE_TESTING_CONCAT_INNER_(a, b) a##b
#define HIE_TESTING_CONCAT_(a, b) HIE_TESTING_CONCAT_INNER_(a, b)

#define ASSERT_OK(expr) ASSERT_THAT((expr), ::hie::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::hie::testing::IsOk())

#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(HIE_TESTING_CONCAT_(hie_test_statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr)            \
  auto statusor = (expr);                                          \
  ASSERT_TRUE(statusor.ok()) << "status is " << statusor.status(); \
  lhs = std::move(statusor).value()

#endif  // HIE_COMMON_TESTING_STATUS_MATCHERS_H_
