// The decision table: each row a request, the patient's directives and the policy, and
// the decision FHIR Consent semantics (DESIGN.md "Consent semantics") demand.
#include "consent/domain/engine.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/testing/status_matchers.h"
#include "consent/domain/directive.h"
#include "consent/domain/policy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/consent/consent_json.h"

namespace hie::consent {
namespace {

using namespace ::hie::consent::testing;  // NOLINT: the builders read as a table
using ::testing::ElementsAreArray;

struct Case {
  std::string name;
  std::vector<std::string> consents;
  std::string purpose = "TREAT";
  std::string requester = "org-b";
  std::string holder = "org-h";
  std::string reason;  // break-the-glass reason
  std::string user_role = "physician";
  std::string user_npi;
  std::function<void(Policy&)> policy = [](Policy&) {};
  bool permit = false;
  std::vector<std::string> withheld;
  bool break_glass = false;
  // Optional extra check on the decision.
  std::function<void(const Decision&)> check = [](const Decision&) {};
};

void OptIn(Policy& p) { p.model = Model::kOptIn; }
void NoBreakGlass(Policy& p) { p.break_glass_allowed = false; }
void GlassOverDirectives(Policy& p) { p.break_glass_overrides_directives = true; }

const std::string kPermitAll = ProvisionJson("permit", {});
const std::string kDenyAll = ProvisionJson("deny", {});

std::vector<Case> Table() {
  // The policy's defaults: ETH, and 42CFRPart2, which only a consent naming it releases.
  const std::vector<std::string> eth = {"42CFRPart2", "ETH"};
  return {
      // Rule 2: no consent on file.
      {.name = "OptOutNoConsentTreatPermits", .permit = true, .withheld = eth},
      {.name = "OptOutNoConsentEmergencyWithReasonPermitsAndIsFlagged",
       .purpose = "ETREAT",
       .reason = "unconscious in ED",
       .permit = true,
       .withheld = eth,
       .break_glass = true},
      {.name = "OptOutNoConsentPaymentDenies", .purpose = "HPAYMT"},
      {.name = "OptOutNoConsentResearchDenies", .purpose = "HRESCH"},
      {.name = "OptInNoConsentTreatDenies", .policy = OptIn},
      {.name = "OptInNoConsentBreakGlassPermits",
       .purpose = "ETREAT",
       .reason = "ED",
       .policy = OptIn,
       .permit = true,
       .withheld = eth,
       .break_glass = true},
      {.name = "BreakGlassWithoutReasonDenies", .purpose = "ETREAT"},
      {.name = "BreakGlassWithAWhitespaceReasonDenies",
       .consents = {Consent("c1", "2025-01-01", kPermitAll)},
       .purpose = "ETREAT",
       .reason = " \t\r\n  ",
       .check =
           [](const Decision& d) {
             EXPECT_EQ(d.reason, "break-the-glass (ETREAT) needs a reason");
           }},
      {.name = "BreakGlassWithoutReasonDeniesEvenUnderPermit",
       .consents = {Consent("c1", "2025-01-01", kPermitAll)},
       .purpose = "ETREAT"},
      {.name = "BreakGlassForbiddenByPolicyDenies",
       .purpose = "ETREAT",
       .reason = "ED",
       .policy =
           [](Policy& p) {
             OptIn(p);
             NoBreakGlass(p);
           }},
      {.name = "OptOutNoDefaultPurposesDenies",
       .policy = [](Policy& p) { p.purposes_without_consent.clear(); }},
      {.name = "PolicyWithholdingNothing",
       .policy = [](Policy& p) { p.withheld_categories.clear(); },
       .permit = true,
       .withheld = {}},
      // Base provisions.
      {.name = "OptInBasePermitTreat",
       .consents = {Consent("c1", "2025-01-01", kPermitAll)},
       .policy = OptIn,
       .permit = true,
       .withheld = eth},
      {.name = "OptInBasePermitCoversPayment",
       .consents = {Consent("c1", "2025-01-01", kPermitAll)},
       .purpose = "HPAYMT",
       .policy = OptIn,
       .permit = true,
       .withheld = eth},
      {.name = "OptOutBaseDenyTreat", .consents = {Consent("c1", "2025-01-01", kDenyAll)}},
      {.name = "BaseDenyBreakGlassDoesNotOverrideTheDirectiveByDefault",
       .consents = {Consent("c1", "2025-01-01", kDenyAll)},
       .purpose = "ETREAT",
       .reason = "anaphylaxis",
       .check =
           [](const Decision& d) {
             EXPECT_THAT(d.reason, ::testing::HasSubstr("does not override the patient's own"));
             EXPECT_EQ(d.directive_id, "c1");
           }},
      {.name = "StudentBreakGlassDeniedEvenWithoutAConsentOnFile",
       .purpose = "ETREAT",
       .reason = "curious",
       .user_role = "student",
       .check =
           [](const Decision& d) {
             EXPECT_THAT(d.reason, ::testing::HasSubstr("not for role \"student\""));
           }},
      {.name = "BreakGlassRoleIsCaseInsensitive",
       .purpose = "ETREAT",
       .reason = "ED",
       .user_role = "Paramedic",
       .policy = OptIn,
       .permit = true,
       .withheld = eth,
       .break_glass = true},
      {.name = "BreakGlassRolesComeFromThePolicy",
       .purpose = "ETREAT",
       .reason = "ED",
       .policy =
           [](Policy& p) {
             OptIn(p);
             p.break_glass_roles = {"emergency-physician"};
           }},
      // The v3 PurposeOfUse hierarchy: a consent naming TREAT governs its specializations.
      {.name = "DenyTreatCoversCoordinationOfCare",
       .consents = {Consent("c1", "2025-01-01",
                            ProvisionJson("permit", {},
                                          {ProvisionJson("deny", {Purposes({"TREAT"}),
                                                                  Actors({OrgActor("org-b")})})}))},
       .purpose = "COC"},
      {.name = "BaseDenyTreatGovernsBreakTheGlassToo",
       .consents = {Consent("c1", "2025-01-01", ProvisionJson("deny", {Purposes({"TREAT"})}))},
       .purpose = "ETREAT",
       .reason = "anaphylaxis",
       .check =
           [](const Decision& d) {
             EXPECT_THAT(d.reason, ::testing::HasSubstr("does not override the patient's own"));
           }},
      {.name = "BtgIsBreakTheGlass",
       .purpose = "BTG",
       .reason = "curious",
       .user_role = "student",
       .check =
           [](const Decision& d) {
             EXPECT_THAT(d.reason, ::testing::HasSubstr("not for role \"student\""));
           }},
      {.name = "BtgByAPhysicianIsAlertedBreakTheGlass",
       .purpose = "BTG",
       .reason = "unconscious in ED",
       .policy = OptIn,
       .permit = true,
       .withheld = eth,
       .break_glass = true},
      {.name = "OptOutPolicyTreatCoversCoordinationOfCare",
       .purpose = "COC",
       .permit = true,
       .withheld = eth},
      {.name = "StudentBreakGlassDeniedOverADirective",
       .consents = {Consent("c1", "2025-01-01", kDenyAll)},
       .purpose = "ETREAT",
       .reason = "curious",
       .user_role = "student",
       .policy = GlassOverDirectives},
      {.name = "BaseDenyBreakGlassOverridesWhenThePolicySays",
       .consents = {Consent("c1", "2025-01-01", kDenyAll)},
       .purpose = "ETREAT",
       .reason = "anaphylaxis",
       .policy = GlassOverDirectives,
       .permit = true,
       .withheld = eth,
       .break_glass = true},
      {.name = "BaseDenyBreakGlassForbidden",
       .consents = {Consent("c1", "2025-01-01", kDenyAll)},
       .purpose = "ETREAT",
       .reason = "anaphylaxis",
       .policy = NoBreakGlass},
      {.name = "PolicyRuleOptInWithoutTypePermits",
       .consents = {Consent("c1", "2025-01-01", "{}", "active", "OPTIN")},
       .policy = OptIn,
       .permit = true,
       .withheld = eth},
      {.name = "PolicyRuleOptOutWithoutTypeDenies",
       .consents = {Consent("c1", "2025-01-01", "{}", "active", "OPTOUT")}},
      // Nested exceptions by actor.
      {.name = "NestedDenyForRequester",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {}, {ProvisionJson("deny", {Actors({OrgActor("org-b")})})}))},
       .check =
           [](const Decision& d) {
             EXPECT_EQ(d.provision_path, "Consent.provision.provision[0]");
             EXPECT_EQ(d.directive_id, "c1");
           }},
      {.name = "NestedDenyForOtherRequesterPermits",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {}, {ProvisionJson("deny", {Actors({OrgActor("org-b")})})}))},
       .requester = "org-c",
       .permit = true,
       .withheld = eth},
      {.name = "NestedPermitForRequesterUnderBaseDeny",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("deny", {}, {ProvisionJson("permit", {Actors({OrgActor("org-b")})})}))},
       .permit = true,
       .withheld = eth},
      {.name = "NestedPermitForOtherRequesterStaysDenied",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("deny", {}, {ProvisionJson("permit", {Actors({OrgActor("org-b")})})}))},
       .requester = "org-c"},
      {.name = "UntypedNestedIsTheParentsException",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("deny", {}, {ProvisionJson("", {Actors({OrgActor("org-b")})})}))},
       .permit = true,
       .withheld = eth},
      // Nested exceptions by purpose.
      {.name = "NestedDenyForResearch",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {}, {ProvisionJson("deny", {Purposes({"HRESCH"})})}))},
       .purpose = "HRESCH",
       .policy = OptIn},
      {.name = "NestedDenyForResearchLeavesTreatment",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {}, {ProvisionJson("deny", {Purposes({"HRESCH"})})}))},
       .policy = OptIn,
       .permit = true,
       .withheld = eth},
      {.name = "NestedPermitTreatmentOnly",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("deny", {}, {ProvisionJson("permit", {Purposes({"TREAT"})})}))},
       .permit = true,
       .withheld = eth},
      // Nested exceptions by period.
      {.name = "NestedDenyCurrentPeriod",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson("deny",
                                        {PeriodMember("period", "2026-01-01", "2026-12-31")})}))}},
      {.name = "NestedDenyPastPeriodNoLongerApplies",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson(
               "permit",
               {}, {ProvisionJson("deny", {PeriodMember("period", "2020-01-01", "2020-12-31")})}))},
       .permit = true,
       .withheld = eth},
      // Categories.
      {.name = "LabelledDenyWithholdsCategory",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {}, {ProvisionJson("deny", {Labels({"PSY"})})}))},
       .permit = true,
       .withheld = {"42CFRPart2", "ETH", "PSY"}},
      {.name = "LabelledPermitReleasesDefault",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {}, {ProvisionJson("permit", {Labels({"ETH"})})}))},
       .permit = true,
       .withheld = {"42CFRPart2"},
       .check =
           [](const Decision& d) { EXPECT_THAT(d.reason, ::testing::HasSubstr("released ETH")); }},
      // 42 CFR Part 2: released only by a provision that names it, never by a general
      // permit, a release of ETH, or break-the-glass.
      {.name = "Part2ReleasedOnlyByAProvisionNamingIt",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {}, {ProvisionJson("permit", {Labels({"42CFRPart2"})})}))},
       .permit = true,
       .withheld = {"ETH"},
       .check =
           [](const Decision& d) {
             EXPECT_THAT(d.reason, ::testing::HasSubstr("released 42CFRPart2"));
           }},
      {.name = "Part2NotReleasedByAGeneralTreatmentPermit",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {}, {ProvisionJson("permit", {Purposes({"TREAT"})})}))},
       .permit = true,
       .withheld = eth},
      // Named for coordination of care only: break-the-glass does not reach it.
      {.name = "Part2NotReleasedByBreakGlassEvenWhenTheConsentNamesIt",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson("permit", {Labels({"42CFRPart2"}), Purposes({"COC"})})}))},
       .purpose = "ETREAT",
       .reason = "unconscious in ED",
       .permit = true,
       .withheld = eth,
       .break_glass = true},
      // Named for treatment: emergency treatment is treatment (the v3 hierarchy).
      {.name = "Part2NamedForTreatmentIsReleasedForEmergencyTreatment",
       .consents = {Consent("c1", "2025-01-01",
                            ProvisionJson("permit", {},
                                          {ProvisionJson("permit", {Labels({"42CFRPart2"}),
                                                                    Purposes({"TREAT"})})}))},
       .purpose = "ETREAT",
       .reason = "unconscious in ED",
       .permit = true,
       .withheld = {"ETH"},
       .break_glass = true},
      {.name = "LabelledReleaseForAnotherRequesterDoesNotApply",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson(
               "permit",
               {}, {ProvisionJson("permit", {Labels({"ETH"}), Actors({OrgActor("org-b")})})}))},
       .requester = "org-c",
       .permit = true,
       .withheld = eth},
      {.name = "LabelledDenyWinsTieAgainstRelease",
       .consents = {Consent("c1", "2025-01-01",
                            ProvisionJson("permit", {},
                                          {ProvisionJson("deny", {Labels({"HIV"})}),
                                           ProvisionJson("permit", {Labels({"HIV", "ETH"})})}))},
       .permit = true,
       .withheld = {"42CFRPart2", "HIV"}},
      {.name = "DeeperReleaseBeatsShallowerWithhold",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson(
                             "deny", {Labels({"PSY"})},
                             {ProvisionJson("permit",
                                            {Labels({"PSY"}), Actors({OrgActor("org-b")})})})}))},
       .permit = true,
       .withheld = eth},
      {.name = "DeeperReleaseForOtherRequesterLeavesWithhold",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson(
                             "deny", {Labels({"PSY"})},
                             {ProvisionJson("permit",
                                            {Labels({"PSY"}), Actors({OrgActor("org-b")})})})}))},
       .requester = "org-c",
       .permit = true,
       .withheld = {"42CFRPart2", "ETH", "PSY"}},
      {.name = "LabelledProvisionsDoNotDecideTheRequest",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("deny", {}, {ProvisionJson("permit", {Labels({"ETH"})})}))}},
      {.name = "BreakGlassWithholdsDefaultsDespiteRelease",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("deny", {}, {ProvisionJson("permit", {Labels({"ETH"})})}))},
       .purpose = "ETREAT",
       .reason = "ED",
       .policy = GlassOverDirectives,
       .permit = true,
       .withheld = eth,
       .break_glass = true},
      // Depth and ties for the whole request.
      {.name = "DenyWinsAtEqualDepth",
       .consents = {Consent("c1", "2025-01-01",
                            ProvisionJson("permit", {},
                                          {ProvisionJson("permit", {Actors({OrgActor("org-b")})}),
                                           ProvisionJson("deny", {Purposes({"TREAT"})})}))}},
      {.name = "DeeperPermitBeatsShallowerDeny",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson("deny", {Actors({OrgActor("org-b")})},
                                        {ProvisionJson("permit", {Purposes({"TREAT"})})})}))},
       .permit = true,
       .withheld = eth},
      {.name = "DeeperPermitNeedsItsOwnCriteria",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson("deny", {Actors({OrgActor("org-b")})},
                                        {ProvisionJson("permit", {Purposes({"TREAT"})})})}))},
       .purpose = "HPAYMT"},
      {.name = "NestedChildNeedsItsParentToApply",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("deny", {},
                         {ProvisionJson("permit", {Actors({OrgActor("org-b")})},
                                        {ProvisionJson("deny", {Purposes({"HPAYMT"})})})}))},
       .requester = "org-c"},
      // Which consent governs.
      {.name = "MostRecentActiveConsentGoverns",
       .consents = {Consent("old", "2020-01-01", kPermitAll),
                    Consent("new", "2025-01-01", kDenyAll)},
       .policy = OptIn},
      {.name = "RevokedConsentNoLongerCounts",
       .consents = {Consent("old", "2020-01-01", kPermitAll),
                    Consent("new", "2025-01-01", kDenyAll, "inactive")},
       .policy = OptIn,
       .permit = true,
       .withheld = eth},
      {.name = "EnteredInErrorIgnored",
       .consents = {Consent("c1", "2025-01-01", kDenyAll, "entered-in-error")},
       .permit = true,
       .withheld = eth},
      {.name = "RejectedAndDraftIgnored",
       .consents = {Consent("c1", "2025-01-01", kPermitAll, "rejected"),
                    Consent("c2", "2025-01-01", kPermitAll, "draft")},
       .policy = OptIn},
      {.name = "ExpiredConsentCountsAsAbsent",
       .consents = {Consent(
           "c1", "2020-01-01",
           ProvisionJson("permit", {PeriodMember("period", "2020-01-01", "2021-01-01")}))},
       .policy = OptIn},
      {.name = "NotYetValidConsentCountsAsAbsent",
       .consents = {Consent("c1", "2025-01-01",
                            ProvisionJson("deny", {PeriodMember("period", "2027-01-01", "")}))},
       .permit = true,
       .withheld = eth},
      {.name = "ExpiredNewerConsentLetsOlderGovern",
       .consents = {Consent("old", "2019-01-01", kPermitAll),
                    Consent("new", "2024-01-01",
                            ProvisionJson("deny",
                                          {PeriodMember("period", "2024-01-01", "2024-06-30")}))},
       .policy = OptIn,
       .permit = true,
       .withheld = eth},
      {.name = "TieOnDateTimeGreaterIdGoverns",
       .consents = {Consent("a", "2025-01-01", kDenyAll), Consent("b", "2025-01-01", kPermitAll)},
       .policy = OptIn,
       .permit = true,
       .withheld = eth},
      {.name = "BaseActorScopesTheConsentToThatRequester",
       .consents = {Consent("c1", "2025-01-01",
                            ProvisionJson("deny", {Actors({OrgActor("org-b")})}))}},
      {.name = "BaseActorOtherRequesterFallsToPolicy",
       .consents = {Consent("c1", "2025-01-01",
                            ProvisionJson("deny", {Actors({OrgActor("org-b")})}))},
       .requester = "org-c",
       .permit = true,
       .withheld = eth},
      // Custodians (holders).
      {.name = "CustodianDenyForThatHolder",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson("deny", {Actors({OrgActor("org-x", "CST")})})}))},
       .holder = "org-x",
       .policy = OptIn},
      {.name = "CustodianDenyForOtherHolderPermits",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson("deny", {Actors({OrgActor("org-x", "CST")})})}))},
       .holder = "org-y",
       .policy = OptIn,
       .permit = true,
       .withheld = eth,
       .check = [](const Decision& d) { EXPECT_FALSE(d.holder_named); }},
      {.name = "CustodianPermitNamesHolder",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("deny", {},
                         {ProvisionJson("permit", {Actors({OrgActor("org-s", "CST")})})}))},
       .holder = "org-s",
       .policy = OptIn,
       .permit = true,
       .withheld = eth,
       .check = [](const Decision& d) { EXPECT_TRUE(d.holder_named); }},
      // Users.
      {.name = "UserRoleDeny",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson("deny", {Actors({IdentifierActor("urn:hie:user-role",
                                                                         "student")})})}))},
       .user_role = "Student"},
      {.name = "UserRoleDenyOtherRolePermits",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson("deny", {Actors({IdentifierActor("urn:hie:user-role",
                                                                         "student")})})}))},
       .user_role = "physician",
       .permit = true,
       .withheld = eth},
      {.name = "UserNpiDeny",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson("deny",
                                        {Actors({IdentifierActor("http://hl7.org/fhir/sid/us-npi",
                                                                 "1234567893")})})}))},
       .user_npi = "1234567893"},
      // Actions and data periods.
      {.name = "ProvisionForOtherActionDoesNotApply",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {}, {ProvisionJson("deny", {Actions({"correct"})})}))},
       .permit = true,
       .withheld = eth},
      {.name = "DataPeriodDenyWithholdsThatPeriod",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson("deny", {PeriodMember("dataPeriod", "2019", "2019")})}))},
       .permit = true,
       .withheld = eth,
       .check =
           [](const Decision& d) {
             ASSERT_EQ(d.withheld_data.size(), 1u);
             EXPECT_TRUE(d.withheld_data[0].categories.empty());
             EXPECT_EQ(d.withheld_data[0].data_period.Begin(),
                       absl::FromCivil(absl::CivilYear(2019), absl::UTCTimeZone()));
             EXPECT_EQ(d.withheld_data[0].data_period.End(),
                       absl::FromCivil(absl::CivilYear(2020), absl::UTCTimeZone()));
           }},
      {.name = "DataPeriodDenyWithLabelWithholdsOnlyThoseCategories",
       .consents = {Consent(
           "c1", "2025-01-01",
           ProvisionJson("permit", {},
                         {ProvisionJson("deny", {Labels({"HIV"}),
                                                 PeriodMember("dataPeriod", "2019-03", "")})}))},
       .permit = true,
       .withheld = eth,
       .check =
           [](const Decision& d) {
             ASSERT_EQ(d.withheld_data.size(), 1u);
             EXPECT_THAT(d.withheld_data[0].categories, ElementsAreArray({"HIV"}));
           }},
  };
}

