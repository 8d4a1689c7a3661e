// hiectl mpi evaluate: registrations placed through the MPI's own index, offline, with
// precision, recall and F1 when the records carry their true identity.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/rpc_command.h"
#include "common/fhir/datetime.h"
#include "common/json/json_writer.h"
#include "common/time/proto_time.h"
#include "mpi/index/index_evaluation.h"
#include "mpi/index/person_proto.h"
#include "mpi/match/engine.h"
#include "mpi/match/evaluation.h"
#include "node/domain/patient_demographics.h"
#include "proto/hie/v1/mpi.grpc.pb.h"
#include "simdjson.h"

namespace hie::cli {
namespace {

// Prints up to `limit` true pairs the index left apart and no review item joins, with
// each field's level and weight as the index scored them, what decided, and whether
// blocking made them candidates at all.
void ExplainMisses(mpi::PatientIndex& index,
                   const std::vector<mpi::PatientIndex::Registration>& regs,
                   const std::vector<std::string>& ids, const std::vector<std::string>& truth,
                   const std::vector<int>& side, const mpi::PlacementRun& run, int limit) {
  // In input order: the same misses every run.
  std::map<std::string, std::vector<size_t>> by_truth;
  for (size_t i = 0; i < truth.size(); ++i) by_truth[truth[i]].push_back(i);
  // Pairs whose persons a review item joins are found: not shown.
  absl::flat_hash_set<std::pair<std::string, std::string>> reviewed;
  for (const auto& r : run.reviews) reviewed.insert(std::minmax(run.euid[r.a], run.euid[r.b]));
  int shown = 0;
  for (const auto& [entity, members] : by_truth) {
    for (size_t x = 0; x < members.size() && shown < limit; ++x) {
      for (size_t y = x + 1; y < members.size() && shown < limit; ++y) {
        size_t i = members[x], j = members[y];
        if (!side.empty() && side[i] == side[j]) continue;
        if (run.euid[i] == run.euid[j] ||
            reviewed.contains(std::minmax(run.euid[i], run.euid[j]))) {
          continue;
        }
        std::vector<std::string> ka = mpi::BlockingKeys(mpi::Prepare(regs[i].person));
        std::vector<std::string> kb = mpi::BlockingKeys(mpi::Prepare(regs[j].person));
        bool blocked = false;
        for (const auto& k : ka) blocked |= std::find(kb.begin(), kb.end(), k) != kb.end();
        auto e =
            index.Explain({regs[i].org_id, regs[i].local_id}, {regs[j].org_id, regs[j].local_id});
        if (!e.ok()) continue;
        std::cerr << ids[i] << " ~ " << ids[j] << (blocked ? "" : " (never a candidate)")
                  << absl::StrFormat(" total %.1f: %s\n", e->score.total, e->decision.decided_by);
        for (const auto& f : e->score.fields) {
          std::cerr << absl::StrFormat("    %-12s %-10s %+6.1f\n", mpi::FieldName(f.field),
                                       mpi::LevelName(f.level), f.weight);
        }
        ++shown;
      }
    }
  }
}

// One field level of a matching model, as `mpi evaluate --show-model` and `mpi model`
// print it.
std::string LevelWeightLine(absl::string_view field, absl::string_view level, double m, double u,
                            double weight) {
  return absl::StrFormat("  %-12s %-10s m %.5f  u %.6f  weight %+6.2f\n", field, level, m, u,
                         weight);
}

// Patients of a FHIR NDJSON file (one Patient a line), read as a node reads them for the
// MPI; the record id is Patient.id. Errors name the line.
absl::StatusOr<std::vector<mpi::LabelledRecord>> LoadPatientNdjson(const std::string& path,
                                                                   bool drop_identifiers) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::vector<mpi::LabelledRecord> records;
  simdjson::dom::parser parser;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::StatusOr<hie::v1::Demographics> demographics = node::DemographicsFromFhirPatient(line);
    if (!demographics.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": ", demographics.status().message()));
    }
    simdjson::dom::element root;
    std::string_view id;
    if (parser.parse(line).get(root) || root["id"].get_string().get(id) || id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": a Patient without an id"));
    }
    mpi::LabelledRecord r;
    r.id = std::string(id);
    r.person = mpi::PersonFromDemographics(*demographics);
    if (drop_identifiers) r.person.identifiers.clear();
    records.push_back(std::move(r));
  }
  return records;
}

