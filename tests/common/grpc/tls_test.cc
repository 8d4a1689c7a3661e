// Mutual TLS, peer identity, revocation and rotation, over real loopback sockets with
// certificates minted for each test.

#include "common/grpc/tls.h"

#include <filesystem>
#include <fstream>
#include <functional>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/server_runner.h"
#include "common/grpc/status_convert.h"
#include "common/pki/ca.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "gtest/gtest.h"
#include "tests/common/grpc/whoami.grpc.pb.h"

namespace hie {
namespace {

namespace fs = std::filesystem;
using ::hie::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kWhoAmIMethod[] = "/hie.test.WhoAmI/Get";

class WhoAmIService final : public hie::test::WhoAmI::CallbackService {
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const hie::test::WhoAmIRequest* request,
                                hie::test::WhoAmIResponse* response) override {
    auto* reactor = context->DefaultReactor();
    absl::StatusOr<Peer> peer = PeerFromContext(*context);
    if (!peer.ok()) {
      reactor->Finish(ToGrpcStatus(peer.status()));
      return reactor;
    }
    response->set_org_id(peer->org_id);
    response->set_role(std::string(pki::RoleName(peer->role)));
    response->set_serial(peer->serial_hex);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// A clock the test moves by hand.
using TestClock = ::hie::testing::FakeClock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

// Polls `condition` every 50 ms for at most `limit`; true once it holds.
bool Eventually(const std::function<bool()>& condition, absl::Duration limit = absl::Seconds(15)) {
  absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return condition();
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hie-tls-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_OK_AND_ASSIGN(ca_, pki::CertificateAuthority::Init(Path("ca"), pki::CaInitOptions{}));
    ASSERT_OK(Issue("exchange", "mpi", pki::Role::kMpi, "server"));
    ASSERT_OK(Issue("org-a", "node-a", pki::Role::kNode, "org-a"));
    policy_ = std::make_shared<AuthorizationPolicy>();
    policy_->AllowInfrastructure().Allow(kWhoAmIMethod, {pki::Role::kNode, pki::Role::kMpi});
  }

  void TearDown() override {
    server_.reset();
    server_tls_.reset();
    fs::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  absl::Status Issue(const std::string& org, const std::string& name, pki::Role role,
                     const std::string& prefix,
                     const std::function<void(pki::IssueOptions&)>& tweak = nullptr) {
    pki::IssueOptions options;
    options.org_id = org;
    options.name = name;
    options.role = role;
    if (tweak) tweak(options);
    absl::StatusOr<pki::IssuedCertificate> issued = ca_->Issue(options);
    if (!issued.ok()) return issued.status();
    return pki::WriteCertificateFiles(*issued, Path(prefix));
  }

  TlsSettings Files(const std::string& prefix) const {
    TlsSettings files;
    files.ca_file = ca_->ca_cert_path();
    files.cert_file = Path(prefix + ".crt");
    files.key_file = Path(prefix + ".key");
    files.crl_dir = ca_->crl_dir();
    files.reload_interval = absl::Milliseconds(200);
    return files;
  }

  void StartServer(Clock* clock = Clock::Real()) {
    TlsOptions options;
    options.files = Files("server");
    options.working_dir = Path("server-data");
    options.clock = clock;
    ASSERT_OK_AND_ASSIGN(server_tls_, TlsContext::Create(options));
    ServerRunnerOptions runner;
    runner.settings.listen_address = "127.0.0.1:0";
    runner.settings.log_requests = false;
    runner.tls = server_tls_;
    runner.policy = policy_;
    runner.services = {&service_};
    ASSERT_OK_AND_ASSIGN(server_, ServerRunner::Start(std::move(runner)));
  }

  std::string Target() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  // A fresh channel (its own connection) as the holder of PREFIX.crt/.key.
  std::shared_ptr<grpc::Channel> ChannelAs(const std::string& prefix,
                                           const PeerExpectation& expect = {}) {
    TlsOptions options;
    options.files = Files(prefix);
    options.check_revocation = false;
    absl::StatusOr<std::shared_ptr<TlsContext>> tls = TlsContext::Create(options);
    EXPECT_OK(tls.status());
    if (!tls.ok()) return nullptr;
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);  // never share a connection
    return grpc::CreateCustomChannel(Target(), (*tls)->ChannelCredentials(expect), args);
  }

  struct CallResult {
    grpc::Status status;
    hie::test::WhoAmIResponse response;
    std::string server_serial;
  };

  CallResult Call(const std::shared_ptr<grpc::Channel>& channel, const std::string& claim = "") {
    auto stub = hie::test::WhoAmI::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!claim.empty()) context.AddMetadata("x-hie-org", claim);
    hie::test::WhoAmIRequest request;
    request.set_claimed_org(claim);
    CallResult result;
    result.status = stub->Get(&context, request, &result.response);
    if (auto auth = context.auth_context(); auth != nullptr) {
      auto pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
      if (!pems.empty()) {
        auto id = pki::ReadCertIdentity(std::string_view(pems[0].data(), pems[0].size()));
        if (id.ok()) result.server_serial = id->serial_hex;
      }
    }
    return result;
  }

