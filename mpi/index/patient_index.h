// The MPI's persistent index: every practice's registrations, the person (EUID) each
// belongs to, and the blocking keys that find candidates for a new registration. Lives
// in a KvStore (LevelDB); every change is one synced batch, so an acknowledged
// registration survives a crash and the index is never half-updated.
//
// Thread-safe: registrations are serialized by one writer lock; lookups run in
// parallel with them.
#ifndef HIE_MPI_INDEX_PATIENT_INDEX_H_
#define HIE_MPI_INDEX_PATIENT_INDEX_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "mpi/match/engine.h"
#include "mpi/match/model.h"
#include "mpi/match/person.h"

namespace hie::mpi {

struct IndexOptions {
  Thresholds thresholds;
  // Candidates read per blocking key; a larger block is cut and the cut reported.
  size_t max_candidates_per_key = 100;
  // Identifier systems a member assigns (normalized system -> org id): link evidence
  // only in that member's own registrations (MatchingConfig.identifier_systems).
  absl::flat_hash_map<std::string, std::string> identifier_system_owners;
};

// How one registration is to be placed.
struct RegisterOptions {
  // Hold links to persons other organisations hold for review ("registration burst"):
  // the registering organisation has linked more than its share lately.
  bool hold_cross_org_links = false;
};

struct RegistrationRef {
  std::string org_id;
  std::string local_id;
};

// The review reason of a registration that matched two persons certainly. Deciding such
// an item "same person" merges the two persons.
inline constexpr char kMatchesTwoPersons[] = "matches two persons";
// The review reason of a registration that matched a person certainly but disagrees
// with one of its registrations (ConsistentWithPerson): a link would chain two people.
inline constexpr char kDisagreesWithPerson[] = "disagrees with another registration of the person";
// Review reasons of a re-registration whose new demographics match another person: the
// question is whether the local id now names that person, not whether two persons are
// one.
inline constexpr char kMovesToAnotherPerson[] = "moves to another person";
inline constexpr char kContradictingIdentifier[] = "contradicting identifier";
// True if deciding an item of this reason "same person" moves its newer registration
// alone (a re-registration leaving its person); otherwise the two persons become one.
bool MovesARegistrationAlone(absl::string_view review_reason);
// True if deciding a review item "same person" merges the two registrations' persons:
// every item but a re-registration's and those MovesARegistrationAlone names.
inline bool DecidingMergesPersons(absl::string_view review_reason, bool re_registration) {
  return !re_registration && !MovesARegistrationAlone(review_reason);
}

// How a registration was placed, for the MPI's audit and its alerts.
enum class Placement {
  kNewPerson,  // no certain match: a person of its own
  kKept,       // a re-registration that stays with its person
  kLinked,     // joined an existing person automatically
  kReview,     // a review item was opened; see RegisterResult
};
const char* PlacementName(Placement placement);

struct RegisterResult {
  std::string euid;
  int64_t version = 0;
  // kCertain: linked to an existing person, a new person, or kept; kProbable: a review
  // item was opened and the registration stays where it was (a new registration: a
  // person of its own; a re-registration: its previous person) until an operator
  // decides.
  Grade grade = Grade::kCertain;
  double score = 0;
  std::string review_id;
  // Further review items, opened or already open, about other persons: the registration
  // also matched another person certainly ("matches two persons"), a guarded candidate
  // outscored the review item's candidate, or a guard held a certain match back; the
  // registration stays where review_id/placement say.
  std::vector<std::string> other_review_ids;
  // The link was held for review because the organisation has linked to persons others
  // hold more often than allowed (RegisterOptions::hold_cross_org_links).
  bool held = false;
  size_t candidates_scored = 0;
  bool candidates_truncated = false;

