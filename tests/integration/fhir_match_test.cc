// POST /Patient/$match on a real node, answered by a real MPI: a practice looks for a
// patient new to it and finds the exchange's person, graded, with no holder named.
#include <fstream>

#include "absl/strings/str_cat.h"
#include "cli/https_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fhir_fixture.h"

namespace hie::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class FhirMatchTest : public FhirApiFixture {};

std::string MatchParameters(const std::string& patient, const std::string& more = "") {
  return absl::StrCat(R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":)",
                      patient, "}", more, "]}");
}

constexpr char kJane[] =
    R"({"resourceType":"Patient","name":[{"family":"Oyelaran","given":["Jane"]}],"gender":"female","birthDate":"1984-06-02","address":[{"line":["12 Main Street"],"city":"Springfield","postalCode":"62701"}]})";

TEST_F(FhirMatchTest, FindsTheExchangesPersonWithItsGradeAndNoHolder) {
  int mpi = StartMpiAndConsent();
  ASSERT_GT(mpi, 0);
  Enroll(mpi, "org-a");
  Enroll(mpi, "org-b", "127.0.0.1:1");
  hie::v1::RegisterPatientResponse registered;
  ASSERT_TRUE(Register(MpiAs("node-b", mpi).get(), "B1", Jane(), &registered).ok());
  const std::string euid = registered.euid();
  ASSERT_FALSE(euid.empty());

  int port = StartNodeWithApi();
  ASSERT_GT(port, 0);
  std::string client = AddClient(port, "emr", "system/Patient.rs");
  CommandResult token = Token(client, "emr", {"--scope", "system/Patient.rs"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  std::string bearer = Trim(token.out);

  cli::HttpsResponse found = Send("POST", "/Patient/$match", MatchParameters(kJane), bearer);
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_THAT(found.body, AllOf(HasSubstr("\"type\": \"searchset\""), HasSubstr(euid),
                                HasSubstr("\"valueCode\": \"certain\""), HasSubstr("\"score\": 1"),
                                HasSubstr("http://hl7.org/fhir/StructureDefinition/match-grade"),
                                HasSubstr("Oyelaran")));
  // Where the person was treated is not told.
  EXPECT_THAT(found.body,
              AllOf(Not(HasSubstr("org-b")), Not(HasSubstr("B1")), Not(HasSubstr("Main Street"))));

  // A namesake born on another day is at most possible: onlyCertainMatches leaves it out.
  std::string namesake =
      R"({"resourceType":"Patient","name":[{"family":"Oyelaran","given":["Jane"]}],"birthDate":"1961-01-30"})";
  cli::HttpsResponse certain_only = Send(
      "POST", "/Patient/$match",
      MatchParameters(namesake, R"(,{"name":"onlyCertainMatches","valueBoolean":true})"), bearer);
  ASSERT_EQ(certain_only.status, 200) << certain_only.body;
  EXPECT_THAT(certain_only.body, Not(HasSubstr(euid)));

  // Refusals: not Parameters, no name, a count out of range, a token without the scope.
  EXPECT_EQ(Send("POST", "/Patient/$match", kJane, bearer).status, 400);
  cli::HttpsResponse unnamed =
      Send("POST", "/Patient/$match",
           MatchParameters(R"({"resourceType":"Patient","birthDate":"1984-06-02"})"), bearer);
  EXPECT_EQ(unnamed.status, 400);
  EXPECT_THAT(unnamed.body, HasSubstr("needs a name"));
  EXPECT_EQ(Send("POST", "/Patient/$match",
                 MatchParameters(kJane, R"(,{"name":"count","valueInteger":0})"), bearer)
                .status,
            400);
  std::string labs = AddClient(port, "labs", "system/Observation.rs");
  CommandResult narrow = Token(labs, "labs", {"--scope", "system/Observation.rs"});
  ASSERT_EQ(narrow.exit_code, 0) << narrow.err;
  EXPECT_EQ(Send("POST", "/Patient/$match", MatchParameters(kJane), Trim(narrow.out)).status, 403);

  // /metadata lists the operation.
  EXPECT_THAT(Get("/metadata").body, HasSubstr("Patient-match"));

  // The MPI down: 503, and the node says nothing of why.
  ASSERT_TRUE(processes_.at("mpi").Stop(SIGTERM, absl::Seconds(10)).ok());
  cli::HttpsResponse down = Send("POST", "/Patient/$match", MatchParameters(kJane), bearer);
  EXPECT_EQ(down.status, 503) << down.body;
}

}  // namespace
}  // namespace hie::testing
