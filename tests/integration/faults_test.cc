// Faults a federated query meets, with every daemon real: a holder behind a misbehaving
// network (a user-space proxy: slow, frozen, garbage, dropping), a holder that is
// frozen and resumed, a holder whose disk is full (no disclosure without its audit
// entry), the consent service or the MPI down (fail closed), and holders whose clocks
// are off (grant expiry within the stated 30 s tolerance).
#include <signal.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
  // Either the grant's use or the disclosure's audit entry could not be written first.
  EXPECT_THAT(refused.error_message(),
              AnyOf(HasSubstr("audit"), HasSubstr("use could not be recorded")));
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
    // In a sanitizer build the preload comes before the sanitizer's runtime, which it
    // would otherwise refuse. A preload the test itself runs under (the ThreadSanitizer
    // run's absl::Mutex annotations) is kept after it.
    std::string preload = library;
    if (const char* inherited = std::getenv("LD_PRELOAD"); inherited && *inherited) {
      absl::StrAppend(&preload, ":", inherited);
    }
    launch_prefix_["node-b"] = {
        "/usr/bin/env", "LD_PRELOAD=" + preload, absl::StrCat("FAKETIME=", GetParam()),
        "FAKETIME_DONT_FAKE_MONOTONIC=1", "ASAN_OPTIONS=verify_asan_link_order=0"};
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

// A network partition between hosts: the holder (org-b) runs in its own network
// namespace, joined to this one by a veth pair (a private /30 that never leaves the
// machine); the partition takes its side of the link down, so packets vanish
// silently, and healing brings it up again. Needs `ip netns` (root); skipped, saying
// why, where it is not available.
class PartitionTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    int id = getpid() % 100000;
    ns_ = absl::StrCat("hie-part-", id);
    host_if_ = absl::StrCat("hpa", id);
    ns_if_ = absl::StrCat("hpb", id);
    std::string net = absl::StrCat("10.213.", id % 250, ".");
    host_ip_ = net + "1";
    ns_ip_ = net + "2";
    CommandResult added = Ip({"netns", "add", ns_});
    if (added.exit_code != 0) {
      GTEST_SKIP() << "no network namespaces here (ip netns add: " << added.err
                   << "); a partition needs root and CAP_SYS_ADMIN";
    }
    created_ = true;
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"link", "add", host_if_, "type", "veth", "peer", "name", ns_if_},
             {"link", "set", ns_if_, "netns", ns_},
             {"addr", "add", host_ip_ + "/30", "dev", host_if_},
             {"link", "set", host_if_, "up"},
             {"netns", "exec", ns_, "ip", "addr", "add", ns_ip_ + "/30", "dev", ns_if_},
             {"netns", "exec", ns_, "ip", "link", "set", ns_if_, "up"},
             {"netns", "exec", ns_, "ip", "link", "set", "lo", "up"}}) {
      CommandResult r = Ip(args);
      ASSERT_EQ(r.exit_code, 0) << "ip " << absl::StrJoin(args, " ") << ": " << r.err;
    }
    // The consent service on this host's end of the link, the holder inside the namespace.
    listen_host_["consent"] = host_ip_;
    listen_host_["node-b"] = ns_ip_;
    launch_prefix_["node-b"] = {"/usr/bin/env", "ip", "netns", "exec", ns_};

    int mpi = StartDaemon("mpi");
    ASSERT_GT(mpi, 0);
    mpi_address_ = absl::StrCat("127.0.0.1:", mpi);
    int consent = StartDaemon("consent");
    ASSERT_GT(consent, 0);
    consent_address_ = absl::StrCat(host_ip_, ":", consent);
    holder_port_ = StartDaemon("node-b");
    ASSERT_GT(holder_port_, 0);
    requester_port_ = StartDaemon("node");
    ASSERT_GT(requester_port_, 0);
    Enroll(mpi, "org-a", absl::StrCat("127.0.0.1:", requester_port_));
    Enroll(mpi, "org-b", absl::StrCat(ns_ip_, ":", holder_port_));
    hie::v1::RegisterPatientResponse registered;
    ASSERT_TRUE(Register(MpiAs("node-a", mpi).get(), "A1", Jane(), &registered).ok());
    ASSERT_TRUE(Register(MpiAs("node-b", mpi).get(), "B1", Jane(), &registered).ok());
    std::string bundle = Path("b1.json");
    std::ofstream(bundle) << R"({"resourceType":"Bundle","type":"batch","entry":[
      {"resource":{"resourceType":"Patient","id":"B1"},"request":{"method":"PUT","url":"Patient/B1"}},
      {"resource":{"resourceType":"Observation","id":"b-o1","status":"final","code":{"text":"BP"},
        "subject":{"reference":"Patient/B1"}},"request":{"method":"PUT","url":"Observation/b-o1"}}]})";
    CommandResult imported = Hiectl(
        {"import", bundle, "--target", absl::StrCat(ns_ip_, ":", holder_port_), "--ca",
         Path("ca/ca.crt"), "--cert", Path("certs/node-b.crt"), "--key", Path("certs/node-b.key")});
    ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  }

  void TearDown() override {
    processes_.clear();  // the holder first: it lives in the namespace
    if (created_) {
      Ip({"link", "del", host_if_});  // takes its peer with it
      Ip({"netns", "del", ns_});
    }
    DaemonFixture::TearDown();
  }

  static CommandResult Ip(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", "ip"});
    return RunCommand(args, absl::Seconds(10));
  }

  // Org-b's state in a query from org-a, and how many entries came back.
  std::pair<hie::v1::HolderStatus::State, int> Query(int timeout_ms) {
    auto stub = hie::v1::FederatedQuery::NewStub(ChannelAs("node-a", requester_port_));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    hie::v1::QueryRequest request;
    request.set_local_patient_id("A1");
    request.set_purpose("TREAT");
    request.mutable_user()->set_user_id("dr.lee");
    request.set_holder_timeout_ms(timeout_ms);
    auto reader = stub->Query(&context, request);
    hie::v1::QueryEvent event;
    auto state = hie::v1::HolderStatus::STATE_UNSPECIFIED;
    int entries = -1;
    while (reader->Read(&event)) {
      if (event.has_holder() && event.holder().org_id() == "org-b") state = event.holder().state();
      if (event.has_result()) entries = event.result().entries();
    }
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {state, entries};
  }

  std::string ns_, host_if_, ns_if_, host_ip_, ns_ip_;
  bool created_ = false;
  int holder_port_ = 0;
  int requester_port_ = 0;
};

