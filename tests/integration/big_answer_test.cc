// Answers in pieces and no query without its record, on real daemons (MPI, consent, a
// holder org-b and a requesting node org-a): a 20 MiB scanned letter and a thousand
// 100 KiB records for one patient arrive in full through the federated query; a record
// above the configured maximum is named as skipped while the rest arrive; a requester
// that cannot write its own query record answers nothing. Each test prints the peak
// RSS (VmHWM) of the requester and the holder.

#include <signal.h>

#include <chrono>
#include <fstream>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "proto/hie/v1/audit.grpc.pb.h"
#include "proto/hie/v1/node.grpc.pb.h"
#include "simdjson.h"
#include "tests/integration/daemon_fixture.h"

namespace hie::testing {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

struct Answer {
  grpc::Status status;
  std::vector<hie::v1::HolderStatus> holders;
  bool has_result = false;
  hie::v1::QueryResult result;
  std::string bundle;  // the pieces, joined
  int64_t pieces = 0;
  size_t largest_piece = 0;
};

class BigAnswerTest : public DaemonFixture {
 protected:
  // Starts the exchange: MPI, consent, the holder org-b (`holder_extra` in its config)
  // with patient B1, and the requesting node org-a (`requester_extra`) with patient A1.
  void StartExchange(const std::string& holder_extra = "",
                     const std::string& requester_extra = "") {
    int mpi = StartDaemon("mpi");
    ASSERT_GT(mpi, 0);
    mpi_address_ = absl::StrCat("127.0.0.1:", mpi);
    int consent = StartDaemon("consent");
    ASSERT_GT(consent, 0);
    consent_address_ = absl::StrCat("127.0.0.1:", consent);
    holder_port_ = StartDaemon("node-b", holder_extra);
    ASSERT_GT(holder_port_, 0);
    Enroll(mpi, "org-a");
    Enroll(mpi, "org-b", absl::StrCat("127.0.0.1:", holder_port_));
    hie::v1::RegisterPatientResponse registered;
    ASSERT_TRUE(Register(MpiAs("node-a", mpi).get(), "A1", Jane(), &registered).ok());
    ASSERT_TRUE(Register(MpiAs("node-b", mpi).get(), "B1", Jane(), &registered).ok());
    ImportAt("node-b", holder_port_, "b1.json", R"({"resourceType":"Patient","id":"B1"})");
    requester_port_ = StartDaemon("node", requester_extra);
    ASSERT_GT(requester_port_, 0);
    ImportAt("node-a", requester_port_, "a1.json", R"({"resourceType":"Patient","id":"A1"})");
  }

  // Writes `text` to a file and imports it with hiectl as `who`.
  void ImportAt(const std::string& who, int port, const std::string& file, const std::string& text,
                int expected_exit = 0) {
    std::string path = Path(file);
    std::ofstream(path, std::ios::binary) << text;
    CommandResult imported = HiectlAs(who, port, {"import", path});
    ASSERT_EQ(imported.exit_code, expected_exit) << imported.out << imported.err;
    last_import_ = imported.out;
  }

  Answer Query() {
    auto stub = hie::v1::FederatedQuery::NewStub(ChannelAs("node-a", requester_port_));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(240));
    hie::v1::QueryRequest request;
    request.set_local_patient_id("A1");
    request.set_purpose("TREAT");
    request.mutable_user()->set_user_id("dr.lee");
    request.set_holder_timeout_ms(120000);
    Answer out;
    auto reader = stub->Query(&context, request);
    hie::v1::QueryEvent event;
    while (reader->Read(&event)) {
      if (event.has_holder()) out.holders.push_back(event.holder());
      if (event.has_bundle()) {
        out.bundle += event.bundle().data();
        ++out.pieces;
        out.largest_piece = std::max(out.largest_piece, event.bundle().data().size());
      }
      if (event.has_result()) {
        out.result = event.result();
        out.has_result = true;
      }
    }
    out.status = reader->Finish();
    return out;
  }

  const hie::v1::HolderStatus* HolderOf(const Answer& answer, const std::string& org) {
    for (const auto& h : answer.holders) {
      if (h.org_id() == org) return &h;
    }
    return nullptr;
  }

