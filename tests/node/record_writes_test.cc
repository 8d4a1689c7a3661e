// FHIR writes on a real store: ids the node assigns, If-Match, deletion, conditional
// create, transactions that write all or nothing (references to their fullUrls
// rewritten, labels flowing between entries, Patients owed to the MPI in the same batch)
// and batches that answer entry by entry.
#include "node/domain/record_writes.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/domain/labeler.h"

namespace hie::node {
namespace {

using ::hie::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

absl::Status AllowAll(const std::string&, absl::string_view) { return absl::OkStatus(); }

class RecordWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "hie-record-writes-" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    auto kv = store::KvStore::Open(dir_);
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = *std::move(kv);
    store_.emplace(kv_.get(), &clock_);
    auto labeler = Labeler::FromConfig({});
    ASSERT_TRUE(labeler.ok());
    labeler_.emplace(*std::move(labeler));
    ingester_.emplace(&*labeler_, IngestOptions{.max_resource_bytes = 1 << 20});
    auto outbox = Outbox::Open(kv_.get());
    ASSERT_TRUE(outbox.ok());
    outbox_ = *std::move(outbox);
    // Conditional create by identifier value, over the store's Patients.
    RecordFinder finder =
        [this](const std::string& type,
               const std::string& query) -> absl::StatusOr<std::vector<hie::v1::RecordEnvelope>> {
      if (query.rfind("identifier=", 0) != 0) return absl::InvalidArgumentError("identifier only");
      const std::string value = query.substr(11);
      std::vector<hie::v1::RecordEnvelope> found;
      absl::Status s = store_->ForType(type, [&](const hie::v1::RecordEnvelope& r) {
        if (!r.deleted() &&
            r.fhir_json().find("\"value\":\"" + value + "\"") != std::string::npos) {
          found.push_back(r);
        }
        return true;
      });
      if (!s.ok()) return s;
      return found;
    };
    writes_.emplace(
        &*ingester_, &*store_, outbox_.get(), [this] { ++notified_; }, finder);
  }
  void TearDown() override {
    writes_.reset();
    outbox_.reset();
    store_.reset();
    kv_.reset();
    std::filesystem::remove_all(dir_);
  }

  int64_t Owed() { return outbox_->Pending().value_or(-1); }

  std::string dir_;
  hie::testing::FakeClock clock_;
  std::unique_ptr<store::KvStore> kv_;
  std::optional<RecordStore> store_;
  std::optional<Labeler> labeler_;
  std::optional<FhirIngester> ingester_;
  std::unique_ptr<Outbox> outbox_;
  std::optional<RecordWrites> writes_;
  int notified_ = 0;
};

constexpr char kJane[] =
    R"({"resourceType":"Patient","id":"client-chosen","identifier":[{"system":"urn:mrn","value":"MRN-7"}],"name":[{"family":"Oyelaran","given":["Jane"]}],"birthDate":"1984-06-02"})";

TEST_F(RecordWritesTest, CreateAssignsAnIdAndOwesTheMpiThePatient) {
  WriteResult created = writes_->Create("Patient", kJane);
  ASSERT_TRUE(created.ok()) << created.status;
  EXPECT_EQ(created.kind, PutOutcome::kCreated);
  EXPECT_NE(created.record.resource_id(), "client-chosen");
  EXPECT_EQ(created.record.resource_id().size(), 32u);
  EXPECT_EQ(created.record.version(), 1);
  EXPECT_THAT(created.record.fhir_json(),
              HasSubstr(absl::StrCat("\"id\":\"", created.record.resource_id(), "\"")));
  EXPECT_EQ(Owed(), 1);
  EXPECT_EQ(notified_, 1);
  // Two creates of the same resource are two records.
  WriteResult again = writes_->Create("Patient", kJane);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again.record.resource_id(), created.record.resource_id());
}

