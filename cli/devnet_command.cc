// hiectl devnet up|down|status: a whole exchange on this machine, for trying hie out and
// for tests: a CA and every certificate, each daemon's config, hie-mpi, hie-consent and
// N practice nodes as real processes on loopback with mutual TLS, the organisations
// enrolled, connection profiles for every party, and DIR/devnet.json describing it all.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "cli/connection.h"
#include "cli/flags.h"
#include "cli/samples.h"
#include "common/json/json_writer.h"
#include "common/pki/ca.h"
#include "grpcpp/client_context.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "proto/hie/v1/consent.grpc.pb.h"
#include "proto/hie/v1/directory.grpc.pb.h"
#include "proto/hie/v1/mpi.grpc.pb.h"
#include "proto/hie/v1/node.grpc.pb.h"
#include "simdjson.h"

namespace hie::cli {
namespace {

namespace fs = std::filesystem;

struct Service {
  std::string name;  // "mpi", "consent", "node-a"
  std::string role;  // "mpi", "consent", "node"
  std::string org;   // "exchange", "org-a"
  std::string binary;
  int port = 0;
  pid_t pid = 0;
  // Nodes: the FHIR API's port and the practice's SMART Backend Services client.
  int fhir_port = 0;
  std::string fhir_client_id;
};

// A demo account of the node's web app, with a password made for it.
struct DemoAccount {
  std::string org;
  std::string login;
  std::string role;  // "clinician", "practice admin", "patient"
  std::string password;
};

// 20 characters from a 32-letter alphabet (100 bits), in groups of five: far past the
// web app's policy, and easy to type from the terminal.
std::string DemoPassword() {
  static constexpr char kLetters[] = "abcdefghjkmnpqrstuvwxyz23456789";
  unsigned char bytes[20];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();
  std::string out;
  for (size_t i = 0; i < sizeof(bytes); ++i) {
    if (i > 0 && i % 5 == 0) out.push_back('-');
    out.push_back(kLetters[bytes[i] % 31]);
  }
  return out;
}

// Adds `login` to the node's web app accounts (the Users service, as the practice's admin
// would with hiectl user add); the password needs no change at first sign-in.
absl::StatusOr<DemoAccount> AddDemoAccount(const std::shared_ptr<grpc::Channel>& node,
                                           const std::string& org, const std::string& login,
                                           const std::string& display_name, hie::v1::UserRole role,
                                           const std::string& patient_id) {
  auto stub = hie::v1::Users::NewStub(node);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  hie::v1::AddUserRequest request;
  request.set_login(login);
  request.set_display_name(display_name);
  request.set_role(role);
  request.set_patient_id(patient_id);
  request.set_password(DemoPassword());
  request.set_password_is_final(true);
  hie::v1::User user;
  grpc::Status st = stub->AddUser(&context, request, &user);
  if (!st.ok()) {
    return absl::InternalError(
        absl::StrCat("adding the web account ", login, " at ", org, ": ", st.error_message()));
  }
  const char* role_name = role == hie::v1::USER_ROLE_CLINICIAN        ? "clinician"
                          : role == hie::v1::USER_ROLE_PRACTICE_ADMIN ? "practice admin"
                          : role == hie::v1::USER_ROLE_FRONT_DESK     ? "front desk"
                                                                      : "patient";
  return DemoAccount{org, login, role_name, request.password()};
}

// Appends `accounts` to the devnet's accounts file (mode 0600: it holds passwords).
absl::Status RecordDemoAccounts(const std::string& dir, const std::vector<DemoAccount>& accounts) {
  const std::string path = dir + "/web-accounts.txt";
  const bool fresh = !std::filesystem::exists(path);
  std::ofstream out(path, std::ios::app);
  if (fresh) out << "# org  login  role  password (demo accounts of the nodes' web app)\n";
  for (const DemoAccount& a : accounts) {
    out << a.org << "  " << a.login << "  " << a.role << "  " << a.password << "\n";
  }
  out.close();
  chmod(path.c_str(), 0600);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// A practice's SMART Backend Services client for its node's FHIR API: an EC P-384 key
// pair written beside its certificates (`name`.key, `name`.pub, PEM), registered with
// the node as the practice: the EMR reads and writes its own records (system/*.cruds).
// Returns the client id.
absl::StatusOr<std::string> RegisterFhirClient(const std::shared_ptr<grpc::Channel>& node,
                                               const std::string& key_base) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  if (key == nullptr) return absl::InternalError("cannot make an EC P-384 key");
  std::string public_pem;
  for (bool is_private : {true, false}) {
    std::string path = key_base + (is_private ? ".key" : ".pub");
    BIO* out = BIO_new_file(path.c_str(), "w");
    int ok = out != nullptr &&
             (is_private ? PEM_write_bio_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr)
                         : PEM_write_bio_PUBKEY(out, key));
    if (out != nullptr) BIO_free(out);
    if (ok != 1) {
      EVP_PKEY_free(key);
      return absl::InternalError(absl::StrCat("cannot write ", path));
    }
    if (is_private) chmod(path.c_str(), 0600);
  }
  EVP_PKEY_free(key);
  std::ifstream in(key_base + ".pub");
  std::stringstream text;
  text << in.rdbuf();
  auto stub = hie::v1::FhirClients::NewStub(node);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  hie::v1::RegisterFhirClientRequest request;
  request.set_name("devnet EMR");
  request.set_public_key(text.str());
  request.set_algorithm("ES384");
  request.add_scopes("system/*.cruds");
  hie::v1::FhirClient client;
  grpc::Status st = stub->RegisterClient(&context, request, &client);
  if (!st.ok()) return absl::InternalError(st.error_message());
  return client.client_id();
}

// True if a loopback socket can bind `port` now (0: any port; its number in *bound).
bool CanBind(int port, int* bound = nullptr) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t length = sizeof(address);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  if (ok && bound != nullptr) *bound = ntohs(address.sin_port);
  close(fd);
  return ok;
}

