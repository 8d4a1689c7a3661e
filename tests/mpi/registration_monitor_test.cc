#include "mpi/index/registration_monitor.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "mpi/index/index_evaluation.h"

namespace hie::mpi {
namespace {

class ManualClock : public Clock {
 public:
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST(RegistrationMonitorTest, ABurstAboveTheThresholdRaisesOneAlertPerWindow) {
  ManualClock clock;
  RegistrationMonitor monitor(&clock, {.max_cross_org_links = 3, .window = absl::Hours(1)});
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(monitor.NoteCrossOrgLink("org-a").has_value());
  auto alert = monitor.NoteCrossOrgLink("org-a");
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->org_id, "org-a");
  EXPECT_EQ(alert->links, 4);
  EXPECT_EQ(monitor.alerts_total(), 1);
  // The burst goes on: no second alert within the window; other orgs are counted apart.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(monitor.NoteCrossOrgLink("org-a").has_value());
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(monitor.NoteCrossOrgLink("org-b").has_value());
  // A window later, still going: one more.
  clock.Advance(absl::Minutes(61));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(monitor.NoteCrossOrgLink("org-a").has_value());
  EXPECT_TRUE(monitor.NoteCrossOrgLink("org-a").has_value());
  EXPECT_EQ(monitor.alerts_total(), 2);
  EXPECT_EQ(monitor.cross_org_links_total(), 3 + 1 + 10 + 3 + 4);
}

TEST(RegistrationMonitorTest, LinksSpreadOverTimeRaiseNothing) {
  ManualClock clock;
  RegistrationMonitor monitor(&clock, {.max_cross_org_links = 3, .window = absl::Hours(1)});
  for (int i = 0; i < 50; ++i) {
    EXPECT_FALSE(monitor.NoteCrossOrgLink("org-a").has_value()) << i;
    clock.Advance(absl::Minutes(21));  // at most 3 in any hour
  }
  EXPECT_EQ(monitor.alerts_total(), 0);
}

TEST(RegistrationMonitorTest, ZeroTurnsTheAlertOffButStillCounts) {
  ManualClock clock;
  RegistrationMonitor monitor(&clock, {.max_cross_org_links = 0, .window = absl::Hours(1)});
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(monitor.NoteCrossOrgLink("org-a").has_value());
  EXPECT_EQ(monitor.cross_org_links_total(), 100);
}

// At the threshold within the window an organisation's further links are held; a window
// without links lets them through again; other organisations are not held.
TEST(RegistrationMonitorTest, HoldsAtTheThresholdUntilTheWindowPasses) {
  ManualClock clock;
  RegistrationMonitor monitor(&clock, {.max_cross_org_links = 3, .window = absl::Hours(1)});
  for (int i = 0; i < 2; ++i) monitor.NoteCrossOrgLink("org-a");
  EXPECT_FALSE(monitor.Holding("org-a"));
  monitor.NoteCrossOrgLink("org-a");
  EXPECT_TRUE(monitor.Holding("org-a"));
  EXPECT_FALSE(monitor.Holding("org-b"));
  clock.Advance(absl::Minutes(61));
  EXPECT_FALSE(monitor.Holding("org-a"));
  RegistrationMonitor off(&clock, {.max_cross_org_links = 0, .window = absl::Hours(1)});
  for (int i = 0; i < 10; ++i) off.NoteCrossOrgLink("org-a");
  EXPECT_FALSE(off.Holding("org-a"));
}

// Registrations placed at the same time are counted when admitted, so they cannot all
// get under the limit; one that did not link is withdrawn from the count.
TEST(RegistrationMonitorTest, AdmissionsCountBeforePlacingAndWithdrawalsUncount) {
  ManualClock clock;
  RegistrationMonitor monitor(&clock, {.max_cross_org_links = 3, .window = absl::Hours(1)});
  std::vector<RegistrationMonitor::Admission> in_flight;
  for (int i = 0; i < 5; ++i) in_flight.push_back(monitor.Admit("org-a"));
  int held = 0;
  for (const auto& a : in_flight) held += a.hold;
  EXPECT_EQ(held, 2);  // the fourth and fifth, though none has been placed yet
  // Three of them turned out not to link anywhere: the organisation is under the
  // limit again.
  for (int i = 0; i < 3; ++i) monitor.Withdraw("org-a", in_flight[i]);
  EXPECT_FALSE(monitor.Holding("org-a"));
  EXPECT_FALSE(monitor.Admit("org-a").hold);
  // Confirmed links above the threshold raise the alert once.
  auto alert = monitor.Confirm("org-a", monitor.Admit("org-a"));
  EXPECT_TRUE(alert.has_value());
  EXPECT_FALSE(monitor.Confirm("org-a", monitor.Admit("org-a")).has_value());
}

// A registration placed under watch: the link counts, the next link of that org is
// held for review; a registration that links nowhere is not counted.
TEST(RegistrationMonitorTest, PlaceWatchedHoldsTheLinkPastTheThreshold) {
  ManualClock clock;
  RegistrationMonitor monitor(&clock, {.max_cross_org_links = 1, .window = absl::Hours(1)});
  auto scratch = ScratchIndex::Create(IndexOptions{});
  ASSERT_TRUE(scratch.ok()) << scratch.status();
  PatientIndex& index = (*scratch)->index();
  Person jane;
  jane.given = {"Jane"};
  jane.family = "Oyelaran";
  jane.sex = Sex::kFemale;
  jane.birth_date = {1984, 6, 2};
  jane.street = {"12 Main Street"};
  jane.postal_code = "62701";
  jane.phones = {"217-555-0101"};
  Person bob = jane;
  bob.given = {"Robert"};
  bob.family = "Lindqvist";
  bob.sex = Sex::kMale;
  bob.birth_date = {1950, 11, 30};
  bob.street = {"9 Elm Road"};
  bob.postal_code = "97301";
  bob.phones = {"503-555-0199"};
  auto place = [&](const std::string& org, const std::string& local, const Person& person) {
    return PlaceWatched(monitor, org, [&](const RegisterOptions& options) {
      return index.Register(org, local, person, options);
    });
  };
  // New persons: not counted.
  ASSERT_EQ(place("org-a", "A1", jane).result->placement, Placement::kNewPerson);
  ASSERT_EQ(place("org-a", "A2", bob).result->placement, Placement::kNewPerson);
  EXPECT_FALSE(monitor.Holding("org-a"));
  WatchedPlacement linked = place("org-b", "B1", jane);
  ASSERT_TRUE(linked.result.ok());
  EXPECT_EQ(linked.result->placement, Placement::kLinked);
  EXPECT_FALSE(linked.alert.has_value());
  WatchedPlacement held = place("org-b", "B2", bob);
  ASSERT_TRUE(held.result.ok());
  EXPECT_TRUE(held.result->held);
  EXPECT_EQ(held.result->review_reason, "registration burst");
  EXPECT_TRUE(held.alert.has_value());
}

}  // namespace
}  // namespace hie::mpi
