// Feeds arbitrary DER (wrapped as PEM) to the certificate identity reader: it must
// refuse or accept without crashing, and an accepted identity must satisfy the rules.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "common/pki/identity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string der(reinterpret_cast<const char*>(data), size);
  std::string pem =
      "-----BEGIN CERTIFICATE-----\n" + absl::Base64Escape(der) + "\n-----END CERTIFICATE-----\n";
  auto identity = hie::pki::ReadCertIdentity(pem);
  if (identity.ok() && !hie::pki::IsValidOrgId(identity->org_id)) std::abort();
  (void)hie::pki::ReadCertIdentity(der);  // raw bytes as "PEM" too
  return 0;
}
