#include "node/rest/fhir_api.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/auth/client_registry.h"
#include "common/auth/oauth_error.h"
#include "common/auth/token_service.h"
#include "common/grpc/server_runner.h"
#include "common/json/json_writer.h"
#include "common/log/log.h"
#include "common/time/clock.h"
#include "http/router.h"
#include "http/status.h"
#include "http/target.h"
#include "node/rest/api.h"
#include "node/rest/workers.h"
#include "node/service/query_clients.h"
#include "node/web/web_app.h"

namespace hie::node {
namespace {

constexpr char kTokenPath[] = "/auth/token";

std::string Strings(const std::vector<std::string>& values) {
  std::vector<std::string> quoted;
  for (const std::string& v : values) quoted.push_back(JsonQuote(v));
  return JsonArray(quoted);
}

std::string Operations(const std::vector<OperationDoc>& operations) {
  std::vector<std::string> out;
  for (const OperationDoc& op : operations) {
    out.push_back(JsonObject()
                      .Add("name", op.name)
                      .Add("definition", op.definition)
                      .Add("documentation", op.documentation)
                      .Build());
  }
  return JsonArray(out);
}

// The CapabilityStatement, written from the table the route groups filled: it lists
// exactly what the routes serve.
std::string CapabilityStatement(const Capabilities& capabilities, const std::string& base_url) {
  auto codes = [](const std::vector<std::string>& values) {
    std::vector<std::string> out;
    for (const std::string& v : values) out.push_back(JsonObject().Add("code", v).Build());
    return JsonArray(out);
  };
  const std::string smart_coding =
      JsonObject()
          .Add("system", "http://terminology.hl7.org/CodeSystem/restful-security-service")
          .Add("code", "SMART-on-FHIR")
          .Build();
  // SMART App Launch's discovery in the CapabilityStatement (beside
  // /.well-known/smart-configuration), for clients that read it here.
  const std::string oauth_uris =
      JsonObject()
          .Add("url", "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris")
          .AddRaw("extension", JsonArray({JsonObject()
                                              .Add("url", "token")
                                              .Add("valueUri", absl::StrCat(base_url, kTokenPath))
                                              .Build()}))
          .Build();
  const std::string security =
      JsonObject()
          .AddRaw("extension", JsonArray({oauth_uris}))
          .AddRaw("service",
                  JsonArray({JsonObject().AddRaw("coding", JsonArray({smart_coding})).Build()}))
          .Add("description",
               absl::StrCat("SMART Backend Services: client_credentials with a "
                            "private_key_jwt assertion (ES384 or RS384) at ",
                            base_url, kTokenPath, "; or a client certificate of this practice"))
          .Build();
  // "Resource" stands for every R4 type: each is stored as sent and answers alike.
  std::vector<std::string> resources;
  for (const auto& [type, capability] : capabilities.resources) {
    JsonObject resource;
    resource.Add("type", type);
    if (!capability.documentation.empty()) resource.Add("documentation", capability.documentation);
    if (!capability.interactions.empty()) {
      resource.AddRaw("interaction", codes(capability.interactions));
    }
    if (!capability.versioning.empty()) resource.Add("versioning", capability.versioning);
    if (capability.update_create) resource.Add("updateCreate", true);
    if (capability.conditional_create) resource.Add("conditionalCreate", true);
    if (!capability.conditional_delete.empty()) {
      resource.Add("conditionalDelete", capability.conditional_delete);
    }
    if (!capability.search_includes.empty()) {
      resource.AddRaw("searchInclude", Strings(capability.search_includes));
    }
    if (!capability.search_params.empty()) {
      std::vector<std::string> params;
      for (const SearchParamDoc& p : capability.search_params) {
        params.push_back(JsonObject()
                             .Add("name", p.name)
                             .Add("type", p.type)
                             .Add("documentation", p.documentation)
                             .Build());
      }
      resource.AddRaw("searchParam", JsonArray(params));
    }
    if (!capability.operations.empty()) {
      resource.AddRaw("operation", Operations(capability.operations));
    }
    resources.push_back(resource.Build());
  }
  JsonObject rest;
  rest.Add("mode", "server").AddRaw("security", security).AddRaw("resource", JsonArray(resources));
  if (!capabilities.system_interactions.empty()) {
    rest.AddRaw("interaction", codes(capabilities.system_interactions));
  }
  if (!capabilities.system_operations.empty()) {
    rest.AddRaw("operation", Operations(capabilities.system_operations));
  }
  return JsonObject()
      .Add("resourceType", "CapabilityStatement")
      .Add("status", "active")
      .Add("date", absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone()))
      .Add("kind", "instance")
      .AddRaw("software", JsonObject().Add("name", "hie-node").Build())
      .AddRaw("implementation",
              JsonObject().Add("description", "hie node FHIR R4 API").Add("url", base_url).Build())
      .Add("fhirVersion", "4.0.1")
      .AddRaw("format", Strings({"json"}))
      .AddRaw("rest", JsonArray({rest.Build()}))
      .Build();
}

std::string SmartConfiguration(const std::string& base_url) {
  auto strings = [](std::vector<std::string> values) { return Strings(values); };
  return JsonObject()
      .Add("token_endpoint", base_url + kTokenPath)
      .AddRaw("grant_types_supported", strings({"client_credentials"}))
      .AddRaw("token_endpoint_auth_methods_supported", strings({"private_key_jwt"}))
      .AddRaw("token_endpoint_auth_signing_alg_values_supported", strings({"ES384", "RS384"}))
      .AddRaw("scopes_supported", strings({"system/*.read", "system/*.rs"}))
      .AddRaw("capabilities", strings({"client-confidential-asymmetric"}))
      .Build();
}

// RFC 6749 section 5.2: 401 for invalid_client, 400 for the other OAuth errors; a
// failure of the node's own (no OAuth error) is 503 or 500, which a client retries.
int TokenErrorStatus(const absl::Status& status) {
  std::optional<std::string> error = auth::OAuthErrorOf(status);
  if (error.has_value()) return *error == "invalid_client" ? 401 : 400;
  if (absl::IsResourceExhausted(status)) return 429;
  return absl::IsUnavailable(status) ? 503 : 500;
}

void HandleToken(Api& api, http::Request request, http::Responder responder) {
  // The body is a form (application/x-www-form-urlencoded): decoded as a query is.
  absl::StatusOr<http::Target> form = http::ParseTarget(absl::StrCat("/?", request.body));
  auto oauth_error = [&](const absl::Status& status) {
    responder.Respond(
        Json(TokenErrorStatus(status), auth::OAuthErrorJson(status), "application/json"));
  };
  if (!form.ok()) {
    oauth_error(auth::MakeOAuthError(auth::OAuthError::kInvalidRequest,
                                     "the body is not an application/x-www-form-urlencoded form"));
    return;
  }
  auto field = [&](absl::string_view name) {
    for (const http::QueryParam& p : form->query) {
      if (p.name == name) return p.value;
    }
    return std::string();
  };
  if (absl::Status s = auth::CheckTokenRequest(field("grant_type"), field("client_assertion_type"));
      !s.ok()) {
    oauth_error(s);
    return;
  }
  OnWorker(
      api, responder,
      [&api, responder, assertion = field("client_assertion"), scope = field("scope")]() mutable {
        absl::StatusOr<auth::TokenResponse> token =
            api.tokens->Exchange(assertion, scope, api.BaseUrl() + kTokenPath, absl::Now());
        if (!token.ok()) {
          responder.Respond(Json(TokenErrorStatus(token.status()),
                                 auth::OAuthErrorJson(token.status()), "application/json"));
          return;
        }
        responder.Respond(Json(200, token->ToJson(), "application/json"));
      });
}

// What every read of one resource checks first: the format, the type, and that the
// token's scopes allow reading it. Answers and returns false when one fails.
// The discovery and token routes, then each group's.
absl::StatusOr<std::shared_ptr<http::Router>> Routes(Api* a) {
  auto router = std::make_shared<http::Router>();
  absl::Status s = AddReadRoutes(*router, a);
  if (s.ok()) s = AddWriteRoutes(*router, a);
  if (s.ok()) s = AddMatchRoutes(*router, a);
  if (s.ok()) s = AddAuditRoutes(*router, a);
  if (s.ok()) s = AddSearchRoutes(*router, a);
  // The web app's pages, on the same listener (node/web/web_app.h), when the node has
  // accounts.
  if (s.ok() && a->state->accounts != nullptr && a->state->sessions != nullptr) {
    s = AddWebRoutes(*router, {.accounts = a->state->accounts.get(),
                               .sessions = a->state->sessions.get(),
                               .run =
                                   [a](std::function<void()> work) {
                                     return a->workers != nullptr &&
                                            a->workers->Submit(std::move(work));
                                   },
                               .practice_name = a->state->own_org,
                               .state = a->state,
                               .query = a->query,
                               .search = a->search,
                               .writes = a->writes.get(),
                               .mpi = a->mpi.get(),
                               .auditor = a->auditor.get(),
                               .query_started = [a] { a->QueryStarted(); },
                               .query_done = [a] { a->QueryDone(); }});
  }
  if (s.ok()) {
    s = router->Add({.method = "GET",
                     .pattern = "/metadata",
                     .access = http::AccessRule::Anonymous(),
                     .audit_kind = "capabilities",
                     .handler = [a](http::Request request, http::Responder responder) {
                       if (RefuseFormat(request, responder)) return;
                       responder.Respond(Json(200,
                                              CapabilityStatement(a->capabilities, a->BaseUrl()),
                                              http::kFhirJsonContentType));
                     }});
  }
  if (s.ok()) {
    s = router->Add({.method = "GET",
                     .pattern = "/.well-known/smart-configuration",
                     .access = http::AccessRule::Anonymous(),
                     .audit_kind = "smart-configuration",
                     .handler = [a](http::Request, http::Responder responder) {
                       responder.Respond(
                           Json(200, SmartConfiguration(a->BaseUrl()), "application/json"));
                     }});
  }
  if (s.ok()) {
    s = router->Add({.method = "POST",
                     .pattern = kTokenPath,
                     .access = http::AccessRule::Anonymous(),
                     .audit_kind = "token",
                     .max_body_bytes = 64 * 1024,
                     .content_types = {"application/x-www-form-urlencoded"},
                     .handler = [a](http::Request request, http::Responder responder) {
                       HandleToken(*a, std::move(request), std::move(responder));
                     }});
  }
  if (!s.ok()) return s;
  return router;
}

class FhirApiService final : public grpc::Service {
 public:
  ~FhirApiService() override {
    if (server != nullptr) {
      server->Shutdown(absl::Seconds(5));
      server.reset();
    }
    if (api != nullptr) {
      // No new work; then every federated query started must end (each is bounded by
      // its holders' deadlines) before the engine and the store go.
      api->workers.reset();
      api->AwaitNoQueries();
      // Every access handed over is written and answered before the store can close.
      api->auditor.reset();
    }
    LogInfo("FHIR API stopped");
  }
  std::shared_ptr<Api> api;
  std::unique_ptr<http::Server> server;
};

http::Principal ToHttpPrincipal(const auth::Principal& p) {
  return http::Principal{.subject = p.client_id,
                         .org_id = p.org,
                         .scopes = p.scopes,
                         .user_id = p.user_id,
                         .user_display_name = p.user_name,
                         .purpose_of_use = p.purpose_of_use,
                         .reason = p.reason,
                         .client_id = p.client_id};
}

}  // namespace

