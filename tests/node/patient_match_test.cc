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
      hie::v1::SearchPatientsRequest request,
      ParseMatchParameters(
          R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"Oyelaran","given":["Jane"]}],"birthDate":"1984-06-02"}},{"name":"onlyCertainMatches","valueBoolean":true},{"name":"count","valueInteger":3}]})"));
  EXPECT_EQ(request.max_results(), 3);
  EXPECT_EQ(request.min_grade(), hie::v1::MATCH_GRADE_CERTAIN);
  ASSERT_EQ(request.demographics().names_size(), 1);
  EXPECT_EQ(request.demographics().names(0).family(), "Oyelaran");
  EXPECT_EQ(request.demographics().birth_date().year(), 1984);

  ASSERT_OK_AND_ASSIGN(
      request,
      ParseMatchParameters(
          R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"Oyelaran"}]}}]})"));
  EXPECT_EQ(request.max_results(), 10);
  EXPECT_EQ(request.min_grade(), hie::v1::MATCH_GRADE_POSSIBLE);
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
  hie::v1::SearchPatientsResponse response;
  auto* c = response.add_candidates();
  c->set_euid("E-1");
  c->set_grade(hie::v1::MATCH_GRADE_PROBABLE);
  c->set_score(17.5);  // never shown to a practice
  auto* name = c->mutable_demographics()->add_names();
  name->set_family("Oyelaran");
  name->add_given("Jane");
  c->mutable_demographics()->mutable_birth_date()->set_year(1984);
  c->mutable_demographics()->mutable_birth_date()->set_month(6);
  std::string bundle = MatchBundle(response);
  EXPECT_THAT(bundle,
              AllOf(HasSubstr("\"type\": \"searchset\""), HasSubstr("\"total\": 1"),
                    HasSubstr("\"system\": \"urn:hie:euid\", \"value\": \"E-1\""),
                    HasSubstr("\"valueCode\": \"probable\""), HasSubstr("\"score\": 0.7"),
                    HasSubstr("\"birthDate\": \"1984-06\""), HasSubstr("\"mode\": \"match\"")));
  EXPECT_THAT(bundle, ::testing::Not(HasSubstr("17.5")));
}

}  // namespace
}  // namespace hie::node
