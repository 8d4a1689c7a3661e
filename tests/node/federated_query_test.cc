// The federated query as the domain runs it, with the consent service, the holders and
// the audit chain faked in memory: a holder that answers, one that refuses, one that
// cannot be reached and one that times out; duplicates folded; the audit refused.
#include "node/domain/federated_query.h"

#include <unistd.h>

#include <deque>
#include <filesystem>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status/error_detail.h"
#include "common/store/kv_store.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace hie::node {
namespace {

using ::hie::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

hie::v1::ErrorReason ReasonOf(const absl::Status& status) {
  std::optional<hie::v1::ErrorDetail> detail = GetErrorDetail(status);
  return detail.has_value() ? detail->reason() : hie::v1::ERROR_REASON_UNSPECIFIED;
}

hie::v1::RecordEnvelope Record(const std::string& type, const std::string& id,
                               const std::string& patient, const std::string& json) {
  hie::v1::RecordEnvelope r;
  r.set_resource_type(type);
  r.set_resource_id(id);
  r.set_patient_local_id(patient);
  r.set_fhir_json(json);
  return r;
}

// The consent service: answers every Authorize at once with `answer`.
class FakeConsent final : public ConsentClient {
 public:
  void Authorize(const AuthorizeQuery& query,
                 std::function<void(absl::StatusOr<Authorization>)> done) override {
    asked.push_back(query);
    done(answer);
  }

  absl::StatusOr<Authorization> answer = absl::UnknownError("not set");
  std::vector<AuthorizeQuery> asked;
};

// The holders: each org's script runs as soon as the fetch starts; a fetch of an org
// without a script stays pending until the test ends it.
class FakeHolders final : public HolderClient {
 public:
  struct Call {
    hie::v1::GrantHolder holder;
    HolderFetch fetch;
    absl::Duration timeout;
    HolderStream* stream = nullptr;
    bool done = false;
  };
  using Script = std::function<void(HolderStream*)>;

  void Fetch(const hie::v1::GrantHolder& holder, const HolderFetch& fetch, absl::Duration timeout,
             HolderStream* stream) override {
    calls.push_back({holder, fetch, timeout, stream});
    auto it = scripts.find(holder.org_id());
    if (it == scripts.end()) return;
    calls.back().done = true;
    it->second(stream);
  }

  // Ends `org`'s pending fetch with `status`.
  void End(const std::string& org, const absl::Status& status) {
    for (auto& call : calls) {
      if (call.holder.org_id() != org || call.done) continue;
      call.done = true;
      call.stream->OnDone(status);
      return;
    }
    ADD_FAILURE() << "no pending fetch of " << org;
  }

  int Pending() const {
    int n = 0;
    for (const auto& call : calls) n += call.done ? 0 : 1;
    return n;
  }

  std::map<std::string, Script> scripts;
  std::deque<Call> calls;
};

// A holder that sends `records` whole, then its summary.
FakeHolders::Script Answers(std::vector<hie::v1::RecordEnvelope> records,
                            HolderSummary summary = {}) {
  return [records, summary](HolderStream* stream) {
    for (const auto& r : records) {
      if (!stream->OnRecord(r)) {
        stream->OnDone(absl::CancelledError("cancelled"));
        return;
      }
    }
    if (!stream->OnSummary(summary)) {
      stream->OnDone(absl::CancelledError("cancelled"));
      return;
    }
    stream->OnDone(absl::OkStatus());
  };
}

FakeHolders::Script Fails(absl::Status status) {
  return [status](HolderStream* stream) { stream->OnDone(status); };
}

class FakeAudit final : public AuditSink {
 public:
  absl::Status Append(hie::v1::AuditEntry entry) override {
    absl::MutexLock lock(&mu_);
    if (entry.outcome() == refuse_outcome) return absl::InternalError("the disk is full");
    entries.push_back(std::move(entry));
    return absl::OkStatus();
  }
  std::vector<std::string> Outcomes() {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> out;
    for (const auto& e : entries) out.push_back(e.outcome());
    return out;
  }

