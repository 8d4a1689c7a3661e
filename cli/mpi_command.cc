// hiectl mpi evaluate: the MPI's own matching engine over CSV files, offline, with
// precision, recall and F1 when the records carry their true identity.

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/json.h"
#include "mpi/match/engine.h"
#include "mpi/match/evaluation.h"

namespace hie::cli {
namespace {

// Prints up to `limit` true pairs the clustering left apart, with each field's level and
// weight, and whether blocking made them candidates at all.
void ExplainMisses(const std::vector<mpi::Person>& people, const std::vector<std::string>& ids,
                   const std::vector<std::string>& truth, const std::vector<int>& side,
                   const mpi::BatchResult& result, int limit) {
  absl::flat_hash_map<std::string, std::vector<size_t>> by_truth;
  for (size_t i = 0; i < truth.size(); ++i) by_truth[truth[i]].push_back(i);
  int shown = 0;
  for (const auto& [entity, members] : by_truth) {
    for (size_t x = 0; x < members.size() && shown < limit; ++x) {
      for (size_t y = x + 1; y < members.size() && shown < limit; ++y) {
        size_t i = members[x], j = members[y];
        if (!side.empty() && side[i] == side[j]) continue;
        if (result.cluster[i] == result.cluster[j]) continue;
        mpi::PreparedPerson a = mpi::Prepare(people[i]);
        mpi::PreparedPerson b = mpi::Prepare(people[j]);
        std::vector<std::string> ka = mpi::BlockingKeys(a), kb = mpi::BlockingKeys(b);
        bool blocked = false;
        for (const auto& k : ka) blocked |= std::find(kb.begin(), kb.end(), k) != kb.end();
        mpi::Comparison c = mpi::Compare(a, b);
        mpi::Score score = result.model.Evaluate(a, b, c, nullptr);
        std::cerr << ids[i] << " ~ " << ids[j] << (blocked ? "" : " (never a candidate)")
                  << absl::StrFormat(" total %.1f", score.total)
                  << (mpi::CheckGuards(a, b, c) != mpi::Guard::kNone ? " [twin guard]" : "")
                  << "\n";
        for (const auto& f : score.fields) {
          std::cerr << absl::StrFormat("    %-12s %-10s %+6.1f\n", mpi::FieldName(f.field),
                                       mpi::LevelName(f.level), f.weight);
        }
        ++shown;
      }
    }
  }
}

int RunEvaluate(const std::vector<std::string>& args) {
  std::string format = "febrl";
  std::vector<std::string> csvs;
  std::string clusters_out;
  bool drop_ssn = false;
  bool json = false;
  std::string upper, lower;
  int explain_misses = 0;
  bool show_model = false;
  FlagSet flags(
      "hiectl mpi evaluate --format febrl --csv A [--csv B] --clusters-out F [--drop-ssn] "
      "[--upper W] [--lower W] [--json]",
      "Runs the MPI's matching engine (the code hie-mpi runs) over registrations in CSV: one\n"
      "file is deduplicated, two are linked across. Writes `rec_id,euid` for every record to\n"
      "F and prints the counts, the throughput and, when record ids carry the true person\n"
      "(Febrl's rec-<N>-...), pairwise precision, recall and F1. --drop-ssn blanks the\n"
      "identifier column, as most registrations lack one. --upper/--lower override the\n"
      "auto-link and review thresholds (total log2 weight).",
      "hiectl mpi evaluate --format febrl --csv dataset4a.csv --csv dataset4b.csv "
      "--clusters-out clusters.csv");
  flags.String("format", &format, "FORMAT", "input format; only febrl for now");
  flags.Strings("csv", &csvs, "FILE", "a CSV file (give one to deduplicate, two to link)");
  flags.String("clusters-out", &clusters_out, "F", "where to write rec_id,euid");
  flags.Bool("drop-ssn", &drop_ssn, "ignore the soc_sec_id column");
  flags.String("upper", &upper, "W", "auto-link threshold (default 16)");
  flags.String("lower", &lower, "W", "review threshold (default 8)");
  flags.Int("explain-misses", &explain_misses, "N",
            "print, for up to N true pairs left apart, how each field compared (for tuning)");
  flags.Bool("show-model", &show_model,
             "print the fitted m and u probabilities and the weight of every field level");
  flags.Bool("json", &json, "print one JSON document on stdout");
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok()) return UsageError("mpi evaluate", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (format != "febrl") {
    return UsageError("mpi evaluate",
                      absl::InvalidArgumentError("--format: only febrl is supported"));
  }
  if (csvs.empty() || csvs.size() > 2) {
    return UsageError("mpi evaluate", absl::InvalidArgumentError("give --csv once or twice"));
  }
  if (clusters_out.empty()) {
    return UsageError("mpi evaluate", absl::InvalidArgumentError("--clusters-out F is required"));
  }
  mpi::BatchOptions options;
  if (!upper.empty() && !absl::SimpleAtod(upper, &options.thresholds.upper)) {
    return UsageError("mpi evaluate", absl::InvalidArgumentError("--upper: not a number"));
  }
  if (!lower.empty() && !absl::SimpleAtod(lower, &options.thresholds.lower)) {
    return UsageError("mpi evaluate", absl::InvalidArgumentError("--lower: not a number"));
  }
  if (options.thresholds.lower > options.thresholds.upper) {
    return UsageError("mpi evaluate",
                      absl::InvalidArgumentError("--lower must not exceed --upper"));
  }

  std::vector<std::string> ids;
  std::vector<mpi::Person> people;
  std::vector<int> side;
  for (size_t f = 0; f < csvs.size(); ++f) {
    auto records = mpi::LoadFebrlCsv(csvs[f], drop_ssn);
    if (!records.ok()) return Fail(records.status());
    for (auto& r : *records) {
      ids.push_back(r.id);
      people.push_back(std::move(r.person));
      if (csvs.size() == 2) side.push_back(static_cast<int>(f));
    }
  }
  auto start = std::chrono::steady_clock::now();
  mpi::BatchResult result = mpi::LinkBatch(people, side, options);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::ofstream out(clusters_out, std::ios::trunc);
  if (!out) return Fail(absl::PermissionDeniedError(absl::StrCat(clusters_out, ": cannot write")));
  out << "rec_id,euid\n";
  for (size_t i = 0; i < ids.size(); ++i) out << ids[i] << ",E" << result.cluster[i] << "\n";
  out.close();
  if (!out) return Fail(absl::InternalError(absl::StrCat(clusters_out, ": write failed")));

  std::vector<std::string> truth;
  bool labelled = true;
  for (const auto& id : ids) {
    truth.push_back(mpi::FebrlEntity(id));
    if (truth.back().empty()) labelled = false;
  }
  mpi::PairwiseMetrics metrics;
  if (labelled) metrics = mpi::ComparePairs(result.cluster, truth, side);
  if (show_model) {
    std::cerr << absl::StrFormat("match prior among candidates %.4f\n", result.model.prior());
    for (int f = 0; f < mpi::kFieldCount; ++f) {
      for (int l = 0; l + 1 < mpi::kLevelCount; ++l) {
        auto field = static_cast<mpi::Field>(f);
        auto level = static_cast<mpi::Level>(l);
        std::cerr << absl::StrFormat("  %-12s %-10s m %.5f  u %.6f  weight %+6.2f\n",
                                     mpi::FieldName(field), mpi::LevelName(level),
                                     result.model.m(field, level), result.model.u(field, level),
                                     result.model.Weight(field, level));
      }
    }
  }
  if (labelled && explain_misses > 0)
    ExplainMisses(people, ids, truth, side, result, explain_misses);
  double rate = seconds > 0 ? people.size() / seconds : 0;
  const mpi::BatchStats& s = result.stats;
  if (json) {
    JsonObject doc;
    doc.Add("records", static_cast<int64_t>(s.records))
        .Add("candidate_pairs", static_cast<int64_t>(s.candidate_pairs))
        .Add("blocks_truncated", static_cast<int64_t>(s.blocks_truncated))
        .Add("links", static_cast<int64_t>(s.links))
        .Add("reviews", static_cast<int64_t>(s.reviews))
        .Add("guarded", static_cast<int64_t>(s.guarded))
        .Add("em_iterations", s.em_iterations)
        .Add("seconds", seconds)
        .Add("records_per_second", rate);
    if (labelled) {
      doc.Add("true_pairs", metrics.true_pairs)
          .Add("predicted_pairs", metrics.predicted_pairs)
          .Add("correct_pairs", metrics.correct_pairs)
          .Add("precision", metrics.precision)
          .Add("recall", metrics.recall)
          .Add("f1", metrics.f1);
    }
    std::cout << doc.Build() << "\n";
  } else {
    std::cout << absl::StrFormat(
        "%d records, %d candidate pairs (%d blocks cut), %d links, %d for review, %d guarded\n",
        s.records, s.candidate_pairs, s.blocks_truncated, s.links, s.reviews, s.guarded);
    if (labelled) {
      std::cout << absl::StrFormat(
          "precision %.5f  recall %.5f  F1 %.5f  (%d true pairs, %d predicted, %d correct)\n",
          metrics.precision, metrics.recall, metrics.f1, metrics.true_pairs,
          metrics.predicted_pairs, metrics.correct_pairs);
    }
    std::cout << absl::StrFormat("%.0f records/s (%.2f s); clusters in %s\n", rate, seconds,
                                 clusters_out);
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> MpiCommands() {
  return {{{"mpi", "evaluate"},
           "run the MPI's matching engine over CSV registrations and score it",
           RunEvaluate}};
}

}  // namespace hie::cli
