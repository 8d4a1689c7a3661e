#include "mpi/index/patient_index.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"
#include "common/store/key_codec.h"
#include "mpi/index/index_record.pb.h"
#include "mpi/index/person_proto.h"
#include "mpi/match/text.h"

namespace hie::mpi {
namespace {

using store::KeyBuilder;
using store::KeyReader;

// A name this many persons share (among a registration's candidates) is too common to
// link on without a birth date, or on a birth date alone.
constexpr size_t kCommonNamePersons = 3;

// How many other persons a registration asks about for certain matches their guards
// held back.
constexpr size_t kHeldBackQuestions = 2;

// The last line of a stored review item that a re-registration opened.
constexpr char kReRegistration[] = "re-registration";

// Key layout (each part order-preserving; see common/store/key_codec.h):
//   R org local            -> StoredRegistration
//   E euid org local       -> ""        (members of a person)
//   Q review-id            -> "orgA\nlocalA\norgB\nlocalB\nscore"
//   M pair                 -> "link" | "unlink: reason" (operator decisions)
//   A old-euid             -> surviving euid (after a merge)
//   P                      -> StoredMatchModel (after an operator's fit)
//   X org local            -> euid      (a removed registration's last person)
std::string RegistrationKey(const std::string& org, const std::string& local) {
  return KeyBuilder().AddString("R").AddString(org).AddString(local).Build();
}
std::string MemberPrefix(const std::string& euid) {
  return KeyBuilder().AddString("E").AddString(euid).Build();
}
std::string MemberKey(const std::string& euid, const std::string& org, const std::string& local) {
  return KeyBuilder().AddString("E").AddString(euid).AddString(org).AddString(local).Build();
}
std::string ReviewKey(const std::string& id) {
  return KeyBuilder().AddString("Q").AddString(id).Build();
}
std::string RefKey(const std::string& org, const std::string& local) {
  return absl::StrCat(org, "\n", local);
}
// An open review item's pair, as open_reviews_ keys it: the newer registration's
// RefKey, then the candidate's.
std::string ReviewPair(absl::string_view newer, absl::string_view candidate) {
  return absl::StrCat(newer, "\n", candidate);
}
// An unordered pair of registrations as one key.
std::string PairKey(const std::string& x, const std::string& y) {
  return x < y ? absl::StrCat(x, "\n", y) : absl::StrCat(y, "\n", x);
}
std::string AliasKey(const std::string& euid) {
  return KeyBuilder().AddString("A").AddString(euid).Build();
}
std::string ManualKey(const std::string& pair) {
  return KeyBuilder().AddString("M").AddString(pair).Build();
}

std::string ModelKey() { return KeyBuilder().AddString("P").Build(); }
std::string RemovedKey(const std::string& org, const std::string& local) {
  return KeyBuilder().AddString("X").AddString(org).AddString(local).Build();
}

internal::StoredMatchModel ToStored(const PatientIndex::FittedModel& fitted) {
  internal::StoredMatchModel stored;
  const ModelParameters parameters = fitted.model.parameters();
  for (int f = 0; f < kFieldCount; ++f) {
    for (int l = 0; l + 1 < kLevelCount; ++l) {
      auto* level = stored.add_levels();
      level->set_field(FieldName(static_cast<Field>(f)));
      level->set_level(LevelName(static_cast<Level>(l)));
      level->set_m(parameters.m[f][l]);
      level->set_u(parameters.u[f][l]);
    }
  }
  stored.set_prior(parameters.prior);
  stored.set_fitted_unix_micros(absl::ToUnixMicros(fitted.fitted_at));
  stored.set_registrations(fitted.registrations);
  stored.set_sampled(fitted.sampled);
  stored.set_candidate_pairs(fitted.candidate_pairs);
  stored.set_random_pairs(fitted.random_pairs);
  stored.set_em_iterations(fitted.em_iterations);
  return stored;
}

// A stored model; a field or level it does not name keeps its starting parameters.
absl::StatusOr<PatientIndex::FittedModel> FromStored(absl::string_view bytes) {
  internal::StoredMatchModel stored;
  if (!stored.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("the stored matching model is unreadable");
  }
  ModelParameters parameters = MatchModel().parameters();
  absl::flat_hash_map<std::string, std::pair<int, int>> by_name;  // "field level"
  for (int f = 0; f < kFieldCount; ++f) {
    for (int l = 0; l + 1 < kLevelCount; ++l) {
      by_name[absl::StrCat(FieldName(static_cast<Field>(f)), " ",
                           LevelName(static_cast<Level>(l)))] = {f, l};
    }
  }
  for (const auto& level : stored.levels()) {
    auto it = by_name.find(absl::StrCat(level.field(), " ", level.level()));
    if (it == by_name.end()) continue;
    auto [f, l] = it->second;
    parameters.m[f][l] = level.m();
    parameters.u[f][l] = level.u();
  }
  parameters.prior = stored.prior();
  absl::StatusOr<MatchModel> model = MatchModel::FromParameters(parameters);
  if (!model.ok()) {
    return absl::DataLossError(
        absl::StrCat("the stored matching model is invalid: ", model.status().message()));
  }
  PatientIndex::FittedModel fitted;
  fitted.model = *std::move(model);
  fitted.fitted_at = absl::FromUnixMicros(stored.fitted_unix_micros());
  fitted.registrations = stored.registrations();
  fitted.sampled = stored.sampled();
  fitted.candidate_pairs = stored.candidate_pairs();
  fitted.random_pairs = stored.random_pairs();
  fitted.em_iterations = stored.em_iterations();
  return fitted;
}

absl::StatusOr<internal::StoredRegistration> ReadRegistration(const store::KvStore& store,
                                                              const std::string& org,
                                                              const std::string& local) {
  HIE_ASSIGN_OR_RETURN(std::string bytes, store.Get(RegistrationKey(org, local)));
  internal::StoredRegistration stored;
  if (!stored.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat("registration ", org, "/", local, " is unreadable"));
  }
  return stored;
}

// A stored review item ("orgA\nlocalA\norgB\nlocalB\nscore[\nreason[\nre-registration]]"),
// read back; nullopt if it is not one.
std::optional<PatientIndex::ReviewItem> ParseReview(std::string id, absl::string_view value) {
  std::vector<std::string> parts = absl::StrSplit(value, '\n');
  if (parts.size() < 5) return std::nullopt;
  PatientIndex::ReviewItem item;
  item.review_id = std::move(id);
  item.a = {parts[0], parts[1]};
  item.b = {parts[2], parts[3]};
  (void)absl::SimpleAtod(parts[4], &item.score);
  if (parts.size() > 5) item.reason = parts[5];
  item.re_registration = parts.size() > 6 && parts[6] == kReRegistration;
  return item;
}

// True if a pair has no address, postal code, phone or identifier in common.
bool NoHouseholdOrIdentifierInCommon(const Comparison& c) {
  for (Field f : {Field::kStreet, Field::kPostalCode, Field::kPhone, Field::kIdentifier}) {
    Level level = c.at(f);
    if (level == Level::kExact || level == Level::kEquivalent || level == Level::kClose) {
      return false;
    }
  }
  return true;
}

// True if two registrations carry one family and first given name: one name, as the
// common name guards count it.
bool OneName(const PreparedPerson& a, const PreparedPerson& b) {
  return a.family == b.family && !a.given.empty() && !b.given.empty() &&
         a.given.front() == b.given.front();
}

// True if `candidates` hold `enough` persons whose registrations carry `p`'s family and
// first given name, registered by as many organisations: a name one organisation cannot
// make common by itself (decoys registered to keep a person's registrations apart).
template <typename Registration>  // PatientIndex::Cached
bool NameCommonAmong(const PreparedPerson& p, const std::vector<const Registration*>& candidates,
                     size_t enough) {
  if (p.family.empty() || p.given.empty()) return false;
  absl::flat_hash_set<absl::string_view> persons;
  absl::flat_hash_set<absl::string_view> orgs;
  for (const auto* other : candidates) {
    if (OneName(other->prepared, p)) {
      persons.insert(other->euid);
      orgs.insert(other->org_id);
      if (persons.size() >= enough && orgs.size() >= enough) return true;
    }
  }
  return false;
}

// Records a further review item of a registration (RegisterResult::other_review_ids),
// once.
void NoteAlsoAsked(RegisterResult* result, std::string id) {
  if (id.empty() || id == result->review_id) return;
  auto& ids = result->other_review_ids;
  if (std::find(ids.begin(), ids.end(), id) != ids.end()) return;
  ids.push_back(std::move(id));
}

bool ValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// Stored registrations are protobuf, whose strings must be UTF-8: a registration that
// is not would be written but could never be read back.
bool IsValidUtf8(const Person& p) {
  auto all = [](const std::vector<std::string>& v) {
    return std::all_of(v.begin(), v.end(), [](const std::string& s) { return ValidUtf8(s); });
  };
  if (!all(p.given) || !all(p.former_family) || !all(p.suffix) || !all(p.street) ||
      !all(p.phones)) {
    return false;
  }
  if (!ValidUtf8(p.family) || !ValidUtf8(p.city) || !ValidUtf8(p.postal_code) ||
      !ValidUtf8(p.state)) {
    return false;
  }
  for (const auto& [system, value] : p.identifiers) {
    if (!ValidUtf8(system) || !ValidUtf8(value)) return false;
  }
  return true;
}

}  // namespace

