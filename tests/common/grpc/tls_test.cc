// Mutual TLS, peer identity, revocation and rotation, over real loopback sockets with
// certificates minted for each test.

#include "common/grpc/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
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
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/ssl.h"
#include "openssl/x509v3.h"
#include "tests/common/grpc/whoami.grpc.pb.h"

namespace hie {
namespace {

namespace fs = std::filesystem;
using ::hie::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kWhoAmIMethod[] = "/hie.test.WhoAmI/Get";

// A request claiming this org is held (not answered) until the test releases it.
constexpr char kHoldClaim[] = "hold";

class WhoAmIService final : public hie::test::WhoAmI::CallbackService {
 public:
  // How many calls are held now.
  int held() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(held_.size());
  }

  // Answers every held call.
  void ReleaseAll() {
    std::vector<grpc::ServerUnaryReactor*> held;
    {
      absl::MutexLock lock(&mu_);
      held.swap(held_);
    }
    for (auto* reactor : held) reactor->Finish(grpc::Status::OK);
  }

 private:
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
    if (request->claimed_org() == kHoldClaim) {
      absl::MutexLock lock(&mu_);
      held_.push_back(reactor);
      return reactor;
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  absl::Mutex mu_;
  std::vector<grpc::ServerUnaryReactor*> held_ ABSL_GUARDED_BY(mu_);
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

// A certificate with the exchange's profile for `org` (O, OU=node, CN, the one
// hie://org/<org> URI SAN, both EKUs), signed by its own key instead of the CA's.
absl::StatusOr<pki::IssuedCertificate> SelfSigned(const std::string& org) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  if (key == nullptr || x == nullptr) return absl::InternalError("OpenSSL allocation");
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
  X509_gmtime_adj(X509_getm_notBefore(x), -300);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_NAME* name = X509_get_subject_name(x);
  auto add = [&](const char* field, const std::string& value) {
    X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0);
  };
  add("O", org);
  add("OU", "node");
  add("CN", "self-signed");
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, key);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  const std::string san = "URI:hie://org/" + org + ",DNS:localhost,IP:127.0.0.1";
  for (const auto& [nid, value] :
       std::vector<std::pair<int, std::string>>{{NID_subject_alt_name, san},
                                                {NID_ext_key_usage, "clientAuth,serverAuth"},
                                                {NID_basic_constraints, "critical,CA:FALSE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) return absl::InternalError("extension");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha256());
  auto pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
  };
  pki::IssuedCertificate out;
  out.cert_pem = pem([&](BIO* b) { PEM_write_bio_X509(b, x); });
  out.key_pem =
      pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
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
    service_.ReleaseAll();
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

  void StartServer(Clock* clock = Clock::Real(), std::shared_ptr<PeerLimiter> limiter = nullptr) {
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
    runner.limiter = std::move(limiter);
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

  // A channel presenting `cert_pem`/`key_pem` as they are (no local checks), trusting
  // the exchange CA.
  std::shared_ptr<grpc::Channel> ChannelPresenting(const std::string& cert_pem,
                                                   const std::string& key_pem) {
    grpc::experimental::TlsChannelCredentialsOptions opts;
    opts.set_certificate_provider(
        std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
            ca_->ca_cert_pem(),
            std::vector<grpc::experimental::IdentityKeyCertPair>{{key_pem, cert_pem}}));
    opts.watch_root_certs();
    opts.watch_identity_key_cert_pairs();
    opts.set_check_call_host(false);
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    return grpc::CreateCustomChannel(Target(), grpc::experimental::TlsCredentials(opts), args);
  }

  // A TLS handshake with the server by OpenSSL itself, offering versions up to
  // `max_version` only (every cipher allowed), presenting org-a's certificate. Returns
  // "" once the handshake completes, else OpenSSL's reason.
  std::string RawHandshake(int max_version) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx, max_version);
    SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
    SSL_CTX_use_certificate_file(ctx, Path("org-a.crt").c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(ctx, Path("org-a.key").c_str(), SSL_FILETYPE_PEM);
    static const unsigned char kAlpn[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn));
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    std::string result;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      result = "connect failed";
    } else {
      SSL* ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      ERR_clear_error();
      if (SSL_connect(ssl) != 1) {
        unsigned long error = ERR_peek_last_error();
        const char* reason = error == 0 ? nullptr : ERR_reason_error_string(error);
        result = reason != nullptr ? reason : "handshake failed";
      }
      SSL_free(ssl);
    }
    ::close(fd);
    SSL_CTX_free(ctx);
    ERR_clear_error();
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
  // A new certificate lands, but the key file still holds the old key. (Only the
  // certificate file is replaced: issuing in place would put a matching pair there for a
  // moment, which the reload thread may rightly take.)
  ASSERT_OK(Issue("exchange", "mpi", pki::Role::kMpi, "server-new"));
  WriteFile(Path("server.crt"), ReadFile(Path("server-new.crt")));
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

// --- Attacks (issue 7) -----------------------------------------------------------------

TEST_F(TlsTest, SelfSignedClientIsRefused) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(pki::IssuedCertificate self_signed, SelfSigned("org-a"));
  // The certificate has the whole identity profile; only its issuer is wrong.
  ASSERT_OK_AND_ASSIGN(pki::CertIdentity identity, pki::ReadCertIdentity(self_signed.cert_pem));
  ASSERT_EQ(identity.org_id, "org-a");
  ASSERT_TRUE(identity.client_auth);
  CallResult result = Call(ChannelPresenting(self_signed.cert_pem, self_signed.key_pem));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << result.status.error_message();
  EXPECT_TRUE(result.response.org_id().empty());
  // The same identity issued by the exchange CA is served.
  EXPECT_TRUE(Call(ChannelAs("org-a")).status.ok());
}

