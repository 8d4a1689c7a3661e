// The audit chain: each kind of tampering is found at the entry where it happened.
#include "common/audit/audit_log.h"

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/audit/audit_committer.h"
#include "common/audit/audit_search.h"
#include "common/crypto/hash.h"
#include "common/fhir/datetime.h"
#include "common/store/key_codec.h"
#include "common/testing/fake_clock.h"
#include "common/testing/fault_env.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::audit {
namespace {

namespace fs = std::filesystem;
using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using store::KeyBuilder;
using ::testing::ElementsAre;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-audit-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    log_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void Reopen() {
    log_.reset();
    store_.reset();
    auto store = store::KvStore::Open(dir_);
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
    auto log = AuditLog::Open(store_.get(), &clock_);
    ASSERT_THAT(log, IsOk());
    log_ = std::move(*log);
  }

  // Appends n disclosures; patient "p<i % 3>" at org-a.
  void AppendMany(int n) {
    for (int i = 0; i < n; ++i) {
      hie::v1::AuditEntry entry;
      entry.set_action(hie::v1::AUDIT_ACTION_DISCLOSE);
      entry.set_actor_org("org-b");
      entry.mutable_patient()->set_org_id("org-a");
      entry.mutable_patient()->set_local_id(absl::StrCat("p", i % 3));
      entry.set_query_id(absl::StrCat("q", i));
      entry.set_detail(absl::StrCat("disclosed ", i, " records"));
      ASSERT_THAT(log_->Append(entry), IsOk());
      clock_.Advance(absl::Seconds(1));
    }
  }

  std::string EntryKey(uint64_t sequence) {
    return KeyBuilder().AddString("audit").AddString("e").AddUint64(sequence).Build();
  }

  VerifyReport VerifyOrDie() {
    auto report = log_->Verify();
    EXPECT_THAT(report, IsOk());
    return report.ok() ? *report : VerifyReport{};
  }

  std::string dir_;
  testing::FakeClock clock_;
  std::unique_ptr<store::KvStore> store_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, IntactChainVerifies) {
  AppendMany(50);
  VerifyReport report = VerifyOrDie();
  EXPECT_TRUE(report.ok) << report.detail;
  EXPECT_EQ(report.entries_checked, 50u);
  EXPECT_EQ(report.head_hash.size(), 64u);
}

TEST_F(AuditLogTest, EmptyLogVerifies) {
  VerifyReport report = VerifyOrDie();
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.head_hash, AuditLog::GenesisHash());
}