  // Peak resident set of a daemon this test started, in KiB, from /proc.
  int64_t PeakRssKib(const std::string& name) {
    std::ifstream status(absl::StrCat("/proc/", processes_.at(name).pid(), "/status"));
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmHWM:", 0) != 0) continue;
      std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
      int64_t kib = 0;
      if (words.size() >= 2 && absl::SimpleAtoi(words[1], &kib)) return kib;
    }
    return -1;
  }

  void ReportPeakRss(const std::string& what) {
    std::cout << "[ peak rss ] " << what << ": requester " << PeakRssKib("node") / 1024
              << " MiB, holder " << PeakRssKib("node-b") / 1024 << " MiB (VmHWM)\n";
  }

  // The holder's disclosure entries for B1, read as the operator.
  std::vector<hie::v1::AuditEntry> AuditAt(int port, const std::string& org,
                                           const std::string& patient,
                                           hie::v1::AuditAction action) {
    auto audit = hie::v1::AuditLog::NewStub(ChannelAs("operator", port));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    hie::v1::QueryByPatientRequest query;
    query.mutable_local()->set_org_id(org);
    query.mutable_local()->set_local_id(patient);
    query.set_action(action);
    auto reader = audit->QueryByPatient(&context, query);
    std::vector<hie::v1::AuditEntry> out;
    hie::v1::AuditEntry entry;
    while (reader->Read(&entry)) out.push_back(entry);
    grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return out;
  }

  int holder_port_ = 0;
  int requester_port_ = 0;
  std::string last_import_;
};

std::string Observation(const std::string& id, const std::string& value) {
  return absl::StrCat(R"({"resourceType":"Observation","id":")", id,
                      R"(","status":"final","code":{"text":"scan note"},)",
                      R"("subject":{"reference":"Patient/B1"},"valueString":")", value, R"("})");
}

// The resource of the Bundle entry whose resource has `type` and `id`.
bool FindResource(simdjson::dom::element bundle, std::string_view type, std::string_view id,
                  simdjson::dom::element* out) {
  simdjson::dom::array entries;
  if (bundle["entry"].get_array().get(entries)) return false;
  for (simdjson::dom::element entry : entries) {
    std::string_view t, i;
    if (entry["resource"]["resourceType"].get_string().get(t) || t != type) continue;
    if (entry["resource"]["id"].get_string().get(i) || i != id) continue;
    *out = entry["resource"];
    return true;
  }
  return false;
}

TEST_F(BigAnswerTest, TwentyMebibyteDocumentReferenceArrivesWhole) {
  StartExchange();
  // A scanned letter: 15 MiB of bytes, 20 MiB as base64 (a JSON file hiectl sends in
  // pieces, each under the 4 MiB message limit).
  std::mt19937_64 random(27);
  std::string scan(15 << 20, '\0');
  for (auto& c : scan) c = static_cast<char>(random());
  std::string data = absl::Base64Escape(scan);
  ASSERT_GE(data.size(), size_t{20} << 20);
  ImportAt("node-b", holder_port_, "letter.json",
           absl::StrCat(R"({"resourceType":"DocumentReference","id":"letter","status":"current",)",
                        R"("subject":{"reference":"Patient/B1"},"content":[{"attachment":)",
                        R"({"contentType":"application/pdf","data":")", data, R"("}}]})"));
  EXPECT_THAT(last_import_, HasSubstr("accepted 1"));
  ReportPeakRss("after importing the 20 MiB DocumentReference");

  Answer answer = Query();
  ASSERT_TRUE(answer.status.ok()) << answer.status.error_message();
  ASSERT_TRUE(answer.has_result);
  const hie::v1::HolderStatus* holder = HolderOf(answer, "org-b");
  ASSERT_NE(holder, nullptr);
  EXPECT_EQ(holder->state(), hie::v1::HolderStatus::STATE_OK) << holder->message();
  EXPECT_EQ(holder->records(), 2);
  EXPECT_EQ(holder->skipped(), 0);
  EXPECT_EQ(static_cast<int64_t>(answer.bundle.size()), answer.result.bundle_bytes());
  EXPECT_GT(answer.pieces, 20);
  EXPECT_LE(answer.largest_piece, size_t{1} << 20);
  simdjson::dom::parser parser;
  simdjson::dom::element bundle, letter;
  ASSERT_EQ(parser.parse(answer.bundle).get(bundle), simdjson::SUCCESS);
  ASSERT_TRUE(FindResource(bundle, "DocumentReference", "letter", &letter));
  std::string_view got;
  ASSERT_EQ(letter["content"].at(0)["attachment"]["data"].get_string().get(got), simdjson::SUCCESS);
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "the attachment's bytes changed on the way";
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(absl::string_view(got.data(), got.size()), &decoded));
  EXPECT_TRUE(decoded == scan);
  ReportPeakRss("after the query for the 20 MiB DocumentReference");

  // hiectl query assembles the same Bundle.
  CommandResult cli = HiectlAs("node-a", requester_port_,
                               {"query", "--patient", "A1", "--purpose", "TREAT", "--bundle",
                                Path("out.json"), "--holder-timeout-ms", "120000"});
  ASSERT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_THAT(cli.out, HasSubstr("1 DocumentReference"));
  std::ifstream written(Path("out.json"), std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(written)), std::istreambuf_iterator<char>());
  simdjson::dom::element from_file, letter_from_file;
  ASSERT_EQ(parser.parse(file).get(from_file), simdjson::SUCCESS);
  ASSERT_TRUE(FindResource(from_file, "DocumentReference", "letter", &letter_from_file));
  ASSERT_EQ(letter_from_file["content"].at(0)["attachment"]["data"].get_string().get(got),
            simdjson::SUCCESS);
  EXPECT_TRUE(got == data);
}

