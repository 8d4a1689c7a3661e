#include "node/domain/federated_query.h"

#include <openssl/rand.h>

#include <algorithm>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/status/error_detail.h"
#include "proto/hie/v1/audit.pb.h"

namespace hie::node {
namespace {

// What one holder sent, once its stream is over.
struct HolderAnswer {
  std::vector<hie::v1::RecordEnvelope> records;
  int64_t withheld = 0;
  // Records left out for their size, by the holder (its summary) or here.
  SkippedRecords skipped;
};

hie::v1::UserContext ToUserContext(const QueryUser& user) {
  hie::v1::UserContext out;
  out.set_user_id(user.id);
  out.set_role(user.role);
  out.set_npi(user.npi);
  out.set_display_name(user.display_name);
  return out;
}

absl::Status Unrecorded(const absl::Status& append) {
  return WithReason(
      absl::UnavailableError(absl::StrCat("this node cannot record the query in its audit, so "
                                          "it answers nothing: ",
                                          append.message())),
      hie::v1::ERROR_REASON_AUDIT_UNAVAILABLE);
}

}  // namespace

const char* HolderStateName(HolderState state) {
  switch (state) {
    case HolderState::kOk:
      return "OK";
    case HolderState::kDenied:
      return "DENIED";
    case HolderState::kTimedOut:
      return "TIMED_OUT";
    case HolderState::kUnreachable:
      return "UNREACHABLE";
    case HolderState::kFailed:
      return "FAILED";
  }
  return "FAILED";
}

HolderState HolderStateFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return HolderState::kOk;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return HolderState::kDenied;
    case absl::StatusCode::kDeadlineExceeded:
      return HolderState::kTimedOut;
    case absl::StatusCode::kUnavailable:
      return HolderState::kUnreachable;
    default:
      return HolderState::kFailed;
  }
}

// One query, from Run to OnQueryDone. Shared by the calls that may still report to it
// (the consent service's answer, each holder's stream), so it lives until the last.
class FederatedQuery::QueryRun : public std::enable_shared_from_this<QueryRun> {
 public:
  QueryRun(FederatedQuery* engine, FederatedQueryRequest request, QueryObserver* observer)
      : engine_(engine),
        request_(std::move(request)),
        observer_(observer),
        started_(engine->clock_->Now()),
        holder_timeout_(request_.holder_timeout > absl::ZeroDuration()
                            ? std::min(request_.holder_timeout, kMaxHolderTimeout)
                            : engine->options_.default_holder_timeout) {}

  void Start() {
    if (request_.local_patient_id.empty() || request_.purpose.empty()) {
      Finish(absl::InvalidArgumentError("local_patient_id and purpose are required"));
      return;
    }
    AuthorizeQuery query;
    query.local_patient_id = request_.local_patient_id;
    query.purpose = request_.purpose;
    query.user = request_.user;
    query.break_glass_reason = request_.break_glass_reason;
    query.timeout = engine_->options_.authorize_timeout;
    engine_->consent_->Authorize(
        query, [self = shared_from_this()](absl::StatusOr<Authorization> authorization) {
          self->OnAuthorized(std::move(authorization));
        });
  }

  // A holder's stream is over.
  void HolderDone(const hie::v1::GrantHolder& holder, const absl::Status& status,
                  HolderAnswer answer, absl::Duration elapsed) {
    HolderOutcome outcome;
    outcome.org_id = holder.org_id();
    outcome.elapsed = elapsed;
    outcome.state = HolderStateFor(status);
    if (status.ok()) {
      outcome.records = static_cast<int64_t>(answer.records.size());
      outcome.withheld = answer.withheld;
      outcome.skipped = std::move(answer.skipped);
    } else {
      outcome.message = std::string(status.message());
    }
    {
      absl::MutexLock lock(&mu_);
      for (auto& r : answer.records) records_.push_back(std::move(r));
      settled_.push_back(outcome);
    }
    answer.records.clear();
    if (engine_->options_.known_peers != nullptr) {
      engine_->options_.known_peers->Saw(holder.org_id(), holder.endpoint(),
                                         HolderStateName(outcome.state), elapsed,
                                         engine_->clock_->Now());
    }
    Report(outcome);
    // Counted down only once reported, so that every holder's report comes before the
    // end.
    bool last = false;
    {
      absl::MutexLock lock(&mu_);
      --in_flight_;
      last = in_flight_ == 0 && next_holder_ == holders_.size();
    }
    StartMoreHolders();
    if (last) Complete();
  }