TEST_F(TlsTest, NotYetValidClientCertificateIsRefused) {
  StartServer();
  ASSERT_OK(Issue("org-a", "early", pki::Role::kNode, "early", [](pki::IssueOptions& o) {
    o.not_before = absl::Now() + absl::Hours(24);
    o.validity = absl::Hours(24);
  }));
  CallResult result =
      Call(ChannelPresenting(ReadFile(Path("early.crt")), ReadFile(Path("early.key"))));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << result.status.error_message();
}

TEST_F(TlsTest, NotYetValidClientIsRefusedPerCallAsWell) {
  // A server whose clock runs behind sees a current certificate as not yet valid; the
  // per-call check refuses it even on a connection opened before.
  ::hie::testing::FakeClock clock;
  StartServer(&clock);
  auto channel = ChannelAs("org-a");
  ASSERT_TRUE(Call(channel).status.ok());
  clock.Advance(-absl::Hours(1));  // before org-a's notBefore (now - 5 min)
  CallResult result = Call(channel);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("not valid before"));
}

TEST_F(TlsTest, Tls11AndTls10ClientsAreRefused) {
  StartServer();
  // Control: the same raw client completes a TLS 1.2 handshake, so a refusal below is
  // the protocol version, nothing else.
  EXPECT_EQ(RawHandshake(TLS1_2_VERSION), "");
  for (int version : {TLS1_1_VERSION, TLS1_VERSION}) {
    std::string refused = RawHandshake(version);
    EXPECT_FALSE(refused.empty()) << "a TLS 0x" << std::hex << version << " client was served";
    EXPECT_THAT(refused, Not(HasSubstr("no protocols available")))
        << "the client could not offer the version: the test proves nothing";
    // The server either alerts or (gRPC) drops the connection after its own
    // "unsupported protocol" error.
    EXPECT_THAT(refused, AnyOf(HasSubstr("protocol version"), HasSubstr("unsupported protocol"),
                               HasSubstr("unexpected eof")));
  }
}

TEST_F(TlsTest, ForeignTrustDomainUriIsRefused) {
  StartServer();
  // Issued by our CA, but naming the org in another trust domain's URI only.
  for (const std::string& uri :
       {std::string("spiffe://other-exchange.example/org/org-a"),
        std::string("hie://other-exchange.example/org/org-a"), std::string("HIE://org/org-a")}) {
    ASSERT_OK(Issue("org-a", "foreign", pki::Role::kNode, "foreign", [&](pki::IssueOptions& o) {
      o.omit_org_uri_for_test = true;
      o.extra_uri_sans_for_test = {uri};
    }));
    CallResult result =
        Call(ChannelPresenting(ReadFile(Path("foreign.crt")), ReadFile(Path("foreign.key"))));
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE) << uri;
  }
}

TEST_F(TlsTest, RogueServerWithAnotherMembersCertificateIsRefused) {
  // A practice's valid certificate on a server posing as the MPI.
  ASSERT_OK(Issue("org-b", "rogue", pki::Role::kNode, "server"));
  StartServer();
  CallResult result = Call(ChannelAs("org-a", {.org_id = "exchange", .role = pki::Role::kMpi}));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(result.response.org_id().empty());
  // Only the role wrong (the exchange's consent service posing as the MPI): refused too.
  ASSERT_OK(Issue("exchange", "consent", pki::Role::kConsent, "server"));
  server_.reset();
  server_tls_.reset();
  StartServer();
  EXPECT_EQ(
      Call(ChannelAs("org-a", {.org_id = "exchange", .role = pki::Role::kMpi})).status.error_code(),
      grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(
      Call(ChannelAs("org-a", {.org_id = "exchange", .role = pki::Role::kConsent})).status.ok());
}

TEST_F(TlsTest, ClaimInMetadataAndRequestFieldIsIgnored) {
  StartServer();
  ASSERT_OK(Issue("org-b", "node-b", pki::Role::kNode, "org-b"));
  CallResult result = Call(ChannelAs("org-b"), /*claim=*/"exchange");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.org_id(), "org-b");
  EXPECT_EQ(result.response.role(), "node");
}

