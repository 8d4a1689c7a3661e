// Search on the practice's own records: GET /{type}?... and POST /{type}/_search (the
// same parameters as a form). Parsing and matching are node/domain/record_search.h's;
// this file reads the parameters, makes the one search and writes the searchset Bundle.
#include <memory>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/json/json_writer.h"
#include "common/time/clock.h"
#include "http/status.h"
#include "http/target.h"
#include "node/domain/record_search.h"
#include "node/rest/api.h"

namespace hie::node {
namespace {

// The search as a link repeats it: base/type?params.
std::string SearchUrl(const std::string& base, const std::string& type,
                      const std::vector<SearchParam>& params) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const SearchParam& p : params) pairs.emplace_back(p.name, p.value);
  return http::SearchUrl(absl::StrCat(base, "/", type), pairs);
}

std::string Entry(const std::string& base, const hie::v1::RecordEnvelope& record,
                  const char* mode) {
  return JsonObject()
      .Add("fullUrl", absl::StrCat(base, "/", record.resource_type(), "/", record.resource_id()))
      .AddRaw("resource", RenderRecord(record))
      .AddRaw("search", JsonObject().Add("mode", mode).Build())
      .Build();
}

std::string SearchsetBundle(const std::string& base, const SearchQuery& query,
                            const SearchPage& page) {
  std::vector<SearchParam> self = query.LinkParams();
  if (!query.cursor().empty()) self.push_back({"_cursor", query.cursor()});
  std::string next_url;
  if (!page.next_cursor.empty()) {
    std::vector<SearchParam> next = query.LinkParams();
    next.push_back({"_cursor", page.next_cursor});
    next_url = SearchUrl(base, query.type(), next);
  }
  std::vector<std::string> entries;
  for (const hie::v1::RecordEnvelope& r : page.matches) entries.push_back(Entry(base, r, "match"));
  for (const hie::v1::RecordEnvelope& r : page.included) {
    entries.push_back(Entry(base, r, "include"));
  }
  return JsonObject()
      .Add("resourceType", "Bundle")
      .Add("type", "searchset")
      .Add("total", page.total)
      .AddRaw("link", PageLinks(SearchUrl(base, query.type(), self), next_url))
      .AddRaw("entry", JsonArray(entries))
      .Build();
}

// The search's parameters: the URL's query, then (POST) the form in the body. _format
// is the front's (RefuseFormat), not a search parameter.
absl::StatusOr<std::vector<SearchParam>> SearchParams(const http::Request& request) {
  std::vector<http::QueryParam> given = request.query;
  if (request.method == "POST" && !request.body.empty()) {
    absl::StatusOr<http::Target> form = http::ParseTarget(absl::StrCat("/?", request.body));
    if (!form.ok()) {
      return absl::InvalidArgumentError(
          "the body is not an application/x-www-form-urlencoded form");
    }
    given.insert(given.end(), form->query.begin(), form->query.end());
  }
  std::vector<SearchParam> params;
  for (http::QueryParam& p : given) {
    if (p.name == "_format") continue;
    params.push_back({std::move(p.name), std::move(p.value)});
  }
  return params;
}

void HandleSearch(Api& api, http::Request request, http::Responder responder) {
  if (RefuseFormat(request, responder)) return;
  const std::string type = request.params["type"];
  if (absl::Status s = CheckType(type); !s.ok()) {
    responder.RespondError(s);
    return;
  }
  if (type == "AuditEvent") {
    // GET /AuditEvent is the node's audit chain (audit_routes.cc), not records.
    http::Response refusal = http::ErrorResponse(
        405,
        "AuditEvent is the node's audit chain: GET /AuditEvent?patient=<id> with a client "
        "certificate");
    refusal.SetHeader("Allow", "GET");
    responder.Respond(std::move(refusal));
    return;
  }
  absl::Status allowed = CheckScope(api, request, type, "search");
  absl::StatusOr<std::vector<SearchParam>> params =
      allowed.ok() ? SearchParams(request) : absl::StatusOr<std::vector<SearchParam>>(allowed);
  absl::StatusOr<SearchQuery> query =
      params.ok() ? SearchQuery::Parse(type, *params) : params.status();
  // _include returns Patients: the caller must be allowed to read them too.
  if (query.ok() && query->includes_patients()) {
    if (absl::Status s = CheckScope(api, request, "Patient", "read"); !s.ok()) query = s;
  }
  if (!query.ok()) {
    responder.RespondError(query.status());
    return;
  }
  OnWorker(
      api, responder, [&api, responder, query = *std::move(query), request = std::move(request)] {
        absl::StatusOr<SearchPage> page = api.search->Run(query);
        if (!page.ok()) {
          responder.RespondError(page.status());
          return;
        }
        // In the audit chain: one entry per patient the page shows (so that each patient's
        // accounting finds it), or one for the search itself when it shows none.
        std::vector<Touched> touched;
        absl::flat_hash_set<std::string> patients;
        for (const auto* list : {&page->matches, &page->included}) {
          for (const hie::v1::RecordEnvelope& r : *list) {
            if (patients.insert(r.patient_local_id()).second) {
              touched.push_back({.interaction = "search",
                                 .resource = query.type(),
                                 .patient = r.patient_local_id()});
            }
          }
        }
        if (touched.empty()) touched.push_back({.interaction = "search", .resource = query.type()});
        RespondAudited(
            api, request, touched, responder,
            Json(200, SearchsetBundle(api.BaseUrl(), query, *page), http::kFhirJsonContentType));
      });
}

}  // namespace

absl::Status AddSearchRoutes(http::Router& router, Api* api) {
  ResourceCapability& every = api->capabilities.resources["Resource"];
  every.interactions.push_back("search-type");
  for (const SearchParamInfo& p : SearchParamsFor("Resource")) {
    every.search_params.push_back(
        {.name = p.name, .type = p.type, .documentation = p.documentation});
  }
  for (const std::string& type : SearchableTypes()) {
    ResourceCapability& capability = api->capabilities.resources[type];
    for (const SearchParamInfo& p : SearchParamsFor(type)) {
      capability.search_params.push_back(
          {.name = p.name, .type = p.type, .documentation = p.documentation});
    }
    for (const std::string& include : SearchIncludesFor(type)) {
      capability.search_includes.push_back(include);
    }
  }

  const http::AccessRule access =
      http::AccessRule::BearerTokenOrClientCertificate("system/", {pki::Role::kNode});
  absl::Status s = router.Add({.method = "GET",
                               .pattern = "/{type}",
                               .access = access,
                               .audit_kind = "search",
                               .handler = [api](http::Request request, http::Responder responder) {
                                 HandleSearch(*api, std::move(request), std::move(responder));
                               }});
  if (!s.ok()) return s;
  return router.Add({.method = "POST",
                     .pattern = "/{type}/_search",
                     .access = access,
                     .audit_kind = "search",
                     .max_body_bytes = 64 * 1024,
                     .content_types = {"application/x-www-form-urlencoded"},
                     .handler = [api](http::Request request, http::Responder responder) {
                       HandleSearch(*api, std::move(request), std::move(responder));
                     }});
}

}  // namespace hie::node