const char* PlacementName(Placement placement) {
  switch (placement) {
    case Placement::kNewPerson:
      return "new person";
    case Placement::kKept:
      return "kept";
    case Placement::kLinked:
      return "linked";
    case Placement::kReview:
      return "review";
  }
  return "?";
}

std::optional<PlacementAudit> AuditOfPlacement(const RegisterResult& r,
                                               const Thresholds& thresholds) {
  if (r.placement == Placement::kLinked) {
    return PlacementAudit{"automatic link", DescribePlacement(r, thresholds)};
  }
  if (r.placement == Placement::kReview) {
    return PlacementAudit{absl::StrCat("review: ", r.review_reason),
                          DescribePlacement(r, thresholds)};
  }
  // A new person (or one kept) that other persons' items ask about.
  if (!r.other_review_ids.empty()) {
    return PlacementAudit{"review: other persons", DescribePlacement(r, thresholds)};
  }
  return std::nullopt;
}

std::string DescribePlacement(const RegisterResult& r, const Thresholds& thresholds) {
  std::string out;
  switch (r.placement) {
    case Placement::kLinked:
      out = absl::StrCat("linked to ", r.euid);
      break;
    case Placement::kReview:
      out = absl::StrCat("review ", r.review_id, " (", r.review_reason, "), stays with ", r.euid);
      break;
    case Placement::kKept:
      out = absl::StrCat("kept with ", r.euid);
      break;
    case Placement::kNewPerson:
      out = absl::StrCat("new person ", r.euid);
      break;
  }
  if (!r.previous_euid.empty() && r.previous_euid != r.euid) {
    absl::StrAppend(&out, ", was ", r.previous_euid);
  }
  if (!r.other_review_ids.empty()) {
    absl::StrAppend(&out, "; also review ", absl::StrJoin(r.other_review_ids, ", "));
  }
  if (!r.has_match) return absl::StrCat(out, "; no candidate");
  absl::StrAppend(&out, "; best ", r.matched.org_id, "/", r.matched.local_id, " of ",
                  r.matched_euid,
                  absl::StrFormat(", score %.1f (link at %.1f, review at %.1f):", r.score,
                                  thresholds.upper, thresholds.lower));
  for (const FieldScore& f : r.evidence.fields) {
    if (f.level == Level::kMissing) continue;
    absl::StrAppend(
        &out, absl::StrFormat(" %s %s %+.1f", FieldName(f.field), LevelName(f.level), f.weight));
  }
  return out;
}

store::KvStoreOptions IndexStoreOptions() {
  store::KvStoreOptions options;
  options.write_buffer_bytes = 32 << 20;
  return options;
}

PatientIndex::PatientIndex(store::KvStore* store, Clock* clock, const IndexOptions& options)
    : store_(store), clock_(clock), options_(options), rng_(std::random_device()()) {}

absl::StatusOr<std::unique_ptr<PatientIndex>> PatientIndex::Open(store::KvStore* store,
                                                                 Clock* clock,
                                                                 const IndexOptions& options) {
  std::unique_ptr<PatientIndex> index(new PatientIndex(store, clock, options));
  HIE_RETURN_IF_ERROR(index->Load());
  return index;
}

absl::Status PatientIndex::Load() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> stored_model = store_->Get(ModelKey());
  if (stored_model.ok()) {
    HIE_ASSIGN_OR_RETURN(model_, FromStored(*stored_model));
  } else if (!absl::IsNotFound(stored_model.status())) {
    return stored_model.status();
  }
  absl::Status parse_error;
  HIE_RETURN_IF_ERROR(store_->ScanPrefix(
      KeyBuilder().AddString("R").Build(), [&](absl::string_view, absl::string_view value) {
        internal::StoredRegistration stored;
        if (!stored.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          parse_error = absl::DataLossError("a stored registration is unreadable");
          return false;
        }
        Cached entry{stored.org_id(), stored.local_id(), stored.euid(), stored.version(),
                     PrepareFor(stored.org_id(), PersonFromDemographics(stored.demographics()))};
        frequencies_.Add(entry.prepared);
        NoteMember(entry.euid, entry.org_id);
        auto [it, inserted] = cache_.insert_or_assign(
            absl::StrCat(stored.org_id(), "\n", stored.local_id()), std::move(entry));
        AddToBlocks(&it->second);
        members_[it->second.euid].push_back(&it->second);
        return true;
      }));
  HIE_RETURN_IF_ERROR(parse_error);
  std::string review_prefix = KeyBuilder().AddString("Q").Build();
  HIE_RETURN_IF_ERROR(
      store_->ScanPrefix(review_prefix, [&](absl::string_view k, absl::string_view v) {
        KeyReader reader(k.substr(review_prefix.size()));
        std::string id;
        if (!reader.ReadString(&id)) return true;
        std::optional<ReviewItem> item = ParseReview(std::move(id), v);
        if (!item.has_value()) return true;
        open_reviews_[ReviewPair(RefKey(item->a.org_id, item->a.local_id),
                                 RefKey(item->b.org_id, item->b.local_id))] = {
            std::move(item->review_id), DecidingMergesPersons(item->reason, item->re_registration)};
        return true;
      }));
  std::string manual_prefix = KeyBuilder().AddString("M").Build();
  HIE_RETURN_IF_ERROR(
      store_->ScanPrefix(manual_prefix, [&](absl::string_view k, absl::string_view v) {
        KeyReader reader(k.substr(manual_prefix.size()));
        std::string pair;
        std::vector<absl::string_view> parts;
        if (reader.ReadString(&pair)) parts = absl::StrSplit(pair, '\n');
        if (parts.size() != 4) {
          parse_error = absl::DataLossError("a stored operator decision is unreadable");
          return false;
        }
        NoteManual(absl::StrCat(parts[0], "\n", parts[1]), absl::StrCat(parts[2], "\n", parts[3]),
                   absl::StartsWith(v, "link"));
        return true;
      }));
  return parse_error;
}

uint64_t PatientIndex::MemberHash(const std::string& euid, const std::string& org_id) {
  return absl::Hash<std::tuple<absl::string_view, absl::string_view>>()(
      std::make_tuple(absl::string_view(euid), absl::string_view(org_id)));
}

void PatientIndex::NoteMember(const std::string& euid, const std::string& org_id) {
  member_orgs_.insert(MemberHash(euid, org_id));
}

bool PatientIndex::MayHaveMember(const std::string& euid, const std::string& org_id) const {
  return member_orgs_.contains(MemberHash(euid, org_id));
}

void PatientIndex::NoteManual(const std::string& x, const std::string& y, bool linked) {
  manual_[PairKey(x, y)] = linked;
  manual_refs_.insert(x);
  manual_refs_.insert(y);
}