absl::StatusOr<std::unique_ptr<grpc::Service>> StartFhirApi(std::shared_ptr<NodeState> state,
                                                            std::shared_ptr<FederatedQuery> query,
                                                            FhirApiOptions options) {
  auto service = std::make_unique<FhirApiService>();
  auto api = std::make_shared<Api>();
  api->state = std::move(state);
  api->query = std::move(query);
  api->clients = api->state->fhir_clients.get();
  auth::TokenServiceOptions token_options;
  token_options.token_lifetime = options.token_lifetime;
  auto tokens = auth::TokenService::Create(api->clients, api->state->store.get(), token_options);
  if (!tokens.ok()) return tokens.status();
  api->tokens = *std::move(tokens);
  api->workers = std::make_unique<Workers>(options.workers, options.max_queued);
  api->auditor = std::make_unique<audit::AuditCommitter>(api->state->audit.get());
  NodeState* node = api->state.get();
  absl::StatusOr<std::string> cursor_key = RecordSearch::CursorKey(node->store.get());
  if (!cursor_key.ok()) return cursor_key.status();
  api->search =
      std::make_shared<const RecordSearch>(node->records.get(), Clock::Real(), *cursor_key);
  api->writes = std::make_unique<RecordWrites>(
      node->ingester.get(), node->records.get(), node->outbox.get(),
      [node] {
        if (node->sender != nullptr) node->sender->Notify();
      },
      [search = api->search](const std::string& type, const std::string& condition) {
        // Two are enough to tell "one" from "more than one".
        return search->FindExisting(type, condition, 2);
      });
  if (node->mpi_channel != nullptr) api->mpi = std::make_unique<GrpcMpiSearch>(node->mpi_channel);
  service->api = api;
  auth::TokenService* verifier = api->tokens.get();
  const std::string own_org = api->state->own_org;
  options.server.authenticator =
      [verifier, own_org](absl::string_view token) -> absl::StatusOr<http::Principal> {
    absl::StatusOr<auth::Principal> p = verifier->Verify(token, absl::Now());
    if (!p.ok()) return p.status();
    // Tokens are issued for this node's practice only; a registry shared by mistake
    // must not let another practice's client in.
    if (p->org != own_org) return absl::UnauthenticatedError("token of another practice");
    return ToHttpPrincipal(*p);
  };
  if (api->state->sessions != nullptr) {
    options.server.session_authenticator = SessionAuthenticator(api->state->sessions.get());
    // The web app's visitors get its pages for errors too, never an OperationOutcome.
    options.server.error_page_prefix = "/app/";
    options.server.error_page = [own_org](int status, absl::string_view message) {
      return WebErrorPage(own_org, status, message);
    };
  }
  absl::StatusOr<std::shared_ptr<http::Router>> router = Routes(api.get());
  if (!router.ok()) return router.status();
  const std::string listen = options.server.listen_address;
  absl::StatusOr<std::unique_ptr<http::Server>> server =
      http::Server::Start(std::move(options.server), *std::move(router));
  if (!server.ok()) return server.status();
  service->server = *std::move(server);
  const int port = service->server->port();
  {
    absl::MutexLock lock(&api->mu);
    api->base_url = !options.base_url.empty()
                        ? options.base_url
                        : absl::StrCat("https://", listen.substr(0, listen.rfind(':')), ":", port);
  }
  if (!options.port_file.empty()) {
    if (absl::Status s = WritePortFile(options.port_file, port); !s.ok()) return s;
  }
  LogInfo("FHIR API listening on port ", port, " (", api->BaseUrl(), ")");
  return service;
}

}  // namespace hie::node