  fs::path dir_;
  std::unique_ptr<pki::CertificateAuthority> ca_;
  std::shared_ptr<AuthorizationPolicy> policy_;
  WhoAmIService service_;
  std::shared_ptr<TlsContext> server_tls_;
  std::unique_ptr<ServerRunner> server_;
};

TEST_F(TlsTest, ServerSeesTheOrgOfTheCertificateNotTheClaim) {
  StartServer();
  CallResult result = Call(ChannelAs("org-a"), /*claim=*/"org-b");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.org_id(), "org-a");
  EXPECT_EQ(result.response.role(), "node");
}

TEST_F(TlsTest, ClientFromAnotherCaIsRefused) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(auto other_ca,
                       pki::CertificateAuthority::Init(Path("other-ca"), pki::CaInitOptions{}));
  pki::IssueOptions options;
  options.org_id = "org-a";
  options.name = "impostor";
  ASSERT_OK_AND_ASSIGN(auto issued, other_ca->Issue(options));
  ASSERT_OK(pki::WriteCertificateFiles(issued, Path("impostor")));
  // The impostor trusts our CA (so it can verify our server) but holds a foreign cert.
  TlsOptions tls_options;
  tls_options.files = Files("impostor");
  tls_options.files.ca_file = other_ca->ca_cert_path();
  tls_options.check_revocation = false;
  ASSERT_OK_AND_ASSIGN(auto tls, TlsContext::Create(tls_options));
  grpc::experimental::TlsChannelCredentialsOptions opts;
  opts.set_certificate_provider(std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      ca_->ca_cert_pem(),
      std::vector<grpc::experimental::IdentityKeyCertPair>{{issued.key_pem, issued.cert_pem}}));
  opts.watch_root_certs();
  opts.watch_identity_key_cert_pairs();
  opts.set_check_call_host(false);
  auto channel = grpc::CreateChannel(Target(), grpc::experimental::TlsCredentials(opts));
  CallResult result = Call(channel);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << result.status.error_message();
}

TEST_F(TlsTest, ClientWithoutCertificateIsRefused) {
  StartServer();
  grpc::experimental::TlsChannelCredentialsOptions opts;
  opts.set_certificate_provider(
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(ca_->ca_cert_pem()));
  opts.watch_root_certs();
  opts.set_check_call_host(false);
  auto channel = grpc::CreateChannel(Target(), grpc::experimental::TlsCredentials(opts));
  CallResult result = Call(channel);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << result.status.error_message();
}

