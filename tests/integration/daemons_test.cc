// Starts the real hie-mpi, hie-consent and hie-node binaries on loopback with
// certificates minted for the run, and drives them with hiectl and gRPC clients.

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/grpc/tls.h"
#include "common/pki/ca.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "mpi/index/person_proto.h"
#include "mpi/testing/synthetic.h"
#include "proto/hie/v1/config.pb.h"
#include "proto/hie/v1/directory.grpc.pb.h"
#include "proto/hie/v1/mpi.grpc.pb.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/daemon_process.h"

namespace hie::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class DaemonsTest : public DaemonFixture {};

TEST_F(DaemonsTest, AllThreeDaemonsAreHealthyOverMutualTls) {
  for (const auto& [name, info] : Daemons()) {
    int port = StartDaemon(name);
    ASSERT_GT(port, 0);
    CommandResult result = HealthAs("operator", port, {"--json", "--expect-org", info.org});
    EXPECT_EQ(result.exit_code, 0) << name << ": " << result.err;
    EXPECT_THAT(result.out, AllOf(HasSubstr("\"status\": \"SERVING\""),
                                  HasSubstr("\"org\": \"" + info.org + "\""),
                                  HasSubstr("\"role\": \"" + info.role + "\"")))
        << name;
  }
}

TEST_F(DaemonsTest, EachRequestIsLoggedWithTheCallerFromItsCertificate) {
  int port = StartDaemon("mpi");
  ASSERT_EQ(HealthAs("node-a", port).exit_code, 0);
  ASSERT_TRUE(processes_.at("mpi").Stop(SIGTERM, absl::Seconds(10)).ok());
  EXPECT_THAT(ReadWholeFile(Log("mpi")),
              HasSubstr("/grpc.health.v1.Health/Check from org \"org-a\" (node): OK"));
}

TEST_F(DaemonsTest, SigtermStopsCleanly) {
  for (const auto& [name, info] : Daemons()) {
    ASSERT_GT(StartDaemon(name), 0);
    absl::StatusOr<int> code = processes_.at(name).Stop(SIGTERM, absl::Seconds(10));
    ASSERT_TRUE(code.ok()) << name;
    EXPECT_EQ(*code, 0) << name;
    EXPECT_THAT(ReadWholeFile(Log(name)), HasSubstr("stopped")) << name;
  }
}

// The example configurations shipped in deploy/config pass each daemon's --check, given
// the certificates they name.
TEST_F(DaemonsTest, DeployExampleConfigsPassCheck) {
  const char* source = HIE_TEST_SOURCE_DIR;
  fs::create_directory_symlink(Path("ca"), Path("exchange-ca"));
  fs::copy_file(Path("certs/node-a.crt"), Path("certs/org-a.crt"));
  fs::copy_file(Path("certs/node-a.key"), Path("certs/org-a.key"));
  for (const auto& [name, info] : Daemons()) {
    std::string text = ReadWholeFile(absl::StrCat(source, "/deploy/config/", name, ".textproto"));
    ASSERT_FALSE(text.empty()) << name;
    std::string data_dir = "/var/lib/hie/" + name;
    size_t at = text.find(data_dir);
    ASSERT_NE(at, std::string::npos) << name;
    text.replace(at, data_dir.size(), Path("data/" + name));
    std::string config = WriteConfig("example-" + name, text);
    CommandResult result =
        RunCommand({BinDir() + "/" + info.binary, "--config", config, "--check"});
    EXPECT_EQ(result.exit_code, 0) << name << ": " << result.err;
  }
}

