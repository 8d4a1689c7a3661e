// Feeds arbitrary bytes as a signed grant to the holder's verifier: nothing that was not
// signed by the trusted key is ever accepted, and nothing crashes.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/time/clock.h"
#include "consent/domain/grant.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hie::consent::GrantVerifier* verifier = [] {
    auto key = hie::crypto::SigningKey::Generate();
    hie::crypto::KeyRing ring;
    ring.Add(key->verifying_key());
    return new hie::consent::GrantVerifier(std::move(ring), hie::Clock::Real());
  }();
  hie::v1::SignedGrant signed_grant;
  if (!signed_grant.ParseFromArray(data, static_cast<int>(size))) {
    signed_grant.set_grant(std::string(reinterpret_cast<const char*>(data), size));
  }
  // The key was generated in this process and never signed anything: every grant must
  // be refused.
  if (verifier->Verify(signed_grant, "org-a", "org-b").ok()) std::abort();
  return 0;
}