uint64_t PatientIndex::BlockId(absl::string_view key) {
  // FNV-1a, then a 64-bit finaliser (splitmix64's): the same ids in every run, so that
  // which keys share a block never depends on the process.
  uint64_t h = 14695981039346656037ull;
  for (unsigned char ch : key) h = (h ^ ch) * 1099511628211ull;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

void PatientIndex::AddToBlocks(const Cached* entry) {
  for (const std::string& key : BlockingKeys(entry->prepared))
    blocks_[BlockId(key)].push_back(entry);
}

void PatientIndex::RemoveFromBlocks(const Cached* entry) {
  for (const std::string& key : BlockingKeys(entry->prepared)) {
    auto it = blocks_.find(BlockId(key));
    if (it == blocks_.end()) continue;
    auto& members = it->second;
    members.erase(std::remove(members.begin(), members.end(), entry), members.end());
    if (members.empty()) blocks_.erase(it);
  }
}

int64_t PatientIndex::size() const {
  absl::MutexLock lock(&mu_);
  return frequencies_.total();
}

PreparedPerson PatientIndex::PrepareFor(const std::string& org_id, const Person& person) const {
  PreparedPerson prepared = Prepare(person);
  if (options_.identifier_system_owners.empty()) return prepared;
  auto& ids = prepared.identifiers;
  ids.erase(std::remove_if(ids.begin(), ids.end(),
                           [&](const std::pair<std::string, std::string>& id) {
                             auto owner = options_.identifier_system_owners.find(id.first);
                             return owner != options_.identifier_system_owners.end() &&
                                    owner->second != org_id;
                           }),
            ids.end());
  return prepared;
}

absl::StatusOr<RegisterResult> PatientIndex::Register(const std::string& org_id,
                                                      const std::string& local_id,
                                                      const Person& person,
                                                      const RegisterOptions& register_options) {
  absl::MutexLock lock(&mu_);
  return RegisterLocked(org_id, local_id, person, /*sync=*/true, register_options);
}

absl::StatusOr<RegisterResult> PatientIndex::Update(const std::string& org_id,
                                                    const std::string& local_id,
                                                    const Person& person, int64_t expected_version,
                                                    const RegisterOptions& register_options) {
  absl::MutexLock lock(&mu_);
  auto it = cache_.find(RefKey(org_id, local_id));
  if (it == cache_.end()) {
    return absl::NotFoundError(absl::StrCat("no registration ", org_id, "/", local_id));
  }
  if (expected_version != 0 && it->second.version != expected_version) {
    return absl::AbortedError(absl::StrCat("registration is at version ", it->second.version,
                                           ", not ", expected_version));
  }
  return RegisterLocked(org_id, local_id, person, /*sync=*/true, register_options);
}

absl::StatusOr<std::vector<absl::StatusOr<RegisterResult>>> PatientIndex::RegisterBatch(
    const std::vector<Registration>& registrations) {
  absl::MutexLock lock(&mu_);
  // First, on every core: prepare each newcomer and compare it with its candidates among
  // the registrations held before the batch (the expensive part). Nothing is written
  // until all workers have joined, so they read the index without the lock's help.
  std::vector<Precomputed> precomputed(registrations.size());
  const Blocks& blocks = blocks_;
  const absl::node_hash_map<std::string, Cached>& cache = cache_;
  const size_t bound = options_.max_candidates_per_key;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < registrations.size(); i = next++) {
      const Registration& r = registrations[i];
      Precomputed& p = precomputed[i];
      p.prepared = PrepareFor(r.org_id, r.person);
      p.keys = BlockingKeys(p.prepared);
      auto previous = cache.find(RefKey(r.org_id, r.local_id));
      std::vector<const Cached*> candidates =
          Candidates(blocks, p.keys, previous == cache.end() ? nullptr : &previous->second, bound,
                     &p.truncated);
      p.candidates.reserve(candidates.size());
      for (const Cached* other : candidates) {
        Comparison c = Compare(p.prepared, other->prepared);
        p.candidates.emplace_back(other, Compared{c, CheckGuards(p.prepared, other->prepared, c)});
      }
    }
  };
  const size_t helpers =
      registrations.size() < 64
          ? 0
          : std::min<size_t>(7, std::max(1u, std::thread::hardware_concurrency()) - 1);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < helpers; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();

  // Then in order, as one registration after another: each also meets the batch's
  // earlier registrations, and is compared afresh with any the batch has re-registered.
  BatchChanges changes;
  std::vector<absl::StatusOr<RegisterResult>> results;
  results.reserve(registrations.size());
  for (size_t i = 0; i < registrations.size(); ++i) {
    const Registration& r = registrations[i];
    results.push_back(RegisterLocked(r.org_id, r.local_id, r.person, /*sync=*/false,
                                     RegisterOptions{}, &precomputed[i], &changes));
  }
  HIE_RETURN_IF_ERROR(store_->Sync());
  return results;
}

std::vector<const PatientIndex::Cached*> PatientIndex::Candidates(
    const Blocks& blocks, const std::vector<std::string>& keys, const Cached* previous,
    size_t bound, bool* truncated) {
  absl::flat_hash_set<const Cached*> seen;
  std::vector<const Cached*> candidates;
  for (const std::string& key : keys) {
    auto block = blocks.find(BlockId(key));
    if (block == blocks.end()) continue;
    size_t taken = 0;
    // The most recent registrations first: the bound cuts the oldest.
    for (auto it = block->second.rbegin(); it != block->second.rend(); ++it) {
      if (taken == bound) {
        *truncated = true;
        break;
      }
      ++taken;
      if (*it != previous && seen.insert(*it).second) candidates.push_back(*it);
    }
  }
  return candidates;
}