 private:
  void OnAuthorized(absl::StatusOr<Authorization> authorization) {
    const FederatedQueryOptions& options = engine_->options_;
    if (!authorization.ok()) {
      absl::Status s = authorization.status();
      if (s.code() == absl::StatusCode::kUnavailable ||
          s.code() == absl::StatusCode::kDeadlineExceeded) {
        s = WithReason(
            absl::UnavailableError(absl::StrCat(
                "the consent service cannot be reached, so nothing is fetched: ", s.message())),
            hie::v1::ERROR_REASON_DEPENDENCY_UNAVAILABLE);
      }
      // Nothing is answered either way; a failed append changes nothing for the user.
      (void)Audit("error", std::string(s.message()));
      Finish(s);
      return;
    }
    query_id_ = authorization->query_id;
    if (authorization->denied) {
      (void)Audit("deny", authorization->deny_reason);
      Finish(WithReason(
          absl::PermissionDeniedError(absl::StrCat("consent denies: ", authorization->deny_reason)),
          hie::v1::ERROR_REASON_CONSENT_DENIED));
      return;
    }
    if (!grant_.ParseFromString(authorization->grant.grant())) {
      Finish(absl::InternalError("the consent service sent an unreadable grant"));
      return;
    }
    // Set once, before any holder is asked; read-only from here on.
    for (const auto& h : grant_.holders()) {
      if (h.org_id() != options.own_org) holders_.push_back(h);
    }
    // No query without its record: durable before anything is read or fetched.
    if (absl::Status s = Audit("started", absl::StrCat("asking ", holders_.size(), " holder(s)"));
        !s.ok()) {
      Finish(Unrecorded(s));
      return;
    }
    // This practice's own records.
    const std::vector<std::string>& types = request_.resource_types;
    HolderOutcome own;
    own.org_id = options.own_org;
    own.local = true;
    std::vector<hie::v1::RecordEnvelope> own_records;
    absl::Status s = engine_->records_->ForPatient(
        request_.local_patient_id, "", [&](const hie::v1::RecordEnvelope& r) {
          if (r.deleted()) return true;
          if (!types.empty() &&
              std::find(types.begin(), types.end(), r.resource_type()) == types.end()) {
            return true;
          }
          if (r.fhir_json().size() > options.max_record_bytes) {
            own.skipped.Add(r);
            return true;
          }
          own_records.push_back(r);
          own_records.back().set_source_org(options.own_org);
          return true;
        });
    own.state = s.ok() ? HolderState::kOk : HolderState::kFailed;
    own.records = static_cast<int64_t>(own_records.size());
    own.elapsed = engine_->clock_->Now() - started_;
    if (!s.ok()) own.message = std::string(s.message());
    {
      absl::MutexLock lock(&mu_);
      records_ = std::move(own_records);
      settled_.push_back(own);
    }
    Report(own);
    fetch_.grant = std::move(authorization->grant);
    fetch_.resource_types = types;
    fetch_.clinical_period = request_.clinical_period;
    if (holders_.empty()) {
      Complete();
      return;
    }
    StartMoreHolders();
  }

  void StartMoreHolders();

  // Every holder has settled: record the query's outcome, then answer.
  void Complete() {
    std::vector<hie::v1::RecordEnvelope> records;
    std::vector<HolderOutcome> settled;
    {
      absl::MutexLock lock(&mu_);
      records = std::move(records_);
      settled = std::move(settled_);
    }
    auto bundle = std::make_unique<BundleWriter>(std::move(records));
    std::vector<std::string> parts;
    for (const auto& s : settled) {
      parts.push_back(
          absl::StrCat(s.org_id, " ", HolderStateName(s.state), " ", s.records,
                       s.withheld ? absl::StrCat("/-", s.withheld) : "",
                       s.skipped.count ? absl::StrCat(" skipped ", s.skipped.count) : ""));
    }
    // The second half of the query's record: no record reaches the user before it is
    // durable.
    if (absl::Status s = Audit("ok", absl::StrJoin(parts, "; ")); !s.ok()) {
      Finish(Unrecorded(s));
      return;
    }
    QueryAnswer answer;
    answer.query_id = query_id_;
    answer.bundle = std::move(bundle);
    answer.withheld_categories.assign(grant_.withheld_categories().begin(),
                                      grant_.withheld_categories().end());
    answer.completed_at = engine_->clock_->Now();
    Finish(std::move(answer));
  }

  void Report(const HolderOutcome& outcome) {
    absl::MutexLock lock(&report_mu_);
    observer_->OnHolderSettled(outcome);
  }

  void Finish(absl::StatusOr<QueryAnswer> answer) {
    absl::MutexLock lock(&report_mu_);
    observer_->OnQueryDone(std::move(answer));
  }