  // The evidence, for the audit (never for the registering practice: it names another
  // holder). `matched` is the best-scoring candidate when there was one, `evidence`
  // its score per field.
  Placement placement = Placement::kNewPerson;
  // Why a review item was opened: "between thresholds", "same organisation", a guard's
  // name ("twin guard", "birth date guard", "other names guard", "common name guard",
  // "no name guard"), "matches two persons", "disagrees with another registration of the
  // person", "moves to another person", "contradicting identifier", "registration
  // burst".
  std::string review_reason;
  bool has_match = false;
  RegistrationRef matched;
  std::string matched_euid;
  Score evidence;
  // A re-registration's person before this call ("" for a first registration).
  std::string previous_euid;
};

// What the MPI's audit records of a placement: every automatic link ("automatic link")
// and every registration with review items ("review: <reason>", or "review: other
// persons" for a new person other persons' items ask about), each item's id in `detail`
// (DescribePlacement's line); nothing for a new person or a re-registration that stays
// without one.
struct PlacementAudit {
  std::string outcome;
  std::string detail;
};
std::optional<PlacementAudit> AuditOfPlacement(const RegisterResult& result,
                                               const Thresholds& thresholds);

// One line for the audit: how the registration was placed and on what evidence, e.g.
// "linked to 0a1b... (best org-b/H-7, score 27.3 >= 16.0): given_name exact +4.1,
// family_name exact +9.2, birth_date exact +10.1, sex exact +1.0, ...".
std::string DescribePlacement(const RegisterResult& result, const Thresholds& thresholds);

struct CrossReferenceResult {
  std::string euid;
  std::vector<RegistrationRef> registrations;
};

// The one answer a practice gets for a person it does not hold, whether the person is
// unknown to the MPI or held only by others: the code and message are the same, so the
// answer does not tell the two apart.
inline constexpr char kNotHeldMessage[] = "no such patient among this organisation's registrations";

// The options the index's store is opened with. The index writes many small records
// (two or three per registration); a 32 MiB write buffer, rather than LevelDB's 4 MiB,
// flushes and compacts an eighth as often, which keeps compaction stalls out of the
// registration p99 (at 1M records: 0.9 ms instead of 3.5 ms) for at most 64 MiB more.
store::KvStoreOptions IndexStoreOptions();

class PatientIndex {
 public:
  // Opens the index kept in `store` (not owned; must outlive the index).
  static absl::StatusOr<std::unique_ptr<PatientIndex>> Open(store::KvStore* store, Clock* clock,
                                                            const IndexOptions& options);

  // Registers (or re-registers, replacing the demographics) one organisation's patient
  // and places it: linked to the best certain match, or a new person. A match from the
  // same organisation, a probable match, a guarded one, or a link the rules of
  // docs/matching.md hold back opens a review item.
  // Errors: InvalidArgument for an empty org or local id, or demographics with neither a
  // name, a birth date nor an identifier.
  absl::StatusOr<RegisterResult> Register(const std::string& org_id, const std::string& local_id,
                                          const Person& person,
                                          const RegisterOptions& register_options = {});

  // Re-registers an existing registration, only if it is at `expected_version` (0:
  // any version). Errors: NotFound if not registered; Aborted on a version mismatch;
  // as Register otherwise.
  absl::StatusOr<RegisterResult> Update(const std::string& org_id, const std::string& local_id,
                                        const Person& person, int64_t expected_version,
                                        const RegisterOptions& register_options = {});

  struct Registration {
    std::string org_id;
    std::string local_id;
    Person person;
  };
  // Registers many, in order, with one sync at the end (group commit): far faster for a
  // practice's initial load. Each registration sees those before it, exactly as if they
  // were registered one by one; the comparisons with what the index held before the
  // batch run on every core first. Nothing is acknowledged until the whole call
  // returns; the outer status is the final sync's.
  absl::StatusOr<std::vector<absl::StatusOr<RegisterResult>>> RegisterBatch(
      const std::vector<Registration>& registrations);

  // Removes a registration. Errors: NotFound.
  absl::Status Remove(const std::string& org_id, const std::string& local_id);

  // The person a registration belongs to and all registrations linked to it.
  // Errors: NotFound if the registration is unknown.
  absl::StatusOr<CrossReferenceResult> CrossReference(const std::string& org_id,
                                                      const std::string& local_id) const;
  absl::StatusOr<CrossReferenceResult> CrossReferenceByEuid(const std::string& euid) const;

  // What a practice (member org) may learn of a person: the (surviving) EUID and its
  // own registrations of that person, nothing of other holders (not their
  // organisations, local ids or number). Where else someone was treated is for the
  // consent service to disclose under a grant. A reference to another organisation's
  // registration is answered without reading the index, and an EUID with one prefix
  // scan of the member's own entries, so neither the answer nor the work done depends
  // on whether others hold the person. Errors: NotFound (kNotHeldMessage) if the member
  // holds no registration of the person, whether or not the person exists.
  absl::StatusOr<CrossReferenceResult> MemberCrossReference(const std::string& member_org,
                                                            const RegistrationRef& ref) const;
  absl::StatusOr<CrossReferenceResult> MemberCrossReferenceByEuid(const std::string& member_org,
                                                                  const std::string& euid) const;