// AuditEvent search over the chain: by patient, agent, subtype, date with prefixes, and
// pages whose cursor stays valid while the chain grows.
TEST_F(AuditLogTest, SearchFiltersAndPages) {
  AppendMany(6);  // disclosures by org-b about p0, p1, p2, p0, p1, p2
  clock_.Advance(absl::Hours(72));
  hie::v1::AuditEntry access;
  access.set_action(hie::v1::AUDIT_ACTION_ACCESS);
  access.set_actor_org("org-a");
  access.mutable_user()->set_user_id("dr-lee");
  access.set_interaction("create");
  access.mutable_patient()->set_org_id("org-a");
  access.mutable_patient()->set_local_id("p0");
  ASSERT_OK_AND_ASSIGN(hie::v1::AuditEntry seventh, log_->Append(access));

  auto run = [&](std::vector<std::pair<std::string, std::string>> params) {
    std::vector<uint64_t> sequences;
    absl::StatusOr<AuditSearch> search = ParseAuditSearch(params, "org-a");
    EXPECT_THAT(search, IsOk());
    if (!search.ok()) return sequences;
    absl::StatusOr<AuditPage> page = RunAuditSearch(*log_, *search);
    EXPECT_THAT(page, IsOk());
    for (const auto& e : page->entries) sequences.push_back(e.sequence());
    return sequences;
  };
  EXPECT_THAT(run({{"patient", "Patient/p0"}}), ElementsAre(1, 4, 7));
  EXPECT_THAT(run({{"agent", "dr-lee"}}), ElementsAre(7));
  EXPECT_THAT(run({{"agent", "Organization/org-b"}, {"patient", "p1"}}), ElementsAre(2, 5));
  EXPECT_THAT(run({{"subtype", "AUDIT_ACTION_ACCESS"}}), ElementsAre(7));
  EXPECT_THAT(run({{"action", "C"}}), ElementsAre(7));
  const absl::Time t7 = absl::FromUnixSeconds(seventh.time().seconds());
  const std::string day7 = absl::FormatTime("%Y-%m-%d", t7, absl::UTCTimeZone());
  EXPECT_THAT(run({{"date", "ge" + day7}}), ElementsAre(7));
  EXPECT_THAT(run({{"date", "lt" + day7}, {"patient", "p2"}}), ElementsAre(3, 6));
  EXPECT_THAT(run({{"date", day7}}), ElementsAre(7));

  // Pages of two, with an entry appended between pages: nothing twice, nothing skipped.
  std::vector<uint64_t> seen;
  AuditSearch search;
  search.count = 2;
  for (int page_no = 0; page_no < 10; ++page_no) {
    ASSERT_OK_AND_ASSIGN(AuditPage page, RunAuditSearch(*log_, search));
    for (const auto& e : page.entries) seen.push_back(e.sequence());
    if (page_no == 0) ASSERT_THAT(log_->Append(access), IsOk());
    if (page.next_after == 0) break;
    search.after = page.next_after;
  }
  EXPECT_THAT(seen, ElementsAre(1, 2, 3, 4, 5, 6, 7, 8));

  // What cannot be searched is refused, naming the parameter.
  EXPECT_THAT(ParseAuditSearch({{"date", "ap2025"}}, "org-a"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("date")));
  EXPECT_THAT(ParseAuditSearch({{"subtype", "AUDIT_ACTION_NOPE"}}, "org-a"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseAuditSearch({{"action", "X"}}, "org-a"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseAuditSearch({{"_count", "0"}}, "org-a"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseAuditSearch({{"entity", "x"}}, "org-a"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("\"entity\"")));
}

// Many requests at once hand entries to the committer: each is called back once its
// entries are durable, every entry is in the chain once, in one piece per request, and
// the chain verifies. Past its bound the committer refuses at once.
TEST_F(AuditLogTest, GroupCommitAppendsEveryRequestOnce) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::atomic<int> acknowledged{0};
  {
    AuditCommitter committer(log_.get());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::vector<hie::v1::AuditEntry> entries(2);
          for (int k = 0; k < 2; ++k) {
            entries[k].set_action(hie::v1::AUDIT_ACTION_ACCESS);
            entries[k].set_actor_org("org-a");
            entries[k].set_resource(absl::StrCat("Observation/", t, "-", i, "-", k));
          }
          committer.Append(std::move(entries), [&](absl::Status s) {
            EXPECT_THAT(s, IsOk());
            acknowledged++;
          });
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }  // the destructor commits what is still waiting
  EXPECT_EQ(acknowledged.load(), kThreads * kPerThread);
  EXPECT_EQ(log_->size(), static_cast<uint64_t>(kThreads * kPerThread * 2));
  // A request's two entries are consecutive.
  std::string previous;
  ASSERT_THAT(log_->ForEach(1,
                            [&](const hie::v1::AuditEntry& e) {
                              if (absl::EndsWith(e.resource(), "-1")) {
                                EXPECT_EQ(previous,
                                          e.resource().substr(0, e.resource().size() - 1) + "0");
                              }
                              previous = e.resource();
                              return true;
                            }),
              IsOk());
  EXPECT_TRUE(VerifyOrDie().ok);

  AuditCommitter small(log_.get(), /*max_waiting=*/0);
  absl::Status refused;
  hie::v1::AuditEntry one;
  one.set_action(hie::v1::AUDIT_ACTION_ACCESS);
  small.Append({one}, [&](absl::Status s) { refused = s; });
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(AuditLogTest, AnEntryWithoutAnActionIsRefusedAloneNotWithItsBatch) {
  absl::Status bad_status, good_status;
  absl::Notification good_done;
  {
    AuditCommitter committer(log_.get());
    hie::v1::AuditEntry bad;  // no action
    hie::v1::AuditEntry good;
    good.set_action(hie::v1::AUDIT_ACTION_ACCESS);
    committer.Append({bad}, [&](absl::Status s) { bad_status = s; });
    committer.Append({good}, [&](absl::Status s) {
      good_status = s;
      good_done.Notify();
    });
    good_done.WaitForNotification();
  }
  EXPECT_THAT(bad_status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(good_status.ok()) << good_status;
  EXPECT_EQ(log_->size(), 1u);
}

TEST_F(AuditLogTest, AppendChainsAndNumbers) {
  hie::v1::AuditEntry entry;
  entry.set_action(hie::v1::AUDIT_ACTION_QUERY);
  ASSERT_OK_AND_ASSIGN(hie::v1::AuditEntry first, log_->Append(entry));
  ASSERT_OK_AND_ASSIGN(hie::v1::AuditEntry second, log_->Append(entry));
  EXPECT_EQ(first.sequence(), 1u);
  EXPECT_EQ(first.prev_hash(), AuditLog::GenesisHash());
  EXPECT_EQ(second.sequence(), 2u);
  EXPECT_EQ(second.prev_hash(), first.hash());
  EXPECT_NE(first.hash(), second.hash());
}

TEST_F(AuditLogTest, UnspecifiedActionIsRefused) {
  EXPECT_THAT(log_->Append(hie::v1::AuditEntry()), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AuditLogTest, AlteredEntryIsFoundAtThatEntry) {
  AppendMany(50);
  ASSERT_OK_AND_ASSIGN(std::string stored, store_->Get(EntryKey(17)));
  size_t at = stored.find("disclosed 16 records");
  ASSERT_NE(at, std::string::npos);
  stored[at + 10] = '9';  // "disclosed 96 records"
  ASSERT_OK(store_->Put(EntryKey(17), stored));
  VerifyReport report = VerifyOrDie();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 17u);
  EXPECT_EQ(report.problem, "altered");
  EXPECT_EQ(report.entries_checked, 16u);
}

TEST_F(AuditLogTest, RewrittenEntryWithRecomputedHashIsFoundAtThatEntry) {
  AppendMany(50);
  // A forger who knows the scheme rewrites entry 17 and recomputes its hash; entry 18
  // still names the old hash.
  ASSERT_OK_AND_ASSIGN(std::string stored, store_->Get(EntryKey(17)));
  hie::v1::AuditEntry entry;
  ASSERT_TRUE(entry.ParseFromString(stored.substr(64)));
  entry.set_detail("nothing disclosed");
  std::string body = entry.SerializeAsString();
  ASSERT_OK(store_->Put(EntryKey(17), crypto::Sha256Hex(body) + body));
  VerifyReport report = VerifyOrDie();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 17u);
}

TEST_F(AuditLogTest, RemovedEntryIsFoundAtThatEntry) {
  AppendMany(50);
  ASSERT_OK(store_->Delete(EntryKey(17)));
  VerifyReport report = VerifyOrDie();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 17u);
  EXPECT_EQ(report.problem, "missing");
}

TEST_F(AuditLogTest, ReorderedEntriesAreFoundAtTheFirst) {
  AppendMany(50);
  ASSERT_OK_AND_ASSIGN(std::string e20, store_->Get(EntryKey(20)));
  ASSERT_OK_AND_ASSIGN(std::string e21, store_->Get(EntryKey(21)));
  store::WriteBatch swap;
  swap.Put(EntryKey(20), e21);
  swap.Put(EntryKey(21), e20);
  ASSERT_OK(store_->Write(swap));
  VerifyReport report = VerifyOrDie();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 20u);
  EXPECT_EQ(report.problem, "out of order");
}

TEST_F(AuditLogTest, TruncatedTailIsFoundAfterReopening) {
  AppendMany(50);
  for (uint64_t s = 46; s <= 50; ++s) ASSERT_OK(store_->Delete(EntryKey(s)));
  Reopen();
  VerifyReport report = VerifyOrDie();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_sequence, 46u);
  EXPECT_EQ(report.problem, "truncated");
}

