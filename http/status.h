// The one error path of the HTTPS front: an absl::Status (from a domain call) or an error
// the server itself found becomes an HTTP status and a FHIR R4 OperationOutcome.
//
//   absl code            HTTP  issue code        absl code           HTTP  issue code
//   InvalidArgument      400   invalid           ResourceExhausted   429   throttled
//   Unauthenticated      401   login             Unimplemented       501   not-supported
//   PermissionDenied     403   forbidden         Unavailable         503   transient
//   NotFound             404   not-found         DeadlineExceeded    504   timeout
//   AlreadyExists        409   conflict          anything else       500   exception
//   FailedPrecondition   412   conflict
//
// Errors only the server produces: 405 and 406 (not-supported), 408 (timeout), 413 and
// 431 (too-long), 415 (not-supported), 400 for malformed HTTP (invalid).
//
// The status message becomes the issue's `diagnostics` for a 4xx only: it tells the
// client what to fix. A 5xx says "internal error" and nothing more; its message belongs
// in the log.
#ifndef HIE_HTTP_STATUS_H_
#define HIE_HTTP_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "http/request.h"

namespace hie::http {

inline constexpr char kFhirJsonContentType[] = "application/fhir+json; charset=utf-8";

// The HTTP status for `code` (table above). REQUIRES: code != kOk.
int HttpStatusFor(absl::StatusCode code);

// The FHIR issue type code for an HTTP error status (>= 400).
absl::string_view IssueCodeFor(int http_status);

// The OperationOutcome JSON for an error answered with `http_status`: one issue with
// severity "error", code IssueCodeFor(http_status) and `diagnostics` for a 4xx, or
// "internal error" for a 5xx.
std::string OperationOutcomeJson(int http_status, absl::string_view diagnostics);

// The complete error response for `status` (REQUIRES: !status.ok()).
Response ErrorResponse(const absl::Status& status);

// The complete error response for an HTTP status the server or an application picks
// itself (405, 406, 408, 413, 415, 431...). REQUIRES: http_status >= 400.
Response ErrorResponse(int http_status, absl::string_view diagnostics);

}  // namespace hie::http

#endif  // HIE_HTTP_STATUS_H_