  absl::Status Audit(const std::string& outcome, const std::string& detail) {
    const std::string& own_org = engine_->options_.own_org;
    hie::v1::AuditEntry entry;
    entry.set_action(hie::v1::AUDIT_ACTION_QUERY);
    entry.set_actor_org(own_org);
    *entry.mutable_user() = ToUserContext(request_.user);
    entry.mutable_patient()->set_org_id(own_org);
    entry.mutable_patient()->set_local_id(request_.local_patient_id);
    entry.set_euid(grant_.euid());
    entry.set_purpose(request_.purpose);
    entry.set_query_id(query_id_);
    entry.set_outcome(outcome);
    // An emergency query carries its reason in every entry of it: the review of a
    // break-the-glass starts from the requesting node's own chain.
    entry.set_detail(request_.break_glass_reason.empty()
                         ? detail
                         : absl::StrCat(detail, detail.empty() ? "" : "; ",
                                        "break-the-glass reason: ", request_.break_glass_reason));
    return engine_->audit_->Append(std::move(entry));
  }

  FederatedQuery* const engine_;
  const FederatedQueryRequest request_;
  QueryObserver* const observer_;
  const absl::Time started_;
  const absl::Duration holder_timeout_;
  // Set when the consent service answers, before any holder is asked.
  std::string query_id_;
  hie::v1::DisclosureGrant grant_;
  std::vector<hie::v1::GrantHolder> holders_;
  HolderFetch fetch_;

  absl::Mutex mu_;
  size_t next_holder_ ABSL_GUARDED_BY(mu_) = 0;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // Every record taken in so far, and every status reported (for the closing entry).
  std::vector<hie::v1::RecordEnvelope> records_ ABSL_GUARDED_BY(mu_);
  std::vector<HolderOutcome> settled_ ABSL_GUARDED_BY(mu_);
  // Held while the observer is called: its calls never overlap.
  absl::Mutex report_mu_;
};

// One holder's stream, read into a HolderAnswer. Records sent in pieces are joined
// here; one growing past `max_record_bytes` is dropped as it arrives and named. A
// holder whose record text passes `max_answer_bytes` is cut off. Deletes itself once
// its stream is over.
class FederatedQuery::HolderReader final : public HolderStream {
 public:
  HolderReader(std::shared_ptr<QueryRun> run, hie::v1::GrantHolder holder, size_t max_record_bytes,
               size_t max_answer_bytes, Clock* clock)
      : run_(std::move(run)),
        holder_(std::move(holder)),
        max_record_bytes_(max_record_bytes),
        max_answer_bytes_(max_answer_bytes),
        clock_(clock) {}

  // The last use of this object by the caller: the stream may be over before it returns.
  void Start(HolderClient* client, const HolderFetch& fetch, absl::Duration timeout) {
    started_ = clock_->Now();
    client->Fetch(holder_, fetch, timeout, this);
  }

  bool OnRecord(hie::v1::RecordEnvelope record) override {
    Take(std::move(record));
    return WithinBudget();
  }

  bool OnRecordPiece(std::optional<hie::v1::RecordEnvelope> envelope, std::string text,
                     bool last) override {
    if (envelope.has_value()) {
      joining_ = std::move(*envelope);
      joining_.clear_fhir_json();
      dropping_ = false;
    }
    if (!dropping_) {
      if (joining_.fhir_json().size() + text.size() > max_record_bytes_) {
        dropping_ = true;
        answer_.skipped.Add(joining_);
        std::string().swap(*joining_.mutable_fhir_json());
      } else {
        received_bytes_ += text.size();
        joining_.mutable_fhir_json()->append(text);
      }
    }
    if (last) {
      if (!dropping_) {
        record_was_joined_ = true;  // its pieces are counted already
        Take(std::move(joining_));
      }
      joining_.Clear();
      dropping_ = false;
    }
    return WithinBudget();
  }

  bool OnSummary(const HolderSummary& summary) override {
    answer_.withheld = summary.withheld;
    answer_.skipped.Add(summary.skipped, summary.skipped_references);
    return WithinBudget();
  }

  void OnDone(const absl::Status& status) override {
    absl::Status settled = status;
    if (over_budget_) {
      answer_ = HolderAnswer();
      settled = absl::ResourceExhaustedError(
          absl::StrCat("the holder's answer passed limits.max_answer_bytes (", max_answer_bytes_,
                       " bytes): its records are left out"));
    }
    run_->HolderDone(holder_, settled, std::move(answer_), clock_->Now() - started_);
    delete this;
  }

 private:
  void Take(hie::v1::RecordEnvelope record) {
    if (record.fhir_json().size() > max_record_bytes_) {
      answer_.skipped.Add(record);
      return;
    }
    if (!record_was_joined_) received_bytes_ += record.fhir_json().size();
    record_was_joined_ = false;
    // The holder is who its certificate says, whatever the record claims.
    record.set_source_org(holder_.org_id());
    answer_.records.push_back(std::move(record));
  }