  // The demographics registered for a registration. Errors: NotFound.
  absl::StatusOr<Person> GetPerson(const std::string& org_id, const std::string& local_id) const;

  // Registrations in the index.
  int64_t size() const;
  const Thresholds& thresholds() const { return options_.thresholds; }

  // Operator decisions. They stick: automatic matching (a later registration, a
  // re-registration) never undoes them.
  //
  // Link: the two registrations are one person; b's whole cluster joins a's.
  // Errors: NotFound if either is unknown; InvalidArgument without a reason.
  absl::StatusOr<CrossReferenceResult> Link(const RegistrationRef& a, const RegistrationRef& b,
                                            const std::string& reason);
  // Unlink: the two are different people; b leaves a's cluster for a person of its own.
  absl::StatusOr<CrossReferenceResult> Unlink(const RegistrationRef& a, const RegistrationRef& b,
                                              const std::string& reason);

  struct ReviewItem {
    std::string review_id;
    RegistrationRef a;  // the newer registration
    RegistrationRef b;  // the candidate it matched
    double score = 0;
    // Why it was opened (RegisterResult::review_reason); "" for items stored before
    // reasons were kept.
    std::string reason;
    // Opened by a re-registration: "same person" moves `a` alone, leaving the person it
    // had (whose other registrations are someone else's now).
    bool re_registration = false;
  };
  // Open review items, in id order.
  absl::StatusOr<std::vector<ReviewItem>> ListReviews() const;
  // Decides an item: same person makes the newer registration (a) and the candidate one
  // person, as an operator's link that automatic matching never undoes. The
  // registrations that joined a's person since the item opened came because they
  // matched a, and go along (the two persons are merged); an item a re-registration
  // opened (ReviewItem::re_registration, or a reason MovesARegistrationAlone names)
  // moves a alone, leaving its old person. Keep apart
  // records an operator's unlink, and a stays where it is. Errors: NotFound for an
  // unknown or already resolved id.
  absl::StatusOr<CrossReferenceResult> ResolveReview(const std::string& review_id, bool same_person,
                                                     const std::string& reason);

  // Merges the person `from_euid` into `into_euid`: every registration moves, and the
  // old EUID keeps answering cross-references with the surviving one.
  // Errors: NotFound for an unknown EUID; InvalidArgument without a reason.
  absl::StatusOr<CrossReferenceResult> Merge(const std::string& from_euid,
                                             const std::string& into_euid,
                                             const std::string& reason);

  struct Candidate {
    std::string euid;
    RegistrationRef best;  // the registration that scored highest
    double score = 0;
    Grade grade = Grade::kNone;
  };
  struct SearchResult {
    std::vector<Candidate> candidates;  // best first, one per person
    size_t candidates_scored = 0;
    bool candidates_truncated = false;
  };
  // Demographic search: ranked persons whose registrations match `person`, at least
  // `min_grade`, at most `max_results`. Nothing is registered.
  // `searcher_org` is the member searching ("" for the operator): identifiers of a system
  // another member assigns are no evidence in its search, as in its registrations.
  SearchResult Search(const Person& person, size_t max_results, Grade min_grade,
                      const std::string& searcher_org = "") const;

  // The version of a registration (1 on first registration). Errors: NotFound.
  absl::StatusOr<int64_t> Version(const std::string& org_id, const std::string& local_id) const;

  struct Explanation {
    Score score;
    Decision decision;
    Guard guard = Guard::kNone;
    // "manual link" / "manual unlink" when an operator decided the pair.
    std::string manual;
  };
  // How the engine scores a pair of registrations. Errors: NotFound.
  absl::StatusOr<Explanation> Explain(const RegistrationRef& a, const RegistrationRef& b) const;

  // The model the index scores with, and how it was fitted.
  struct FittedModel {
    MatchModel model;
    // InfinitePast while the index scores with the starting parameters.
    absl::Time fitted_at = absl::InfinitePast();
    int64_t registrations = 0;    // in the index at the fit
    int64_t sampled = 0;          // registrations whose candidates were compared
    int64_t candidate_pairs = 0;  // for m, by EM
    int64_t random_pairs = 0;     // for u
    int em_iterations = 0;
  };
  FittedModel Model() const;

