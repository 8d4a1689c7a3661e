// What survives a power cut and what a damaged store does, proved on KvStore over a
// LevelDB Env that drops every byte not synced (common/testing/fault_env.h):
// acknowledged (synced) writes always survive, unsynced batches are whole or absent
// and never out of order, a full disk fails writes without touching what is there, and
// a flipped byte in a table, log or MANIFEST file is reported as DataLoss, never served.
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/store/kv_store.h"
#include "common/testing/fault_env.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::store {
namespace {

namespace fs = std::filesystem;
using ::hie::testing::FaultInjectionEnv;
using ::hie::testing::IsOk;
using ::hie::testing::IsOkAndHolds;
using ::hie::testing::StatusIs;
using ::testing::HasSubstr;

class DurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-durability-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<KvStore> Open(const std::string& dir) {
    KvStoreOptions options;
    options.env = &env_;
    options.write_buffer_bytes = 64 << 10;  // small, so memtables flush and tables compact
    auto store = KvStore::Open(dir, options);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::string dir_;
  FaultInjectionEnv env_;
};

// One batch of a round: its keys all share a prefix, so "whole or absent" is checkable.
struct Batch {
  std::string prefix;
  int keys = 0;
  bool synced = false;
};

std::string Value(const std::string& key) { return absl::StrCat("value of ", key, "/", key); }

TEST_F(DurabilityTest, AcknowledgedWritesSurviveAPowerCutAndUnsyncedBatchesAreWholeOrAbsent) {
  std::mt19937 random(20261125);
  std::map<std::string, std::string> durable;  // everything acknowledged so far
  int rounds_that_lost_something = 0;
  for (int round = 0; round < 40; ++round) {
    std::vector<Batch> batches;
    {
      std::unique_ptr<KvStore> store = Open(dir_);
      ASSERT_NE(store, nullptr);
      int n = 20 + random() % 200;
      for (int b = 0; b < n; ++b) {
        Batch batch{absl::StrCat("r", round, "-b", b, "-"), 1 + static_cast<int>(random() % 8),
                    random() % 4 == 0};
        WriteBatch wb;
        for (int k = 0; k < batch.keys; ++k) {
          std::string key = absl::StrCat(batch.prefix, k);
          wb.Put(key, Value(key));
        }
        ASSERT_OK(batch.synced ? store->Write(wb) : store->WriteUnsynced(wb));
        batches.push_back(batch);
      }
      // The store closes here, as a killed process's files close; then the power goes.
    }
    if (env_.UnsyncedBytes() > 0) ++rounds_that_lost_something;
    ASSERT_OK(env_.DropUnsyncedData());

    std::unique_ptr<KvStore> store = Open(dir_);
    ASSERT_NE(store, nullptr) << "round " << round;
    for (const auto& [key, value] : durable) {
      ASSERT_THAT(store->Get(key), IsOkAndHolds(value)) << "round " << round << " lost " << key;
    }
    // A synced write makes every earlier write durable; after the last synced batch,
    // each batch is whole or absent, and once one is absent so is every later one.
    size_t last_synced = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
      if (batches[b].synced) last_synced = b + 1;
    }
    bool gone = false;
    for (size_t b = 0; b < batches.size(); ++b) {
      int present = 0;
      for (int k = 0; k < batches[b].keys; ++k) {
        std::string key = absl::StrCat(batches[b].prefix, k);
        auto got = store->Get(key);
        if (got.ok()) {
          EXPECT_EQ(*got, Value(key));
          ++present;
        } else {
          ASSERT_THAT(got, StatusIs(absl::StatusCode::kNotFound));
        }
      }
      if (b < last_synced) {
        ASSERT_EQ(present, batches[b].keys) << "round " << round << ": acknowledged batch " << b;
      } else {
        ASSERT_TRUE(present == 0 || present == batches[b].keys)
            << "round " << round << ": batch " << b << " half present (" << present << " of "
            << batches[b].keys << ")";
        if (present == 0) gone = true;
        ASSERT_FALSE(gone && present > 0)
            << "round " << round << ": batch " << b << " survived although an earlier one did not";
      }
      if (present == batches[b].keys) {
        for (int k = 0; k < batches[b].keys; ++k) {
          std::string key = absl::StrCat(batches[b].prefix, k);
          durable[key] = Value(key);
        }
      }
    }
  }
  // The test means something only if power cuts really took unsynced data away.
  EXPECT_GT(rounds_that_lost_something, 20);
}

