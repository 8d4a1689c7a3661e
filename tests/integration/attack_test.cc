// Hostile callers against the real daemons over mutual TLS: members claiming another
// org in request fields, grants bent to another patient or holder, rogue servers,
// oversized and malformed input, names with NUL bytes and invalid UTF-8, path-like
// source names, and a flood of calls from one practice. docs/security.md lists every
// case with the test that shows it.
#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "proto/hie/v1/consent.grpc.pb.h"
#include "proto/hie/v1/node.grpc.pb.h"
#include "tests/integration/daemon_fixture.h"

namespace hie::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<grpc::ClientContext> Context(int seconds = 10) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

class AttackTest : public DaemonFixture {
 protected:
  // ConfigText with `lines` added inside its server { } block.
  std::string WithServerLines(const std::string& name, const std::string& lines) {
    std::string text = ConfigText(name);
    const std::string open = "server {\n";
    text.insert(text.find(open) + open.size(), lines);
    return text;
  }

  // Starts `name` with `lines` added to its server block.
  int StartWithServerLines(const std::string& name, const std::string& lines) {
    std::string config = WriteConfig(name, WithServerLines(name, lines));
    fs::remove(Path(name + ".port"));
    auto process = ChildProcess::Start(
        {BinDir() + "/" + Instances().at(name).binary, "--config", config}, Log(name));
    EXPECT_TRUE(process.ok());
    if (!process.ok()) return 0;
    processes_.emplace(name, std::move(*process));
    auto port = WaitForPortFile(Path(name + ".port"), absl::Seconds(30));
    EXPECT_TRUE(port.ok()) << port.status() << "\nlog:\n" << ReadWholeFile(Log(name));
    return port.ok() ? *port : 0;
  }