  // False once the holder has sent more record text than this node takes from one
  // holder: its answer is dropped and the fetch ended.
  bool WithinBudget() {
    if (received_bytes_ <= max_answer_bytes_) return true;
    over_budget_ = true;
    std::vector<hie::v1::RecordEnvelope>().swap(answer_.records);
    joining_.Clear();
    return false;
  }

  const std::shared_ptr<QueryRun> run_;
  const hie::v1::GrantHolder holder_;
  const size_t max_record_bytes_;
  const size_t max_answer_bytes_;
  Clock* const clock_;
  absl::Time started_;
  // Record text received from this holder so far, and whether it passed the budget.
  size_t received_bytes_ = 0;
  bool over_budget_ = false;
  bool record_was_joined_ = false;
  HolderAnswer answer_;
  // The record being joined from pieces, and whether it already grew too large.
  hie::v1::RecordEnvelope joining_;
  bool dropping_ = false;
};

void FederatedQuery::QueryRun::StartMoreHolders() {
  const FederatedQueryOptions& options = engine_->options_;
  const int max_in_flight = std::max(1, options.max_in_flight);
  while (true) {
    hie::v1::GrantHolder holder;
    {
      absl::MutexLock lock(&mu_);
      if (next_holder_ == holders_.size() || in_flight_ >= max_in_flight) return;
      holder = holders_[next_holder_++];
      ++in_flight_;
    }
    auto* reader = new HolderReader(shared_from_this(), std::move(holder), options.max_record_bytes,
                                    options.max_answer_bytes, engine_->clock_);
    reader->Start(engine_->holders_.get(), fetch_, holder_timeout_);
  }
}

FederatedQuery::FederatedQuery(FederatedQueryOptions options, const RecordStore* records,
                               std::unique_ptr<ConsentClient> consent,
                               std::unique_ptr<HolderClient> holders,
                               std::unique_ptr<AuditSink> audit, Clock* clock)
    : options_(std::move(options)),
      records_(records),
      consent_(std::move(consent)),
      holders_(std::move(holders)),
      audit_(std::move(audit)),
      clock_(clock) {}

FederatedQuery::~FederatedQuery() = default;

void FederatedQuery::Run(FederatedQueryRequest request, QueryObserver* observer) {
  std::make_shared<QueryRun>(this, std::move(request), observer)->Start();
}

KeptAnswers::KeptAnswers(KeptAnswersOptions options, Clock* clock)
    : options_(std::move(options)), clock_(clock) {}

void KeptAnswers::DropExpired(std::vector<std::shared_ptr<KeptAnswer>>* dropped) {
  const absl::Time now = clock_->Now();
  absl::erase_if(kept_, [&](auto& entry) {
    if (entry.second.expires > now) return false;
    bytes_ -= entry.second.bytes;
    dropped->push_back(std::move(entry.second.answer));
    return true;
  });
}

absl::StatusOr<std::string> KeptAnswers::Keep(std::string requester,
                                              std::shared_ptr<KeptAnswer> answer) {
  const size_t bytes = answer->answer.bundle->record_bytes();
  unsigned char random[32];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return absl::InternalError("no randomness for a page token");
  }
  std::string token =
      absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<char*>(random), sizeof(random)));
  std::vector<std::shared_ptr<KeptAnswer>> dropped;  // freed after the lock is let go
  absl::MutexLock lock(&mu_);
  DropExpired(&dropped);
  if (kept_.size() >= options_.max_answers || bytes > options_.max_total_bytes - bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat("answers kept for paging hold ", kept_.size(),
                                                     " answers and ", bytes_, " bytes; this one (",
                                                     bytes, " bytes) does not fit"));
  }
  bytes_ += bytes;
  kept_.emplace(token, Kept{.requester = std::move(requester),
                            .expires = clock_->Now() + options_.keep_for,
                            .bytes = bytes,
                            .answer = std::move(answer)});
  return token;
}

absl::StatusOr<std::shared_ptr<KeptAnswer>> KeptAnswers::Find(absl::string_view token,
                                                              absl::string_view requester) {
  std::vector<std::shared_ptr<KeptAnswer>> dropped;  // freed after the lock is let go
  absl::MutexLock lock(&mu_);
  DropExpired(&dropped);
  auto it = kept_.find(token);
  if (it == kept_.end() || it->second.requester != requester) {
    return absl::NotFoundError("no such page: the answer expired or was never kept for you");
  }
  return it->second.answer;
}

size_t KeptAnswers::count() {
  std::vector<std::shared_ptr<KeptAnswer>> dropped;  // freed after the lock is let go
  absl::MutexLock lock(&mu_);
  DropExpired(&dropped);
  return kept_.size();
}

size_t KeptAnswers::bytes() {
  std::vector<std::shared_ptr<KeptAnswer>> dropped;  // freed after the lock is let go
  absl::MutexLock lock(&mu_);
  DropExpired(&dropped);
  return bytes_;
}

}  // namespace hie::node