int RunEvaluate(const std::vector<std::string>& args) {
  std::string format = "febrl";
  std::vector<std::string> csvs, inputs;
  std::string clusters_out, reviews_out, org_column;
  bool drop_ssn = false;
  bool review_reasons = false;
  bool json = false;
  std::string upper, lower;
  int explain_misses = 0;
  bool show_model = false;
  FlagSet flags(
      "hiectl mpi evaluate (--csv A [--csv B] | --format fhir-ndjson --input A [--input B]) "
      "--clusters-out F [--reviews-out R [--review-reasons]] [--org-column NAME] [--drop-ssn] "
      "[--upper W] [--lower W] [--json]",
      "Places registrations through the MPI's own index (the code hie-mpi runs, with its\n"
      "default configuration) in a temporary directory, one after another in input order,\n"
      "and scores what it did. One input is deduplicated (each record its own practice,\n"
      "unless --org-column names the column that holds it); two are linked across, each\n"
      "input one practice. Writes `rec_id,euid` for every record to F and, with\n"
      "--reviews-out, `rec_a,rec_b,score` for every pair the index put in its review\n"
      "queue (--review-reasons adds a fourth column, `reason`: the guard or rule that\n"
      "asked, as in the printed \"review reasons\" line). Prints the counts and the\n"
      "throughput and, when record ids carry the true person (rec-<N>-...), auto-link\n"
      "precision, recall and F1, recall counting review pairs as found (one decision\n"
      "each), and precision and recall once the whole queue is decided as the truth\n"
      "says, through the index's own resolve (the clusters file is written before that).\n"
      "CSV: a header naming the columns (Febrl's rec_id, given_name, surname,\n"
      "street_number, address_1, address_2, suburb, postcode, state, date_of_birth,\n"
      "soc_sec_id; optionally middle_name, former_surname, sex, phone, multiple_birth).\n"
      "FHIR NDJSON: one Patient a line, read as a node reads it; the record id is\n"
      "Patient.id. --drop-ssn drops identifiers, as most registrations lack one.\n"
      "--upper/--lower override the auto-link and review thresholds (total log2 weight).",
      "hiectl mpi evaluate --csv dataset4a.csv --csv dataset4b.csv --clusters-out clusters.csv "
      "--reviews-out reviews.csv");
  flags.String("format", &format, "FORMAT", "febrl (CSV, the default) or fhir-ndjson");
  flags.Strings("csv", &csvs, "FILE", "a CSV file (give one to deduplicate, two to link)");
  flags.Strings("input", &inputs, "FILE", "an input file of --format (as --csv)");
  flags.String("clusters-out", &clusters_out, "F", "where to write rec_id,euid");
  flags.String("reviews-out", &reviews_out, "F", "where to write rec_a,rec_b,score");
  flags.Bool("review-reasons", &review_reasons,
             "add each review pair's reason to --reviews-out (a fourth column, quoted)");
  flags.String("org-column", &org_column, "NAME",
               "the CSV column naming each record's practice (deduplicating one file)");
  flags.Bool("drop-ssn", &drop_ssn, "ignore identifiers (the soc_sec_id column)");
  flags.String("upper", &upper, "W", "auto-link threshold (default 16)");
  flags.String("lower", &lower, "W", "review threshold (default 8)");
  flags.Int(
      "explain-misses", &explain_misses, "N",
      "print, for up to N true pairs left apart and not in review, how the index scored them");
  flags.Bool("show-model", &show_model,
             "print the m and u probabilities and the weight of every field level");
  flags.Bool("json", &json, "print one JSON document on stdout");
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok()) return UsageError("mpi evaluate", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (format != "febrl" && format != "csv" && format != "fhir-ndjson") {
    return UsageError("mpi evaluate",
                      absl::InvalidArgumentError("--format: febrl (CSV) or fhir-ndjson"));
  }
  const bool ndjson = format == "fhir-ndjson";
  for (const std::string& f : csvs) inputs.push_back(f);
  if (ndjson && !csvs.empty()) {
    return UsageError("mpi evaluate", absl::InvalidArgumentError(
                                          "--csv is for CSV; give --input with fhir-ndjson"));
  }
  if (inputs.empty() || inputs.size() > 2) {
    return UsageError("mpi evaluate", absl::InvalidArgumentError("give one input or two"));
  }
  if (!org_column.empty() && (ndjson || inputs.size() == 2)) {
    return UsageError("mpi evaluate",
                      absl::InvalidArgumentError("--org-column is for deduplicating one CSV file"));
  }
  if (clusters_out.empty()) {
    return UsageError("mpi evaluate", absl::InvalidArgumentError("--clusters-out F is required"));
  }
  if (review_reasons && reviews_out.empty()) {
    return UsageError("mpi evaluate",
                      absl::InvalidArgumentError("--review-reasons adds to --reviews-out R"));
  }
  mpi::IndexOptions options;
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
  std::vector<mpi::PatientIndex::Registration> regs;
  std::vector<int> side;
  for (size_t f = 0; f < inputs.size(); ++f) {
    auto records = ndjson ? LoadPatientNdjson(inputs[f], drop_ssn)
                          : mpi::LoadRegistrationCsv(inputs[f], {drop_ssn, org_column});
    if (!records.ok()) return Fail(records.status());
    for (auto& r : *records) {
      // Linking: each input a practice. Deduplicating: each record its own practice,
      // unless a column says which.
      std::string org = inputs.size() == 2    ? absl::StrCat("input-", f + 1)
                        : !org_column.empty() ? r.org
                                              : absl::StrCat("record-", ids.size() + 1);
      if (org.empty()) org = "(none)";
      ids.push_back(r.id);
      regs.push_back({org, r.id, std::move(r.person)});
      if (inputs.size() == 2) side.push_back(static_cast<int>(f));
    }
  }
  auto scratch = mpi::ScratchIndex::Create(options);
  if (!scratch.ok()) return Fail(scratch.status());
  const bool progress = !json && isatty(STDERR_FILENO);
  auto run = mpi::PlaceAll((*scratch)->index(), regs, 1000, [&](size_t done) {
    if (progress) std::cerr << "\rplaced " << done << " of " << regs.size() << std::flush;
  });
  if (progress) std::cerr << "\n";
  if (!run.ok()) return Fail(run.status());

  const std::vector<int> cluster = mpi::ClusterNumbers(run->euid);
  std::ofstream out(clusters_out, std::ios::trunc);
  if (!out) return Fail(absl::PermissionDeniedError(absl::StrCat(clusters_out, ": cannot write")));
  out << "rec_id,euid\n";
  for (size_t i = 0; i < ids.size(); ++i) out << ids[i] << "," << run->euid[i] << "\n";
  out.close();
  if (!out) return Fail(absl::InternalError(absl::StrCat(clusters_out, ": write failed")));
  if (!reviews_out.empty()) {
    std::ofstream rout(reviews_out, std::ios::trunc);
    if (!rout) {
      return Fail(absl::PermissionDeniedError(absl::StrCat(reviews_out, ": cannot write")));
    }
    rout << (review_reasons ? "rec_a,rec_b,score,reason\n" : "rec_a,rec_b,score\n");
    for (const auto& r : run->reviews) {
      rout << ids[r.a] << "," << ids[r.b] << "," << absl::StrFormat("%.2f", r.score);
      if (review_reasons) {
        rout << ",\"" << absl::StrReplaceAll(r.reason, {{"\"", "\"\""}}) << "\"";
      }
      rout << "\n";
    }
    rout.close();
    if (!rout) return Fail(absl::InternalError(absl::StrCat(reviews_out, ": write failed")));
  }

  std::vector<std::string> truth;
  bool labelled = true;
  for (const auto& id : ids) {
    truth.push_back(mpi::FebrlEntity(id));
    if (truth.back().empty()) labelled = false;
  }
  mpi::PairwiseMetrics metrics;
  double recall_with_reviews = 0;
  if (labelled) {
    metrics = mpi::ComparePairs(cluster, truth, side);
    recall_with_reviews = mpi::RecallWithReviews(cluster, truth, side, mpi::ReviewJoins(*run));
  }
  if (show_model) {
    mpi::MatchModel model = (*scratch)->index().Model().model;
    for (int f = 0; f < mpi::kFieldCount; ++f) {
      for (int l = 0; l + 1 < mpi::kLevelCount; ++l) {
        auto field = static_cast<mpi::Field>(f);
        auto level = static_cast<mpi::Level>(l);
        std::cerr << LevelWeightLine(mpi::FieldName(field), mpi::LevelName(level),
                                     model.m(field, level), model.u(field, level),
                                     model.Weight(field, level));
      }
    }
  }
  if (labelled && explain_misses > 0) {
    ExplainMisses((*scratch)->index(), regs, ids, truth, side, *run, explain_misses);
  }
  // Last, since it changes the index: the queue worked by an operator who knows the
  // truth, through the index's own resolve.
  mpi::PairwiseMetrics worked;
  if (labelled) {
    auto after = mpi::DecideQueue((*scratch)->index(), regs, truth);
    if (!after.ok()) return Fail(after.status());
    worked = mpi::ComparePairs(mpi::ClusterNumbers(*after), truth, side);
  }
  const double rate = run->seconds > 0 ? regs.size() / run->seconds : 0;
  const int64_t persons =
      cluster.empty() ? 0 : *std::max_element(cluster.begin(), cluster.end()) + 1;
  const int64_t reviews = static_cast<int64_t>(run->reviews.size());
  if (json) {
    JsonObject doc;
    doc.Add("records", static_cast<int64_t>(regs.size()))
        .Add("persons", persons)
        .Add("links", run->links)
        .Add("review_pairs", reviews)
        .Add("review_share", regs.empty() ? 0.0 : static_cast<double>(reviews) / regs.size())
        .Add("refused", run->refused)
        .Add("seconds", run->seconds)
        .Add("records_per_second", rate);
    if (labelled) {
      doc.Add("true_pairs", metrics.true_pairs)
          .Add("predicted_pairs", metrics.predicted_pairs)
          .Add("correct_pairs", metrics.correct_pairs)
          .Add("precision", metrics.precision)
          .Add("recall", metrics.recall)
          .Add("f1", metrics.f1)
          .Add("recall_with_reviews", recall_with_reviews)
          .Add("precision_queue_worked", worked.precision)
          .Add("recall_queue_worked", worked.recall);
    }
    std::cout << doc.Build() << "\n";
  } else {
    std::cout << absl::StrFormat(
        "%d records placed: %d persons, %d automatic links, %d review pairs (%.2f%% of "
        "records), %d refused\n",
        regs.size(), persons, run->links, reviews,
        regs.empty() ? 0.0 : 100.0 * reviews / regs.size(), run->refused);
    // Per reason, how many items there are and, when the truth is known, how many of
    // them are one person (what an operator would link).
    std::map<std::string, std::pair<int, int>> by_reason;
    for (const auto& r : run->reviews) {
      auto& [count, same] = by_reason[r.reason.empty() ? "?" : r.reason];
      ++count;
      if (labelled && truth[r.a] == truth[r.b]) ++same;
    }
    if (!by_reason.empty()) {
      std::cout << "review reasons:";
      for (const auto& [reason, counts] : by_reason) {
        std::cout << " " << reason << " " << counts.first;
        if (labelled) std::cout << " (" << counts.second << " one person)";
        std::cout << ";";
      }
      std::cout << "\n";
    }
    if (labelled) {
      std::cout << absl::StrFormat(
          "auto-link precision %.5f  recall %.5f  F1 %.5f  (%d true pairs, %d linked, %d "
          "correct)\n"
          "recall counting review pairs as found %.5f\n"
          "once the queue is worked (each item decided as the truth says): precision %.5f  "
          "recall %.5f\n",
          metrics.precision, metrics.recall, metrics.f1, metrics.true_pairs,
          metrics.predicted_pairs, metrics.correct_pairs, recall_with_reviews, worked.precision,
          worked.recall);
    }
    std::cout << absl::StrFormat(
        "%.0f records/s (%.2f s); clusters in %s%s\n", rate, run->seconds, clusters_out,
        reviews_out.empty() ? "" : absl::StrCat(", reviews in ", reviews_out));
  }
  return kExitOk;
}