absl::StatusOr<RegisterResult> PatientIndex::RegisterLocked(
    const std::string& org_id, const std::string& local_id, const Person& person, bool sync,
    const RegisterOptions& register_options, Precomputed* precomputed, BatchChanges* changes) {
  if (org_id.empty() || local_id.empty()) {
    return absl::InvalidArgumentError("a registration needs an org id and a local id");
  }
  if (!IsValidUtf8(person)) {
    return absl::InvalidArgumentError("demographics are not valid UTF-8");
  }
  PreparedPerson prepared =
      precomputed != nullptr ? std::move(precomputed->prepared) : PrepareFor(org_id, person);
  // A newborn may be registered before it is named: a birth date or an identifier is
  // enough to hold a registration (the no-name guard keeps it from linking by itself).
  if (prepared.given.empty() && prepared.family.empty() && prepared.birth_digits.empty() &&
      prepared.identifiers.empty()) {
    return absl::InvalidArgumentError("demographics need a name, a birth date or an identifier");
  }
  std::vector<std::string> keys =
      precomputed != nullptr ? std::move(precomputed->keys) : BlockingKeys(prepared);
  const std::string self = RefKey(org_id, local_id);
  auto previous_it = cache_.find(self);
  const Cached* previous = previous_it == cache_.end() ? nullptr : &previous_it->second;

  // Candidates: every registration sharing a blocking key, up to the per-key bound.
  // In a batch, a newcomer none of whose blocks the batch has changed has the
  // candidates of the batch's first pass, already compared.
  RegisterResult result;
  bool unchanged_blocks = precomputed != nullptr;
  for (size_t k = 0; unchanged_blocks && k < keys.size(); ++k) {
    unchanged_blocks = !changes->blocks.contains(BlockId(keys[k]));
  }
  std::vector<const Cached*> candidates;
  // The first pass's comparison of each candidate, where it has one.
  std::vector<const Compared*> first_pass;
  if (unchanged_blocks) {
    for (const auto& [other, compared] : precomputed->candidates) {
      candidates.push_back(other);
      first_pass.push_back(&compared);
    }
    result.candidates_truncated = precomputed->truncated;
  } else {
    candidates = Candidates(blocks_, keys, previous, options_.max_candidates_per_key,
                            &result.candidates_truncated);
    if (precomputed != nullptr) {
      absl::flat_hash_map<const Cached*, const Compared*> by_candidate;
      for (const auto& [other, compared] : precomputed->candidates) {
        by_candidate.emplace(other, &compared);
      }
      for (const Cached* other : candidates) {
        auto it = by_candidate.find(other);
        first_pass.push_back(it == by_candidate.end() ? nullptr : it->second);
      }
    }
  }
  result.candidates_scored = candidates.size();

  // Score them; keep the best, and the best of each other person.
  double best_score = -1e9;
  Guard best_guard = Guard::kNone;
  const Cached* best = nullptr;
  Score best_evidence;
  struct PersonBest {
    const Cached* registration = nullptr;
    double score = -1e9;
  };
  // Per person, the best candidate that would be a certain match but for its guard.
  struct HeldBack {
    const Cached* registration = nullptr;
    double score = -1e9;
    Guard guard = Guard::kNone;
  };
  absl::flat_hash_map<absl::string_view, HeldBack> held_back;
  // The best guarded candidate: a review item if nothing else is decided.
  PersonBest guarded;
  Guard guarded_by = Guard::kNone;
  Score guarded_evidence;
  // Per person, its best unguarded certain candidate.
  absl::flat_hash_map<absl::string_view, PersonBest> by_person;
  const bool self_decided = manual_refs_.contains(self);  // by an operator, with anyone
  const MatchModel::NameAdjustments adjustments = model_.model.Adjustments(prepared, &frequencies_);
  std::optional<bool> common_name;  // whether the candidates make the name common, once asked
  for (size_t n = 0; n < candidates.size(); ++n) {
    const Cached* other = candidates[n];
    if (self_decided) {
      auto manual = manual_.find(PairKey(self, RefKey(other->org_id, other->local_id)));
      if (manual != manual_.end() && !manual->second) continue;  // an operator kept them apart
    }
    // From the batch's first pass, unless the batch has re-registered the candidate.
    const Compared* known = first_pass.empty() ? nullptr : first_pass[n];
    if (known != nullptr && changes->registrations.contains(other)) known = nullptr;
    Comparison c = known != nullptr ? known->comparison : Compare(prepared, other->prepared);
    Score score = model_.model.Evaluate(c, adjustments);
    Guard guard = known != nullptr ? known->guard : CheckGuards(prepared, other->prepared, c);
    guard =
        CommonNameGuard(prepared, other->prepared, candidates, c, score.total, guard, &common_name);
    if (SaysTwoPeople(guard)) continue;  // neither a link nor a question for an operator
    if (guard == Guard::kNone) {
      // Only certain matches can make a registration match two persons.
      if (score.total >= options_.thresholds.upper) {
        PersonBest& slot = by_person[other->euid];
        if (slot.registration == nullptr || score.total > slot.score) slot = {other, score.total};
      }
    } else {
      // A certain match but for its guard: per person, the likeliest.
      if (score.total >= options_.thresholds.upper) {
        HeldBack& slot = held_back[other->euid];
        if (slot.registration == nullptr || score.total > slot.score)
          slot = {other, score.total, guard};
      }
    }
    if (guard != Guard::kNone && (guarded.registration == nullptr || score.total > guarded.score)) {
      // Whatever the guard, the higher score is the question for an operator.
      guarded = {other, score.total};
      guarded_by = guard;
      guarded_evidence = score;
    }
    // Prefer unguarded matches; among equals, the higher score.
    bool better = best == nullptr || (best_guard != Guard::kNone && guard == Guard::kNone) ||
                  (guard == best_guard && score.total > best_score);
    if (better) {
      best = other;
      best_score = score.total;
      best_guard = guard;
      best_evidence = score;
    }
  }
  // The best other person a certain match would also join, if any.
  PersonBest second;
  if (best != nullptr && best_guard == Guard::kNone) {
    for (const auto& [euid, candidate] : by_person) {
      if (euid == best->euid || candidate.score < options_.thresholds.upper) continue;
      // Ties go by registration, never by the (random) EUID or the map's order.
      if (second.registration == nullptr || candidate.score > second.score ||
          (candidate.score == second.score &&
           std::tie(candidate.registration->org_id, candidate.registration->local_id) <
               std::tie(second.registration->org_id, second.registration->local_id))) {
        second = candidate;
      }
    }
  }

  Decision decision;
  if (best != nullptr) decision = Decide(best_score, best_guard, options_.thresholds);
  // Two local ids of one organisation are never linked automatically, directly or
  // through the person the best match belongs to.
  bool same_org = best != nullptr && best->org_id == org_id;
  if (best != nullptr && !same_org && decision.grade == Grade::kCertain &&
      MayHaveMember(best->euid, org_id)) {
    auto cluster = CrossReferenceByEuid(best->euid);
    if (cluster.ok()) {
      for (const RegistrationRef& member : cluster->registrations) {
        if (member.org_id == org_id && member.local_id != local_id) same_org = true;
      }
    }
  }
  std::string euid;
  store::WriteBatch batch;
  result.grade = Grade::kCertain;
  bool manually_linked = false;
  if (previous != nullptr && self_decided) {
    for (const auto& [pair, linked] : manual_) {
      if (linked && (absl::StartsWith(pair, self + "\n") || absl::EndsWith(pair, "\n" + self))) {
        manually_linked = true;
        break;
      }
    }
  }
  // A certain match is linked automatically only where nothing speaks against it: a
  // registration never moves to another person by itself (a practice re-registering a
  // local id with someone else's demographics would otherwise take over that person),
  // and never joins a person one of whose registrations carries the same identifier
  // system with another value.
  std::string review_reason;
  // The persons this registration's review items ask about.
  absl::flat_hash_set<absl::string_view> asked;
  // The review items this call opens, by pair.
  std::vector<std::pair<std::string, QueuedReview>> new_reviews;
  if (manually_linked) {
    euid = previous->euid;  // an operator linked it: automatic matching does not move it
    result.placement = Placement::kKept;
  } else if (best != nullptr && decision.grade == Grade::kCertain && !same_org &&
             previous != nullptr && previous->euid == best->euid) {
    euid = previous->euid;
    result.placement = Placement::kKept;
  } else if (best != nullptr && decision.grade == Grade::kCertain && !same_org) {
    if (previous != nullptr && ContradictsIdentifiers(prepared, best->euid)) {
      review_reason = kContradictingIdentifier;
    } else if (second.registration != nullptr &&
               best_score - second.score < options_.thresholds.margin &&
               Distinct(*best, *second.registration)) {
      review_reason = kMatchesTwoPersons;
    } else if (!ConsistentWithPerson(prepared, adjustments, best)) {
      review_reason = kDisagreesWithPerson;
    } else if (previous != nullptr) {
      review_reason = kMovesToAnotherPerson;
    } else if (auto removed = store_->Get(RemovedKey(org_id, local_id));
               removed.ok() && *removed != best->euid) {
      review_reason = absl::StrCat(kMovesToAnotherPerson, " (registered again after its removal)");
    } else if (register_options.hold_cross_org_links) {
      review_reason = "registration burst";
      result.held = true;
    } else {
      euid = best->euid;
      result.placement = Placement::kLinked;
    }
  }
  if (euid.empty()) {
    // A new person, unless re-registering: then the registration keeps its person.
    euid = previous != nullptr ? previous->euid : absl::StrFormat("%016x", rng_());
    result.placement = previous != nullptr ? Placement::kKept : Placement::kNewPerson;
    if (review_reason.empty() && best != nullptr) {
      if (decision.grade == Grade::kCertain && same_org) {
        review_reason = "same organisation";
      } else if (decision.grade == Grade::kProbable) {
        review_reason = "between thresholds";
      } else if (best_guard != Guard::kNone && best_score >= options_.thresholds.lower) {
        review_reason = GuardName(best_guard);
      } else if (guarded.registration != nullptr && guarded.score >= options_.thresholds.lower &&
                 guarded.score > best_score) {
        // A guarded candidate outscoring the best unguarded one is the question to ask.
        review_reason = GuardName(guarded_by);
        best = guarded.registration;
        best_score = guarded.score;
        best_evidence = guarded_evidence;
      }
    }
    if (!review_reason.empty()) {
      result.grade = Grade::kProbable;
      result.placement = Placement::kReview;
      result.review_reason = review_reason;
      result.review_id = OpenReview(self, *best, best_score, review_reason, previous != nullptr,
                                    &batch, &new_reviews);
      asked.insert(best->euid);
    }
  }
  // Another item of this registration, about `candidate`'s person.
  auto also_ask = [&](const Cached& candidate, double score, const std::string& reason) {
    NoteAlsoAsked(&result, OpenReview(self, candidate, score, reason, previous != nullptr, &batch,
                                      &new_reviews));
    asked.insert(candidate.euid);
  };
  // A certain match with another person too is that person's question for an operator:
  // never a merge of the two by itself. Unless an open item already asks whether the two
  // persons are one: deciding it "same person" merges them, this registration with them,
  // so a second item would ask the operator the same question twice.
  if (second.registration != nullptr && euid != second.registration->euid) {
    std::string queued =
        euid == best->euid ? QueuedMergeOf(euid, second.registration->euid) : std::string();
    if (!queued.empty()) {
      NoteAlsoAsked(&result, std::move(queued));
      asked.insert(second.registration->euid);
    } else {
      also_ask(*second.registration, second.score, kMatchesTwoPersons);
    }
  }
  // A guarded candidate outscoring an unguarded one that is itself only a review item
  // (between thresholds) is a question of its own: without it, the likelier pair would
  // be left out of the queue behind the less likely one.
  if (result.placement == Placement::kReview && best_guard == Guard::kNone &&
      guarded.registration != nullptr && guarded.score > best_score &&
      guarded.score >= options_.thresholds.lower && euid != guarded.registration->euid) {
    also_ask(*guarded.registration, guarded.score, GuardName(guarded_by));
  }
  // Certain matches their guards held back, with registrations of other persons than the
  // one this registration is placed in: one person split in two, perhaps (the guard's
  // doubt is the operator's question). The two likeliest such persons are asked about
  // (an item already open about the two persons serves), but not a person this
  // registration's items already name, nor, where it was linked, one that looks like
  // another person than the registration it joined through (a guard that says two
  // people): "same person" merges the two persons. Guarded pairs between the thresholds
  // are not asked about: few were one person on the tuning sets, against four in five of
  // these.
  {
    std::vector<const HeldBack*> questions;
    for (const auto& [person, held] : held_back) {
      if (person == euid || asked.contains(person)) continue;
      if (result.placement == Placement::kLinked) {
        Comparison c = Compare(best->prepared, held.registration->prepared);
        if (SaysTwoPeople(CheckGuards(best->prepared, held.registration->prepared, c))) continue;
      }
      questions.push_back(&held);
    }
    std::sort(questions.begin(), questions.end(), [](const HeldBack* x, const HeldBack* y) {
      if (x->score != y->score) return x->score > y->score;
      return std::tie(x->registration->org_id, x->registration->local_id) <
             std::tie(y->registration->org_id, y->registration->local_id);
    });
    if (questions.size() > kHeldBackQuestions) questions.resize(kHeldBackQuestions);
    for (const HeldBack* held : questions) {
      std::string queued = QueuedMergeOf(euid, held->registration->euid);
      if (!queued.empty()) {
        NoteAlsoAsked(&result, std::move(queued));
      } else {
        also_ask(*held->registration, held->score, GuardName(held->guard));
      }
    }
  }
  if (best != nullptr) {
    result.has_match = true;
    result.matched = {best->org_id, best->local_id};
    result.matched_euid = best->euid;
    result.evidence = best_evidence;
  }
  if (previous != nullptr) result.previous_euid = previous->euid;
  result.score = best != nullptr ? best_score : 0;
  result.euid = euid;

  // Replace the previous registration's index entries, then write the new ones.
  if (previous != nullptr) batch.Delete(MemberKey(previous->euid, org_id, local_id));
  internal::StoredRegistration stored;
  stored.set_org_id(org_id);
  stored.set_local_id(local_id);
  stored.set_euid(euid);
  stored.set_version(previous != nullptr ? previous->version + 1 : 1);
  *stored.mutable_demographics() = DemographicsFromPerson(person);
  stored.set_updated_unix_micros(absl::ToUnixMicros(clock_->Now()));
  batch.Put(RegistrationKey(org_id, local_id), stored.SerializeAsString());
  batch.Put(MemberKey(euid, org_id, local_id), "");
  NoteMember(euid, org_id);
  HIE_RETURN_IF_ERROR(sync ? store_->Write(batch) : store_->WriteUnsynced(batch));
  for (auto& [pair, queued] : new_reviews) open_reviews_[std::move(pair)] = std::move(queued);
  if (previous != nullptr) {
    if (changes != nullptr) {
      changes->registrations.insert(previous);
      for (const std::string& key : BlockingKeys(previous->prepared))
        changes->blocks.insert(BlockId(key));
    }
    frequencies_.Remove(previous->prepared);
    RemoveFromBlocks(previous);
  }
  if (changes != nullptr) {
    for (const std::string& key : keys) changes->blocks.insert(BlockId(key));
  }
  frequencies_.Add(prepared);
  Cached& entry = cache_[self];
  if (previous != nullptr) SetPerson(&entry, euid);
  entry = Cached{org_id, local_id, euid, stored.version(), std::move(prepared)};
  if (previous == nullptr) members_[euid].push_back(&entry);
  for (const std::string& key : keys) blocks_[BlockId(key)].push_back(&entry);
  result.version = stored.version();
  return result;
}