class DecisionTable : public ::testing::TestWithParam<Case> {};

TEST_P(DecisionTable, Decides) {
  const Case& c = GetParam();
  std::vector<ConsentDirective> parsed;
  for (const std::string& json : c.consents) {
    ASSERT_OK_AND_ASSIGN(ConsentDirective d, ParseConsent(json));
    parsed.push_back(std::move(d));
  }
  std::vector<const ConsentDirective*> directives;
  for (const auto& d : parsed) directives.push_back(&d);
  Policy policy;
  c.policy(policy);
  DecisionRequest request{.requester_org = c.requester,
                          .holder_org = c.holder,
                          .purpose = c.purpose,
                          .user_role = c.user_role,
                          .user_npi = c.user_npi,
                          .break_glass_reason = c.reason,
                          .now = absl::FromCivil(absl::CivilDay(2026, 6, 1), absl::UTCTimeZone())};
  ASSERT_OK_AND_ASSIGN(Decision decision, Decide(policy, directives, request));
  EXPECT_EQ(decision.permit, c.permit) << decision.reason;
  EXPECT_FALSE(decision.reason.empty());
  if (c.permit) EXPECT_THAT(decision.withheld, ElementsAreArray(c.withheld)) << decision.reason;
  EXPECT_EQ(decision.break_glass, c.break_glass) << decision.reason;
  c.check(decision);
}