// A matching configuration that names one identifier system as two members' own is
// refused by --check, naming the field.
TEST_F(DaemonsTest, AnIdentifierSystemOfTwoMembersIsRefused) {
  const char* source = HIE_TEST_SOURCE_DIR;
  fs::create_directory_symlink(Path("ca"), Path("exchange-ca"));
  std::string text = ReadWholeFile(absl::StrCat(source, "/deploy/config/mpi.textproto"));
  size_t at = text.find("/var/lib/hie/mpi");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::string("/var/lib/hie/mpi").size(), Path("data/mpi"));
  at = text.find("identifier_systems {");
  ASSERT_NE(at, std::string::npos);
  text.insert(at,
              "identifier_systems { system: \"urn:oid:2.16.840.1.113883.19.5\" org_id: "
              "\"org-b\" }\n  ");
  std::string config = WriteConfig("mpi-two-owners", text);
  CommandResult result = RunCommand({BinDir() + "/hie-mpi", "--config", config, "--check"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, AllOf(HasSubstr("matching.identifier_systems[1]"),
                                HasSubstr("already assigned by org-b")));
}

// Two practices register the same patient over mTLS; the org of each registration is
// the caller's certificate org. The consent service sees both; a practice may look up
// only its own patients; all of it survives a restart of hie-mpi.
TEST_F(DaemonsTest, MpiLinksRegistrationsFromTwoPracticesAndKeepsThem) {
  int port = StartDaemon("mpi");
  Issue("exchange", "consent-client", pki::Role::kConsent);
  Enroll(port, "org-a");
  Enroll(port, "org-b");
  auto a = MpiAs("node-a", port);
  auto b = MpiAs("node-b", port);
  hie::v1::RegisterPatientResponse ra, rb;
  ASSERT_TRUE(Register(a.get(), "A1", Jane(), &ra).ok());
  grpc::Status s = Register(b.get(), "B7", Jane("JANE"), &rb);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ra.euid(), rb.euid());
  EXPECT_EQ(rb.grade(), hie::v1::MATCH_GRADE_CERTAIN);

  auto consent = MpiAs("consent-client", port);
  hie::v1::CrossReference xref;
  s = Xref(consent.get(), "org-a", "A1", &xref);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(xref.euid(), ra.euid());
  ASSERT_EQ(xref.registrations_size(), 2);

  // org-b asks about an org-a patient it does not hold.
  hie::v1::Demographics bob;
  bob.add_names()->set_family("Lindqvist");
  bob.mutable_names(0)->add_given("Robert");
  hie::v1::RegisterPatientResponse r2;
  ASSERT_TRUE(Register(a.get(), "A2", bob, &r2).ok());
  // Not held and unknown are one answer (mpi_privacy_test.cc asserts it in full).
  EXPECT_EQ(Xref(b.get(), "org-a", "A2", &xref).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Xref(b.get(), "org-a", "nobody", &xref).error_code(), grpc::StatusCode::NOT_FOUND);

  // A bad local id is refused with the field's problem.
  s = Register(a.get(), "has space", Jane(), &r2);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("local_id"));

  // Restart: the index is on disk.
  ASSERT_TRUE(processes_.at("mpi").Stop(SIGTERM, absl::Seconds(10)).ok());
  processes_.erase("mpi");
  port = StartDaemon("mpi");
  consent = MpiAs("consent-client", port);
  s = Xref(consent.get(), "org-b", "B7", &xref);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(xref.euid(), ra.euid());
  EXPECT_EQ(xref.registrations_size(), 2);
}