// "ORG/LOCAL" -> LocalPatientRef.
bool ParseRef(const std::string& text, hie::v1::LocalPatientRef* out) {
  size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return false;
  out->set_org_id(text.substr(0, slash));
  out->set_local_id(text.substr(slash + 1));
  return true;
}

void PrintCluster(const hie::v1::CrossReference& x) {
  std::cout << "EUID " << x.euid() << "\n";
  for (const auto& r : x.registrations()) {
    std::cout << "  " << r.patient().org_id() << "/" << r.patient().local_id() << "\n";
  }
}

// The answer to an operator's decision: the persons involved as they are after it.
template <typename Response>
int PrintClusters(const grpc::Status& status, const Response& response, bool json,
                  const std::string& target) {
  if (!status.ok()) return FailRpc(status, target);
  if (json) {
    std::cout << ToJson(response) << "\n";
  } else {
    for (const auto& x : response.clusters()) PrintCluster(x);
  }
  return kExitOk;
}

int RunXref(const std::vector<std::string>& args) {
  std::string patient, euid;
  return RunRpcCommand<hie::v1::MasterPatientIndex>(
      args, "mpi xref", "hiectl mpi xref (--patient ORG/LOCAL | --euid EUID) [--json]",
      "The person a registration belongs to and every registration linked to it. With a\n"
      "practice's certificate: the EUID and that practice's own registrations only (where\n"
      "else a patient is treated is disclosed by the consent service, under a grant).",
      "hiectl mpi xref --profile operator.profile --target 127.0.0.1:41001 --patient org-a/123",
      [&](FlagSet& flags) {
        flags.String("patient", &patient, "ORG/LOCAL", "a registration");
        flags.String("euid", &euid, "EUID", "or an enterprise id");
      },
      [&](hie::v1::MasterPatientIndex::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::GetCrossReferenceRequest request;
        if (!euid.empty() && patient.empty()) {
          request.set_euid(euid);
        } else if (euid.empty() && ParseRef(patient, request.mutable_local())) {
        } else {
          return UsageError("mpi xref",
                            absl::InvalidArgumentError("give --patient ORG/LOCAL or --euid EUID"));
        }
        hie::v1::CrossReference response;
        grpc::Status status = stub.GetCrossReference(&context, request, &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
        } else {
          PrintCluster(response);
        }
        return kExitOk;
      });
}

