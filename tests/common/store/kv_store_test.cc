// KvStore on LevelDB: reads, atomic synced writes, scans, and the errors a daemon must
// report clearly: a directory in use, a corrupt store. The crash test kills a writer
// with SIGKILL and checks that every acknowledged write is there after reopening.
#include "common/store/kv_store.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/store/key_codec.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::store {
namespace {

namespace fs = std::filesystem;
using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class KvStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-store-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<KvStore> OpenOrDie() {
    auto store = KvStore::Open(dir_);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::string dir_;
};

TEST_F(KvStoreTest, PutGetDelete) {
  auto store = OpenOrDie();
  ASSERT_OK(store->Put("k", "v"));
  ASSERT_OK_AND_ASSIGN(std::string value, store->Get("k"));
  EXPECT_EQ(value, "v");
  ASSERT_OK(store->Delete("k"));
  EXPECT_THAT(store->Get("k"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->Delete("never-there"), IsOk());
}

TEST_F(KvStoreTest, BatchAppliesAllOps) {
  auto store = OpenOrDie();
  ASSERT_OK(store->Put("gone", "x"));
  WriteBatch batch;
  batch.Put("a", "1");
  batch.Put("b", "2");
  batch.Delete("gone");
  ASSERT_OK(store->Write(batch));
  EXPECT_THAT(store->Get("a"), IsOk());
  EXPECT_THAT(store->Get("b"), IsOk());
  EXPECT_THAT(store->Get("gone"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(KvStoreTest, PrefixScanReturnsExactlyThePrefixInOrder) {
  auto store = OpenOrDie();
  auto key = [](absl::string_view org, uint64_t n) {
    return KeyBuilder().AddString("patient").AddString(org).AddUint64(n).Build();
  };
  ASSERT_OK(store->Put(key("org-b", 1), "b1"));
  ASSERT_OK(store->Put(key("org-a", 10), "a10"));
  ASSERT_OK(store->Put(key("org-a", 2), "a2"));
  ASSERT_OK(store->Put(key("org-ab", 1), "ab1"));  // shares bytes with "org-a", not the part
  ASSERT_OK(store->Put(KeyBuilder().AddString("other").Build(), "o"));
  std::vector<std::string> seen;
  ASSERT_OK(store->ScanPrefix(KeyBuilder().AddString("patient").AddString("org-a").Build(),
                              [&](absl::string_view, absl::string_view value) {
                                seen.emplace_back(value);
                                return true;
                              }));
  EXPECT_THAT(seen, ElementsAre("a2", "a10"));

  seen.clear();
  ASSERT_OK(store->ScanPrefix(KeyBuilder().AddString("patient").Build(),
                              [&](absl::string_view, absl::string_view value) {
                                seen.emplace_back(value);
                                return seen.size() < 2;  // stop early
                              }));
  EXPECT_THAT(seen, ElementsAre("a2", "a10"));

  auto last = store->LastWithPrefix(KeyBuilder().AddString("patient").AddString("org-a").Build());
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(last->second, "a10");
  EXPECT_THAT(store->LastWithPrefix("zzz"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(KvStoreTest, SecondOpenOfTheSameDirectoryIsRefusedClearly) {
  auto store = OpenOrDie();
  EXPECT_THAT(KvStore::Open(dir_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in use")));
}

TEST_F(KvStoreTest, SecondProcessIsRefusedClearly) {
  auto store = OpenOrDie();
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto other = KvStore::Open(dir_);
    char code = other.ok()                                                       ? 'O'
                : other.status().code() == absl::StatusCode::kFailedPrecondition ? 'F'
                                                                                 : 'X';
    (void)!write(pipe_fds[1], &code, 1);
    _exit(0);
  }
  close(pipe_fds[1]);
  char code = 0;
  ASSERT_EQ(read(pipe_fds[0], &code, 1), 1);
  close(pipe_fds[0]);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(code, 'F');
}

TEST_F(KvStoreTest, MissingStoreWithoutCreateIsNotFound) {
  KvStoreOptions options;
  options.create_if_missing = false;
  EXPECT_THAT(KvStore::Open(dir_, options), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(KvStoreTest, CorruptStoreIsDataLossNamingTheDirectory) {
  {
    auto store = OpenOrDie();
    for (int i = 0; i < 100; ++i) ASSERT_OK(store->Put(absl::StrCat("key", i), "value"));
  }
  bool damaged = false;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().filename().string().rfind("MANIFEST-", 0) == 0) {
      std::ofstream(entry.path(), std::ios::binary | std::ios::trunc)
          << "this is not a LevelDB manifest, but it is long enough to look like records";
      damaged = true;
    }
  }
  ASSERT_TRUE(damaged);
  EXPECT_THAT(KvStore::Open(dir_), StatusIs(absl::StatusCode::kDataLoss, HasSubstr(dir_)));
}

// A child process writes synced records and reports each acknowledgement on a pipe;
// the parent kills it with SIGKILL mid-stream. Everything acknowledged must survive.
TEST_F(KvStoreTest, AcknowledgedWritesSurviveSigkill) {
  // The writer never finishes on its own (it blocks on the full pipe at worst), so the
  // kill always lands mid-stream however fast fsync is.
  constexpr uint32_t kWrites = 1'000'000;
  constexpr int kKillAfter = 300;
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    auto store = KvStore::Open(dir_);
    if (!store.ok()) _exit(2);
    for (uint32_t i = 0; i < kWrites; ++i) {
      std::string key = KeyBuilder().AddUint64(i).Build();
      WriteBatch batch;
      batch.Put(key, absl::StrCat("value-", i));
      batch.Put(absl::StrCat("index-", i), key);
      if (!(*store)->Write(batch).ok()) _exit(3);
      // Acknowledge only after Write returned: the synced write is now promised.
      if (write(pipe_fds[1], &i, sizeof(i)) != sizeof(i)) _exit(4);
    }
    _exit(0);
  }
  close(pipe_fds[1]);
  uint32_t last_ack = 0;
  int acks = 0;
  while (acks < kKillAfter) {
    uint32_t i = 0;
    ssize_t n = read(pipe_fds[0], &i, sizeof(i));
    ASSERT_EQ(n, static_cast<ssize_t>(sizeof(i))) << "writer ended early";
    last_ack = i;
    ++acks;
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer must die mid-stream for this test to mean it";
  // Drain acknowledgements sent before the kill landed.
  uint32_t i = 0;
  while (read(pipe_fds[0], &i, sizeof(i)) == sizeof(i)) last_ack = i;
  close(pipe_fds[0]);

  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  for (uint32_t k = 0; k <= last_ack; ++k) {
    auto value = store->Get(KeyBuilder().AddUint64(k).Build());
    ASSERT_THAT(value, IsOk()) << "acknowledged write " << k << " of " << last_ack << " lost";
    EXPECT_EQ(*value, absl::StrCat("value-", k));
    EXPECT_THAT(store->Get(absl::StrCat("index-", k)), IsOk()) << "batch half-applied at " << k;
  }
}

}  // namespace
}  // namespace hie::store
