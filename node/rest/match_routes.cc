// POST /Patient/$match: the exchange's MPI searched with the Patient a client sends.
#include <utility>

#include "common/log/log.h"
#include "http/status.h"
#include "node/domain/patient_match.h"
#include "node/rest/api.h"

namespace hie::node {
namespace {

void Respond(const http::Responder& responder, absl::StatusOr<std::vector<MatchCandidate>> found) {
  if (!found.ok()) {
    // Why stays in the log; the client learns the MPI did not answer.
    LogWarning("$match: the MPI answered ", found.status().ToString());
    responder.RespondError(absl::IsInvalidArgument(found.status())
                               ? found.status()
                               : absl::UnavailableError("the exchange's MPI did not answer"));
    return;
  }
  responder.Respond(Json(200, MatchBundle(*found), http::kFhirJsonContentType));
}

void HandleMatch(Api& api, http::Request request, http::Responder responder) {
  if (RefuseFormat(request, responder)) return;
  if (absl::Status s = CheckScope(api, request, "Patient", "search"); !s.ok()) {
    responder.RespondError(s);
    return;
  }
  absl::StatusOr<MatchQuery> search = ParseMatchParameters(request.body);
  if (!search.ok()) {
    responder.RespondError(search.status());
    return;
  }
  // The MPI answers on a gRPC thread; nothing here blocks. Shutting down waits for the
  // answer (counted as a query is), so that the API outlives the call.
  api.QueryStarted();
  api.mpi->Search(*search, [&api, responder](absl::StatusOr<std::vector<MatchCandidate>> found) {
    Respond(responder, std::move(found));
    api.QueryDone();
  });
}

}  // namespace

absl::Status AddMatchRoutes(http::Router& router, Api* api) {
  if (api->mpi == nullptr) return absl::OkStatus();  // no MPI configured: no $match
  api->capabilities.resources["Patient"].operations.push_back(
      {.name = "match",
       .definition = "http://hl7.org/fhir/OperationDefinition/Patient-match",
       .documentation = "POST /Patient/$match with Parameters (resource, onlyCertainMatches, "
                        "count): the exchange's MPI searched for the Patient; candidates are "
                        "people of the exchange named by EUID, with their match grade"});
  return router.Add(
      {.method = "POST",
       .pattern = "/Patient/$match",
       .access = http::AccessRule::BearerTokenOrClientCertificate("system/", {pki::Role::kNode}),
       .audit_kind = "match",
       .max_body_bytes = 64 * 1024,
       .content_types = {"application/fhir+json", "application/json"},
       .handler = [api](http::Request request, http::Responder responder) {
         HandleMatch(*api, std::move(request), std::move(responder));
       }});
}

}  // namespace hie::node