void PatientIndex::SetPerson(Cached* entry, const std::string& euid) {
  if (entry->euid == euid) return;
  auto it = members_.find(entry->euid);
  if (it != members_.end()) {
    auto& list = it->second;
    list.erase(std::remove(list.begin(), list.end(), entry), list.end());
    if (list.empty()) members_.erase(it);
  }
  entry->euid = euid;
  if (!euid.empty()) members_[euid].push_back(entry);
}

void PatientIndex::MovePerson(const std::string& from, const std::string& to) {
  if (from == to) return;
  auto it = members_.find(from);
  if (it == members_.end()) return;
  std::vector<Cached*> moving = std::move(it->second);
  members_.erase(it);
  std::vector<Cached*>& into = members_[to];
  for (Cached* entry : moving) {
    entry->euid = to;
    into.push_back(entry);
  }
}

std::string PatientIndex::OpenReview(const std::string& self, const Cached& candidate, double score,
                                     const std::string& reason, bool re_registration,
                                     store::WriteBatch* batch,
                                     std::vector<std::pair<std::string, QueuedReview>>* opened) {
  const std::string pair = ReviewPair(self, RefKey(candidate.org_id, candidate.local_id));
  auto open = open_reviews_.find(pair);
  if (open != open_reviews_.end()) return open->second.id;  // the same question is queued
  for (const auto& [p, queued] : *opened) {
    if (p == pair) return queued.id;
  }
  std::string id = absl::StrFormat("%016x", rng_());
  batch->Put(ReviewKey(id),
             absl::StrCat(pair, "\n", score, "\n", reason,
                          re_registration ? absl::StrCat("\n", kReRegistration) : ""));
  opened->emplace_back(pair, QueuedReview{id, DecidingMergesPersons(reason, re_registration)});
  return id;
}

std::string PatientIndex::QueuedMergeOf(const std::string& x, const std::string& y) const {
  auto xs = members_.find(x);
  auto ys = members_.find(y);
  if (xs == members_.end() || ys == members_.end()) return "";
  // Bounded: a person of many registrations is asked about anew rather than searched.
  if (xs->second.size() * ys->second.size() > 64) return "";
  for (const Cached* a : xs->second) {
    for (const Cached* b : ys->second) {
      const std::string ref_a = RefKey(a->org_id, a->local_id);
      const std::string ref_b = RefKey(b->org_id, b->local_id);
      for (const std::string& key : {ReviewPair(ref_a, ref_b), ReviewPair(ref_b, ref_a)}) {
        auto open = open_reviews_.find(key);
        if (open != open_reviews_.end() && open->second.merges_persons) return open->second.id;
      }
    }
  }
  return "";
}

Guard PatientIndex::CommonNameGuard(const PreparedPerson& person, const PreparedPerson& candidate,
                                    const std::vector<const Cached*>& candidates,
                                    const Comparison& c, double score, Guard guard,
                                    std::optional<bool>* common_name) const {
  auto common = [&] {
    if (!common_name->has_value()) {
      *common_name = NameCommonAmong(person, candidates, kCommonNamePersons);
    }
    return **common_name;
  };
  // Without a birth date, a name several persons here share is not a question an
  // operator could answer: the John Browns of the index would each be asked about.
  if (guard == Guard::kBirthDate && c.at(Field::kBirthDate) == Level::kMissing &&
      NoHouseholdOrIdentifierInCommon(c) && common()) {
    return Guard::kNameOnly;
  }
  // A common name with one birth date, and nothing else in common: namesakes share as
  // much (Michael Johnson of 1989-10-15, in two towns). An operator decides. The name
  // may be common as either registration gives it: a Jennifer Mller, a Mikey Jackson or
  // an R. Jones is as likely one of the Jennifer Millers, Michael Jacksons or Robert
  // Joneses the candidate's name is common among.
  if (guard == Guard::kNone && score >= options_.thresholds.upper &&
      c.at(Field::kBirthDate) == Level::kExact && NoHouseholdOrIdentifierInCommon(c) &&
      (common() || (!OneName(person, candidate) &&
                    NameCommonAmong(candidate, candidates, kCommonNamePersons)))) {
    return Guard::kCommonName;
  }
  return guard;
}

bool PatientIndex::Distinct(const Cached& x, const Cached& y) const {
  Comparison c = Compare(x.prepared, y.prepared);
  if (CheckGuards(x.prepared, y.prepared, c) != Guard::kNone) return true;
  const MatchModel::NameAdjustments adjustments =
      model_.model.Adjustments(x.prepared, &frequencies_);
  return model_.model.Evaluate(c, adjustments).total < options_.thresholds.lower;
}