TEST_F(AuditLogTest, ReopenedLogContinuesTheChain) {
  AppendMany(5);
  ASSERT_OK_AND_ASSIGN(std::string stored5, store_->Get(EntryKey(5)));
  std::string hash5 = stored5.substr(0, 64);
  Reopen();
  EXPECT_EQ(log_->size(), 5u);
  hie::v1::AuditEntry entry;
  entry.set_action(hie::v1::AUDIT_ACTION_QUERY);
  ASSERT_OK_AND_ASSIGN(hie::v1::AuditEntry sixth, log_->Append(entry));
  EXPECT_EQ(sixth.sequence(), 6u);
  EXPECT_EQ(sixth.prev_hash(), hash5);
  AppendMany(4);
  EXPECT_EQ(log_->size(), 10u);
  VerifyReport report = VerifyOrDie();
  EXPECT_TRUE(report.ok) << report.detail;
  EXPECT_EQ(report.entries_checked, 10u);
}

TEST_F(AuditLogTest, QueryByPatientReturnsOnlyThatPatientInOrder) {
  AppendMany(9);
  ASSERT_OK_AND_ASSIGN(auto entries, log_->QueryByPatient(PatientKey::Local("org-a", "p1")));
  std::vector<uint64_t> sequences;
  for (const auto& e : entries) sequences.push_back(e.sequence());
  EXPECT_THAT(sequences, ElementsAre(2, 5, 8));
  EXPECT_EQ(entries[0].hash().size(), 64u);
  ASSERT_OK_AND_ASSIGN(auto none, log_->QueryByPatient(PatientKey::Local("org-z", "p1")));
  EXPECT_TRUE(none.empty());
  EXPECT_THAT(log_->QueryByPatient(PatientKey()), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AuditLogTest, QueryByEuid) {
  hie::v1::AuditEntry entry;
  entry.set_action(hie::v1::AUDIT_ACTION_AUTHORIZE);
  entry.set_euid("E42");
  ASSERT_THAT(log_->Append(entry), IsOk());
  AppendMany(2);
  ASSERT_OK_AND_ASSIGN(auto entries, log_->QueryByPatient(PatientKey::Euid("E42")));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].action(), hie::v1::AUDIT_ACTION_AUTHORIZE);
}