// A FHIR date ("1984-06-02", "1984-06" or "1984", checked by the FHIR parser) ->
// Date; false for anything else, a dateTime included.
bool ParseBirthDate(const std::string& text, hie::v1::Date* out) {
  if (text.find('T') != std::string::npos) return false;
  absl::StatusOr<fhir::TimeRange> range = fhir::ParseDateTime(text);
  if (!range.ok()) return false;
  absl::CivilDay day = absl::ToCivilDay(range->begin, absl::UTCTimeZone());
  out->set_year(static_cast<int>(day.year()));
  if (text.size() >= 7) out->set_month(day.month());
  if (text.size() >= 10) out->set_day(day.day());
  return true;
}

std::string GradeName(hie::v1::MatchGrade grade) {
  switch (grade) {
    case hie::v1::MATCH_GRADE_CERTAIN:
      return "certain";
    case hie::v1::MATCH_GRADE_PROBABLE:
      return "probable";
    case hie::v1::MATCH_GRADE_POSSIBLE:
      return "possible";
    default:
      return "none";
  }
}

int RunSearch(const std::vector<std::string>& args) {
  std::string family, birth_date, sex, postcode, phone, min_grade = "possible";
  std::vector<std::string> given, identifiers;
  int max_results = 10;
  return RunRpcCommand<hie::v1::MasterPatientIndex>(
      args, "mpi search",
      "hiectl mpi search --family NAME [--given NAME]... [--birth-date YYYY-MM-DD] [--sex S] "
      "[--postcode P] [--phone P] [--identifier SYSTEM|VALUE]... [--max N] [--min-grade G] "
      "[--json]",
      "Demographic search, for a patient new to the practice: the people the index holds\n"
      "that match, best first, each with its EUID, grade (and score, for the operator) and\n"
      "the names and birth date of its best-matching registration. Never where they were\n"
      "treated. Says how\n"
      "many candidates were scored and whether the blocking bound cut them (then narrow\n"
      "the search). A node or the operator may search.",
      "hiectl mpi search --profile node.profile --target 127.0.0.1:41001 --family Oyelaran "
      "--given Jane --birth-date 1984-06-02",
      [&](FlagSet& flags) {
        flags.String("family", &family, "NAME", "family name");
        flags.Strings("given", &given, "NAME", "a given name (repeat for middle names)");
        flags.String("birth-date", &birth_date, "DATE", "YYYY-MM-DD (or YYYY-MM, YYYY)");
        flags.String("sex", &sex, "S", "male, female, other or unknown");
        flags.String("postcode", &postcode, "P", "postal code of the home address");
        flags.String("phone", &phone, "P", "a phone number");
        flags.Strings("identifier", &identifiers, "SYSTEM|VALUE",
                      "an identifier, e.g. http://hl7.org/fhir/sid/us-ssn|123456789");
        flags.Int("max", &max_results, "N", "at most N candidates, 1-100 (default 10)");
        flags.String("min-grade", &min_grade, "G",
                     "leave out candidates below certain, probable or possible (default)");
      },
      [&](hie::v1::MasterPatientIndex::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::SearchPatientsRequest request;
        hie::v1::Demographics* d = request.mutable_demographics();
        if (family.empty() && given.empty()) {
          return UsageError("mpi search",
                            absl::InvalidArgumentError("give --family or --given (or both)"));
        }
        auto* name = d->add_names();
        name->set_family(family);
        for (const auto& g : given) name->add_given(g);
        if (!birth_date.empty() && !ParseBirthDate(birth_date, d->mutable_birth_date())) {
          return UsageError("mpi search", absl::InvalidArgumentError(absl::StrCat(
                                              "--birth-date: not a date: ", birth_date)));
        }
        if (sex.empty()) {
        } else if (sex == "male") {
          d->set_sex(hie::v1::SEX_MALE);
        } else if (sex == "female") {
          d->set_sex(hie::v1::SEX_FEMALE);
        } else if (sex == "other") {
          d->set_sex(hie::v1::SEX_OTHER);
        } else if (sex == "unknown") {
          d->set_sex(hie::v1::SEX_UNKNOWN);
        } else {
          return UsageError("mpi search", absl::InvalidArgumentError(
                                              "--sex must be male, female, other or unknown"));
        }
        if (!postcode.empty()) {
          auto* address = d->add_addresses();
          address->set_use(hie::v1::Address::USE_HOME);
          address->set_postal_code(postcode);
        }
        if (!phone.empty()) {
          auto* telecom = d->add_telecoms();
          telecom->set_system(hie::v1::ContactPoint::SYSTEM_PHONE);
          telecom->set_value(phone);
        }
        for (const auto& text : identifiers) {
          size_t bar = text.find('|');
          if (bar == std::string::npos || bar == 0 || bar + 1 == text.size()) {
            return UsageError("mpi search", absl::InvalidArgumentError(absl::StrCat(
                                                "--identifier: want SYSTEM|VALUE, got ", text)));
          }
          auto* identifier = d->add_identifiers();
          identifier->set_system(text.substr(0, bar));
          identifier->set_value(text.substr(bar + 1));
        }
        if (max_results < 1 || max_results > 100) {
          return UsageError("mpi search", absl::InvalidArgumentError("--max must be 1-100"));
        }
        request.set_max_results(max_results);
        if (min_grade == "certain") {
          request.set_min_grade(hie::v1::MATCH_GRADE_CERTAIN);
        } else if (min_grade == "probable") {
          request.set_min_grade(hie::v1::MATCH_GRADE_PROBABLE);
        } else if (min_grade == "possible") {
          request.set_min_grade(hie::v1::MATCH_GRADE_POSSIBLE);
        } else {
          return UsageError("mpi search", absl::InvalidArgumentError(
                                              "--min-grade must be certain, probable or possible"));
        }
        hie::v1::SearchPatientsResponse response;
        grpc::Status status = stub.SearchPatients(&context, request, &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
          return kExitOk;
        }
        for (const auto& c : response.candidates()) {
          std::string names;
          for (const auto& n : c.demographics().names()) {
            absl::StrAppend(&names, names.empty() ? "" : "; ", n.family(), ", ",
                            absl::StrJoin(n.given(), " "));
          }
          const hie::v1::Date& born = c.demographics().birth_date();
          // A practice gets no score (0): only the operator sees it.
          std::cout << absl::StrFormat(
              "%s  %-8s %s  %s", c.euid(), GradeName(c.grade()),
              c.score() != 0 ? absl::StrFormat("%6.1f", c.score()) : std::string(6, ' '), names);
          if (born.year() != 0) {
            std::cout << absl::StrFormat("  born %04d-%02d-%02d", born.year(), born.month(),
                                         born.day());
          }
          std::cout << "\n";
        }
        // A practice is not told how many registrations were scored (0): say nothing.
        std::cout << response.candidates_size() << " found"
                  << (response.candidates_scored() > 0
                          ? absl::StrCat(", ", response.candidates_scored(), " candidates scored")
                          : "")
                  << (response.candidates_truncated()
                          ? " (the blocking bound cut the candidates: narrow the search)"
                          : "")
                  << "\n";
        return kExitOk;
      });
}

