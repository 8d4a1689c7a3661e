// hiectl devnet: a whole exchange from one command, used as a user would.
#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/daemon_process.h"

namespace hie::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(DevnetTest, UpImportQueryDown) {
  fs::path dir = fs::temp_directory_path() / ("hie-devnet-test-" + std::to_string(getpid()));
  fs::remove_all(dir);
  std::string hiectl = BinDir() + "/hiectl";
  CommandResult up = RunCommand({hiectl, "devnet", "up", "--dir", dir.string(), "--nodes", "2"});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  std::string devnet = ReadWholeFile((dir / "devnet.json").string());
  for (const char* field :
       {"\"ca_dir\"", "\"ca_cert\"", "\"services\"", "\"credentials\"", "\"operator\"", "\"org-a\"",
        "\"org-b\"", "\"pid\"", "\"address\"", "\"fhir_base\"", "\"fhir_client_id\""}) {
    EXPECT_THAT(devnet, HasSubstr(field));
  }
  // Every service listens below the kernel's ephemeral range, where no outgoing
  // connection can take its port between devnet choosing it and the service binding it.
  int ephemeral_from = 32768, ephemeral_to = 0;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_from >> ephemeral_to;
  if (ephemeral_from - 10000 >= 1000) {
    int ports = 0;
    for (size_t at = devnet.find("127.0.0.1:"); at != std::string::npos;
         at = devnet.find("127.0.0.1:", at + 1)) {
      int port = std::atoi(devnet.c_str() + at + std::strlen("127.0.0.1:"));
      EXPECT_GE(port, 10000);
      EXPECT_LT(port, ephemeral_from);
      ++ports;
    }
    EXPECT_GE(ports, 4);  // the MPI, the consent service and two nodes
  }
  CommandResult status = RunCommand({hiectl, "devnet", "status", "--dir", dir.string(), "--json"});
  EXPECT_EQ(status.exit_code, 0) << status.out;
  EXPECT_THAT(status.out, HasSubstr("\"healthy\": true"));
  // A second up on a running devnet is refused.
  EXPECT_EQ(RunCommand({hiectl, "devnet", "up", "--dir", dir.string()}).exit_code, 1);

