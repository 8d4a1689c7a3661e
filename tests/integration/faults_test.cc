// Faults a federated query meets, with every daemon real: a holder behind a misbehaving
// network (a user-space proxy: slow, frozen, garbage, dropping), a holder that is
// frozen and resumed, a holder whose disk is full (no disclosure without its audit
// entry), the consent service or the MPI down (fail closed), and holders whose clocks
// are off (grant expiry within the stated 30 s tolerance).
#include <signal.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "proto/hie/v1/audit.grpc.pb.h"
#include "tests/integration/exchange_fixture.h"
#include "tests/integration/fault_proxy.h"

namespace hie::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

std::map<std::string, hie::v1::HolderStatus> ByOrg(const QueryOutcome& q) {
  std::map<std::string, hie::v1::HolderStatus> by_org;
  for (const auto& h : q.holders) by_org[h.org_id()] = h;
  return by_org;
}

// org-b is enrolled at a proxy's address, so the network to it can misbehave.
class FaultyNetworkTest : public FederatedQueryTest {
 protected:
  std::string HolderEndpoint(int holder_port) override {
    auto proxy = FaultProxy::Start(holder_port);
    EXPECT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(*proxy);
    return absl::StrCat("127.0.0.1:", proxy_->port());
  }
  void TearDown() override {
    proxy_.reset();
    FederatedQueryTest::TearDown();
  }

  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(FaultyNetworkTest, ThroughAHealthyProxyEverythingArrives) {
  QueryOutcome q = Query("TREAT");
  ASSERT_TRUE(q.status.ok()) << q.status.error_message();
  EXPECT_EQ(ByOrg(q)["org-b"].state(), hie::v1::HolderStatus::STATE_OK);
  EXPECT_EQ(q.result.entries(), 4);
  EXPECT_GT(proxy_->connections_accepted(), 0);  // it really went through the proxy
}

TEST_F(FaultyNetworkTest, ASlowHolderStillAnswersWithinItsDeadline) {
  proxy_->SetMode(FaultProxy::Mode::kDelay, absl::Milliseconds(40));
  QueryOutcome q = Query("TREAT", 5000);
  ASSERT_TRUE(q.status.ok()) << q.status.error_message();
  EXPECT_EQ(ByOrg(q)["org-b"].state(), hie::v1::HolderStatus::STATE_OK);
  EXPECT_EQ(ByOrg(q)["org-b"].records(), 2);
  EXPECT_EQ(q.result.entries(), 4);
  EXPECT_GE(q.elapsed, absl::Milliseconds(80));  // a TLS handshake at least, both ways
}

TEST_F(FaultyNetworkTest, AHolderSlowerThanTheDeadlineIsCutAndTheRestArrives) {
  proxy_->SetMode(FaultProxy::Mode::kDelay, absl::Milliseconds(1500));
  QueryOutcome q = Query("TREAT", 800);
  ASSERT_TRUE(q.status.ok()) << q.status.error_message();
  EXPECT_EQ(ByOrg(q)["org-b"].state(), hie::v1::HolderStatus::STATE_TIMED_OUT);
  EXPECT_EQ(q.result.entries(), 2);  // this practice's own records
  EXPECT_LT(q.elapsed, absl::Seconds(3));
}

TEST_F(FaultyNetworkTest, AFrozenNetworkIsCutAtTheDeadlineAndTheThawedOneServesAgain) {
  proxy_->SetMode(FaultProxy::Mode::kFreeze);
  QueryOutcome frozen = Query("TREAT", 800);
  ASSERT_TRUE(frozen.status.ok()) << frozen.status.error_message();
  EXPECT_EQ(ByOrg(frozen)["org-b"].state(), hie::v1::HolderStatus::STATE_TIMED_OUT);
  EXPECT_LT(frozen.elapsed, absl::Seconds(3));
  proxy_->SetMode(FaultProxy::Mode::kPass);
  QueryOutcome thawed = Query("TREAT", 5000);
  ASSERT_TRUE(thawed.status.ok()) << thawed.status.error_message();
  EXPECT_EQ(ByOrg(thawed)["org-b"].state(), hie::v1::HolderStatus::STATE_OK);
  EXPECT_EQ(thawed.result.entries(), 4);
}

TEST_F(FaultyNetworkTest, AHolderAnsweringGarbageCostsOnlyItsOwnResults) {
  proxy_->SetMode(FaultProxy::Mode::kGarbage);
  QueryOutcome q = Query("TREAT", 2000);
  ASSERT_TRUE(q.status.ok()) << q.status.error_message();
  hie::v1::HolderStatus b = ByOrg(q)["org-b"];
  EXPECT_THAT(b.state(),
              AnyOf(hie::v1::HolderStatus::STATE_UNREACHABLE, hie::v1::HolderStatus::STATE_FAILED));
  EXPECT_FALSE(b.message().empty());
  EXPECT_EQ(b.records(), 0);
  EXPECT_EQ(q.result.entries(), 2);
  EXPECT_LT(q.elapsed, absl::Seconds(4));
}

TEST_F(FaultyNetworkTest, AHolderDroppingEveryConnectionIsUnreachable) {
  proxy_->SetMode(FaultProxy::Mode::kDrop);
  QueryOutcome q = Query("TREAT", 2000);
  ASSERT_TRUE(q.status.ok()) << q.status.error_message();
  EXPECT_THAT(ByOrg(q)["org-b"].state(), AnyOf(hie::v1::HolderStatus::STATE_UNREACHABLE,
                                               hie::v1::HolderStatus::STATE_TIMED_OUT));
  EXPECT_EQ(q.result.entries(), 2);
  EXPECT_LT(q.elapsed, absl::Seconds(4));
}

TEST_F(FederatedQueryTest, AFrozenHolderResumedServesTheNextQuery) {
  ASSERT_EQ(kill(processes_.at("node-b").pid(), SIGSTOP), 0);
  QueryOutcome frozen = Query("TREAT", 800);
  ASSERT_EQ(kill(processes_.at("node-b").pid(), SIGCONT), 0);
  ASSERT_TRUE(frozen.status.ok()) << frozen.status.error_message();
  EXPECT_EQ(ByOrg(frozen)["org-b"].state(), hie::v1::HolderStatus::STATE_TIMED_OUT);
  QueryOutcome resumed = Query("TREAT", 5000);
  ASSERT_TRUE(resumed.status.ok()) << resumed.status.error_message();
  EXPECT_EQ(ByOrg(resumed)["org-b"].state(), hie::v1::HolderStatus::STATE_OK);
  EXPECT_EQ(resumed.result.entries(), 4);
}

TEST_F(FederatedQueryTest, WithTheConsentServiceDownAQueryFailsClosed) {
  ASSERT_TRUE(processes_.at("consent").Stop(SIGKILL, absl::Seconds(5)).ok());
  QueryOutcome q = Query("TREAT");
  EXPECT_EQ(q.status.error_code(), grpc::StatusCode::UNAVAILABLE) << q.status.error_message();
  EXPECT_THAT(q.status.error_message(), HasSubstr("consent"));
  EXPECT_TRUE(q.holders.empty());  // no holder asked, not even this practice's own store
  EXPECT_EQ(q.result.entries(), 0);
}

TEST_F(FederatedQueryTest, WithTheMpiDownAQueryFailsClosed) {
  ASSERT_TRUE(processes_.at("mpi").Stop(SIGKILL, absl::Seconds(5)).ok());
  QueryOutcome q = Query("TREAT");
  EXPECT_EQ(q.status.error_code(), grpc::StatusCode::UNAVAILABLE) << q.status.error_message();
  EXPECT_TRUE(q.holders.empty());
  EXPECT_EQ(q.result.entries(), 0);
}

// The holder's disk fills up: it runs with RLIMIT_FSIZE (prlimit --fsize) and SIGXFSZ
// ignored, so once its store's log reaches the limit every write fails with EFBIG, as
// writes to a full disk fail with ENOSPC. Fetch after fetch is audited until the audit
// entry can no longer be written; from then on nothing is disclosed.
class FullDiskTest : public ExchangeTest {
 protected:
  void SetUp() override {
    // Inherited through fork and exec by the daemons: a write past the limit fails
    // instead of killing the writer.
    previous_ = signal(SIGXFSZ, SIG_IGN);
    launch_prefix_["node-b"] = {"/usr/bin/env", "prlimit", "--fsize=65536"};
    ExchangeTest::SetUp();
  }
  void TearDown() override {
    ExchangeTest::TearDown();
    signal(SIGXFSZ, previous_);
  }

