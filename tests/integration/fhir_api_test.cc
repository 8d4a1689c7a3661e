// The node's FHIR R4 REST API on a real hie-node with real certificates: discovery,
// the SMART Backend Services token flow done by hiectl as a practice would, reads of the
// practice's records, and every refusal (no token, a forged one, a narrow scope, a
// revoked client, an unknown type or id, a format it does not speak).
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/https_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/integration/fhir_fixture.h"

namespace hie::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class FhirApiTest : public FhirApiFixture {};

TEST_F(FhirApiTest, DiscoveryTokenAndReadsOfThePracticesRecords) {
  int port = StartNodeWithApi();
  ASSERT_GT(port, 0);
  std::string bundle = Path("patient.json");
  std::ofstream(bundle)
      << R"({"resourceType":"Patient","id":"p-1","name":[{"family":"Oyelaran","given":["Jane"]}],"birthDate":"1984-06-02"})";
  ASSERT_EQ(HiectlAs("node-a", port, {"import", bundle}).exit_code, 0);
  std::ofstream(bundle)
      << R"({"resourceType":"Patient","id":"p-1","name":[{"family":"Oyelaran","given":["Jane","Marie"]}],"birthDate":"1984-06-02"})";
  ASSERT_EQ(HiectlAs("node-a", port, {"import", bundle}).exit_code, 0);

  // Discovery needs no credentials.
  cli::HttpsResponse metadata = Get("/metadata");
  EXPECT_EQ(metadata.status, 200);
  EXPECT_THAT(metadata.content_type, HasSubstr("application/fhir+json"));
  EXPECT_THAT(metadata.body,
              AllOf(HasSubstr("\"resourceType\": \"CapabilityStatement\""),
                    HasSubstr("\"fhirVersion\": \"4.0.1\""), HasSubstr("SMART-on-FHIR")));
  cli::HttpsResponse smart = Get("/.well-known/smart-configuration");
  EXPECT_EQ(smart.status, 200);
  EXPECT_THAT(smart.body, AllOf(HasSubstr(base_ + "/auth/token"), HasSubstr("private_key_jwt"),
                                HasSubstr("ES384")));

  // No token: 401 with an OperationOutcome and a challenge.
  cli::HttpsResponse anonymous = Get("/Patient/p-1");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_THAT(anonymous.body, HasSubstr("OperationOutcome"));

  std::string client = AddClient(port, "emr", "system/*.read");
  ASSERT_FALSE(client.empty());
  CommandResult token = Token(client, "emr", {"--user", "dr-ana", "--purpose", "TREAT"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  std::string bearer = Trim(token.out);
  ASSERT_FALSE(bearer.empty());

  cli::HttpsResponse read = Get("/Patient/p-1", bearer);
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_THAT(read.body, AllOf(HasSubstr("\"id\":\"p-1\""), HasSubstr("Marie")));
  cli::HttpsResponse v1 = Get("/Patient/p-1/_history/1", bearer);
  EXPECT_EQ(v1.status, 200);
  EXPECT_THAT(v1.body, Not(HasSubstr("Marie")));
  cli::HttpsResponse history = Get("/Patient/p-1/_history", bearer);
  EXPECT_EQ(history.status, 200);
  EXPECT_THAT(history.body, AllOf(HasSubstr("\"type\": \"history\""), HasSubstr("\"total\": 2")));

  // Unknown id, version, type; a format it does not speak.
  EXPECT_EQ(Get("/Patient/nobody", bearer).status, 404);
  EXPECT_EQ(Get("/Patient/p-1/_history/9", bearer).status, 404);
  cli::HttpsResponse bad_type = Get("/Patient2/p-1", bearer);
  EXPECT_EQ(bad_type.status, 404);
  EXPECT_THAT(bad_type.body, HasSubstr("unknown resource type"));
  EXPECT_EQ(Get("/Patient/p-1?_format=xml", bearer).status, 406);

  // A forged token.
  EXPECT_EQ(Get("/Patient/p-1", bearer + "x").status, 401);
}

TEST_F(FhirApiTest, ScopesRevocationAndBadAssertionsAreRefused) {
  int port = StartNodeWithApi();
  ASSERT_GT(port, 0);
  std::string file = Path("patient.json");
  std::ofstream(file) << R"({"resourceType":"Patient","id":"p-1","birthDate":"1984-06-02"})";
  ASSERT_EQ(HiectlAs("node-a", port, {"import", file}).exit_code, 0);

  // A client allowed Observations only reads no Patient.
  std::string narrow = AddClient(port, "labs", "system/Observation.read");
  CommandResult token =
      Token(narrow, "labs",
            {"--user", "lab-1", "--purpose", "TREAT", "--scope", "system/Observation.read"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  EXPECT_EQ(Get("/Patient/p-1", Trim(token.out)).status, 403);

  // An emergency purpose without a reason is refused at the token endpoint.
  std::string client = AddClient(port, "emr", "system/*.read");
  CommandResult emergency = Token(client, "emr", {"--user", "dr-b", "--purpose", "ETREAT"});
  EXPECT_NE(emergency.exit_code, 0);
  EXPECT_THAT(emergency.err, HasSubstr("invalid_request"));

  // Another practice's certificate may not register clients on org-a's node.
  MakeKey("intruder");
  CommandResult intruder = HiectlAs("node-b", port,
                                    {"fhir", "client", "add", "--name", "x", "--public-key",
                                     Path("intruder.pub.pem"), "--scope", "system/*.read"});
  EXPECT_NE(intruder.exit_code, 0);
  EXPECT_THAT(intruder.err, HasSubstr("may not manage its clients"));

  // Revoked: its token stops working, and it gets no new one.
  token = Token(client, "emr", {"--user", "dr-b", "--purpose", "TREAT"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  std::string bearer = Trim(token.out);
  EXPECT_EQ(Get("/Patient/p-1", bearer).status, 200);
  CommandResult revoke =
      HiectlAs("node-a", port, {"fhir", "client", "revoke", "--client-id", client});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  EXPECT_EQ(Get("/Patient/p-1", bearer).status, 401);
  CommandResult again = Token(client, "emr", {"--user", "dr-b", "--purpose", "TREAT"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.err, HasSubstr("invalid_client"));

  // A key that is not the registered one.
  MakeKey("other");
  fs::copy_file(Path("other.key.pem"), Path("labs.key.pem"), fs::copy_options::overwrite_existing);
  CommandResult forged =
      Token(narrow, "labs",
            {"--user", "lab-1", "--purpose", "TREAT", "--scope", "system/Observation.read"});
  EXPECT_NE(forged.exit_code, 0);
  EXPECT_THAT(forged.err, HasSubstr("invalid_client"));
}

// $everything runs the same federated query as hiectl query: the token's user and
// purpose, this practice's records and org-b's, each entry tagged with its source; a
// holder that is down is an OperationOutcome entry, not a failure of the whole answer.
TEST_F(FhirApiTest, EverythingGathersEveryHolderAndNamesTheOneThatIsDown) {
  int mpi = StartMpiAndConsent();
  ASSERT_GT(mpi, 0);
  int holder = StartDaemon("node-b");
  ASSERT_GT(holder, 0);
  Enroll(mpi, "org-a");
  Enroll(mpi, "org-b", absl::StrCat("127.0.0.1:", holder));
  hie::v1::RegisterPatientResponse registered;
  ASSERT_TRUE(Register(MpiAs("node-a", mpi).get(), "A1", Jane(), &registered).ok());
  ASSERT_TRUE(Register(MpiAs("node-b", mpi).get(), "B1", Jane(), &registered).ok());
  std::string b = Path("b1.json");
  std::ofstream(b) << R"({"resourceType":"Bundle","type":"batch","entry":[
    {"resource":{"resourceType":"Patient","id":"B1"},"request":{"method":"PUT","url":"Patient/B1"}},
    {"resource":{"resourceType":"Observation","id":"b-o1","status":"final","code":{"text":"BP"},
      "subject":{"reference":"Patient/B1"}},"request":{"method":"PUT","url":"Observation/b-o1"}}]})";
  ASSERT_EQ(HiectlAs("node-b", holder, {"import", b}).exit_code, 0);

  int port = StartNodeWithApi();
  ASSERT_GT(port, 0);
  std::string a = Path("a1.json");
  std::ofstream(a) << R"({"resourceType":"Bundle","type":"batch","entry":[
    {"resource":{"resourceType":"Patient","id":"A1"},"request":{"method":"PUT","url":"Patient/A1"}},
    {"resource":{"resourceType":"Observation","id":"a-o1","status":"final","code":{"text":"HR"},
      "subject":{"reference":"Patient/A1"}},"request":{"method":"PUT","url":"Observation/a-o1"}}]})";
  ASSERT_EQ(HiectlAs("node-a", port, {"import", a}).exit_code, 0);

  std::string client = AddClient(port, "emr", "system/*.read");
  CommandResult token = Token(client, "emr", {"--user", "dr-lee", "--purpose", "TREAT"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  std::string bearer = Trim(token.out);

  cli::HttpsResponse all = Get("/Patient/A1/$everything", bearer);
  EXPECT_EQ(all.status, 200) << all.body;
  EXPECT_THAT(all.body, AllOf(HasSubstr("\"resourceType\": \"Bundle\""), HasSubstr("a-o1"),
                              HasSubstr("b-o1"), HasSubstr("org-b"), HasSubstr("org-a")));
  // Every holder answered: the only outcome says what consent withheld.
  EXPECT_THAT(all.body, AllOf(Not(HasSubstr("holder org-")), HasSubstr("\"suppressed\"")));

  // A system token without a user reads the practice's records, but runs no federated
  // read; nor does one whose scopes do not read every type.
  CommandResult bare = Token(client, "emr", {});
  ASSERT_EQ(bare.exit_code, 0) << bare.err;
  EXPECT_EQ(Get("/Patient/A1", Trim(bare.out)).status, 200);
  cli::HttpsResponse no_user = Get("/Patient/A1/$everything", Trim(bare.out));
  EXPECT_EQ(no_user.status, 403);
  EXPECT_THAT(no_user.body, HasSubstr("purpose of use"));
  std::string patients_only = AddClient(port, "patients", "system/Patient.read");
  CommandResult narrow =
      Token(patients_only, "patients",
            {"--user", "dr-lee", "--purpose", "TREAT", "--scope", "system/Patient.read"});
  ASSERT_EQ(narrow.exit_code, 0) << narrow.err;
  EXPECT_EQ(Get("/Patient/A1/$everything", Trim(narrow.out)).status, 403);
  EXPECT_EQ(Get("/Patient/A1/$everything?_type=Patient", Trim(narrow.out)).status, 200);

  // org-b goes down: org-a's own records still come, and org-b is named.
  ASSERT_TRUE(processes_.at("node-b").Stop(SIGTERM, absl::Seconds(10)).ok());
  cli::HttpsResponse partial = Get("/Patient/A1/$everything", bearer);
  EXPECT_EQ(partial.status, 200) << partial.body;
  EXPECT_THAT(partial.body, AllOf(HasSubstr("a-o1"), Not(HasSubstr("b-o1")),
                                  HasSubstr("OperationOutcome"), HasSubstr("holder org-b")));

  // The practice's own certificate reads its audit as AuditEvents (a token cannot);
  // another practice's certificate cannot.
  auto audit_events = [&](const std::string& who) {
    auto r = cli::HttpsRequest("GET", base_ + "/AuditEvent?patient=A1", Path("ca/ca.crt"), "", "",
                               absl::Seconds(10), {}, Path("certs/" + who + ".crt"),
                               Path("certs/" + who + ".key"));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : cli::HttpsResponse{};
  };
  cli::HttpsResponse events = audit_events("node-a");
  EXPECT_EQ(events.status, 200) << events.body;
  EXPECT_THAT(events.body, AllOf(HasSubstr("AuditEvent"), HasSubstr("dr-lee")));
  EXPECT_EQ(audit_events("node-b").status, 403);
  EXPECT_EQ(Get("/AuditEvent?patient=A1", bearer).status, 403);

  // The query is in org-a's audit chain as a gRPC query is: by the token's user.
  CommandResult audit = HiectlAs(
      "node-a", port, {"audit", "disclosures", "--org", "org-a", "--patient", "A1", "--json"});
  EXPECT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("dr-lee"));
}

// A token is good at the node that issued it only: org-b's node's token is refused at
// org-a's, though both nodes are of one exchange and its client is registered there.
TEST_F(FhirApiTest, AnotherPracticesTokenIsRefused) {
  int port = StartNodeWithApi();
  ASSERT_GT(port, 0);
  std::string a_base = base_;
  std::filesystem::remove(Path("fhir-b.port"));
  int b_port = StartDaemon("node-b", absl::StrCat("fhir_api { listen_address: \"127.0.0.1:0\" "
                                                  "port_file: \"",
                                                  Path("fhir-b.port"), "\" }\n"));
  ASSERT_GT(b_port, 0);
  auto b_fhir = WaitForPortFile(Path("fhir-b.port"), absl::Seconds(30));
  ASSERT_TRUE(b_fhir.ok()) << b_fhir.status();
  std::string file = Path("patient.json");
  std::ofstream(file) << R"({"resourceType":"Patient","id":"p-1"})";
  ASSERT_EQ(HiectlAs("node-a", port, {"import", file}).exit_code, 0);

  // A client of org-b's node, and its token from org-b's token endpoint.
  MakeKey("b-emr");
  CommandResult added = HiectlAs("node-b", b_port,
                                 {"fhir", "client", "add", "--name", "b-emr", "--public-key",
                                  Path("b-emr.pub.pem"), "--scope", "system/*.read", "--json"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  simdjson::dom::parser parser;
  std::string_view b_client;
  ASSERT_FALSE(parser.parse(added.out)["client_id"].get_string().get(b_client));
  base_ = absl::StrCat("https://127.0.0.1:", *b_fhir);
  CommandResult b_token = Token(std::string(b_client), "b-emr");
  ASSERT_EQ(b_token.exit_code, 0) << b_token.err;
  EXPECT_EQ(Get("/Patient/p-1", Trim(b_token.out)).status, 404);  // valid at org-b

  base_ = a_base;
  cli::HttpsResponse refused = Get("/Patient/p-1", Trim(b_token.out));
  EXPECT_EQ(refused.status, 401);
  EXPECT_THAT(refused.body, HasSubstr("OperationOutcome"));
  // Nor does org-b's client get a token at org-a's endpoint.
  CommandResult at_a = Token(std::string(b_client), "b-emr");
  EXPECT_NE(at_a.exit_code, 0);
  EXPECT_THAT(at_a.err, HasSubstr("invalid_client"));
}

// An access token stops working when it expires (the shortest lifetime the node allows,
// 60 seconds).
TEST_F(FhirApiTest, AnExpiredTokenIsRefused) {
  std::filesystem::remove(Path("fhir.port"));
  int port =
      StartDaemon("node", absl::StrCat("fhir_api { listen_address: \"127.0.0.1:0\" "
                                       "port_file: \"",
                                       Path("fhir.port"), "\" token_lifetime_seconds: 60 }\n"));
  ASSERT_GT(port, 0);
  auto fhir_port = WaitForPortFile(Path("fhir.port"), absl::Seconds(30));
  ASSERT_TRUE(fhir_port.ok());
  base_ = absl::StrCat("https://127.0.0.1:", *fhir_port);
  std::string file = Path("patient.json");
  std::ofstream(file) << R"({"resourceType":"Patient","id":"p-1"})";
  ASSERT_EQ(HiectlAs("node-a", port, {"import", file}).exit_code, 0);
  std::string client = AddClient(port, "emr", "system/*.read");
  CommandResult token = Token(client, "emr");
  ASSERT_EQ(token.exit_code, 0) << token.err;
  std::string bearer = Trim(token.out);
  EXPECT_EQ(Get("/Patient/p-1", bearer).status, 200);
  absl::SleepFor(absl::Seconds(61));
  cli::HttpsResponse expired = Get("/Patient/p-1", bearer);
  EXPECT_EQ(expired.status, 401);
  EXPECT_THAT(expired.body, HasSubstr("expired"));
}

}  // namespace
}  // namespace hie::testing