  std::string refuse_outcome;  // appends of entries with this outcome fail
  std::vector<hie::v1::AuditEntry> entries;

 private:
  absl::Mutex mu_;
};

class Observer final : public QueryObserver {
 public:
  void OnHolderSettled(const HolderOutcome& outcome) override {
    EXPECT_FALSE(done.has_value()) << "a holder reported after the end";
    settled.push_back(outcome);
  }
  void OnQueryDone(absl::StatusOr<QueryAnswer> answer) override {
    EXPECT_FALSE(done.has_value()) << "two ends";
    if (answer.ok()) {
      while (answer->bundle->Next(100, &bundle_json)) {
      }
    }
    done = std::move(answer);
  }

  std::vector<std::string> Orgs() const {
    std::vector<std::string> out;
    for (const auto& s : settled) out.push_back(s.org_id);
    return out;
  }
  const HolderOutcome& Of(const std::string& org) const {
    for (const auto& s : settled) {
      if (s.org_id == org) return s;
    }
    ADD_FAILURE() << "no status for " << org;
    return settled.front();
  }

  std::vector<HolderOutcome> settled;
  std::optional<absl::StatusOr<QueryAnswer>> done;
  std::string bundle_json;
};

constexpr char kCondition[] =
    R"({"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/123"},)"
    R"("code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]},)"
    R"("onsetDateTime":"2020-01-01"})";

class FederatedQueryDomainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "hie-federated-query-" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    auto kv = store::KvStore::Open(dir_);
    ASSERT_OK(kv.status());
    kv_ = *std::move(kv);
    records_ = std::make_unique<RecordStore>(kv_.get(), &clock_);
    ASSERT_OK(
        records_
            ->Put({Record("Patient", "123", "123", R"({"resourceType":"Patient","id":"123"})"),
                   Record("Condition", "c1", "123", kCondition)})
            .status());
    grant_.set_euid("E-1");
    grant_.set_query_id("q-1");
    grant_.add_withheld_categories("ETH");
    for (const char* org : {"org-a", "org-b", "org-c", "org-d", "org-e"}) {
      hie::v1::GrantHolder* h = grant_.add_holders();
      h->set_org_id(org);
      h->set_local_id(absl::StrCat(org, "-patient"));
      h->set_endpoint(absl::StrCat(org, ".example:443"));
    }
    Permit();
  }
  void TearDown() override {
    engine_.reset();
    records_.reset();
    kv_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Permit() {
    Authorization permit;
    permit.query_id = "q-1";
    permit.grant.set_grant(grant_.SerializeAsString());
    permit.grant.set_key_id("k1");
    consent_->answer = permit;
  }

  FederatedQuery& Engine() {
    if (engine_ == nullptr) {
      engine_ = std::make_unique<FederatedQuery>(
          options_, records_.get(), std::move(owned_consent_), std::move(owned_holders_),
          std::move(owned_audit_), &clock_);
    }
    return *engine_;
  }

  FederatedQueryRequest Request() {
    FederatedQueryRequest request;
    request.local_patient_id = "123";
    request.purpose = "TREAT";
    request.user = {
        .id = "dr.lee", .role = "physician", .npi = "1234567893", .display_name = "Dr. Lee"};
    request.holder_timeout = absl::Seconds(3);
    return request;
  }

  // The local Condition as another holder stores the same content.
  hie::v1::RecordEnvelope SameConditionElsewhere() {
    auto c1 = records_->Get("Condition", "c1");
    EXPECT_OK(c1.status());
    hie::v1::RecordEnvelope copy = *c1;
    copy.set_patient_local_id("org-b-patient");
    copy.set_source_org("org-z");  // a holder's claim, overridden by who it is
    return copy;
  }

  hie::testing::FakeClock clock_;
  std::string dir_;
  std::unique_ptr<store::KvStore> kv_;
  std::unique_ptr<RecordStore> records_;
  hie::v1::DisclosureGrant grant_;
  FederatedQueryOptions options_{.own_org = "org-a"};
  std::unique_ptr<FakeConsent> owned_consent_ = std::make_unique<FakeConsent>();
  std::unique_ptr<FakeHolders> owned_holders_ = std::make_unique<FakeHolders>();
  std::unique_ptr<FakeAudit> owned_audit_ = std::make_unique<FakeAudit>();
  FakeConsent* consent_ = owned_consent_.get();
  FakeHolders* holders_ = owned_holders_.get();
  FakeAudit* audit_ = owned_audit_.get();
  std::unique_ptr<FederatedQuery> engine_;
  Observer observer_;
};