TEST_F(PartitionTest, APartitionedHolderIsCutAtTheDeadlineAndServesAgainWhenHealed) {
  auto [before, entries_before] = Query(5000);
  ASSERT_EQ(before, hie::v1::HolderStatus::STATE_OK);
  EXPECT_EQ(entries_before, 2);  // the holder's patient and observation

  ASSERT_EQ(Ip({"netns", "exec", ns_, "ip", "link", "set", ns_if_, "down"}).exit_code, 0);
  absl::Time start = absl::Now();
  auto [cut, entries_cut] = Query(1000);
  EXPECT_THAT(
      cut, AnyOf(hie::v1::HolderStatus::STATE_TIMED_OUT, hie::v1::HolderStatus::STATE_UNREACHABLE));
  EXPECT_EQ(entries_cut, 0);  // org-a holds no records of its own here
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));

  ASSERT_EQ(Ip({"netns", "exec", ns_, "ip", "link", "set", ns_if_, "up"}).exit_code, 0);
  // Reconnection backs off a little; a few queries, bounded, until the holder is back.
  auto healed = hie::v1::HolderStatus::STATE_UNSPECIFIED;
  for (int i = 0; i < 10 && healed != hie::v1::HolderStatus::STATE_OK; ++i) {
    healed = Query(3000).first;
  }
  EXPECT_EQ(healed, hie::v1::HolderStatus::STATE_OK);
}

}  // namespace
}  // namespace hie::testing
