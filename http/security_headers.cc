#include "http/security_headers.h"

namespace hie::http {

void ApplySecurityHeaders(Response* response) {
  response->SetHeader("Strict-Transport-Security", "max-age=31536000");
  response->SetHeader("X-Content-Type-Options", "nosniff");
  response->SetHeader("Referrer-Policy", "no-referrer");
  response->SetHeader("Content-Security-Policy", kContentSecurityPolicy);
  // Pages and FHIR answers hold patient data: no cache keeps them unless a handler says
  // otherwise for content that is not (hashed, immutable assets).
  if (response->FindHeader("Cache-Control") == nullptr) {
    response->SetHeader("Cache-Control", "no-store");
  }
}

}  // namespace hie::http
