#include "node/rest/fhir_api.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/audit/fhir_audit_event.h"
#include "common/auth/client_registry.h"
#include "common/auth/oauth_error.h"
#include "common/auth/scope.h"
#include "common/auth/token_service.h"
#include "common/grpc/server_runner.h"
#include "common/json/json_writer.h"
#include "common/log/log.h"
#include "http/router.h"
#include "http/status.h"
#include "http/target.h"
#include "node/domain/resource_types.h"
#include "node/rest/workers.h"

namespace hie::node {
namespace {

constexpr char kTokenPath[] = "/auth/token";

// The state every handler shares; outlives the server (which is shut down first).
struct Api {
  std::shared_ptr<NodeState> state;
  std::shared_ptr<FederatedQuery> query;
  auth::ClientRegistry* clients = nullptr;  // the node's (NodeState::fhir_clients)
  std::unique_ptr<auth::TokenService> tokens;
  std::unique_ptr<Workers> workers;
  absl::Mutex mu;
  std::string base_url ABSL_GUARDED_BY(mu);
  // $everything queries started and not yet done: the engine and the store must
  // outlive them, so shutting down waits for none to be left.
  int live_queries ABSL_GUARDED_BY(mu) = 0;

  void QueryStarted() {
    absl::MutexLock lock(&mu);
    ++live_queries;
  }
  void QueryDone() {
    absl::MutexLock lock(&mu);
    --live_queries;
  }
  void AwaitNoQueries() {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &live_queries));
  }

  std::string BaseUrl() {
    absl::MutexLock lock(&mu);
    return base_url;
  }
};

http::Response Json(int status, std::string body, absl::string_view content_type) {
  http::Response r;
  r.status = status;
  r.SetHeader("Content-Type", content_type);
  r.body = std::move(body);
  return r;
}

// Runs `work` on a worker; answers 429 when they are all busy and the queue is full.
void OnWorker(Api& api, const http::Responder& responder, std::function<void()> work) {
  if (!api.workers->Submit(std::move(work))) {
    responder.RespondError(absl::ResourceExhaustedError("the node is busy; retry in a moment"));
  }
}

// The caller's token allows `interaction` on `type` (SMART system scopes).
absl::Status CheckScope(const http::Request& request, absl::string_view type,
                        absl::string_view interaction) {
  const std::optional<http::Principal>& p = request.caller.principal;
  if (!p.has_value()) return absl::UnauthenticatedError("a bearer token is required");
  if (!auth::ScopeAllows(p->scopes, type, interaction)) {
    return absl::PermissionDeniedError(absl::StrCat("the token's scopes (",
                                                    absl::StrJoin(p->scopes, " "),
                                                    ") do not allow ", interaction, " of ", type));
  }
  return absl::OkStatus();
}

absl::Status CheckType(const std::string& type) {
  if (!IsFhirR4ResourceType(type)) {
    return absl::NotFoundError(absl::StrCat("unknown resource type ", type));
  }
  return absl::OkStatus();
}

// JSON is what this server speaks: _format and Accept may ask for it (or anything).
absl::Status CheckFormat(const http::Request& request) {
  if (const std::string* format = request.Query("_format")) {
    if (*format != "json" && *format != "application/fhir+json" && *format != "application/json") {
      return absl::FailedPreconditionError("not acceptable");  // answered 406 by Respond
    }
  }
  if (const std::string* accept = request.Header("accept")) {
    if (accept->find("json") == std::string::npos && accept->find("*/*") == std::string::npos) {
      return absl::FailedPreconditionError("not acceptable");
    }
  }
  return absl::OkStatus();
}

bool RefuseFormat(const http::Request& request, const http::Responder& responder) {
  if (CheckFormat(request).ok()) return false;
  responder.Respond(http::ErrorResponse(406, "only application/fhir+json is served"));
  return true;
}

// A stored version as its FHIR representation, with its version as ETag.
http::Response RecordResponse(const hie::v1::RecordEnvelope& record) {
  http::Response r = Json(200, record.fhir_json(), http::kFhirJsonContentType);
  r.SetHeader("ETag", absl::StrCat("W/\"", record.version(), "\""));
  return r;
}

