// The shared gRPC/TLS layer under attack, on the real daemons: floods of plain TCP
// connections past the descriptor limit, a rolled-back CRL, a member calling what its
// role may not, a certificate of another CA. Each refusal must hold and be audited in
// the daemon's own chain, in a bounded number of entries.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/limits/descriptors.h"
#include "common/pki/identity.h"
#include "common/store/key_codec.h"
#include "common/store/kv_store.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "proto/hie/v1/audit.pb.h"
#include "tests/integration/daemon_fixture.h"

namespace hie::testing {
namespace {

using ::testing::HasSubstr;

class ListenTest : public DaemonFixture {
 protected:
  // Starts `name` with `server_extra` inside its server { } block.
  int StartWith(const std::string& name, const std::string& server_extra,
                const std::string& extra = "") {
    std::string text = ConfigText(name, extra);
    size_t at = text.find("server {\n");
    text.insert(at + 9, server_extra + "\n");
    std::string config = WriteConfig(name, text);
    fs::remove(Path(name + ".port"));
    std::vector<std::string> argv = launch_prefix_[name];
    for (const std::string& arg :
         {BinDir() + "/" + Instances().at(name).binary, std::string("--config"), config}) {
      argv.push_back(arg);
    }
    auto process = ChildProcess::Start(argv, Log(name));
    EXPECT_TRUE(process.ok());
    if (!process.ok()) return 0;
    processes_.erase(name);
    processes_.emplace(name, std::move(*process));
    auto port = WaitForPortFile(Path(name + ".port"), absl::Seconds(30));
    EXPECT_TRUE(port.ok()) << port.status() << "\nlog:\n" << ReadWholeFile(Log(name));
    return port.ok() ? *port : 0;
  }

  void Stop(const std::string& name) {
    auto it = processes_.find(name);
    ASSERT_NE(it, processes_.end());
    auto code = it->second.Stop(SIGTERM, absl::Seconds(30));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << ReadWholeFile(Log(name));
    processes_.erase(it);
  }

  // The audit chain of a stopped daemon, read from its store.
  std::vector<hie::v1::AuditEntry> AuditEntries(const std::string& store_dir) {
    std::vector<hie::v1::AuditEntry> entries;
    auto store = store::KvStore::Open(Path(store_dir));
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return entries;
    const std::string prefix = store::KeyBuilder().AddString("audit").AddString("e").Build();
    absl::Status s = (*store)->ScanPrefix(prefix, [&](absl::string_view, absl::string_view value) {
      hie::v1::AuditEntry entry;
      if (value.size() > 64 && entry.ParseFromArray(value.data() + 64, value.size() - 64)) {
        entries.push_back(entry);
      }
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return entries;
  }

  static std::vector<hie::v1::AuditEntry> WithAction(const std::vector<hie::v1::AuditEntry>& all,
                                                     hie::v1::AuditAction action) {
    std::vector<hie::v1::AuditEntry> out;
    for (const auto& e : all) {
      if (e.action() == action) out.push_back(e);
    }
    return out;
  }

  // A health check as `who` on a fresh channel, with a short deadline.
  bool Healthy(const std::string& who, int port, absl::Duration deadline = absl::Seconds(2)) {
    auto channel = ChannelAs(who, port);
    if (channel == nullptr) return false;
    return CallOn(channel, "/grpc.health.v1.Health/Check", deadline).ok();
  }

  // Opens `count` plain TCP connections to `port` (no TLS, nothing sent). Returns the
  // descriptors; connections the kernel has not completed yet are still counted.
  static std::vector<int> Flood(int port, int count) {
    std::vector<int> fds;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < count; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) break;
      (void)::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
      fds.push_back(fd);
    }
    return fds;
  }

  static std::string ProcStatus(pid_t pid, const std::string& field) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
    std::string line;
    while (std::getline(in, line)) {
      if (absl::StartsWith(line, field + ":")) return line;
    }
    return field + ": ?";
  }

