// What the shared parts cost: signing and verifying a grant-sized message, a synced
// store write alone and batched, an audit append. Later issues set targets against
// these; run with --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// for medians.
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/audit/audit_log.h"
#include "common/crypto/signing.h"
#include "common/store/key_codec.h"
#include "common/store/kv_store.h"

namespace hie {
namespace {

std::string Message() { return std::string(600, 'g'); }  // about a grant with 5 holders

void BM_Ed25519Sign(benchmark::State& state) {
  auto key = crypto::SigningKey::Generate();
  std::string message = Message();
  for (auto _ : state) benchmark::DoNotOptimize(key->Sign(message));
}
BENCHMARK(BM_Ed25519Sign);

void BM_Ed25519Verify(benchmark::State& state) {
  auto key = crypto::SigningKey::Generate();
  std::string message = Message();
  std::string signature = *key->Sign(message);
  for (auto _ : state) benchmark::DoNotOptimize(key->verifying_key().Verify(message, signature));
}
BENCHMARK(BM_Ed25519Verify);

// A store in a fresh directory under the system temp dir, removed afterwards.
class TempStore {
 public:
  explicit TempStore(const char* name)
      : dir_(absl::StrCat(std::filesystem::temp_directory_path().string(), "/hie-bench-", name, "-",
                          getpid())) {
    std::filesystem::remove_all(dir_);
    store_ = std::move(*store::KvStore::Open(dir_));
  }
  ~TempStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  store::KvStore* get() { return store_.get(); }

 private:
  std::string dir_;
  std::unique_ptr<store::KvStore> store_;
};

// Items per second: one synced write per item.
void BM_StoreSyncedPut(benchmark::State& state) {
  TempStore store("put");
  std::string value(512, 'v');
  uint64_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(store.get()->Put(store::KeyBuilder().AddUint64(i++).Build(), value));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreSyncedPut);

// Items per second: state.range(0) records per synced batch.
void BM_StoreSyncedBatch(benchmark::State& state) {
  TempStore store("batch");
  std::string value(512, 'v');
  uint64_t i = 0;
  for (auto _ : state) {
    store::WriteBatch batch;
    for (int j = 0; j < state.range(0); ++j) {
      batch.Put(store::KeyBuilder().AddUint64(i++).Build(), value);
    }
    benchmark::DoNotOptimize(store.get()->Write(batch));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_StoreSyncedBatch)->Arg(10)->Arg(100);

void BM_AuditAppend(benchmark::State& state) {
  TempStore store("audit");
  auto log = std::move(*audit::AuditLog::Open(store.get(), Clock::Real()));
  hie::v1::AuditEntry entry;
  entry.set_action(hie::v1::AUDIT_ACTION_DISCLOSE);
  entry.set_actor_org("org-b");
  entry.mutable_patient()->set_org_id("org-a");
  entry.mutable_patient()->set_local_id("123");
  entry.set_detail("12 records disclosed, 1 withheld");
  for (auto _ : state) benchmark::DoNotOptimize(log->Append(entry));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AuditAppend);

}  // namespace
}  // namespace hie

BENCHMARK_MAIN();