bool PatientIndex::ConsistentWithPerson(const PreparedPerson& person,
                                        const MatchModel::NameAdjustments& adjustments,
                                        const Cached* matched) const {
  auto members = members_.find(matched->euid);
  if (members == members_.end()) return true;
  // One identifier value with the matched registration says one person: a member the
  // registration disagrees with then holds it back only where the two say two people (a
  // member without the identifier, a first name garbled on one, is no such doubt). One
  // value with a typed slip says less (twins' numbers may be a digit apart): it outweighs
  // a question that is not about the names, and not a twin's.
  const Comparison with_matched = Compare(person, matched->prepared);
  const bool exact_identifier = with_matched.at(Field::kIdentifier) == Level::kExact;
  const bool slipped_identifier =
      !exact_identifier && OneIdentifier(person, matched->prepared, with_matched);
  // A member the registration is only in question with (a guard that asks), or scores
  // low against, is outvoted where the registration is a certain, unguarded match with
  // most of the person's registrations: one of them garbled in other fields (a birth
  // date missing on one, a first name and number replaced on another) is no doubt about
  // the person. A vote is a certain, unguarded match. Where the doubt is about the names
  // (a question with first names that are not one name), only a registration of the same first name
  // votes (equal, or a nickname of it: not an initial, a blank or a typo, which may be
  // either twin's; L. and L., or Laure and Laure, linked to Laura would otherwise carry
  // her twin Lisa or Lauren in against the twin guard with Laura). A member whose guard
  // says two people always holds it back.
  int certain = 0, same_name = 0;
  bool doubted = false, names_doubted = false;
  for (const Cached* member : members->second) {
    const PreparedPerson& theirs = member->prepared;
    Comparison c = Compare(person, theirs);
    Guard guard = member == matched ? Guard::kNone : CheckGuards(person, theirs, c);
    if (SaysTwoPeople(guard)) return false;
    const double score = model_.model.Evaluate(c, adjustments).total;
    const Level given = c.at(Field::kGivenName);
    const bool one_first_name = (given == Level::kExact || given == Level::kEquivalent) &&
                                !FirstNameIsInitial(person) && !FirstNameIsInitial(theirs);
    // A question with first names that are not one name is about the names, whichever
    // guard raised it (Marvin / Martin on a birth date a digit apart too).
    const bool about_names =
        guard != Guard::kNone && (guard != Guard::kBirthDate || !one_first_name);
    // A question only over the birth date a member does not give, with one first name,
    // is answered where the registration gives it and the registration it is certain
    // with gives the same. (Not where the registration is the undated one: no dated
    // registration answers that, and a dated member is what tells a mother from a
    // daughter of one name in one household.)
    const bool undated_only = guard == Guard::kBirthDate && one_first_name &&
                              !theirs.birth_date.known() && person.birth_date.known() &&
                              with_matched.at(Field::kBirthDate) == Level::kExact;
    const bool questioned = guard != Guard::kNone && !exact_identifier &&
                            !(slipped_identifier && !about_names) && !undated_only;
    if (guard == Guard::kNone && score >= options_.thresholds.upper) {
      ++certain;
      same_name += one_first_name;
    }
    if (questioned || score < options_.thresholds.lower) doubted = true;
    if (questioned && about_names) names_doubted = true;
  }
  const int votes = names_doubted ? same_name : certain;
  return !doubted || 2 * votes > static_cast<int>(members->second.size());
}

absl::Status PatientIndex::Remove(const std::string& org_id, const std::string& local_id) {
  absl::MutexLock lock(&mu_);
  HIE_ASSIGN_OR_RETURN(internal::StoredRegistration stored,
                       ReadRegistration(*store_, org_id, local_id));
  store::WriteBatch batch;
  batch.Delete(MemberKey(stored.euid(), org_id, local_id));
  batch.Delete(RegistrationKey(org_id, local_id));
  // Remembered: registering the local id again with another person's demographics is a
  // move, as if it had never been removed (remove-then-register must not skip review).
  batch.Put(RemovedKey(org_id, local_id), stored.euid());
  HIE_RETURN_IF_ERROR(store_->Write(batch));
  auto it = cache_.find(absl::StrCat(org_id, "\n", local_id));
  if (it != cache_.end()) {
    frequencies_.Remove(it->second.prepared);
    RemoveFromBlocks(&it->second);
    SetPerson(&it->second, "");
    cache_.erase(it);
  }
  return absl::OkStatus();
}

absl::StatusOr<CrossReferenceResult> PatientIndex::CrossReferenceByEuid(
    const std::string& requested) const {
  // A merged-away EUID answers with the person it was merged into.
  std::string euid = requested;
  for (int hops = 0; hops < 8; ++hops) {
    auto alias = store_->Get(AliasKey(euid));
    if (!alias.ok()) break;
    euid = *alias;
  }
  CrossReferenceResult result;
  result.euid = euid;
  std::string prefix = MemberPrefix(euid);
  HIE_RETURN_IF_ERROR(store_->ScanPrefix(prefix, [&](absl::string_view k, absl::string_view) {
    KeyReader reader(k.substr(prefix.size()));
    RegistrationRef ref;
    if (reader.ReadString(&ref.org_id) && reader.ReadString(&ref.local_id)) {
      result.registrations.push_back(std::move(ref));
    }
    return true;
  }));
  if (result.registrations.empty()) return absl::NotFoundError(absl::StrCat("unknown EUID ", euid));
  return result;
}

absl::StatusOr<CrossReferenceResult> PatientIndex::CrossReference(
    const std::string& org_id, const std::string& local_id) const {
  auto stored = ReadRegistration(*store_, org_id, local_id);
  if (!stored.ok()) {
    if (stored.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat("no registration ", org_id, "/", local_id));
    }
    return stored.status();
  }
  return CrossReferenceByEuid(stored->euid());
}

absl::StatusOr<CrossReferenceResult> PatientIndex::MemberCrossReference(
    const std::string& member_org, const RegistrationRef& ref) const {
  // Another organisation's registration is never the member's: answered without
  // reading the index, so nothing tells whether it exists.
  if (ref.org_id != member_org) return absl::NotFoundError(kNotHeldMessage);
  auto stored = ReadRegistration(*store_, ref.org_id, ref.local_id);
  if (!stored.ok()) {
    if (absl::IsNotFound(stored.status())) return absl::NotFoundError(kNotHeldMessage);
    return stored.status();
  }
  return MemberCrossReferenceByEuid(member_org, stored->euid());
}

absl::StatusOr<CrossReferenceResult> PatientIndex::MemberCrossReferenceByEuid(
    const std::string& member_org, const std::string& requested) const {
  std::string euid = requested;
  for (int hops = 0; hops < 8; ++hops) {
    auto alias = store_->Get(AliasKey(euid));
    if (!alias.ok()) break;
    euid = *alias;
  }
  // Only the member's own entries of the person are read: the same one scan whether
  // the person is unknown or held by others only.
  CrossReferenceResult result;
  result.euid = euid;
  std::string prefix = KeyBuilder().AddString("E").AddString(euid).AddString(member_org).Build();
  HIE_RETURN_IF_ERROR(store_->ScanPrefix(prefix, [&](absl::string_view k, absl::string_view) {
    KeyReader reader(k.substr(prefix.size()));
    RegistrationRef ref{member_org, ""};
    if (reader.ReadString(&ref.local_id)) result.registrations.push_back(std::move(ref));
    return true;
  }));
  if (result.registrations.empty()) return absl::NotFoundError(kNotHeldMessage);
  return result;
}

absl::StatusOr<Person> PatientIndex::GetPerson(const std::string& org_id,
                                               const std::string& local_id) const {
  HIE_ASSIGN_OR_RETURN(internal::StoredRegistration stored,
                       ReadRegistration(*store_, org_id, local_id));
  return PersonFromDemographics(stored.demographics());
}

absl::Status PatientIndex::MoveCluster(const std::string& from_euid, const std::string& to_euid,
                                       store::WriteBatch* batch) {
  if (from_euid == to_euid) return absl::OkStatus();
  HIE_ASSIGN_OR_RETURN(CrossReferenceResult members, CrossReferenceByEuid(from_euid));
  for (const RegistrationRef& r : members.registrations) {
    HIE_ASSIGN_OR_RETURN(internal::StoredRegistration stored,
                         ReadRegistration(*store_, r.org_id, r.local_id));
    stored.set_euid(to_euid);
    batch->Put(RegistrationKey(r.org_id, r.local_id), stored.SerializeAsString());
    batch->Delete(MemberKey(from_euid, r.org_id, r.local_id));
    batch->Put(MemberKey(to_euid, r.org_id, r.local_id), "");
    NoteMember(to_euid, r.org_id);
  }
  return absl::OkStatus();
}

