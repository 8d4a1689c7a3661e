// Witnessed audit checkpoints on real daemons, each test an attack: a node's audit store
// rewritten or cut while it is stopped is found by `hiectl audit verify` after restart,
// at the first bad entry; a witness refuses a checkpoint of another party or signed by
// another key, and a fork, and audits each refusal.
#include <signal.h>

#include <atomic>
#include <thread>

#include "common/audit/audit_log.h"
#include "common/audit/audit_log_internal.h"
#include "common/audit/checkpoint.h"
#include "common/crypto/hash.h"
#include "common/store/key_codec.h"
#include "common/store/kv_store.h"
#include "proto/hie/v1/audit.grpc.pb.h"
#include "tests/integration/daemon_fixture.h"

namespace hie::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kCheckpointsEverySecond[] =
    "  audit_checkpoints { interval_seconds: 1 every_entries: 4 }\n";

class AuditWitnessTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    mpi_port_ = StartWitnessed("mpi");
    ASSERT_GT(mpi_port_, 0);
    mpi_address_ = absl::StrCat("127.0.0.1:", mpi_port_);
    consent_port_ = StartWitnessed("consent");
    ASSERT_GT(consent_port_, 0);
    consent_address_ = absl::StrCat("127.0.0.1:", consent_port_);
  }

  // StartDaemon with checkpoints signed every second (or every 4 entries).
  int StartWitnessed(const std::string& name) {
    std::string text = ConfigText(name);
    text.replace(text.find("server {\n"), 9, absl::StrCat("server {\n", kCheckpointsEverySecond));
    std::string config = WriteConfig(name, text);
    fs::remove(Path(name + ".port"));
    auto process = ChildProcess::Start(
        {BinDir() + "/" + Instances().at(name).binary, "--config", config}, Log(name));
    EXPECT_TRUE(process.ok());
    if (!process.ok()) return 0;
    processes_.erase(name);
    processes_.emplace(name, std::move(*process));
    auto port = WaitForPortFile(Path(name + ".port"), absl::Seconds(30));
    EXPECT_TRUE(port.ok()) << port.status() << "\nlog:\n" << ReadWholeFile(Log(name));
    return port.ok() ? *port : 0;
  }

  void Stop(const std::string& name) {
    auto stopped = processes_.at(name).Stop(SIGTERM, absl::Seconds(30));
    ASSERT_TRUE(stopped.ok()) << stopped.status();
    processes_.erase(name);
  }

  // Appends `n` entries to the audit of the daemon on `port`, as the operator.
  void AppendEntries(int port, int n) {
    auto audit = hie::v1::AuditLog::NewStub(ChannelAs("operator", port));
    for (int i = 0; i < n; ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      hie::v1::AppendAuditRequest request;
      request.mutable_entry()->set_action(hie::v1::AUDIT_ACTION_DISCLOSE);
      request.mutable_entry()->set_counterpart_org("org-b");
      request.mutable_entry()->set_detail(absl::StrCat("disclosed ", i + 1, " records"));
      hie::v1::AuditEntry appended;
      grpc::Status s = audit->Append(&context, request, &appended);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }

  // The highest size of `org`'s (role `role`) chain that the witness on `port` holds.
  uint64_t WitnessedSize(int port, const std::string& org, const std::string& role) {
    auto witness = hie::v1::AuditWitness::NewStub(ChannelAs("operator", port));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    hie::v1::ListCheckpointsRequest request;
    request.set_org_id(org);
    request.set_role(role);
    auto reader = witness->ListCheckpoints(&context, request);
    hie::v1::SignedCheckpoint held;
    uint64_t size = 0;
    while (reader->Read(&held)) {
      hie::v1::AuditCheckpoint c;
      if (c.ParseFromString(held.checkpoint())) size = std::max(size, c.size());
    }
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return size;
  }

  // Waits (bounded) until both witnesses hold org-a's node chain up to `size`.
  void AwaitWitnessed(uint64_t size) {
    absl::Time deadline = absl::Now() + absl::Seconds(60);
    while ((WitnessedSize(consent_port_, "org-a", "node") < size ||
            WitnessedSize(mpi_port_, "org-a", "node") < size) &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(200));
    }
    ASSERT_GE(WitnessedSize(consent_port_, "org-a", "node"), size);
    ASSERT_GE(WitnessedSize(mpi_port_, "org-a", "node"), size);
  }

  // The audit entries in the (stopped) daemon's store at `store_dir`.
  std::vector<hie::v1::AuditEntry> StoredEntries(const std::string& store_dir) {
    std::vector<hie::v1::AuditEntry> out;
    auto store = store::KvStore::Open(store_dir);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return out;
    std::string prefix = store::KeyBuilder().AddString("audit").AddString("e").Build();
    EXPECT_TRUE((*store)
                    ->ScanPrefix(prefix,
                                 [&](absl::string_view, absl::string_view stored) {
                                   std::string hash;
                                   absl::string_view body;
                                   hie::v1::AuditEntry e;
                                   if (audit::internal::DecodeStored(stored, &hash, &body) &&
                                       e.ParseFromArray(body.data(), body.size())) {
                                     out.push_back(e);
                                   }
                                   return true;
                                 })
                    .ok());
    return out;
  }

  std::vector<hie::v1::AuditEntry> CheckpointRefusals(const std::string& store_dir) {
    std::vector<hie::v1::AuditEntry> out;
    for (auto& e : StoredEntries(store_dir)) {
      if (e.action() == hie::v1::AUDIT_ACTION_CHECKPOINT) out.push_back(e);
    }
    return out;
  }

  CommandResult Verify(int port) { return HiectlAs("operator", port, {"audit", "verify"}); }

  hie::v1::SignedCheckpoint Checkpoint(const std::string& org, uint64_t size, char fill,
                                       const std::string& signer) {
    hie::v1::AuditCheckpoint c;
    c.set_org_id(org);
    c.set_role("node");
    c.set_from_size(0);
    c.set_size(size);
    for (uint64_t i = 0; i < size; ++i) c.add_entry_hashes(std::string(64, fill));
    c.set_head_hash(std::string(64, fill));
    hie::v1::SignedCheckpoint s;
    s.set_checkpoint(c.SerializeAsString());
    std::string key = ReadWholeFile(Path("certs/" + signer + ".key"));
    auto signature = audit::SignWithKey(key, s.checkpoint());
    EXPECT_TRUE(signature.ok()) << signature.status();
    s.set_signature(signature.ok() ? *signature : "");
    return s;
  }

  grpc::Status Deposit(const std::string& who, int port, const hie::v1::SignedCheckpoint& s) {
    auto witness = hie::v1::AuditWitness::NewStub(ChannelAs(who, port));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    hie::v1::DepositCheckpointRequest request;
    *request.mutable_checkpoint() = s;
    hie::v1::DepositCheckpointResponse response;
    return witness->Deposit(&context, request, &response);
  }

  int mpi_port_ = 0;
  int consent_port_ = 0;
};

