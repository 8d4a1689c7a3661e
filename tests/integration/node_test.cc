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
  std::string outcome = Path("outcome.json");
  CommandResult result =
      HiectlAs("node-a", port, {"import", bundle, ndjson, "--json", "--outcome", outcome});
  EXPECT_EQ(result.exit_code, 1) << result.err;  // one rejection
  EXPECT_THAT(result.out, HasSubstr("\"accepted\": 3"));
  EXPECT_THAT(result.out, HasSubstr("\"rejected\": 1"));
  EXPECT_THAT(result.out, HasSubstr("\"path\": \"Observation.effectiveDateTime\""));
  EXPECT_THAT(result.out, HasSubstr("\"source\": \"export.ndjson\", \"position\": 2"));
  std::string operation_outcome = ReadWholeFile(outcome);
  EXPECT_THAT(operation_outcome, HasSubstr("\"resourceType\": \"OperationOutcome\""));
  EXPECT_THAT(operation_outcome, HasSubstr("\"expression\": [\"Observation.effectiveDateTime\"]"));
  EXPECT_THAT(operation_outcome, HasSubstr("\"location\": [\"export.ndjson #2\"]"));

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
  // Substance use, and restricted (a sensitive category implies R).
  EXPECT_THAT(record.sensitivity(), ::testing::ElementsAre("ETH", "R"));
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

// Patients reach the MPI through the node's outbox; the MPI being down delays
// registration and loses nothing.
TEST_F(NodeDaemonTest, PatientsReachTheMpiThroughTheOutboxEvenAcrossAnOutage) {
  int mpi = StartDaemon("mpi");
  ASSERT_GT(mpi, 0);
  mpi_address_ = absl::StrCat("127.0.0.1:", mpi);
  Enroll(mpi, "org-a");
  int node = StartDaemon("node");
  ASSERT_GT(node, 0);
  auto patient_file = [&](const std::string& id, const std::string& given) {
    std::string path = Path(id + ".json");
    std::ofstream(path) << R"({"resourceType":"Patient","id":")" << id
                        << R"(","name":[{"family":"Oyelaran","given":[")" << given
                        << R"("]}],"gender":"female","birthDate":"1984-06-02"})";
    return path;
  };
  auto known_at_mpi = [&](const std::string& local, absl::Duration limit) {
    absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline) {
      hie::v1::CrossReference xref;
      if (Xref(MpiAs("operator", mpi).get(), "org-a", local, &xref).ok()) return true;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return false;
  };
  CommandResult first = HiectlAs("node-a", node, {"import", patient_file("A1", "Jane")});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(known_at_mpi("A1", absl::Seconds(15)));

  // The MPI goes down; a new patient is accepted and owed; the MPI comes back on the
  // same data and the registration arrives.
  ASSERT_TRUE(processes_.at("mpi").Stop(SIGTERM, absl::Seconds(10)).ok());
  processes_.erase("mpi");
  CommandResult second = HiectlAs("node-a", node, {"import", patient_file("A2", "Joan"), "--json"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  absl::SleepFor(absl::Seconds(1));
  // Same data directory; a fixed port so the node's channel finds it again.
  std::string fixed = ConfigText("mpi");
  fixed.replace(fixed.find("127.0.0.1:0"), 11, mpi_address_);
  std::string config = WriteConfig("mpi", fixed);
  fs::remove(Path("mpi.port"));
  auto restarted = ChildProcess::Start({BinDir() + "/hie-mpi", "--config", config}, Log("mpi"));
  ASSERT_TRUE(restarted.ok());
  processes_.emplace("mpi", std::move(*restarted));
  ASSERT_TRUE(WaitForPortFile(Path("mpi.port"), absl::Seconds(30)).ok());
  EXPECT_TRUE(known_at_mpi("A2", absl::Seconds(45))) << ReadWholeFile(Log("node"));
}

}  // namespace
}  // namespace hie::testing