TEST_F(BigAnswerTest, ThousandRecordsOf100KiBArriveInFull) {
  StartExchange();
  auto value = [](int i) {
    return absl::StrCat("note-", i, "-", std::string(100 << 10, static_cast<char>('a' + i % 26)));
  };
  std::string ndjson;
  for (int i = 0; i < 1000; ++i)
    absl::StrAppend(&ndjson, Observation(absl::StrCat("o", i), value(i)), "\n");
  ImportAt("node-b", holder_port_, "notes.ndjson", ndjson);
  EXPECT_THAT(last_import_, HasSubstr("accepted 1000"));
  std::string().swap(ndjson);
  ReportPeakRss("after importing a thousand 100 KiB records");

  Answer answer = Query();
  ASSERT_TRUE(answer.status.ok()) << answer.status.error_message();
  ASSERT_TRUE(answer.has_result);
  const hie::v1::HolderStatus* holder = HolderOf(answer, "org-b");
  ASSERT_NE(holder, nullptr);
  EXPECT_EQ(holder->state(), hie::v1::HolderStatus::STATE_OK) << holder->message();
  EXPECT_EQ(holder->records(), 1001);
  EXPECT_EQ(answer.result.entries(), 1002);  // with A1 from the requester itself
  EXPECT_EQ(static_cast<int64_t>(answer.bundle.size()), answer.result.bundle_bytes());
  EXPECT_GT(answer.bundle.size(), size_t{1000} * (100 << 10));
  EXPECT_LE(answer.largest_piece, size_t{1} << 20);
  simdjson::dom::parser parser;
  simdjson::dom::element bundle;
  ASSERT_EQ(parser.parse(answer.bundle).get(bundle), simdjson::SUCCESS);
  simdjson::dom::array entries;
  ASSERT_EQ(bundle["entry"].get_array().get(entries), simdjson::SUCCESS);
  int observations = 0;
  for (simdjson::dom::element entry : entries) {
    std::string_view type;
    if (!entry["resource"]["resourceType"].get_string().get(type) && type == "Observation") {
      ++observations;
    }
  }
  EXPECT_EQ(observations, 1000);
  for (int i : {0, 1, 499, 998, 999}) {
    simdjson::dom::element observation;
    ASSERT_TRUE(FindResource(bundle, "Observation", absl::StrCat("o", i), &observation)) << i;
    std::string_view got;
    ASSERT_EQ(observation["valueString"].get_string().get(got), simdjson::SUCCESS);
    EXPECT_TRUE(got == value(i)) << "record o" << i << " changed on the way";
  }
  ReportPeakRss("after the query for a thousand 100 KiB records");
}

