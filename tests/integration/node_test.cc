// hie-node's ingest over mutual TLS: hiectl import of FHIR Bundles and NDJSON, the
// summary it prints, and who may feed a node.
#include "proto/hie/v1/node.grpc.pb.h"
#include "tests/integration/daemon_fixture.h"

namespace hie::testing {
namespace {

using ::testing::HasSubstr;

class NodeDaemonTest : public DaemonFixture {};

TEST_F(NodeDaemonTest, ImportStoresBundlesAndNdjsonAndReportsEachRejection) {
  int port = StartDaemon("node");
  ASSERT_GT(port, 0);
  std::string bundle = Path("bundle.json");
  std::ofstream(bundle) << R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:p-1","resource":{"resourceType":"Patient","id":"p-1","birthDate":"1984-06-02"},
     "request":{"method":"POST","url":"Patient"}},
    {"fullUrl":"urn:uuid:c-1","resource":{"resourceType":"Condition","id":"c-1",
      "subject":{"reference":"urn:uuid:p-1"},
      "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"F10.20"}]}},
     "request":{"method":"POST","url":"Condition"}}]})";
  std::string ndjson = Path("export.ndjson");
  std::ofstream(ndjson)
      << R"({"resourceType":"Observation","id":"o-1","status":"final","code":{},"subject":{"reference":"Patient/p-1"},"effectiveDateTime":"2020-01-01"})"
      << "\n"
      << R"({"resourceType":"Observation","id":"o-2","status":"final","code":{},"subject":{"reference":"Patient/p-1"},"effectiveDateTime":"2020-13-01"})"
      << "\n";
  CommandResult result = HiectlAs("node-a", port, {"import", bundle, ndjson, "--json"});
  EXPECT_EQ(result.exit_code, 1) << result.err;  // one rejection
  EXPECT_THAT(result.out, HasSubstr("\"accepted\": 3"));
  EXPECT_THAT(result.out, HasSubstr("\"rejected\": 1"));
  EXPECT_THAT(result.out, HasSubstr("\"path\": \"Observation.effectiveDateTime\""));
  EXPECT_THAT(result.out, HasSubstr("\"source\": \"export.ndjson\", \"position\": 2"));

  // Sent again: accepted, unchanged.
  result = HiectlAs("node-a", port, {"import", bundle});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("accepted 2 (2 unchanged), rejected 0"));

  // The record as stored, with its label.
  auto ingest = hie::v1::Ingest::NewStub(ChannelAs("node-a", port));
  grpc::ClientContext context;
  hie::v1::GetRecordRequest request;
  request.set_resource_type("Condition");
  request.set_resource_id("c-1");
  hie::v1::RecordEnvelope record;
  ASSERT_TRUE(ingest->GetRecord(&context, request, &record).ok());
  EXPECT_EQ(record.patient_local_id(), "p-1");
  ASSERT_EQ(record.sensitivity_size(), 1);
  EXPECT_EQ(record.sensitivity(0), "ETH");
  EXPECT_EQ(record.version(), 1);

  // Another practice may not feed or read this node's store.
  result = HiectlAs("node-b", port, {"import", bundle});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("may not use its ingest"));
}

TEST_F(NodeDaemonTest, SyntheaBundlesImportWithZeroRejections) {
  fs::path synthea = fs::path(std::getenv("HIE_SOURCE_DIR") ? std::getenv("HIE_SOURCE_DIR")
                                                            : HIE_TEST_SOURCE_DIR) /
                     "../shared/data/fhir/synthea";
  if (!fs::exists(synthea)) GTEST_SKIP() << "shared Synthea data not present";
  int port = StartDaemon("node");
  ASSERT_GT(port, 0);
  std::vector<std::string> args = {"import", "--json"};
  for (const auto& e : fs::directory_iterator(synthea)) {
    if (e.path().extension() == ".json") args.push_back(e.path().string());
  }
  CommandResult result = HiectlAs("node-a", port, args);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_THAT(result.out, HasSubstr("\"accepted\": 13488"));
  EXPECT_THAT(result.out, HasSubstr("\"rejected\": 0"));
}

}  // namespace
}  // namespace hie::testing
