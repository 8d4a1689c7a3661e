#include "consent/domain/practice_view.h"

#include "gtest/gtest.h"

namespace hie::consent {
namespace {

hie::v1::AuditEntry Entry(hie::v1::AuditAction action, const std::string& actor,
                          const std::string& local_org, const std::string& local_id) {
  hie::v1::AuditEntry e;
  e.set_sequence(7);
  e.set_action(action);
  e.set_actor_org(actor);
  e.mutable_user()->set_user_id("dr.lee");
  e.mutable_patient()->set_org_id(local_org);
  e.mutable_patient()->set_local_id(local_id);
  e.set_euid("E-1");
  e.set_purpose("TREAT");
  e.set_outcome("permit");
  e.set_detail("holders: org-b, org-s; left out: 1");
  return e;
}

TEST(PracticeViewTest, OwnEntriesAndEntriesAboutItsOwnPatientAreWhole) {
  auto own = Entry(hie::v1::AUDIT_ACTION_AUTHORIZE, "org-a", "org-a", "A1");
  auto seen = PracticeView(own, "org-a");
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->SerializeAsString(), own.SerializeAsString());
  auto refusal = Entry(hie::v1::AUDIT_ACTION_REFUSE, "org-x", "org-a", "A1");
  ASSERT_TRUE(PracticeView(refusal, "org-a").has_value());
  EXPECT_EQ(PracticeView(refusal, "org-a")->detail(), refusal.detail());
}

TEST(PracticeViewTest, AnotherOrgsAccessKeepsWhoLookedButNamesNoHolder) {
  auto other = Entry(hie::v1::AUDIT_ACTION_AUTHORIZE, "org-c", "org-c", "C-9");
  other.set_counterpart_org("org-s");
  auto seen = PracticeView(other, "org-a");
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->actor_org(), "org-c");
  EXPECT_EQ(seen->user().user_id(), "dr.lee");
  EXPECT_EQ(seen->purpose(), "TREAT");
  EXPECT_EQ(seen->outcome(), "permit");
  EXPECT_EQ(seen->action(), hie::v1::AUDIT_ACTION_AUTHORIZE);
  EXPECT_FALSE(seen->has_patient());
  EXPECT_TRUE(seen->detail().empty());
  EXPECT_TRUE(seen->counterpart_org().empty());
  // A query whose holder is the reader keeps the counterpart: that is itself.
  auto query = Entry(hie::v1::AUDIT_ACTION_QUERY, "org-c", "org-c", "C-9");
  query.set_counterpart_org("org-a");
  EXPECT_EQ(PracticeView(query, "org-a")->counterpart_org(), "org-a");
}

TEST(PracticeViewTest, AnotherOrgsDeniedRequestKeepsTheDecisionsReason) {
  auto denied = Entry(hie::v1::AUDIT_ACTION_AUTHORIZE, "org-c", "org-c", "C-9");
  denied.set_outcome("deny");
  denied.set_detail("break-the-glass (ETREAT) is for physician, not for role \"student\"");
  auto seen = PracticeView(denied, "org-a");
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->detail(), denied.detail());
  EXPECT_FALSE(seen->has_patient());
}

TEST(PracticeViewTest, BreakTheGlassAlertKeepsItsReason) {
  auto alert = Entry(hie::v1::AUDIT_ACTION_BREAK_GLASS, "org-c", "org-c", "C-9");
  alert.set_detail("break-the-glass by dr.lee of org-c: unconscious");
  auto seen = PracticeView(alert, "org-a");
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->detail(), alert.detail());
  EXPECT_FALSE(seen->has_patient());
}

TEST(PracticeViewTest, AnotherHoldersDirectivesAndDisclosuresAreLeftOut) {
  EXPECT_FALSE(
      PracticeView(Entry(hie::v1::AUDIT_ACTION_DIRECTIVE, "org-s", "org-s", "S-77"), "org-a"));
  EXPECT_FALSE(
      PracticeView(Entry(hie::v1::AUDIT_ACTION_DISCLOSE, "org-s", "org-s", "S-77"), "org-a"));
  EXPECT_FALSE(PracticeView(Entry(hie::v1::AUDIT_ACTION_LINK, "org-s", "org-s", "S-77"), "org-a"));
}

TEST(PracticeViewTest, AnotherPracticesDirectiveSaysThatNotWhere) {
  hie::v1::Directive d;
  d.set_directive_id("c-1");
  d.set_version(2);
  d.set_euid("E-1");
  d.set_status("inactive");
  d.set_filed_by_org("org-s");
  d.mutable_patient()->set_org_id("org-s");
  d.mutable_patient()->set_local_id("S-77");
  d.set_reason("patient changed their mind");
  d.set_consent_json(R"({"resourceType":"Consent","patient":{"reference":"Patient/S-77"}})");
  hie::v1::Directive seen = PracticeView(d, "org-a");
  EXPECT_EQ(seen.directive_id(), "c-1");
  EXPECT_EQ(seen.version(), 2);
  EXPECT_EQ(seen.euid(), "E-1");
  EXPECT_EQ(seen.status(), "inactive");
  EXPECT_TRUE(seen.filed_by_org().empty());
  EXPECT_FALSE(seen.has_patient());
  EXPECT_TRUE(seen.reason().empty());
  EXPECT_TRUE(seen.consent_json().empty());
  EXPECT_EQ(PracticeView(d, "org-s").SerializeAsString(), d.SerializeAsString());
}

}  // namespace
}  // namespace hie::consent