// The holder sends nothing above its 256 KiB limit; the requester takes nothing above
// its 128 KiB limit. Each left-out record is named; the rest arrive; the holder's
// disclosure audit says what it skipped.
TEST_F(BigAnswerTest, RecordAboveTheMaximumIsSkippedByReferenceAndTheRestArrive) {
  StartExchange("limits { max_record_bytes: 262144 }\n", "limits { max_record_bytes: 131072 }\n");
  std::string ndjson =
      absl::StrCat(Observation("huge", std::string(1 << 20, 'h')), "\n",
                   Observation("mid", std::string(200 << 10, 'm')), "\n",
                   Observation("small1", "one"), "\n", Observation("small2", "two"), "\n");
  ImportAt("node-b", holder_port_, "mixed.ndjson", ndjson);
  EXPECT_THAT(last_import_, HasSubstr("accepted 4"));

  Answer answer = Query();
  ASSERT_TRUE(answer.status.ok()) << answer.status.error_message();
  ASSERT_TRUE(answer.has_result);
  const hie::v1::HolderStatus* holder = HolderOf(answer, "org-b");
  ASSERT_NE(holder, nullptr);
  EXPECT_EQ(holder->state(), hie::v1::HolderStatus::STATE_OK) << holder->message();
  EXPECT_EQ(holder->records(), 3);  // B1, small1, small2
  EXPECT_EQ(holder->skipped(), 2);
  EXPECT_THAT(holder->skipped_references(),
              UnorderedElementsAre("Observation/huge", "Observation/mid"));
  simdjson::dom::parser parser;
  simdjson::dom::element bundle, found;
  ASSERT_EQ(parser.parse(answer.bundle).get(bundle), simdjson::SUCCESS);
  EXPECT_TRUE(FindResource(bundle, "Observation", "small1", &found));
  EXPECT_TRUE(FindResource(bundle, "Observation", "small2", &found));
  EXPECT_FALSE(FindResource(bundle, "Observation", "huge", &found));
  EXPECT_FALSE(FindResource(bundle, "Observation", "mid", &found));
  EXPECT_EQ(answer.result.entries(), 4);

  // The holder's disclosure entry names what it did not send.
  std::vector<hie::v1::AuditEntry> disclosed =
      AuditAt(holder_port_, "org-b", "B1", hie::v1::AUDIT_ACTION_DISCLOSE);
  ASSERT_EQ(disclosed.size(), 1u);
  EXPECT_THAT(disclosed[0].detail(), HasSubstr("sent 4"));  // B1, mid, small1, small2
  EXPECT_THAT(disclosed[0].detail(), HasSubstr("skipped 1"));
  EXPECT_THAT(disclosed[0].detail(), HasSubstr("Observation/huge"));
  // The requester's record of the query counts the skipped one too.
  std::vector<hie::v1::AuditEntry> queries =
      AuditAt(requester_port_, "org-a", "A1", hie::v1::AUDIT_ACTION_QUERY);
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0].outcome(), "started");
  EXPECT_EQ(queries[1].outcome(), "ok");
  EXPECT_THAT(queries[1].detail(), HasSubstr("skipped 2"));

  // hiectl query names them for the clinician.
  CommandResult cli =
      HiectlAs("node-a", requester_port_, {"query", "--patient", "A1", "--purpose", "TREAT"});
  ASSERT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_THAT(cli.out, HasSubstr("2 record(s) skipped"));
  EXPECT_THAT(cli.out, HasSubstr("Observation/huge"));
  EXPECT_THAT(cli.out, HasSubstr("Observation/mid"));
  ReportPeakRss("records above the maximum");
}

// A holder whose answer passes the requester's limits.max_answer_bytes (a holder sending
// far more than any patient's record, or a hostile one) costs only its own results: it is
// cut off and reported failed, and the requester's own records still arrive.
TEST_F(BigAnswerTest, AHolderAnswerAboveTheBudgetIsCutOffAndTheRestArrives) {
  StartExchange("", "limits { max_record_bytes: 262144 max_answer_bytes: 1048576 }\n");
  std::string ndjson;
  for (int i = 0; i < 12; ++i) {
    absl::StrAppend(&ndjson, Observation(absl::StrCat("part", i), std::string(200 << 10, 'p')),
                    "\n");
  }
  ImportAt("node-b", holder_port_, "many.ndjson", ndjson);
  EXPECT_THAT(last_import_, HasSubstr("accepted 12"));

  Answer answer = Query();
  ASSERT_TRUE(answer.status.ok()) << answer.status.error_message();
  ASSERT_TRUE(answer.has_result);
  const hie::v1::HolderStatus* holder = HolderOf(answer, "org-b");
  ASSERT_NE(holder, nullptr);
  EXPECT_EQ(holder->state(), hie::v1::HolderStatus::STATE_FAILED);
  EXPECT_THAT(holder->message(), HasSubstr("max_answer_bytes"));
  simdjson::dom::parser parser;
  simdjson::dom::element bundle, found;
  ASSERT_EQ(parser.parse(answer.bundle).get(bundle), simdjson::SUCCESS);
  EXPECT_TRUE(FindResource(bundle, "Patient", "A1", &found));  // this practice's own
  EXPECT_FALSE(FindResource(bundle, "Observation", "part0", &found));
  ReportPeakRss("a holder answer above the budget");
}

