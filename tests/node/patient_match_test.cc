// $match's input and output without an MPI: the Parameters a client sends, and the
// searchset Bundle the MPI's candidates become.
#include "node/domain/patient_match.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::node {
namespace {

using ::hie::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(PatientMatchTest, ParametersBecomeASearch) {
  ASSERT_OK_AND_ASSIGN(
      MatchQuery request,
      ParseMatchParameters(
          R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"Oyelaran","given":["Jane"]}],"birthDate":"1984-06-02"}},{"name":"onlyCertainMatches","valueBoolean":true},{"name":"count","valueInteger":3}]})"));
  EXPECT_EQ(request.count, 3);
  EXPECT_TRUE(request.only_certain);
  ASSERT_EQ(request.demographics.names_size(), 1);
  EXPECT_EQ(request.demographics.names(0).family(), "Oyelaran");
  EXPECT_EQ(request.demographics.birth_date().year(), 1984);

  ASSERT_OK_AND_ASSIGN(
      request,
      ParseMatchParameters(
          R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"Oyelaran"}]}}]})"));
  EXPECT_EQ(request.count, 10);
  EXPECT_FALSE(request.only_certain);
}

TEST(PatientMatchTest, WhatCannotBeSearchedIsRefusedWithItsPlace) {
  EXPECT_THAT(ParseMatchParameters("{"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JSON")));
  EXPECT_THAT(ParseMatchParameters(R"({"resourceType":"Patient"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Parameters")));
  EXPECT_THAT(ParseMatchParameters(R"({"resourceType":"Parameters","parameter":[]})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"resource\"")));
  EXPECT_THAT(
      ParseMatchParameters(
          R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","birthDate":"1984-06-02"}}]})"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("parameter[0].resource needs a name")));
  EXPECT_THAT(
      ParseMatchParameters(
          R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"X"}]}},{"name":"count","valueInteger":101}]})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parameter[1].valueInteger")));
  EXPECT_THAT(
      ParseMatchParameters(
          R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"X"}]}},{"name":"holder","valueString":"org-b"}]})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"holder\" is not a parameter")));
}

TEST(PatientMatchTest, CandidatesBecomeASearchsetWithGradeAndScore) {
  MatchCandidate candidate{.euid = "E-1", .grade = hie::v1::MATCH_GRADE_PROBABLE};
  MatchCandidate* c = &candidate;
  auto* name = c->shown.add_names();
  name->set_family("Oyelaran");
  name->add_given("Jane");
  c->shown.mutable_birth_date()->set_year(1984);
  c->shown.mutable_birth_date()->set_month(6);
  std::string bundle = MatchBundle({candidate});
  EXPECT_THAT(bundle,
              AllOf(HasSubstr("\"type\": \"searchset\""), HasSubstr("\"total\": 1"),
                    HasSubstr("\"system\": \"urn:hie:euid\", \"value\": \"E-1\""),
                    HasSubstr("\"valueCode\": \"probable\""), HasSubstr("\"score\": 0.7"),
                    HasSubstr("\"birthDate\": \"1984-06\""), HasSubstr("\"mode\": \"match\"")));
}

}  // namespace
}  // namespace hie::node