TEST_F(RecordWritesTest, WhatIsNotAResourceOfTheTypeIs400AndAnInvalidOneNamesThePath) {
  WriteResult bad_json = writes_->Create("Patient", "{\"resourceType\":");
  EXPECT_THAT(bad_json.status, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JSON")));
  EXPECT_THAT(bad_json.problems, IsEmpty());
  WriteResult wrong_type = writes_->Create("Observation", kJane);
  EXPECT_THAT(wrong_type.status, StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("is a Patient, not a Observation")));
  WriteResult invalid = writes_->Create(
      "Observation",
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2020-13-45"})");
  EXPECT_THAT(invalid.status, StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_EQ(invalid.problems.size(), 1u);
  EXPECT_EQ(invalid.problems[0].path, "Observation.effectiveDateTime");
  EXPECT_EQ(Owed(), 0);
}

TEST_F(RecordWritesTest, UpdateHonoursIfMatchAndCreatesWhatIsNotThere) {
  std::string jane = R"({"resourceType":"Patient","id":"p1","name":[{"family":"Oyelaran"}]})";
  WriteResult first = writes_->Update("Patient", "p1", jane);
  ASSERT_TRUE(first.ok()) << first.status;
  EXPECT_EQ(first.kind, PutOutcome::kCreated);
  std::string married = R"({"resourceType":"Patient","id":"p1","name":[{"family":"Adeyemi"}]})";
  WriteResult stale = writes_->Update("Patient", "p1", married, 2);
  EXPECT_THAT(stale.status, StatusIs(absl::StatusCode::kFailedPrecondition,
                                     HasSubstr("Patient/p1 is at version 1, not 2")));
  WriteResult second = writes_->Update("Patient", "p1", married, 1);
  ASSERT_TRUE(second.ok()) << second.status;
  EXPECT_EQ(second.kind, PutOutcome::kUpdated);
  EXPECT_EQ(second.record.version(), 2);
  // The same content again: nothing written, the current version answered.
  WriteResult same = writes_->Update("Patient", "p1", married);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same.kind, PutOutcome::kUnchanged);
  EXPECT_EQ(same.record.version(), 2);
  EXPECT_GT(same.record.last_updated().seconds(), 0);
  // The id must be in the body and agree with the URL.
  EXPECT_THAT(writes_->Update("Patient", "p2", married).status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not the id in the URL")));
  EXPECT_THAT(writes_->Update("Patient", "p1", R"({"resourceType":"Patient"})").status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must carry its id")));
  EXPECT_EQ(Owed(), 2);  // created, then changed
}

TEST_F(RecordWritesTest, DeleteWritesATombstoneAndOwesTheMpiTheRemoval) {
  ASSERT_TRUE(writes_->Update("Patient", "p1", R"({"resourceType":"Patient","id":"p1"})").ok());
  EXPECT_THAT(writes_->Delete("Patient", "p1", 5).status,
              StatusIs(absl::StatusCode::kFailedPrecondition));
  WriteResult deleted = writes_->Delete("Patient", "p1", 1);
  ASSERT_TRUE(deleted.ok()) << deleted.status;
  EXPECT_EQ(deleted.kind, PutOutcome::kDeleted);
  EXPECT_EQ(deleted.record.version(), 2);
  ASSERT_OK_AND_ASSIGN(auto owed, outbox_->Oldest(10));
  ASSERT_EQ(owed.size(), 2u);
  EXPECT_TRUE(owed[1].removal.has_value());
  EXPECT_EQ(writes_->Delete("Patient", "p1").kind, PutOutcome::kUnchanged);
  EXPECT_THAT(writes_->Delete("Patient", "nobody").status, StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(RecordWritesTest, ConditionalCreateFindsOneCreatesNoneAndRefusesMany) {
  WriteResult first = writes_->Create("Patient", kJane, "identifier=MRN-7");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.kind, PutOutcome::kCreated);
  WriteResult found = writes_->Create("Patient", kJane, "identifier=MRN-7");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.kind, PutOutcome::kUnchanged);
  EXPECT_EQ(found.record.resource_id(), first.record.resource_id());
  ASSERT_TRUE(writes_->Create("Patient", kJane).ok());  // a second MRN-7, unconditionally
  EXPECT_THAT(writes_->Create("Patient", kJane, "identifier=MRN-7").status,
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("matches 2")));
  EXPECT_THAT(writes_->Create("Patient", kJane, "name=x").status,
              StatusIs(absl::StatusCode::kInvalidArgument));
}

std::string Bundle(const std::string& type, const std::string& entries) {
  return absl::StrCat(R"({"resourceType":"Bundle","type":")", type, R"(","entry":[)", entries,
                      "]}");
}

TEST_F(RecordWritesTest, ATransactionRewritesItsReferencesAndLabelsFlowBetweenEntries) {
  BundleResult r = writes_->Bundle(
      Bundle(
          "transaction",
          R"({"fullUrl":"urn:uuid:1b4f","resource":{"resourceType":"Patient","name":[{"family":"Oyelaran"}]},"request":{"method":"POST","url":"Patient"}},)"
          R"({"fullUrl":"urn:uuid:2c5e","resource":{"resourceType":"Condition","subject":{"reference":"urn:uuid:1b4f"},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"F10.20"}]}},"request":{"method":"POST","url":"Condition"}},)"
          R"({"resource":{"resourceType":"MedicationRequest","id":"mr1","status":"active","intent":"order","subject":{"reference":"urn:uuid:1b4f"},"medicationCodeableConcept":{"text":"x"},"reasonReference":[{"reference":"urn:uuid:2c5e"}]},"request":{"method":"PUT","url":"MedicationRequest/mr1"}})"),
      AllowAll);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.transaction);
  ASSERT_EQ(r.entries.size(), 3u);
  const std::string patient = r.entries[0].write.record.resource_id();
  const std::string condition = r.entries[1].write.record.resource_id();
  EXPECT_EQ(r.entries[0].write.kind, PutOutcome::kCreated);
  EXPECT_EQ(r.entries[2].write.record.resource_id(), "mr1");
  ASSERT_OK_AND_ASSIGN(hie::v1::RecordEnvelope mr, store_->Get("MedicationRequest", "mr1"));
  EXPECT_EQ(mr.patient_local_id(), patient);
  EXPECT_THAT(mr.fhir_json(), HasSubstr(absl::StrCat("\"reference\":\"Patient/", patient, "\"")));
  EXPECT_THAT(mr.fhir_json(),
              HasSubstr(absl::StrCat("\"reference\":\"Condition/", condition, "\"")));
  EXPECT_THAT(mr.fhir_json(), ::testing::Not(HasSubstr("urn:uuid")));
  EXPECT_THAT(mr.sensitivity(), ElementsAre("ETH", "R"));
  EXPECT_EQ(Owed(), 1);
  EXPECT_EQ(notified_, 1);
}