TEST_F(FederatedQueryDomainTest, EveryHolderSettlesInItsOwnWayAndTheAnswerFoldsDuplicates) {
  hie::v1::RecordEnvelope immunization =
      Record("Immunization", "i1", "org-b-patient",
             R"({"resourceType":"Immunization","id":"i1","occurrenceDateTime":"2021-05-01"})");
  holders_->scripts["org-b"] =
      Answers({SameConditionElsewhere(), immunization},
              {.withheld = 2, .skipped = 1, .skipped_references = {"Media/scan"}});
  holders_->scripts["org-c"] = Fails(absl::PermissionDeniedError("this grant was already used"));
  holders_->scripts["org-d"] = Fails(absl::UnavailableError("connection refused"));
  // org-e answers nothing until its deadline.

  Engine().Run(Request(), &observer_);

  // The consent service was asked for this user and purpose; no holder is this node.
  ASSERT_EQ(consent_->asked.size(), 1u);
  EXPECT_EQ(consent_->asked[0].local_patient_id, "123");
  EXPECT_EQ(consent_->asked[0].purpose, "TREAT");
  EXPECT_EQ(consent_->asked[0].user.id, "dr.lee");
  ASSERT_EQ(holders_->calls.size(), 4u);
  for (const auto& call : holders_->calls) {
    EXPECT_NE(call.holder.org_id(), "org-a");
    EXPECT_EQ(call.timeout, absl::Seconds(3));
    EXPECT_EQ(call.fetch.grant.grant(), grant_.SerializeAsString());
  }
  // This node's own records first, then each holder as it settled; nothing ends while
  // org-e is still out.
  EXPECT_THAT(observer_.Orgs(), ElementsAre("org-a", "org-b", "org-c", "org-d"));
  EXPECT_FALSE(observer_.done.has_value());

  holders_->End("org-e", absl::DeadlineExceededError("Deadline Exceeded"));
  ASSERT_TRUE(observer_.done.has_value());
  ASSERT_OK(observer_.done->status());
  EXPECT_THAT(observer_.Orgs(), ElementsAre("org-a", "org-b", "org-c", "org-d", "org-e"));

  const HolderOutcome& own = observer_.Of("org-a");
  EXPECT_TRUE(own.local);
  EXPECT_EQ(own.state, HolderState::kOk);
  EXPECT_EQ(own.records, 2);
  const HolderOutcome& b = observer_.Of("org-b");
  EXPECT_FALSE(b.local);
  EXPECT_EQ(b.state, HolderState::kOk);
  EXPECT_EQ(b.records, 2);
  EXPECT_EQ(b.withheld, 2);
  EXPECT_EQ(b.skipped.count, 1);
  EXPECT_THAT(b.skipped.references, ElementsAre("Media/scan"));
  const HolderOutcome& c = observer_.Of("org-c");
  EXPECT_EQ(c.state, HolderState::kDenied);
  EXPECT_EQ(c.message, "this grant was already used");
  EXPECT_EQ(c.records, 0);
  EXPECT_EQ(observer_.Of("org-d").state, HolderState::kUnreachable);
  EXPECT_EQ(observer_.Of("org-e").state, HolderState::kTimedOut);

  // Four records, one of them the same Condition at two places: three entries, the
  // folded one tagged with both sources (the holder as its certificate names it).
  const QueryAnswer& answer = **observer_.done;
  EXPECT_EQ(answer.query_id, "q-1");
  EXPECT_EQ(answer.bundle->entries(), 3);
  EXPECT_EQ(answer.bundle->duplicates_folded(), 1);
  EXPECT_THAT(answer.withheld_categories, ElementsAre("ETH"));
  EXPECT_EQ(answer.bundle->bytes_written(), static_cast<int64_t>(observer_.bundle_json.size()));
  simdjson::dom::parser parser;
  simdjson::dom::element bundle;
  ASSERT_FALSE(parser.parse(observer_.bundle_json).get(bundle));
  simdjson::dom::array entries;
  ASSERT_FALSE(bundle["entry"].get_array().get(entries));
  EXPECT_EQ(entries.size(), 3u);
  EXPECT_THAT(observer_.bundle_json, HasSubstr("org-b"));
  EXPECT_THAT(observer_.bundle_json, ::testing::Not(HasSubstr("org-z")));

  // The query's record: before anything was fetched, and every holder's status after.
  EXPECT_THAT(audit_->Outcomes(), ElementsAre("started", "ok"));
  const hie::v1::AuditEntry& started = audit_->entries[0];
  EXPECT_EQ(started.action(), hie::v1::AUDIT_ACTION_QUERY);
  EXPECT_EQ(started.actor_org(), "org-a");
  EXPECT_EQ(started.user().user_id(), "dr.lee");
  EXPECT_EQ(started.user().display_name(), "Dr. Lee");
  EXPECT_EQ(started.patient().org_id(), "org-a");
  EXPECT_EQ(started.patient().local_id(), "123");
  EXPECT_EQ(started.euid(), "E-1");
  EXPECT_EQ(started.query_id(), "q-1");
  EXPECT_EQ(started.detail(), "asking 4 holder(s)");
  EXPECT_EQ(audit_->entries[1].detail(),
            "org-a OK 2; org-b OK 2/-2 skipped 1; org-c DENIED 0; org-d UNREACHABLE 0; "
            "org-e TIMED_OUT 0");
}

