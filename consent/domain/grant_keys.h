// The consent service's grant-signing keys: one current key signs; it is replaced every
// rotation period (or when an operator asks), and a retired key keeps verifying until
// the last grant it signed has expired. Public halves live in the store; each private
// key is a PEM file (mode 0600) in the key directory, deleted when the key retires.
//
// Keys: ("grant-key", not_before nanos, key id) -> hie.v1.PublicKey
#ifndef HIE_CONSENT_DOMAIN_GRANT_KEYS_H_
#define HIE_CONSENT_DOMAIN_GRANT_KEYS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/crypto/signing.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "proto/hie/v1/consent.pb.h"

namespace hie::consent {

struct GrantKeyOptions {
  // Where private keys are kept (created 0700 if missing).
  std::string key_dir;
  absl::Duration rotation = absl::Hours(24 * 30);
  // How long grants stay valid: a retired key verifies this long (plus a minute of
  // clock skew) after it stops signing.
  absl::Duration grant_validity = absl::Minutes(5);
};

// Thread-safe.
class GrantKeys {
 public:
  // Loads the keys, creating the first one if there is none and rotating if the current
  // one is older than the rotation period. Errors: the store's; Internal/NotFound naming
  // the key file if the current private key cannot be read.
  static absl::StatusOr<std::unique_ptr<GrantKeys>> Open(store::KvStore* store, Clock* clock,
                                                         GrantKeyOptions options);

  // The key to sign with now (rotating first if the current one is due).
  absl::StatusOr<std::shared_ptr<const crypto::SigningKey>> Current();

  // Starts signing with a new key now; returns its public half.
  absl::StatusOr<hie::v1::PublicKey> Rotate();

  // The current key and every retired key that still verifies, newest first.
  std::vector<hie::v1::PublicKey> PublicKeys() const;

 private:
  GrantKeys(store::KvStore* store, Clock* clock, GrantKeyOptions options)
      : store_(store), clock_(clock), options_(std::move(options)) {}
  absl::StatusOr<hie::v1::PublicKey> RotateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string KeyPath(const std::string& key_id) const;

  store::KvStore* const store_;
  Clock* const clock_;
  const GrantKeyOptions options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const crypto::SigningKey> current_ ABSL_GUARDED_BY(mu_);
  absl::Time current_since_ ABSL_GUARDED_BY(mu_);
  // Oldest first; the last is the current key.
  std::vector<hie::v1::PublicKey> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::consent

#endif  // HIE_CONSENT_DOMAIN_GRANT_KEYS_H_