// With the node stopped, entry 5 is edited and every entry after it re-hashed, head
// included, and the node's own checkpoints deleted: the chain is consistent on its own,
// but the witnesses' checkpoints name entry 5; the re-checkpointed history is refused
// by the witnesses as a fork, and audited there.
TEST_F(AuditWitnessTest, StoreRewrittenWhileStoppedIsFoundAtTheFirstBadEntry) {
  int node = StartWitnessed("node");
  ASSERT_GT(node, 0);
  AppendEntries(node, 12);
  AwaitWitnessed(12);
  CommandResult before = Verify(node);
  ASSERT_EQ(before.exit_code, 0) << before.out << before.err;
  EXPECT_THAT(before.out, HasSubstr("witnessed up to entry 12"));
  // What the consent service holds for org-a, read there by the operator.
  CommandResult listed = HiectlAs("operator", consent_port_,
                                  {"audit", "checkpoints", "--org", "org-a", "--role", "node"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("entries 1.."));
  Stop("node");

  {  // The attacker, with the real LevelDB and the stored format.
    auto store = store::KvStore::Open(Path("data/node/records"));
    ASSERT_TRUE(store.ok()) << store.status();
    auto log = audit::AuditLog::Open(store->get(), Clock::Real());
    ASSERT_TRUE(log.ok());
    uint64_t size = (*log)->size();
    ASSERT_EQ(size, 12u);
    auto fourth = (*store)->Get(audit::internal::EntryKey("audit", 4));
    ASSERT_TRUE(fourth.ok());
    std::string prev = fourth->substr(0, 64);
    for (uint64_t i = 5; i <= size; ++i) {
      auto stored = (*store)->Get(audit::internal::EntryKey("audit", i));
      ASSERT_TRUE(stored.ok());
      hie::v1::AuditEntry entry;
      ASSERT_TRUE(entry.ParseFromString(stored->substr(64)));
      if (i == 5) entry.set_detail("disclosed 0 records");
      entry.set_prev_hash(prev);
      std::string body = entry.SerializeAsString();
      prev = crypto::Sha256Hex(body);
      ASSERT_TRUE((*store)
                      ->Put(audit::internal::EntryKey("audit", i),
                            audit::internal::EncodeStored(prev, body))
                      .ok());
    }
    ASSERT_TRUE((*store)
                    ->Put(audit::internal::HeadKey("audit"), audit::internal::HeadValue(size, prev))
                    .ok());
    std::vector<std::string> own;
    std::string checkpoints = store::KeyBuilder().AddString("audit").AddString("c").Build();
    ASSERT_TRUE((*store)
                    ->ScanPrefix(checkpoints,
                                 [&](absl::string_view key, absl::string_view) {
                                   own.emplace_back(key);
                                   return true;
                                 })
                    .ok());
    EXPECT_FALSE(own.empty()) << "the node keeps its own checkpoints";
    for (const std::string& key : own) ASSERT_TRUE((*store)->Delete(key).ok());
    log->reset();
    auto alone = audit::AuditLog::Open(store->get(), Clock::Real());
    ASSERT_TRUE(alone.ok());
    auto report = (*alone)->Verify();
    ASSERT_TRUE(report.ok());
    ASSERT_TRUE(report->ok) << "the rewrite must be consistent on its own";
  }

  node = StartWitnessed("node");
  ASSERT_GT(node, 0);
  CommandResult after = Verify(node);
  EXPECT_EQ(after.exit_code, 1) << after.out << after.err;
  EXPECT_THAT(after.err, HasSubstr("BROKEN at entry 5: rewritten"));
  EXPECT_THAT(after.out, ::testing::Not(HasSubstr("intact")));

  // The restarted node checkpoints its rewritten history anew; the witnesses refuse it as
  // a fork and audit the refusal.
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline &&
         ReadWholeFile(Log("node")).find("refused by witness consent") == std::string::npos) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_THAT(ReadWholeFile(Log("node")), HasSubstr("refused by witness consent"));
  Stop("consent");
  std::vector<hie::v1::AuditEntry> refusals = CheckpointRefusals(Path("data/consent/store"));
  ASSERT_FALSE(refusals.empty());
  EXPECT_EQ(refusals.front().counterpart_org(), "org-a");
  EXPECT_EQ(refusals.front().outcome(), "refused");
  EXPECT_THAT(refusals.front().detail(), HasSubstr("fork"));
  EXPECT_THAT(refusals.front().detail(), HasSubstr("entry 5"));
}

