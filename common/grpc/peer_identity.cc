#include "common/grpc/peer_identity.h"

#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/status_convert.h"
#include "common/log/log.h"

namespace hie {
namespace {

constexpr char kUnknownMethod[] = "(unknown method)";

// Parsed identities are cached by certificate; the cache is dropped when it grows this big.
constexpr size_t kMaxCachedIdentities = 4096;

absl::string_view ToView(const grpc::string_ref& ref) { return {ref.data(), ref.size()}; }

// The identity in the peer's certificate, parsed once per certificate. Thread-safe.
absl::StatusOr<pki::CertIdentity> Identify(const grpc::AuthContext& context) {
  static absl::Mutex mu;
  static auto* cache ABSL_GUARDED_BY(mu) =
      new absl::flat_hash_map<std::string, pki::CertIdentity>();
  std::vector<grpc::string_ref> pems = context.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) {
    return absl::UnauthenticatedError("no client certificate: hie accepts mutual TLS only");
  }
  std::string pem(ToView(pems.front()));
  {
    absl::MutexLock lock(&mu);
    if (auto it = cache->find(pem); it != cache->end()) return it->second;
  }
  absl::StatusOr<pki::CertIdentity> identity = pki::ReadCertIdentity(pem);
  if (!identity.ok()) return identity.status();
  absl::MutexLock lock(&mu);
  if (cache->size() >= kMaxCachedIdentities) cache->clear();
  cache->emplace(std::move(pem), *identity);
  return identity;
}

class CallGuard final : public grpc::AuthMetadataProcessor {
 public:
  CallGuard(std::shared_ptr<TlsContext> tls, std::shared_ptr<const AuthorizationPolicy> policy,
            bool log_refusals, std::shared_ptr<PeerLimiter> limiter,
            std::shared_ptr<SecurityEventSink> events)
      : tls_(std::move(tls)),
        policy_(std::move(policy)),
        log_refusals_(log_refusals),
        limiter_(std::move(limiter)),
        events_(std::move(events)) {}

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed, OutputMetadata* response) override {
    // The path is the caller's choice (up to the header limit): a method the table does
    // not name is refused as "(unknown method)", one aggregation key, and never copied
    // into logs or the audit.
    std::string method = kUnknownMethod;
    if (auto it = metadata.find(":path"); it != metadata.end()) {
      absl::string_view path = ToView(it->second);
      if (policy_->Knows(path)) method = std::string(path);
    }
    absl::StatusOr<pki::CertIdentity> identity = Identify(*context);
    absl::Status status = identity.status();
    if (status.ok()) status = tls_->CheckPeer(*identity);
    SecurityEventKind kind = SecurityEventKind::kAuthentication;
    if (status.ok()) {
      status = policy_->Check(method, identity->role);
      kind = SecurityEventKind::kAuthorization;
    }
    // Over-limit calls (below) are load shedding, not a security refusal: logged only.
    // Security refusals go to `events_`, which logs them aggregated, not one line each.
    const bool reported = !status.ok() && events_ != nullptr;
    if (reported) {
      SecurityEvent event;
      event.kind = kind;
      if (identity.ok()) {
        event.org_id = identity->org_id;
        event.subject = absl::StrCat("CN=", identity->name, ", role ",
                                     std::string(pki::RoleName(identity->role)));
        event.serial_hex = identity->serial_hex;
      }
      event.method = method;
      event.reason = std::string(status.message());
      events_->Record(event);
    }
    if (status.ok() && limiter_ != nullptr && IsPeerLimited(identity->role)) {
      status = limiter_->Admit(identity->org_id);
    }
    if (!status.ok()) {
      if (log_refusals_ && !reported) {
        LogWarning(method, " from ",
                   identity.ok() ? absl::StrCat("org \"", identity->org_id, "\" (",
                                                std::string(pki::RoleName(identity->role)), ")")
                                 : std::string("unidentified peer"),
                   " refused: ", absl::StatusCodeToString(status.code()), ": ", status.message());
      }
      return ToGrpcStatus(status);
    }
    // Nothing is written into `context`: gRPC shares one auth context among all the
    // calls of a connection, so per-call writes would race and pile up. Handlers read
    // the identity from the certificate again (PeerFromAuthContext, cached).
    return grpc::Status::OK;
  }

 private:
  const std::shared_ptr<TlsContext> tls_;
  const std::shared_ptr<const AuthorizationPolicy> policy_;
  const bool log_refusals_;
  const std::shared_ptr<PeerLimiter> limiter_;
  const std::shared_ptr<SecurityEventSink> events_;
};

}  // namespace

std::shared_ptr<grpc::AuthMetadataProcessor> MakeCallGuard(
    std::shared_ptr<TlsContext> tls, std::shared_ptr<const AuthorizationPolicy> policy,
    bool log_refusals, std::shared_ptr<PeerLimiter> limiter,
    std::shared_ptr<SecurityEventSink> events) {
  return std::make_shared<CallGuard>(std::move(tls), std::move(policy), log_refusals,
                                     std::move(limiter), std::move(events));
}

bool IsPeerLimited(pki::Role role) {
  return role == pki::Role::kNode || role == pki::Role::kOperator;
}

absl::StatusOr<Peer> PeerFromAuthContext(const grpc::AuthContext& context) {
  // The call guard has already checked this certificate (chain, revocation, role).
  absl::StatusOr<pki::CertIdentity> identity = Identify(context);
  if (!identity.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("call carries no verified peer identity: ", identity.status().message()));
  }
  Peer peer;
  peer.org_id = identity->org_id;
  peer.role = identity->role;
  peer.name = identity->name;
  peer.serial_hex = identity->serial_hex;
  return peer;
}

absl::StatusOr<Peer> PeerFromContext(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return absl::UnauthenticatedError("call has no authentication context");
  return PeerFromAuthContext(*auth);
}

}  // namespace hie
