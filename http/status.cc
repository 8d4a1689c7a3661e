#include "http/status.h"

#include <optional>

#include "common/json/json_writer.h"

namespace hie::http {
namespace {

// The one table. Rows with an absl code say which HTTP status a domain error becomes;
// every row says which FHIR issue type an HTTP error status carries.
struct Row {
  int http_status;
  absl::string_view issue;
  std::optional<absl::StatusCode> code;
};

constexpr Row kTable[] = {
    {400, "invalid", absl::StatusCode::kInvalidArgument},
    {401, "login", absl::StatusCode::kUnauthenticated},
    {403, "forbidden", absl::StatusCode::kPermissionDenied},
    {404, "not-found", absl::StatusCode::kNotFound},
    {405, "not-supported", std::nullopt},
    {406, "not-supported", std::nullopt},
    {408, "timeout", std::nullopt},
    {409, "conflict", absl::StatusCode::kAlreadyExists},
    {412, "conflict", absl::StatusCode::kFailedPrecondition},
    {413, "too-long", std::nullopt},
    {415, "not-supported", std::nullopt},
    {429, "throttled", absl::StatusCode::kResourceExhausted},
    {431, "too-long", std::nullopt},
    {500, "exception", std::nullopt},
    {501, "not-supported", absl::StatusCode::kUnimplemented},
    {503, "transient", absl::StatusCode::kUnavailable},
    {504, "timeout", absl::StatusCode::kDeadlineExceeded},
};

constexpr char kInternalError[] = "internal error";

}  // namespace

int HttpStatusFor(absl::StatusCode code) {
  for (const Row& row : kTable) {
    if (row.code == code) return row.http_status;
  }
  return 500;
}

absl::string_view IssueCodeFor(int http_status) {
  for (const Row& row : kTable) {
    if (row.http_status == http_status) return row.issue;
  }
  return http_status < 500 ? "invalid" : "exception";
}

std::string OperationOutcomeJson(int http_status, absl::string_view diagnostics) {
  // Internal text (file names, store errors, peers' messages) never reaches a client.
  absl::string_view shown = http_status >= 500 ? kInternalError : diagnostics;
  JsonObject issue;
  issue.Add("severity", "error").Add("code", IssueCodeFor(http_status));
  if (!shown.empty()) issue.Add("diagnostics", shown);
  return JsonObject()
      .Add("resourceType", "OperationOutcome")
      .AddRaw("issue", JsonArray({issue.Build()}))
      .Build();
}

Response ErrorResponse(int http_status, absl::string_view diagnostics) {
  Response response;
  response.status = http_status;
  response.SetHeader("Content-Type", kFhirJsonContentType);
  response.body = OperationOutcomeJson(http_status, diagnostics);
  response.diagnostics = std::string(http_status >= 500 ? kInternalError : diagnostics);
  return response;
}

Response ErrorResponse(const absl::Status& status) {
  return ErrorResponse(HttpStatusFor(status.code()), status.message());
}

}  // namespace hie::http
