// The SMART Backend Services clients a node accepts: each is registered by the node's
// administrator with the practice (org) it acts for, its public key with the signature
// algorithm pinned, and the system scopes it may be granted. Stored in the KvStore, so
// registrations and revocations survive restarts.
#ifndef HIE_COMMON_AUTH_CLIENT_REGISTRY_H_
#define HIE_COMMON_AUTH_CLIENT_REGISTRY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/jwt.h"
#include "common/store/kv_store.h"

namespace hie::auth {

// What an administrator supplies to register a client.
struct ClientRegistration {
  std::string name;        // for people: "Riverside EMR nightly export"
  std::string org;         // the practice it acts for; an org id (pki::IsValidOrgId)
  std::string public_key;  // PEM SubjectPublicKeyInfo or a JWK (JSON)
  JwsAlgorithm algorithm = JwsAlgorithm::kES384;  // the only algorithm ever accepted
  std::vector<std::string> scopes;                // system scopes (IsSystemScope)
};

struct Client {
  std::string client_id;  // generated: 22 random base64url characters (128 bits)
  std::string name;
  std::string org;
  std::string public_key;  // as registered
  JwsAlgorithm algorithm = JwsAlgorithm::kES384;
  std::vector<std::string> scopes;  // allowed scopes
  absl::Time registered_at;
  std::optional<absl::Time> revoked_at;  // set once revoked; a revoked client is refused

  bool revoked() const { return revoked_at.has_value(); }
  // The registered key, pinned to `algorithm`.
  absl::StatusOr<JwtPublicKey> Key() const { return JwtPublicKey::Parse(public_key, algorithm); }
};

// Thread-safe. `store` is not owned and must outlive the registry; the registry keeps
// its entries under the key prefix ("auth", "client") and nothing else there. Clients
// once read are kept in memory, so that checking a token's client on every request
// reads no store: one registry per store, then, or revocations by one go unseen by
// another.
class ClientRegistry {
 public:
  explicit ClientRegistry(store::KvStore* store) : store_(store) {}

  // Registers a new client under a fresh client_id; durable when it returns.
  // Errors: InvalidArgument (naming the field) for a blank name, an invalid org id, a
  // key that does not parse or does not suit the algorithm, no scopes, or a scope that
  // is not a system scope; the store's error otherwise.
  absl::StatusOr<Client> Register(const ClientRegistration& registration, absl::Time now);

  // Revokes a client for good: its assertions are refused and the access tokens it holds
  // stop verifying. Revoking a revoked client keeps the first revocation time.
  // Errors: NotFound for an unknown client_id; the store's error otherwise.
  absl::Status Revoke(absl::string_view client_id, absl::Time now);

  // Errors: NotFound for an unknown client_id; DataLoss if its entry does not parse.
  absl::StatusOr<Client> Get(absl::string_view client_id) const;

  // Every client, revoked ones included, ordered by client_id.
  absl::StatusOr<std::vector<Client>> List() const;

 private:
  absl::Status Put(const Client& client);

  store::KvStore* const store_;
  // Registered clients read or written so far (never unknown ids: a flood of made-up
  // ids must not fill memory).
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, Client> known_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::auth

#endif  // HIE_COMMON_AUTH_CLIENT_REGISTRY_H_
