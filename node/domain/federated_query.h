// The federated query: DESIGN.md's flow as the requesting node runs it, the same for
// every front (the FederatedQuery gRPC service, FHIR REST $everything, the web app).
// Authorize at the consent service; record the query; read this practice's own
// records; fetch from every holder the grant allows at once, each under its own
// deadline and at most `max_in_flight` at a time; report each holder's status as it
// settles; fold duplicates into one merged Bundle; record the outcome. A slow or dead
// holder costs its own results only. No record reaches the caller unless both halves of
// the query's audit record are durable.
//
// The calls to other parties go through the interfaces below (ConsentClient,
// HolderClient, AuditSink), which the service layer implements over gRPC and tests
// implement in memory. Nothing here blocks on another party.
#ifndef HIE_NODE_DOMAIN_FEDERATED_QUERY_H_
#define HIE_NODE_DOMAIN_FEDERATED_QUERY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "node/domain/audit_sink.h"
#include "node/domain/known_peers.h"
#include "node/domain/merge.h"
#include "node/domain/record_store.h"
#include "proto/hie/v1/common.pb.h"
#include "proto/hie/v1/grant.pb.h"
#include "proto/hie/v1/record.pb.h"

namespace hie::node {

// The person asking, as the requesting practice vouches for them. Travels into the
// consent decision and every party's audit entry.
struct QueryUser {
  std::string id;    // the practice's own id for the user (its login name, say); required
  std::string role;  // free text for audit ("physician", "nurse")
  std::string npi;   // a National Provider Identifier or an equivalent, if any
  std::string display_name;
};

// The longest a query waits for one holder, whatever the caller asks: an answer is held
// in memory until its holder is done.
inline constexpr absl::Duration kMaxHolderTimeout = absl::Seconds(120);

struct FederatedQueryRequest {
  // The patient's id at this practice. Required.
  std::string local_patient_id;
  // v3 PurposeOfUse code. Required.
  std::string purpose;
  QueryUser user;
  // Required by the consent service for break-the-glass (ETREAT).
  std::string break_glass_reason;
  // Each holder's deadline; zero or negative: the node's default. At most
  // kMaxHolderTimeout.
  absl::Duration holder_timeout = absl::ZeroDuration();
  // Only these resource types (all when empty), here and at every holder.
  std::vector<std::string> resource_types;
  // Sent to every holder: only records dated in it (undated records pass). This
  // node's own records are not filtered by it.
  std::optional<hie::v1::Period> clinical_period;
};

// ---------------------------------------------------------------------------------
// What the query reports to its caller.

enum class HolderState {
  kOk,
  kDenied,  // the holder refused the grant
  kTimedOut,
  kUnreachable,
  kFailed,  // any other error, a holder's answer over max_answer_bytes included
};

// "OK", "DENIED", "TIMED_OUT", "UNREACHABLE", "FAILED".
const char* HolderStateName(HolderState state);

// How a holder that answered `status` settled: OK, DENIED (refused or unauthenticated),
// TIMED_OUT, UNREACHABLE, FAILED (anything else).
HolderState HolderStateFor(const absl::Status& status);

// One holder's settled status (or this node's own, `local`).
struct HolderOutcome {
  std::string org_id;
  bool local = false;
  HolderState state = HolderState::kOk;
  // Records taken into the answer, and those the holder withheld under the grant (a
  // count only). Another holder's are counted only when kOk, though records it sent
  // before it failed are in the answer too (not those of one cut off for
  // max_answer_bytes); this node's own are counted even if reading them failed
  // part-way.
  int64_t records = 0;
  int64_t withheld = 0;
  // Records left out because each is longer than the holder's or this node's
  // max_record_bytes (for another holder, kOk only).
  SkippedRecords skipped;
  absl::Duration elapsed;
  // Why, when not kOk.
  std::string message;
};

// The end of a query that succeeded.
struct QueryAnswer {
  // The query id the consent service and every party's audit entry use.
  std::string query_id;
  // The merged Bundle, to be written out in pieces (BundleWriter::Next); its entries()
  // and duplicates_folded() are the totals. Never null.
  std::unique_ptr<BundleWriter> bundle;
  // The sensitivity categories the grant withheld at every holder.
  std::vector<std::string> withheld_categories;
  absl::Time completed_at;
};

// Receives one query's reports. Calls never overlap and come in this order:
// OnHolderSettled for this node's own records first, then for each holder as it
// settles, then OnQueryDone exactly once. They may come on any thread, the caller's of
// FederatedQuery::Run included, and must not block.
class QueryObserver {
 public:
  virtual ~QueryObserver() = default;
  virtual void OnHolderSettled(const HolderOutcome& outcome) = 0;
  // The last call: the observer may be destroyed once it returns. Errors:
  // InvalidArgument if the patient id or purpose is missing; PermissionDenied
  // (CONSENT_DENIED) with the consent service's reason; the consent service's own
  // errors (NotFound PATIENT_UNKNOWN...); Unavailable (DEPENDENCY_UNAVAILABLE) if the
  // consent service cannot be reached; Unavailable (AUDIT_UNAVAILABLE) if the query's
  // record cannot be made durable, at the start or at the end; Internal if the consent
  // service's grant cannot be read.
  virtual void OnQueryDone(absl::StatusOr<QueryAnswer> answer) = 0;
};

// ---------------------------------------------------------------------------------
// The parties the query calls, as interfaces the service layer implements.

// Asking the consent service to Authorize (DESIGN.md steps 1-2).
struct AuthorizeQuery {
  std::string local_patient_id;
  std::string purpose;
  QueryUser user;
  std::string break_glass_reason;
  absl::Duration timeout;
};

// The consent service's decision.
struct Authorization {
  std::string query_id;
  // A deny, and its reason for a person.
  bool denied = false;
  std::string deny_reason;
  // The signed grant, unless denied.
  hie::v1::SignedGrant grant;
};

// Implementations are thread-safe.
class ConsentClient {
 public:
  virtual ~ConsentClient() = default;
  // Asks for a decision; calls `done` exactly once, on any thread (before returning
  // too). Never blocks on the consent service. Errors: the consent service's;
  // Unavailable or DeadlineExceeded if it cannot be reached in `query.timeout`.
  virtual void Authorize(const AuthorizeQuery& query,
                         std::function<void(absl::StatusOr<Authorization>)> done) = 0;
};

// What every holder of one query is asked.
struct HolderFetch {
  hie::v1::SignedGrant grant;
  std::vector<std::string> resource_types;
  std::optional<hie::v1::Period> clinical_period;
};

// A holder's closing summary.
struct HolderSummary {
  int64_t withheld = 0;
  // Records the holder did not send for their size, and the first of them as "Type/id".
  int64_t skipped = 0;
  std::vector<std::string> skipped_references;
};

// One holder's answer as it arrives, given by the query to HolderClient::Fetch. Calls
// for one fetch come one at a time and in the holder's order; OnDone is the last. Each
// On* but OnDone returns whether to go on reading: false cancels the fetch (no more
// items; OnDone follows).
class HolderStream {
 public:
  virtual ~HolderStream() = default;
  // A whole record.
  virtual bool OnRecord(hie::v1::RecordEnvelope record) = 0;
  // Part of a record sent in pieces: the first part carries its `envelope` (fhir_json
  // empty), each the next bytes of its text; `last` completes it.
  virtual bool OnRecordPiece(std::optional<hie::v1::RecordEnvelope> envelope, std::string text,
                             bool last) = 0;
  virtual bool OnSummary(const HolderSummary& summary) = 0;
  // The fetch is over: OK, or why not. PermissionDenied or Unauthenticated: the holder
  // refused; DeadlineExceeded: past its deadline; Unavailable: it could not be reached;
  // Cancelled: after a false from an On* call.
  virtual void OnDone(const absl::Status& status) = 0;
};

// Implementations are thread-safe.
class HolderClient {
 public:
  virtual ~HolderClient() = default;
  // Starts fetching `fetch` from `holder` (its org and endpoint as the grant names
  // them) with a deadline `timeout` from now, reporting to `stream`, which must stay
  // valid until its OnDone returns. Never blocks on the holder; no thread per fetch.
  virtual void Fetch(const hie::v1::GrantHolder& holder, const HolderFetch& fetch,
                     absl::Duration timeout, HolderStream* stream) = 0;
};

// ---------------------------------------------------------------------------------

struct FederatedQueryOptions {
  // The organisation this node serves.
  std::string own_org;
  // Told how each holder answered (not owned; may be null): the admin's status page
  // lists and checks the peers this node has fetched from.
  KnownPeers* known_peers = nullptr;
  // Each holder's deadline when the request names none.
  absl::Duration default_holder_timeout = absl::Seconds(5);
  // Holders fetched from at once.
  int max_in_flight = 16;
  // The consent service's deadline.
  absl::Duration authorize_timeout = absl::Seconds(5);
  // The largest record taken into the answer (a larger one is skipped and named).
  size_t max_record_bytes = size_t{64} << 20;
  // The most record text one holder's answer may bring; a holder sending more is cut
  // off and reported kFailed, its records left out.
  size_t max_answer_bytes = size_t{512} << 20;
};

// Runs federated queries. Thread-safe: one per node, shared by every front.
class FederatedQuery {
 public:
  // `records` and `clock` must outlive the query engine; it owns the clients.
  FederatedQuery(FederatedQueryOptions options, const RecordStore* records,
                 std::unique_ptr<ConsentClient> consent, std::unique_ptr<HolderClient> holders,
                 std::unique_ptr<AuditSink> audit, Clock* clock);
  ~FederatedQuery();
  FederatedQuery(const FederatedQuery&) = delete;
  FederatedQuery& operator=(const FederatedQuery&) = delete;

