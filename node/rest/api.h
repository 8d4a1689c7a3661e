// What the FHIR API's route groups share (internal to node/rest): the state every
// handler reads, the checks every handler makes first, and the table of what is
// implemented, from which /metadata is written. Each group (reads, writes, search,
// operations, audit) adds its routes and its capabilities in one function, so the
// CapabilityStatement lists exactly what the route table serves.
#ifndef HIE_NODE_REST_API_H_
#define HIE_NODE_REST_API_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/audit/audit_committer.h"
#include "common/auth/client_registry.h"
#include "common/auth/token_service.h"
#include "http/request.h"
#include "http/router.h"
#include "node/domain/federated_query.h"
#include "node/domain/patient_match.h"
#include "node/domain/record_search.h"
#include "node/domain/record_writes.h"
#include "node/rest/workers.h"
#include "node/service/ingest_service.h"
#include "proto/hie/v1/record.pb.h"

namespace hie::node {

// One search parameter as the CapabilityStatement names it.
struct SearchParamDoc {
  std::string name;
  std::string type;  // FHIR SearchParamType: "token", "string", "date", "reference"...
  std::string documentation;
};

struct OperationDoc {
  std::string name;        // "everything", "match"
  std::string definition;  // the OperationDefinition's canonical URL
  std::string documentation;
};

// What one resource type (or "Resource": every type) answers.
struct ResourceCapability {
  std::string documentation;
  std::vector<std::string> interactions;  // "read", "vread", "create"...
  std::vector<SearchParamDoc> search_params;
  std::vector<OperationDoc> operations;
  std::vector<std::string> search_includes;  // "Observation:patient"...
  bool conditional_create = false;
  bool update_create = false;  // PUT of an id the node does not hold creates it
  std::string versioning;      // "versioned-update" when If-Match is honoured
  std::string conditional_delete;
};

// The table /metadata is written from; filled while the routes are added.
struct Capabilities {
  std::map<std::string, ResourceCapability> resources;  // by type
  std::vector<std::string> system_interactions;         // "transaction", "batch"
  std::vector<OperationDoc> system_operations;
};

// The state every handler shares; outlives the server (which is shut down first).
struct Api {
  std::shared_ptr<NodeState> state;
  std::shared_ptr<FederatedQuery> query;
  auth::ClientRegistry* clients = nullptr;  // the node's (NodeState::fhir_clients)
  std::unique_ptr<auth::TokenService> tokens;
  std::unique_ptr<Workers> workers;
  std::unique_ptr<audit::AuditCommitter> auditor;  // API accesses into the node's chain
  std::shared_ptr<const RecordSearch> search;
  std::unique_ptr<RecordWrites> writes;  // its If-None-Exist runs `search`
  std::unique_ptr<MpiSearch> mpi;        // null without an MPI channel
  Capabilities capabilities;             // written before serving, read-only after
  absl::Mutex mu;
  std::string base_url ABSL_GUARDED_BY(mu);
  // $everything queries started and not yet done: the engine and the store must
  // outlive them, so shutting down waits for none to be left.
  int live_queries ABSL_GUARDED_BY(mu) = 0;

  void QueryStarted();
  void QueryDone();
  void AwaitNoQueries();
  std::string BaseUrl();
};

// A response with `body` of `content_type`.
http::Response Json(int status, std::string body, absl::string_view content_type);

// Runs `work` on a worker; answers 429 when they are all busy and the queue is full.
void OnWorker(Api& api, const http::Responder& responder, std::function<void()> work);

// The caller's token allows `interaction` ("read", "write"...) on `type` (SMART
// system scopes); a client certificate of the node's own practice (an EMR-side system
// integration) is allowed everything on the practice's own records.
// Errors: Unauthenticated (no credentials), PermissionDenied (the scope does not allow it).
absl::Status CheckScope(const Api& api, const http::Request& request, absl::string_view type,
                        absl::string_view interaction);

// NotFound naming the type when `type` is not an R4 resource type.
absl::Status CheckType(const std::string& type);

// Answers 406 and returns true when the request asks (_format, Accept) for anything but
// FHIR JSON.
bool RefuseFormat(const http::Request& request, const http::Responder& responder);

// A stored version as its FHIR representation: meta.versionId and meta.lastUpdated as
// the node keeps them, and the version as ETag and Last-Modified.
http::Response RecordResponse(const hie::v1::RecordEnvelope& record, int status = 200);

// The resource text of a stored version with its id, meta.versionId and
// meta.lastUpdated set as the node keeps them (the rest as accepted).
std::string RenderRecord(const hie::v1::RecordEnvelope& record);

// What one access touched, for its audit entry.
struct Touched {
  std::string interaction;  // "read", "search", "create"...
  std::string resource;     // "Observation/o1", or the type searched
  std::string patient;      // the patient's local id, or ""
};

// Answers `response` once what the request touched is in the node's audit chain
// (AUDIT_ACTION_ACCESS, one entry per element of `touched`: who — the token's client,
// user and purpose, or the certificate that called — the interaction, the resource and
// the patient), durable: nothing is answered that the chain does not hold. Entries of
// concurrent requests share one sync (audit::AuditCommitter); no thread waits. If the
// chain cannot record them the answer is 503 instead.
void RespondAudited(Api& api, const http::Request& request, const std::vector<Touched>& touched,
                    const http::Responder& responder, http::Response response);

// A searchset's or history's Bundle.link: self, and next when `next_url` is not empty.
std::string PageLinks(const std::string& self_url, const std::string& next_url);

// A Bundle entry's response.status for a success: "200 OK", "201 Created", "204 No
// Content" (the bare number for others).
std::string StatusLine(int status);

// A store's NotFound as the client should read it.
absl::Status NotHere(const absl::Status& status, const std::string& type, const std::string& id);

// The route groups (one file each). Each adds its routes to `router` and what they implement to
// api->capabilities.
absl::Status AddReadRoutes(http::Router& router, Api* api);
absl::Status AddWriteRoutes(http::Router& router, Api* api);
absl::Status AddMatchRoutes(http::Router& router, Api* api);
absl::Status AddAuditRoutes(http::Router& router, Api* api);
absl::Status AddSearchRoutes(http::Router& router, Api* api);

}  // namespace hie::node

#endif  // HIE_NODE_REST_API_H_