// Only enrolled, active practices may use the MPI; a suspension takes effect at once
// and a reinstatement lifts it. Nodes cannot change the directory.
TEST_F(DaemonsTest, MpiRefusesPracticesThatAreNotActiveMembers) {
  int port = StartDaemon("mpi");
  auto a = MpiAs("node-a", port);
  hie::v1::RegisterPatientResponse r;
  grpc::Status s = Register(a.get(), "A1", Jane(), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("not enrolled"));

  Enroll(port, "org-a");
  ASSERT_TRUE(Register(a.get(), "A1", Jane(), &r).ok());

  auto directory = DirectoryAs("operator", port);
  {
    grpc::ClientContext context;
    hie::v1::SuspendOrganizationRequest request;
    request.set_org_id("org-a");
    request.set_reason("certificate compromise under review");
    hie::v1::Organization org;
    ASSERT_TRUE(directory->SuspendOrganization(&context, request, &org).ok());
    EXPECT_EQ(org.state(), hie::v1::Organization::STATE_SUSPENDED);
  }
  s = Register(a.get(), "A2", Jane(), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("suspended"));
  {
    grpc::ClientContext context;
    hie::v1::ReinstateOrganizationRequest request;
    request.set_org_id("org-a");
    request.set_reason("review closed");
    hie::v1::Organization org;
    ASSERT_TRUE(directory->ReinstateOrganization(&context, request, &org).ok());
  }
  EXPECT_TRUE(Register(a.get(), "A2", Jane(), &r).ok());

  // A node may read the directory but not change it.
  auto as_node = DirectoryAs("node-a", port);
  grpc::ClientContext context;
  hie::v1::EnrollOrganizationRequest request;
  request.set_org_id("org-evil");
  request.set_display_name("x");
  hie::v1::Organization org;
  EXPECT_EQ(as_node->EnrollOrganization(&context, request, &org).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext list_context;
  hie::v1::ListOrganizationsResponse list;
  ASSERT_TRUE(as_node->ListOrganizations(&list_context, {}, &list).ok());
  ASSERT_EQ(list.organizations_size(), 1);
  EXPECT_EQ(list.organizations(0).org_id(), "org-a");
}

// The operator manages the directory with hiectl org; --json prints one document; a
// practice's certificate is refused with exit status 1 and one line.
TEST_F(DaemonsTest, HiectlOrgManagesTheDirectory) {
  int port = StartDaemon("mpi");
  CommandResult enrolled = HiectlAs("operator", port,
                                    {"org", "enroll", "--org", "org-a", "--name", "Main St Clinic",
                                     "--endpoint", "127.0.0.1:7443", "--sensitive", "--json"});
  ASSERT_EQ(enrolled.exit_code, 0) << enrolled.err;
  EXPECT_THAT(enrolled.out, AllOf(HasSubstr("\"org_id\":\"org-a\""),
                                  HasSubstr("\"sensitive\":true"), HasSubstr("STATE_ACTIVE")));
  CommandResult again =
      HiectlAs("operator", port, {"org", "enroll", "--org", "org-a", "--name", "x"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("already"));
  CommandResult suspended =
      HiectlAs("operator", port, {"org", "suspend", "--org", "org-a", "--reason", "audit"});
  ASSERT_EQ(suspended.exit_code, 0) << suspended.err;
  EXPECT_THAT(suspended.out, HasSubstr("suspended"));
  CommandResult list = HiectlAs("node-a", port, {"org", "list", "--state", "suspended", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("org-a"));
  CommandResult refused =
      HiectlAs("node-a", port, {"org", "reinstate", "--org", "org-a", "--reason", "me"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("may not call"));
  CommandResult usage = HiectlAs("operator", port, {"org", "suspend", "--org", "org-a"});
  EXPECT_EQ(usage.exit_code, 2);
}

// The operator's matching decisions through hiectl mpi against the real hie-mpi:
// the review queue, resolving an item, an unlink that sticks, explain, and a practice
// refused the operator's commands.
TEST_F(DaemonsTest, HiectlMpiReviewsLinksAndExplains) {
  int port = StartDaemon("mpi");
  Enroll(port, "org-a");
  Enroll(port, "org-b");
  auto a = MpiAs("node-a", port);
  auto b = MpiAs("node-b", port);
  hie::v1::RegisterPatientResponse r1, r2, r3;
  ASSERT_TRUE(Register(a.get(), "A1", Jane(), &r1).ok());
  ASSERT_TRUE(Register(b.get(), "B1", Jane(), &r2).ok());
  ASSERT_TRUE(Register(a.get(), "A2", Jane(), &r3).ok());  // same org: to review
  ASSERT_EQ(r1.euid(), r2.euid());
  ASSERT_EQ(r3.grade(), hie::v1::MATCH_GRADE_PROBABLE);

  CommandResult reviews = HiectlAs("operator", port, {"mpi", "reviews", "--json"});
  ASSERT_EQ(reviews.exit_code, 0) << reviews.err;
  EXPECT_THAT(reviews.out, HasSubstr(r3.review_id()));
  CommandResult resolved = HiectlAs("operator", port,
                                    {"mpi", "resolve", "--review", r3.review_id(), "--decision",
                                     "keep-apart", "--reason", "two charts, two people"});
  ASSERT_EQ(resolved.exit_code, 0) << resolved.err;

  CommandResult unlinked = HiectlAs(
      "operator", port, {"mpi", "unlink", "--a", "org-a/A1", "--b", "org-b/B1", "--reason", "x"});
  ASSERT_EQ(unlinked.exit_code, 0) << unlinked.err;
  // Re-registering B1 does not undo the operator's decision.
  ASSERT_TRUE(Register(b.get(), "B1", Jane(), &r2).ok());
  EXPECT_NE(r2.euid(), r1.euid());
  CommandResult explained =
      HiectlAs("operator", port, {"mpi", "explain", "--a", "org-a/A1", "--b", "org-b/B1"});
  ASSERT_EQ(explained.exit_code, 0) << explained.err;
  EXPECT_THAT(explained.out, AllOf(HasSubstr("family_name"), HasSubstr("manual unlink")));
  CommandResult xref =
      HiectlAs("operator", port, {"mpi", "xref", "--patient", "org-a/A1", "--json"});
  ASSERT_EQ(xref.exit_code, 0) << xref.err;
  EXPECT_THAT(xref.out, AllOf(HasSubstr("A1"), Not(HasSubstr("B1"))));

  CommandResult refused = HiectlAs(
      "node-a", port, {"mpi", "link", "--a", "org-a/A1", "--b", "org-b/B1", "--reason", "me"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("may not call"));

  // Two enrolments, B1's automatic link, A2's review, the resolved review, the unlink
  // and the node's refused link are in the audit chain.
  CommandResult verified = HiectlAs("operator", port, {"audit", "verify", "--json"});
  ASSERT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_THAT(verified.out,
              AllOf(HasSubstr("\"ok\":true"), HasSubstr("\"entries_checked\":\"7\"")));
}

// Demographic search and merge through hiectl mpi against the real hie-mpi: a practice
// finds a patient by name and birth date (never where they were treated), the operator
// folds one EUID into another and the old one answers with the survivor.
TEST_F(DaemonsTest, HiectlMpiSearchesAndMerges) {
  int port = StartDaemon("mpi");
  Enroll(port, "org-a");
  Enroll(port, "org-b");
  auto a = MpiAs("node-a", port);
  auto b = MpiAs("node-b", port);
  hie::v1::Demographics bob;
  bob.add_names()->set_family("Lindqvist");
  bob.mutable_names(0)->add_given("Robert");
  hie::v1::RegisterPatientResponse jane, robert;
  ASSERT_TRUE(Register(a.get(), "A1", Jane(), &jane).ok());
  ASSERT_TRUE(Register(b.get(), "B1", bob, &robert).ok());
  ASSERT_NE(jane.euid(), robert.euid());

  CommandResult found =
      HiectlAs("node-b", port,
               {"mpi", "search", "--family", "OYELARAN", "--given", "jane", "--birth-date",
                "1984-06-02", "--sex", "female", "--postcode", "62701"});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  EXPECT_THAT(found.out,
              AllOf(HasSubstr(jane.euid()), HasSubstr("certain"), HasSubstr("born 1984-06-02"),
                    HasSubstr("1 found"), Not(HasSubstr("org-a")), Not(HasSubstr(robert.euid()))));
  // By name alone, with a nickname for the registered given name.
  CommandResult json = HiectlAs("operator", port,
                                {"mpi", "search", "--family", "Lindqvist", "--given", "Bob",
                                 "--min-grade", "possible", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, AllOf(HasSubstr(robert.euid()), HasSubstr("\"candidates_scored\"")));
  CommandResult bad_date = HiectlAs(
      "node-a", port, {"mpi", "search", "--family", "Oyelaran", "--birth-date", "1984-13-40"});
  EXPECT_EQ(bad_date.exit_code, 2);
  EXPECT_THAT(bad_date.err, HasSubstr("--birth-date"));

  CommandResult refused =
      HiectlAs("node-a", port,
               {"mpi", "merge", "--from", robert.euid(), "--into", jane.euid(), "--reason", "me"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("may not call"));
  CommandResult merged = HiectlAs("operator", port,
                                  {"mpi", "merge", "--from", robert.euid(), "--into", jane.euid(),
                                   "--reason", "one person, two names"});
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_THAT(merged.out,
              AllOf(HasSubstr(jane.euid()), HasSubstr("org-a/A1"), HasSubstr("org-b/B1")));
  // The old EUID answers with the survivor.
  CommandResult xref = HiectlAs("operator", port, {"mpi", "xref", "--euid", robert.euid()});
  ASSERT_EQ(xref.exit_code, 0) << xref.err;
  EXPECT_THAT(xref.out, AllOf(HasSubstr("EUID " + jane.euid()), HasSubstr("org-b/B1")));
  CommandResult again = HiectlAs(
      "operator", port,
      {"mpi", "merge", "--from", robert.euid(), "--into", jane.euid(), "--reason", "twice"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("already the same person"));
}

// The operator fits the matching model to the MPI's own registrations; the daemon scores
// with it and keeps it across a restart. Too small an index is refused with the reason,
// and a practice may not refit.
TEST_F(DaemonsTest, HiectlMpiFitsTheMatchingModel) {
  int port = StartDaemon("mpi");
  Enroll(port, "org-a");
  Enroll(port, "org-b");
  CommandResult start = HiectlAs("operator", port, {"mpi", "model"});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  EXPECT_THAT(start.out, AllOf(HasSubstr("starting parameters"), HasSubstr("birth_date")));
  CommandResult too_few = HiectlAs("operator", port, {"mpi", "fit", "--reason", "first"});
  EXPECT_EQ(too_few.exit_code, 1);
  EXPECT_THAT(too_few.err, HasSubstr("at least 1000"));
  EXPECT_EQ(HiectlAs("operator", port, {"mpi", "fit"}).exit_code, 2);  // no reason

  // 900 people at practice A, a third of them also at practice B as clerks enter them.
  auto a = MpiAs("node-a", port);
  auto b = MpiAs("node-b", port);
  mpi::testing::SyntheticPeople gen(5);
  // Each automatic link (a registration joining a person seen before) and each review
  // opened is an audit entry.
  std::set<std::string> seen;
  int placements_audited = 0;
  auto note = [&](const hie::v1::RegisterPatientResponse& r) {
    bool linked = r.grade() == hie::v1::MATCH_GRADE_CERTAIN && seen.contains(r.euid());
    placements_audited += linked || r.grade() == hie::v1::MATCH_GRADE_PROBABLE;
    seen.insert(r.euid());
  };
  for (int i = 0; i < 900; ++i) {
    mpi::Person person = gen.NewPerson();
    hie::v1::RegisterPatientResponse r;
    grpc::Status s =
        Register(a.get(), absl::StrCat("A", i), mpi::DemographicsFromPerson(person), &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    note(r);
    if (i % 3 == 0) {
      s = Register(b.get(), absl::StrCat("B", i),
                   mpi::DemographicsFromPerson(gen.ClinicVariant(person)), &r);
      ASSERT_TRUE(s.ok()) << s.error_message();
      note(r);
    }
  }
  ASSERT_GT(placements_audited, 200);
  CommandResult refused = HiectlAs("node-a", port, {"mpi", "fit", "--reason", "me"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("may not call"));
  CommandResult fitted =
      HiectlAs("operator", port, {"mpi", "fit", "--reason", "after the initial loads", "--json"});
  ASSERT_EQ(fitted.exit_code, 0) << fitted.err;
  EXPECT_THAT(fitted.out, AllOf(HasSubstr("\"fitted_at\""), HasSubstr("\"registrations\":\"1200\""),
                                HasSubstr("\"candidate_pairs\"")));

  // A restart keeps the fitted model; the fit is in the audit chain.
  ASSERT_TRUE(processes_.at("mpi").Stop(SIGTERM, absl::Seconds(10)).ok());
  processes_.erase("mpi");
  port = StartDaemon("mpi");
  CommandResult kept = HiectlAs("operator", port, {"mpi", "model"});
  ASSERT_EQ(kept.exit_code, 0) << kept.err;
  EXPECT_THAT(kept.out, AllOf(HasSubstr("fitted 20"), HasSubstr("to 1200 registrations")));
  CommandResult verified = HiectlAs("operator", port, {"audit", "verify", "--json"});
  ASSERT_EQ(verified.exit_code, 0) << verified.err;
  // Two enrolments, the placements, one registration alert (org-b's links to org-a's
  // persons pass the default 50 within the hour), the fit and the node's refused fit
  // (audited as REFUSE).
  EXPECT_THAT(verified.out,
              HasSubstr(absl::StrCat("\"entries_checked\":\"", 5 + placements_audited, "\"")));
}

TEST_F(DaemonsTest, UnimplementedRpcAnswersUnimplemented) {
  // The node's services come with their issue.
  int port = StartDaemon("node");
  grpc::Status status = CallAs("node-a", port, "/hie.v1.NodeStatus/GetStatus");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
}

TEST_F(DaemonsTest, MethodOutsideTheCallersRoleIsPermissionDenied) {
  int port = StartDaemon("mpi");
  grpc::Status status = CallAs("node-a", port, "/hie.v1.Directory/EnrollOrganization");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  status = CallAs("node-a", port, "/hie.v1.NoSuchService/Anything");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
}

TEST_F(DaemonsTest, RevocationReachesARunningDaemonWithinSeconds) {
  int port = StartDaemon("node");
  ASSERT_EQ(HealthAs("node-b", port).exit_code, 0);
  CommandResult revoke =
      Hiectl({"ca", "revoke", "--dir", Path("ca"), "--cert", Path("certs/node-b.crt")});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {  // at most ~10 s
    refused = HealthAs("node-b", port).exit_code != 0;
    if (!refused) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(refused);
  EXPECT_EQ(HealthAs("operator", port).exit_code, 0);
}

TEST_F(DaemonsTest, ConfigTypoExitsWithFileLineAndField) {
  std::string text = ConfigText("mpi");
  text.replace(text.find("cert_file"), 9, "cert_fil");
  std::string path = WriteConfig("mpi", text);
  CommandResult result = RunCommand({BinDir() + "/hie-mpi", "--config", path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, AllOf(HasSubstr(path + ":6:"), HasSubstr("cert_fil")));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

TEST_F(DaemonsTest, BadValuesAreRefusedWithTheField) {
  struct Case {
    std::string daemon, from, to, expect;
  };
  const std::vector<Case> cases = {
      {"mpi", "127.0.0.1:0", "127.0.0.1:70000", "server.listen_address"},
      {"mpi", "reload_interval_seconds: 1", "reload_interval_seconds: 7200",
       "server.tls.reload_interval_seconds"},
      {"node", "ca/crl", "ca/nope", "server.tls.crl_dir"},
      {"node", "expected_org: \"exchange\" }\nconsent", "expected_org: \"\" }\nconsent",
       "mpi.expected_org"},
      {"consent", "data_dir: \"data/consent\"", "", "data_dir"},
      {"mpi", "data_dir: \"data/mpi\"",
       "data_dir: \"data/mpi\"\nmatching { auto_link_weight: 10 review_weight: 12 }",
       "matching.review_weight"},
      {"mpi", "data_dir: \"data/mpi\"",
       "data_dir: \"data/mpi\"\nmatching { max_candidates_per_key: 0 }",
       "matching.max_candidates_per_key"},
  };
  for (const Case& c : cases) {
    std::string text = ConfigText(c.daemon);
    ASSERT_NE(text.find(c.from), std::string::npos) << c.from;
    text.replace(text.find(c.from), c.from.size(), c.to);
    std::string path = WriteConfig(c.daemon, text);
    CommandResult result =
        RunCommand({BinDir() + "/" + Daemons().at(c.daemon).binary, "--config", path});
    EXPECT_EQ(result.exit_code, 1) << c.expect;
    EXPECT_THAT(result.err, HasSubstr(c.expect));
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

TEST_F(DaemonsTest, BadCommandLinesExitTwo) {
  for (const auto& [name, info] : Daemons()) {
    std::string bin = BinDir() + "/" + info.binary;
    EXPECT_EQ(RunCommand({bin}).exit_code, 2) << name;
    EXPECT_EQ(RunCommand({bin, "--config"}).exit_code, 2) << name;
    CommandResult unknown = RunCommand({bin, "--frobnicate"});
    EXPECT_EQ(unknown.exit_code, 2) << name;
    EXPECT_THAT(unknown.err, HasSubstr("--frobnicate"));
    EXPECT_EQ(RunCommand({bin, "--config", Path("absent.textproto")}).exit_code, 1) << name;
  }
}

// Every field of every daemon's config message, found from the descriptors so that a
// field added later cannot be left out of --help.
void CollectFieldNames(const google::protobuf::Descriptor* d, std::set<std::string>* out,
                       int depth = 0) {
  if (depth > 5) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    out->insert(f->name());
    if (f->message_type() != nullptr) CollectFieldNames(f->message_type(), out, depth + 1);
  }
}

TEST_F(DaemonsTest, HelpDocumentsEveryConfigField) {
  const std::map<std::string, const google::protobuf::Descriptor*> configs = {
      {"mpi", hie::v1::MpiConfig::descriptor()},
      {"consent", hie::v1::ConsentConfig::descriptor()},
      {"node", hie::v1::NodeConfig::descriptor()}};
  for (const auto& [name, info] : Daemons()) {
    CommandResult help = RunCommand({BinDir() + "/" + info.binary, "--help"});
    EXPECT_EQ(help.exit_code, 0);
    std::set<std::string> fields;
    CollectFieldNames(configs.at(name), &fields);
    ASSERT_GT(fields.size(), 10u);
    for (const std::string& field : fields) {
      EXPECT_THAT(help.out, HasSubstr(field)) << name << " --help does not document " << field;
    }
  }
}

TEST_F(DaemonsTest, MissingCrlRefusesToStart) {
  fs::remove_all(Path("ca/crl"));
  fs::create_directories(Path("ca/crl"));
  std::string path = WriteConfig("mpi", ConfigText("mpi"));
  CommandResult result = RunCommand({BinDir() + "/hie-mpi", "--config", path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("CRL"));
}

TEST_F(DaemonsTest, SecondDaemonOnTheSameDataDirectoryIsRefused) {
  ASSERT_GT(StartDaemon("mpi"), 0);
  std::string text = ConfigText("mpi");
  text.replace(text.find("port_file: \"mpi.port\""), 22, "port_file: \"mpi2.port\"");
  std::string path = WriteConfig("mpi2", text);
  CommandResult result = RunCommand({BinDir() + "/hie-mpi", "--config", path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("in use by another process"));
}

TEST_F(DaemonsTest, HiectlRefusesBadUsageWithExitTwo) {
  EXPECT_EQ(Hiectl({"ca", "issue", "--dir", Path("ca"), "--org", "Bad Org", "--name", "x", "--out",
                    Path("x")})
                .exit_code,
            2);
  EXPECT_EQ(Hiectl({"ca", "issue", "--dir", Path("ca"), "--org", "org-a", "--name", "x", "--out",
                    Path("x"), "--role", "king"})
                .exit_code,
            2);
  EXPECT_EQ(Hiectl({"health", "--target", "127.0.0.1:1"}).exit_code, 2);
  EXPECT_EQ(Hiectl({"no-such-command"}).exit_code, 2);
  EXPECT_EQ(Hiectl({"ca", "init", "--dir", Path("ca")}).exit_code, 1);  // already a CA
}

TEST_F(DaemonsTest, HiectlHealthOfAnUnreachableTargetExitsThree) {
  // A port nothing listens on: bind-and-close would race, so use the discard port.
  CommandResult result = HealthAs("operator", 9, {"--timeout-ms", "2000"});
  EXPECT_EQ(result.exit_code, 3) << result.err;
}

}  // namespace
}  // namespace hie::testing