  // Starts one query and returns; reports to `observer`, which must stay valid until
  // its OnQueryDone returns. This engine must stay valid until then too. REQUIRES: the
  // front has established that the request comes from this practice (the gRPC front:
  // the caller's certificate names own_org; a web front: its session or token) and
  // vouches for `request.user`.
  //
  // Audit: an AUDIT_ACTION_QUERY entry "started" before anything is read or fetched,
  // and "ok" with every holder's status before the answer is given (either failing
  // refuses the query: AUDIT_UNAVAILABLE); "deny" or "error" when the consent service
  // denies or fails (a failed append then changes nothing).
  void Run(FederatedQueryRequest request, QueryObserver* observer);

 private:
  class QueryRun;
  class HolderReader;

  const FederatedQueryOptions options_;
  const RecordStore* const records_;
  const std::unique_ptr<ConsentClient> consent_;
  const std::unique_ptr<HolderClient> holders_;
  const std::unique_ptr<AuditSink> audit_;
  Clock* const clock_;
};

// ---------------------------------------------------------------------------------
// Answers kept for a front that gives them in pages (FHIR $everything's next links):
// the query runs once, and the later pages are read from its answer while it is kept.

// One kept answer: what was asked, how every holder settled, and the answer.
struct KeptAnswer {
  FederatedQueryRequest request;
  std::vector<HolderOutcome> holders;
  QueryAnswer answer;
  // Held while answer.bundle is written (BundleWriter::SelectPage and Next): a page is
  // rendered by one reader at a time.
  absl::Mutex mu;
};

struct KeptAnswersOptions {
  // How long an answer is kept after it was kept (not renewed by reading it).
  absl::Duration keep_for = absl::Minutes(5);
  // The most record text (BundleWriter::record_bytes) all kept answers may hold, and the
  // most answers kept at once; an answer that would pass either is not kept.
  size_t max_total_bytes = size_t{256} << 20;
  size_t max_answers = 256;
};

// Answers kept under unguessable tokens, each for one requester, for a bounded time and
// within a bounded total. Thread-safe. An answer past its time is dropped at the next
// call (and no longer found); whatever is kept goes when this is destroyed, or once the
// last reader of it lets go.
class KeptAnswers {
 public:
  // `clock` must outlive this.
  KeptAnswers(KeptAnswersOptions options, Clock* clock);
  KeptAnswers(const KeptAnswers&) = delete;
  KeptAnswers& operator=(const KeptAnswers&) = delete;