  static int OpenDescriptors(pid_t pid) {
    std::error_code ec;
    int n = 0;
    for (auto it = fs::directory_iterator(absl::StrCat("/proc/", pid, "/fd"), ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      ++n;
    }
    return n;
  }

  void SetUp() override {
    DaemonFixture::SetUp();
    ASSERT_TRUE(RaiseDescriptorLimit().ok());  // the flood comes from this process
  }
};

// A flood of plain TCP connections, four times the daemon's descriptor limit, held
// open and then dropped: the daemon never runs out of descriptors, and serves a real
// mTLS health call again within 5 s of the flood ending.
TEST_F(ListenTest, FloodOfPlainConnectionsPastTheDescriptorLimitIsSurvived) {
  launch_prefix_["mpi"] = {"/usr/bin/env", "prlimit", "--nofile=256:256"};
  int port = StartWith("mpi", "connection_limits { handshake_timeout_seconds: 3 }");
  ASSERT_GT(port, 0);
  ASSERT_TRUE(Healthy("node-a", port, absl::Seconds(10)));
  const pid_t pid = processes_.at("mpi").pid();

  std::vector<int> flood = Flood(port, 1000);
  ASSERT_GE(flood.size(), 900u);
  absl::SleepFor(absl::Seconds(2));
  const int open_during = OpenDescriptors(pid);
  const bool served_during = Healthy("node-b", port);
  std::cout << "flood of " << flood.size() << " connections: daemon holds " << open_during
            << " descriptors (limit 256); served another peer during the flood: "
            << (served_during ? "yes" : "no") << "; " << ProcStatus(pid, "VmHWM") << "\n";
  RecordProperty("descriptors_during_flood", open_during);
  RecordProperty("vm_hwm", ProcStatus(pid, "VmHWM"));
  EXPECT_LT(open_during, 256);
  for (int fd : flood) ::close(fd);

  const absl::Time flood_ended = absl::Now();
  bool healthy = false;
  while (!healthy && absl::Now() - flood_ended < absl::Seconds(5)) {
    healthy = Healthy("node-a", port, absl::Seconds(1));
    if (!healthy) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(healthy) << "not serving 5 s after the flood ended\n" << ReadWholeFile(Log("mpi"));
  std::cout << "serving again " << absl::FormatDuration(absl::Now() - flood_ended)
            << " after the flood ended\n";

  // A second flood after the first: the listener did not stop for good.
  flood = Flood(port, 1000);
  absl::SleepFor(absl::Seconds(1));
  for (int fd : flood) ::close(fd);
  const absl::Time second_ended = absl::Now();
  healthy = false;
  while (!healthy && absl::Now() - second_ended < absl::Seconds(5)) {
    healthy = Healthy("node-a", port, absl::Seconds(1));
    if (!healthy) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(healthy) << "not serving 5 s after the second flood ended";
  std::cout << "after the second flood: " << ProcStatus(pid, "VmHWM") << "\n";
}

// The same for the node's MLLP port, flooded together with its gRPC port, so that
// descriptors run short for the MLLP listener too: afterwards it accepts and answers.
TEST_F(ListenTest, MllpListenerKeepsAcceptingAfterAFlood) {
  launch_prefix_["node"] = {"/usr/bin/env", "prlimit", "--nofile=256:256"};
  fs::remove(Path("hl7.port"));
  int port = StartWith("node", "connection_limits { handshake_timeout_seconds: 3 }",
                       "hl7 { listen_address: \"127.0.0.1:0\" port_file: \"hl7.port\" }\n");
  ASSERT_GT(port, 0);
  auto mllp = WaitForPortFile(Path("hl7.port"), absl::Seconds(30));
  ASSERT_TRUE(mllp.ok()) << mllp.status();
  const pid_t pid = processes_.at("node").pid();

  std::vector<int> grpc_flood = Flood(port, 600);
  std::vector<int> mllp_flood = Flood(*mllp, 1000);
  absl::SleepFor(absl::Seconds(2));
  const int open_during = OpenDescriptors(pid);
  std::cout << "node during the flood: " << open_during << " descriptors (limit 256); "
            << ProcStatus(pid, "VmHWM") << "\n";
  EXPECT_LT(open_during, 256);
  for (int fd : grpc_flood) ::close(fd);
  for (int fd : mllp_flood) ::close(fd);

  // A real MLLP exchange: a framed ADT message gets a framed ACK.
  const std::string message =
      "MSH|^~\\&|EMR|CLINIC|HIE|NODE|20240101120000+0100||ADT^A01^ADT_A01|FLOOD-1|P|2.5.1\r"
      "PID|1||MRN-9^^^Clinic&1.2.3.4&ISO^MR||Doe^Jo||19750505|F\r";
  std::string reply;
  const absl::Time flood_ended = absl::Now();
  while (reply.empty() && absl::Now() - flood_ended < absl::Seconds(10)) {
    std::vector<int> one = Flood(*mllp, 1);
    ASSERT_EQ(one.size(), 1u);
    int fd = one[0];
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    timeval timeout{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    std::string framed = absl::StrCat("\x0b", message, "\x1c\r");
    if (::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(framed.size())) {
      char buffer[4096];
      ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n > 0) reply.assign(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    if (reply.empty()) absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_THAT(reply, HasSubstr("MSA|")) << ReadWholeFile(Log("node"));
  EXPECT_TRUE(Healthy("node-a", port, absl::Seconds(5)));
}

// A practice's node calling the MPI's Merge and Link, which only operators may: refused,
// and audited in the MPI's chain as REFUSE, one entry at once and one summary for a
// flood of 300 more, not 300 entries.
TEST_F(ListenTest, NodeCallingMergeOrLinkAtTheMpiIsRefusedAndAuditedBoundedly) {
  int port = StartWith("mpi", "");
  ASSERT_GT(port, 0);
  grpc::Status first = CallAs("node-a", port, "/hie.v1.MasterPatientIndex/Merge");
  EXPECT_EQ(first.error_code(), grpc::StatusCode::PERMISSION_DENIED) << first.error_message();
  grpc::Status link = CallAs("node-a", port, "/hie.v1.MasterPatientIndex/Link");
  EXPECT_EQ(link.error_code(), grpc::StatusCode::PERMISSION_DENIED) << link.error_message();
  {
    auto channel = ChannelAs("node-a", port);
    for (int i = 0; i < 300; ++i) {
      ASSERT_EQ(CallOn(channel, "/hie.v1.MasterPatientIndex/Merge").error_code(),
                grpc::StatusCode::PERMISSION_DENIED);
    }
  }
  Stop("mpi");  // a clean stop writes the open window's summary

  std::vector<hie::v1::AuditEntry> refused =
      WithAction(AuditEntries("data/mpi/index"), hie::v1::AUDIT_ACTION_REFUSE);
  int merge = 0, link_entries = 0;
  bool summary_counts = false;
  for (const auto& e : refused) {
    EXPECT_EQ(e.actor_org(), "org-a");
    EXPECT_EQ(e.outcome(), "refused");
    if (absl::StrContains(e.detail(), "/hie.v1.MasterPatientIndex/Merge")) ++merge;
    if (absl::StrContains(e.detail(), "/hie.v1.MasterPatientIndex/Link")) ++link_entries;
    if (absl::StrContains(e.detail(), "300 more refusals")) summary_counts = true;
  }
  EXPECT_EQ(merge, 2) << "the first Merge at once, one summary for the 300 after it";
  EXPECT_EQ(link_entries, 1);
  EXPECT_TRUE(summary_counts);
  EXPECT_EQ(refused.size(), 3u);
}

// A member calls 138 made-up methods, each path ~6 KB and different: each is refused,
// and the MPI's audit grows by one entry plus one summary, each naming "(unknown
// method)", never the path (an attacker-chosen path once grew a store by megabytes).
TEST_F(ListenTest, LongUnknownMethodPathsAreOneAuditKeyAndNeverCopied) {
  int port = StartWith("mpi", "");
  ASSERT_GT(port, 0);
  for (int i = 0; i < 138; ++i) {
    std::string path = absl::StrCat("/hie.v1.X", i, "/", std::string(6000, 'A' + i % 26));
    grpc::Status s = CallAs("node-a", port, path);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << i << s.error_message();
    EXPECT_LT(s.error_message().size(), 200u);
  }
  Stop("mpi");
  std::vector<hie::v1::AuditEntry> refused =
      WithAction(AuditEntries("data/mpi/index"), hie::v1::AUDIT_ACTION_REFUSE);
  ASSERT_EQ(refused.size(), 2u) << "one at once, one summary";
  EXPECT_THAT(refused[1].detail(), HasSubstr("137 more refusals"));
  size_t bytes = 0;
  for (const auto& e : refused) {
    EXPECT_THAT(e.detail(), HasSubstr("(unknown method)"));
    EXPECT_THAT(e.detail(), ::testing::Not(HasSubstr("AAAAAAAA")));
    bytes += e.ByteSizeLong();
  }
  EXPECT_LT(bytes, 2000u);
  std::cout << "138 refused unknown methods: " << refused.size() << " audit entries, " << bytes
            << " bytes\n";
}

// The CRL-number floor belongs to the CA's key, not to the CA file's bytes: a newline
// appended to ca.crt with the old CRL copied back is still refused as a rollback. And
// the floor file deleted from a data directory used before leaves a trace: a warning
// and a SECURITY_CONFIG audit entry at the next start.
TEST_F(ListenTest, CrlFloorSurvivesACaFileReformatAndItsDeletionIsAudited) {
  const std::string crl = Path("ca/crl/ca.crl");
  const std::string before = ReadWholeFile(crl);
  int port = StartWith("mpi", "");
  ASSERT_GT(port, 0);
  ASSERT_TRUE(Healthy("node-b", port, absl::Seconds(10)));
  ASSERT_OK(ca_->Revoke(ReadWholeFile(Path("certs/node-b.crt"))));
  bool refused = false;
  for (int i = 0; i < 60 && !refused; ++i) {
    refused = !Healthy("node-b", port);
    if (!refused) absl::SleepFor(absl::Milliseconds(250));
  }
  ASSERT_TRUE(refused) << "the revocation never took effect";
  Stop("mpi");

  {  // the attack: the CA file re-formatted, the older CRL copied back
    std::ofstream ca(Path("ca/ca.crt"), std::ios::app);
    ca << "\n";
    std::ofstream out(crl, std::ios::binary | std::ios::trunc);
    out << before;
  }
  CommandResult check =
      RunCommand({BinDir() + "/hie-mpi", "--config", Path("mpi.textproto"), "--check"});
  EXPECT_EQ(check.exit_code, 1) << check.out;
  EXPECT_THAT(check.err, HasSubstr("rolled-back CRL is refused"));

  // The floor file deleted: the old CRL gets in (nothing else remembers the floor), but
  // not silently.
  ASSERT_TRUE(fs::remove(Path("data/mpi/crl-number")));
  port = StartWith("mpi", "");
  ASSERT_GT(port, 0);
  EXPECT_THAT(ReadWholeFile(Log("mpi")), HasSubstr("CRL-number floor reset"));
  Stop("mpi");
  std::vector<hie::v1::AuditEntry> config =
      WithAction(AuditEntries("data/mpi/index"), hie::v1::AUDIT_ACTION_SECURITY_CONFIG);
  ASSERT_EQ(config.size(), 1u);
  EXPECT_THAT(config[0].detail(), HasSubstr("CRL-number floor reset"));
  EXPECT_THAT(config[0].detail(), HasSubstr("crl-number is missing"));
}

// A client presenting a certificate of another CA (same org id, same profile): the
// handshake is refused by our verifier, which sees it, and the MPI audits it as
// AUTHENTICATION, naming none of what the foreign certificate claims.
TEST_F(ListenTest, HandshakeWithAnotherCasCertificateIsRefusedAndAudited) {
  pki::CaInitOptions other_options;
  other_options.common_name = "Not the exchange CA";
  ASSERT_OK_AND_ASSIGN(auto other,
                       pki::CertificateAuthority::Init(Path("other-ca"), other_options));
  pki::IssueOptions issue;
  issue.org_id = "org-a";
  issue.name = "intruder";
  issue.role = pki::Role::kOperator;
  ASSERT_OK_AND_ASSIGN(pki::IssuedCertificate intruder, other->Issue(issue));
  ASSERT_OK_AND_ASSIGN(pki::CertIdentity intruder_id, pki::ReadCertIdentity(intruder.cert_pem));

  int port = StartWith("mpi", "");
  ASSERT_GT(port, 0);
  // Trusts the exchange CA for the server, presents the intruder's certificate.
  auto provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      ReadWholeFile(Path("ca/ca.crt")),
      std::vector<grpc::experimental::IdentityKeyCertPair>{{intruder.key_pem, intruder.cert_pem}});
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_check_call_host(false);
  options.set_verify_server_certs(false);
  options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::experimental::TlsCredentials(options));
  auto directory = hie::v1::Directory::NewStub(channel);
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    hie::v1::EnrollOrganizationRequest request;
    request.set_org_id("org-z");
    request.set_display_name("Intruder");
    request.set_endpoint("127.0.0.1:1");
    hie::v1::Organization out;
    grpc::Status s = directory->EnrollOrganization(&context, request, &out);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << "must fail at the handshake";
  }
  EXPECT_TRUE(Healthy("node-a", port, absl::Seconds(10)));
  Stop("mpi");

  std::vector<hie::v1::AuditEntry> refused =
      WithAction(AuditEntries("data/mpi/index"), hie::v1::AUDIT_ACTION_AUTHENTICATION);
  ASSERT_GE(refused.size(), 1u);
  EXPECT_LE(refused.size(), 2u) << "aggregated: first at once, one summary";
  // The subject and serial are the sender's choice: one entry for every foreign
  // certificate, naming none of them.
  EXPECT_THAT(refused[0].detail(), HasSubstr("certificate not issued by the exchange CA"));
  EXPECT_THAT(refused[0].detail(), ::testing::Not(HasSubstr(intruder_id.serial_hex)));
  EXPECT_THAT(refused[0].detail(), ::testing::Not(HasSubstr("intruder")));
}

// A CRL signed before a revocation, copied back over the current one: refused (logged
// and audited as SECURITY_CONFIG), the revoked certificate stays refused, and a restart
// with the old CRL in place is refused too.
TEST_F(ListenTest, RolledBackCrlIsRefusedAndAuditedAndTheRevokedCertStaysRefused) {
  const std::string crl = Path("ca/crl/ca.crl");
  const std::string before = ReadWholeFile(crl);
  int port = StartWith("mpi", "");
  ASSERT_GT(port, 0);
  ASSERT_TRUE(Healthy("node-b", port, absl::Seconds(10)));
  ASSERT_OK(ca_->Revoke(ReadWholeFile(Path("certs/node-b.crt"))));
  bool refused = false;
  for (int i = 0; i < 60 && !refused; ++i) {
    refused = !Healthy("node-b", port);
    if (!refused) absl::SleepFor(absl::Milliseconds(250));
  }
  ASSERT_TRUE(refused) << "the revocation never took effect";

  {  // the attack: the older CRL copied back over the current one
    std::ofstream out(crl + ".tmp", std::ios::binary);
    out << before;
  }
  fs::rename(crl + ".tmp", crl);
  bool logged = false;
  for (int i = 0; i < 60 && !logged; ++i) {
    absl::SleepFor(absl::Milliseconds(250));
    logged = absl::StrContains(ReadWholeFile(Log("mpi")), "rolled-back CRL is refused");
  }
  EXPECT_TRUE(logged) << ReadWholeFile(Log("mpi"));
  EXPECT_FALSE(Healthy("node-b", port)) << "the revoked certificate is accepted again";
  EXPECT_TRUE(Healthy("node-a", port));
  Stop("mpi");

  std::vector<hie::v1::AuditEntry> config =
      WithAction(AuditEntries("data/mpi/index"), hie::v1::AUDIT_ACTION_SECURITY_CONFIG);
  ASSERT_GE(config.size(), 1u);
  EXPECT_LE(config.size(), 2u);
  EXPECT_THAT(config[0].detail(), HasSubstr("rolled-back CRL is refused"));

  // A restart with only the old CRL: refused, naming the rollback.
  CommandResult check =
      RunCommand({BinDir() + "/hie-mpi", "--config", Path("mpi.textproto"), "--check"});
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_THAT(check.err, HasSubstr("rolled-back CRL is refused"));
}

// The current CRL and an older one of the same CA side by side, the older under a name
// that sorts first: the newest (highest CRL number) is the one in force.
TEST_F(ListenTest, OfTwoCrlsInTheDirectoryTheNewestWins) {
  const std::string before = ReadWholeFile(Path("ca/crl/ca.crl"));
  ASSERT_OK(ca_->Revoke(ReadWholeFile(Path("certs/node-b.crt"))));
  std::ofstream(Path("ca/crl/0-old.crl"), std::ios::binary) << before;
  int port = StartWith("mpi", "");
  ASSERT_GT(port, 0);
  EXPECT_FALSE(Healthy("node-b", port, absl::Seconds(5)));
  EXPECT_TRUE(Healthy("node-a", port, absl::Seconds(10)));
}

}  // namespace
}  // namespace hie::testing