TEST_F(TlsTest, PlaintextClientIsRefused) {
  StartServer();
  auto channel = grpc::CreateChannel(Target(), grpc::InsecureChannelCredentials());
  CallResult result = Call(channel);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ExpiredClientCertificateIsRefused) {
  StartServer();
  ASSERT_OK(Issue("org-a", "old", pki::Role::kNode, "expired", [](pki::IssueOptions& o) {
    o.not_before = absl::Now() - absl::Hours(48);
    o.validity = absl::Hours(24);
  }));
  // The expired holder's own context refuses to load it, so present it directly.
  grpc::experimental::TlsChannelCredentialsOptions opts;
  opts.set_certificate_provider(std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      ca_->ca_cert_pem(), std::vector<grpc::experimental::IdentityKeyCertPair>{
                              {ReadFile(Path("expired.key")), ReadFile(Path("expired.crt"))}}));
  opts.watch_root_certs();
  opts.watch_identity_key_cert_pairs();
  opts.set_check_call_host(false);
  auto channel = grpc::CreateChannel(Target(), grpc::experimental::TlsCredentials(opts));
  EXPECT_EQ(Call(channel).status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, CertificateWithTwoOrgSansIsRefused) {
  StartServer();
  ASSERT_OK(Issue("org-a", "double", pki::Role::kNode, "double",
                  [](pki::IssueOptions& o) { o.extra_uri_sans_for_test = {"hie://org/org-b"}; }));
  grpc::experimental::TlsChannelCredentialsOptions opts;
  opts.set_certificate_provider(std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      ca_->ca_cert_pem(), std::vector<grpc::experimental::IdentityKeyCertPair>{
                              {ReadFile(Path("double.key")), ReadFile(Path("double.crt"))}}));
  opts.watch_root_certs();
  opts.watch_identity_key_cert_pairs();
  opts.set_check_call_host(false);
  auto channel = grpc::CreateChannel(Target(), grpc::experimental::TlsCredentials(opts));
  EXPECT_EQ(Call(channel).status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ServerOnlyCertificateCannotBeUsedAsClient) {
  StartServer();
  ASSERT_OK(Issue("org-a", "srv", pki::Role::kNode, "server-only",
                  [](pki::IssueOptions& o) { o.client_auth = false; }));
  EXPECT_EQ(Call(ChannelAs("server-only")).status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ChannelRefusesServerOfUnexpectedOrg) {
  StartServer();
  EXPECT_TRUE(Call(ChannelAs("org-a", {.org_id = "exchange"})).status.ok());
  EXPECT_EQ(Call(ChannelAs("org-a", {.org_id = "org-z", .role = std::nullopt})).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Call(ChannelAs("org-a", {.org_id = "exchange", .role = pki::Role::kConsent}))
                .status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, RoleNotInTableIsPermissionDenied) {
  StartServer();
  ASSERT_OK(Issue("exchange", "op", pki::Role::kOperator, "operator"));
  CallResult result = Call(ChannelAs("operator"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("operator"));
}

TEST_F(TlsTest, RevocationReachesRunningServerAndOpenConnections) {
  StartServer();
  auto channel = ChannelAs("org-a");
  ASSERT_TRUE(Call(channel).status.ok());
  ASSERT_OK(ca_->Revoke(ReadFile(Path("org-a.crt"))));
  // Same channel (already-open connection): refused once the server re-reads the CRL.
  EXPECT_TRUE(Eventually(
      [&] { return Call(channel).status.error_code() == grpc::StatusCode::UNAUTHENTICATED; }));
  EXPECT_THAT(Call(channel).status.error_message(), HasSubstr("revoked"));
  // A new connection is refused at the handshake.
  EXPECT_EQ(Call(ChannelAs("org-a")).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  // Others are unaffected.
  ASSERT_OK(Issue("org-b", "node-b", pki::Role::kNode, "org-b"));
  EXPECT_TRUE(Call(ChannelAs("org-b")).status.ok());
}

TEST_F(TlsTest, MissingCrlRefusesToStart) {
  fs::remove_all(ca_->crl_dir());
  fs::create_directories(ca_->crl_dir());
  TlsOptions options;
  options.files = Files("server");
  options.working_dir = Path("server-data");
  EXPECT_THAT(TlsContext::Create(options).status(), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(TlsTest, CrlFromAnotherCaRefusesToStart) {
  ASSERT_OK_AND_ASSIGN(auto other_ca,
                       pki::CertificateAuthority::Init(Path("other-ca"), pki::CaInitOptions{}));
  fs::remove_all(ca_->crl_dir());
  fs::copy(other_ca->crl_dir(), ca_->crl_dir());
  TlsOptions options;
  options.files = Files("server");
  EXPECT_FALSE(TlsContext::Create(options).ok());
}

TEST_F(TlsTest, VanishedOrForgedCrlKeepsLastGoodInForce) {
  StartServer();
  ASSERT_OK(ca_->Revoke(ReadFile(Path("org-a.crt"))));
  ASSERT_OK(server_tls_->ReloadNow());
  EXPECT_EQ(Call(ChannelAs("org-a")).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  // Replace the CRL with garbage, then remove it: the revocation stays in force.
  for (const auto& entry : fs::directory_iterator(ca_->crl_dir())) {
    WriteFile(entry.path().string(), "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
  }
  EXPECT_FALSE(server_tls_->ReloadNow().ok());
  EXPECT_EQ(Call(ChannelAs("org-a")).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  fs::remove_all(ca_->crl_dir());
  fs::create_directories(ca_->crl_dir());
  EXPECT_FALSE(server_tls_->ReloadNow().ok());
  EXPECT_EQ(Call(ChannelAs("org-a")).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_OK(Issue("org-b", "node-b", pki::Role::kNode, "org-b"));
  EXPECT_TRUE(Call(ChannelAs("org-b")).status.ok());
}

TEST_F(TlsTest, ExpiredCrlRefusesEveryPeer) {
  TestClock clock;
  StartServer(&clock);
  auto channel = ChannelAs("org-a");
  ASSERT_TRUE(Call(channel).status.ok());
  clock.Advance(absl::Hours(24 * 8));  // past the CRL's nextUpdate (7 days)
  CallResult result = Call(channel);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("CRL expired"));
}

TEST_F(TlsTest, RotatedServerCertificateIsPickedUpWithoutRestart) {
  StartServer();
  CallResult before = Call(ChannelAs("org-a"));
  ASSERT_TRUE(before.status.ok());
  ASSERT_FALSE(before.server_serial.empty());
  ASSERT_OK(Issue("exchange", "mpi", pki::Role::kMpi, "server"));  // overwrite in place
  std::string rotated;
  EXPECT_TRUE(Eventually([&] {
    CallResult after = Call(ChannelAs("org-a"));
    rotated = after.server_serial;
    return after.status.ok() && !rotated.empty() && rotated != before.server_serial;
  }));
  EXPECT_EQ(server_tls_->self().serial_hex, rotated);
}

TEST_F(TlsTest, RotationWithMismatchedKeyKeepsTheOldCertificate) {
  StartServer();
  CallResult before = Call(ChannelAs("org-a"));
  ASSERT_TRUE(before.status.ok());
  // A new certificate lands, but the key file still holds the old key.
  std::string old_key = ReadFile(Path("server.key"));
  ASSERT_OK(Issue("exchange", "mpi", pki::Role::kMpi, "server"));
  WriteFile(Path("server.key"), old_key);
  EXPECT_THAT(server_tls_->ReloadNow(), StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::SleepFor(absl::Milliseconds(1500));  // give the file watcher a chance to misbehave
  CallResult after = Call(ChannelAs("org-a"));
  ASSERT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.server_serial, before.server_serial);
}

TEST_F(TlsTest, ChainInTheWrongOrderIsRefusedAtStart) {
  WriteFile(Path("server.crt"), ca_->ca_cert_pem() + ReadFile(Path("server.crt")));
  TlsOptions options;
  options.files = Files("server");
  EXPECT_THAT(TlsContext::Create(options).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(TlsTest, OwnRevokedCertificateRefusesToStart) {
  ASSERT_OK(ca_->Revoke(ReadFile(Path("server.crt"))));
  TlsOptions options;
  options.files = Files("server");
  EXPECT_THAT(TlsContext::Create(options).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("revoked")));
}

}  // namespace
}  // namespace hie