// The stopped node's store loses entries 7-9, and its head is rewritten to entry 6:
// the chain is consistent on its own.
void CutTailAfterSix(const std::string& records_dir) {
  auto store = store::KvStore::Open(records_dir);
  ASSERT_TRUE(store.ok()) << store.status();
  for (uint64_t i = 7; i <= 9; ++i) {
    ASSERT_TRUE((*store)->Delete(audit::internal::EntryKey("audit", i)).ok());
  }
  auto sixth = (*store)->Get(audit::internal::EntryKey("audit", 6));
  ASSERT_TRUE(sixth.ok());
  ASSERT_TRUE((*store)
                  ->Put(audit::internal::HeadKey("audit"),
                        audit::internal::HeadValue(6, sixth->substr(0, 64)))
                  .ok());
}

// With the node stopped, the last entries are deleted and the head rewritten to the new
// last entry: the chain verifies on its own; the witnesses show the cut.
TEST_F(AuditWitnessTest, TruncatedTailWithRewrittenHeadIsFound) {
  int node = StartWitnessed("node");
  ASSERT_GT(node, 0);
  AppendEntries(node, 9);
  AwaitWitnessed(9);
  Stop("node");
  ASSERT_NO_FATAL_FAILURE(CutTailAfterSix(Path("data/node/records")));
  node = StartWitnessed("node");
  ASSERT_GT(node, 0);
  CommandResult after = Verify(node);
  EXPECT_EQ(after.exit_code, 1) << after.out << after.err;
  EXPECT_THAT(after.err, HasSubstr("BROKEN at entry 7: truncated"));
  CommandResult json = HiectlAs("operator", node, {"audit", "verify", "--json"});
  EXPECT_EQ(json.exit_code, 1);
  EXPECT_THAT(json.out, HasSubstr("\"first_bad_sequence\""));
}

