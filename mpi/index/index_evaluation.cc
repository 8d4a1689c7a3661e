#include "mpi/index/index_evaluation.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "common/time/clock.h"

namespace hie::mpi {

absl::StatusOr<std::unique_ptr<ScratchIndex>> ScratchIndex::Create(const IndexOptions& options) {
  std::error_code error;
  std::filesystem::path temp = std::filesystem::temp_directory_path(error);
  if (error) return absl::InternalError(absl::StrCat("no temporary directory: ", error.message()));
  std::string pattern = (temp / "hie-mpi-evaluate-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary directory in ", temp.string()));
  }
  std::unique_ptr<ScratchIndex> scratch(new ScratchIndex);
  scratch->dir_ = pattern;
  HIE_ASSIGN_OR_RETURN(scratch->store_, store::KvStore::Open(scratch->dir_, IndexStoreOptions()));
  HIE_ASSIGN_OR_RETURN(scratch->index_,
                       PatientIndex::Open(scratch->store_.get(), Clock::Real(), options));
  return scratch;
}

ScratchIndex::~ScratchIndex() {
  index_.reset();
  store_.reset();
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::vector<ReviewJoin> ReviewJoins(const PlacementRun& run) {
  std::vector<ReviewJoin> joins;
  for (const PlacementRun::Review& r : run.reviews) {
    joins.push_back({r.a, r.b, DecidingMergesPersons(r.reason, /*re_registration=*/false)});
  }
  return joins;
}

absl::StatusOr<PlacementRun> PlaceAll(PatientIndex& index,
                                      const std::vector<PatientIndex::Registration>& registrations,
                                      size_t batch_size,
                                      const std::function<void(size_t)>& progress) {
  absl::flat_hash_map<std::string, size_t> position;
  for (size_t i = 0; i < registrations.size(); ++i) {
    const auto& r = registrations[i];
    if (!position.emplace(absl::StrCat(r.org_id, "\n", r.local_id), i).second) {
      return absl::InvalidArgumentError(absl::StrCat("registration ", r.org_id, "/", r.local_id,
                                                     " appears twice (record ", i + 1, ")"));
    }
  }
  PlacementRun run;
  run.euid.resize(registrations.size());
  if (batch_size == 0) batch_size = 1;
  auto start = std::chrono::steady_clock::now();
  for (size_t first = 0; first < registrations.size(); first += batch_size) {
    const size_t last = std::min(registrations.size(), first + batch_size);
    std::vector<PatientIndex::Registration> batch(registrations.begin() + first,
                                                  registrations.begin() + last);
    HIE_ASSIGN_OR_RETURN(auto results, index.RegisterBatch(batch));
    for (size_t k = 0; k < results.size(); ++k) {
      if (!results[k].ok()) {
        // A registration the index refuses (no name, birth date or identifier) is a
        // person of its own; anything else is the store failing, and the run with it.
        if (!absl::IsInvalidArgument(results[k].status())) return results[k].status();
        ++run.refused;
        run.euid[first + k] = absl::StrCat("refused:", first + k);
      } else if (results[k]->placement == Placement::kLinked) {
        ++run.links;
      }
    }
    if (progress) progress(last);
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Read back: a person may have changed since a registration was placed (a later one
  // cannot move it, but reading the end state is what a clinician would see).
  for (size_t i = 0; i < registrations.size(); ++i) {
    if (!run.euid[i].empty()) continue;
    HIE_ASSIGN_OR_RETURN(CrossReferenceResult x,
                         index.CrossReference(registrations[i].org_id, registrations[i].local_id));
    run.euid[i] = x.euid;
  }
  HIE_ASSIGN_OR_RETURN(std::vector<PatientIndex::ReviewItem> items, index.ListReviews());
  for (const auto& item : items) {
    auto a = position.find(absl::StrCat(item.a.org_id, "\n", item.a.local_id));
    auto b = position.find(absl::StrCat(item.b.org_id, "\n", item.b.local_id));
    if (a == position.end() || b == position.end()) continue;
    run.reviews.push_back({a->second, b->second, item.score, item.reason});
  }
  // In input order (review ids are random).
  std::sort(run.reviews.begin(), run.reviews.end(),
            [](const PlacementRun::Review& x, const PlacementRun::Review& y) {
              return std::tie(x.a, x.b) < std::tie(y.a, y.b);
            });
  return run;
}

absl::StatusOr<std::vector<std::string>> DecideQueue(
    PatientIndex& index, const std::vector<PatientIndex::Registration>& registrations,
    const std::vector<std::string>& truth) {
  if (truth.size() != registrations.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the truth names ", truth.size(),
                                                   " registrations, not ", registrations.size()));
  }
  absl::flat_hash_map<std::string, size_t> position;
  for (size_t i = 0; i < registrations.size(); ++i) {
    position.emplace(absl::StrCat(registrations[i].org_id, "\n", registrations[i].local_id), i);
  }
  auto at = [&](const RegistrationRef& ref) -> const size_t* {
    auto it = position.find(absl::StrCat(ref.org_id, "\n", ref.local_id));
    return it == position.end() ? nullptr : &it->second;
  };
  HIE_ASSIGN_OR_RETURN(std::vector<PatientIndex::ReviewItem> items, index.ListReviews());
  // By input position of the newer registration, then of the candidate (review ids are
  // random): the same order on every run.
  std::vector<std::tuple<size_t, size_t, const PatientIndex::ReviewItem*>> queue;
  for (const auto& item : items) {
    const size_t* a = at(item.a);
    const size_t* b = at(item.b);
    if (a != nullptr && b != nullptr) queue.emplace_back(*a, *b, &item);
  }
  std::sort(queue.begin(), queue.end(), [](const auto& x, const auto& y) {
    return std::tie(std::get<0>(x), std::get<1>(x)) < std::tie(std::get<0>(y), std::get<1>(y));
  });
  for (const auto& [a, b, item] : queue) {
    const bool same = truth[a] == truth[b];
    absl::StatusOr<CrossReferenceResult> decided = index.ResolveReview(
        item->review_id, same, same ? "evaluate: one person" : "evaluate: two people");
    if (!decided.ok()) return decided.status();
  }
  std::vector<std::string> euid(registrations.size());
  for (size_t i = 0; i < registrations.size(); ++i) {
    absl::StatusOr<CrossReferenceResult> x =
        index.CrossReference(registrations[i].org_id, registrations[i].local_id);
    if (absl::IsNotFound(x.status())) {
      euid[i] = absl::StrCat("refused:", i);
      continue;
    }
    if (!x.ok()) return x.status();
    euid[i] = x->euid;
  }
  return euid;
}

}  // namespace hie::mpi
