// hie-node's FHIR R4 REST API: the second front beside gRPC (DESIGN.md, "The HTTPS
// front"), on the same domain code. It serves the practice's own records to callers
// holding a SMART Backend Services token (or the practice's own client certificate),
// the federated record, and the discovery documents a client needs to get a token.
// Handlers translate: parse, one domain call on a worker thread, render. Every access
// to records is in the node's audit chain before it is answered.
//
// Route groups, one file each (node/rest/api.h; docs/fhir-api.md lists every route):
//   fhir_api.cc      GET /metadata, GET /.well-known/smart-configuration, POST /auth/token
//   read_routes.cc   GET /{type}/{id}, _history, _history/{vid}, GET /Patient/{id}/$everything
//                    (paged from the kept answer: ?_page=&_offset=)
//   write_routes.cc  POST /{type}, PUT and DELETE /{type}/{id}, POST / (transaction, batch)
//   search_routes.cc GET /{type}?..., POST /{type}/_search
//   match_routes.cc  POST /Patient/$match (when the node has an MPI)
//   audit_routes.cc  GET /AuditEvent (the practice's or the operator's certificate)
//
// Held as a grpc::Service with no RPCs among the node's services, as the MLLP feed is,
// so that it lives exactly as long as they do: destroying it drains the listener and
// joins its workers before the store closes.
#ifndef HIE_NODE_REST_FHIR_API_H_
#define HIE_NODE_REST_FHIR_API_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/impl/service_type.h"
#include "http/server.h"
#include "node/domain/federated_query.h"
#include "node/service/ingest_service.h"

namespace hie::node {

struct FhirApiOptions {
  // Listen address and TLS files (the node's certificate and the exchange CA).
  http::ServerOptions server;
  // The URL clients reach the API at; "" for "https://<listen host>:<bound port>".
  std::string base_url;
  // If set, the bound port is written here (atomically) once listening.
  std::string port_file;
  absl::Duration token_lifetime = absl::Seconds(300);
  int workers = 4;
  size_t max_queued = 256;
};

// Starts the listener. Errors: the server's (bad address, TLS files, port taken), the
// token service's (options out of range), or writing the port file.
// `query` runs $everything, as it runs the gRPC FederatedQuery.
absl::StatusOr<std::unique_ptr<grpc::Service>> StartFhirApi(std::shared_ptr<NodeState> state,
                                                            std::shared_ptr<FederatedQuery> query,
                                                            FhirApiOptions options);

}  // namespace hie::node

#endif  // HIE_NODE_REST_FHIR_API_H_