std::string CapabilityStatement(const std::string& base_url) {
  std::vector<std::string> interactions;
  for (const char* code : {"read", "vread", "history-instance"}) {
    interactions.push_back(JsonObject().Add("code", code).Build());
  }
  const std::string smart_coding =
      JsonObject()
          .Add("system", "http://terminology.hl7.org/CodeSystem/restful-security-service")
          .Add("code", "SMART-on-FHIR")
          .Build();
  const std::string security =
      JsonObject()
          .AddRaw("service",
                  JsonArray({JsonObject().AddRaw("coding", JsonArray({smart_coding})).Build()}))
          .Add("description", absl::StrCat("SMART Backend Services: client_credentials with a "
                                           "private_key_jwt assertion (ES384 or RS384) at ",
                                           base_url, kTokenPath))
          .Build();
  // Every resource type of R4 is stored as sent, and each answers read, vread and
  // history-instance: one entry for "Resource" says it once rather than 145 times.
  const std::string resource =
      JsonObject().Add("type", "Resource").AddRaw("interaction", JsonArray(interactions)).Build();
  const std::string everything =
      JsonObject()
          .Add("name", "everything")
          .Add("definition", "http://hl7.org/fhir/OperationDefinition/Patient-everything")
          .Add("documentation",
               "GET /Patient/{id}/$everything: the federated record from every practice the "
               "patient's consent allows, for the token's user and purpose of use")
          .Build();
  const std::string rest = JsonObject()
                               .Add("mode", "server")
                               .AddRaw("security", security)
                               .AddRaw("resource", JsonArray({resource}))
                               .AddRaw("operation", JsonArray({everything}))
                               .Build();
  return JsonObject()
      .Add("resourceType", "CapabilityStatement")
      .Add("status", "active")
      .Add("date", absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone()))
      .Add("kind", "instance")
      .AddRaw("software", JsonObject().Add("name", "hie-node").Build())
      .AddRaw("implementation",
              JsonObject().Add("description", "hie node FHIR R4 API").Add("url", base_url).Build())
      .Add("fhirVersion", "4.0.1")
      .AddRaw("format", JsonArray({JsonQuote("json")}))
      .AddRaw("rest", JsonArray({rest}))
      .Build();
}

std::string SmartConfiguration(const std::string& base_url) {
  auto strings = [](std::initializer_list<const char*> values) {
    std::vector<std::string> quoted;
    for (const char* v : values) quoted.push_back(JsonQuote(v));
    return JsonArray(quoted);
  };
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
bool AcceptRead(const http::Request& request, const http::Responder& responder) {
  if (RefuseFormat(request, responder)) return false;
  const std::string& type = request.params.at("type");
  absl::Status s = CheckType(type);
  if (s.ok()) s = CheckScope(request, type, "read");
  if (!s.ok()) responder.RespondError(s);
  return s.ok();
}

// A store's NotFound as the client should read it.
absl::Status NotHere(const absl::Status& status, const std::string& type, const std::string& id) {
  return absl::IsNotFound(status) ? absl::NotFoundError(absl::StrCat(type, "/", id, " is not here"))
                                  : status;
}

void HandleRead(Api& api, http::Request request, http::Responder responder) {
  if (!AcceptRead(request, responder)) return;
  const std::string type = request.params["type"];
  const std::string id = request.params["id"];
  OnWorker(api, responder, [&api, responder, type, id] {
    absl::StatusOr<hie::v1::RecordEnvelope> record = api.state->records->Get(type, id);
    if (!record.ok()) {
      responder.RespondError(NotHere(record.status(), type, id));
      return;
    }
    responder.Respond(RecordResponse(*record));
  });
}

void HandleHistory(Api& api, http::Request request, http::Responder responder) {
  if (!AcceptRead(request, responder)) return;
  const std::string type = request.params["type"];
  const std::string id = request.params["id"];
  const std::string vid = request.params["vid"];  // "" for the whole history
  OnWorker(api, responder, [&api, responder, type, id, vid] {
    absl::StatusOr<std::vector<hie::v1::RecordEnvelope>> versions =
        api.state->records->History(type, id);
    if (!versions.ok()) {
      responder.RespondError(NotHere(versions.status(), type, id));
      return;
    }
    if (!vid.empty()) {
      for (const hie::v1::RecordEnvelope& v : *versions) {
        if (absl::StrCat(v.version()) == vid) {
          responder.Respond(RecordResponse(v));
          return;
        }
      }
      responder.RespondError(
          absl::NotFoundError(absl::StrCat(type, "/", id, " has no version ", vid)));
      return;
    }
    // Newest first, as FHIR's history is.
    std::vector<std::string> entries;
    for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
      entries.push_back(
          JsonObject()
              .Add("fullUrl", absl::StrCat(api.BaseUrl(), "/", type, "/", id))
              .AddRaw("resource", it->fhir_json())
              .AddRaw("request", JsonObject()
                                     .Add("method", it->version() == 1 ? "POST" : "PUT")
                                     .Add("url", absl::StrCat(type, "/", id))
                                     .Build())
              .Build());
    }
    responder.Respond(Json(200,
                           JsonObject()
                               .Add("resourceType", "Bundle")
                               .Add("type", "history")
                               .Add("total", static_cast<int64_t>(versions->size()))
                               .AddRaw("entry", JsonArray(entries))
                               .Build(),
                           http::kFhirJsonContentType));
  });
}