// The attack of the truncated tail, with the witnesses kept out of reach: the MPI is
// stopped and the consent service frozen (SIGSTOP: it accepts, never answers). The cut
// chain is consistent on its own, so verify may not say intact: it says UNVERIFIED,
// names both witnesses and exits 1; --json says "witnessed": false.
TEST_F(AuditWitnessTest, UnreachableWitnessesMakeVerifyUnverifiedNeverIntact) {
  int node = StartWitnessed("node");
  ASSERT_GT(node, 0);
  AppendEntries(node, 9);
  AwaitWitnessed(9);
  Stop("node");
  ASSERT_NO_FATAL_FAILURE(CutTailAfterSix(Path("data/node/records")));
  Stop("mpi");
  pid_t consent = processes_.at("consent").pid();
  ASSERT_EQ(kill(consent, SIGSTOP), 0);
  node = StartWitnessed("node");
  ASSERT_GT(node, 0);
  CommandResult after = Verify(node);
  CommandResult json = HiectlAs("operator", node, {"audit", "verify", "--json"});
  ASSERT_EQ(kill(consent, SIGCONT), 0);
  EXPECT_EQ(after.exit_code, 1) << after.out << after.err;
  EXPECT_THAT(after.out, ::testing::Not(HasSubstr("intact")));
  EXPECT_THAT(after.err, HasSubstr("audit chain UNVERIFIED: witness consent at"));
  EXPECT_THAT(after.err, HasSubstr("mpi at"));
  EXPECT_EQ(json.exit_code, 1) << json.out << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"witnessed\":false"));
  EXPECT_THAT(json.out, HasSubstr("\"unreachable\":[\"consent\", \"mpi\"]"));
  EXPECT_THAT(json.out, HasSubstr("\"problem\":\"unverified: witness consent, mpi"));
  EXPECT_THAT(json.out, ::testing::Not(HasSubstr("\"ok\":true")));
}