// The first port of the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range),
// 32768 if it cannot be read.
int EphemeralPortsFrom() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0, high = 0;
  if (in >> low >> high && low > 0) return low;
  return 32768;
}

// A loopback port nothing listens on now, below the kernel's ephemeral range where it
// can: a port of that range, chosen now and bound only when its service starts, may
// meanwhile become the source port of any process's outgoing connection (on a busy
// machine one did, and the service could not listen). Ports below the range are never
// handed out by the kernel itself. A devnet service keeps its port for life, so that it
// can be restarted where the others expect it.
int FreePort() {
  static std::mt19937 rng(std::random_device{}());
  constexpr int kLowest = 10000;
  const int below = EphemeralPortsFrom();
  if (below - kLowest >= 1000) {
    std::uniform_int_distribution<int> pick(kLowest, below - 1);
    for (int attempt = 0; attempt < 50; ++attempt) {
      int port = pick(rng);
      if (CanBind(port)) return port;
    }
  }
  int port = 0;
  return CanBind(0, &port) ? port : 0;
}

std::string BinDirOfThisProgram() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : self.parent_path().string();
}

std::string TlsSection(const std::string& dir, const std::string& cert) {
  return absl::StrCat("  tls {\n    ca_file: \"", dir, "/ca/ca.crt\"\n    cert_file: \"", dir,
                      "/certs/", cert, ".crt\"\n    key_file: \"", dir, "/certs/", cert,
                      ".key\"\n    crl_dir: \"", dir, "/ca/crl\"\n  }\n");
}

// Starts `binary --config config` in its own session with output to `log`.
absl::StatusOr<pid_t> Spawn(const std::string& binary, const std::string& config,
                            const std::string& log) {
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    setsid();
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    int null = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    if (null >= 0) dup2(null, STDIN_FILENO);
    execl(binary.c_str(), binary.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

absl::StatusOr<int> WaitForPort(const std::string& port_file, pid_t pid, const std::string& log) {
  for (int i = 0; i < 300; ++i) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) return port;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      std::ifstream l(log);
      std::stringstream ss;
      ss << l.rdbuf();
      return absl::FailedPreconditionError(absl::StrCat("it exited; its log:\n", ss.str()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError("it did not start within 30 s");
}

// A channel to the devnet service on `port`, presenting certs/<cert>.crt.
std::shared_ptr<grpc::Channel> ChannelAs(const std::string& dir, const std::string& cert,
                                         int port) {
  ConnectionFlags flags;
  flags.target = absl::StrCat("127.0.0.1:", port);
  flags.ca_file = dir + "/ca/ca.crt";
  flags.cert_file = absl::StrCat(dir, "/certs/", cert, ".crt");
  flags.key_file = absl::StrCat(dir, "/certs/", cert, ".key");
  absl::StatusOr<Connection> connection = Connect(flags);
  return connection.ok() ? connection->channel : nullptr;
}

bool Healthy(const std::string& dir, int port) {
  auto channel = ChannelAs(dir, "operator", port);
  if (channel == nullptr) return false;
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, {}, &response).ok() &&
         response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

std::string Profile(const std::string& dir, const std::string& cert, int port,
                    const std::string& org) {
  return absl::StrCat(
      "# hiectl connection profile (hie.v1.ClientProfile), written by hiectl devnet\n",
      port > 0 ? absl::StrCat("target: \"127.0.0.1:", port, "\"\n") : "", "ca_file: \"", dir,
      "/ca/ca.crt\"\ncert_file: \"", dir, "/certs/", cert, ".crt\"\nkey_file: \"", dir, "/certs/",
      cert, ".key\"\ncrl_dir: \"", dir, "/ca/crl\"\n",
      org.empty() ? "" : absl::StrCat("expected_org: \"", org, "\"\n"));
}

absl::StatusOr<std::vector<Service>> ReadDevnet(const std::string& dir) {
  std::ifstream in(dir + "/devnet.json");
  if (!in) return absl::NotFoundError(absl::StrCat("no devnet in ", dir, " (no devnet.json)"));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text).get(root)) return absl::DataLossError(dir + "/devnet.json is not JSON");
  std::vector<Service> services;
  simdjson::dom::array list;
  if (root["services"].get_array().get(list)) return services;
  for (simdjson::dom::element s : list) {
    Service service;
    std::string_view v;
    int64_t n;
    if (!s["name"].get_string().get(v)) service.name = std::string(v);
    if (!s["role"].get_string().get(v)) service.role = std::string(v);
    if (!s["org"].get_string().get(v)) service.org = std::string(v);
    if (!s["port"].get_int64().get(n)) service.port = static_cast<int>(n);
    if (!s["pid"].get_int64().get(n)) service.pid = static_cast<pid_t>(n);
    services.push_back(service);
  }
  return services;
}

// True if `pid` runs a hie daemon with a config inside `dir` (so that down never
// signals a process it did not start, even after the pid was reused).
bool IsOurs(pid_t pid, const std::string& dir) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string cmdline = ss.str();
  return cmdline.find("/hie-") != std::string::npos && cmdline.find(dir) != std::string::npos;
}

