// Fixtures for tests of the flow across parties: hie-mpi, hie-consent and a holder
// (org-b) with three records of one patient, and a requesting practice (org-a) that
// queries for her.
#ifndef HIE_TESTS_INTEGRATION_EXCHANGE_FIXTURE_H_
#define HIE_TESTS_INTEGRATION_EXCHANGE_FIXTURE_H_

#include <chrono>

#include "proto/hie/v1/consent.grpc.pb.h"
#include "proto/hie/v1/node.grpc.pb.h"
#include "tests/integration/daemon_fixture.h"

namespace hie::testing {

class ExchangeTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    int mpi = StartDaemon("mpi");
    ASSERT_GT(mpi, 0);
    mpi_address_ = absl::StrCat("127.0.0.1:", mpi);
    int consent = StartDaemon("consent", ConsentExtraConfig());
    ASSERT_GT(consent, 0);
    consent_address_ = absl::StrCat("127.0.0.1:", consent);
    consent_port_ = consent;
    holder_port_ = StartDaemon("node-b");
    ASSERT_GT(holder_port_, 0);
    Enroll(mpi, "org-a");
    Enroll(mpi, "org-b", HolderEndpoint(holder_port_));
    hie::v1::RegisterPatientResponse registered;
    ASSERT_TRUE(Register(MpiAs("node-a", mpi).get(), "A1", Jane(), &registered).ok());
    ASSERT_TRUE(Register(MpiAs("node-b", mpi).get(), "B1", Jane(), &registered).ok());
    // The holder's records: the patient, a substance-use condition, an observation.
    std::string bundle = Path("b1.json");
    std::ofstream(bundle) << R"({"resourceType":"Bundle","type":"transaction","entry":[
      {"fullUrl":"urn:uuid:B1","resource":{"resourceType":"Patient","id":"B1"},"request":{"method":"POST","url":"Patient"}},
      {"fullUrl":"urn:uuid:c1","resource":{"resourceType":"Condition","id":"c1","subject":{"reference":"urn:uuid:B1"},
        "code":{"coding":[{"system":"http://snomed.info/sct","code":"7200002"}]}},"request":{"method":"POST","url":"Condition"}},
      {"fullUrl":"urn:uuid:o1","resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"BP"},
        "subject":{"reference":"urn:uuid:B1"}},"request":{"method":"POST","url":"Observation"}}]})";
    CommandResult imported = HiectlAs("node-b", holder_port_, {"import", bundle});
    ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  }

  // More of the consent service's config (a policy, grant validity), for a test to set.
  virtual std::string ConsentExtraConfig() { return ""; }

  // The address org-b is enrolled with; a test may put a proxy in front of the holder.
  virtual std::string HolderEndpoint(int holder_port) {
    return absl::StrCat("127.0.0.1:", holder_port);
  }

  hie::v1::SignedGrant Grant() {
    auto consent = hie::v1::ConsentService::NewStub(ChannelAs("node-a", consent_port_));
    grpc::ClientContext context;
    hie::v1::AuthorizeRequest request;
    request.set_local_patient_id("A1");
    request.set_purpose("TREAT");
    request.mutable_user()->set_user_id("dr.lee");
    request.set_query_id("q-42");
    hie::v1::AuthorizeResponse response;
    grpc::Status s = consent->Authorize(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(response.has_grant()) << response.denial().reason();
    return response.grant();
  }

  // Fetches from the holder as `who`; returns the status and what arrived.
  grpc::Status Fetch(const std::string& who, const hie::v1::SignedGrant& grant,
                     std::vector<hie::v1::RecordEnvelope>* records,
                     hie::v1::FetchSummary* summary) {
    auto peer = hie::v1::PeerRecords::NewStub(ChannelAs(who, holder_port_));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    hie::v1::FetchRecordsRequest request;
    *request.mutable_grant() = grant;
    auto reader = peer->FetchRecords(&context, request);
    hie::v1::FetchRecordsResponse message;
    while (reader->Read(&message)) {
      if (message.has_record()) records->push_back(message.record());
      if (message.has_summary()) *summary = message.summary();
    }
    return reader->Finish();
  }

  int consent_port_ = 0;
  int holder_port_ = 0;
};

struct QueryOutcome {
  grpc::Status status;
  std::vector<hie::v1::HolderStatus> holders;
  hie::v1::QueryResult result;
  // The Bundle's pieces, joined.
  std::string bundle_json;
  absl::Duration elapsed;
};

class FederatedQueryTest : public ExchangeTest {
 protected:
  void SetUp() override {
    ExchangeTest::SetUp();
    requester_port_ = StartDaemon("node");
    ASSERT_GT(requester_port_, 0);
    std::string own = Path("a1.json");
    std::ofstream(own) << R"({"resourceType":"Bundle","type":"batch","entry":[
      {"resource":{"resourceType":"Patient","id":"A1"},"request":{"method":"PUT","url":"Patient/A1"}},
      {"resource":{"resourceType":"Observation","id":"a-o1","status":"final","code":{"text":"HR"},
        "subject":{"reference":"Patient/A1"}},"request":{"method":"PUT","url":"Observation/a-o1"}}]})";
    CommandResult imported = HiectlAs("node-a", requester_port_, {"import", own});
    ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  }

  QueryOutcome Query(const std::string& purpose, int timeout_ms = 3000) {
    auto stub = hie::v1::FederatedQuery::NewStub(ChannelAs("node-a", requester_port_));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    hie::v1::QueryRequest request;
    request.set_local_patient_id("A1");
    request.set_purpose(purpose);
    request.mutable_user()->set_user_id("dr.lee");
    request.set_holder_timeout_ms(timeout_ms);
    QueryOutcome out;
    absl::Time start = absl::Now();
    auto reader = stub->Query(&context, request);
    hie::v1::QueryEvent event;
    while (reader->Read(&event)) {
      if (event.has_holder()) out.holders.push_back(event.holder());
      if (event.has_bundle()) out.bundle_json += event.bundle().data();
      if (event.has_result()) out.result = event.result();
    }
    out.status = reader->Finish();
    out.elapsed = absl::Now() - start;
    return out;
  }

  int requester_port_ = 0;
};

}  // namespace hie::testing

#endif  // HIE_TESTS_INTEGRATION_EXCHANGE_FIXTURE_H_