TEST_F(FederatedQueryDomainTest, OnlyTheGrantsHoldersAreAskedAndThisNodeAloneAnswersAlone) {
  grant_.clear_holders();
  grant_.add_holders()->set_org_id("org-a");
  Permit();
  Engine().Run(Request(), &observer_);
  EXPECT_TRUE(holders_->calls.empty());
  ASSERT_TRUE(observer_.done.has_value());
  ASSERT_OK(observer_.done->status());
  EXPECT_THAT(observer_.Orgs(), ElementsAre("org-a"));
  EXPECT_EQ((*observer_.done)->bundle->entries(), 2);
  EXPECT_EQ(audit_->entries[0].detail(), "asking 0 holder(s)");
}

TEST_F(FederatedQueryDomainTest, HolderDeadlineIsTheCallersUpToACapOrTheNodesDefault) {
  options_.default_holder_timeout = absl::Seconds(7);
  FederatedQueryRequest long_wait = Request();
  long_wait.holder_timeout = absl::Hours(1);
  Engine().Run(long_wait, &observer_);
  for (const auto& call : holders_->calls) EXPECT_EQ(call.timeout, kMaxHolderTimeout);
  for (const char* org : {"org-b", "org-c", "org-d", "org-e"}) {
    holders_->End(org, absl::DeadlineExceededError("late"));
  }

  Observer second;
  FederatedQueryRequest no_wait = Request();
  no_wait.holder_timeout = absl::ZeroDuration();
  holders_->calls.clear();
  Engine().Run(no_wait, &second);
  ASSERT_EQ(holders_->calls.size(), 4u);
  for (const auto& call : holders_->calls) EXPECT_EQ(call.timeout, absl::Seconds(7));
  for (const char* org : {"org-b", "org-c", "org-d", "org-e"}) {
    holders_->End(org, absl::OkStatus());
  }
  ASSERT_TRUE(second.done.has_value());
  EXPECT_OK(second.done->status());
}

