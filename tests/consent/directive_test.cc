#include "consent/domain/directive.h"

#include <fstream>
#include <sstream>
#include <string>

#include "common/status/error_detail.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/consent/consent_json.h"

namespace hie::consent {
namespace {

using namespace ::hie::consent::testing;  // NOLINT
using ::testing::HasSubstr;

// The first violation's path, or "" if the resource parsed.
std::string FirstViolation(const std::string& json) {
  absl::StatusOr<ConsentDirective> parsed = ParseConsent(json);
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  std::optional<hie::v1::ErrorDetail> detail = GetErrorDetail(parsed.status());
  EXPECT_TRUE(detail.has_value());
  if (!detail || detail->field_violations().empty()) return "(no violations)";
  EXPECT_EQ(detail->reason(), hie::v1::ERROR_REASON_INVALID_RESOURCE);
  return detail->field_violations(0).field();
}

TEST(ParseConsentTest, ReadsProvisionsWithPaths) {
  ASSERT_OK_AND_ASSIGN(
      ConsentDirective d,
      ParseConsent(Consent(
          "c1", "2025-01-01T10:00:00Z",
          ProvisionJson(
              "deny", {},
              {ProvisionJson("permit", {Actors({OrgActor("org-b"), OrgActor("org-x", "CST")}),
                                        Purposes({"TREAT"})}),
               ProvisionJson("", {Labels({"PSY"})})}))));
  EXPECT_EQ(d.id, "c1");
  EXPECT_EQ(d.status, "active");
  EXPECT_EQ(d.date_time,
            absl::FromCivil(absl::CivilSecond(2025, 1, 1, 10, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(d.provision.type, ProvisionType::kDeny);
  ASSERT_EQ(d.provision.provisions.size(), 2u);
  const consent::Provision& first = d.provision.provisions[0];
  EXPECT_EQ(first.path, "Consent.provision.provision[0]");
  EXPECT_EQ(first.depth, 1);
  EXPECT_EQ(first.recipient_orgs, std::vector<std::string>{"org-b"});
  EXPECT_EQ(first.custodian_orgs, std::vector<std::string>{"org-x"});
  EXPECT_EQ(first.purposes, std::vector<std::string>{"TREAT"});
  EXPECT_EQ(d.provision.provisions[1].type, ProvisionType::kPermit);  // exception to a deny
  EXPECT_EQ(d.provision.provisions[1].security_labels, std::vector<std::string>{"PSY"});
}

TEST(ParseConsentTest, RefusesWithExactPaths) {
  EXPECT_EQ(FirstViolation("not json"), "Consent");
  EXPECT_EQ(FirstViolation(R"({"resourceType":"Patient"})"), "Consent.resourceType");
  EXPECT_EQ(FirstViolation(Consent("c1", "2025-01-01", ProvisionJson("maybe", {}))),
            "Consent.provision.type");
  EXPECT_EQ(FirstViolation(Consent("c1", "2025-01-01", ProvisionJson("permit", {}), "happy")),
            "Consent.status");
  EXPECT_EQ(FirstViolation(Consent("c1", "2025-13-01", ProvisionJson("permit", {}))),
            "Consent.dateTime");
  EXPECT_EQ(FirstViolation(
                Consent("c1", "2025-01-01",
                        ProvisionJson("permit", {},
                                      {ProvisionJson("deny", {}),
                                       ProvisionJson("deny", {Purposes({"TREAT", "SHOPPING"})})}))),
            "Consent.provision.provision[1].purpose[1].code");
  EXPECT_EQ(FirstViolation(
                Consent("c1", "2025-01-01",
                        ProvisionJson("permit", {}, {ProvisionJson("deny", {Labels({"XYZ"})})}))),
            "Consent.provision.provision[0].securityLabel[0].code");
  EXPECT_EQ(
      FirstViolation(Consent(
          "c1", "2025-01-01",
          ProvisionJson("permit", {},
                        {ProvisionJson("deny", {PeriodMember("period", "2020-02-30", "")})}))),
      "Consent.provision.provision[0].period.start");
  EXPECT_EQ(FirstViolation(Consent(
                "c1", "2025-01-01",
                ProvisionJson("permit", {},
                              {ProvisionJson("deny", {PeriodMember("period", "2021", "2020")})}))),
            "Consent.provision.provision[0].period");
  EXPECT_EQ(FirstViolation(Consent(
                "c1", "2025-01-01",
                ProvisionJson("permit", {},
                              {ProvisionJson("deny", {Actors({OrgActor("Not An Org")})})}))),
            "Consent.provision.provision[0].actor[0].reference.reference");
  EXPECT_EQ(FirstViolation(Consent("c1", "2025-01-01", ProvisionJson("permit", {Labels({"ETH"})}))),
            "Consent.provision.securityLabel");
  EXPECT_EQ(
      FirstViolation(Consent(
          "c1", "2025-01-01",
          ProvisionJson("permit", {},
                        {ProvisionJson("permit", {PeriodMember("dataPeriod", "2019", "")})}))),
      "Consent.provision.provision[0].dataPeriod");
  EXPECT_EQ(FirstViolation(Consent(
                "c1", "2025-01-01",
                ProvisionJson("permit", {},
                              {ProvisionJson("deny", {R"("class":[{"code":"Observation"}])"})}))),
            "Consent.provision.provision[0].class");
  EXPECT_EQ(FirstViolation(Consent("c1", "2025-01-01",
                                   ProvisionJson("permit", {R"("modifierExtension":[{}])"}))),
            "Consent.provision.modifierExtension");
  // No type and no policyRule to take it from.
  EXPECT_EQ(FirstViolation(Consent("c1", "2025-01-01", "{}")), "Consent.provision.type");
  // No dateTime: the "most recent governs" rule needs it.
  EXPECT_EQ(
      FirstViolation(
          R"({"resourceType":"Consent","status":"active","scope":{"coding":[{"code":"patient-privacy"}]},"provision":{"type":"permit"}})"),
      "Consent.dateTime");
  EXPECT_EQ(
      FirstViolation(
          R"({"resourceType":"Consent","status":"active","scope":{"coding":[{"code":"research"}]},"dateTime":"2025","provision":{"type":"permit"}})"),
      "Consent.scope");
}

TEST(ParseConsentTest, ReportsEveryViolationNotJustTheFirst) {
  absl::StatusOr<ConsentDirective> parsed =
      ParseConsent(Consent("c1", "2025-01-01",
                           ProvisionJson("permit", {},
                                         {ProvisionJson("deny", {Purposes({"NOPE"})}),
                                          ProvisionJson("deny", {Labels({"NOPE"})})})));
  ASSERT_FALSE(parsed.ok());
  auto detail = GetErrorDetail(parsed.status());
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->field_violations_size(), 2);
  EXPECT_THAT(parsed.status().message(), HasSubstr("(and 1 more)"));
}

TEST(ParseConsentTest, RefusesOversizedAndTooDeep) {
  std::string big = Consent("c1", "2025-01-01", ProvisionJson("permit", {}));
  big.insert(1, std::string(kMaxConsentBytes, ' '));
  EXPECT_EQ(FirstViolation(big), "Consent");
  std::string nested = ProvisionJson("deny", {});
  for (int i = 0; i < kMaxProvisionDepth + 1; ++i) nested = ProvisionJson("", {}, {nested});
  EXPECT_THAT(FirstViolation(Consent("c1", "2025-01-01", ProvisionJson("permit", {}, {nested}))),
              HasSubstr(".provision"));
}

// The official FHIR R4 examples: the ones we support parse; the rest are refused with a
// path, never half-read.
TEST(ParseConsentTest, OfficialExamples) {
  const char* dir = std::getenv("HIE_SOURCE_DIR");
  std::string base =
      std::string(dir ? dir : HIE_TEST_SOURCE_DIR) + "/../shared/data/fhir/examples/";
  std::ifstream probe(base + "Consent-consent-example-notOrg.json");
  if (!probe) GTEST_SKIP() << "shared FHIR examples not present";
  auto read = [&](const std::string& name) {
    std::ifstream in(base + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  ASSERT_OK_AND_ASSIGN(ConsentDirective not_org,
                       ParseConsent(read("Consent-consent-example-notOrg.json")));
  EXPECT_EQ(not_org.provision.type, ProvisionType::kDeny);
  EXPECT_EQ(not_org.provision.recipient_orgs, std::vector<std::string>{"f001"});
  ASSERT_OK_AND_ASSIGN(ConsentDirective out,
                       ParseConsent(read("Consent-consent-example-Out.json")));
  EXPECT_EQ(out.provision.type, ProvisionType::kDeny);  // from policyRule OPTOUT
  EXPECT_EQ(out.provision.custodian_orgs, std::vector<std::string>{"f001"});
  ASSERT_OK_AND_ASSIGN(ConsentDirective basic,
                       ParseConsent(read("Consent-consent-example-basic.json")));
  EXPECT_EQ(basic.provision.type, ProvisionType::kPermit);  // OPTIN
  EXPECT_EQ(FirstViolation(read("Consent-consent-example-notThis.json")), "Consent.provision.data");
  EXPECT_EQ(FirstViolation(read("Consent-consent-example-notThem.json")),
            "Consent.provision.actor[0].reference.reference");
}

}  // namespace
}  // namespace hie::consent