int RunMerge(const std::vector<std::string>& args) {
  std::string from, into, reason;
  return RunRpcCommand<hie::v1::MasterPatientIndex>(
      args, "mpi merge", "hiectl mpi merge --from EUID --into EUID --reason TEXT [--json]",
      "Operator: two enterprise ids are one person. Every registration of --from joins\n"
      "--into; --from stays resolvable and answers with the surviving EUID. Recorded as a\n"
      "manual link, which automatic matching never undoes, and in the audit chain.",
      "hiectl mpi merge --profile operator.profile --target 127.0.0.1:41001 --from "
      "7f3a09c1d2e4b5a6 --into 29c1e0d4a7b3f856 --reason \"duplicate found at registration\"",
      [&](FlagSet& flags) {
        flags.String("from", &from, "EUID", "the enterprise id that goes (required)");
        flags.String("into", &into, "EUID", "the enterprise id that stays (required)");
        flags.String("reason", &reason, "TEXT", "why, for the record (required)");
      },
      [&](hie::v1::MasterPatientIndex::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        if (from.empty() || into.empty() || reason.empty()) {
          return UsageError("mpi merge",
                            absl::InvalidArgumentError("--from, --into and --reason are required"));
        }
        hie::v1::MergeRequest request;
        request.set_from_euid(from);
        request.set_into_euid(into);
        request.set_reason(reason);
        hie::v1::LinkResponse response;
        grpc::Status status = stub.Merge(&context, request, &response);
        return PrintClusters(status, response, json, target);
      });
}