TEST_F(FederatedQueryDomainTest, AtMostMaxInFlightHoldersAreAskedAtOnce) {
  options_.max_in_flight = 2;
  Engine().Run(Request(), &observer_);
  EXPECT_EQ(holders_->calls.size(), 2u);
  holders_->End("org-b", absl::OkStatus());
  EXPECT_EQ(holders_->calls.size(), 3u);
  EXPECT_EQ(holders_->Pending(), 2);
  holders_->End("org-c", absl::OkStatus());
  holders_->End("org-d", absl::OkStatus());
  EXPECT_EQ(holders_->calls.size(), 4u);
  EXPECT_FALSE(observer_.done.has_value());
  holders_->End("org-e", absl::OkStatus());
  ASSERT_TRUE(observer_.done.has_value());
  EXPECT_OK(observer_.done->status());
}

TEST_F(FederatedQueryDomainTest, EachHolderIsRememberedWithItsLastAnswer) {
  KnownPeers peers;
  options_.known_peers = &peers;
  holders_->scripts["org-b"] = Answers({}, {});
  holders_->scripts["org-c"] = Fails(absl::PermissionDeniedError("this grant was already used"));
  holders_->scripts["org-d"] = Fails(absl::UnavailableError("connection refused"));
  Engine().Run(Request(), &observer_);
  holders_->End("org-e", absl::DeadlineExceededError("Deadline Exceeded"));
  ASSERT_TRUE(observer_.done.has_value());
  std::vector<std::string> seen;
  for (const KnownPeer& p : peers.List()) {
    seen.push_back(absl::StrCat(p.org_id, " ", p.last_state));
    EXPECT_EQ(p.endpoint, absl::StrCat(p.org_id, ".example:443"));
    EXPECT_GT(p.last_seen, absl::UnixEpoch());
  }
  // This node itself is not a peer.
  EXPECT_THAT(seen,
              ElementsAre("org-b OK", "org-c DENIED", "org-d UNREACHABLE", "org-e TIMED_OUT"));
}

TEST(KnownPeersTest, APeerIsKeptOnceWithItsLatestAnswerAndTheOldestGoesFirst) {
  KnownPeers peers(/*max_peers=*/2);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  peers.Saw("org-b", "b:1", "OK", absl::Milliseconds(5), t0);
  peers.Saw("org-c", "c:1", "OK", absl::Milliseconds(5), t0 + absl::Seconds(1));
  peers.Saw("org-b", "b:2", "TIMED_OUT", absl::Seconds(5), t0 + absl::Seconds(2));
  ASSERT_EQ(peers.List().size(), 2u);
  EXPECT_EQ(peers.List()[0].endpoint, "b:2");
  EXPECT_EQ(peers.List()[0].last_state, "TIMED_OUT");
  // A third peer replaces the one seen longest ago: org-c.
  peers.Saw("org-d", "d:1", "OK", absl::Milliseconds(5), t0 + absl::Seconds(3));
  std::vector<std::string> orgs;
  for (const KnownPeer& p : peers.List()) orgs.push_back(p.org_id);
  EXPECT_THAT(orgs, ElementsAre("org-b", "org-d"));
}

TEST_F(FederatedQueryDomainTest, AnEmergencyQueryCarriesItsReasonInEveryEntry) {
  grant_.clear_holders();
  grant_.add_holders()->set_org_id("org-a");
  Permit();
  FederatedQueryRequest request = Request();
  request.purpose = "ETREAT";
  request.break_glass_reason = "unconscious in the emergency department";
  Engine().Run(request, &observer_);
  ASSERT_TRUE(observer_.done.has_value());
  ASSERT_OK(observer_.done->status());
  ASSERT_EQ(audit_->entries.size(), 2u);
  for (const hie::v1::AuditEntry& entry : audit_->entries) {
    EXPECT_THAT(
        entry.detail(),
        ::testing::HasSubstr("break-the-glass reason: unconscious in the emergency department"));
    EXPECT_EQ(entry.purpose(), "ETREAT");
  }
}