  // One patient at both practices, queried from org-a with its profile.
  for (const auto& [org, id] :
       std::vector<std::pair<std::string, std::string>>{{"org-a", "A1"}, {"org-b", "B7"}}) {
    std::string file = (dir / (org + ".json")).string();
    std::ofstream(file)
        << R"({"resourceType":"Bundle","type":"transaction","entry":[
      {"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":")"
        << id
        << R"(","name":[{"family":"Oyelaran","given":["Jane"]}],"gender":"female","birthDate":"1984-06-02",
        "telecom":[{"system":"phone","value":"217-555-0143"}],"address":[{"line":["12 Main Street"],"postalCode":"62701"}]},
        "request":{"method":"PUT","url":"Patient"}},
      {"fullUrl":"urn:uuid:o","resource":{"resourceType":"Observation","id":")"
        << id
        << R"(-o","status":"final","code":{"text":"weight"},"subject":{"reference":"urn:uuid:p"}},
        "request":{"method":"PUT","url":"Observation"}}]})";
    CommandResult imported = RunCommand(
        {hiectl, "import", file, "--profile", (dir / "profiles" / (org + ".profile")).string()});
    ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  }
  std::string out;
  for (int attempt = 0; attempt < 50; ++attempt) {  // the outboxes deliver within seconds
    CommandResult q =
        RunCommand({hiectl, "query", "--patient", "A1", "--purpose", "TREAT", "--json", "--profile",
                    (dir / "profiles/org-a.profile").string()});
    out = q.out;
    if (q.exit_code == 0 && out.find("\"org\": \"org-b\"") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_THAT(
      out, HasSubstr("\"org\": \"org-b\", \"local\": false, \"status\": \"ok\", \"records\": 2"));

  CommandResult down = RunCommand({hiectl, "devnet", "down", "--dir", dir.string()});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_THAT(down.out, HasSubstr("stopped node-b"));
  EXPECT_EQ(RunCommand({hiectl, "devnet", "status", "--dir", dir.string()}).exit_code, 3);
  fs::remove_all(dir);
}

// The README's first command, step by step: samples loaded, the three stories told.
TEST(DevnetTest, SamplePatientsTellTheirStories) {
  fs::path dir = fs::temp_directory_path() / ("hie-devnet-samples-" + std::to_string(getpid()));
  fs::remove_all(dir);
  std::string hiectl = BinDir() + "/hiectl";
  ASSERT_EQ(RunCommand({hiectl, "devnet", "up", "--dir", dir.string()}).exit_code, 0);
  CommandResult samples =
      RunCommand({hiectl, "devnet", "samples", "--dir", dir.string(), "--json"});
  ASSERT_EQ(samples.exit_code, 0) << samples.err;
  EXPECT_THAT(samples.out, HasSubstr("\"name\": \"Jane Oyelaran\""));
  EXPECT_THAT(samples.out, HasSubstr("\"linked\": 3"));
  fs::path synthea = fs::path(BinDir()) / "../../../shared/data/fhir/synthea";
  if (fs::exists(synthea)) {
    // Synthea patients spread over the three practices, each registration linked.
    EXPECT_THAT(samples.out, HasSubstr("a Synthea record spread over the practices"));
    EXPECT_THAT(samples.out, ::testing::Not(HasSubstr("\"linked\": 0")));
  }
  std::string profile = (dir / "profiles/org-a.profile").string();
  // The web app's demo accounts: a clinician, a front desk and an admin per practice, and
  // each sample patient at each practice that registered them, each with a password only
  // the devnet's owner can read.
  fs::path accounts = dir / "web-accounts.txt";
  ASSERT_TRUE(fs::exists(accounts));
  EXPECT_EQ(fs::status(accounts).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::ifstream in(accounts);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text,
              AllOf(HasSubstr("org-a  dr.lee  clinician"), HasSubstr("org-c  admin"),
                    HasSubstr("org-a  jane  patient"), HasSubstr("org-b  jane  patient"),
                    HasSubstr("org-b  marcus  patient"), HasSubstr("org-c  desk  front desk")));
  CommandResult users = RunCommand({hiectl, "user", "list", "--profile", profile, "--json"});
  EXPECT_EQ(users.exit_code, 0) << users.err;
  EXPECT_THAT(users.out, AllOf(HasSubstr("\"dr.lee\""), HasSubstr("\"GP-1001\"")));
  CommandResult jane = RunCommand({hiectl, "query", "--profile", profile, "--patient", "GP-1001",
                                   "--purpose", "TREAT", "--json"});
  EXPECT_EQ(jane.exit_code, 0) << jane.err;
  EXPECT_THAT(jane.out, HasSubstr("\"org\": \"org-c\", \"local\": false, \"status\": \"ok\""));
  EXPECT_THAT(jane.out, HasSubstr("\"duplicates_folded\": 1"));
  CommandResult marcus = RunCommand(
      {hiectl, "query", "--profile", profile, "--patient", "GP-1002", "--purpose", "TREAT"});
  EXPECT_EQ(marcus.exit_code, 1);
  EXPECT_THAT(marcus.err, HasSubstr("optout-marcus-brandt"));
  CommandResult luis = RunCommand({hiectl, "query", "--profile", profile, "--patient", "GP-1003",
                                   "--purpose", "TREAT", "--json"});
  EXPECT_EQ(luis.exit_code, 0) << luis.err;
  EXPECT_THAT(luis.out, HasSubstr("\"withheld\": 2"));
  EXPECT_THAT(luis.out, HasSubstr("\"withheld_categories\": [\"42CFRPart2\", \"ETH\"]"));
  // The load generator: concurrent clinicians for a bounded time, no errors.
  CommandResult load = RunCommand({hiectl, "devnet", "load", "--dir", dir.string(), "--clinicians",
                                   "4", "--seconds", "2", "--json"});
  EXPECT_EQ(load.exit_code, 0) << load.out << load.err;
  EXPECT_THAT(load.out, HasSubstr("\"errors\": 0"));
  EXPECT_EQ(RunCommand({hiectl, "devnet", "down", "--dir", dir.string()}).exit_code, 0);
  fs::remove_all(dir);
}

// What goes wrong, as a user meets it: the MPI restarted, a practice's node killed, a
// practice revoked; and the audit chains still verify.
TEST(DevnetTest, RestartsKillsAndRevocationsAsAUserMeetsThem) {
  fs::path dir = fs::temp_directory_path() / ("hie-devnet-faults-" + std::to_string(getpid()));
  fs::remove_all(dir);
  std::string hiectl = BinDir() + "/hiectl";
  std::string d = dir.string();
  ASSERT_EQ(RunCommand({hiectl, "devnet", "up", "--dir", d}).exit_code, 0);
  ASSERT_EQ(
      RunCommand({hiectl, "devnet", "samples", "--dir", d, "--synthea-patients", "0"}).exit_code,
      0);
  auto profile = [&](const std::string& name) {
    return (dir / "profiles" / (name + ".profile")).string();
  };
  auto query_jane = [&]() {
    return RunCommand({hiectl, "query", "--profile", profile("org-a"), "--patient", "GP-1001",
                       "--purpose", "TREAT", "--json", "--holder-timeout-ms", "1500"});
  };

  // The MPI restarted on the same data: every link is still there.
  CommandResult restarted = RunCommand({hiectl, "devnet", "restart", "--dir", d, "mpi"});
  ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
  CommandResult xref = RunCommand({hiectl, "mpi", "xref", "--profile", profile("operator-mpi"),
                                   "--patient", "org-a/GP-1001", "--json"});
  EXPECT_EQ(xref.exit_code, 0) << xref.err;
  EXPECT_THAT(xref.out, HasSubstr("H-88812"));
  EXPECT_THAT(xref.out, HasSubstr("SP-42"));
  CommandResult before = query_jane();
  EXPECT_EQ(before.exit_code, 0) << before.err;
  EXPECT_THAT(before.out, HasSubstr("\"org\": \"org-c\", \"local\": false, \"status\": \"ok\""));

  // The specialist's node killed: its results are missing, the rest arrive.
  std::string devnet = ReadWholeFile((dir / "devnet.json").string());
  size_t at = devnet.find("\"name\": \"node-c\"");
  ASSERT_NE(at, std::string::npos);
  size_t pid_at = devnet.find("\"pid\": ", at) + 7;
  pid_t node_c = static_cast<pid_t>(std::stol(devnet.substr(pid_at)));
  ASSERT_EQ(kill(node_c, SIGKILL), 0);
  CommandResult partial = query_jane();
  EXPECT_EQ(partial.exit_code, 0) << partial.err;
  EXPECT_THAT(partial.out, HasSubstr("\"org\": \"org-b\", \"local\": false, \"status\": \"ok\""));
  EXPECT_THAT(partial.out,
              ::testing::AnyOf(
                  HasSubstr("\"org\": \"org-c\", \"local\": false, \"status\": \"unreachable\""),
                  HasSubstr("\"org\": \"org-c\", \"local\": false, \"status\": \"timed out\"")));

  // The hospital revoked: its own certificate no longer opens any door.
  CommandResult revoked =
      RunCommand({hiectl, "ca", "revoke", "--dir", d + "/ca", "--cert", d + "/certs/node-b.crt"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  bool refused = false;
  for (int attempt = 0; attempt < 50 && !refused; ++attempt) {
    CommandResult q = RunCommand({hiectl, "query", "--profile", profile("org-b"), "--patient",
                                  "H-88812", "--purpose", "TREAT"});
    refused = q.exit_code != 0;
    if (!refused) absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(refused) << "a revoked practice's certificate was still accepted";

  // Every chain verifies.
  for (const char* who : {"operator-consent", "operator-node-a", "operator-mpi"}) {
    CommandResult verified = RunCommand({hiectl, "audit", "verify", "--profile", profile(who)});
    EXPECT_EQ(verified.exit_code, 0) << who << ": " << verified.out << verified.err;
    EXPECT_THAT(verified.out, HasSubstr("intact"));
    // Every party's audit has a witness: the MPI's is the consent service.
    EXPECT_THAT(verified.out, Not(HasSubstr("no witness configured"))) << who;
  }
  RunCommand({hiectl, "devnet", "down", "--dir", d});
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hie::testing