absl::Status PatientIndex::RecordDecision(const RegistrationRef& a, const RegistrationRef& b,
                                          bool same_person, const std::string& reason,
                                          store::WriteBatch* batch) {
  if (reason.empty()) return absl::InvalidArgumentError("a reason is required");
  auto ita = cache_.find(RefKey(a.org_id, a.local_id));
  auto itb = cache_.find(RefKey(b.org_id, b.local_id));
  if (ita == cache_.end() || itb == cache_.end()) {
    return absl::NotFoundError(absl::StrCat("no registration ",
                                            ita == cache_.end() ? a.org_id : b.org_id, "/",
                                            ita == cache_.end() ? a.local_id : b.local_id));
  }
  if (ita == itb) return absl::InvalidArgumentError("a registration is always itself");
  std::string pair = PairKey(ita->first, itb->first);
  if (same_person) {
    HIE_RETURN_IF_ERROR(MoveCluster(itb->second.euid, ita->second.euid, batch));
    batch->Put(ManualKey(pair), absl::StrCat("link: ", reason));
  } else {
    std::string euid = absl::StrFormat("%016x", rng_());
    HIE_ASSIGN_OR_RETURN(internal::StoredRegistration stored,
                         ReadRegistration(*store_, b.org_id, b.local_id));
    if (stored.euid() == ita->second.euid) {
      stored.set_euid(euid);
      batch->Put(RegistrationKey(b.org_id, b.local_id), stored.SerializeAsString());
      batch->Delete(MemberKey(ita->second.euid, b.org_id, b.local_id));
      batch->Put(MemberKey(euid, b.org_id, b.local_id), "");
      NoteMember(euid, b.org_id);
    }
    batch->Put(ManualKey(pair), absl::StrCat("unlink: ", reason));
  }
  return absl::OkStatus();
}

// After a successful write of a Decide batch: bring the cache up to date.
absl::StatusOr<CrossReferenceResult> PatientIndex::Link(const RegistrationRef& a,
                                                        const RegistrationRef& b,
                                                        const std::string& reason) {
  absl::MutexLock lock(&mu_);
  store::WriteBatch batch;
  HIE_RETURN_IF_ERROR(RecordDecision(a, b, /*same_person=*/true, reason, &batch));
  HIE_RETURN_IF_ERROR(store_->Write(batch));
  const Cached& target = cache_[RefKey(a.org_id, a.local_id)];
  MovePerson(cache_[RefKey(b.org_id, b.local_id)].euid, target.euid);
  NoteManual(RefKey(a.org_id, a.local_id), RefKey(b.org_id, b.local_id), /*linked=*/true);
  return CrossReferenceByEuid(target.euid);
}

absl::StatusOr<CrossReferenceResult> PatientIndex::LinkRegistration(const RegistrationRef& a,
                                                                    const RegistrationRef& b,
                                                                    const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (reason.empty()) return absl::InvalidArgumentError("a reason is required");
  auto ita = cache_.find(RefKey(a.org_id, a.local_id));
  auto itb = cache_.find(RefKey(b.org_id, b.local_id));
  if (ita == cache_.end() || itb == cache_.end()) {
    return absl::NotFoundError("a registration of the review item is no longer registered");
  }
  if (ita == itb) return absl::InvalidArgumentError("a registration is always itself");
  const std::string to = ita->second.euid;
  const std::string from = itb->second.euid;
  store::WriteBatch batch;
  if (from != to) {
    HIE_ASSIGN_OR_RETURN(internal::StoredRegistration stored,
                         ReadRegistration(*store_, b.org_id, b.local_id));
    stored.set_euid(to);
    batch.Put(RegistrationKey(b.org_id, b.local_id), stored.SerializeAsString());
    batch.Delete(MemberKey(from, b.org_id, b.local_id));
    batch.Put(MemberKey(to, b.org_id, b.local_id), "");
  }
  batch.Put(ManualKey(PairKey(ita->first, itb->first)), absl::StrCat("link: ", reason));
  HIE_RETURN_IF_ERROR(store_->Write(batch));
  SetPerson(&itb->second, to);
  NoteMember(to, b.org_id);
  NoteManual(ita->first, itb->first, /*linked=*/true);
  return CrossReferenceByEuid(to);
}

bool PatientIndex::ContradictsIdentifiers(const PreparedPerson& person,
                                          const std::string& euid) const {
  if (person.identifiers.empty()) return false;
  auto members = members_.find(euid);
  if (members == members_.end()) return false;
  for (const Cached* member : members->second) {
    // Per system both carry: contradicting unless some value agrees, or is a typo of
    // it (a person may carry an old and a new number of one system; a number mistyped
    // by one character weighs as a close match, not as a contradiction).
    const auto& theirs = member->prepared.identifiers;
    for (const auto& [system, value] : person.identifiers) {
      bool shared_system = false, agrees = false;
      for (const auto& [their_system, their_value] : theirs) {
        if (their_system != system) continue;
        shared_system = true;
        for (const auto& [my_system, my_value] : person.identifiers) {
          if (my_system == system && OneSlipApart(my_value, their_value)) {
            agrees = true;
          }
        }
      }
      if (shared_system && !agrees) return true;
    }
  }
  return false;
}

absl::StatusOr<CrossReferenceResult> PatientIndex::Unlink(const RegistrationRef& a,
                                                          const RegistrationRef& b,
                                                          const std::string& reason) {
  absl::MutexLock lock(&mu_);
  store::WriteBatch batch;
  HIE_RETURN_IF_ERROR(RecordDecision(a, b, /*same_person=*/false, reason, &batch));
  HIE_RETURN_IF_ERROR(store_->Write(batch));
  HIE_ASSIGN_OR_RETURN(internal::StoredRegistration stored,
                       ReadRegistration(*store_, b.org_id, b.local_id));
  SetPerson(&cache_[RefKey(b.org_id, b.local_id)], stored.euid());
  NoteManual(RefKey(a.org_id, a.local_id), RefKey(b.org_id, b.local_id), /*linked=*/false);
  return CrossReferenceByEuid(stored.euid());
}

absl::StatusOr<std::vector<PatientIndex::ReviewItem>> PatientIndex::ListReviews() const {
  std::vector<ReviewItem> items;
  std::string prefix = KeyBuilder().AddString("Q").Build();
  HIE_RETURN_IF_ERROR(store_->ScanPrefix(prefix, [&](absl::string_view k, absl::string_view v) {
    KeyReader reader(k.substr(prefix.size()));
    std::string id;
    if (!reader.ReadString(&id)) return true;
    std::optional<ReviewItem> item = ParseReview(std::move(id), v);
    if (item.has_value()) items.push_back(*std::move(item));
    return true;
  }));
  return items;
}

absl::StatusOr<CrossReferenceResult> PatientIndex::MergePersonsOf(const RegistrationRef& a,
                                                                  const RegistrationRef& b,
                                                                  const std::string& reason) {
  std::string from, into;
  {
    absl::MutexLock lock(&mu_);
    auto ita = cache_.find(RefKey(a.org_id, a.local_id));
    auto itb = cache_.find(RefKey(b.org_id, b.local_id));
    if (ita == cache_.end() || itb == cache_.end()) {
      return absl::NotFoundError("a registration of the review item is no longer registered");
    }
    from = ita->second.euid;
    into = itb->second.euid;
  }
  if (from == into) return CrossReferenceByEuid(into);  // merged meanwhile
  return Merge(from, into, reason);
}

bool MovesARegistrationAlone(absl::string_view review_reason) {
  return absl::StartsWith(review_reason, kMovesToAnotherPerson) ||
         review_reason == kContradictingIdentifier;
}

absl::StatusOr<CrossReferenceResult> PatientIndex::ResolveReview(const std::string& review_id,
                                                                 bool same_person,
                                                                 const std::string& reason) {
  absl::StatusOr<std::string> stored = store_->Get(ReviewKey(review_id));
  if (absl::IsNotFound(stored.status())) {
    return absl::NotFoundError(absl::StrCat("no open review item ", review_id));
  }
  HIE_RETURN_IF_ERROR(stored.status());
  std::optional<ReviewItem> item = ParseReview(review_id, *stored);
  if (!item.has_value()) {
    return absl::DataLossError(absl::StrCat("review item ", review_id, " is unreadable"));
  }
  // The decision first, then the item goes, so a failed decision leaves it. "Same
  // person" merges the two persons: whoever joined a's person since came because they
  // matched a (and for "matches two persons", a's link to its first person stays); then
  // the pair itself is recorded as the operator's link. A re-registration that would
  // move asks about the local id alone, which moves without its old person.
  absl::StatusOr<CrossReferenceResult> result;
  if (!same_person) {
    result = Unlink(item->b, item->a, reason);
  } else if (!DecidingMergesPersons(item->reason, item->re_registration)) {
    result = LinkRegistration(item->b, item->a, reason);
  } else {
    result = MergePersonsOf(item->a, item->b, reason);
    if (result.ok()) result = LinkRegistration(item->b, item->a, reason);
  }
  if (!result.ok()) return result;
  HIE_RETURN_IF_ERROR(store_->Delete(ReviewKey(review_id)));
  absl::MutexLock lock(&mu_);
  open_reviews_.erase(ReviewPair(RefKey(item->a.org_id, item->a.local_id),
                                 RefKey(item->b.org_id, item->b.local_id)));
  return result;
}

