// Disclosure grants: signed by the consent service, checked by every holder on its own.
//
// The signature is Ed25519 over "hie.v1.DisclosureGrant\0" followed by the serialized
// grant exactly as SignedGrant.grant carries it; the verifier never re-serializes.
#ifndef HIE_CONSENT_DOMAIN_GRANT_H_
#define HIE_CONSENT_DOMAIN_GRANT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/crypto/signing.h"
#include "common/time/clock.h"
#include "proto/hie/v1/grant.pb.h"

namespace hie::consent {

// The bytes a grant signature covers.
std::string GrantSigningInput(absl::string_view serialized_grant);

// 128 random bits as 32 lower-case hex characters (OpenSSL's CSPRNG).
std::string NewNonce();

// Fills nonce, issued_at and expires_at (now + validity) and signs.
// `key` and `clock` must outlive the signer. Thread-safe.
class GrantSigner {
 public:
  GrantSigner(const crypto::SigningKey* key, Clock* clock, absl::Duration validity)
      : key_(key), clock_(clock), validity_(validity) {}

  absl::StatusOr<hie::v1::SignedGrant> Sign(hie::v1::DisclosureGrant grant) const;

 private:
  const crypto::SigningKey* key_;
  Clock* clock_;
  absl::Duration validity_;
};

// What a holder checks before it serves a grant (DESIGN.md step 3). Thread-compatible:
// build it, then share it const.
class GrantVerifier {
 public:
  // `keys` are the consent service's public keys; `skew` is how far the holder's clock
  // may be behind or ahead of the consent service's.
  GrantVerifier(crypto::KeyRing keys, Clock* clock, absl::Duration skew = absl::Seconds(30))
      : keys_(std::move(keys)), clock_(clock), skew_(skew) {}

  // The grant, if `signed_grant` verifies, is current, names `requester_org` (the
  // caller's certificate org) as requester and `holder_org` among its holders.
  // Errors, each with an ErrorDetail reason:
  //   UNAUTHENTICATED GRANT_INVALID_SIGNATURE  unknown key, bad or altered signature,
  //                                            bytes that are not a grant
  //   UNAUTHENTICATED GRANT_EXPIRED            past expires_at (+ skew), or issued in
  //                                            the future (- skew)
  //   PERMISSION_DENIED GRANT_WRONG_REQUESTER  another org's grant
  //   PERMISSION_DENIED GRANT_WRONG_HOLDER     this holder is not named
  absl::StatusOr<hie::v1::DisclosureGrant> Verify(const hie::v1::SignedGrant& signed_grant,
                                                  absl::string_view requester_org,
                                                  absl::string_view holder_org) const;

  // The last moment this verifier accepts `grant`: its expiry plus the skew allowed.
  // A holder remembers a used grant's nonce until then (and no longer): this is the
  // one place that decides how long.
  absl::Time AcceptedUntil(const hie::v1::DisclosureGrant& grant) const;

  const crypto::KeyRing& keys() const { return keys_; }

 private:
  crypto::KeyRing keys_;
  Clock* clock_;
  absl::Duration skew_;
};

}  // namespace hie::consent

#endif  // HIE_CONSENT_DOMAIN_GRANT_H_