// Concurrent appenders share syncs (group commit); a power cut right after must keep
// every entry whose Append returned, and the chain must verify without them being
// re-sequenced. Run over a LevelDB Env that drops whatever was not synced.
TEST(AuditLogPowerCutTest, AcknowledgedEntriesSurviveAndTheChainVerifies) {
  std::string dir = absl::StrCat(::testing::TempDir(), "hie-audit-power-cut-", getpid());
  fs::remove_all(dir);
  testing::FaultInjectionEnv env;
  store::KvStoreOptions options;
  options.env = &env;
  options.write_buffer_bytes = 32 << 10;  // log switches happen mid-run
  uint64_t acknowledged_total = 0;
  for (int round = 0; round < 10; ++round) {
    std::vector<uint64_t> acknowledged;
    {
      ASSERT_OK_AND_ASSIGN(auto store, store::KvStore::Open(dir, options));
      ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(store.get(), Clock::Real()));
      absl::Mutex mu;
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < 60; ++i) {
            hie::v1::AuditEntry entry;
            entry.set_action(hie::v1::AUDIT_ACTION_DISCLOSE);
            entry.set_actor_org("org-b");
            entry.mutable_patient()->set_org_id("org-a");
            entry.mutable_patient()->set_local_id(absl::StrCat("p", t));
            entry.set_detail(std::string(200, 'd'));
            auto appended = log->Append(entry);
            ASSERT_THAT(appended, IsOk());
            absl::MutexLock lock(&mu);
            acknowledged.push_back(appended->sequence());
          }
        });
      }
      for (auto& thread : threads) thread.join();
    }
    ASSERT_OK(env.DropUnsyncedData());
    ASSERT_OK_AND_ASSIGN(auto store, store::KvStore::Open(dir, options));
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(store.get(), Clock::Real()));
    ASSERT_OK_AND_ASSIGN(VerifyReport report, log->Verify());
    EXPECT_TRUE(report.ok) << "round " << round << ": " << report.problem << " at "
                           << report.first_bad_sequence << ": " << report.detail;
    acknowledged_total += acknowledged.size();
    EXPECT_GE(report.entries_checked, acknowledged_total) << "round " << round;
    for (uint64_t sequence : acknowledged) {
      std::string key =
          store::KeyBuilder().AddString("audit").AddString("e").AddUint64(sequence).Build();
      ASSERT_THAT(store->Get(key), IsOk()) << "round " << round << " lost entry " << sequence;
    }
    acknowledged_total = report.entries_checked;
  }
  fs::remove_all(dir);
}

// A full disk: the append fails, nothing half-written is left, and the chain verifies.
TEST(AuditLogPowerCutTest, AFullDiskRefusesTheAppendAndKeepsTheChain) {
  std::string dir = absl::StrCat(::testing::TempDir(), "hie-audit-full-", getpid());
  fs::remove_all(dir);
  testing::FaultInjectionEnv env;
  store::KvStoreOptions options;
  options.env = &env;
  ASSERT_OK_AND_ASSIGN(auto store, store::KvStore::Open(dir, options));
  ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(store.get(), Clock::Real()));
  hie::v1::AuditEntry entry;
  entry.set_action(hie::v1::AUDIT_ACTION_DISCLOSE);
  entry.mutable_patient()->set_org_id("org-a");
  entry.mutable_patient()->set_local_id("p1");
  ASSERT_THAT(log->Append(entry), IsOk());
  env.SetFilesystemFull(true);
  EXPECT_FALSE(log->Append(entry).ok());
  env.SetFilesystemFull(false);
  log.reset();
  store.reset();
  ASSERT_OK(env.DropUnsyncedData());
  ASSERT_OK_AND_ASSIGN(store, store::KvStore::Open(dir, options));
  ASSERT_OK_AND_ASSIGN(log, AuditLog::Open(store.get(), Clock::Real()));
  ASSERT_OK_AND_ASSIGN(VerifyReport report, log->Verify());
  EXPECT_TRUE(report.ok) << report.detail;
  EXPECT_EQ(report.entries_checked, 1u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hie::audit
