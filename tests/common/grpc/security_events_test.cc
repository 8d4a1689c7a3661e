// Security refusals are aggregated so that a flood cannot fill the audit log: the first
// of a kind at once, then one summary per window with the count; a bounded table.
#include "common/grpc/security_events.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie {
namespace {

using ::testing::HasSubstr;

struct Written {
  SecurityEvent event;
  uint64_t count;
  bool summary;
};

class SecurityEventsTest : public ::testing::Test {
 protected:
  SecurityEventsTest() {
    SecurityEventRecorderOptions options;
    options.window = absl::Seconds(60);
    options.max_keys = 4;
    options.clock = &clock_;
    recorder_ = std::make_unique<SecurityEventRecorder>(options);
    recorder_->SetWriter([this](const SecurityEvent& e, uint64_t count, bool summary) {
      absl::MutexLock lock(&mu_);
      written_.push_back({e, count, summary});
      return absl::OkStatus();
    });
  }

  std::vector<Written> written() {
    absl::MutexLock lock(&mu_);
    return written_;
  }

  static SecurityEvent Refusal(const std::string& org) {
    SecurityEvent e;
    e.kind = SecurityEventKind::kAuthorization;
    e.org_id = org;
    e.serial_hex = "1A2B";
    e.method = "/hie.v1.MasterPatientIndex/Merge";
    e.reason = "role \"node\" may not call /hie.v1.MasterPatientIndex/Merge";
    return e;
  }

  testing::FakeClock clock_;
  absl::Mutex mu_;
  std::vector<Written> written_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<SecurityEventRecorder> recorder_;
};

TEST_F(SecurityEventsTest, FirstAtOnceThenOneSummaryPerWindowWithTheCount) {
  for (int i = 0; i < 1000; ++i) recorder_->Record(Refusal("org-a"));
  recorder_->Flush();
  std::vector<Written> w = written();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_FALSE(w[0].summary);
  EXPECT_EQ(w[0].event.org_id, "org-a");
  clock_.Advance(absl::Seconds(61));
  recorder_->Flush();
  w = written();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_TRUE(w[1].summary);
  EXPECT_EQ(w[1].count, 999u);
  // A quiet window forgets the key: the next refusal is written at once again.
  clock_.Advance(absl::Seconds(61));
  recorder_->Flush();
  recorder_->Record(Refusal("org-a"));
  recorder_->Flush();
  w = written();
  ASSERT_EQ(w.size(), 3u);
  EXPECT_FALSE(w[2].summary);
  EXPECT_EQ(recorder_->counters().authorization, 1001u);
  EXPECT_EQ(recorder_->counters().entries_written, 3u);
}

TEST_F(SecurityEventsTest, ManyDistinctPeersShareOneOverflowEntry) {
  for (int i = 0; i < 500; ++i) recorder_->Record(Refusal(absl::StrCat("org-", i)));
  recorder_->Flush();
  // 4 keys, then one overflow key for the rest.
  std::vector<Written> w = written();
  ASSERT_EQ(w.size(), 5u);
  EXPECT_THAT(w[4].event.reason, HasSubstr("more than 4 distinct refusals"));
  EXPECT_EQ(recorder_->counters().overflowed, 496u);
  clock_.Advance(absl::Seconds(61));
  recorder_->Flush();
  w = written();
  ASSERT_EQ(w.size(), 6u);  // the overflow key's summary: 495 more
  EXPECT_EQ(w[5].count, 495u);
}

TEST_F(SecurityEventsTest, StopWritesOpenWindowsAndDropsTheWriter) {
  for (int i = 0; i < 3; ++i) recorder_->Record(Refusal("org-a"));
  recorder_->Stop();
  std::vector<Written> w = written();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[1].count, 2u);
  recorder_->Record(Refusal("org-a"));  // after Stop: counted, never written
  recorder_->Flush();
  EXPECT_EQ(written().size(), 2u);
}

// 300 handshakes with self-signed certificates (distinct serials and subjects, chosen by
// the sender), then a refusal of a real, CA-issued identity, then many authorization
// refusals: the foreign flood is one entry naming none of them, and the CA-issued
// identity's refusal is written at once with its serial, not folded into an overflow.
TEST_F(SecurityEventsTest, ForeignCertificateFloodNeverHidesACaIssuedIdentity) {
  for (int i = 0; i < 300; ++i) {
    SecurityEvent e;
    e.kind = SecurityEventKind::kAuthentication;
    e.org_id = absl::StrCat("org-", i);
    e.subject = absl::StrCat("CN=flood-", i);
    e.serial_hex = absl::StrCat("F", i);
    e.reason = "TLS handshake refused: client certificate is not of the exchange CA";
    e.foreign_issuer = true;
    recorder_->Record(e);
  }
  for (int i = 0; i < 50; ++i) recorder_->Record(Refusal(absl::StrCat("org-", i)));
  SecurityEvent revoked;
  revoked.kind = SecurityEventKind::kAuthentication;
  revoked.org_id = "org-b";
  revoked.serial_hex = "5EED";
  revoked.reason = "TLS handshake refused: certificate of org \"org-b\" is revoked";
  recorder_->Record(revoked);
  recorder_->Flush();
  std::vector<Written> w = written();
  int foreign = 0;
  bool revoked_written = false;
  for (const Written& x : w) {
    if (x.event.foreign_issuer) {
      ++foreign;
      EXPECT_EQ(x.event.reason, kForeignIssuerReason);
      EXPECT_TRUE(x.event.serial_hex.empty() && x.event.subject.empty() &&
                  x.event.org_id.empty());
    }
    if (x.event.serial_hex == "5EED") {
      revoked_written = true;
      EXPECT_THAT(DescribeSecurityEvent(x.event), HasSubstr("org-b"));
      EXPECT_FALSE(x.summary);
    }
  }
  EXPECT_EQ(foreign, 1);
  EXPECT_TRUE(revoked_written) << "the CA-issued identity's refusal was hidden";
  // Authorization's own budget (4) overflowed; authentication's did not.
  EXPECT_EQ(recorder_->counters().overflowed, 46u);
  clock_.Advance(absl::Seconds(61));
  recorder_->Flush();
  w = written();
  bool summarised = false;
  for (const Written& x : w) {
    if (x.summary && x.event.foreign_issuer) {
      summarised = true;
      EXPECT_EQ(x.count, 299u);
    }
  }
  EXPECT_TRUE(summarised);
}

// Whatever a peer puts in a refused call's method or reason, an entry keeps at most
// kMaxEventFieldBytes of each, marked as cut.
TEST_F(SecurityEventsTest, LongFieldsAreCutAndMarked) {
  SecurityEvent e = Refusal("org-a");
  e.method = "/x/" + std::string(16000, 'm');
  e.reason = std::string(16000, 'r');
  recorder_->Record(e);
  recorder_->Flush();
  std::vector<Written> w = written();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].event.method.size(), kMaxEventFieldBytes);
  EXPECT_EQ(w[0].event.reason.size(), kMaxEventReasonBytes);
  EXPECT_THAT(w[0].event.method, ::testing::EndsWith(kCutMarker));
  EXPECT_THAT(w[0].event.reason, ::testing::EndsWith(kCutMarker));
  EXPECT_LT(DescribeSecurityEvent(w[0].event).size(), 500u);
}

}  // namespace
}  // namespace hie
