// Witnessed checkpoints: a chain rewritten or cut below a witnessed checkpoint is found
// at its first changed entry; witnesses refuse another party's checkpoints, bad
// signatures and forks, and audit each refusal; deposits survive a witness being down.
#include "common/audit/checkpoint.h"

#include <atomic>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/audit/audit_log_internal.h"
#include "common/crypto/hash.h"
#include "common/pki/ca.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::audit {
namespace {

namespace fs = std::filesystem;
using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::HasSubstr;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-checkpoint-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto ca = pki::CertificateAuthority::Init(dir_ + "/ca", pki::CaInitOptions{});
    ASSERT_THAT(ca, IsOk());
    ca_ = std::move(*ca);
    a_ = Issue("org-a", "node-a");
    b_ = Issue("org-b", "node-b");
    std::ofstream(dir_ + "/a.key") << a_.key_pem;
    auto party = store::KvStore::Open(dir_ + "/party");
    ASSERT_THAT(party, IsOk());
    party_store_ = std::move(*party);
    auto log = AuditLog::Open(party_store_.get(), &clock_);
    ASSERT_THAT(log, IsOk());
    log_ = std::move(*log);
    auto witness = store::KvStore::Open(dir_ + "/witness");
    ASSERT_THAT(witness, IsOk());
    witness_store_ = std::move(*witness);
    auto witness_log = AuditLog::Open(witness_store_.get(), &clock_);
    ASSERT_THAT(witness_log, IsOk());
    witness_log_ = std::move(*witness_log);
    witness_ = std::make_unique<WitnessStore>(witness_store_.get(), witness_log_.get(), &clock_);
  }
  void TearDown() override {
    checkpointer_.reset();
    log_.reset();
    witness_.reset();
    witness_log_.reset();
    party_store_.reset();
    witness_store_.reset();
    fs::remove_all(dir_);
  }

  pki::IssuedCertificate Issue(const std::string& org, const std::string& name) {
    pki::IssueOptions options;
    options.org_id = org;
    options.name = name;
    options.role = pki::Role::kNode;
    auto issued = ca_->Issue(options);
    EXPECT_THAT(issued, IsOk());
    return *issued;
  }

  void AppendMany(int n) {
    for (int i = 0; i < n; ++i) {
      hie::v1::AuditEntry entry;
      entry.set_action(hie::v1::AUDIT_ACTION_DISCLOSE);
      entry.set_detail(absl::StrCat("disclosed ", i));
      ASSERT_THAT(log_->Append(entry), IsOk());
    }
  }

  // A checkpointer for org-a depositing with the in-process witness (which can be "down").
  void StartCheckpointer(uint64_t every_entries = 5) {
    CheckpointerOptions options;
    options.self = {"org-a", "node"};
    options.key_file = dir_ + "/a.key";
    options.every_entries = every_entries;
    options.interval = absl::Hours(1);
    Witness w{"consent", "in-process", [this](const hie::v1::SignedCheckpoint& c) {
                if (witness_down_) return absl::UnavailableError("witness down");
                return witness_->Deposit({"org-a", "node"}, a_.cert_pem, c).status();
              }};
    auto checkpointer = Checkpointer::Start(log_.get(), &clock_, options, {w});
    ASSERT_THAT(checkpointer, IsOk());
    checkpointer_ = std::move(*checkpointer);
  }

  std::vector<hie::v1::AuditCheckpoint> Witnessed() {
    std::vector<hie::v1::AuditCheckpoint> out;
    auto held = witness_->List({"org-a", "node"});
    EXPECT_THAT(held, IsOk());
    for (const auto& s : *held) {
      auto parsed = ParseCheckpoint(s.checkpoint());
      EXPECT_THAT(parsed, IsOk());
      out.push_back(*parsed);
    }
    return out;
  }

  // The attacker with the stopped party's store: edits entry `at` and re-hashes every
  // entry after it, head included, so that the chain verifies on its own.
  void RewriteFrom(uint64_t at) {
    uint64_t size = log_->size();
    std::string prev = at == 1 ? AuditLog::GenesisHash() : "";
    if (at > 1) {
      auto stored = party_store_->Get(internal::EntryKey("audit", at - 1));
      ASSERT_THAT(stored, IsOk());
      prev = stored->substr(0, 64);
    }
    for (uint64_t i = at; i <= size; ++i) {
      auto stored = party_store_->Get(internal::EntryKey("audit", i));
      ASSERT_THAT(stored, IsOk());
      hie::v1::AuditEntry entry;
      ASSERT_TRUE(entry.ParseFromString(stored->substr(64)));
      if (i == at) entry.set_detail("nothing disclosed");
      entry.set_prev_hash(prev);
      std::string body = entry.SerializeAsString();
      prev = crypto::Sha256Hex(body);
      ASSERT_THAT(
          party_store_->Put(internal::EntryKey("audit", i), internal::EncodeStored(prev, body)),
          IsOk());
    }
    ASSERT_THAT(party_store_->Put(internal::HeadKey("audit"), internal::HeadValue(size, prev)),
                IsOk());
  }

  void ReopenLog() {
    checkpointer_.reset();
    log_.reset();
    auto log = AuditLog::Open(party_store_.get(), &clock_);
    ASSERT_THAT(log, IsOk());
    log_ = std::move(*log);
  }

  std::string dir_;
  hie::testing::FakeClock clock_;
  std::unique_ptr<pki::CertificateAuthority> ca_;
  pki::IssuedCertificate a_, b_;
  std::unique_ptr<store::KvStore> party_store_, witness_store_;
  std::unique_ptr<AuditLog> log_, witness_log_;
  std::unique_ptr<WitnessStore> witness_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::atomic<bool> witness_down_ = false;
};