int RunLinkOrUnlink(const std::vector<std::string>& args, bool link) {
  std::string a, b, reason;
  const std::string verb = link ? "link" : "unlink";
  return RunRpcCommand<hie::v1::MasterPatientIndex>(
      args, "mpi " + verb,
      absl::StrCat("hiectl mpi ", verb, " --a ORG/LOCAL --b ORG/LOCAL --reason TEXT [--json]"),
      link ? "Operator: the two registrations are one person (b's whole cluster joins a's).\n"
             "The decision sticks: automatic matching never undoes it."
           : "Operator: the two registrations are different people (b leaves a's cluster).\n"
             "The decision sticks: automatic matching never rejoins them.",
      absl::StrCat("hiectl mpi ", verb,
                   " --profile operator.profile --target 127.0.0.1:41001 --a org-a/123 "
                   "--b org-b/9 --reason \"checked with the patient\""),
      [&](FlagSet& flags) {
        flags.String("a", &a, "ORG/LOCAL", "first registration (required)");
        flags.String("b", &b, "ORG/LOCAL", "second registration (required)");
        flags.String("reason", &reason, "TEXT", "why, for the record (required)");
      },
      [&](hie::v1::MasterPatientIndex::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::LocalPatientRef ra, rb;
        if (!ParseRef(a, &ra) || !ParseRef(b, &rb) || reason.empty()) {
          return UsageError("mpi " + verb, absl::InvalidArgumentError(
                                               "--a, --b (ORG/LOCAL) and --reason are required"));
        }
        hie::v1::LinkResponse response;
        grpc::Status status;
        if (link) {
          hie::v1::LinkRequest request;
          *request.mutable_a() = ra;
          *request.mutable_b() = rb;
          request.set_reason(reason);
          status = stub.Link(&context, request, &response);
        } else {
          hie::v1::UnlinkRequest request;
          *request.mutable_a() = ra;
          *request.mutable_b() = rb;
          request.set_reason(reason);
          status = stub.Unlink(&context, request, &response);
        }
        return PrintClusters(status, response, json, target);
      });
}