int RunUp(const std::vector<std::string>& args) {
  std::string dir;
  int nodes = 3;
  bool json = false;
  FlagSet flags(
      "hiectl devnet up --dir D [--nodes N] [--json]",
      "Starts a whole exchange on this machine: creates the CA and every certificate in\n"
      "D, writes each daemon's config, starts hie-mpi, hie-consent and N practice nodes\n"
      "(org-a, org-b, ...) as real processes on free loopback ports with mutual TLS,\n"
      "enrolls the organisations, waits until all are healthy, and writes D/devnet.json\n"
      "(every service's org, address and pid, and the credential files of each org and of\n"
      "the operator) and connection profiles in D/profiles/. Logs are in D/logs/.\n"
      "`hiectl devnet down --dir D` stops exactly these processes.",
      "hiectl devnet up --dir run/devnet --nodes 3");
  flags.String("dir", &dir, "D", "where everything lives (created)");
  flags.Int("nodes", &nodes, "N", "how many practice nodes (default 3, at most 26)");
  flags.Bool("json", &json, "print devnet.json on stdout when ready");
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok()) return UsageError("devnet up", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (dir.empty()) return UsageError("devnet up", absl::InvalidArgumentError("--dir is required"));
  if (nodes < 1 || nodes > 26) {
    return UsageError("devnet up", absl::InvalidArgumentError("--nodes must be 1..26"));
  }
  dir = fs::absolute(dir).lexically_normal().string();
  if (fs::exists(dir + "/devnet.json")) {
    auto running = ReadDevnet(dir);
    if (running.ok()) {
      for (const auto& s : *running) {
        if (s.pid > 0 && IsOurs(s.pid, dir)) {
          return Fail(absl::FailedPreconditionError(
              absl::StrCat("a devnet is already running in ", dir, ": `hiectl devnet down --dir ",
                           dir, "` first")));
        }
      }
    }
  }
  std::error_code ec;
  for (const char* sub : {"ca", "certs", "config", "logs", "data", "profiles"}) {
    fs::remove_all(fs::path(dir) / sub, ec);
  }
  fs::create_directories(dir + "/certs");
  fs::create_directories(dir + "/config");
  fs::create_directories(dir + "/logs");
  fs::create_directories(dir + "/profiles");
  chmod(dir.c_str(), 0700);
  auto say = [&](const std::string& line) {
    if (!json) std::cerr << line << "\n";
  };
  say(absl::StrCat("==> creating the exchange CA and certificates in ", dir));
  auto ca = pki::CertificateAuthority::Init(dir + "/ca", pki::CaInitOptions{});
  if (!ca.ok()) return Fail(ca.status());
  std::vector<Service> services = {{"mpi", "mpi", "exchange", "hie-mpi"},
                                   {"consent", "consent", "exchange", "hie-consent"}};
  for (int i = 0; i < nodes; ++i) {
    std::string letter(1, static_cast<char>('a' + i));
    services.push_back({"node-" + letter, "node", "org-" + letter, "hie-node"});
  }
  auto issue = [&](const std::string& org, const std::string& name, pki::Role role,
                   bool client_only) -> absl::Status {
    pki::IssueOptions options;
    options.org_id = org;
    options.name = name;
    options.role = role;
    options.server_auth = !client_only;
    auto issued = (*ca)->Issue(options);
    if (!issued.ok()) return issued.status();
    return pki::WriteCertificateFiles(*issued, dir + "/certs/" + name);
  };
  for (const auto& s : services) {
    absl::Status st = issue(s.org, s.name, *pki::ParseRole(s.role), false);
    if (!st.ok()) return Fail(st);
  }
  if (absl::Status st = issue("exchange", "operator", pki::Role::kOperator, true); !st.ok()) {
    return Fail(st);
  }
  std::string bin = BinDirOfThisProgram();
  std::vector<pid_t> started;
  auto abort_all = [&](const absl::Status& why) {
    for (pid_t pid : started) kill(pid, SIGTERM);
    for (pid_t pid : started) waitpid(pid, nullptr, 0);
    return Fail(why);
  };
  int mpi_port = 0, consent_port = 0;
  // Every port is chosen before anything starts: the MPI names the consent service, which
  // starts after it, as the witness of its audit checkpoints.
  std::set<int> chosen;
  for (auto& s : services) {
    int port = FreePort();
    for (int attempt = 0; attempt < 10 && chosen.contains(port); ++attempt) port = FreePort();
    chosen.insert(port);
    s.port = port;
  }
  int planned_consent_port = 0;
  for (const auto& s : services) {
    if (s.role == "consent") planned_consent_port = s.port;
  }
  for (auto& s : services) {
    std::string config = absl::StrCat(
        "# ", s.binary, " of ", s.org, ", written by hiectl devnet up\nserver {\n",
        "  listen_address: \"127.0.0.1:", s.port, "\"\n  port_file: \"", dir, "/data/", s.name,
        ".port\"\n", TlsSection(dir, s.name), "}\ndata_dir: \"", dir, "/data/", s.name, "\"\n");
    if (s.role == "mpi") {
      absl::StrAppend(&config, "consent { address: \"127.0.0.1:", planned_consent_port,
                      "\" expected_org: \"exchange\" }\n");
    }
    if (s.role != "mpi") {
      absl::StrAppend(&config, "mpi { address: \"127.0.0.1:", mpi_port,
                      "\" expected_org: \"exchange\" }\n");
    }
    if (s.role == "node") {
      absl::StrAppend(&config, "consent { address: \"127.0.0.1:", consent_port,
                      "\" expected_org: \"exchange\" }\n");
      // The FHIR REST API on a port of its own choosing (docs/fhir-api.md).
      // A port chosen now, kept for life like the service's own: a restarted node's API
      // comes back where devnet.json and the profile say it is.
      int fhir_port = FreePort();
      for (int attempt = 0; attempt < 10 && chosen.contains(fhir_port); ++attempt) {
        fhir_port = FreePort();
      }
      chosen.insert(fhir_port);
      absl::StrAppend(&config, "fhir_api { listen_address: \"127.0.0.1:", fhir_port,
                      "\" port_file: \"", dir, "/data/", s.name, ".fhir.port\" }\n");
    }
    std::string config_path = absl::StrCat(dir, "/config/", s.name, ".textproto");
    std::ofstream(config_path) << config;
    fs::create_directories(absl::StrCat(dir, "/data"));
    say(absl::StrCat("==> starting ", s.binary, " (", s.org, ")"));
    std::string log = absl::StrCat(dir, "/logs/", s.name, ".log");
    auto pid = Spawn(absl::StrCat(bin, "/", s.binary), config_path, log);
    if (!pid.ok()) return abort_all(pid.status());
    started.push_back(*pid);
    s.pid = *pid;
    auto port = WaitForPort(absl::StrCat(dir, "/data/", s.name, ".port"), *pid, log);
    if (!port.ok()) {
      return abort_all(absl::Status(port.status().code(), absl::StrCat(s.binary, " did not start: ",
                                                                       port.status().message())));
    }
    s.port = *port;
    if (s.role == "node") {
      auto fhir = WaitForPort(absl::StrCat(dir, "/data/", s.name, ".fhir.port"), *pid, log);
      if (!fhir.ok()) return abort_all(fhir.status());
      s.fhir_port = *fhir;
    }
    if (s.role == "mpi") mpi_port = s.port;
    if (s.role == "consent") consent_port = s.port;
  }
  // Enroll every practice with its node's address.
  auto directory = hie::v1::Directory::NewStub(ChannelAs(dir, "operator", mpi_port));
  for (const auto& s : services) {
    if (s.role != "node") continue;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    hie::v1::EnrollOrganizationRequest request;
    request.set_org_id(s.org);
    request.set_display_name(absl::StrCat("Practice ", s.org.substr(4)));
    request.set_endpoint(absl::StrCat("127.0.0.1:", s.port));
    hie::v1::Organization out;
    grpc::Status st = directory->EnrollOrganization(&context, request, &out);
    if (!st.ok())
      return abort_all(
          absl::InternalError(absl::StrCat("enrolling ", s.org, ": ", st.error_message())));
  }
  for (auto& s : services) {
    if (s.role != "node") continue;
    auto client = RegisterFhirClient(ChannelAs(dir, s.name, s.port),
                                     absl::StrCat(dir, "/certs/", s.org, "-fhir-client"));
    if (!client.ok()) {
      return abort_all(absl::InternalError(
          absl::StrCat("registering ", s.org, "'s FHIR client: ", client.status().message())));
    }
    s.fhir_client_id = *client;
  }
  // The web app's demo accounts: a clinician, a front desk and an admin at every
  // practice (the patient accounts come with the samples, whose Patients they are).
  std::vector<DemoAccount> accounts;
  for (const auto& s : services) {
    if (s.role != "node") continue;
    const std::string practice = absl::StrCat("Practice ", s.org.substr(4));
    for (auto [login, name, role] :
         {std::tuple<std::string, std::string, hie::v1::UserRole>{
              "dr.lee", absl::StrCat("Dr. Lee (", practice, ")"), hie::v1::USER_ROLE_CLINICIAN},
          {"desk", absl::StrCat("Front desk of ", practice), hie::v1::USER_ROLE_FRONT_DESK},
          {"admin", absl::StrCat("Admin of ", practice), hie::v1::USER_ROLE_PRACTICE_ADMIN}}) {
      auto account = AddDemoAccount(ChannelAs(dir, s.name, s.port), s.org, login, name, role, "");
      if (!account.ok()) return abort_all(account.status());
      accounts.push_back(*std::move(account));
    }
  }
  if (absl::Status st = RecordDemoAccounts(dir, accounts); !st.ok()) return abort_all(st);
  for (const auto& s : services) {
    if (!Healthy(dir, s.port)) {
      return abort_all(absl::UnavailableError(
          absl::StrCat(s.name, " is not healthy; see ", dir, "/logs/", s.name, ".log")));
    }
  }
  // Profiles and devnet.json.
  std::ofstream(dir + "/profiles/operator.profile") << Profile(dir, "operator", 0, "");
  for (const auto& s : services) {
    std::ofstream(absl::StrCat(dir, "/profiles/operator-", s.name, ".profile"))
        << Profile(dir, "operator", s.port, s.org);
    if (s.role == "node") {
      std::ofstream(absl::StrCat(dir, "/profiles/", s.org, ".profile"))
          << Profile(dir, s.name, s.port, s.org) << "fhir_base: \"https://127.0.0.1:" << s.fhir_port
          << "\"\nfhir_client_id: \"" << s.fhir_client_id << "\"\nfhir_client_key_file: \"" << dir
          << "/certs/" << s.org << "-fhir-client.key\"\n";
    }
  }
  std::vector<std::string> service_json;
  JsonObject credentials;
  credentials.AddRaw("operator", JsonObject()
                                     .Add("cert", dir + "/certs/operator.crt")
                                     .Add("key", dir + "/certs/operator.key")
                                     .Build());
  for (const auto& s : services) {
    JsonObject entry;
    entry.Add("name", s.name)
        .Add("role", s.role)
        .Add("org", s.org)
        .Add("address", absl::StrCat("127.0.0.1:", s.port))
        .Add("port", s.port)
        .Add("pid", static_cast<int64_t>(s.pid))
        .Add("config", absl::StrCat(dir, "/config/", s.name, ".textproto"))
        .Add("log", absl::StrCat(dir, "/logs/", s.name, ".log"));
    if (s.role == "node") {
      entry.Add("fhir_base", absl::StrCat("https://127.0.0.1:", s.fhir_port))
          .Add("fhir_client_id", s.fhir_client_id);
    }
    service_json.push_back(entry.Build());
    if (s.role == "node") {
      credentials.AddRaw(s.org,
                         JsonObject()
                             .Add("cert", absl::StrCat(dir, "/certs/", s.name, ".crt"))
                             .Add("key", absl::StrCat(dir, "/certs/", s.name, ".key"))
                             .Add("profile", absl::StrCat(dir, "/profiles/", s.org, ".profile"))
                             .Build());
    }
  }
  std::string devnet = JsonObject()
                           .Add("ca_dir", dir + "/ca")
                           .Add("ca_cert", dir + "/ca/ca.crt")
                           .AddRaw("services", JsonArray(service_json))
                           .AddRaw("credentials", credentials.Build())
                           .Add("web_accounts", dir + "/web-accounts.txt")
                           .Build();
  std::ofstream(dir + "/devnet.json") << devnet << "\n";
  if (json) {
    std::cout << devnet << "\n";
  } else {
    std::cout << "devnet up in " << dir << ": mpi, consent and " << nodes
              << " practice nodes, all healthy over mutual TLS\n";
    for (const auto& s : services) {
      std::cout << absl::StrFormat(
          "  %-8s %-9s 127.0.0.1:%-6d pid %d%s\n", s.name, s.org, s.port, s.pid,
          s.fhir_port != 0 ? absl::StrCat("   FHIR https://127.0.0.1:", s.fhir_port) : "");
    }
    std::cout << "profiles: " << dir << "/profiles/   stop: hiectl devnet down --dir " << dir
              << "\n";
    std::cout << "web app: each node's FHIR address + /app/ (sign in with an account from " << dir
              << "/web-accounts.txt: a clinician, a front desk and an admin per practice; "
                 "the sample patients' come with the samples)\n";
  }
  return kExitOk;
}