TEST_F(CheckpointTest, SignatureVerifiesWithTheSignersCertificateOnly) {
  auto signature = SignWithKey(a_.key_pem, "head");
  ASSERT_THAT(signature, IsOk());
  EXPECT_THAT(VerifyWithCertificate(a_.cert_pem, "head", *signature), IsOk());
  EXPECT_THAT(VerifyWithCertificate(b_.cert_pem, "head", *signature),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(VerifyWithCertificate(a_.cert_pem, "head!", *signature),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(CheckpointTest, CheckpointsCoverEveryEntryAndReachTheWitness) {
  StartCheckpointer();
  AppendMany(12);
  ASSERT_THAT(checkpointer_->RunOnceForTest(), IsOk());
  std::vector<hie::v1::AuditCheckpoint> held = Witnessed();
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(held.back().size(), 12u);
  uint64_t next = 0;
  for (const auto& c : held) {
    EXPECT_EQ(c.from_size(), next);
    EXPECT_EQ(c.org_id(), "org-a");
    next = c.size();
  }
  auto report = log_->VerifyAgainst(held);
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->ok) << report->detail;
  EXPECT_EQ(report->witnessed_size, 12u);
}

TEST_F(CheckpointTest, AWitnessDownGetsEveryCheckpointLaterInOrder) {
  witness_down_ = true;
  StartCheckpointer();
  AppendMany(7);
  EXPECT_THAT(checkpointer_->RunOnceForTest(), StatusIs(absl::StatusCode::kUnavailable));
  // A restart keeps the outbox.
  ReopenLog();
  AppendMany(3);
  StartCheckpointer();
  witness_down_ = false;
  ASSERT_THAT(checkpointer_->RunOnceForTest(), IsOk());
  std::vector<hie::v1::AuditCheckpoint> held = Witnessed();
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(held.front().from_size(), 0u);
  EXPECT_EQ(held.back().size(), 10u);
}

TEST_F(CheckpointTest, RewriteBelowAWitnessedCheckpointIsFoundAtItsFirstEntry) {
  StartCheckpointer();
  AppendMany(20);
  ASSERT_THAT(checkpointer_->RunOnceForTest(), IsOk());
  ReopenLog();
  RewriteFrom(7);
  ReopenLog();
  auto alone = log_->Verify();
  ASSERT_THAT(alone, IsOk());
  EXPECT_TRUE(alone->ok) << "the rewrite is consistent on its own";
  auto report = log_->VerifyAgainst(Witnessed());
  ASSERT_THAT(report, IsOk());
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->first_bad_sequence, 7u);
  EXPECT_EQ(report->problem, "rewritten");
}

TEST_F(CheckpointTest, TruncatedTailWithRewrittenHeadIsFound) {
  StartCheckpointer();
  AppendMany(15);
  ASSERT_THAT(checkpointer_->RunOnceForTest(), IsOk());
  ReopenLog();
  for (uint64_t i = 11; i <= 15; ++i) {
    ASSERT_THAT(party_store_->Delete(internal::EntryKey("audit", i)), IsOk());
  }
  auto tenth = party_store_->Get(internal::EntryKey("audit", 10));
  ASSERT_THAT(tenth, IsOk());
  ASSERT_THAT(
      party_store_->Put(internal::HeadKey("audit"), internal::HeadValue(10, tenth->substr(0, 64))),
      IsOk());
  ReopenLog();
  auto report = log_->VerifyAgainst(Witnessed());
  ASSERT_THAT(report, IsOk());
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->first_bad_sequence, 11u);
  EXPECT_EQ(report->problem, "truncated");
}