  // MPI, consent, and the holders node-b and node-c. Jane is A1 at org-a and B1 at
  // org-b (linked); B2 at org-b is someone else; C1 at org-c is someone else again, so
  // org-c is never named in Jane's grants.
  void StartExchange() {
    Issue("org-c", "node-c", pki::Role::kNode);
    mpi_port_ = StartDaemon("mpi");
    ASSERT_GT(mpi_port_, 0);
    mpi_address_ = absl::StrCat("127.0.0.1:", mpi_port_);
    consent_port_ = StartDaemon("consent");
    ASSERT_GT(consent_port_, 0);
    consent_address_ = absl::StrCat("127.0.0.1:", consent_port_);
    node_b_port_ = StartDaemon("node-b");
    ASSERT_GT(node_b_port_, 0);
    node_c_port_ = StartDaemon("node-c");
    ASSERT_GT(node_c_port_, 0);
    Enroll(mpi_port_, "org-a");
    Enroll(mpi_port_, "org-b", absl::StrCat("127.0.0.1:", node_b_port_));
    Enroll(mpi_port_, "org-c", absl::StrCat("127.0.0.1:", node_c_port_));
    hie::v1::RegisterPatientResponse registered;
    ASSERT_TRUE(Register(MpiAs("node-a", mpi_port_).get(), "A1", Jane(), &registered).ok());
    ASSERT_TRUE(Register(MpiAs("node-b", mpi_port_).get(), "B1", Jane(), &registered).ok());
    ASSERT_TRUE(Register(MpiAs("node-b", mpi_port_).get(), "B2", John(), &registered).ok());
    ASSERT_TRUE(Register(MpiAs("node-c", mpi_port_).get(), "C1", John(), &registered).ok());
    for (const auto& [who, port, patient] :
         std::vector<std::tuple<std::string, int, std::string>>{{"node-b", node_b_port_, "B1"},
                                                                {"node-b", node_b_port_, "B2"},
                                                                {"node-c", node_c_port_, "C1"}}) {
      std::string ndjson = absl::StrCat(
          R"({"resourceType":"Patient","id":")", patient, R"("})", "\n",
          R"({"resourceType":"Observation","id":"obs-)", patient,
          R"(","status":"final","code":{"text":"BP"},"subject":{"reference":"Patient/)", patient,
          R"("}})", "\n");
      hie::v1::ImportResponse response;
      grpc::Status s = Import(who, port, ndjson, "seed.ndjson", &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_EQ(response.accepted(), 2) << response.DebugString();
    }
  }

  static hie::v1::Demographics John() {
    hie::v1::Demographics d;
    auto* name = d.add_names();
    name->set_family("Kowalczyk");
    name->add_given("John");
    d.mutable_birth_date()->set_year(1950);
    d.mutable_birth_date()->set_month(1);
    d.mutable_birth_date()->set_day(30);
    d.set_sex(hie::v1::SEX_MALE);
    return d;
  }

  // One Import call as `who` carrying `data` in one message.
  grpc::Status Import(const std::string& who, int port, const std::string& data,
                      const std::string& source, hie::v1::ImportResponse* response) {
    auto ingest = hie::v1::Ingest::NewStub(ChannelAs(who, port));
    auto context = Context(30);
    auto writer = ingest->Import(context.get(), response);
    hie::v1::ImportRequest request;
    request.set_data(data);
    request.set_source_name(source);
    writer->Write(request);
    writer->WritesDone();
    return writer->Finish();
  }

  // A grant for org-a's A1 (Jane), as node-a would get it.
  hie::v1::SignedGrant Grant() {
    auto consent = hie::v1::ConsentService::NewStub(ChannelAs("node-a", consent_port_));
    hie::v1::AuthorizeRequest request;
    request.set_local_patient_id("A1");
    request.set_purpose("TREAT");
    request.mutable_user()->set_user_id("dr.lee");
    request.set_query_id("attack");
    hie::v1::AuthorizeResponse response;
    grpc::Status s = consent->Authorize(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(response.has_grant()) << response.denial().reason();
    return response.grant();
  }

  // FetchRecords at the holder on `port` as `who`; the records' ids in `ids`.
  grpc::Status Fetch(const std::string& who, int port, const hie::v1::SignedGrant& grant,
                     std::vector<std::string>* ids) {
    auto peer = hie::v1::PeerRecords::NewStub(ChannelAs(who, port));
    auto context = Context();
    hie::v1::FetchRecordsRequest request;
    *request.mutable_grant() = grant;
    auto reader = peer->FetchRecords(context.get(), request);
    hie::v1::FetchRecordsResponse message;
    while (reader->Read(&message)) {
      if (message.has_record()) {
        ids->push_back(message.record().resource_type() + "/" + message.record().resource_id());
      }
    }
    return reader->Finish();
  }

  // `grant` with its payload changed by `edit` and the original signature kept.
  static hie::v1::SignedGrant Altered(const hie::v1::SignedGrant& grant,
                                      const std::function<void(hie::v1::DisclosureGrant&)>& edit) {
    hie::v1::DisclosureGrant inner;
    EXPECT_TRUE(inner.ParseFromString(grant.grant()));
    edit(inner);
    hie::v1::SignedGrant out = grant;
    out.set_grant(inner.SerializeAsString());
    return out;
  }

  bool Healthy(const std::string& who, int port) { return HealthAs(who, port).exit_code == 0; }

  // The log of `name` holds no NUL and every line starts with a timestamp: nothing a
  // caller sent could forge or cut a line.
  void ExpectCleanLog(const std::string& name, const std::string& forged) {
    std::string log = ReadWholeFile(Log(name));
    EXPECT_EQ(log.find('\0'), std::string::npos) << name << " log holds a NUL byte";
    for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
      if (absl::StartsWith(line, "==") || absl::StartsWith(line, "E1") ||
          absl::StartsWith(line, "W1") || absl::StartsWith(line, "I1") ||
          absl::StartsWith(line, "[libprotobuf ")) {
        continue;  // sanitizer reports, gRPC's and protobuf's own log lines
      }
      EXPECT_TRUE(absl::StartsWith(line, "20")) << name << " log line not ours: " << line;
    }
    if (!forged.empty()) {
      EXPECT_THAT(log, Not(HasSubstr("\n" + forged))) << name << " log has a forged line";
    }
  }

  int mpi_port_ = 0;
  int consent_port_ = 0;
  int node_b_port_ = 0;
  int node_c_port_ = 0;
};

