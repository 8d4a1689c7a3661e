#include "common/grpc/tls.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto/hash.h"
#include "common/grpc/status_convert.h"
#include "common/log/log.h"
#include "common/pki/revocation.h"
#include "common/status/status_macros.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace hie {
namespace {

namespace fs = std::filesystem;
using grpc::experimental::CertificateProviderInterface;

// gRPC's file watcher re-reads the staged files this often (seconds).
constexpr unsigned kProviderRefreshSeconds = 1;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status WriteFile(const std::string& path, absl::string_view content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n <= 0) {
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
    }
    off += static_cast<size_t>(n);
  }
  ::fchmod(fd, mode);
  ::close(fd);
  return absl::OkStatus();
}

struct Material {
  std::string ca_pem;
  std::string chain_pem;
  std::string key_pem;

  bool operator==(const Material&) const = default;
};

// The revocation list in force, shared by the context and every verifier it made.
class RevocationState {
 public:
  explicit RevocationState(bool enabled) : enabled_(enabled) {}

  void Set(std::shared_ptr<const pki::RevocationList> crl) {
    absl::MutexLock lock(&mu_);
    crl_ = std::move(crl);
  }

  std::shared_ptr<const pki::RevocationList> Get() const {
    absl::MutexLock lock(&mu_);
    return crl_;
  }

  // The CA certificate in service: the trust anchor client chains are verified against.
  void SetCa(std::string ca_pem) {
    absl::MutexLock lock(&mu_);
    ca_pem_ = std::make_shared<const std::string>(std::move(ca_pem));
  }
  std::shared_ptr<const std::string> Ca() const {
    absl::MutexLock lock(&mu_);
    return ca_pem_;
  }

  absl::Status Check(const pki::CertIdentity& peer, absl::Time now) const {
    std::shared_ptr<const pki::RevocationList> crl = Get();
    if (!enabled_) return CheckValidity(peer, now);
    if (crl == nullptr) {
      return absl::UnauthenticatedError(
          "no current CRL of the exchange CA is loaded: every peer is refused until one is");
    }
    if (now >= crl->next_update()) {
      return absl::UnauthenticatedError(
          absl::StrCat("the exchange CA's CRL expired at ", absl::FormatTime(crl->next_update()),
                       ": every peer is refused until a current one is installed"));
    }
    if (crl->IsRevoked(peer.serial_hex)) {
      return absl::UnauthenticatedError(absl::StrCat("certificate ", peer.serial_hex, " of org \"",
                                                     peer.org_id, "\" is revoked"));
    }
    return CheckValidity(peer, now);
  }

 private:
  static absl::Status CheckValidity(const pki::CertIdentity& peer, absl::Time now) {
    if (now >= peer.not_after) {
      return absl::UnauthenticatedError(absl::StrCat("certificate of org \"", peer.org_id,
                                                     "\" expired at ",
                                                     absl::FormatTime(peer.not_after)));
    }
    if (now < peer.not_before) {
      return absl::UnauthenticatedError(absl::StrCat("certificate of org \"", peer.org_id,
                                                     "\" is not valid before ",
                                                     absl::FormatTime(peer.not_before)));
    }
    return absl::OkStatus();
  }

  const bool enabled_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const pki::RevocationList> crl_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const std::string> ca_pem_ ABSL_GUARDED_BY(mu_);
};