INSTANTIATE_TEST_SUITE_P(Consent, DecisionTable, ::testing::ValuesIn(Table()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

TEST(DecideTest, UnknownPurposeIsAnError) {
  Policy policy;
  DecisionRequest request{.requester_org = "org-b", .purpose = "SHOPPING"};
  EXPECT_THAT(Decide(policy, {}, request),
              hie::testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DecideTest, DenyReasonNamesDirectiveAndProvision) {
  ASSERT_OK_AND_ASSIGN(
      ConsentDirective d,
      ParseConsent(
          Consent("c9", "2025-01-01",
                  ProvisionJson("permit", {}, {ProvisionJson("deny", {Purposes({"HPAYMT"})})}))));
  DecisionRequest request{.requester_org = "org-b",
                          .purpose = "HPAYMT",
                          .now = absl::FromCivil(absl::CivilDay(2026, 6, 1), absl::UTCTimeZone())};
  ASSERT_OK_AND_ASSIGN(Decision decision, Decide(Policy(), {&d}, request));
  EXPECT_FALSE(decision.permit);
  EXPECT_EQ(decision.reason,
            "consent c9 of 2025-01-01: Consent.provision.provision[0] denies HPAYMT for "
            "Organization/org-b");
}

// PATRQT is the patient's own request: a practice's staff or system asking under it
// are refused, even where the patient's own permits (an opt-out keeps some) would let
// the patient through.
TEST(DecideTest, ThePatientsOwnRequestIsThePatientsOnly) {
  ASSERT_OK_AND_ASSIGN(
      ConsentDirective opted_out,
      ParseConsent(
          Consent("c1", "2025-01-01",
                  ProvisionJson("deny", {}, {ProvisionJson("permit", {Purposes({"PATRQT"})})}))));
  const absl::Time now = absl::FromCivil(absl::CivilDay(2026, 6, 1), absl::UTCTimeZone());
  for (const std::vector<const ConsentDirective*>& directives :
       {std::vector<const ConsentDirective*>{}, std::vector<const ConsentDirective*>{&opted_out}}) {
    DecisionRequest patient{
        .requester_org = "org-a", .purpose = "PATRQT", .user_role = "patient", .now = now};
    ASSERT_OK_AND_ASSIGN(Decision mine, Decide(Policy(), directives, patient));
    EXPECT_TRUE(mine.permit) << mine.reason;
    for (const char* role : {"clinician", "", "system"}) {
      DecisionRequest other = patient;
      other.user_role = role;
      ASSERT_OK_AND_ASSIGN(Decision theirs, Decide(Policy(), directives, other));
      EXPECT_FALSE(theirs.permit) << role;
      EXPECT_THAT(theirs.reason, ::testing::HasSubstr("made by the patient"));
    }
  }
}

TEST(PolicyTest, Part2IsAlwaysWithheldWhateverTheConfigSays) {
  hie::v1::ConsentPolicy config;
  config.mutable_withheld_categories()->add_codes("PSY");
  ASSERT_OK_AND_ASSIGN(Policy policy, PolicyFromConfig(config));
  EXPECT_THAT(policy.withheld_categories, ElementsAreArray({"42CFRPart2", "PSY"}));
  config.mutable_withheld_categories()->clear_codes();  // "withhold nothing"
  ASSERT_OK_AND_ASSIGN(policy, PolicyFromConfig(config));
  EXPECT_THAT(policy.withheld_categories, ElementsAreArray({"42CFRPart2"}));
  EXPECT_THAT(Policy().withheld_categories, ElementsAreArray({"42CFRPart2", "ETH"}));
}

TEST(PolicyTest, BreakGlassDefaultsAndConfig) {
  Policy defaults;
  EXPECT_FALSE(defaults.break_glass_overrides_directives);
  EXPECT_THAT(defaults.break_glass_roles,
              ElementsAreArray({"clinician", "nurse", "nurse-practitioner", "paramedic",
                                "physician", "physician-assistant"}));
  hie::v1::ConsentPolicy config;
  config.mutable_break_glass_roles()->add_codes("Physician");
  config.mutable_break_glass_roles()->add_codes("ed-nurse");
  config.set_break_glass_overrides_directives(true);
  ASSERT_OK_AND_ASSIGN(Policy policy, PolicyFromConfig(config));
  EXPECT_THAT(policy.break_glass_roles, ElementsAreArray({"ed-nurse", "physician"}));
  EXPECT_TRUE(policy.break_glass_overrides_directives);
  config.mutable_break_glass_roles()->add_codes("");
  EXPECT_THAT(PolicyFromConfig(config).status().message(),
              ::testing::HasSubstr("break_glass_roles"));
  // An empty list: nobody may break the glass.
  hie::v1::ConsentPolicy none;
  none.mutable_break_glass_roles();
  ASSERT_OK_AND_ASSIGN(Policy closed, PolicyFromConfig(none));
  EXPECT_TRUE(closed.break_glass_roles.empty());
}

}  // namespace
}  // namespace hie::consent