  // Keeps `answer` for `requester` (the front's name for who may read it: a client and a
  // user, say) until keep_for from now, and returns the token that finds it: 32 bytes
  // from OpenSSL's CSPRNG, URL-safe base64. REQUIRES: answer->answer.bundle is set.
  // Errors: ResourceExhausted if keeping it would pass max_total_bytes or max_answers
  // (nothing is kept); Internal if there is no randomness.
  absl::StatusOr<std::string> Keep(std::string requester, std::shared_ptr<KeptAnswer> answer);

  // The answer kept under `token` for `requester`. NotFound if there is none, it has
  // expired, or it was kept for another requester: the same error, so that a token
  // tells a stranger nothing.
  absl::StatusOr<std::shared_ptr<KeptAnswer>> Find(absl::string_view token,
                                                   absl::string_view requester);

  // Answers kept now, and the record text they hold (expired ones not counted).
  size_t count();
  size_t bytes();

 private:
  struct Kept {
    std::string requester;
    absl::Time expires;
    size_t bytes = 0;
    std::shared_ptr<KeptAnswer> answer;
  };
  // Forgets the answers past their time, moving them to `dropped`.
  void DropExpired(std::vector<std::shared_ptr<KeptAnswer>>* dropped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const KeptAnswersOptions options_;
  Clock* const clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Kept> kept_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_FEDERATED_QUERY_H_