TEST_F(DurabilityTest, AFullDiskFailsWritesAndKeepsWhatWasAcknowledged) {
  std::unique_ptr<KvStore> store = Open(dir_);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 100; ++i) ASSERT_OK(store->Put(absl::StrCat("k", i), "v"));
  env_.SetFilesystemFull(true);
  absl::Status refused = store->Put("one-more", "v");
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(refused.message(), HasSubstr("No space left on device"));
  EXPECT_THAT(store->Get("one-more"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->Get("k7"), IsOkAndHolds("v"));  // reads go on
  // LevelDB stops writing after a failed log write, until the store is reopened.
  env_.SetFilesystemFull(false);
  store.reset();
  ASSERT_OK(env_.DropUnsyncedData());
  store = Open(dir_);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 100; ++i) EXPECT_THAT(store->Get(absl::StrCat("k", i)), IsOkAndHolds("v"));
  EXPECT_THAT(store->Get("one-more"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(store->Put("one-more", "v"));
}

// Flips one byte of one file in a copy of a closed store, and reads everything back.
class ByteFlipTest : public DurabilityTest {
 protected:
  // A store with tables (flushed memtables), a log holding the latest writes and a
  // MANIFEST; returns what it holds.
  std::map<std::string, std::string> MakePristine() {
    std::map<std::string, std::string> content;
    KvStoreOptions options;
    options.write_buffer_bytes = 64 << 10;
    auto store = KvStore::Open(dir_ + "/pristine", options);
    EXPECT_THAT(store, IsOk());
    for (int i = 0; i < 3000; ++i) {
      std::string key = absl::StrCat("patient/", 100000 + i);
      content[key] =
          absl::StrCat("{\"name\":\"record ", i, "\",\"pad\":\"", std::string(40, 'x'), "\"}");
      EXPECT_OK((*store)->Put(key, content[key]));
    }
    return content;
  }

  std::vector<fs::path> FilesOfKind(const std::string& kind) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir_ + "/pristine")) {
      std::string name = entry.path().filename().string();
      bool match = kind == "MANIFEST" ? name.rfind("MANIFEST-", 0) == 0
                                      : entry.path().extension() == "." + kind;
      if (match && fs::file_size(entry.path()) > 0) files.push_back(entry.path());
    }
    return files;
  }

  struct Outcome {
    int flips = 0;
    int refused_at_open = 0;
    int reported_on_read = 0;
    int unnoticed = 0;  // every value read back intact: the byte did not matter
  };

  // Flips `flips` bytes (one per copy) in files of `kind`; fails the test if a wrong
  // value is ever served or an error is anything but DataLoss.
  Outcome FlipAndRead(const std::string& kind, const std::map<std::string, std::string>& content,
                      int flips) {
    Outcome outcome;
    std::vector<fs::path> files = FilesOfKind(kind);
    EXPECT_FALSE(files.empty()) << "no " << kind << " file to damage";
    if (files.empty()) return outcome;
    std::mt19937 random(7 + flips);
    for (int f = 0; f < flips; ++f) {
      std::string copy = dir_ + "/copy";
      fs::remove_all(copy);
      fs::copy(dir_ + "/pristine", copy);
      fs::path victim = fs::path(copy) / files[random() % files.size()].filename();
      uint64_t size = fs::file_size(victim);
      uint64_t at = random() % size;
      {
        std::fstream file(victim, std::ios::in | std::ios::out | std::ios::binary);
        file.seekg(at);
        char c = 0;
        file.get(c);
        file.seekp(at);
        file.put(static_cast<char>(c ^ (1 << (random() % 8))));
      }
      ++outcome.flips;
      auto store = KvStore::Open(copy);
      if (!store.ok()) {
        EXPECT_THAT(store.status(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt")))
            << victim.filename() << " byte " << at;
        ++outcome.refused_at_open;
        continue;
      }
      bool reported = false;
      for (const auto& [key, value] : content) {
        auto got = (*store)->Get(key);
        if (got.ok()) {
          EXPECT_EQ(*got, value) << "served a damaged value: " << victim.filename() << " byte "
                                 << at;
        } else {
          EXPECT_THAT(got, StatusIs(absl::StatusCode::kDataLoss))
              << key << " after damage to " << victim.filename() << " byte " << at;
          reported = true;
        }
      }
      int scanned = 0;
      absl::Status scan = (*store)->Scan("", "", [&](absl::string_view key, absl::string_view v) {
        auto it = content.find(std::string(key));
        EXPECT_TRUE(it != content.end() && it->second == v)
            << "scan served a damaged entry: " << victim.filename() << " byte " << at;
        ++scanned;
        return true;
      });
      if (!scan.ok()) {
        EXPECT_THAT(scan, StatusIs(absl::StatusCode::kDataLoss));
        reported = true;
      } else if (!reported) {
        EXPECT_EQ(scanned, static_cast<int>(content.size()));
      }
      (reported ? outcome.reported_on_read : outcome.unnoticed) += 1;
    }
    return outcome;
  }
};

TEST_F(ByteFlipTest, DamageToATableIsReportedNeverServed) {
  auto content = MakePristine();
  Outcome o = FlipAndRead("ldb", content, 60);
  // Every block LevelDB reads is under a checksum. It never reads the padding of the
  // 48-byte footer, nor the metaindex block when there is no filter policy: a flip
  // there changes nothing that is served, so it may go unnoticed.
  EXPECT_GE(o.refused_at_open + o.reported_on_read, 50) << o.unnoticed << " unnoticed";
}

TEST_F(ByteFlipTest, DamageToTheLogIsReportedNeverServed) {
  auto content = MakePristine();
  Outcome o = FlipAndRead("log", content, 60);
  // Only the zero padding at the end of a 32 KiB log block is outside the checksums.
  EXPECT_GE(o.refused_at_open, 55) << o.unnoticed << " unnoticed";
}

TEST_F(ByteFlipTest, DamageToTheManifestIsReportedNeverServed) {
  auto content = MakePristine();
  Outcome o = FlipAndRead("MANIFEST", content, 40);
  EXPECT_EQ(o.refused_at_open + o.reported_on_read, o.flips) << o.unnoticed << " unnoticed";
}

}  // namespace
}  // namespace hie::store
