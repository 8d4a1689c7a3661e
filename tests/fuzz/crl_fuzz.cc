// Feeds arbitrary bytes as a CRL (DER, and as given) to the revocation list parser,
// verified against a CA made once for the run: it must never accept a CRL the CA did
// not sign.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/ca.h"
#include "common/pki/revocation.h"

namespace {
const std::string& CaPem() {
  static const std::string* pem = [] {
    std::string dir =
        absl::StrCat(std::filesystem::temp_directory_path().string(), "/hie-crl-fuzz-", getpid());
    auto ca = hie::pki::CertificateAuthority::Init(dir, {});
    if (!ca.ok()) std::abort();
    auto* out = new std::string((*ca)->ca_cert_pem());
    std::filesystem::remove_all(dir);
    return out;
  }();
  return *pem;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto list = hie::pki::RevocationList::Parse(input, CaPem(), absl::Now());
  if (list.ok()) std::abort();  // random bytes cannot carry the CA's signature
  return 0;
}