  sighandler_t previous_ = SIG_DFL;
};

TEST_F(FullDiskTest, NoDisclosureWithoutItsAuditEntry) {
  int served = 0;
  grpc::Status refused;
  std::vector<hie::v1::RecordEnvelope> records;
  for (int i = 0; i < 2000; ++i) {
    records.clear();
    hie::v1::FetchSummary summary;
    grpc::Status status = Fetch("node-a", Grant(), &records, &summary);
    if (!status.ok()) {
      refused = status;
      break;
    }
    ASSERT_EQ(records.size(), 2u);
    ++served;
  }
  ASSERT_FALSE(refused.ok()) << "the holder's disk never filled up";
  EXPECT_THAT(refused.error_code(),
              AnyOf(grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::INTERNAL));
  EXPECT_THAT(refused.error_message(), HasSubstr("audit"));
  EXPECT_TRUE(records.empty()) << records.size() << " records left without an audit entry";

  // Space again, and a restart: the chain is intact and holds a disclosure for each
  // fetch that was served. The refused fetch's entry may be there too: it was written
  // before its sync failed. The audit may name one disclosure too many, never one too few.
  launch_prefix_.erase("node-b");
  processes_.erase("node-b");
  int port = StartDaemon("node-b");
  ASSERT_GT(port, 0);
  auto audit = hie::v1::AuditLog::NewStub(ChannelAs("operator", port));
  grpc::ClientContext context;
  hie::v1::VerifyAuditResponse verified;
  ASSERT_TRUE(audit->Verify(&context, {}, &verified).ok());
  EXPECT_TRUE(verified.ok()) << verified.problem();
  grpc::ClientContext query_context;
  hie::v1::QueryByPatientRequest query;
  query.mutable_local()->set_org_id("org-b");
  query.mutable_local()->set_local_id("B1");
  query.set_action(hie::v1::AUDIT_ACTION_DISCLOSE);
  auto reader = audit->QueryByPatient(&query_context, query);
  hie::v1::AuditEntry entry;
  int disclosures = 0;
  while (reader->Read(&entry)) ++disclosures;
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_GE(disclosures, served);
  EXPECT_LE(disclosures, served + 1);
  std::cout << "[ full     ] " << served << " fetches served and audited before the disk filled\n";
}

// The holder runs under faketime: its clock is off by `offset` from everyone else's.
// Grants live 5 minutes; holders allow 30 s of skew either way.
class ClockSkewTest : public ExchangeTest, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    std::string library = FakeTimeLibrary();
    if (library.empty()) {
      GTEST_SKIP() << "libfaketime is not installed (scripts/install-deps.sh installs it)";
    }
    // Preloaded directly, not through the faketime wrapper, which forks: the daemon stays
    // the process this test started and can stop.
    launch_prefix_["node-b"] = {"/usr/bin/env", "LD_PRELOAD=" + library,
                                absl::StrCat("FAKETIME=", GetParam()),
                                "FAKETIME_DONT_FAKE_MONOTONIC=1"};
    ExchangeTest::SetUp();
  }

  // Debian's libfaketime for threaded programs, under the machine's multiarch directory.
  static std::string FakeTimeLibrary() {
    std::error_code ec;
    for (const auto& dir : fs::directory_iterator("/usr/lib", ec)) {
      fs::path candidate = dir.path() / "faketime" / "libfaketimeMT.so.1";
      if (fs::exists(candidate, ec)) return candidate.string();
    }
    return "";
  }

  grpc::Status FetchOnce(std::vector<hie::v1::RecordEnvelope>* records) {
    hie::v1::FetchSummary summary;
    return Fetch("node-a", Grant(), records, &summary);
  }
};

class WithinToleranceTest : public ClockSkewTest {};
INSTANTIATE_TEST_SUITE_P(Skews, WithinToleranceTest, ::testing::Values("+20s", "-20s"));

TEST_P(WithinToleranceTest, AHolderWhoseClockIsOffBySecondsAcceptsTheGrant) {
  std::vector<hie::v1::RecordEnvelope> records;
  grpc::Status status = FetchOnce(&records);
  ASSERT_TRUE(status.ok()) << GetParam() << ": " << status.error_message();
  EXPECT_EQ(records.size(), 2u);
}

class BeyondToleranceTest : public ClockSkewTest {};
INSTANTIATE_TEST_SUITE_P(Skews, BeyondToleranceTest, ::testing::Values("-2m", "+6m"));

TEST_P(BeyondToleranceTest, AHolderWhoseClockIsOffByMinutesRefusesTheGrantSayingWhy) {
  std::vector<hie::v1::RecordEnvelope> records;
  grpc::Status status = FetchOnce(&records);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << GetParam();
  EXPECT_THAT(status.error_message(), AnyOf(HasSubstr("expired"), HasSubstr("skew")));
  EXPECT_TRUE(records.empty());
}

}  // namespace
}  // namespace hie::testing