int RunReviews(const std::vector<std::string>& args) {
  return RunRpcCommand<hie::v1::MasterPatientIndex>(
      args, "mpi reviews", "hiectl mpi reviews [--json]",
      "Operator: the pairs waiting for a decision (probable matches, two local ids of one\n"
      "organisation that matched, guarded pairs). Decide each with `hiectl mpi resolve`.",
      "hiectl mpi reviews --profile operator.profile --target 127.0.0.1:41001", [](FlagSet&) {},
      [&](hie::v1::MasterPatientIndex::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::ListReviewsRequest request;
        request.set_page_size(500);
        hie::v1::ListReviewsResponse response;
        grpc::Status status = stub.ListReviews(&context, request, &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
          return kExitOk;
        }
        for (const auto& item : response.items()) {
          std::cout << absl::StrFormat("%s  %s/%s ~ %s/%s  score %.1f  (%s)\n", item.review_id(),
                                       item.a().org_id(), item.a().local_id(), item.b().org_id(),
                                       item.b().local_id(), item.score(), item.reason());
        }
        std::cout << response.total_open() << " open\n";
        return kExitOk;
      });
}

int RunResolve(const std::vector<std::string>& args) {
  std::string id, decision, reason;
  return RunRpcCommand<hie::v1::MasterPatientIndex>(
      args, "mpi resolve",
      "hiectl mpi resolve --review ID --decision link|keep-apart --reason TEXT [--json]",
      "Operator: decides a review item. The decision is recorded as a manual link or\n"
      "unlink, which automatic matching never undoes. \"link\" makes the two persons one\n"
      "(registrations that joined the newer one meanwhile come along); for a\n"
      "re-registration that would move (\"moves to another person\", \"contradicting\n"
      "identifier\") it moves that registration alone.",
      "hiectl mpi resolve --profile operator.profile --target 127.0.0.1:41001 --review "
      "3f2a9c0d1e4b5a67 --decision keep-apart --reason \"twins\"",
      [&](FlagSet& flags) {
        flags.String("review", &id, "ID", "the review item (required)");
        flags.String("decision", &decision, "D", "link or keep-apart (required)");
        flags.String("reason", &reason, "TEXT", "why (required)");
      },
      [&](hie::v1::MasterPatientIndex::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::ResolveReviewRequest request;
        if (decision == "link") {
          request.set_decision(hie::v1::ResolveReviewRequest::DECISION_LINK);
        } else if (decision == "keep-apart") {
          request.set_decision(hie::v1::ResolveReviewRequest::DECISION_KEEP_APART);
        } else {
          return UsageError("mpi resolve",
                            absl::InvalidArgumentError("--decision must be link or keep-apart"));
        }
        if (id.empty() || reason.empty()) {
          return UsageError("mpi resolve",
                            absl::InvalidArgumentError("--review and --reason are required"));
        }
        request.set_review_id(id);
        request.set_reason(reason);
        hie::v1::ResolveReviewResponse response;
        grpc::Status status = stub.ResolveReview(&context, request, &response);
        return PrintClusters(status, response, json, target);
      });
}

int RunExplain(const std::vector<std::string>& args) {
  std::string a, b;
  return RunRpcCommand<hie::v1::MasterPatientIndex>(
      args, "mpi explain", "hiectl mpi explain --a ORG/LOCAL --b ORG/LOCAL [--json]",
      "Operator: how the matcher scores a pair: each field's comparison level and weight,\n"
      "the total, the thresholds, and what decided (a threshold, a guard, a manual\n"
      "decision).",
      "hiectl mpi explain --profile operator.profile --target 127.0.0.1:41001 --a org-a/123 "
      "--b org-b/9",
      [&](FlagSet& flags) {
        flags.String("a", &a, "ORG/LOCAL", "first registration (required)");
        flags.String("b", &b, "ORG/LOCAL", "second registration (required)");
      },
      [&](hie::v1::MasterPatientIndex::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::ExplainMatchRequest request;
        if (!ParseRef(a, request.mutable_a()) || !ParseRef(b, request.mutable_b())) {
          return UsageError("mpi explain",
                            absl::InvalidArgumentError("--a and --b (ORG/LOCAL) are required"));
        }
        hie::v1::MatchExplanation response;
        grpc::Status status = stub.ExplainMatch(&context, request, &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
          return kExitOk;
        }
        for (const auto& f : response.fields()) {
          std::cout << absl::StrFormat("  %-12s %-10s %+6.1f\n", f.field(), f.level(), f.weight());
        }
        std::cout << absl::StrFormat("total %.1f (link at %.1f, review at %.1f): %s\n",
                                     response.total(), response.upper_threshold(),
                                     response.lower_threshold(), response.decided_by());
        return kExitOk;
      });
}