// --- An org claiming another org's id in a request field --------------------------------

TEST_F(AttackTest, OrgIdInRequestFieldsNeverOverridesTheCertificate) {
  ASSERT_NO_FATAL_FAILURE(StartExchange());
  // MPI: a node asks for another org's patient by naming that org. (org-b may ask
  // about org-a's A1: it holds the same person, B1. A7 is no one org-b holds.)
  hie::v1::Demographics zed = John();
  zed.mutable_names(0)->set_family("Abernathy-Quist");
  zed.mutable_names(0)->set_given(0, "Zed");
  zed.mutable_birth_date()->set_year(1999);
  hie::v1::RegisterPatientResponse a7;
  ASSERT_TRUE(Register(MpiAs("node-a", mpi_port_).get(), "A7", zed, &a7).ok());
  hie::v1::CrossReference xref;
  // Answered as an unknown patient: "not yours" and "not found" are one answer.
  EXPECT_EQ(Xref(MpiAs("node-b", mpi_port_).get(), "org-a", "A7", &xref).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Xref(MpiAs("node-a", mpi_port_).get(), "org-a", "A7", &xref).ok());
  // MPI: RegisterPatient carries no org; the registration is the caller's.
  hie::v1::RegisterPatientResponse registered;
  ASSERT_TRUE(Register(MpiAs("node-b", mpi_port_).get(), "X9", John(), &registered).ok());
  EXPECT_EQ(Xref(MpiAs("operator", mpi_port_).get(), "org-a", "X9", &xref).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Xref(MpiAs("operator", mpi_port_).get(), "org-b", "X9", &xref).ok());

  // Consent: filing or listing directives for another org's patient.
  auto consent_b = hie::v1::ConsentService::NewStub(ChannelAs("node-b", consent_port_));
  hie::v1::PutDirectiveRequest put;
  put.mutable_patient()->set_org_id("org-a");
  put.mutable_patient()->set_local_id("A1");
  put.set_consent_json(
      R"({"resourceType":"Consent","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],"dateTime":"2025-01-01","provision":{"type":"deny"}})");
  hie::v1::Directive directive;
  EXPECT_EQ(consent_b->PutDirective(Context().get(), put, &directive).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  hie::v1::ListDirectivesRequest list;
  list.mutable_patient()->set_org_id("org-c");
  list.mutable_patient()->set_local_id("C1");
  hie::v1::ListDirectivesResponse listed;
  EXPECT_EQ(consent_b->ListDirectives(Context().get(), list, &listed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Consent: Authorize has no org field; org-b asking for "A1" asks for org-b's A1,
  // which does not exist, never for org-a's.
  hie::v1::AuthorizeRequest authorize;
  authorize.set_local_patient_id("A1");
  authorize.set_purpose("TREAT");
  authorize.mutable_user()->set_user_id("mallory");
  hie::v1::AuthorizeResponse decision;
  EXPECT_EQ(consent_b->Authorize(Context().get(), authorize, &decision).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // Node: another practice may not feed, read or query through org-c's node.
  hie::v1::ImportResponse imported;
  EXPECT_EQ(Import("node-b", node_c_port_, R"({"resourceType":"Patient","id":"evil"})", "x.json",
                   &imported)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto ingest = hie::v1::Ingest::NewStub(ChannelAs("node-b", node_c_port_));
  hie::v1::GetRecordRequest get;
  get.set_resource_type("Patient");
  get.set_resource_id("C1");
  hie::v1::RecordEnvelope record;
  EXPECT_EQ(ingest->GetRecord(Context().get(), get, &record).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto query = hie::v1::FederatedQuery::NewStub(ChannelAs("node-b", node_c_port_));
  hie::v1::QueryRequest q;
  q.set_local_patient_id("C1");
  q.set_purpose("TREAT");
  q.mutable_user()->set_user_id("mallory");
  auto query_context = Context();
  auto events = query->Query(query_context.get(), q);
  hie::v1::QueryEvent event;
  int received = 0;
  while (events->Read(&event)) ++received;
  EXPECT_EQ(events->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(received, 0);
}

// --- Grants -----------------------------------------------------------------------------

TEST_F(AttackTest, GrantForOnePatientCannotFetchAnother) {
  ASSERT_NO_FATAL_FAILURE(StartExchange());
  hie::v1::SignedGrant grant = Grant();
  // The grant names B1 at org-b; pointing it at B2 breaks the signature.
  hie::v1::SignedGrant other_patient = Altered(grant, [](hie::v1::DisclosureGrant& g) {
    for (auto& holder : *g.mutable_holders()) {
      if (holder.org_id() == "org-b") holder.set_local_id("B2");
    }
  });
  std::vector<std::string> ids;
  grpc::Status status = Fetch("node-a", node_b_port_, other_patient, &ids);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  EXPECT_TRUE(ids.empty());
  // Changing the EUID instead is refused the same way.
  status = Fetch("node-a", node_b_port_,
                 Altered(grant, [](hie::v1::DisclosureGrant& g) { g.set_euid("E-other"); }), &ids);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The grant as signed serves B1's records, and only B1's.
  status = Fetch("node-a", node_b_port_, grant, &ids);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre("Observation/obs-B1", "Patient/B1"));
}

TEST_F(AttackTest, GrantReplayedToAnotherHolderOrTwiceIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartExchange());
  hie::v1::SignedGrant grant = Grant();
  std::vector<std::string> ids;
  // org-c holds a patient too, but the grant does not name org-c.
  grpc::Status status = Fetch("node-a", node_c_port_, grant, &ids);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_TRUE(ids.empty());
  // Adding org-c to the holders breaks the signature.
  hie::v1::SignedGrant widened = Altered(grant, [](hie::v1::DisclosureGrant& g) {
    auto* holder = g.add_holders();
    holder->set_org_id("org-c");
    holder->set_local_id("C1");
  });
  EXPECT_EQ(Fetch("node-a", node_c_port_, widened, &ids).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Another member presenting org-a's grant at the holder it names.
  EXPECT_EQ(Fetch("node-c", node_b_port_, grant, &ids).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The rightful use works once; the same grant again is a replay.
  ASSERT_TRUE(Fetch("node-a", node_b_port_, grant, &ids).ok());
  ids.clear();
  status = Fetch("node-a", node_b_port_, grant, &ids);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("already used"));
  EXPECT_TRUE(ids.empty());
}

TEST_F(AttackTest, ForgedGrantIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartExchange());
  hie::v1::SignedGrant grant = Grant();
  std::vector<std::string> ids;
  hie::v1::SignedGrant bad_signature = grant;
  bad_signature.set_signature(std::string(64, '\x42'));
  EXPECT_EQ(Fetch("node-a", node_b_port_, bad_signature, &ids).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  hie::v1::SignedGrant unknown_key = grant;
  unknown_key.set_key_id("0123456789abcdef");
  EXPECT_EQ(Fetch("node-a", node_b_port_, unknown_key, &ids).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  hie::v1::SignedGrant garbage;
  garbage.set_grant("\xff\xff\xff not a grant");
  garbage.set_key_id(grant.key_id());
  garbage.set_signature(grant.signature());
  EXPECT_EQ(Fetch("node-a", node_b_port_, garbage, &ids).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ids.empty());
  EXPECT_TRUE(Healthy("node-b", node_b_port_));
}

// --- Rogue servers ----------------------------------------------------------------------

TEST_F(AttackTest, DaemonsRefuseARogueServerPosingAsTheMpiOrConsent) {
  // A practice's node (valid certificate, org-b) where the consent service expects the
  // MPI: the consent service refuses it at the handshake and answers UNAVAILABLE.
  int rogue = StartDaemon("node-b");
  ASSERT_GT(rogue, 0);
  mpi_address_ = absl::StrCat("127.0.0.1:", rogue);
  consent_port_ = StartDaemon("consent");
  ASSERT_GT(consent_port_, 0);
  auto consent = hie::v1::ConsentService::NewStub(ChannelAs("node-a", consent_port_));
  hie::v1::AuthorizeRequest request;
  request.set_local_patient_id("A1");
  request.set_purpose("TREAT");
  request.mutable_user()->set_user_id("dr.lee");
  hie::v1::AuthorizeResponse response;
  grpc::Status status = consent->Authorize(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(ReadWholeFile(Log("consent")), HasSubstr("server presents org \"org-b\""));
  EXPECT_THAT(ReadWholeFile(Log("node-b")), Not(HasSubstr("MasterPatientIndex")));

  // The exchange's own MPI (right org, wrong role) where a node expects the consent
  // service: refused too.
  int mpi = StartDaemon("mpi");
  ASSERT_GT(mpi, 0);
  consent_address_ = absl::StrCat("127.0.0.1:", mpi);
  int node = StartDaemon("node");
  ASSERT_GT(node, 0);
  auto query = hie::v1::FederatedQuery::NewStub(ChannelAs("node-a", node));
  hie::v1::QueryRequest q;
  q.set_local_patient_id("A1");
  q.set_purpose("TREAT");
  q.mutable_user()->set_user_id("dr.lee");
  auto context = Context();
  auto events = query->Query(context.get(), q);
  hie::v1::QueryEvent event;
  while (events->Read(&event)) {
  }
  EXPECT_EQ(events->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(ReadWholeFile(Log("node")), HasSubstr("server presents role \"mpi\""));
}

// --- Oversized and malformed input ------------------------------------------------------

TEST_F(AttackTest, OversizedMessageIsResourceExhaustedAndTheDaemonStaysHealthy) {
  int node = StartWithServerLines("node", "  max_message_bytes: 65536\n");
  ASSERT_GT(node, 0);
  hie::v1::ImportResponse response;
  std::string big = absl::StrCat(R"({"resourceType":"Patient","id":"big","text":{"div":")",
                                 std::string(100000, 'x'), R"("}})");
  grpc::Status status = Import("node-a", node, big, "big.json", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_THAT(status.error_message(), AnyOf(HasSubstr("larger than max"), HasSubstr("65536")));
  EXPECT_TRUE(Healthy("node-a", node));
  ASSERT_TRUE(
      Import("node-a", node, R"({"resourceType":"Patient","id":"small"})", "s.json", &response)
          .ok());
  EXPECT_EQ(response.accepted(), 1);

  // The MPI at its default limit (4 MiB): a registration of 5 MiB.
  mpi_port_ = StartDaemon("mpi");
  ASSERT_GT(mpi_port_, 0);
  hie::v1::Demographics huge = Jane();
  huge.mutable_names(0)->set_family(std::string(5 << 20, 'a'));
  hie::v1::RegisterPatientResponse registered;
  status = Register(MpiAs("node-a", mpi_port_).get(), "H1", huge, &registered);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_TRUE(Healthy("node-a", mpi_port_));
}

TEST_F(AttackTest, DeeplyNestedAndHugeJsonAreRefusedCleanly) {
  // The per-resource import limit (limits.max_import_resource_bytes, default 64 MiB)
  // lowered to 2 MiB, so that a resource under the 4 MiB message limit exceeds it.
  int node = StartDaemon("node", "limits { max_import_resource_bytes: 2097152 }\n");
  ASSERT_GT(node, 0);
  hie::v1::ImportResponse response;
  // 100,000 opening brackets, alone and inside a resource.
  const std::string brackets(100000, '[');
  grpc::Status status = Import("node-a", node, brackets, "nested.json", &response);
  EXPECT_TRUE(status.ok() ? response.rejected_size() > 0 && response.accepted() == 0
                          : status.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message() << response.DebugString();
  status = Import("node-a", node,
                  absl::StrCat(R"({"resourceType":"Patient","id":"deep","extension":)", brackets,
                               std::string(100000, ']'), "}"),
                  "deep.json", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.accepted(), 0);
  ASSERT_EQ(response.rejected_size(), 1);
  // The same as NDJSON lines.
  status = Import("node-a", node, absl::StrCat(brackets, "\n", brackets, "\n"), "deep.ndjson",
                  &response);
  EXPECT_TRUE(status.ok() ? response.accepted() == 0 && response.rejected_size() > 0
                          : status.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  EXPECT_TRUE(Healthy("node-a", node));

  // Huge: one 3 MiB resource (under the 4 MiB message limit, over the resource limit)
  // and 20,000 small lines.
  status = Import("node-a", node,
                  absl::StrCat(R"({"resourceType":"Patient","id":"huge","text":{"div":")",
                               std::string(3 << 20, 'y'), R"("}})"),
                  "huge.json", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.accepted(), 0);
  ASSERT_EQ(response.rejected_size(), 1);
  EXPECT_THAT(response.rejected(0).message(), HasSubstr("the limit is 2097152"));
  std::string lines;
  for (int i = 0; i < 20000; ++i) {
    absl::StrAppend(&lines, R"({"resourceType":"Patient","id":"p)", i, R"("})", "\n");
  }
  status = Import("node-a", node, lines, "many.ndjson", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.accepted(), 20000);
  EXPECT_TRUE(Healthy("node-a", node));
  ExpectCleanLog("node", "");
}

TEST_F(AttackTest, NulBytesAndInvalidUtf8InNamesAreRefusedOrStoredSafely) {
  mpi_port_ = StartDaemon("mpi");
  ASSERT_GT(mpi_port_, 0);
  mpi_address_ = absl::StrCat("127.0.0.1:", mpi_port_);
  Enroll(mpi_port_, "org-a");
  auto mpi = MpiAs("node-a", mpi_port_);
  hie::v1::RegisterPatientResponse registered;
  // Invalid UTF-8 in a protobuf string field: refused before any handler runs.
  hie::v1::Demographics bad_utf8 = Jane();
  bad_utf8.mutable_names(0)->set_family("Oye\xff\xfelaran");
  grpc::Status status = Register(mpi.get(), "U1", bad_utf8, &registered);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error_code(), grpc::StatusCode::UNAVAILABLE) << "the MPI fell over";
  // A NUL byte (valid UTF-8) in the name and in the local id.
  hie::v1::Demographics nul = Jane();
  nul.mutable_names(0)->set_family(std::string("Oye\0laran", 9));
  status = Register(mpi.get(), std::string("N\0\n1", 4), nul, &registered);
  EXPECT_TRUE(status.ok() || status.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  status = Register(mpi.get(), "N2", nul, &registered);
  EXPECT_TRUE(status.ok() || status.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  EXPECT_TRUE(Healthy("node-a", mpi_port_));

  // Through a node's ingest (and its outbox, on to the MPI).
  int node = StartDaemon("node");
  ASSERT_GT(node, 0);
  hie::v1::ImportResponse response;
  status = Import("node-a", node,
                  "{\"resourceType\":\"Patient\",\"id\":\"p-nul\",\"name\":[{\"family\":"
                  "\"Oye\\u0000laran\",\"given\":[\"Ja\\u0000ne\"]}],\"birthDate\":\"1984-06-02\"}",
                  "nul.json", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.accepted() + response.rejected_size(), 1);
  status = Import("node-a", node,
                  "{\"resourceType\":\"Patient\",\"id\":\"p-utf\",\"name\":[{\"family\":"
                  "\"Oye\xc3\x28laran\"}]}",
                  "utf8.json", &response);
  EXPECT_TRUE(status.ok() ? response.accepted() == 0 && response.rejected_size() == 1
                          : status.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message() << response.DebugString();
  // Give the outbox a moment to deliver the NUL name to the MPI.
  absl::SleepFor(absl::Seconds(2));
  EXPECT_TRUE(Healthy("node-a", node));
  EXPECT_TRUE(Healthy("node-a", mpi_port_));
  ExpectCleanLog("mpi", "");
  ExpectCleanLog("node", "");
}

TEST_F(AttackTest, RequestDataCannotForgeOrCutLogLines) {
  int node = StartDaemon("node");
  ASSERT_GT(node, 0);
  const std::string forged = "2026-01-01T00:00:00.000Z INFO  hie-node: FORGED";
  // A record id that the refusal echoes, carrying a newline, a forged line and a NUL.
  auto ingest = hie::v1::Ingest::NewStub(ChannelAs("node-a", node));
  hie::v1::GetRecordRequest get;
  get.set_resource_type("Patient");
  get.set_resource_id(absl::StrCat("x\n", forged, std::string("\0tail", 5)));
  hie::v1::RecordEnvelope record;
  EXPECT_EQ(ingest->GetRecord(Context().get(), get, &record).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Healthy("node-a", node));
  ExpectCleanLog("node", forged);
}

// --- Path traversal ---------------------------------------------------------------------

TEST_F(AttackTest, PathLikeSourceNamesAreOnlyEchoedNeverOpened) {
  int node = StartDaemon("node");
  ASSERT_GT(node, 0);
  const std::string escape = (dir_.parent_path() / "hie-attack-escape").string();
  fs::remove(escape);
  for (const std::string& source :
       {std::string("../../../../../hie-attack-escape"), escape, std::string("/etc/passwd")}) {
    hie::v1::ImportResponse response;
    grpc::Status status =
        Import("node-a", node, R"({"resourceType":"Observation","id":"bad"})", source, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.rejected_size(), 1);
    EXPECT_EQ(response.rejected(0).source_name(), source);  // only named in the report
  }
  EXPECT_FALSE(fs::exists(escape));
  // hiectl import names the source by the file's base name only.
  fs::create_directories(Path("sub"));
  std::ofstream(Path("sub/bad.json")) << R"({"resourceType":"Observation","id":"bad"})";
  CommandResult result =
      HiectlAs("node-a", node, {"import", Path("sub/../sub/bad.json"), "--json"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_THAT(result.out, HasSubstr("\"source\": \"bad.json\""));
  EXPECT_TRUE(Healthy("node-a", node));
}

// --- A flood from one peer --------------------------------------------------------------

TEST_F(AttackTest, OnePracticeFloodingIsThrottledWhileOthersAreServed) {
  int node = StartWithServerLines("node",
                                  "  peer_limits { max_concurrent_calls: 4 calls_per_second: 50 "
                                  "burst: 50 }\n");
  ASSERT_GT(node, 0);
  // The flood: 400 health checks from org-a at once on one connection.
  auto flooder = ChannelAs("node-a", node);
  grpc::GenericStub stub(flooder);
  struct Call {
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    grpc::Status status;
  };
  constexpr int kFlood = 400;
  std::vector<std::unique_ptr<Call>> calls;
  absl::Mutex mu;
  int done = 0;
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  for (int i = 0; i < kFlood; ++i) {
    auto& call = calls.emplace_back(std::make_unique<Call>());
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    stub.UnaryCall(&call->context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                   &call->response, [&, raw = call.get()](grpc::Status s) {
                     absl::MutexLock lock(&mu);
                     raw->status = std::move(s);
                     ++done;
                   });
  }
  // Meanwhile another party's calls are served within a short deadline.
  int others_ok = 0;
  for (int i = 0; i < 5; ++i) {
    auto channel = ChannelAs("operator", node);
    grpc::GenericStub other(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::ByteBuffer response;
    absl::Mutex other_mu;
    bool other_done = false;
    grpc::Status other_status;
    other.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status s) {
                      absl::MutexLock lock(&other_mu);
                      other_status = std::move(s);
                      other_done = true;
                    });
    absl::MutexLock lock(&other_mu);
    other_mu.Await(absl::Condition(&other_done));
    if (other_status.ok()) ++others_ok;
  }
  EXPECT_EQ(others_ok, 5);
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](int* n) { return *n == kFlood; }, &done),
                                    absl::Seconds(60)));
  }
  int ok = 0;
  int exhausted = 0;
  std::string message;
  for (const auto& call : calls) {
    if (call->status.ok()) ++ok;
    if (call->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
      message = call->status.error_message();
    }
  }
  EXPECT_EQ(ok + exhausted, kFlood);
  EXPECT_GE(ok, 1);
  EXPECT_GE(exhausted, kFlood / 2) << "served " << ok;
  EXPECT_THAT(message, AnyOf(HasSubstr("peer_limits.calls_per_second"),
                             HasSubstr("peer_limits.max_concurrent_calls")));
  EXPECT_THAT(message, HasSubstr("org-a"));

  // Calls held open count against the concurrency limit: four Import streams from org-a
  // leave it no fifth call, while the operator is still served. A stream the limiter
  // refused on a busy machine (the flood's last calls still ending) is replaced, so the
  // check is that exactly four are admitted, whatever the timing.
  auto ingest = hie::v1::Ingest::NewStub(ChannelAs("node-a", node));
  struct Stream {
    std::unique_ptr<grpc::ClientContext> context = Context(30);
    hie::v1::ImportResponse response;
    std::unique_ptr<grpc::ClientWriter<hie::v1::ImportRequest>> writer;
  };
  std::vector<std::unique_ptr<Stream>> streams;
  auto open_stream = [&] {
    auto& s = streams.emplace_back(std::make_unique<Stream>());
    s->writer = ingest->Import(s->context.get(), &s->response);
    absl::SleepFor(absl::Milliseconds(100));  // keep under the rate limit
  };
  for (int i = 0; i < 4; ++i) open_stream();
  constexpr int kMostStreams = 8;
  bool refused = false;
  std::string refusal;
  for (int i = 0; i < 50 && !refused; ++i) {
    if (i % 10 == 9 && streams.size() < kMostStreams) open_stream();
    absl::SleepFor(absl::Milliseconds(100));
    grpc::Status s = CallAs("node-a", node, "/grpc.health.v1.Health/Check");
    refused = s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
              absl::StrContains(s.error_message(), "max_concurrent_calls");
    refusal = s.error_message();
  }
  EXPECT_TRUE(refused) << refusal;
  EXPECT_TRUE(CallAs("operator", node, "/grpc.health.v1.Health/Check").ok());
  int admitted = 0;
  std::string finishes;
  for (auto& s : streams) {
    s->writer->WritesDone();
    grpc::Status finished = s->writer->Finish();
    if (finished.ok()) {
      ++admitted;
    } else {
      EXPECT_EQ(finished.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << finished.error_message();
    }
    absl::StrAppend(&finishes, "\n  ", static_cast<int>(finished.error_code()), ": ",
                    finished.error_message());
  }
  EXPECT_EQ(admitted, 4) << streams.size() << " streams opened:" << finishes;
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_TRUE(CallAs("node-a", node, "/grpc.health.v1.Health/Check").ok());
}

TEST_F(AttackTest, PeerLimitsConfigIsValidated) {
  for (const auto& [lines, field] : std::vector<std::pair<std::string, std::string>>{
           {"  peer_limits { max_concurrent_calls: 0 }\n", "peer_limits.max_concurrent_calls"},
           {"  peer_limits { burst: 5 }\n", "peer_limits.burst"},
           {"  peer_limits { calls_per_second: -1 }\n", "peer_limits.calls_per_second"}}) {
    std::string config = WriteConfig("node", WithServerLines("node", lines));
    CommandResult result = RunCommand({BinDir() + "/hie-node", "--config", config, "--check"});
    EXPECT_NE(result.exit_code, 0) << lines;
    EXPECT_THAT(result.err, HasSubstr(field)) << lines;
  }
}

}  // namespace
}  // namespace hie::testing