TEST_F(TlsTest, PerPeerConcurrencyLimitRefusesTheFlooderNotOthers) {
  ::hie::testing::FakeClock clock;
  std::shared_ptr<PeerLimiter> limiter = PeerLimiter::Create({.max_concurrent_calls = 2}, &clock);
  StartServer(Clock::Real(), limiter);
  ASSERT_OK(Issue("org-b", "node-b", pki::Role::kNode, "org-b"));
  auto flooder = ChannelAs("org-a");
  auto stub = hie::test::WhoAmI::NewStub(flooder);
  struct Held {
    grpc::ClientContext context;
    hie::test::WhoAmIRequest request;
    hie::test::WhoAmIResponse response;
    std::atomic<bool> done{false};
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Held>> held;
  for (int i = 0; i < 2; ++i) {
    auto& h = held.emplace_back(std::make_unique<Held>());
    h->request.set_claimed_org(kHoldClaim);
    h->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    stub->async()->Get(&h->context, &h->request, &h->response, [raw = h.get()](grpc::Status s) {
      raw->status = std::move(s);
      raw->done = true;
    });
  }
  ASSERT_TRUE(Eventually([&] { return service_.held() == 2; }));
  EXPECT_EQ(limiter->InFlight("org-a"), 2);
  // org-a's third call is refused at once, naming the limit.
  CallResult refused = Call(flooder);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.status.error_message(), HasSubstr("max_concurrent_calls = 2"));
  EXPECT_THAT(refused.status.error_message(), HasSubstr("org-a"));
  // Another practice is served meanwhile.
  CallResult other = Call(ChannelAs("org-b"));
  ASSERT_TRUE(other.status.ok()) << other.status.error_message();
  EXPECT_EQ(other.response.org_id(), "org-b");
  // Once org-a's calls end, its slots are free again.
  service_.ReleaseAll();
  ASSERT_TRUE(Eventually([&] { return held[0]->done && held[1]->done; }));
  EXPECT_TRUE(held[0]->status.ok());
  EXPECT_TRUE(Eventually([&] { return limiter->InFlight("org-a") == 0; }));
  EXPECT_TRUE(Call(flooder).status.ok());
}

TEST_F(TlsTest, PerPeerRateLimitThrottlesTheFlooderNotOthers) {
  ::hie::testing::FakeClock clock;  // the limiter's time stands still unless moved
  std::shared_ptr<PeerLimiter> limiter =
      PeerLimiter::Create({.max_concurrent_calls = 0, .calls_per_second = 5, .burst = 5}, &clock);
  StartServer(Clock::Real(), limiter);
  ASSERT_OK(Issue("org-b", "node-b", pki::Role::kNode, "org-b"));
  auto flooder = ChannelAs("org-a");
  int ok = 0;
  int exhausted = 0;
  std::string message;
  for (int i = 0; i < 30; ++i) {
    grpc::Status status = Call(flooder).status;
    if (status.ok()) ++ok;
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
      message = status.error_message();
    }
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(exhausted, 25);
  EXPECT_THAT(message, HasSubstr("calls_per_second = 5"));
  // org-b has its own bucket.
  auto other = ChannelAs("org-b");
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Call(other).status.ok()) << i;
  // A second later org-a has five calls again.
  clock.Advance(absl::Seconds(1));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Call(flooder).status.ok()) << i;
  EXPECT_EQ(Call(flooder).status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(TlsTest, ExchangeServicesAreNotPeerLimited) {
  ::hie::testing::FakeClock clock;
  std::shared_ptr<PeerLimiter> limiter =
      PeerLimiter::Create({.max_concurrent_calls = 0, .calls_per_second = 1, .burst = 1}, &clock);
  StartServer(Clock::Real(), limiter);
  ASSERT_OK(Issue("exchange", "mpi", pki::Role::kMpi, "mpi-client"));
  auto mpi = ChannelAs("mpi-client");
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Call(mpi).status.ok()) << i;
  auto node = ChannelAs("org-a");
  EXPECT_TRUE(Call(node).status.ok());
  EXPECT_EQ(Call(node).status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

}  // namespace
}  // namespace hie