// Runs on both sides of a handshake. A client verifies the server's chain through gRPC
// first; a server asks gRPC not to, and verifies the client's chain here against the CA
// in service, so that every refusal, a foreign CA's certificate included, is reported.
class HieCertificateVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  HieCertificateVerifier(std::shared_ptr<const RevocationState> revocation, Clock* clock,
                         PeerExpectation expect, bool peer_is_client,
                         std::shared_ptr<SecurityEventSink> events)
      : revocation_(std::move(revocation)),
        clock_(clock),
        expect_(std::move(expect)),
        peer_is_client_(peer_is_client),
        events_(std::move(events)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> callback, grpc::Status* sync_status) override {
    std::string_view leaf(request->peer_cert().data(), request->peer_cert().size());
    std::string_view chain(request->peer_cert_full_chain().data(),
                           request->peer_cert_full_chain().size());
    absl::Status status = Check(leaf, chain);
    if (!status.ok()) {
      if (events_ != nullptr) {
        SecurityEvent event;
        event.kind = SecurityEventKind::kAuthentication;
        pki::CertSummary summary = pki::DescribeCertificate(leaf);
        event.subject = std::move(summary.subject);
        event.serial_hex = std::move(summary.serial_hex);
        if (auto identity = pki::ReadCertIdentity(leaf); identity.ok()) {
          event.org_id = identity->org_id;
        }
        event.reason = absl::StrCat("TLS handshake refused: ", status.message());
        if (peer_is_client_) {  // a server's chain was verified by gRPC before this
          std::shared_ptr<const std::string> ca = revocation_->Ca();
          event.foreign_issuer = ca == nullptr || !pki::IssuedByCa(leaf, *ca);
        }
        events_->Record(event);  // logs it too
      } else {
        LogWarning("TLS handshake refused: ", status.message());
      }
    }
    *sync_status = ToGrpcStatus(status);
    return true;  // answered synchronously
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  absl::Status Check(std::string_view peer_pem, std::string_view chain_pem) const {
    if (peer_pem.empty()) return absl::UnauthenticatedError("peer presented no certificate");
    if (peer_is_client_) {
      std::shared_ptr<const std::string> ca = revocation_->Ca();
      if (ca == nullptr) return absl::UnauthenticatedError("no CA certificate in service");
      // The leaf first, then whatever the peer sent with it (the server side of
      // OpenSSL may or may not repeat the leaf there; a repeat is harmless).
      std::string chain = absl::StrCat(absl::string_view(peer_pem.data(), peer_pem.size()), "\n",
                                       absl::string_view(chain_pem.data(), chain_pem.size()));
      if (absl::Status s = pki::VerifyChain(chain, *ca, clock_->Now()); !s.ok()) {
        return absl::UnauthenticatedError(
            absl::StrCat("client certificate is not of the exchange CA: ", s.message()));
      }
    }
    HIE_ASSIGN_OR_RETURN(pki::CertIdentity peer, pki::ReadCertIdentity(peer_pem));
    HIE_RETURN_IF_ERROR(revocation_->Check(peer, clock_->Now()));
    if (peer_is_client_ && !peer.client_auth) {
      return absl::UnauthenticatedError(absl::StrCat("certificate of org \"", peer.org_id,
                                                     "\" is not issued for client authentication"));
    }
    if (!peer_is_client_ && !peer.server_auth) {
      return absl::UnauthenticatedError(absl::StrCat("certificate of org \"", peer.org_id,
                                                     "\" is not issued for server authentication"));
    }
    if (!expect_.org_id.empty() && peer.org_id != expect_.org_id) {
      return absl::UnauthenticatedError(absl::StrCat("server presents org \"", peer.org_id,
                                                     "\", expected \"", expect_.org_id, "\""));
    }
    if (expect_.role.has_value() && peer.role != *expect_.role) {
      return absl::UnauthenticatedError(
          absl::StrCat("server presents role \"", std::string(pki::RoleName(peer.role)),
                       "\", expected \"", std::string(pki::RoleName(*expect_.role)), "\""));
    }
    return absl::OkStatus();
  }

  std::shared_ptr<const RevocationState> revocation_;
  Clock* clock_;
  PeerExpectation expect_;
  bool peer_is_client_;
  std::shared_ptr<SecurityEventSink> events_;
};

class TlsContextImpl final : public TlsContext {
 public:
  explicit TlsContextImpl(TlsOptions options)
      : options_(std::move(options)),
        revocation_(std::make_shared<RevocationState>(options_.check_revocation)) {}

