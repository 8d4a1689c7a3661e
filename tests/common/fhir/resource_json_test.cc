#include "common/fhir/resource_json.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace hie::fhir {
namespace {

using ::hie::testing::StatusIs;

TEST(SetMembersTest, ReplacesInPlaceAndAddsAfterResourceType) {
  ASSERT_OK_AND_ASSIGN(
      std::string out,
      SetMembers(R"({ "resourceType": "Consent", "status": "active", "x": [1, {"y": null}] })",
                 {{"status", "\"inactive\""}, {"id", "\"c1\""}}));
  EXPECT_EQ(out, R"({"resourceType":"Consent","id":"c1","status":"inactive","x":[1,{"y":null}]})");
}

TEST(SetMembersTest, AddsFirstWithoutResourceTypeAndRefusesNonObjects) {
  ASSERT_OK_AND_ASSIGN(std::string out, SetMembers(R"({"a":1})", {{"id", "\"x\""}}));
  EXPECT_EQ(out, R"({"id":"x","a":1})");
  EXPECT_THAT(SetMembers("[1]", {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SetMembers("{", {}), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Found by json_fuzz: a repeated resourceType used to get the added members after each.
TEST(SetMembersTest, AddsOnceWhenResourceTypeRepeats) {
  ASSERT_OK_AND_ASSIGN(std::string out,
                       SetMembers(R"({"resourceType":"A","resourceType":"B"})", {{"id", "\"x\""}}));
  EXPECT_EQ(out, R"({"resourceType":"A","id":"x","resourceType":"B"})");
}

}  // namespace
}  // namespace hie::fhir
