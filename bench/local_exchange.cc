#include "bench/local_exchange.h"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/json/json_writer.h"
#include "common/pki/ca.h"
#include "grpcpp/create_channel.h"
#include "proto/hie/v1/directory.grpc.pb.h"

namespace hie::bench {

namespace fs = std::filesystem;

LocalExchange::LocalExchange()
    : dir_((fs::temp_directory_path() / absl::StrCat("hie-bench-", getpid())).string()) {}

LocalExchange::~LocalExchange() {
  processes_.clear();
  fs::remove_all(dir_);
}

std::string LocalExchange::Path(const std::string& name) const {
  return (fs::path(dir_) / name).string();
}

absl::Status LocalExchange::Start(const std::string& bin_dir,
                                  const std::vector<std::string>& orgs) {
  bin_dir_ = bin_dir;
  fs::remove_all(dir_);
  fs::create_directories(Path("certs"));
  auto ca = pki::CertificateAuthority::Init(Path("ca"), {});
  if (!ca.ok()) return ca.status();
  std::vector<std::tuple<std::string, std::string, pki::Role>> parties = {
      {"exchange", "mpi", pki::Role::kMpi},
      {"exchange", "consent", pki::Role::kConsent},
      {"exchange", "operator", pki::Role::kOperator}};
  for (const auto& org : orgs) parties.emplace_back(org, "node-" + org, pki::Role::kNode);
  for (const auto& [org, name, role] : parties) {
    pki::IssueOptions options;
    options.org_id = org;
    options.name = name;
    options.role = role;
    auto issued = (*ca)->Issue(options);
    if (!issued.ok()) return issued.status();
    if (auto s = pki::WriteCertificateFiles(*issued, Path("certs/" + name)); !s.ok()) return s;
  }
  auto mpi = StartDaemon("hie-mpi", "mpi", "mpi", "");
  if (!mpi.ok()) return mpi.status();
  mpi_port_ = *mpi;
  auto consent = StartDaemon(
      "hie-consent", "consent", "consent",
      absl::StrCat("mpi { address: \"127.0.0.1:", mpi_port_, "\" expected_org: \"exchange\" }\n"));
  if (!consent.ok()) return consent.status();
  consent_port_ = *consent;
  return absl::OkStatus();
}

absl::StatusOr<int> LocalExchange::StartNode(const std::string& org, const NodeOptions& options) {
  const std::string name = "node-" + org;
  std::string extra = absl::StrCat(
      "mpi { address: \"127.0.0.1:", mpi_port_, "\" expected_org: \"exchange\" }\n",
      "consent { address: \"127.0.0.1:", consent_port_, "\" expected_org: \"exchange\" }\n");
  if (options.fhir_api) {
    absl::StrAppend(
        &extra, "fhir_api { listen_address: \"127.0.0.1:0\" port_file: \"",
        Path(name + ".fhir.port"), "\"",
        options.fhir_workers > 0 ? absl::StrCat(" workers: ", options.fhir_workers) : "", " }\n");
  }
  auto port = StartDaemon("hie-node", name, name, extra);
  if (!port.ok()) return port;
  if (options.fhir_api) {
    // Written once the API listens.
    auto fhir = hie::testing::WaitForPortFile(Path(name + ".fhir.port"), absl::Seconds(30));
    if (!fhir.ok()) return fhir.status();
    fhir_ports_[org] = *fhir;
  }
  if (auto s = Enroll(org, absl::StrCat("127.0.0.1:", *port)); !s.ok()) return s;
  return port;
}

int LocalExchange::fhir_port(const std::string& org) const {
  auto it = fhir_ports_.find(org);
  return it == fhir_ports_.end() ? 0 : it->second;
}

absl::Status LocalExchange::Enroll(const std::string& org, const std::string& endpoint) {
  auto directory = hie::v1::Directory::NewStub(Channel("operator", mpi_port_));
  grpc::ClientContext context;
  hie::v1::EnrollOrganizationRequest request;
  request.set_org_id(org);
  request.set_display_name(org);
  request.set_endpoint(endpoint);
  hie::v1::Organization out;
  grpc::Status s = directory->EnrollOrganization(&context, request, &out);
  return s.ok() ? absl::OkStatus() : absl::InternalError(s.error_message());
}

std::shared_ptr<TlsContext> LocalExchange::Tls(const std::string& who) {
  TlsOptions options;
  options.files.ca_file = Path("ca/ca.crt");
  options.files.cert_file = Path("certs/" + who + ".crt");
  options.files.key_file = Path("certs/" + who + ".key");
  options.check_revocation = false;
  auto tls = TlsContext::Create(options);
  return tls.ok() ? *tls : nullptr;
}

std::shared_ptr<grpc::Channel> LocalExchange::Channel(const std::string& who, int port) {
  auto tls = Tls(who);
  if (tls == nullptr) std::abort();
  grpc::ChannelArguments args;
  // Each caller its own connection, as separate parties would have.
  args.SetInt("hie.bench.channel", ++channels_);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), tls->ChannelCredentials({}),
                                   args);
}

absl::StatusOr<int> LocalExchange::StartDaemon(const std::string& binary, const std::string& name,
                                               const std::string& cert, const std::string& extra) {
  std::string config = absl::StrCat(
      R"(server {
  listen_address: "127.0.0.1:0"
  port_file: ")",
      Path(name + ".port"), R"("
  log_requests: false
  max_message_bytes: 16777216
  tls { ca_file: ")",
      Path("ca/ca.crt"), R"(" cert_file: ")", Path("certs/" + cert + ".crt"), R"(" key_file: ")",
      Path("certs/" + cert + ".key"), R"(" crl_dir: ")", Path("ca/crl"), R"(" }
}
data_dir: ")",
      Path("data/" + name), "\"\n", extra);
  std::ofstream(Path(name + ".textproto")) << config;
  auto process = hie::testing::ChildProcess::Start(
      {bin_dir_ + "/" + binary, "--config", Path(name + ".textproto")}, Path(name + ".log"));
  if (!process.ok()) return process.status();
  processes_.push_back(std::move(*process));
  names_.push_back(name);
  return hie::testing::WaitForPortFile(Path(name + ".port"), absl::Seconds(30));
}

double LocalExchange::CpuSeconds(const std::string& name) const {
  for (size_t i = 0; i < processes_.size(); ++i) {
    if (names_[i] != name) continue;
    std::ifstream stat(absl::StrCat("/proc/", processes_[i].pid(), "/stat"));
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    size_t paren = text.rfind(')');
    if (paren == std::string::npos) return 0;  // gone
    // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
    std::istringstream fields(text.substr(paren + 1));
    std::string field;
    double ticks = 0;
    for (int n = 3; n <= 15 && fields >> field; ++n) {
      if (n >= 14) ticks += std::atof(field.c_str());
    }
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return 0;
}

std::string LocalExchange::PeakMemoryJson() const {
  JsonObject out;
  for (size_t i = 0; i < processes_.size(); ++i) {
    std::ifstream status(absl::StrCat("/proc/", processes_[i].pid(), "/status"));
    std::string line;
    int64_t kib = 0;
    while (std::getline(status, line)) {
      if (line.rfind("VmHWM:", 0) == 0) kib = std::atoll(line.c_str() + 6);
    }
    out.Add(names_[i], kib);
  }
  return out.Build();
}

}  // namespace hie::bench