int RunDown(const std::vector<std::string>& args) {
  std::string dir;
  FlagSet flags(
      "hiectl devnet down --dir D",
      "Stops the processes `hiectl devnet up --dir D` started (SIGTERM, then SIGKILL after\n"
      "10 s), and only those. The data, certificates and logs stay in D.",
      "hiectl devnet down --dir run/devnet");
  flags.String("dir", &dir, "D", "the devnet's directory");
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok()) return UsageError("devnet down", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (dir.empty())
    return UsageError("devnet down", absl::InvalidArgumentError("--dir is required"));
  dir = fs::absolute(dir).lexically_normal().string();
  auto services = ReadDevnet(dir);
  if (!services.ok()) return Fail(services.status());
  int stopped = 0;
  for (const auto& s : *services) {
    if (s.pid <= 0 || !IsOurs(s.pid, dir)) continue;
    kill(s.pid, SIGTERM);
    for (int i = 0; i < 100 && IsOurs(s.pid, dir); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (IsOurs(s.pid, dir)) kill(s.pid, SIGKILL);
    ++stopped;
    std::cout << "stopped " << s.name << " (pid " << s.pid << ")\n";
  }
  if (stopped == 0) std::cout << "nothing was running in " << dir << "\n";
  return kExitOk;
}

int RunRestart(const std::vector<std::string>& args) {
  std::string dir;
  std::vector<std::string> names;
  FlagSet flags("hiectl devnet restart --dir D NAME...",
                "Stops one or more devnet services (mpi, consent, node-a...) if they run, starts\n"
                "them again on the same address with the same data, waits until they serve, and\n"
                "updates D/devnet.json.",
                "hiectl devnet restart --dir run/devnet mpi");
  flags.String("dir", &dir, "D", "the devnet's directory");
  if (absl::Status s = flags.Parse(args, &names); !s.ok()) return UsageError("devnet restart", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (dir.empty() || names.empty()) {
    return UsageError("devnet restart",
                      absl::InvalidArgumentError("--dir and a NAME are required"));
  }
  dir = fs::absolute(dir).lexically_normal().string();
  std::ifstream in(dir + "/devnet.json");
  std::stringstream text;
  text << in.rdbuf();
  std::string devnet = text.str();
  auto services = ReadDevnet(dir);
  if (!services.ok()) return Fail(services.status());
  std::string bin = BinDirOfThisProgram();
  for (const std::string& name : names) {
    const Service* found = nullptr;
    for (const auto& s : *services) {
      if (s.name == name) found = &s;
    }
    if (found == nullptr) {
      return UsageError("devnet restart", absl::NotFoundError(absl::StrCat("no service ", name)));
    }
    if (found->pid > 0 && IsOurs(found->pid, dir)) {
      kill(found->pid, SIGTERM);
      for (int i = 0; i < 100 && IsOurs(found->pid, dir); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (IsOurs(found->pid, dir)) kill(found->pid, SIGKILL);
    }
    std::string port_file = absl::StrCat(dir, "/data/", name, ".port");
    fs::remove(port_file);
    std::string log = absl::StrCat(dir, "/logs/", name, ".log");
    auto pid =
        Spawn(absl::StrCat(bin, "/", found->binary.empty() ? "hie-" + found->role : found->binary),
              absl::StrCat(dir, "/config/", name, ".textproto"), log);
    if (!pid.ok()) return Fail(pid.status());
    auto port = WaitForPort(port_file, *pid, log);
    if (!port.ok()) return Fail(port.status());
    // The pid in devnet.json follows the new process.
    std::string old_pid = absl::StrCat("\"pid\": ", found->pid, ",");
    size_t at = devnet.find(old_pid);
    if (at != std::string::npos)
      devnet.replace(at, old_pid.size(), absl::StrCat("\"pid\": ", *pid, ","));
    std::cout << "restarted " << name << " (pid " << *pid << ") on 127.0.0.1:" << *port << "\n";
  }
  std::ofstream(dir + "/devnet.json") << devnet;
  return kExitOk;
}

int RunLoad(const std::vector<std::string>& args) {
  std::string dir;
  int clinicians = 8;
  int seconds = 10;
  bool json = false;
  std::vector<std::string> patients;
  FlagSet flags(
      "hiectl devnet load --dir D [--clinicians N] [--seconds S] [--patient ID]... [--json]",
      "Drives a running devnet with N concurrent clinicians at the first practice, each\n"
      "issuing federated queries (purpose TREAT) one after another for S seconds, and\n"
      "reports throughput, latency percentiles and errors. Patients default to the samples\n"
      "(load them first with `hiectl devnet samples`).",
      "hiectl devnet load --dir run/devnet --clinicians 16 --seconds 30 --json");
  flags.String("dir", &dir, "D", "the devnet's directory");
  flags.Int("clinicians", &clinicians, "N", "concurrent clinicians (default 8)");
  flags.Int("seconds", &seconds, "S", "how long (default 10)");
  flags.Strings("patient", &patients, "ID", "a patient's id at the first practice (repeatable)");
  flags.Bool("json", &json, "print one JSON document on stdout");
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok()) return UsageError("devnet load", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (dir.empty() || clinicians < 1 || seconds < 1) {
    return UsageError("devnet load",
                      absl::InvalidArgumentError("--dir, and positive --clinicians and --seconds"));
  }
  dir = fs::absolute(dir).lexically_normal().string();
  auto services = ReadDevnet(dir);
  if (!services.ok()) return Fail(services.status());
  const Service* node = nullptr;
  for (const auto& s : *services) {
    if (s.role == "node" && node == nullptr) node = &s;
  }
  if (node == nullptr)
    return Fail(absl::FailedPreconditionError("the devnet has no practice node"));
  if (patients.empty()) patients = {"GP-1001", "GP-1003"};
  std::vector<std::vector<double>> latencies(clinicians);
  std::vector<int64_t> errors(clinicians, 0);
  std::vector<std::string> first_error(clinicians);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clinicians; ++c) {
    threads.emplace_back([&, c] {
      auto stub = hie::v1::FederatedQuery::NewStub(ChannelAs(dir, node->name, node->port));
      for (int i = 0; std::chrono::steady_clock::now() < deadline; ++i) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        hie::v1::QueryRequest request;
        request.set_local_patient_id(patients[(c + i) % patients.size()]);
        request.set_purpose("TREAT");
        request.mutable_user()->set_user_id(absl::StrCat("clinician-", c));
        auto start = std::chrono::steady_clock::now();
        auto reader = stub->Query(&context, request);
        hie::v1::QueryEvent event;
        while (reader->Read(&event)) {
        }
        grpc::Status status = reader->Finish();
        latencies[c].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count());
        if (!status.ok()) {
          if (errors[c]++ == 0) first_error[c] = status.error_message();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<double> all;
  int64_t error_count = 0;
  std::string an_error;
  for (int c = 0; c < clinicians; ++c) {
    all.insert(all.end(), latencies[c].begin(), latencies[c].end());
    error_count += errors[c];
    if (an_error.empty()) an_error = first_error[c];
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[static_cast<size_t>(p * (all.size() - 1))];
  };
  double per_second = static_cast<double>(all.size()) / seconds;
  if (json) {
    std::cout << JsonObject()
                     .Add("clinicians", clinicians)
                     .Add("seconds", seconds)
                     .Add("queries", static_cast<int64_t>(all.size()))
                     .Add("queries_per_s", per_second)
                     .Add("p50_ms", pct(0.5))
                     .Add("p90_ms", pct(0.9))
                     .Add("p99_ms", pct(0.99))
                     .Add("errors", error_count)
                     .Add("first_error", an_error)
                     .Build()
              << "\n";
  } else {
    std::cout << absl::StrFormat(
        "%d clinicians for %d s: %d queries, %.1f/s, p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, %d "
        "errors%s\n",
        clinicians, seconds, all.size(), per_second, pct(0.5), pct(0.9), pct(0.99), error_count,
        an_error.empty() ? "" : absl::StrCat(" (first: ", an_error, ")"));
  }
  return error_count == 0 ? kExitOk : kExitFailed;
}

int RunStatus(const std::vector<std::string>& args) {
  std::string dir;
  bool json = false;
  FlagSet flags("hiectl devnet status --dir D [--json]",
                "Shows each service of the devnet in D: its address, pid and gRPC health. Exit\n"
                "status 3 if any is not serving.",
                "hiectl devnet status --dir run/devnet --json");
  flags.String("dir", &dir, "D", "the devnet's directory");
  flags.Bool("json", &json, "print one JSON document on stdout");
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok()) return UsageError("devnet status", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (dir.empty())
    return UsageError("devnet status", absl::InvalidArgumentError("--dir is required"));
  dir = fs::absolute(dir).lexically_normal().string();
  auto services = ReadDevnet(dir);
  if (!services.ok()) return Fail(services.status());
  bool all = true;
  std::vector<std::string> items;
  for (const auto& s : *services) {
    bool running = s.pid > 0 && IsOurs(s.pid, dir);
    bool healthy = running && Healthy(dir, s.port);
    all = all && healthy;
    items.push_back(JsonObject()
                        .Add("name", s.name)
                        .Add("org", s.org)
                        .Add("address", absl::StrCat("127.0.0.1:", s.port))
                        .Add("pid", static_cast<int64_t>(s.pid))
                        .Add("running", running)
                        .Add("status", healthy   ? "SERVING"
                                       : running ? "NOT_SERVING"
                                                 : "STOPPED")
                        .Build());
    if (!json) {
      std::cout << absl::StrFormat("  %-8s %-9s 127.0.0.1:%-6d pid %-7d %s\n", s.name, s.org,
                                   s.port, s.pid,
                                   healthy   ? "serving"
                                   : running ? "NOT serving"
                                             : "stopped");
    }
  }
  if (json)
    std::cout << JsonObject().AddRaw("services", JsonArray(items)).Add("healthy", all).Build()
              << "\n";
  return all ? kExitOk : kExitUnavailable;
}

int RunSamples(const std::vector<std::string>& args) {
  std::string dir, synthea;
  int synthea_patients = 4;
  bool json = false;
  FlagSet flags(
      "hiectl devnet samples --dir D [--synthea DIR] [--json]",
      "Loads the sample patients into a running devnet: a few people spread over the\n"
      "practices the way care is spread (a GP, a hospital, a specialist), each practice's\n"
      "registration typed a little differently so that the MPI has real work to do, one\n"
      "patient who opted out and one with substance-use records that the policy\n"
      "withholds. With Synthea patient bundles at hand (--synthea DIR; by default\n"
      "../shared/data/fhir/synthea beside the checkout, when present) a few of those\n"
      "records are spread over the practices by encounter too. Waits until the MPI has\n"
      "linked each patient's registrations, then prints who is where. The bundles are\n"
      "kept in D/samples/.",
      "hiectl devnet samples --dir run/devnet");
  flags.String("dir", &dir, "D", "the devnet's directory");
  flags.String("synthea", &synthea, "DIR", "Synthea patient bundles (gsd-*.json) to spread too");
  flags.Int("synthea-patients", &synthea_patients, "N", "how many Synthea patients (default 4)");
  flags.Bool("json", &json, "print one JSON document on stdout");
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok()) return UsageError("devnet samples", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (dir.empty())
    return UsageError("devnet samples", absl::InvalidArgumentError("--dir is required"));
  dir = fs::absolute(dir).lexically_normal().string();
  auto services = ReadDevnet(dir);
  if (!services.ok()) return Fail(services.status());
  std::map<std::string, const Service*> node_of;
  std::vector<std::string> orgs;
  int mpi_port = 0, consent_port = 0;
  for (const auto& s : *services) {
    if (s.role == "node") {
      node_of[s.org] = &s;
      orgs.push_back(s.org);
    }
    if (s.role == "mpi") mpi_port = s.port;
    if (s.role == "consent") consent_port = s.port;
  }
  if (orgs.empty()) return Fail(absl::FailedPreconditionError("the devnet has no practice nodes"));
  SampleSet samples = MakeSamples(orgs);
  // The named sample patients (the Synthea ones come after them).
  const size_t named_patients = samples.patients.size();
  if (synthea.empty()) {
    fs::path beside = fs::path(BinDirOfThisProgram()) / "../../../shared/data/fhir/synthea";
    if (fs::exists(beside)) synthea = fs::canonical(beside).string();
  }
  if (!synthea.empty()) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(synthea)) {
      std::string name = e.path().filename().string();
      if (name.rfind("gsd-", 0) == 0 && e.path().extension() == ".json")
        files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.size() > static_cast<size_t>(std::max(0, synthea_patients)))
      files.resize(std::max(0, synthea_patients));
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      if (absl::Status s = AddSyntheaPatient(text.str(), orgs, &samples); !s.ok()) {
        return Fail(absl::Status(s.code(), absl::StrCat(file, ": ", s.message())));
      }
    }
  }
  fs::create_directories(dir + "/samples");
  for (const auto& bundle : samples.bundles) {
    const Service* node = node_of[bundle.org];
    std::string file = absl::StrCat(dir, "/samples/", bundle.org, "-", bundle.local_id, ".json");
    std::ofstream(file) << bundle.json;
    auto ingest = hie::v1::Ingest::NewStub(ChannelAs(dir, node->name, node->port));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    hie::v1::ImportResponse response;
    auto writer = ingest->Import(&context, &response);
    hie::v1::ImportRequest request;
    request.set_format(hie::v1::ImportRequest::FORMAT_JSON);
    request.set_source_name(fs::path(file).filename().string());
    request.set_data(bundle.json);
    writer->Write(request);
    writer->WritesDone();
    grpc::Status st = writer->Finish();
    if (!st.ok() || response.rejected_size() > 0) {
      return Fail(absl::InternalError(
          absl::StrCat("loading ", file, " into ", bundle.org, ": ",
                       st.ok() ? response.rejected(0).path() + ": " + response.rejected(0).message()
                               : st.error_message())));
    }
  }
  // Every named sample patient signs in to the portal of each practice that registered
  // them, as themself: "jane" at org-a is Jane Oyelaran, GP-1001.
  std::vector<DemoAccount> patient_accounts;
  for (size_t i = 0; i < named_patients; ++i) {
    const SamplePatient& p = samples.patients[i];
    const std::string login = absl::AsciiStrToLower(p.name.substr(0, p.name.find(' ')));
    for (const auto& [org, local_id] : p.registrations) {
      const Service* node = node_of[org];
      if (node == nullptr) continue;
      auto account = AddDemoAccount(ChannelAs(dir, node->name, node->port), org, login, p.name,
                                    hie::v1::USER_ROLE_PATIENT, local_id);
      if (!account.ok()) return Fail(account.status());
      patient_accounts.push_back(*std::move(account));
    }
  }
  if (absl::Status st = RecordDemoAccounts(dir, patient_accounts); !st.ok()) return Fail(st);
  auto consent =
      hie::v1::ConsentService::NewStub(ChannelAs(dir, node_of[orgs[0]]->name, consent_port));
  auto mpi = hie::v1::MasterPatientIndex::NewStub(ChannelAs(dir, "operator", mpi_port));
  std::vector<std::string> items;
  for (const auto& p : samples.patients) {
    const auto& [first_org, first_id] = p.registrations.front();
    // The outboxes deliver the registrations; wait until the MPI links them all.
    int linked = 0;
    for (int attempt = 0; attempt < 150 && linked < static_cast<int>(p.registrations.size());
         ++attempt) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
      hie::v1::GetCrossReferenceRequest request;
      request.mutable_local()->set_org_id(first_org);
      request.mutable_local()->set_local_id(first_id);
      hie::v1::CrossReference xref;
      linked = 0;
      if (mpi->GetCrossReference(&context, request, &xref).ok()) {
        for (const auto& r : xref.registrations())
          linked += r.grade() == hie::v1::MATCH_GRADE_CERTAIN;
      }
      if (linked < static_cast<int>(p.registrations.size())) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    if (!p.consent_json.empty()) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      hie::v1::PutDirectiveRequest request;
      request.mutable_patient()->set_org_id(first_org);
      request.mutable_patient()->set_local_id(first_id);
      request.set_consent_json(p.consent_json);
      hie::v1::Directive directive;
      grpc::Status st = consent->PutDirective(&context, request, &directive);
      if (!st.ok())
        return Fail(absl::InternalError(
            absl::StrCat("filing ", p.name, "'s consent: ", st.error_message())));
    }
    std::vector<std::string> where;
    std::vector<std::string> where_json;
    for (const auto& [org, id] : p.registrations) {
      where.push_back(absl::StrCat(org, ":", id));
      where_json.push_back(JsonObject().Add("org", org).Add("local_id", id).Build());
    }
    items.push_back(JsonObject()
                        .Add("name", p.name)
                        .Add("story", p.story)
                        .AddRaw("registrations", JsonArray(where_json))
                        .Add("linked", linked)
                        .Build());
    if (!json) {
      std::cout << absl::StrFormat("  %-15s %-48s %s%s\n", p.name, p.story,
                                   absl::StrJoin(where, "  "),
                                   linked < static_cast<int>(p.registrations.size())
                                       ? absl::StrCat("  (", linked, " linked so far)")
                                       : "");
    }
  }
  if (json) std::cout << JsonObject().AddRaw("patients", JsonArray(items)).Build() << "\n";
  return kExitOk;
}

}  // namespace

std::vector<Command> DevnetCommands() {
  return {
      {{"devnet", "up"}, "start a whole exchange on this machine", RunUp},
      {{"devnet", "down"}, "stop the devnet's processes", RunDown},
      {{"devnet", "status"}, "health of each devnet service", RunStatus},
      {{"devnet", "restart"}, "restart devnet services on the same address and data", RunRestart},
      {{"devnet", "load"}, "drive a devnet with concurrent clinicians' queries", RunLoad},
      {{"devnet", "samples"}, "load sample patients into a running devnet", RunSamples}};
}

}  // namespace hie::cli