  struct FitOptions {
    // Fewer registrations than this give too few matches to learn from.
    int64_t min_registrations = 1000;
    // Registrations whose candidates are compared for EM (fewer once the candidate
    // pairs reach their bound), and random pairs for u.
    size_t sample = 20000;
    size_t max_candidate_pairs = 300000;
    size_t random_pairs = 100000;
  };
  // Estimates m and u from the index's own registrations, as `hiectl mpi evaluate`
  // does from a file: u from random pairs, m by EM over the blocked candidates of a
  // random sample. Stores the result, which later registrations, re-registrations,
  // searches and explanations are scored with; placements already made stand.
  // Errors: FailedPrecondition with fewer than min_registrations.
  absl::StatusOr<FittedModel> FitModel(const FitOptions& options);

 private:
  PatientIndex(store::KvStore* store, Clock* clock, const IndexOptions& options);
  absl::Status Load();
  struct Cached;
  // Blocks by a 64-bit hash of the blocking key (BlockId): a million registrations hold
  // millions of keys, most of them one registration's. Two keys that hash alike only
  // share candidates, which scoring sorts out.
  using Blocks = absl::flat_hash_map<uint64_t, absl::InlinedVector<const Cached*, 1>>;
  static uint64_t BlockId(absl::string_view key);
  // A newcomer prepared, and compared with the candidates the index held before a
  // batch, ahead of its turn to be registered.
  struct Compared {
    Comparison comparison;
    Guard guard;
  };
  struct Precomputed {
    PreparedPerson prepared;
    std::vector<std::string> keys;
    // The candidates as Candidates() found them before the batch, in its order, each
    // compared; and whether the bound cut them.
    std::vector<std::pair<const Cached*, Compared>> candidates;
    bool truncated = false;
  };
  // What a batch has changed so far: registrations re-registered (their demographics
  // and blocking keys) and the blocks registrations were added to or removed from.
  // A newcomer none of whose blocks changed has exactly the candidates it had before
  // the batch.
  struct BatchChanges {
    absl::flat_hash_set<const Cached*> registrations;
    absl::flat_hash_set<uint64_t> blocks;  // BlockId of each key
  };
  // Every registration sharing one of `keys` with a newcomer, but `previous` (its own
  // earlier registration), taking at most `bound` per key, the most recent first;
  // `truncated` is set if the bound cut any. Reads `blocks` only.
  static std::vector<const Cached*> Candidates(const Blocks& blocks,
                                               const std::vector<std::string>& keys,
                                               const Cached* previous, size_t bound,
                                               bool* truncated);
  // In a batch, `precomputed` is consumed (its comparisons serve for candidates the
  // batch has not re-registered) and `changes` updated; both null otherwise.
  absl::StatusOr<RegisterResult> RegisterLocked(const std::string& org_id,
                                                const std::string& local_id, const Person& person,
                                                bool sync, const RegisterOptions& register_options,
                                                Precomputed* precomputed = nullptr,
                                                BatchChanges* changes = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `person` of `org_id` prepared for comparison: identifiers of a system another
  // member assigns are left out (kept in the stored demographics, never evidence).
  PreparedPerson PrepareFor(const std::string& org_id, const Person& person) const;

  // Every registration, prepared for comparison, by "org\nlocal": candidates are
  // scored from memory instead of being read and prepared again for every newcomer.
  struct Cached {
    std::string org_id;
    std::string local_id;
    std::string euid;
    int64_t version = 0;
    PreparedPerson prepared;
  };
  void AddToBlocks(const Cached* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves a cached registration to person `euid` ("": out of every person, before it
  // is erased), keeping members_ in step. Every change of a cached registration's
  // person goes through here or MovePerson.
  void SetPerson(Cached* entry, const std::string& euid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves every cached registration of person `from` to `to`.
  void MovePerson(const std::string& from, const std::string& to)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves every member of `from_euid` to `to_euid` in `batch` and the cache.
  absl::Status MoveCluster(const std::string& from_euid, const std::string& to_euid,
                           store::WriteBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecordDecision(const RegistrationRef& a, const RegistrationRef& b, bool same_person,
                              const std::string& reason, store::WriteBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Merges the person of `a` into the person of `b` (a "matches two persons" item
  // decided "same person").
  absl::StatusOr<CrossReferenceResult> MergePersonsOf(const RegistrationRef& a,
                                                      const RegistrationRef& b,
                                                      const std::string& reason);
  // Moves registration `b` alone to `a`'s person, recording an operator's link.
  absl::StatusOr<CrossReferenceResult> LinkRegistration(const RegistrationRef& a,
                                                        const RegistrationRef& b,
                                                        const std::string& reason);
  // An open review item, as open_reviews_ keeps it.
  struct QueuedReview {
    std::string id;
    // Deciding it "same person" merges the two persons (MovesARegistrationAlone says
    // which do not).
    bool merges_persons = true;
  };
  // The id of an open review item between a registration of person x and one of person
  // y that merges the two persons when decided "same person"; "" if none.
  std::string QueuedMergeOf(const std::string& x, const std::string& y) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Opens a review item (`self` against `candidate`), unless the same pair is open
  // already or opened in this call: its id. Adds what it opens to `opened`.
  // `re_registration`: `self` was registered before (it keeps its person meanwhile).
  std::string OpenReview(const std::string& self, const Cached& candidate, double score,
                         const std::string& reason, bool re_registration, store::WriteBatch* batch,
                         std::vector<std::pair<std::string, QueuedReview>>* opened)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The guard registering `person` applies to `candidate` beyond the pair's own
  // (`guard`, CheckGuards'): one that depends on how many persons among `candidates`
  // carry the name (kNameOnly: `person`'s; kCommonName: either's). `common_name` keeps
  // whether `person`'s name is common once that is known.
  Guard CommonNameGuard(const PreparedPerson& person, const PreparedPerson& candidate,
                        const std::vector<const Cached*>& candidates, const Comparison& c,
                        double score, Guard guard, std::optional<bool>* common_name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True if two registrations of two persons look like two people: guarded against
  // each other, or scoring below the review threshold. A registration matching both
  // certainly is then ambiguous; otherwise the two are likely one person split in two,
  // and it joins the better while an operator is asked about the other.
  bool Distinct(const Cached& x, const Cached& y) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True if `person`, matched to the person of `matched`, agrees with every other
  // registration of that person too: none guarded against it (with an identifier value
  // in common with `matched`, none guarded by a guard that says two people), none
  // scoring below the review threshold. A record joins a person, not one of its
  // registrations: otherwise A links to B and C to B though A and C are two people.
  bool ConsistentWithPerson(const PreparedPerson& person,
                            const MatchModel::NameAdjustments& adjustments,
                            const Cached* matched) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True if `person` carries an identifier system that one of `euid`'s registrations
  // also carries, and no value of that system agrees between them.
  bool ContradictsIdentifiers(const PreparedPerson& person, const std::string& euid) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveFromBlocks(const Cached* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Which persons (EUIDs) have a registration of which organisation, as hashes of the
  // pair, only ever added to: "no" is certain, "maybe" is checked in the store. Spares
  // the store a scan for nearly every automatic link (two local ids of one
  // organisation are never linked automatically).
  static uint64_t MemberHash(const std::string& euid, const std::string& org_id);
  void NoteMember(const std::string& euid, const std::string& org_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool MayHaveMember(const std::string& euid, const std::string& org_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records an operator's decision on the pair of registrations x and y ("org\nlocal").
  void NoteManual(const std::string& x, const std::string& y, bool linked)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::KvStore* const store_;
  Clock* const clock_;
  const IndexOptions options_;
  mutable absl::Mutex mu_;
  FittedModel model_ ABSL_GUARDED_BY(mu_);
  NameFrequencies frequencies_ ABSL_GUARDED_BY(mu_);
  absl::node_hash_map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);
  // Blocking key -> registrations ("org\nlocal", pointing into cache_, whose nodes are
  // stable). Kept in memory only and rebuilt at open: it is derived from the stored
  // registrations, and scanning it costs a fraction of LevelDB prefix scans.
  Blocks blocks_ ABSL_GUARDED_BY(mu_);
  // Person (EUID) -> its registrations, pointing into cache_: a newcomer is checked
  // against every registration of the person it would join without reading the store.
  absl::flat_hash_map<std::string, std::vector<Cached*>> members_ ABSL_GUARDED_BY(mu_);
  // Operator decisions by pair key ("orgA\nlocalA\norgB\nlocalB", ordered): true =
  // linked, false = kept apart.
  absl::flat_hash_map<std::string, bool> manual_ ABSL_GUARDED_BY(mu_);
  // Every registration ("org\nlocal") named in manual_: most registrations are in no
  // operator decision, and for them scoring skips the pair lookups.
  absl::flat_hash_set<std::string> manual_refs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<uint64_t> member_orgs_ ABSL_GUARDED_BY(mu_);
  // Open review items by pair ("orgA\nlocalA\norgB\nlocalB", the newer registration
  // first): a registration retried or re-sent with the same demographics finds its item
  // open and does not queue another.
  absl::flat_hash_map<std::string, QueuedReview> open_reviews_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::mpi

#endif  // HIE_MPI_INDEX_PATIENT_INDEX_H_