TEST_F(CheckpointTest, WitnessRefusesAnotherPartysCheckpointAndAuditsIt) {
  hie::v1::AuditCheckpoint c;
  c.set_org_id("org-a");
  c.set_role("node");
  c.set_from_size(0);
  c.set_size(1);
  std::string h(64, 'a');
  c.set_head_hash(h);
  c.add_entry_hashes(h);
  hie::v1::SignedCheckpoint s;
  s.set_checkpoint(c.SerializeAsString());
  // Signed by org-b's key, deposited by org-b over its own connection, naming org-a.
  s.set_signature(*SignWithKey(b_.key_pem, s.checkpoint()));
  EXPECT_THAT(witness_->Deposit({"org-b", "node"}, b_.cert_pem, s),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("its own")));
  // Naming itself but signed with org-b's key over org-a's connection.
  EXPECT_THAT(witness_->Deposit({"org-a", "node"}, a_.cert_pem, s),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("signature")));
  EXPECT_TRUE(witness_->List({"org-a", "node"})->empty());
  // Both refusals are in the witness's own audit.
  EXPECT_EQ(witness_log_->size(), 2u);
  auto refusals = witness_log_->EntryHashes(0, 2);
  EXPECT_THAT(refusals, IsOk());
}

TEST_F(CheckpointTest, WitnessRefusesAForkKeepsItAsEvidenceAndAuditsIt) {
  StartCheckpointer();
  AppendMany(10);
  ASSERT_THAT(checkpointer_->RunOnceForTest(), IsOk());
  std::vector<hie::v1::AuditCheckpoint> held = Witnessed();
  ASSERT_FALSE(held.empty());
  // Same range, one entry hash changed, properly signed by org-a.
  hie::v1::AuditCheckpoint forked = held.front();
  forked.set_entry_hashes(0, std::string(64, 'f'));
  if (forked.entry_hashes_size() == 1) forked.set_head_hash(std::string(64, 'f'));
  hie::v1::SignedCheckpoint s;
  s.set_checkpoint(forked.SerializeAsString());
  s.set_signature(*SignWithKey(a_.key_pem, s.checkpoint()));
  uint64_t audited = witness_log_->size();
  EXPECT_THAT(witness_->Deposit({"org-a", "node"}, a_.cert_pem, s),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("fork")));
  EXPECT_EQ(witness_->Forks({"org-a", "node"})->size(), 1u);
  EXPECT_EQ(witness_log_->size(), audited + 1);
  // The same checkpoint again is fine (a retried deposit).
  hie::v1::SignedCheckpoint again;
  again.set_checkpoint(held.front().SerializeAsString());
  again.set_signature(*SignWithKey(a_.key_pem, again.checkpoint()));
  EXPECT_THAT(witness_->Deposit({"org-a", "node"}, a_.cert_pem, again), IsOk());
}

}  // namespace
}  // namespace hie::audit