TEST_F(FederatedQueryDomainTest, ConsentDenialIsAuditedAndNothingIsFetched) {
  Authorization deny;
  deny.query_id = "q-2";
  deny.denied = true;
  deny.deny_reason = "opt-in policy and no consent on file";
  consent_->answer = deny;
  Engine().Run(Request(), &observer_);
  ASSERT_TRUE(observer_.done.has_value());
  EXPECT_THAT(*observer_.done, StatusIs(absl::StatusCode::kPermissionDenied,
                                        "consent denies: opt-in policy and no consent on file"));
  EXPECT_EQ(ReasonOf(observer_.done->status()), hie::v1::ERROR_REASON_CONSENT_DENIED);
  EXPECT_THAT(observer_.settled, IsEmpty());
  EXPECT_TRUE(holders_->calls.empty());
  ASSERT_THAT(audit_->Outcomes(), ElementsAre("deny"));
  EXPECT_EQ(audit_->entries[0].query_id(), "q-2");
  EXPECT_EQ(audit_->entries[0].detail(), "opt-in policy and no consent on file");
}

TEST_F(FederatedQueryDomainTest, UnreachableConsentServiceIsADependencyFailure) {
  consent_->answer = absl::DeadlineExceededError("Deadline Exceeded");
  Engine().Run(Request(), &observer_);
  ASSERT_TRUE(observer_.done.has_value());
  EXPECT_THAT(*observer_.done,
              StatusIs(absl::StatusCode::kUnavailable,
                       "the consent service cannot be reached, so nothing is fetched: "
                       "Deadline Exceeded"));
  EXPECT_EQ(ReasonOf(observer_.done->status()), hie::v1::ERROR_REASON_DEPENDENCY_UNAVAILABLE);
  EXPECT_THAT(audit_->Outcomes(), ElementsAre("error"));
  EXPECT_TRUE(holders_->calls.empty());
}

TEST_F(FederatedQueryDomainTest, ConsentServiceErrorsPassThroughWithTheirReason) {
  consent_->answer =
      WithReason(absl::NotFoundError("no such patient"), hie::v1::ERROR_REASON_PATIENT_UNKNOWN);
  Engine().Run(Request(), &observer_);
  ASSERT_TRUE(observer_.done.has_value());
  EXPECT_THAT(*observer_.done, StatusIs(absl::StatusCode::kNotFound, "no such patient"));
  EXPECT_EQ(ReasonOf(observer_.done->status()), hie::v1::ERROR_REASON_PATIENT_UNKNOWN);
  EXPECT_THAT(audit_->Outcomes(), ElementsAre("error"));
}

TEST_F(FederatedQueryDomainTest, UnreadableGrantIsAnInternalError) {
  Authorization permit;
  permit.grant.set_grant("\xff\xff\xff");
  consent_->answer = permit;
  Engine().Run(Request(), &observer_);
  ASSERT_TRUE(observer_.done.has_value());
  EXPECT_THAT(*observer_.done, StatusIs(absl::StatusCode::kInternal));
  EXPECT_TRUE(holders_->calls.empty());
}

