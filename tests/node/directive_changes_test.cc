// A holder's view of the directive feed: a grant decided before a change for its
// patient is refused as revoked; every grant is refused while the view is stale.
#include "node/domain/directive_changes.h"

#include "common/status/error_detail.h"
#include "common/testing/status_matchers.h"
#include "common/time/proto_time.h"
#include "consent/domain/directive_feed.h"  // kDirectiveChangeRetention
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::node {
namespace {

using ::hie::testing::StatusIs;

// The feed's patient keys are the consent service's keyed hashes; any string will do
// here, as long as the change and the grant carry the same one.
std::string Key(const std::string& euid) { return "key-of-" + euid; }

hie::v1::DirectiveChange Change(int64_t sequence, const std::string& euid, absl::Time at) {
  hie::v1::DirectiveChange c;
  c.set_sequence(sequence);
  c.set_patient_key(Key(euid));
  *c.mutable_changed_at() = ToProtoTime(at);
  return c;
}

hie::v1::DisclosureGrant Grant(const std::string& euid, int64_t directive_sequence) {
  hie::v1::DisclosureGrant g;
  g.set_euid(euid);
  g.set_directive_key(Key(euid));
  g.set_directive_sequence(directive_sequence);
  return g;
}

TEST(DirectiveChangesTest, AGrantDecidedBeforeAChangeForItsPatientIsRevoked) {
  DirectiveChanges changes(absl::Seconds(8));
  absl::Time t = absl::FromUnixSeconds(1'800'000'000);
  changes.Apply({Change(1, "E-1", t), Change(2, "E-2", t)}, 2, t, t);
  EXPECT_EQ(changes.cursor(), 2);
  absl::Status revoked = changes.Check(Grant("E-1", 0), t + absl::Seconds(1));
  EXPECT_THAT(revoked, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(GetErrorDetail(revoked)->reason(), hie::v1::ERROR_REASON_GRANT_REVOKED);
  EXPECT_OK(changes.Check(Grant("E-1", 1), t + absl::Seconds(1)));  // decided after it
  EXPECT_OK(changes.Check(Grant("E-3", 0), t + absl::Seconds(1)));  // another patient
  EXPECT_THAT(changes.Check(Grant("E-2", 1), t + absl::Seconds(1)),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(DirectiveChangesTest, AStaleOrNeverReadFeedRefusesEveryGrant) {
  DirectiveChanges changes(absl::Seconds(8));
  absl::Time t = absl::FromUnixSeconds(1'800'000'000);
  EXPECT_THAT(changes.Check(Grant("E-1", 0), t), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(changes.Fresh(t));
  // A page that does not reach the feed's last sequence is not up to date.
  changes.Apply({Change(1, "E-2", t)}, 5, t, t);
  EXPECT_THAT(changes.Check(Grant("E-1", 0), t), StatusIs(absl::StatusCode::kUnavailable));
  changes.Apply({Change(5, "E-2", t)}, 5, t, t);
  EXPECT_OK(changes.Check(Grant("E-1", 0), t + absl::Seconds(8)));
  EXPECT_THAT(changes.Check(Grant("E-1", 0), t + absl::Seconds(9)),
              StatusIs(absl::StatusCode::kUnavailable));
  // Freshness counts from when the pull started, not when it ended.
  changes.Apply({}, 5, t + absl::Seconds(2), t + absl::Seconds(20));
  EXPECT_THAT(changes.Check(Grant("E-1", 0), t + absl::Seconds(11)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_OK(changes.Check(Grant("E-1", 0), t + absl::Seconds(10)));
}

TEST(DirectiveChangesTest, ChangesOlderThanAnyGrantAreForgotten) {
  DirectiveChanges changes(absl::Seconds(8));
  absl::Time t = absl::FromUnixSeconds(1'800'000'000);
  changes.Apply({Change(1, "E-1", t)}, 1, t, t);
  absl::Time later = t + consent::kDirectiveChangeRetention + absl::Minutes(2);
  changes.Apply({}, 1, later, later);
  EXPECT_OK(changes.Check(Grant("E-1", 0), later));
}

}  // namespace
}  // namespace hie::node