TEST_F(RecordWritesTest, ATransactionWritesNothingWhenOneEntryFails) {
  ASSERT_TRUE(writes_->Update("Patient", "p1", R"({"resourceType":"Patient","id":"p1"})").ok());
  // A stale If-Match on the second entry: the first is not written either.
  BundleResult stale = writes_->Bundle(
      Bundle(
          "transaction",
          R"({"resource":{"resourceType":"Patient","id":"p2"},"request":{"method":"PUT","url":"Patient/p2"}},)"
          R"({"request":{"method":"DELETE","url":"Patient/p1","ifMatch":"W/\"3\""}})"),
      AllowAll);
  EXPECT_THAT(stale.status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(stale.failed_entry, 1);
  EXPECT_THAT(store_->Get("Patient", "p2"), StatusIs(absl::StatusCode::kNotFound));
  // An invalid resource: 422's problems name the entry as sent.
  BundleResult invalid = writes_->Bundle(
      Bundle(
          "transaction",
          R"({"request":{"method":"DELETE","url":"Patient/p1"}},)"
          R"({"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"},"issued":"yesterday"},"request":{"method":"POST","url":"Observation"}})"),
      AllowAll);
  EXPECT_THAT(invalid.status, StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_EQ(invalid.problems.size(), 1u);
  EXPECT_EQ(invalid.problems[0].path, "Bundle.entry[1].resource.issued");
  EXPECT_EQ(invalid.failed_entry, 1);
  ASSERT_OK_AND_ASSIGN(hie::v1::RecordEnvelope p1, store_->Get("Patient", "p1"));
  EXPECT_FALSE(p1.deleted());
  // A refused scope, two writes of one record, an unknown method.
  BundleResult refused = writes_->Bundle(
      Bundle("transaction", R"({"request":{"method":"DELETE","url":"Patient/p1"}})"),
      [](const std::string&, absl::string_view what) {
        return what == "delete" ? absl::PermissionDeniedError("no delete") : absl::OkStatus();
      });
  EXPECT_THAT(refused.status, StatusIs(absl::StatusCode::kPermissionDenied));
  BundleResult twice = writes_->Bundle(
      Bundle(
          "transaction",
          R"({"request":{"method":"DELETE","url":"Patient/p1"}},{"request":{"method":"DELETE","url":"Patient/p1"}})"),
      AllowAll);
  EXPECT_THAT(twice.status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("one entry per resource")));
  EXPECT_THAT(writes_->Bundle(Bundle("collection", ""), AllowAll).status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("transaction or batch")));
  EXPECT_THAT(writes_
                  ->Bundle(Bundle("batch", R"({"request":{"method":"PATCH","url":"Patient/p1"}})"),
                           AllowAll)
                  .entries[0]
                  .write.status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PATCH")));
}

TEST_F(RecordWritesTest, ABatchAnswersEachEntryOnItsOwn) {
  BundleResult r = writes_->Bundle(
      Bundle(
          "batch",
          R"({"resource":{"resourceType":"Patient","id":"p1"},"request":{"method":"PUT","url":"Patient/p1"}},)"
          R"({"request":{"method":"DELETE","url":"Patient/nobody"}},)"
          R"({"request":{"method":"GET","url":"Patient/p1"}})"),
      AllowAll);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_FALSE(r.transaction);
  ASSERT_EQ(r.entries.size(), 3u);
  EXPECT_TRUE(r.entries[0].write.ok());
  EXPECT_EQ(r.entries[0].write.kind, PutOutcome::kCreated);
  EXPECT_THAT(r.entries[1].write.status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(r.entries[2].write.ok());
  EXPECT_EQ(r.entries[2].write.record.version(), 1);
}

}  // namespace
}  // namespace hie::node