  ~TlsContextImpl() override {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Init() {
    HIE_ASSIGN_OR_RETURN(Material material, ReadMaterial());
    HIE_ASSIGN_OR_RETURN(pki::CertIdentity self, Validate(material));
    revocation_->SetCa(material.ca_pem);
    if (options_.check_revocation) {
      HIE_RETURN_IF_ERROR(ReadCrlFloor());
      HIE_RETURN_IF_ERROR(Annotate(LoadCrl(material.ca_pem), options_.files.crl_dir));
    }
    if (absl::Status s = revocation_->Check(self, options_.clock->Now()); !s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(options_.files.cert_file, ": this party's own certificate: ", s.message()));
    }
    if (options_.working_dir.empty()) {
      provider_ = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
          material.ca_pem, std::vector<grpc::experimental::IdentityKeyCertPair>{
                               {material.key_pem, material.chain_pem}});
    } else {
      absl::MutexLock reload_lock(&reload_mu_);
      HIE_RETURN_IF_ERROR(PrepareWorkingDir());
      HIE_RETURN_IF_ERROR(Stage(material));
      const std::string current = StagingRoot() + "/current";
      provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          current + "/key.pem", current + "/cert.pem", current + "/ca.crt",
          kProviderRefreshSeconds);
    }
    {
      absl::MutexLock lock(&mu_);
      in_service_ = std::move(material);
      self_ = std::move(self);
    }
    if (!options_.working_dir.empty()) {
      thread_ = std::thread([this] { ReloadLoop(); });
    }
    return absl::OkStatus();
  }

  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() override {
    grpc::experimental::TlsServerCredentialsOptions opts(provider_);
    opts.watch_root_certs();
    opts.watch_identity_key_cert_pairs();
    // A client certificate is required; its chain is verified by HieCertificateVerifier
    // (against the CA in service), not by gRPC before it, so that every refusal is
    // seen and reported. The TLS handshake still proves the client holds the key.
    opts.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
    opts.set_certificate_verifier(
        grpc::experimental::ExternalCertificateVerifier::Create<HieCertificateVerifier>(
            revocation_, options_.clock, PeerExpectation{}, /*peer_is_client=*/true,
            options_.security_events));
    return grpc::experimental::TlsServerCredentials(opts);
  }

  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
      const PeerExpectation& expect) override {
    grpc::experimental::TlsChannelCredentialsOptions opts;
    opts.set_certificate_provider(provider_);
    opts.watch_root_certs();
    opts.watch_identity_key_cert_pairs();
    opts.set_verify_server_certs(true);
    opts.set_check_call_host(false);
    opts.set_certificate_verifier(
        grpc::experimental::ExternalCertificateVerifier::Create<HieCertificateVerifier>(
            revocation_, options_.clock, expect, /*peer_is_client=*/false, nullptr));
    return grpc::experimental::TlsCredentials(opts);
  }

  absl::Status CheckPeer(const pki::CertIdentity& peer) const override {
    return revocation_->Check(peer, options_.clock->Now());
  }

  pki::CertIdentity self() const override {
    absl::MutexLock lock(&mu_);
    return self_;
  }

  absl::Status ReloadNow() override {
    absl::MutexLock reload_lock(&reload_mu_);
    absl::StatusOr<Material> material = ReadMaterial();
    std::string ca_pem;
    {
      absl::MutexLock lock(&mu_);
      ca_pem = in_service_.ca_pem;
    }
    absl::Status crl_status = options_.check_revocation
                                  ? LoadCrl(material.ok() ? material->ca_pem : ca_pem)
                                  : absl::OkStatus();
    if (!crl_status.ok()) {
      crl_status = Annotate(
          crl_status, absl::StrCat(options_.files.crl_dir, " (the last good CRL stays in force)"));
      Report("crl", crl_status);
    } else {
      Report("crl", absl::OkStatus());
    }
    absl::Status cert_status = material.status();
    if (material.ok()) {
      bool changed;
      {
        absl::MutexLock lock(&mu_);
        changed = !(*material == in_service_);
      }
      if (changed) cert_status = Rotate(*std::move(material));
    }
    if (!cert_status.ok()) {
      cert_status = Annotate(cert_status, "certificate not rotated (the one in service stays)");
    }
    Report("cert", cert_status);
    return crl_status.ok() ? cert_status : crl_status;
  }

 private:
  absl::StatusOr<Material> ReadMaterial() const {
    Material m;
    HIE_ASSIGN_OR_RETURN(m.ca_pem, ReadFile(options_.files.ca_file));
    HIE_ASSIGN_OR_RETURN(m.chain_pem, ReadFile(options_.files.cert_file));
    HIE_ASSIGN_OR_RETURN(m.key_pem, ReadFile(options_.files.key_file));
    return m;
  }

  absl::StatusOr<pki::CertIdentity> Validate(const Material& m) const {
    if (absl::Status s = pki::CheckKeyPair(m.chain_pem, m.key_pem); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          options_.files.cert_file, " and ", options_.files.key_file, ": ", s.message()));
    }
    absl::StatusOr<pki::CertIdentity> self = pki::ReadCertIdentity(m.chain_pem);
    if (!self.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(options_.files.cert_file, ": ", self.status().message()));
    }
    if (absl::Status s = pki::VerifyChain(m.chain_pem, m.ca_pem, options_.clock->Now()); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(options_.files.cert_file,
                                                        " does not verify against ",
                                                        options_.files.ca_file, ": ", s.message()));
    }
    return self;
  }

  std::string CrlFloorPath() const { return options_.working_dir + "/crl-number"; }

  // Reads the highest CRL number accepted by an earlier run, and of which CA (the
  // SHA-256 of its public keys, CaKeyHash): "<number> <hash>". None: 0; if an earlier
  // run did start here (its TLS staging directory is there), the missing file is
  // logged and audited: deleting it is how a rolled-back CRL would get back in.
  absl::Status ReadCrlFloor() {
    if (options_.working_dir.empty()) return absl::OkStatus();
    std::ifstream in(CrlFloorPath());
    if (!in) {
      std::error_code ec;
      if (fs::exists(StagingRoot(), ec)) {
        LogWarning(CrlFloorPath(), " is missing");
        ReportFloorReset(
            "CRL-number floor reset: crl-number is missing from a data directory used "
            "before; a rolled-back CRL would be accepted");
      }
      return absl::OkStatus();
    }
    uint64_t floor = 0;
    std::string ca_hash;
    if (!(in >> floor >> ca_hash) || ca_hash.size() != 64) {
      return absl::FailedPreconditionError(absl::StrCat(
          CrlFloorPath(), ": not a CRL number and CA hash; restore it, or remove it to accept",
          " any current CRL of the CA"));
    }
    absl::MutexLock lock(&floor_mu_);
    crl_floor_ = floor;
    crl_floor_ca_ = ca_hash;
    return absl::OkStatus();
  }

  // Records `number` as the highest accepted, durably (write, fsync, rename, fsync dir).
  absl::Status WriteCrlFloor(uint64_t number, const std::string& ca_hash) {
    const std::string path = CrlFloorPath();
    const std::string tmp = path + ".tmp";
    std::error_code ec;
    fs::create_directories(options_.working_dir, ec);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      return absl::InternalError(absl::StrCat("cannot create ", tmp, ": ", std::strerror(errno)));
    }
    std::string text = absl::StrCat(number, " ", ca_hash, "\n");
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
              ::fsync(fd) == 0;
    ok = (::close(fd) == 0) && ok;
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
    }
    int dir = ::open(options_.working_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
    return absl::OkStatus();
  }

  // Logged and audited (SECURITY_CONFIG): the rollback floor no longer holds.
  void ReportFloorReset(const std::string& what) {
    LogWarning(what);
    if (options_.security_events != nullptr) {
      SecurityEvent event;
      event.kind = SecurityEventKind::kSecurityConfig;
      event.subject = options_.files.crl_dir;
      event.reason = what;
      options_.security_events->Record(event);
    }
  }

  // Which CA a CRL floor belongs to: the SHA-256 of its public keys, so that the CA
  // file's formatting (a newline appended, the PEM re-wrapped) changes nothing.
  static absl::StatusOr<std::string> CaKeyHash(const std::string& ca_pem) {
    HIE_ASSIGN_OR_RETURN(std::string keys, pki::CaPublicKeysDer(ca_pem));
    return crypto::Sha256Hex(keys);
  }

  absl::Status LoadCrl(const std::string& ca_pem) {
    absl::StatusOr<pki::RevocationList> crl =
        pki::RevocationList::LoadDir(options_.files.crl_dir, ca_pem, options_.clock->Now());
    if (!crl.ok()) return crl.status();
    HIE_ASSIGN_OR_RETURN(const std::string ca_hash, CaKeyHash(ca_pem));
    absl::MutexLock floor_lock(&floor_mu_);
    // A floor written by an earlier version names the SHA-256 of the CA file's bytes.
    if (!crl_floor_ca_.empty() && crl_floor_ca_ != ca_hash &&
        crl_floor_ca_ == crypto::Sha256Hex(ca_pem)) {
      crl_floor_ca_ = ca_hash;
    }
    // CRL numbers are per CA: a new CA (another key) starts again from its first CRL.
    const uint64_t floor = ca_hash == crl_floor_ca_ ? crl_floor_ : 0;
    if (crl->number() < floor) {
      absl::Status refused = absl::FailedPreconditionError(
          absl::StrCat("CRL number ", crl->number(), " is older than CRL number ", floor,
                       " accepted before: a rolled-back CRL is refused"));
      if (options_.security_events != nullptr) {
        SecurityEvent event;
        event.kind = SecurityEventKind::kSecurityConfig;
        event.subject = options_.files.crl_dir;
        event.reason = std::string(refused.message());
        options_.security_events->Record(event);
      }
      return refused;
    }
    if (crl->number() > floor || ca_hash != crl_floor_ca_) {
      if (!crl_floor_ca_.empty() && ca_hash != crl_floor_ca_) {
        ReportFloorReset(absl::StrCat("CRL-number floor reset: the CA's key changed; CRL number ",
                                      crl->number(), " accepted, the previous CA's floor was ",
                                      crl_floor_));
      }
      if (!options_.working_dir.empty()) {
        HIE_RETURN_IF_ERROR(WriteCrlFloor(crl->number(), ca_hash));
      }
      crl_floor_ = crl->number();
      crl_floor_ca_ = ca_hash;
    }
    revocation_->Set(std::make_shared<const pki::RevocationList>(*std::move(crl)));
    return absl::OkStatus();
  }

  absl::Status Rotate(Material material) ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_) {
    HIE_ASSIGN_OR_RETURN(pki::CertIdentity self, Validate(material));
    HIE_RETURN_IF_ERROR(Stage(material));
    LogInfo("certificate rotated: org \"", self.org_id, "\" serial ", self.serial_hex,
            ", valid until ", absl::FormatTime(self.not_after));
    revocation_->SetCa(material.ca_pem);
    absl::MutexLock lock(&mu_);
    in_service_ = std::move(material);
    self_ = std::move(self);
    return absl::OkStatus();
  }

  std::string StagingRoot() const { return options_.working_dir + "/tls"; }

  absl::Status PrepareWorkingDir() {
    std::error_code ec;
    fs::create_directories(StagingRoot(), ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create ", StagingRoot(), ": ", ec.message()));
    }
    ::chmod(options_.working_dir.c_str(), 0700);
    ::chmod(StagingRoot().c_str(), 0700);
    // Generations left by an earlier run are of no use: start again from 1.
    for (const auto& entry : fs::directory_iterator(StagingRoot(), ec)) {
      fs::remove_all(entry.path(), ec);
    }
    return absl::OkStatus();
  }

  // Writes `m` as a new generation directory, then points "current" at it with one
  // rename, so the file watcher never sees a key from one generation with the
  // certificate of another for longer than its own consistency check allows.
  absl::Status Stage(const Material& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_) {
    ++generation_;
    const std::string name = absl::StrCat("gen-", generation_);
    const std::string dir = absl::StrCat(StagingRoot(), "/", name);
    if (::mkdir(dir.c_str(), 0700) != 0) {
      return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
    }
    HIE_RETURN_IF_ERROR(WriteFile(dir + "/ca.crt", m.ca_pem, 0644));
    HIE_RETURN_IF_ERROR(WriteFile(dir + "/cert.pem", m.chain_pem, 0644));
    HIE_RETURN_IF_ERROR(WriteFile(dir + "/key.pem", m.key_pem, 0600));
    const std::string link_tmp = StagingRoot() + "/current.tmp";
    ::unlink(link_tmp.c_str());
    if (::symlink(name.c_str(), link_tmp.c_str()) != 0 ||
        ::rename(link_tmp.c_str(), (StagingRoot() + "/current").c_str()) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot switch ", StagingRoot(), "/current: ", std::strerror(errno)));
    }
    // Keep the previous generation (the watcher may be reading it); drop older ones.
    if (generation_ > 2) {
      std::error_code ec;
      fs::remove_all(absl::StrCat(StagingRoot(), "/gen-", generation_ - 2), ec);
    }
    return absl::OkStatus();
  }

  // Logs a reload problem once when it appears and once when it clears.
  void Report(const std::string& what, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_) {
    std::string& last = what == "crl" ? last_crl_error_ : last_cert_error_;
    std::string now = status.ok() ? "" : std::string(status.message());
    if (now == last) return;
    if (status.ok()) {
      LogInfo(what == "crl" ? "CRL" : "certificate", " reload recovered");
    } else {
      LogWarning(now);
    }
    last = now;
  }

  void ReloadLoop() {
    absl::MutexLock lock(&mu_);
    while (!stop_) {
      mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.files.reload_interval);
      if (stop_) break;
      mu_.Unlock();
      (void)ReloadNow();
      mu_.Lock();
    }
  }

  const TlsOptions options_;
  const std::shared_ptr<RevocationState> revocation_;
  std::shared_ptr<CertificateProviderInterface> provider_;
  // The highest CRL number accepted, and of which CA (persisted in
  // working_dir/crl-number).
  absl::Mutex floor_mu_;
  uint64_t crl_floor_ ABSL_GUARDED_BY(floor_mu_) = 0;
  std::string crl_floor_ca_ ABSL_GUARDED_BY(floor_mu_);

  absl::Mutex reload_mu_;  // serialises ReloadNow; guards the fields below it
  uint64_t generation_ ABSL_GUARDED_BY(reload_mu_) = 0;
  std::string last_crl_error_ ABSL_GUARDED_BY(reload_mu_);
  std::string last_cert_error_ ABSL_GUARDED_BY(reload_mu_);

  mutable absl::Mutex mu_;
  Material in_service_ ABSL_GUARDED_BY(mu_);
  pki::CertIdentity self_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::Create(const TlsOptions& options) {
  auto context = std::make_shared<TlsContextImpl>(options);
  HIE_RETURN_IF_ERROR(context->Init());
  return context;
}

}  // namespace hie
