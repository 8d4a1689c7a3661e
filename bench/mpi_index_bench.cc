// The MPI index at scale: registers N synthetic people (a fifth of the registrations are
// clinic-error variants of a recent person at another practice) into a fresh persistent
// index, then times single registrations and cross-references against the full index,
// and fits the matching model to it. Prints records/s, p50/p99 latencies, the fit's
// time, peak memory and the index's size on disk.
//
//   build/bin/mpi_index_bench --records 1000000 --samples 1000
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json/json_writer.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "mpi/index/patient_index.h"
#include "mpi/testing/synthetic.h"

namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

uintmax_t DirectorySize(const std::string& dir) {
  uintmax_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

int Usage() {
  std::cerr << "usage: mpi_index_bench [--records N] [--samples M] [--dir D] [--json]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t records = 100000;
  int samples = 1000;
  std::string dir = absl::StrCat(std::filesystem::temp_directory_path().string(),
                                 "/hie-mpi-index-bench-", getpid());
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
      continue;
    }
    if (i + 1 >= argc) return Usage();
    if (arg == "--records") {
      if (!absl::SimpleAtoi(argv[++i], &records) || records < 1) return Usage();
    } else if (arg == "--samples") {
      if (!absl::SimpleAtoi(argv[++i], &samples) || samples < 1) return Usage();
    } else if (arg == "--dir") {
      dir = argv[++i];
    } else {
      return Usage();
    }
  }
  std::filesystem::remove_all(dir);
  auto store = hie::store::KvStore::Open(dir, hie::mpi::IndexStoreOptions());  // as hie-mpi
  if (!store.ok()) {
    std::cerr << store.status() << "\n";
    return 1;
  }
  auto index = hie::mpi::PatientIndex::Open(store->get(), hie::Clock::Real(), {});
  if (!index.ok()) {
    std::cerr << index.status() << "\n";
    return 1;
  }
  hie::mpi::testing::SyntheticPeople gen(2026);
  // The last 10,000 new people and their practices: a fifth of registrations are another
  // practice's registration of one of them, as clerks there enter it.
  std::vector<std::pair<hie::mpi::Person, int>> recent;
  std::mt19937_64 rng(2026);
  std::vector<uint8_t> org_of(static_cast<size_t>(records));  // for the cross-references
  auto start = Clock::now();
  auto last_report = start;
  // Wall time includes generating the people; index time is the RegisterBatch calls.
  double index_seconds = 0;
  // The initial load goes in batches of 1000 with one sync each (RegisterBatch), as a
  // practice's first upload would.
  constexpr int64_t kBatch = 1000;
  for (int64_t first = 0; first < records; first += kBatch) {
    std::vector<hie::mpi::PatientIndex::Registration> batch;
    for (int64_t i = first; i < std::min(records, first + kBatch); ++i) {
      hie::mpi::Person p;
      int org = static_cast<int>(i % 50);
      if (i % 5 == 4 && !recent.empty()) {
        const auto& [seen, seen_org] =
            recent[std::uniform_int_distribution<size_t>(0, recent.size() - 1)(rng)];
        p = gen.ClinicVariant(seen);
        org = (seen_org + std::uniform_int_distribution<int>(1, 49)(rng)) % 50;
      } else {
        p = gen.NewPerson();
        if (recent.size() < 10000) {
          recent.emplace_back(p, org);
        } else {
          recent[static_cast<size_t>(i) % recent.size()] = {p, org};
        }
      }
      org_of[static_cast<size_t>(i)] = static_cast<uint8_t>(org);
      batch.push_back({absl::StrCat("org-", org), absl::StrCat("L", i), std::move(p)});
    }
    auto batch_start = Clock::now();
    auto results = (*index)->RegisterBatch(batch);
    index_seconds += std::chrono::duration<double>(Clock::now() - batch_start).count();
    if (!results.ok()) {
      std::cerr << "sync: " << results.status() << "\n";
      return 1;
    }
    for (const auto& r : *results) {
      if (!r.ok()) {
        std::cerr << "register: " << r.status() << "\n";
        return 1;
      }
    }
    if (Clock::now() - last_report > std::chrono::seconds(10)) {
      last_report = Clock::now();
      double s = std::chrono::duration<double>(last_report - start).count();
      std::cerr << absl::StrFormat("  %d registered, %.0f/s\n", first + kBatch,
                                   (first + kBatch) / s);
    }
  }
  double load_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> register_ms, xref_ms;
  size_t candidates = 0, truncated = 0;
  for (int s = 0; s < samples; ++s) {
    hie::mpi::Person p = gen.NewPerson();
    auto t0 = Clock::now();
    auto r = (*index)->Register("org-bench", absl::StrCat("S", s), p);
    auto t1 = Clock::now();
    int64_t k = (static_cast<int64_t>(s) * 7919) % records;
    auto x = (*index)->CrossReference(absl::StrCat("org-", org_of[static_cast<size_t>(k)]),
                                      absl::StrCat("L", k));
    auto t2 = Clock::now();
    if (!r.ok() || !x.ok()) {
      std::cerr << "sample " << s << ": " << (r.ok() ? x.status() : r.status()) << "\n";
      return 1;
    }
    candidates += r->candidates_scored;
    truncated += r->candidates_truncated;
    register_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    xref_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  // An operator's `hiectl mpi fit` on the full index.
  double fit_seconds = 0;
  int64_t fit_pairs = 0;
  if (records >= 1000) {
    auto t0 = Clock::now();
    auto fitted = (*index)->FitModel(hie::mpi::PatientIndex::FitOptions{});
    fit_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!fitted.ok()) {
      std::cerr << "fit: " << fitted.status() << "\n";
      return 1;
    }
    fit_pairs = fitted->candidate_pairs;
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  index->reset();
  store->reset();
  uintmax_t bytes = DirectorySize(dir);
  if (json) {
    std::cout << hie::JsonObject()
                     .Add("records", records)
                     .Add("load_seconds", load_seconds)
                     .Add("records_per_s", records / load_seconds)
                     .Add("index_seconds", index_seconds)
                     .Add("index_records_per_s", records / index_seconds)
                     .Add("register_p50_ms", Percentile(register_ms, 0.5))
                     .Add("register_p99_ms", Percentile(register_ms, 0.99))
                     .Add("xref_p50_ms", Percentile(xref_ms, 0.5))
                     .Add("xref_p99_ms", Percentile(xref_ms, 0.99))
                     .Add("candidates_per_registration", static_cast<double>(candidates) / samples)
                     .Add("fit_seconds", fit_seconds)
                     .Add("fit_candidate_pairs", fit_pairs)
                     .Add("peak_rss_mib", usage.ru_maxrss / 1024.0)
                     .Add("index_on_disk_mib", bytes / 1048576.0)
                     .Build()
              << "\n";
    std::filesystem::remove_all(dir);
    return 0;
  }
  std::cout << absl::StrFormat(
      "records %d: load %.1f s, %.0f records/s (batches of 1000, one sync each); in the "
      "index %.1f s, %.0f records/s\n"
      "register at %d: p50 %.3f ms  p99 %.3f ms\n"
      "cross-reference at %d: p50 %.3f ms  p99 %.3f ms\n"
      "candidates scored per registration %.1f (%d of %d samples cut by the per-key bound)\n"
      "fitting the model (hiectl mpi fit): %.2f s, %d candidate pairs\n"
      "peak RSS %.1f MiB, index on disk %.1f MiB\n",
      records, load_seconds, records / load_seconds, index_seconds, records / index_seconds,
      records, Percentile(register_ms, 0.5), Percentile(register_ms, 0.99), records,
      Percentile(xref_ms, 0.5), Percentile(xref_ms, 0.99),
      static_cast<double>(candidates) / samples, truncated, samples, fit_seconds, fit_pairs,
      usage.ru_maxrss / 1024.0, bytes / 1048576.0);
  std::filesystem::remove_all(dir);
  return 0;
}