// One holder that did not answer in full, as the OperationOutcome entry FHIR gives a
// searchset for what it could not do.
std::string HolderOutcomeEntry(const HolderOutcome& h) {
  const char* code = h.state == HolderState::kDenied     ? "forbidden"
                     : h.state == HolderState::kTimedOut ? "timeout"
                     : h.state == HolderState::kFailed   ? "exception"
                                                         : "transient";
  const std::string issue =
      JsonObject()
          .Add("severity", "warning")
          .Add("code", code)
          .Add("diagnostics", absl::StrCat("holder ", h.org_id, ": ", HolderStateName(h.state)))
          .Build();
  return JsonObject()
      .AddRaw("resource", JsonObject()
                              .Add("resourceType", "OperationOutcome")
                              .AddRaw("issue", JsonArray({issue}))
                              .Build())
      .AddRaw("search", JsonObject().Add("mode", "outcome").Build())
      .Build();
}

// Collects one federated query's events and answers with the merged Bundle, each
// holder that did not answer in full as an OperationOutcome entry. Deletes itself.
class EverythingObserver final : public QueryObserver {
 public:
  EverythingObserver(Api* api, http::Responder responder)
      : api_(api), responder_(std::move(responder)) {
    api_->QueryStarted();
  }

  void OnHolderSettled(const HolderOutcome& outcome) override {
    if (outcome.state == HolderState::kOk) return;
    // Why stays in the node's log: a peer's or the store's words are not for a client.
    LogInfo("$everything: holder ", outcome.org_id, " ", HolderStateName(outcome.state), ": ",
            outcome.message);
    outcomes_.push_back(HolderOutcomeEntry(outcome));
  }

  void OnQueryDone(absl::StatusOr<QueryAnswer> answer) override {
    if (!answer.ok()) {
      responder_.RespondError(answer.status());
    } else {
      std::string text;
      while (answer->bundle->Next(size_t{1} << 20, &text)) {
      }
      // The writer's text ends with the entry array's "]}": the outcomes join it.
      if (!outcomes_.empty() && absl::EndsWith(text, "]}")) {
        text.resize(text.size() - 2);
        absl::StrAppend(&text, answer->bundle->entries() > 0 ? ", " : "",
                        absl::StrJoin(outcomes_, ", "), "]}");
      }
      http::Response r = Json(200, std::move(text), http::kFhirJsonContentType);
      if (!answer->withheld_categories.empty()) {
        // What consent withheld, for a client to tell its user (also in the audit).
        r.SetHeader("X-Withheld-Categories", absl::StrJoin(answer->withheld_categories, ","));
      }
      r.SetHeader("X-Query-Id", answer->query_id);
      responder_.Respond(std::move(r));
    }
    Api* api = api_;
    delete this;
    api->QueryDone();  // last: shutdown may free everything once it is counted
  }

 private:
  Api* const api_;
  http::Responder responder_;
  std::vector<std::string> outcomes_;
};

void HandleEverything(Api& api, http::Request request, http::Responder responder) {
  if (RefuseFormat(request, responder)) return;
  // Every type it may return must be allowed: all of them (a scope reading every type),
  // or each type _type names.
  std::vector<std::string> types;
  if (const std::string* type = request.Query("_type")) {
    for (absl::string_view t : absl::StrSplit(*type, ',', absl::SkipEmpty())) {
      types.emplace_back(t);
    }
  }
  if (types.empty()) {
    if (!CheckScope(request, "Resource", "read").ok()) {
      responder.RespondError(absl::PermissionDeniedError(
          "$everything without _type needs a scope that reads every type (system/*.read)"));
      return;
    }
  }
  for (const std::string& type : types) {
    if (absl::Status s = CheckType(type); !s.ok()) {
      responder.RespondError(absl::InvalidArgumentError(s.message()));
      return;
    }
    if (absl::Status s = CheckScope(request, type, "read"); !s.ok()) {
      responder.RespondError(s);
      return;
    }
  }
  const http::Principal& p = *request.caller.principal;
  if (p.user_id.empty() || p.purpose_of_use.empty()) {
    responder.RespondError(absl::PermissionDeniedError(
        "a federated read needs a token naming the requesting user and a purpose of use "
        "(hiectl fhir token --user ID --purpose CODE)"));
    return;
  }
  FederatedQueryRequest query;
  query.local_patient_id = request.params["id"];
  query.purpose = p.purpose_of_use;
  query.user =
      QueryUser{.id = p.user_id, .role = "", .npi = "", .display_name = p.user_display_name};
  query.break_glass_reason = p.reason;
  query.resource_types = types;
  OnWorker(api, responder, [&api, responder, query = std::move(query)]() mutable {
    api.query->Run(std::move(query), new EverythingObserver(&api, responder));
  });
}

