// Durable ingest of FHIR bundles, beside its two ceilings measured in the same run on
// the same bytes: raw JSON parsing (simdjson, nothing else) and raw LevelDB synced batch
// writes (one batch per bundle, one key per entry, the resource bytes as values).
// Full ingest parses, validates, resolves references, labels and writes each bundle as
// one synced batch through the node's own Importer.
//
//   build/bin/node_ingest_bench [--dir DATA] [--repetitions N] [--json]
// DATA defaults to ../shared/data/fhir/synthea beside the checkout.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json/json_writer.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "node/domain/importer.h"
#include "simdjson.h"

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir =
      fs::path(argv[0]).parent_path().string() + "/../../../shared/data/fhir/synthea";
  int repetitions = 5;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--dir" && i + 1 < argc) {
      data_dir = argv[++i];
    } else if (arg == "--repetitions" && i + 1 < argc) {
      repetitions = std::max(1, std::atoi(argv[++i]));
    } else {
      std::cerr << "usage: node_ingest_bench [--dir DATA] [--repetitions N] [--json]\n";
      return 2;
    }
  }
  std::vector<std::string> bundles;
  uint64_t bytes = 0;
  if (!fs::exists(data_dir)) {
    std::cerr << "node_ingest_bench: no bundles at " << data_dir << " (give --dir)\n";
    return 1;
  }
  for (const auto& e : fs::directory_iterator(data_dir)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    bytes += ss.str().size();
    bundles.push_back(ss.str());
  }
  // Resources per pass, and the per-entry bytes the raw store write uses.
  simdjson::dom::parser parser;
  int64_t resources = 0;
  std::vector<std::vector<std::pair<std::string, std::string>>> entries(bundles.size());
  for (size_t b = 0; b < bundles.size(); ++b) {
    simdjson::dom::element root = parser.parse(bundles[b]);
    int64_t i = 0;
    for (simdjson::dom::element e : root["entry"].get_array()) {
      entries[b].emplace_back(absl::StrCat(b, "/", i++), simdjson::minify(e["resource"]));
      ++resources;
    }
  }
  std::string scratch =
      (fs::temp_directory_path() / absl::StrCat("hie-ingest-bench-", getpid())).string();
  std::vector<double> parse_rate, raw_rate, ingest_rate;
  for (int rep = 0; rep < repetitions; ++rep) {
    auto start = SteadyClock::now();
    size_t elements = 0;
    for (const auto& b : bundles) {
      simdjson::dom::element root = parser.parse(b);
      elements += root["entry"].get_array().size();
    }
    parse_rate.push_back(resources / SecondsSince(start));
    if (elements == 0) return 1;

    fs::remove_all(scratch);
    {
      auto kv = hie::store::KvStore::Open(scratch + "/raw");
      if (!kv.ok()) return 1;
      start = SteadyClock::now();
      for (const auto& bundle_entries : entries) {
        hie::store::WriteBatch batch;
        for (const auto& [key, value] : bundle_entries) batch.Put(key, value);
        if (!(*kv)->Write(batch).ok()) return 1;
      }
      raw_rate.push_back(resources / SecondsSince(start));
    }
    {
      auto kv = hie::store::KvStore::Open(scratch + "/node");
      if (!kv.ok()) return 1;
      auto labeler = hie::node::Labeler::FromConfig({});
      hie::node::FhirIngester ingester(&*labeler);
      hie::node::RecordStore store(kv->get(), hie::Clock::Real());
      hie::node::Importer importer(&ingester, &store);
      start = SteadyClock::now();
      for (const auto& b : bundles) {
        if (!importer.AddJson(b, "bench").ok()) return 1;
      }
      ingest_rate.push_back(resources / SecondsSince(start));
      if (importer.totals().accepted != resources || !importer.totals().rejected.empty()) {
        std::cerr << "node_ingest_bench: accepted " << importer.totals().accepted << " of "
                  << resources << "\n";
        return 1;
      }
    }
  }
  fs::remove_all(scratch);
  double ingest = Median(ingest_rate), raw = Median(raw_rate), parse = Median(parse_rate);
  if (json) {
    std::cout << hie::JsonObject()
                     .Add("bundles", static_cast<int64_t>(bundles.size()))
                     .Add("resources", resources)
                     .Add("megabytes", bytes / 1e6)
                     .Add("repetitions", repetitions)
                     .Add("ingest_resources_per_s", ingest)
                     .Add("raw_leveldb_synced_batches_resources_per_s", raw)
                     .Add("raw_json_parse_resources_per_s", parse)
                     .Build()
              << "\n";
    return 0;
  }
  std::cout << absl::StrFormat("%d bundles, %d resources, %.1f MB; medians of %d runs\n",
                               bundles.size(), resources, bytes / 1e6, repetitions);
  std::cout << absl::StrFormat(
      "durable ingest (parse, validate, label, synced batch)  %9.0f resources/s\n", ingest);
  std::cout << absl::StrFormat(
      "raw LevelDB synced batch writes of the same bytes    %9.0f resources/s  (ingest/raw %.2f)\n",
      raw, ingest / raw);
  std::cout << absl::StrFormat(
      "raw JSON parse of the same bytes                     %9.0f resources/s  (ingest/parse "
      "%.2f)\n",
      parse, ingest / parse);
  return 0;
}
