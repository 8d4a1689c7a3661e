// The fixture integration tests share: a CA and certificates minted for the test, the
// real daemons started as child processes on loopback, and clients presenting any of
// the minted identities.
#ifndef HIE_TESTS_INTEGRATION_DAEMON_FIXTURE_H_
#define HIE_TESTS_INTEGRATION_DAEMON_FIXTURE_H_

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/grpc/tls.h"
#include "common/pki/ca.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "proto/hie/v1/config.pb.h"
#include "proto/hie/v1/directory.grpc.pb.h"
#include "proto/hie/v1/mpi.grpc.pb.h"
#include "tests/integration/daemon_process.h"

namespace hie::testing {

namespace fs = std::filesystem;

struct DaemonInfo {
  std::string binary;
  std::string cert;
  std::string org;
  std::string role;
};

const std::map<std::string, DaemonInfo>& Daemons() {
  static const auto* daemons = new std::map<std::string, DaemonInfo>{
      {"mpi", {"hie-mpi", "mpi", "exchange", "mpi"}},
      {"consent", {"hie-consent", "consent", "exchange", "consent"}},
      {"node", {"hie-node", "node-a", "org-a", "node"}},
  };
  return *daemons;
}

// Every daemon a test may start by name: the three kinds, and a second practice's node.
const std::map<std::string, DaemonInfo>& Instances() {
  static const auto* instances = [] {
    auto* m = new std::map<std::string, DaemonInfo>(Daemons());
    m->emplace("node-b", DaemonInfo{"hie-node", "node-b", "org-b", "node"});
    m->emplace("node-c", DaemonInfo{"hie-node", "node-c", "org-c", "node"});
    return m;
  }();
  return *instances;
}

class DaemonFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hie-daemons-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "certs");
    ASSERT_OK_AND_ASSIGN(ca_, pki::CertificateAuthority::Init(Path("ca"), pki::CaInitOptions{}));
    Issue("exchange", "mpi", pki::Role::kMpi);
    Issue("exchange", "consent", pki::Role::kConsent);
    Issue("org-a", "node-a", pki::Role::kNode);
    Issue("org-b", "node-b", pki::Role::kNode);
    Issue("exchange", "operator", pki::Role::kOperator);
  }

  void TearDown() override {
    processes_.clear();
    fs::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  void Issue(const std::string& org, const std::string& name, pki::Role role) {
    pki::IssueOptions options;
    options.org_id = org;
    options.name = name;
    options.role = role;
    auto issued = ca_->Issue(options);
    ASSERT_TRUE(issued.ok()) << issued.status();
    ASSERT_OK(pki::WriteCertificateFiles(*issued, Path("certs/" + name)));
  }

  std::string ConfigText(const std::string& name, const std::string& extra = "") {
    const DaemonInfo& d = Instances().at(name);
    auto host = listen_host_.find(name);
    std::string text = absl::StrCat(R"(server {
  listen_address: ")",
                                    host == listen_host_.end() ? "127.0.0.1" : host->second,
                                    R"(:0"
  port_file: ")",
                                    name, R"(.port"
  tls {
    ca_file: "ca/ca.crt"
    cert_file: "certs/)",
                                    d.cert, R"(.crt"
    key_file: "certs/)",
                                    d.cert, R"(.key"
    crl_dir: "ca/crl"
    reload_interval_seconds: 1
  }
}
data_dir: "data/)",
                                    name, "\"\n");
    if (name != "mpi")
      absl::StrAppend(&text, "mpi { address: \"", mpi_address_,
                      "\" expected_org: \"exchange\" }\n");
    if (d.binary == "hie-node")
      absl::StrAppend(&text, "consent { address: \"", consent_address_,
                      "\" expected_org: \"exchange\" }\n");
    return text + extra;
  }

  std::string WriteConfig(const std::string& name, const std::string& text) {
    std::string path = Path(name + ".textproto");
    std::ofstream(path) << text;
    return path;
  }

  // Starts a daemon and waits for its port.
  int StartDaemon(const std::string& name, const std::string& extra_config = "") {
    std::string config = WriteConfig(name, ConfigText(name, extra_config));
    fs::remove(Path(name + ".port"));
    std::vector<std::string> argv = launch_prefix_[name];
    for (const std::string& arg :
         {BinDir() + "/" + Instances().at(name).binary, std::string("--config"), config}) {
      argv.push_back(arg);
    }
    auto process = ChildProcess::Start(argv, Log(name));
    EXPECT_TRUE(process.ok());
    if (!process.ok()) return 0;
    processes_.emplace(name, std::move(*process));
    auto port = WaitForPortFile(Path(name + ".port"), absl::Seconds(30));
    EXPECT_TRUE(port.ok()) << port.status() << "\nlog:\n" << ReadWholeFile(Log(name));
    return port.ok() ? *port : 0;
  }

  std::string Log(const std::string& name) const { return Path(name + ".log"); }

  CommandResult Hiectl(std::vector<std::string> args) {
    args.insert(args.begin(), BinDir() + "/hiectl");
    return RunCommand(args);
  }

  CommandResult HealthAs(const std::string& who, int port, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"health",
                                     "--target",
                                     absl::StrCat("127.0.0.1:", port),
                                     "--ca",
                                     Path("ca/ca.crt"),
                                     "--cert",
                                     Path("certs/" + who + ".crt"),
                                     "--key",
                                     Path("certs/" + who + ".key"),
                                     "--crl-dir",
                                     Path("ca/crl")};
    args.insert(args.end(), extra.begin(), extra.end());
    return Hiectl(args);
  }

  // Runs `hiectl WORDS... --target ... --ca --cert --key` as `who`.
  CommandResult HiectlAs(const std::string& who, int port, std::vector<std::string> words) {
    std::vector<std::string> args = std::move(words);
    for (const std::string& a :
         {std::string("--target"), absl::StrCat("127.0.0.1:", port), std::string("--ca"),
          Path("ca/ca.crt"), std::string("--cert"), Path("certs/" + who + ".crt"),
          std::string("--key"), Path("certs/" + who + ".key")}) {
      args.push_back(a);
    }
    return Hiectl(args);
  }

  // Calls `method` with an empty message as `who` and returns the status.
  grpc::Status CallAs(const std::string& who, int port, const std::string& method) {
    auto channel = ChannelAs(who, port);
    if (channel == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "no credentials");
    return CallOn(channel, method);
  }

  // `method` with an empty request on `channel` (kept open between calls).
  static grpc::Status CallOn(const std::shared_ptr<grpc::Channel>& channel,
                             const std::string& method,
                             absl::Duration deadline = absl::Seconds(5)) {
    grpc::GenericStub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    grpc::Slice empty_message("");  // an empty protobuf message: zero bytes, one slice
    grpc::ByteBuffer request(&empty_message, 1);
    grpc::ByteBuffer response;
    grpc::Status status;
    absl::Mutex mu;
    bool done = false;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
      absl::MutexLock lock(&mu);
      status = s;
      done = true;
    });
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&done));
    return status;
  }

  // A channel to the daemon on `port` presenting `who`'s certificate.
  std::shared_ptr<grpc::Channel> ChannelAs(const std::string& who, int port) {
    return ChannelAt(who, "127.0.0.1", port);
  }
  std::shared_ptr<grpc::Channel> ChannelAt(const std::string& who, const std::string& host,
                                           int port) {
    TlsOptions options;
    options.files.ca_file = Path("ca/ca.crt");
    options.files.cert_file = Path("certs/" + who + ".crt");
    options.files.key_file = Path("certs/" + who + ".key");
    options.check_revocation = false;
    auto tls = TlsContext::Create(options);
    EXPECT_TRUE(tls.ok()) << tls.status();
    if (!tls.ok()) return nullptr;
    return grpc::CreateChannel(absl::StrCat(host, ":", port), (*tls)->ChannelCredentials({}));
  }

  // A typed MasterPatientIndex stub that presents `who`'s certificate.
  std::unique_ptr<hie::v1::MasterPatientIndex::Stub> MpiAs(const std::string& who, int port) {
    return hie::v1::MasterPatientIndex::NewStub(ChannelAs(who, port));
  }

  std::unique_ptr<hie::v1::Directory::Stub> DirectoryAs(const std::string& who, int port) {
    return hie::v1::Directory::NewStub(ChannelAs(who, port));
  }

  // Enrolls `org` at the MPI on `port`, as the exchange operator, with the address its
  // node serves other practices on (a dead one by default).
  void Enroll(int port, const std::string& org, const std::string& endpoint = "127.0.0.1:1") {
    auto directory = DirectoryAs("operator", port);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    hie::v1::EnrollOrganizationRequest request;
    request.set_org_id(org);
    request.set_display_name("Practice " + org);
    request.set_endpoint(endpoint);
    hie::v1::Organization org_out;
    grpc::Status s = directory->EnrollOrganization(&context, request, &org_out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Another person: Robert Lindqvist, born 1950-11-30.
  static hie::v1::Demographics Robert() {
    hie::v1::Demographics d;
    d.add_names()->set_family("Lindqvist");
    d.mutable_names(0)->add_given("Robert");
    d.mutable_birth_date()->set_year(1950);
    d.mutable_birth_date()->set_month(11);
    d.mutable_birth_date()->set_day(30);
    d.set_sex(hie::v1::SEX_MALE);
    return d;
  }

  static hie::v1::Demographics Jane(const std::string& given = "Jane") {
    hie::v1::Demographics d;
    auto* name = d.add_names();
    name->set_family("Oyelaran");
    name->add_given(given);
    d.mutable_birth_date()->set_year(1984);
    d.mutable_birth_date()->set_month(6);
    d.mutable_birth_date()->set_day(2);
    d.set_sex(hie::v1::SEX_FEMALE);
    auto* address = d.add_addresses();
    address->add_line("12 Main Street");
    address->set_city("Springfield");
    address->set_postal_code("62701");
    return d;
  }

  static grpc::Status Register(hie::v1::MasterPatientIndex::Stub* stub, const std::string& local,
                               const hie::v1::Demographics& d,
                               hie::v1::RegisterPatientResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    hie::v1::RegisterPatientRequest request;
    request.set_local_id(local);
    *request.mutable_demographics() = d;
    return stub->RegisterPatient(&context, request, response);
  }

  static grpc::Status Xref(hie::v1::MasterPatientIndex::Stub* stub, const std::string& org,
                           const std::string& local, hie::v1::CrossReference* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    hie::v1::GetCrossReferenceRequest request;
    request.mutable_local()->set_org_id(org);
    request.mutable_local()->set_local_id(local);
    return stub->GetCrossReference(&context, request, response);
  }

  fs::path dir_;
  std::unique_ptr<pki::CertificateAuthority> ca_;
  std::map<std::string, ChildProcess> processes_;
  // Words to run a daemon under, by name (e.g. faketime with an offset).
  std::map<std::string, std::vector<std::string>> launch_prefix_;
  // The address a daemon listens on, by name, when not 127.0.0.1.
  std::map<std::string, std::string> listen_host_;
  // Where consent and node daemons find the MPI and the consent service.
  std::string mpi_address_ = "127.0.0.1:1";
  std::string consent_address_ = "127.0.0.1:2";
};

}  // namespace hie::testing

#endif  // HIE_TESTS_INTEGRATION_DAEMON_FIXTURE_H_