// The node's audit chain about one patient, as AuditEvents: for the practice's own
// certificate or the exchange's operator (the route admits both roles; the org is
// checked here, as the gRPC AuditLog service does).
void HandleAuditEvents(Api& api, http::Request request, http::Responder responder) {
  if (RefuseFormat(request, responder)) return;
  const pki::CertIdentity& who = *request.caller.certificate;
  if (who.role != pki::Role::kOperator && who.org_id != api.state->own_org) {
    responder.RespondError(absl::PermissionDeniedError(absl::StrCat(
        "this node serves ", api.state->own_org, "; ", who.org_id, " may not read its audit")));
    return;
  }
  const std::string* patient = request.Query("patient");
  if (patient == nullptr || patient->empty()) {
    responder.RespondError(
        absl::InvalidArgumentError("give patient=<local id> (or patient=Patient/<local id>)"));
    return;
  }
  std::string local = *patient;
  if (absl::StartsWith(local, "Patient/")) local = local.substr(8);
  OnWorker(api, responder, [&api, responder, local] {
    absl::StatusOr<std::vector<hie::v1::AuditEntry>> entries =
        api.state->audit->QueryByPatient(audit::PatientKey::Local(api.state->own_org, local));
    if (!entries.ok()) {
      responder.RespondError(entries.status());
      return;
    }
    responder.Respond(
        Json(200, audit::ToFhirAuditBundle(*entries, absl::StrCat(api.state->own_org, "'s node")),
             http::kFhirJsonContentType));
  });
}

absl::StatusOr<std::shared_ptr<http::Router>> Routes(const std::shared_ptr<Api>& api) {
  auto router = std::make_shared<http::Router>();
  Api* a = api.get();
  auto add = [&](http::Route route) { return router->Add(std::move(route)); };
  absl::Status s = add({.method = "GET",
                        .pattern = "/metadata",
                        .access = http::AccessRule::Anonymous(),
                        .audit_kind = "capabilities",
                        .handler = [a](http::Request request, http::Responder responder) {
                          if (RefuseFormat(request, responder)) return;
                          responder.Respond(Json(200, CapabilityStatement(a->BaseUrl()),
                                                 http::kFhirJsonContentType));
                        }});
  if (s.ok()) {
    s = add({.method = "GET",
             .pattern = "/.well-known/smart-configuration",
             .access = http::AccessRule::Anonymous(),
             .audit_kind = "smart-configuration",
             .handler = [a](http::Request, http::Responder responder) {
               responder.Respond(Json(200, SmartConfiguration(a->BaseUrl()), "application/json"));
             }});
  }
  if (s.ok()) {
    s = add({.method = "POST",
             .pattern = kTokenPath,
             .access = http::AccessRule::Anonymous(),
             .audit_kind = "token",
             .max_body_bytes = 64 * 1024,
             .content_types = {"application/x-www-form-urlencoded"},
             .handler = [a](http::Request request, http::Responder responder) {
               HandleToken(*a, std::move(request), std::move(responder));
             }});
  }
  const http::AccessRule token = http::AccessRule::BearerToken("system/");
  if (s.ok()) {
    s = add({.method = "GET",
             .pattern = "/{type}/{id}",
             .access = token,
             .audit_kind = "read",
             .handler = [a](http::Request request, http::Responder responder) {
               HandleRead(*a, std::move(request), std::move(responder));
             }});
  }
  if (s.ok()) {
    s = add(
        {.method = "GET",
         .pattern = "/AuditEvent",
         .access = http::AccessRule::ClientCertificate({pki::Role::kNode, pki::Role::kOperator}),
         .audit_kind = "audit",
         .handler = [a](http::Request request, http::Responder responder) {
           HandleAuditEvents(*a, std::move(request), std::move(responder));
         }});
  }
  if (s.ok()) {
    s = add({.method = "GET",
             .pattern = "/Patient/{id}/$everything",
             .access = token,
             .audit_kind = "everything",
             .handler = [a](http::Request request, http::Responder responder) {
               HandleEverything(*a, std::move(request), std::move(responder));
             }});
  }
  for (const char* pattern : {"/{type}/{id}/_history", "/{type}/{id}/_history/{vid}"}) {
    if (!s.ok()) break;
    s = add({.method = "GET",
             .pattern = pattern,
             .access = token,
             .audit_kind = "history",
             .handler = [a](http::Request request, http::Responder responder) {
               HandleHistory(*a, std::move(request), std::move(responder));
             }});
  }
  if (!s.ok()) return s;
  return router;
}

// Owns the API and its server; destroying it drains the server, then joins the
// workers, before the node's store closes.
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
  absl::StatusOr<std::shared_ptr<http::Router>> router = Routes(api);
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