// Import: a resource above the configured maximum is rejected with the limit named and
// the rest of the import is stored; one under it, sent in pieces, is stored whole.
TEST_F(BigAnswerTest, ImportAboveTheConfiguredMaximumIsRejectedAndReported) {
  requester_port_ = StartDaemon("node", "limits { max_import_resource_bytes: 2097152 }\n");
  ASSERT_GT(requester_port_, 0);
  ImportAt("node-a", requester_port_, "big.json",
           absl::StrCat(R"({"resourceType":"Patient","id":"big","text":{"div":")",
                        std::string(3 << 20, 'y'), R"("}})"),
           1);
  EXPECT_THAT(last_import_, HasSubstr("accepted 0"));
  EXPECT_THAT(last_import_, HasSubstr("2097152"));
  ImportAt("node-a", requester_port_, "fits.json",
           absl::StrCat(R"({"resourceType":"Patient","id":"fits","text":{"div":")",
                        std::string(3 << 19, 'z'), R"("}})"));
  EXPECT_THAT(last_import_, HasSubstr("accepted 1"));
  std::string ndjson = absl::StrCat(R"({"resourceType":"Patient","id":"p1"})", "\n",
                                    R"({"resourceType":"Patient","id":"p2","text":{"div":")",
                                    std::string(3 << 20, 'w'), R"("}})", "\n",
                                    R"({"resourceType":"Patient","id":"p3"})", "\n");
  ImportAt("node-a", requester_port_, "mixed.ndjson", ndjson, 1);
  EXPECT_THAT(last_import_, HasSubstr("accepted 2"));
  EXPECT_THAT(last_import_, HasSubstr("2097152"));
}

// The requester's disk fills up (RLIMIT_FSIZE through prlimit, SIGXFSZ ignored): once it
// cannot write its query record, a query is refused UNAVAILABLE and no record reaches
// the user. After a restart with space, every answered query has its record.
class FullRequesterAuditTest : public BigAnswerTest {
 protected:
  void SetUp() override {
    previous_ = signal(SIGXFSZ, SIG_IGN);
    launch_prefix_["node"] = {"/usr/bin/env", "prlimit", "--fsize=65536"};
    BigAnswerTest::SetUp();
  }
  void TearDown() override {
    BigAnswerTest::TearDown();
    signal(SIGXFSZ, previous_);
  }

  sighandler_t previous_ = SIG_DFL;
};

TEST_F(FullRequesterAuditTest, NoQueryIsAnsweredWithoutItsRecord) {
  StartExchange();
  int answered = 0;
  Answer refused;
  for (int i = 0; i < 2000; ++i) {
    Answer answer = Query();
    if (!answer.status.ok()) {
      refused = std::move(answer);
      break;
    }
    ASSERT_TRUE(answer.has_result);
    ASSERT_GT(answer.bundle.size(), 0u);
    ++answered;
  }
  ASSERT_FALSE(refused.status.ok()) << "the requester's disk never filled up";
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << refused.status.error_message();
  EXPECT_THAT(refused.status.error_message(), HasSubstr("cannot record the query"));
  EXPECT_TRUE(refused.bundle.empty()) << refused.bundle.size() << " bytes left unrecorded";
  EXPECT_EQ(refused.pieces, 0);
  EXPECT_FALSE(refused.has_result);
  ASSERT_GT(answered, 0);

  // Space again, and a restart: the chain is intact and every answered query has its
  // completion record (the refused one may have its start, never its completion).
  launch_prefix_.erase("node");
  processes_.erase("node");
  requester_port_ = StartDaemon("node");
  ASSERT_GT(requester_port_, 0);
  auto audit = hie::v1::AuditLog::NewStub(ChannelAs("operator", requester_port_));
  grpc::ClientContext context;
  hie::v1::VerifyAuditResponse verified;
  ASSERT_TRUE(audit->Verify(&context, {}, &verified).ok());
  EXPECT_TRUE(verified.ok()) << verified.problem();
  int completed = 0, started = 0;
  for (const auto& entry : AuditAt(requester_port_, "org-a", "A1", hie::v1::AUDIT_ACTION_QUERY)) {
    if (entry.outcome() == "ok") ++completed;
    if (entry.outcome() == "started") ++started;
  }
  EXPECT_GE(completed, answered);
  EXPECT_LE(completed, answered + 1);  // written, then its sync failed
  EXPECT_GE(started, answered);
  std::cout << "[ full     ] " << answered
            << " queries answered and recorded before the requester's disk filled\n";
}

}  // namespace
}  // namespace hie::testing
