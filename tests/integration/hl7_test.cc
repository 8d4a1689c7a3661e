// hie-node's HL7 v2 feed end to end: the real daemon with an MLLP listener, hiectl hl7
// send over loopback (plain and TLS), the records it stored read back over mutual TLS,
// resends, refusals, and a clean stop.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/hie/v1/node.grpc.pb.h"
#include "tests/integration/daemon_fixture.h"

namespace hie::testing {
namespace {

using ::testing::HasSubstr;

class Hl7DaemonTest : public DaemonFixture {
 protected:
  // Starts the node with an MLLP listener on a free loopback port; returns {grpc, mllp}.
  std::pair<int, int> StartNodeWithHl7(const std::string& extra = "") {
    fs::remove(Path("hl7.port"));
    int port = StartDaemon("node", absl::StrCat("hl7 { listen_address: \"127.0.0.1:0\" "
                                                "port_file: \"hl7.port\" ",
                                                extra, " }\n"));
    auto mllp = WaitForPortFile(Path("hl7.port"), absl::Seconds(30));
    EXPECT_TRUE(mllp.ok()) << mllp.status() << ReadWholeFile(Log("node"));
    return {port, mllp.ok() ? *mllp : 0};
  }

  std::string WriteMessages(const std::string& name, const std::vector<std::string>& messages) {
    std::string path = Path(name);
    std::ofstream out(path, std::ios::binary);
    for (const auto& m : messages) out << m;
    return path;
  }