// Prints a matching model report: how it was fitted, then every field level.
int PrintModel(const grpc::Status& status, const hie::v1::MatchModelReport& report, bool json,
               const std::string& target) {
  if (!status.ok()) return FailRpc(status, target);
  if (json) {
    std::cout << ToJson(report) << "\n";
    return kExitOk;
  }
  if (report.has_fitted_at()) {
    absl::Time at = FromProtoTime(report.fitted_at());
    std::cout << absl::StrFormat(
        "fitted %s to %d registrations: %d sampled, %d candidate pairs (m, by EM in %d "
        "iterations), %d random pairs (u); match prior %.4f\n",
        absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", at, absl::UTCTimeZone()), report.registrations(),
        report.sampled(), report.candidate_pairs(), report.em_iterations(), report.random_pairs(),
        report.match_prior());
  } else {
    std::cout << "starting parameters (never fitted; see hiectl mpi fit)\n";
  }
  for (const auto& w : report.levels()) {
    std::cout << LevelWeightLine(w.field(), w.level(), w.m(), w.u(), w.weight());
  }
  return kExitOk;
}

int RunModel(const std::vector<std::string>& args) {
  return RunRpcCommand<hie::v1::MasterPatientIndex>(
      args, "mpi model", "hiectl mpi model [--json]",
      "Operator: the matching model the MPI scores with: for every field and comparison\n"
      "level, m (the chance of that level between two registrations of one person), u (the\n"
      "same between two people) and the weight log2(m/u) it adds to a pair's score; and\n"
      "when and on how much data it was fitted.",
      "hiectl mpi model --profile operator.profile --target 127.0.0.1:41001", [](FlagSet&) {},
      [&](hie::v1::MasterPatientIndex::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::MatchModelReport response;
        grpc::Status status =
            stub.GetMatchModel(&context, hie::v1::GetMatchModelRequest(), &response);
        return PrintModel(status, response, json, target);
      });
}

int RunFit(const std::vector<std::string>& args) {
  std::string reason;
  return RunRpcCommand<hie::v1::MasterPatientIndex>(
      args, "mpi fit", "hiectl mpi fit --reason TEXT [--json]",
      "Operator: fits the matching model to the MPI's own registrations: u from random\n"
      "pairs, m by expectation-maximisation over the blocked candidates of a random sample\n"
      "of up to 20,000 (at most 300,000 pairs; 1.7 s at a million registrations, which wait\n"
      "meanwhile). The MPI scores every later registration, re-registration, search and\n"
      "explanation with it (it survives a restart); placements already made stand. Needs\n"
      "1,000 registrations; run it after the first practices' initial loads and when the\n"
      "population changes. Prints the model as `hiectl mpi model` does. Audited.",
      "hiectl mpi fit --profile operator.profile --target 127.0.0.1:41001 "
      "--reason \"after the initial loads\"",
      [&](FlagSet& flags) { flags.String("reason", &reason, "TEXT", "why (required; audited)"); },
      [&](hie::v1::MasterPatientIndex::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        if (reason.empty()) {
          return UsageError("mpi fit", absl::InvalidArgumentError("--reason is required"));
        }
        hie::v1::FitMatchModelRequest request;
        request.set_reason(reason);
        hie::v1::MatchModelReport response;
        grpc::Status status = stub.FitMatchModel(&context, request, &response);
        return PrintModel(status, response, json, target);
      });
}

}  // namespace

std::vector<Command> MpiCommands() {
  return {
      {{"mpi", "evaluate"},
       "place registrations through the MPI's index offline and score it",
       RunEvaluate},
      {{"mpi", "xref"},
       "the person a registration belongs to, and its other registrations",
       RunXref},
      {{"mpi", "search"},
       "ranked candidates for a patient's demographics, with score and grade",
       RunSearch},
      {{"mpi", "link"},
       "operator: two registrations are one person (sticks)",
       [](const std::vector<std::string>& a) { return RunLinkOrUnlink(a, true); }},
      {{"mpi", "unlink"},
       "operator: two registrations are different people (sticks)",
       [](const std::vector<std::string>& a) { return RunLinkOrUnlink(a, false); }},
      {{"mpi", "merge"}, "operator: fold one EUID into another (sticks)", RunMerge},
      {{"mpi", "reviews"}, "operator: matches waiting for a decision", RunReviews},
      {{"mpi", "resolve"}, "operator: decide a review item", RunResolve},
      {{"mpi", "explain"}, "operator: how the matcher scores a pair", RunExplain},
      {{"mpi", "model"}, "operator: the matching model's m, u and weights", RunModel},
      {{"mpi", "fit"}, "operator: fit the matching model to the index's own data", RunFit},
  };
}

}  // namespace hie::cli
