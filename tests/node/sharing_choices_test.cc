// The portal's sharing choices become a Consent that the consent service's own parser
// accepts and its engine decides as the patient meant: an opt-out denies practices but
// not the patient's own request, a category not shared is withheld from practices only,
// a shared one is released (42CFRPart2 included).
#include "node/domain/sharing_choices.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "consent/domain/directive.h"
#include "consent/domain/engine.h"
#include "consent/domain/policy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::node {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

consent::ConsentDirective Parsed(const SharingChoices& choices,
                                 const std::string& id = "portal-0123456789abcdef01234567") {
  absl::StatusOr<consent::ConsentDirective> parsed =
      consent::ParseConsent(SharingConsentJson(choices, id, "A\"1", kNow));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : consent::ConsentDirective{};
}

consent::Decision Decide(const consent::ConsentDirective& directive, const std::string& purpose,
                         const std::string& requester = "org-b") {
  consent::DecisionRequest request{.requester_org = requester,
                                   .holder_org = "org-c",
                                   .purpose = purpose,
                                   .user_role = purpose == "PATRQT" ? "patient" : "physician",
                                   .now = kNow + absl::Minutes(1)};
  absl::StatusOr<consent::Decision> decision =
      consent::Decide(consent::Policy{}, {&directive}, request);
  EXPECT_TRUE(decision.ok()) << decision.status();
  return decision.ok() ? *decision : consent::Decision{};
}

TEST(SharingChoicesTest, TheConsentIsActivePatientPrivacyDatedToTheMillisecond) {
  consent::ConsentDirective d = Parsed({.share = true}, "portal-abc");
  EXPECT_EQ(d.id, "portal-abc");
  EXPECT_EQ(d.status, "active");
  EXPECT_EQ(d.date_time, kNow);
  EXPECT_EQ(d.date_time_text, "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(d.provision.type, consent::ProvisionType::kPermit);
}

TEST(SharingChoicesTest, OptOutDeniesPracticesButNotThePatientsOwnRequest) {
  consent::ConsentDirective d = Parsed({.share = false});
  consent::Decision treat = Decide(d, "TREAT");
  EXPECT_FALSE(treat.permit);
  EXPECT_THAT(treat.reason, ::testing::HasSubstr("denies TREAT"));
  EXPECT_FALSE(Decide(d, "HPAYMT").permit);
  EXPECT_TRUE(Decide(d, "PATRQT").permit);
}

TEST(SharingChoicesTest, OptInPermitsTreatmentAndWithholdsCategoriesNotShared) {
  consent::ConsentDirective d = Parsed({.share = true});
  consent::Decision treat = Decide(d, "TREAT");
  EXPECT_TRUE(treat.permit);
  EXPECT_THAT(treat.withheld, ElementsAre("42CFRPart2", "ETH", "HIV", "PSY", "SEX"));
  // The patient's own request: none of their categories is kept from them...
  consent::Decision own = Decide(d, "PATRQT");
  EXPECT_TRUE(own.permit);
  EXPECT_THAT(own.withheld, ElementsAre());
}

TEST(SharingChoicesTest, ASharedCategoryIsReleasedPart2Included) {
  consent::ConsentDirective d =
      Parsed({.share = true, .shared_categories = {"substance-use", "hiv"}});
  consent::Decision treat = Decide(d, "TREAT");
  EXPECT_TRUE(treat.permit);
  EXPECT_THAT(treat.withheld, ElementsAre("PSY", "SEX"));
  EXPECT_THAT(treat.reason, ::testing::HasSubstr("patient released 42CFRPart2, ETH"));
}

TEST(SharingChoicesTest, APracticeNotAllowedIsDeniedOthersAreNot) {
  consent::ConsentDirective d =
      Parsed({.share = true, .shared_categories = {"hiv"}, .denied_practices = {"org-b", "org-d"}});
  consent::Decision b = Decide(d, "TREAT", "org-b");
  EXPECT_FALSE(b.permit);
  EXPECT_THAT(b.reason, ::testing::HasSubstr("denies TREAT for Organization/org-b"));
  EXPECT_FALSE(Decide(d, "HPAYMT", "org-d").permit);
  consent::Decision e = Decide(d, "TREAT", "org-e");
  EXPECT_TRUE(e.permit);
  EXPECT_THAT(e.withheld, ElementsAre("42CFRPart2", "ETH", "PSY", "SEX"));
  // The patient's own request through that practice still goes through.
  EXPECT_TRUE(Decide(d, "PATRQT", "org-b").permit);
}

TEST(SharingChoicesTest, APracticeNotAllowedStaysDeniedUnderAnOptOut) {
  consent::ConsentDirective d = Parsed({.share = false, .denied_practices = {"org-b"}});
  EXPECT_FALSE(Decide(d, "TREAT", "org-b").permit);
  EXPECT_FALSE(Decide(d, "TREAT", "org-e").permit);
  EXPECT_TRUE(Decide(d, "PATRQT", "org-e").permit);
}

TEST(SharingChoicesTest, ChoicesReadBackFromTheParsedConsent) {
  for (const SharingChoices& choices :
       {SharingChoices{.share = true}, SharingChoices{.share = false},
        SharingChoices{.share = true, .shared_categories = {"substance-use", "sexual-health"}},
        SharingChoices{.share = false, .shared_categories = {"mental-health"}},
        SharingChoices{.share = true, .denied_practices = {"org-b"}},
        SharingChoices{.share = false,
        .shared_categories = {"hiv"},
        .denied_practices = {"org-b", "org-c"}}}) {
    std::optional<SharingChoices> back = ChoicesOf(Parsed(choices));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->share, choices.share);
    EXPECT_EQ(back->shared_categories, choices.shared_categories);
    EXPECT_EQ(back->denied_practices, choices.denied_practices);
    for (const std::string& org : choices.denied_practices) EXPECT_FALSE(back->MaySee(org));
    EXPECT_TRUE(back->MaySee("org-e"));
  }
}