absl::StatusOr<PatientIndex::Explanation> PatientIndex::Explain(const RegistrationRef& a,
                                                                const RegistrationRef& b) const {
  absl::MutexLock lock(&mu_);
  auto ita = cache_.find(RefKey(a.org_id, a.local_id));
  auto itb = cache_.find(RefKey(b.org_id, b.local_id));
  if (ita == cache_.end() || itb == cache_.end()) {
    return absl::NotFoundError("no such registration");
  }
  Explanation e;
  const PreparedPerson& pa = ita->second.prepared;
  Comparison c = Compare(pa, itb->second.prepared);
  e.score = model_.model.Evaluate(pa, itb->second.prepared, c, &frequencies_);
  // As registering `a` now would guard the pair, how common its name is included.
  bool truncated = false;
  std::vector<const Cached*> candidates = Candidates(blocks_, BlockingKeys(pa), &ita->second,
                                                     options_.max_candidates_per_key, &truncated);
  std::optional<bool> common_name;
  e.guard = CommonNameGuard(pa, itb->second.prepared, candidates, c, e.score.total,
                            CheckGuards(pa, itb->second.prepared, c), &common_name);
  e.decision = mpi::Decide(e.score.total, e.guard, options_.thresholds);
  auto manual = manual_.find(PairKey(ita->first, itb->first));
  if (manual != manual_.end()) e.manual = manual->second ? "manual link" : "manual unlink";
  return e;
}

PatientIndex::FittedModel PatientIndex::Model() const {
  absl::MutexLock lock(&mu_);
  return model_;
}

absl::StatusOr<PatientIndex::FittedModel> PatientIndex::FitModel(const FitOptions& options) {
  absl::MutexLock lock(&mu_);
  const int64_t n = static_cast<int64_t>(cache_.size());
  if (n < std::max<int64_t>(options.min_registrations, 2)) {
    return absl::FailedPreconditionError(absl::StrCat("the index holds ", n,
                                                      " registrations; fitting needs at least ",
                                                      options.min_registrations, " to learn from"));
  }
  std::vector<const Cached*> all;
  all.reserve(n);
  for (const auto& [key, entry] : cache_) all.push_back(&entry);

  // u: random pairs, almost all of them two different people.
  std::vector<Comparison> random;
  random.reserve(options.random_pairs);
  std::uniform_int_distribution<size_t> pick(0, all.size() - 1);
  for (size_t k = 0; k < options.random_pairs; ++k) {
    size_t i = pick(rng_), j = pick(rng_);
    if (i != j) random.push_back(Compare(all[i]->prepared, all[j]->prepared));
  }
  // m: the blocked candidates of a random sample, each pair once.
  const size_t most = std::min(options.sample, all.size());
  absl::flat_hash_set<std::pair<const Cached*, const Cached*>> seen;
  std::vector<Comparison> candidates;
  size_t sample = 0;
  for (; sample < most && candidates.size() < options.max_candidate_pairs; ++sample) {
    std::swap(all[sample],
              all[std::uniform_int_distribution<size_t>(sample, all.size() - 1)(rng_)]);
    const Cached* r = all[sample];
    bool truncated = false;
    for (const Cached* other : Candidates(blocks_, BlockingKeys(r->prepared), r,
                                          options_.max_candidates_per_key, &truncated)) {
      if (seen.insert(std::minmax(r, other)).second) {
        candidates.push_back(Compare(r->prepared, other->prepared));
      }
    }
  }
  FittedModel fitted;
  fitted.model.FitU(random);
  fitted.em_iterations = fitted.model.FitM(candidates);
  fitted.fitted_at = absl::FromUnixMicros(absl::ToUnixMicros(clock_->Now()));  // as stored
  fitted.registrations = n;
  fitted.sampled = static_cast<int64_t>(sample);
  fitted.candidate_pairs = static_cast<int64_t>(candidates.size());
  fitted.random_pairs = static_cast<int64_t>(random.size());
  HIE_RETURN_IF_ERROR(store_->Put(ModelKey(), ToStored(fitted).SerializeAsString()));
  model_ = fitted;
  return fitted;
}

absl::StatusOr<CrossReferenceResult> PatientIndex::Merge(const std::string& from_euid,
                                                         const std::string& into_euid,
                                                         const std::string& reason) {
  if (reason.empty()) return absl::InvalidArgumentError("a reason is required");
  if (from_euid == into_euid)
    return absl::InvalidArgumentError("cannot merge a person into itself");
  absl::MutexLock lock(&mu_);
  HIE_ASSIGN_OR_RETURN(CrossReferenceResult into, CrossReferenceByEuid(into_euid));
  HIE_ASSIGN_OR_RETURN(CrossReferenceResult from, CrossReferenceByEuid(from_euid));
  if (from.euid == into.euid) {
    // Merged before (the old EUID resolves to the survivor): an alias to itself would
    // make the EUID unresolvable.
    return absl::InvalidArgumentError(
        absl::StrCat(from_euid, " and ", into_euid, " are already the same person"));
  }
  store::WriteBatch batch;
  HIE_RETURN_IF_ERROR(MoveCluster(from.euid, into.euid, &batch));
  batch.Put(AliasKey(from.euid), into.euid);
  // The merge is an operator's link between the two persons: record it on a pair.
  const RegistrationRef& x = into.registrations.front();
  const RegistrationRef& y = from.registrations.front();
  const std::string x_ref = RefKey(x.org_id, x.local_id), y_ref = RefKey(y.org_id, y.local_id);
  batch.Put(ManualKey(PairKey(x_ref, y_ref)), absl::StrCat("link: merge: ", reason));
  HIE_RETURN_IF_ERROR(store_->Write(batch));
  MovePerson(from.euid, into.euid);
  NoteManual(x_ref, y_ref, /*linked=*/true);
  return CrossReferenceByEuid(into.euid);
}

PatientIndex::SearchResult PatientIndex::Search(const Person& person, size_t max_results,
                                                Grade min_grade,
                                                const std::string& searcher_org) const {
  SearchResult result;
  // A member's search weighs identifiers as its registration would: another member's
  // MRN is no evidence. The operator's search (no org) weighs them all.
  PreparedPerson prepared =
      searcher_org.empty() ? Prepare(person) : PrepareFor(searcher_org, person);
  absl::MutexLock lock(&mu_);
  std::vector<const Cached*> candidates =
      Candidates(blocks_, BlockingKeys(prepared), /*previous=*/nullptr,
                 options_.max_candidates_per_key, &result.candidates_truncated);
  const MatchModel::NameAdjustments adjustments = model_.model.Adjustments(prepared, &frequencies_);
  absl::flat_hash_map<std::string, Candidate> best_by_person;
  std::optional<bool> common_name;
  for (const Cached* other : candidates) {
    Comparison c = Compare(prepared, other->prepared);
    Score score = model_.model.Evaluate(c, adjustments);
    // Graded as registering the searched person would place it, how common the name is
    // included.
    Guard guard = CommonNameGuard(prepared, other->prepared, candidates, c, score.total,
                                  CheckGuards(prepared, other->prepared, c), &common_name);
    Decision d = mpi::Decide(score.total, guard, options_.thresholds);
    if (d.grade > min_grade) continue;  // grades order from certain to none
    Candidate& slot = best_by_person[other->euid];
    if (slot.euid.empty() || score.total > slot.score) {
      slot = Candidate{other->euid, {other->org_id, other->local_id}, score.total, d.grade};
    }
  }
  result.candidates_scored = candidates.size();
  for (auto& [euid, candidate] : best_by_person) result.candidates.push_back(std::move(candidate));
  std::sort(result.candidates.begin(), result.candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  if (result.candidates.size() > max_results) result.candidates.resize(max_results);
  return result;
}

absl::StatusOr<int64_t> PatientIndex::Version(const std::string& org_id,
                                              const std::string& local_id) const {
  absl::MutexLock lock(&mu_);
  auto it = cache_.find(RefKey(org_id, local_id));
  if (it == cache_.end()) {
    return absl::NotFoundError(absl::StrCat("no registration ", org_id, "/", local_id));
  }
  return it->second.version;
}

}  // namespace hie::mpi