TEST_F(FederatedQueryDomainTest, MissingPatientOrPurposeIsRefusedBeforeAnyoneIsAsked) {
  FederatedQueryRequest request = Request();
  request.purpose.clear();
  Engine().Run(request, &observer_);
  ASSERT_TRUE(observer_.done.has_value());
  EXPECT_THAT(*observer_.done, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(consent_->asked.empty());
  EXPECT_TRUE(audit_->entries.empty());
}

TEST_F(FederatedQueryDomainTest, AuditRefusedAtTheStartRefusesTheQuery) {
  audit_->refuse_outcome = "started";
  Engine().Run(Request(), &observer_);
  ASSERT_TRUE(observer_.done.has_value());
  EXPECT_THAT(*observer_.done, StatusIs(absl::StatusCode::kUnavailable,
                                        HasSubstr("cannot record the query in its audit")));
  EXPECT_EQ(ReasonOf(observer_.done->status()), hie::v1::ERROR_REASON_AUDIT_UNAVAILABLE);
  EXPECT_THAT(observer_.settled, IsEmpty());
  EXPECT_TRUE(holders_->calls.empty());
}

TEST_F(FederatedQueryDomainTest, AuditRefusedAtTheEndAnswersNothing) {
  audit_->refuse_outcome = "ok";
  for (const char* org : {"org-b", "org-c", "org-d", "org-e"}) {
    holders_->scripts[org] = Answers({});
  }
  Engine().Run(Request(), &observer_);
  ASSERT_TRUE(observer_.done.has_value());
  EXPECT_THAT(*observer_.done, StatusIs(absl::StatusCode::kUnavailable,
                                        HasSubstr("cannot record the query in its audit")));
  EXPECT_EQ(ReasonOf(observer_.done->status()), hie::v1::ERROR_REASON_AUDIT_UNAVAILABLE);
  EXPECT_EQ(observer_.settled.size(), 5u);
  EXPECT_TRUE(observer_.bundle_json.empty());
}

TEST_F(FederatedQueryDomainTest, RecordsInPiecesAreJoinedAndTooLargeOnesNamed) {
  options_.max_record_bytes = 100;
  const std::string joined =
      R"({"resourceType":"Observation","id":"o1","valueString":")" + std::string(40, 'x') + R"("})";
  hie::v1::RecordEnvelope o1 = Record("Observation", "o1", "p", "");
  hie::v1::RecordEnvelope big = Record("Media", "big", "p", "");
  hie::v1::RecordEnvelope whole_big = Record("DocumentReference", "d1", "p", std::string(101, ' '));
  holders_->scripts["org-b"] = [&](HolderStream* stream) {
    EXPECT_TRUE(stream->OnRecordPiece(o1, joined.substr(0, 30), false));
    EXPECT_TRUE(stream->OnRecordPiece(std::nullopt, joined.substr(30), true));
    EXPECT_TRUE(stream->OnRecordPiece(big, std::string(60, 'y'), false));
    EXPECT_TRUE(stream->OnRecordPiece(std::nullopt, std::string(60, 'y'), true));
    EXPECT_TRUE(stream->OnRecord(whole_big));
    EXPECT_TRUE(stream->OnSummary({}));
    stream->OnDone(absl::OkStatus());
  };
  for (const char* org : {"org-c", "org-d", "org-e"}) holders_->scripts[org] = Answers({});
  Engine().Run(Request(), &observer_);
  ASSERT_TRUE(observer_.done.has_value());
  ASSERT_OK(observer_.done->status());
  const HolderOutcome& b = observer_.Of("org-b");
  EXPECT_EQ(b.records, 1);
  EXPECT_EQ(b.skipped.count, 2);
  EXPECT_THAT(b.skipped.references, ElementsAre("Media/big", "DocumentReference/d1"));
  EXPECT_THAT(observer_.bundle_json, HasSubstr(std::string(40, 'x')));
}

TEST_F(FederatedQueryDomainTest, AHolderSendingMoreThanTheBudgetIsCutOffAndCostsOnlyItsOwnRecords) {
  options_.max_answer_bytes = 150;
  std::vector<hie::v1::RecordEnvelope> many;
  for (int i = 0; i < 10; ++i) {
    many.push_back(Record("Observation", absl::StrCat("o", i), "p",
                          absl::StrCat(R"({"resourceType":"Observation","id":"o)", i, R"("})")));
  }
  holders_->scripts["org-b"] = Answers(many);
  holders_->scripts["org-c"] = Answers({many[0]});
  for (const char* org : {"org-d", "org-e"}) holders_->scripts[org] = Answers({});
  Engine().Run(Request(), &observer_);
  ASSERT_TRUE(observer_.done.has_value());
  ASSERT_OK(observer_.done->status());
  const HolderOutcome& b = observer_.Of("org-b");
  EXPECT_EQ(b.state, HolderState::kFailed);
  EXPECT_THAT(b.message, HasSubstr("limits.max_answer_bytes (150 bytes)"));
  EXPECT_EQ(observer_.Of("org-c").records, 1);
  // This node's two records and org-c's one.
  EXPECT_EQ((*observer_.done)->bundle->entries(), 3);
}

}  // namespace
}  // namespace hie::node