TEST(SharingChoicesTest, ADirectiveFiledAnotherWayIsNotReadAsChoices) {
  consent::ConsentDirective d = Parsed({.share = true}, "c9");
  EXPECT_FALSE(ChoicesOf(d).has_value());
  d = Parsed({.share = true});
  d.provision.provisions[0].purposes = {"HPAYMT"};
  EXPECT_FALSE(ChoicesOf(d).has_value());
  // A practice's deny that lets other purposes through is not the portal's.
  d = Parsed({.share = true, .denied_practices = {"org-b"}});
  d.provision.provisions.back().provisions[0].purposes = {"TREAT"};
  EXPECT_FALSE(ChoicesOf(d).has_value());
}

TEST(SharingChoicesTest, PortalIdsAreFhirIdsAndDifferent) {
  absl::StatusOr<std::string> made_a = NewPortalDirectiveId(), made_b = NewPortalDirectiveId();
  ASSERT_TRUE(made_a.ok() && made_b.ok());
  const std::string a = *made_a, b = *made_b;
  EXPECT_EQ(a.size(), std::string(kPortalDirectivePrefix).size() + 24);
  EXPECT_NE(a, b);
  EXPECT_TRUE(ChoicesOf(Parsed({.share = true}, a)).has_value());
}

TEST(SharingChoicesTest, ThePortalDirectiveIsThisPracticesOwn) {
  std::vector<DirectiveInfo> listed = {
      {.id = "portal-1", .status = "active", .filed_by_org = ""},
      {.id = "c9", .status = "active", .filed_by_org = "org-a"},
      {.id = "portal-2", .status = "inactive", .filed_by_org = "org-a"}};
  const DirectiveInfo* mine = PortalDirective(listed, "org-a");
  ASSERT_NE(mine, nullptr);
  EXPECT_EQ(mine->id, "portal-2");
  EXPECT_EQ(PortalDirective(listed, "org-b"), nullptr);
}

}  // namespace
}  // namespace hie::node
