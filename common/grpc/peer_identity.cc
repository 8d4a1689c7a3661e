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

constexpr char kOrgProperty[] = "hie_org_id";
constexpr char kRoleProperty[] = "hie_role";
constexpr char kNameProperty[] = "hie_name";
constexpr char kSerialProperty[] = "hie_serial";
// Parsed identities are cached by certificate; the cache is dropped when it grows this big.
constexpr size_t kMaxCachedIdentities = 4096;

absl::string_view ToView(const grpc::string_ref& ref) { return {ref.data(), ref.size()}; }

class CallGuard final : public grpc::AuthMetadataProcessor {
 public:
  CallGuard(std::shared_ptr<TlsContext> tls, std::shared_ptr<const AuthorizationPolicy> policy,
            bool log_refusals)
      : tls_(std::move(tls)), policy_(std::move(policy)), log_refusals_(log_refusals) {}

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed, OutputMetadata* response) override {
    std::string method = "(unknown method)";
    if (auto it = metadata.find(":path"); it != metadata.end()) {
      method = std::string(ToView(it->second));
    }
    absl::StatusOr<pki::CertIdentity> identity = Identify(*context);
    absl::Status status = identity.status();
    if (status.ok()) status = tls_->CheckPeer(*identity);
    if (status.ok()) status = policy_->Check(method, identity->role);
    if (!status.ok()) {
      if (log_refusals_) {
        LogWarning(method, " from ",
                   identity.ok() ? absl::StrCat("org \"", identity->org_id, "\" (",
                                                std::string(pki::RoleName(identity->role)), ")")
                                 : std::string("unidentified peer"),
                   " refused: ", absl::StatusCodeToString(status.code()), ": ", status.message());
      }
      return ToGrpcStatus(status);
    }
    context->AddProperty(kOrgProperty, identity->org_id);
    context->AddProperty(kRoleProperty, std::string(pki::RoleName(identity->role)));
    context->AddProperty(kNameProperty, identity->name);
    context->AddProperty(kSerialProperty, identity->serial_hex);
    context->SetPeerIdentityPropertyName(kOrgProperty);
    return grpc::Status::OK;
  }

 private:
  absl::StatusOr<pki::CertIdentity> Identify(const grpc::AuthContext& context) {
    std::vector<grpc::string_ref> pems =
        context.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (pems.empty()) {
      return absl::UnauthenticatedError("no client certificate: hie accepts mutual TLS only");
    }
    std::string pem(ToView(pems.front()));
    {
      absl::MutexLock lock(&mu_);
      if (auto it = cache_.find(pem); it != cache_.end()) return it->second;
    }
    absl::StatusOr<pki::CertIdentity> identity = pki::ReadCertIdentity(pem);
    if (!identity.ok()) return identity.status();
    absl::MutexLock lock(&mu_);
    if (cache_.size() >= kMaxCachedIdentities) cache_.clear();
    cache_.emplace(std::move(pem), *identity);
    return identity;
  }

  const std::shared_ptr<TlsContext> tls_;
  const std::shared_ptr<const AuthorizationPolicy> policy_;
  const bool log_refusals_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, pki::CertIdentity> cache_ ABSL_GUARDED_BY(mu_);
};

std::string FirstValue(const grpc::AuthContext& context, const char* name) {
  std::vector<grpc::string_ref> values = context.FindPropertyValues(name);
  return values.empty() ? std::string() : std::string(ToView(values.front()));
}

}  // namespace

std::shared_ptr<grpc::AuthMetadataProcessor> MakeCallGuard(
    std::shared_ptr<TlsContext> tls, std::shared_ptr<const AuthorizationPolicy> policy,
    bool log_refusals) {
  return std::make_shared<CallGuard>(std::move(tls), std::move(policy), log_refusals);
}

absl::StatusOr<Peer> PeerFromAuthContext(const grpc::AuthContext& context) {
  Peer peer;
  peer.org_id = FirstValue(context, kOrgProperty);
  std::string role = FirstValue(context, kRoleProperty);
  if (peer.org_id.empty() || role.empty()) {
    return absl::UnauthenticatedError("call carries no verified peer identity");
  }
  absl::StatusOr<pki::Role> parsed = pki::ParseRole(role);
  if (!parsed.ok()) return absl::UnauthenticatedError("call carries an unknown peer role");
  peer.role = *parsed;
  peer.name = FirstValue(context, kNameProperty);
  peer.serial_hex = FirstValue(context, kSerialProperty);
  return peer;
}

absl::StatusOr<Peer> PeerFromContext(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return absl::UnauthenticatedError("call has no authentication context");
  return PeerFromAuthContext(*auth);
}

}  // namespace hie