// org-b deposits a checkpoint naming org-a, and one naming itself signed with org-a's
// key: both refused at the witness, nothing kept, both audited.
TEST_F(AuditWitnessTest, DepositForAnotherPartyOrWithAnotherKeyIsRefusedAndAudited) {
  grpc::Status other_org = Deposit("node-b", consent_port_, Checkpoint("org-a", 2, 'a', "node-b"));
  EXPECT_EQ(other_org.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(other_org.error_message(), HasSubstr("its own"));
  grpc::Status other_key = Deposit("node-b", consent_port_, Checkpoint("org-b", 2, 'b', "node-a"));
  EXPECT_EQ(other_key.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(other_key.error_message(), HasSubstr("signature"));
  EXPECT_EQ(WitnessedSize(consent_port_, "org-a", "node"), 0u);
  EXPECT_EQ(WitnessedSize(consent_port_, "org-b", "node"), 0u);
  // A member may not read another's checkpoints either: it gets its own.
  Stop("consent");
  std::vector<hie::v1::AuditEntry> refusals = CheckpointRefusals(Path("data/consent/store"));
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[0].actor_org(), "org-b");
  EXPECT_THAT(refusals[0].detail(), HasSubstr("another party"));
  EXPECT_THAT(refusals[1].detail(), HasSubstr("bad signature"));
}

// A member deposits a checkpoint, then one that contradicts it (same entries, other
// hashes): the second is refused as a fork, kept as evidence, audited, and the first
// stays what the witness answers with.
TEST_F(AuditWitnessTest, ConflictingCheckpointIsRefusedAsAForkAndRecorded) {
  ASSERT_TRUE(Deposit("node-b", mpi_port_, Checkpoint("org-b", 3, 'a', "node-b")).ok());
  grpc::Status shorter = Deposit("node-b", mpi_port_, Checkpoint("org-b", 2, 'c', "node-b"));
  EXPECT_EQ(shorter.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(shorter.error_message(), HasSubstr("fork"));
  grpc::Status same_size = Deposit("node-b", mpi_port_, Checkpoint("org-b", 3, 'c', "node-b"));
  EXPECT_EQ(same_size.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(WitnessedSize(mpi_port_, "org-b", "node"), 3u);
  Stop("mpi");
  std::vector<hie::v1::AuditEntry> refusals = CheckpointRefusals(Path("data/mpi/index"));
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_THAT(refusals[0].detail(), HasSubstr("fork"));
  EXPECT_EQ(refusals[0].counterpart_org(), "org-b");
}

// An honest daemon killed (SIGKILL) while it appends and checkpoints, five times: after
// each restart its chain still matches everything its witnesses hold (a checkpoint never
// covers an entry the crash could take back), and checkpointing goes on.
TEST_F(AuditWitnessTest, SigkillUnderLoadLeavesAChainThatStillMatchesItsWitnesses) {
  int node = StartWitnessed("node");
  ASSERT_GT(node, 0);
  int appended = 0;
  for (int round = 0; round < 5; ++round) {
    std::atomic<bool> stop = false;
    std::thread writer([&, port = node] {
      auto audit = hie::v1::AuditLog::NewStub(ChannelAs("operator", port));
      while (!stop) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
        hie::v1::AppendAuditRequest request;
        request.mutable_entry()->set_action(hie::v1::AUDIT_ACTION_DISCLOSE);
        request.mutable_entry()->set_detail("load");
        hie::v1::AuditEntry out;
        if (audit->Append(&context, request, &out).ok()) {
          ++appended;
        } else {
          absl::SleepFor(absl::Milliseconds(20));
        }
      }
    });
    absl::SleepFor(absl::Milliseconds(400 + 150 * round));
    auto killed = processes_.at("node").Stop(SIGKILL, absl::Seconds(10));
    stop = true;
    writer.join();
    ASSERT_TRUE(killed.ok()) << killed.status();
    processes_.erase("node");
    node = StartWitnessed("node");
    ASSERT_GT(node, 0);
    CommandResult verified = Verify(node);
    ASSERT_EQ(verified.exit_code, 0) << "round " << round << "\n" << verified.out << verified.err;
  }
  EXPECT_GT(appended, 0);
  uint64_t witnessed = WitnessedSize(consent_port_, "org-a", "node");
  EXPECT_GT(witnessed, 0u);
  CommandResult verified = Verify(node);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  std::cout << "appended " << appended << " entries over 5 kills; witnessed up to entry "
            << witnessed << "\n";
}

// Checkpoint settings out of range stop a daemon at start, naming the field.
TEST_F(AuditWitnessTest, CheckpointSettingsOutOfRangeAreRefusedNamingTheField) {
  for (const std::string& bad :
       {std::string("every_entries: 0"), std::string("every_entries: 5000"),
        std::string("interval_seconds: 0")}) {
    std::string text = ConfigText("node");
    text.replace(text.find("server {\n"), 9,
                 absl::StrCat("server {\n  audit_checkpoints { ", bad, " }\n"));
    std::string config = WriteConfig("bad-node", text);
    CommandResult result = RunCommand({BinDir() + "/hie-node", "--config", config, "--check"});
    EXPECT_EQ(result.exit_code, 1) << bad;
    EXPECT_THAT(result.err, HasSubstr("server.audit_checkpoints." + bad.substr(0, bad.find(':'))))
        << bad;
  }
}

}  // namespace
}  // namespace hie::testing