  absl::StatusOr<hie::v1::RecordEnvelope> GetRecord(int port, const std::string& type,
                                                    const std::string& id) {
    auto ingest = hie::v1::Ingest::NewStub(ChannelAs("node-a", port));
    grpc::ClientContext context;
    hie::v1::GetRecordRequest request;
    request.set_resource_type(type);
    request.set_resource_id(id);
    hie::v1::RecordEnvelope record;
    grpc::Status status = ingest->GetRecord(&context, request, &record);
    if (!status.ok()) return absl::NotFoundError(status.error_message());
    return record;
  }
};

constexpr char kAdmit[] =
    "MSH|^~\\&|EMR|CLINIC|HIE|NODE|20240101120000+0100||ADT^A01^ADT_A01|ADM-1|P|2.5.1\r"
    "EVN|A01|20240101120000+0100\r"
    "PID|1||MRN-77^^^Clinic&1.2.3.4&ISO^MR||Dupont^Ren\\XC3A9\\e^^^^^L||19750505|F\r"
    "PV1|1|I|W2^12^B||||||||||||||||V-9\r";
constexpr char kResult[] =
    "MSH|^~\\&|LAB|CLINIC|HIE|NODE|20240102090000+0100||ORU^R01|LAB-1|P|2.5.1\n"
    "PID|1||MRN-77^^^Clinic&1.2.3.4&ISO^MR||Dupont^Ren\\XC3A9\\e^^^^^L||19750505|F\n"
    "OBR|1||F-1|56888-1^HIV 1+2 Ab+HIV1 p24 Ag^LN|||20240102080000+0100\n"
    "OBX|1|CWE|56888-1^HIV 1+2 Ab+HIV1 p24 Ag^LN||260385009^Negative^SCT||||||F\n";

TEST_F(Hl7DaemonTest, MessagesOverMllpAreStoredLabelledAndAcknowledged) {
  auto [port, mllp] = StartNodeWithHl7();
  ASSERT_GT(port, 0);
  ASSERT_GT(mllp, 0);
  std::string target = absl::StrCat("127.0.0.1:", mllp);
  std::string file = WriteMessages("feed.hl7", {kAdmit, kResult});
  CommandResult sent = Hiectl({"hl7", "send", "--target", target, file});
  EXPECT_EQ(sent.exit_code, 0) << sent.out << sent.err << ReadWholeFile(Log("node"));
  EXPECT_THAT(sent.out, HasSubstr("MSA|AA|ADM-1"));
  EXPECT_THAT(sent.out, HasSubstr("MSA|AA|LAB-1"));

  // Durable and readable through the node's own API, labelled like FHIR ingest would.
  ASSERT_OK_AND_ASSIGN(auto patient, GetRecord(port, "Patient", "MRN-77"));
  EXPECT_THAT(patient.fhir_json(), HasSubstr("Ren\xC3\xA9"
                                             "e"));
  EXPECT_THAT(patient.fhir_json(), HasSubstr("urn:oid:1.2.3.4"));
  EXPECT_EQ(patient.version(), 1);  // the result's PID says the same: unchanged

  // A resend: acknowledged again, not applied twice.
  sent = Hiectl({"hl7", "send", "--target", target, "--json", file});
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_THAT(sent.out, HasSubstr("\"ack_code\": \"AA\""));
  ASSERT_OK_AND_ASSIGN(patient, GetRecord(port, "Patient", "MRN-77"));
  EXPECT_EQ(patient.version(), 1);

  // A message with unusable delimiters is refused with the reason.
  std::string bad = WriteMessages(
      "bad.hl7", {"MSH|&&&&|LAB|CLINIC|HIE|NODE|2024||ORU^R01|X-1|P|2.5.1\rPID|1||1\r"});
  sent = Hiectl({"hl7", "send", "--target", target, bad});
  EXPECT_EQ(sent.exit_code, 1);
  EXPECT_THAT(sent.out, HasSubstr("MSA|AR"));
  EXPECT_THAT(sent.out, HasSubstr("MSH-2 encoding characters"));

  // The shared samples, as a practice's engine would send them, when present.
  fs::path samples = fs::path(std::getenv("HIE_SOURCE_DIR") ? std::getenv("HIE_SOURCE_DIR")
                                                            : HIE_TEST_SOURCE_DIR) /
                     "../shared/data/hl7v2";
  if (fs::exists(samples)) {
    sent = Hiectl({"hl7", "send", "--target", target, "--json",
                   (samples / "cdc-ORU-CaseLab_001-STD-HIV-escapes-v2.5.1.hl7").string(),
                   (samples / "msft-ADT-A40-02.hl7").string()});
    EXPECT_EQ(sent.exit_code, 0) << sent.out << sent.err;
    ASSERT_OK_AND_ASSIGN(auto retired, GetRecord(port, "Patient", "56789"));
    EXPECT_THAT(retired.fhir_json(), HasSubstr("replaced-by"));
  }

  // SIGTERM stops the listener with the daemon, cleanly.
  auto stopped = processes_.at("node").Stop(SIGTERM, absl::Seconds(20));
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(*stopped, 0) << ReadWholeFile(Log("node"));
  EXPECT_THAT(ReadWholeFile(Log("node")), HasSubstr("MLLP listener stopped"));
}

TEST_F(Hl7DaemonTest, TlsListenerWithTheNodesCertificate) {
  auto [port, mllp] = StartNodeWithHl7("tls: true");
  ASSERT_GT(mllp, 0);
  std::string target = absl::StrCat("127.0.0.1:", mllp);
  std::string file = WriteMessages("feed.hl7", {kAdmit});
  CommandResult sent =
      Hiectl({"hl7", "send", "--target", target, "--tls", "--ca", Path("ca/ca.crt"), file});
  EXPECT_EQ(sent.exit_code, 0) << sent.out << sent.err << ReadWholeFile(Log("node"));
  EXPECT_THAT(sent.out, HasSubstr("MSA|AA|ADM-1"));
  // Plain MLLP to a TLS listener gets no acknowledgement.
  sent = Hiectl({"hl7", "send", "--target", target, "--timeout-ms", "2000", file});
  EXPECT_NE(sent.exit_code, 0);
}

TEST_F(Hl7DaemonTest, NonLoopbackWithoutTlsIsRefusedAtStart) {
  std::string config =
      WriteConfig("node", ConfigText("node", "hl7 { listen_address: \"0.0.0.0:0\" }\n"));
  CommandResult checked = RunCommand({BinDir() + "/hie-node", "--config", config, "--check"});
  EXPECT_EQ(checked.exit_code, 1);
  EXPECT_THAT(checked.err, HasSubstr("hl7.listen_address"));
  EXPECT_THAT(checked.err, HasSubstr("allow_plaintext_lan"));
}

// Raw TCP to the MLLP port: a connection that stays silent is closed after the idle
// timeout, and one whose message grows past max_message_bytes is closed at once; the
// listener goes on serving others.
TEST_F(Hl7DaemonTest, IdleAndOversizedConnectionsAreClosedAndOthersServed) {
  auto [port, mllp] = StartNodeWithHl7("idle_timeout_seconds: 1 max_message_bytes: 2048");
  ASSERT_GT(mllp, 0);
  const int mllp_port = mllp;  // a structured binding cannot be captured before C++20's P1091
  auto connect_raw = [&]() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(mllp_port));
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval limit{10, 0};  // bounded: the test fails rather than hangs
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    return fd;
  };
  // Silent: closed (recv sees the end) after about a second.
  int idle = connect_raw();
  absl::Time start = absl::Now();
  char byte;
  EXPECT_EQ(::recv(idle, &byte, 1, 0), 0);
  absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(900));
  EXPECT_LT(waited, absl::Seconds(5));
  ::close(idle);
  // Trickling: a byte every 300 ms and never a whole message does not renew the idle
  // deadline (it would hold one of the few connection slots for ever).
  int trickle = connect_raw();
  ::fcntl(trickle, F_SETFL, ::fcntl(trickle, F_GETFL) | O_NONBLOCK);
  start = absl::Now();
  bool closed = false;
  while (!closed && absl::Now() - start < absl::Seconds(8)) {
    ::send(trickle, "A", 1, MSG_NOSIGNAL);
    absl::SleepFor(absl::Milliseconds(300));
    ssize_t got = ::recv(trickle, &byte, 1, 0);
    closed = got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }
  EXPECT_TRUE(closed) << "a trickling connection kept its slot";
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  ::close(trickle);
  // Oversized: a frame start and 4 KiB with no end.
  int big = connect_raw();
  std::string frame = "\x0b" + std::string(4096, 'A');
  ASSERT_EQ(::send(big, frame.data(), frame.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(frame.size()));
  char buffer[256];
  ssize_t n = 0;
  while ((n = ::recv(big, buffer, sizeof(buffer), 0)) > 0) {
  }
  EXPECT_EQ(n, 0) << "the connection was not closed";
  ::close(big);
  // The listener still serves a proper message.
  std::string file = WriteMessages("after.hl7", {kAdmit});
  CommandResult sent = Hiectl({"hl7", "send", "--target", absl::StrCat("127.0.0.1:", mllp), file});
  EXPECT_EQ(sent.exit_code, 0) << sent.out << sent.err;
  EXPECT_THAT(sent.out, HasSubstr("MSA|AA|ADM-1"));
}

}  // namespace
}  // namespace hie::testing
