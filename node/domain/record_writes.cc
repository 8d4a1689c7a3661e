#include "node/domain/record_writes.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fhir/resource_json.h"
#include "common/json/json_writer.h"
#include "consent/domain/grant.h"
#include "node/domain/importer.h"
#include "node/domain/resource_types.h"
#include "simdjson.h"

namespace hie::node {
namespace {

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

WriteResult Failed(absl::Status status) {
  WriteResult r;
  r.status = std::move(status);
  return r;
}

// The resource in `json` must be a JSON object of type `type`: the wrong shape is the
// client's mistake in the request (400), not a resource that fails validation (422).
absl::Status CheckShape(const std::string& type, absl::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(json.data(), json.size()).get(root); error) {
    return absl::InvalidArgumentError(
        absl::StrCat("the body is not valid JSON: ", simdjson::error_message(error)));
  }
  std::string_view resource_type;
  if (!root.is_object() || root["resourceType"].get_string().get(resource_type)) {
    return absl::InvalidArgumentError("the body is not a FHIR resource (no resourceType)");
  }
  if (resource_type != type) {
    return absl::InvalidArgumentError(
        absl::StrCat("the body is a ", View(resource_type), ", not a ", type));
  }
  return absl::OkStatus();
}

// "Type/id" of a request URL ("Patient/p1", "/Patient/p1", "https://host/fhir/Patient/p1").
bool SplitTypeId(absl::string_view url, std::string* type, std::string* id) {
  url = absl::StripPrefix(url, "/");
  std::vector<absl::string_view> parts = absl::StrSplit(url, '/');
  if (parts.size() < 2) return false;
  *type = std::string(parts[parts.size() - 2]);
  *id = std::string(parts.back());
  return IsFhirR4ResourceType(*type) && !id->empty() && id->find('?') == std::string::npos;
}

}  // namespace

std::string VersionETag(int64_t version) { return absl::StrCat("W/\"", version, "\""); }

absl::StatusOr<int64_t> VersionFromIfMatch(absl::string_view if_match) {
  if_match = absl::StripAsciiWhitespace(if_match);
  if (if_match.empty() || if_match == "*") return 0;
  absl::string_view v = absl::StripPrefix(if_match, "W/");
  int64_t version = 0;
  if (v.size() >= 3 && v.front() == '"' && v.back() == '"' &&
      absl::SimpleAtoi(v.substr(1, v.size() - 2), &version) && version > 0) {
    return version;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("If-Match must name a version as W/\"<n>\", not ", if_match));
}

// One Bundle entry understood.
struct RecordWrites::Planned {
  std::string method;
  std::string type;
  std::string id;
  std::string full_url;
  std::string resource;  // minified JSON (POST, PUT)
  int64_t if_version = 0;
  std::string if_none_exist;
  // Set when the entry could not be understood (answered 400).
  absl::Status refused;
  // A conditional create that found its record: nothing to write.
  std::optional<hie::v1::RecordEnvelope> found;
};

RecordWrites::RecordWrites(const FhirIngester* ingester, RecordStore* store, Outbox* outbox,
                           std::function<void()> patients_changed, RecordFinder finder)
    : ingester_(ingester),
      store_(store),
      outbox_(outbox),
      patients_changed_(std::move(patients_changed)),
      finder_(std::move(finder)) {}

WriteResult RecordWrites::Ingest(const std::string& type, const std::string& id,
                                 absl::string_view json, hie::v1::RecordEnvelope* record) {
  if (absl::Status s = CheckShape(type, json); !s.ok()) return Failed(s);
  if (type == "Bundle") {
    // The ingest path takes a Bundle apart; stored whole it would be neither searchable
    // nor labelled entry by entry. Say so rather than store its entries under this id.
    WriteResult r = Failed(absl::InvalidArgumentError("a Bundle is not stored as a resource"));
    r.problems.push_back(
        {.source = "Bundle",
         .position = 0,
         .path = "Bundle",
         .message = "this node stores a Bundle's entries, not the Bundle: POST it to the base "
                    "URL as a transaction or batch, or import it (hiectl import)"});
    return r;
  }
  absl::StatusOr<std::string> with_id = fhir::SetMembers(json, {{"id", JsonQuote(id)}});
  if (!with_id.ok()) return Failed(with_id.status());
  IngestBatch batch = ingester_->ParseJson(*with_id, type);
  if (!batch.problems.empty() || batch.records.size() != 1) {
    WriteResult r = Failed(absl::InvalidArgumentError(
        batch.problems.empty() ? "the resource was not accepted" : batch.problems[0].message));
    r.problems = std::move(batch.problems);
    return r;
  }
  InheritStoredLabels(*store_, batch);
  *record = std::move(batch.records[0]);
  return WriteResult{};
}

WriteResult RecordWrites::Store(std::vector<hie::v1::RecordEnvelope> records,
                                std::vector<PutCondition> conditions) {
  absl::StatusOr<PutOutcome> outcome =
      store_->Put(std::move(records), MpiRegistrationHook(outbox_), conditions);
  if (!outcome.ok()) return Failed(outcome.status());
  WriteResult r;
  r.kind = outcome->kinds[0];
  r.record = std::move(outcome->records[0]);
  if (r.kind == PutOutcome::kUnchanged && r.record.last_updated().seconds() == 0) {
    // Nothing was written: answer with the version the node holds.
    absl::StatusOr<hie::v1::RecordEnvelope> current =
        store_->Get(r.record.resource_type(), r.record.resource_id());
    if (current.ok()) r.record = *std::move(current);
  }
  if (r.record.resource_type() == "Patient" && r.kind != PutOutcome::kUnchanged &&
      patients_changed_) {
    patients_changed_();
  }
  return r;
}

WriteResult RecordWrites::Create(const std::string& type, absl::string_view json,
                                 const std::string& if_none_exist) {
  if (!if_none_exist.empty()) {
    if (!finder_) {
      return Failed(absl::UnimplementedError("conditional create is not available on this node"));
    }
    absl::StatusOr<std::vector<hie::v1::RecordEnvelope>> found = finder_(type, if_none_exist);
    if (!found.ok()) return Failed(found.status());
    if (found->size() > 1) {
      return Failed(absl::FailedPreconditionError(absl::StrCat(
          "If-None-Exist matches ", found->size(), " ", type, " records: it must name one")));
    }
    if (found->size() == 1) {
      if (absl::Status s = CheckShape(type, json); !s.ok()) return Failed(s);
      WriteResult r;
      r.record = std::move((*found)[0]);
      return r;
    }
  }
  hie::v1::RecordEnvelope record;
  WriteResult ingested = Ingest(type, consent::NewNonce(), json, &record);
  if (!ingested.ok()) return ingested;
  return Store({std::move(record)}, {PutCondition{.if_absent = true}});
}

WriteResult RecordWrites::Update(const std::string& type, const std::string& id,
                                 absl::string_view json, int64_t if_version) {
  if (absl::Status s = CheckShape(type, json); !s.ok()) return Failed(s);
  simdjson::dom::parser parser;
  std::string_view body_id;
  if (parser.parse(json.data(), json.size())["id"].get_string().get(body_id)) {
    return Failed(absl::InvalidArgumentError(
        absl::StrCat("the resource must carry its id (\"id\": \"", id, "\") in an update")));
  }
  if (body_id != id) {
    return Failed(absl::InvalidArgumentError(absl::StrCat(
        "the resource's id \"", View(body_id), "\" is not the id in the URL, \"", id, "\"")));
  }
  hie::v1::RecordEnvelope record;
  WriteResult ingested = Ingest(type, id, json, &record);
  if (!ingested.ok()) return ingested;
  return Store({std::move(record)}, {PutCondition{.if_version = if_version}});
}

WriteResult RecordWrites::Delete(const std::string& type, const std::string& id,
                                 int64_t if_version) {
  hie::v1::RecordEnvelope tombstone;
  tombstone.set_resource_type(type);
  tombstone.set_resource_id(id);
  tombstone.set_deleted(true);
  return Store({std::move(tombstone)}, {PutCondition{.if_version = if_version}});
}

BundleResult RecordWrites::Bundle(absl::string_view json, const EntryAuthorizer& authorize) {
  BundleResult result;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(json.data(), json.size()).get(root); error) {
    result.status = absl::InvalidArgumentError(
        absl::StrCat("the body is not valid JSON: ", simdjson::error_message(error)));
    return result;
  }
  std::string_view resource_type, bundle_type;
  if (!root.is_object() || root["resourceType"].get_string().get(resource_type) ||
      resource_type != "Bundle") {
    result.status = absl::InvalidArgumentError("POST / takes a Bundle");
    return result;
  }
  if (root["type"].get_string().get(bundle_type) ||
      (bundle_type != "transaction" && bundle_type != "batch")) {
    result.status = absl::InvalidArgumentError(
        "POST / takes a Bundle of type transaction or batch (Bundle.type)");
    return result;
  }
  std::vector<Planned> plan;
  simdjson::dom::array entries;
  if (!root["entry"].get_array().get(entries)) {
    for (simdjson::dom::element entry : entries) {
      Planned p;
      const std::string where = absl::StrCat("Bundle.entry[", plan.size(), "]");
      std::string_view method, url, text;
      if (!entry["fullUrl"].get_string().get(text)) p.full_url = std::string(text);
      if (entry["request"]["method"].get_string().get(method) ||
          entry["request"]["url"].get_string().get(url)) {
        p.refused =
            absl::InvalidArgumentError(absl::StrCat(where, ".request needs a method and a url"));
      } else {
        p.method = std::string(method);
        if (p.method == "POST") {
          p.type = std::string(absl::StripPrefix(View(url), "/"));
          if (!IsFhirR4ResourceType(p.type)) {
            p.refused = absl::InvalidArgumentError(
                absl::StrCat(where, ".request.url must be a resource type for POST"));
          }
        } else if (p.method == "PUT" || p.method == "DELETE" || p.method == "GET") {
          if (!SplitTypeId(View(url), &p.type, &p.id)) {
            p.refused = absl::InvalidArgumentError(absl::StrCat(
                where, ".request.url must be <Type>/<id> for ", p.method, ", not ", View(url)));
          }
        } else {
          p.refused = absl::InvalidArgumentError(
              absl::StrCat(where, ".request.method ", p.method, " is not supported"));
        }
      }
      if (!entry["request"]["ifMatch"].get_string().get(text)) {
        absl::StatusOr<int64_t> version = VersionFromIfMatch(View(text));
        if (!version.ok() && p.refused.ok()) p.refused = version.status();
        p.if_version = version.value_or(0);
      }
      if (!entry["request"]["ifNoneExist"].get_string().get(text)) {
        p.if_none_exist = std::string(text);
      }
      simdjson::dom::element resource;
      if (p.refused.ok() && (p.method == "POST" || p.method == "PUT")) {
        if (entry["resource"].get(resource)) {
          p.refused = absl::InvalidArgumentError(
              absl::StrCat(where, ".resource is required for ", p.method));
        } else {
          p.resource = simdjson::minify(resource);
        }
      }
      if (p.refused.ok()) {
        const char* interaction = p.method == "POST"     ? "create"
                                  : p.method == "PUT"    ? "update"
                                  : p.method == "DELETE" ? "delete"
                                                         : "read";
        p.refused = authorize(p.type, interaction);
      }
      plan.push_back(std::move(p));
    }
  }
  BundleResult done =
      bundle_type == "transaction" ? Transaction(std::move(plan)) : Batch(std::move(plan));
  done.transaction = bundle_type == "transaction";
  return done;
}

BundleResult RecordWrites::Batch(std::vector<Planned> plan) {
  BundleResult result;
  for (Planned& p : plan) {
    EntryResult entry;
    entry.method = p.method;
    if (!p.refused.ok()) {
      entry.write = Failed(p.refused);
    } else if (p.method == "POST") {
      entry.write = Create(p.type, p.resource, p.if_none_exist);
    } else if (p.method == "PUT") {
      entry.write = Update(p.type, p.id, p.resource, p.if_version);
    } else if (p.method == "DELETE") {
      entry.write = Delete(p.type, p.id, p.if_version);
    } else {
      absl::StatusOr<hie::v1::RecordEnvelope> record = store_->Get(p.type, p.id);
      if (record.ok()) {
        entry.write.record = *std::move(record);
      } else {
        entry.write = Failed(record.status());
      }
    }
    result.entries.push_back(std::move(entry));
  }
  return result;
}

BundleResult RecordWrites::Transaction(std::vector<Planned> plan) {
  BundleResult result;
  auto fail = [&](size_t index, absl::Status status) {
    result.status = std::move(status);
    result.failed_entry = static_cast<int64_t>(index);
    result.entries.clear();
    return result;
  };
  // Ids first: each POST gets a new one (or the record its ifNoneExist finds), and every
  // fullUrl maps to the Type/id it becomes.
  absl::flat_hash_map<std::string, std::string> rewrites;  // fullUrl -> Type/id
  for (size_t i = 0; i < plan.size(); ++i) {
    Planned& p = plan[i];
    if (!p.refused.ok()) return fail(i, p.refused);
    if (p.method == "POST") {
      if (!p.if_none_exist.empty()) {
        if (!finder_) {
          return fail(i, absl::UnimplementedError("conditional create is not available here"));
        }
        absl::StatusOr<std::vector<hie::v1::RecordEnvelope>> found =
            finder_(p.type, p.if_none_exist);
        if (!found.ok()) return fail(i, found.status());
        if (found->size() > 1) {
          return fail(i, absl::FailedPreconditionError(absl::StrCat(
                             "ifNoneExist matches ", found->size(), " ", p.type, " records")));
        }
        if (found->size() == 1) p.found = std::move((*found)[0]);
      }
      p.id = p.found ? p.found->resource_id() : consent::NewNonce();
    }
    if (!p.full_url.empty() && !p.id.empty())
      rewrites[p.full_url] = absl::StrCat(p.type, "/", p.id);
  }
  // No two writes of one record in a transaction (FHIR forbids it; the store assumes it).
  absl::flat_hash_map<std::string, size_t> written;  // Type/id -> entry
  for (size_t i = 0; i < plan.size(); ++i) {
    const Planned& p = plan[i];
    if (p.method == "GET" || p.found) continue;
    auto [it, added] = written.emplace(absl::StrCat(p.type, "/", p.id), i);
    if (!added) {
      return fail(i, absl::InvalidArgumentError(absl::StrCat("Bundle.entry[", i, "] writes ",
                                                             it->first, " as entry ", it->second,
                                                             " does: one entry per resource")));
    }
  }
  // The resources to write, with references to fullUrls rewritten, as one transaction
  // Bundle through the ingest path (labels flow between its entries).
  std::vector<std::string> bundle_entries;
  std::vector<size_t> entry_of;  // index in the plan of each Bundle entry
  for (size_t i = 0; i < plan.size(); ++i) {
    Planned& p = plan[i];
    if ((p.method != "POST" && p.method != "PUT") || p.found) continue;
    if (absl::Status s = CheckShape(p.type, p.resource); !s.ok()) {
      return fail(i, absl::InvalidArgumentError(
                         absl::StrCat("Bundle.entry[", i, "].resource: ", s.message())));
    }
    if (p.method == "PUT") {
      simdjson::dom::parser parser;
      std::string_view body_id;
      if (!parser.parse(p.resource)["id"].get_string().get(body_id) && body_id != p.id) {
        return fail(i, absl::InvalidArgumentError(
                           absl::StrCat("Bundle.entry[", i, "].resource.id \"", View(body_id),
                                        "\" is not the id in its request.url, \"", p.id, "\"")));
      }
    }
    std::string text = p.resource;
    for (const auto& [from, to] : rewrites) {
      absl::StrReplaceAll({{absl::StrCat("\"reference\":", JsonQuote(from)),
                            absl::StrCat("\"reference\":", JsonQuote(to))}},
                          &text);
    }
    absl::StatusOr<std::string> with_id = fhir::SetMembers(text, {{"id", JsonQuote(p.id)}});
    if (!with_id.ok()) return fail(i, with_id.status());
    bundle_entries.push_back(JsonObject()
                                 .Add("fullUrl", absl::StrCat(p.type, "/", p.id))
                                 .AddRaw("resource", *with_id)
                                 .Build());
    entry_of.push_back(i);
  }
  std::vector<hie::v1::RecordEnvelope> records;
  std::vector<PutCondition> conditions;
  std::vector<size_t> record_entry;  // index in the plan of each record
  if (!bundle_entries.empty()) {
    IngestBatch batch = ingester_->ParseJson(JsonObject()
                                                 .Add("resourceType", "Bundle")
                                                 .Add("type", "transaction")
                                                 .AddRaw("entry", JsonArray(bundle_entries))
                                                 .Build(),
                                             "transaction");
    if (!batch.problems.empty()) {
      // Positions and paths name the entries of the Bundle as sent.
      for (IngestProblem& problem : batch.problems) {
        // Every problem of the rebuilt Bundle is an entry's; one that is not (a position
        // out of range) is charged to the first entry rather than read out of bounds.
        const size_t built_index = static_cast<size_t>(problem.position);
        const size_t sent = built_index < entry_of.size() ? entry_of[built_index] : entry_of[0];
        const std::string built = absl::StrCat("Bundle.entry[", problem.position, "]");
        if (absl::StartsWith(problem.path, built)) {
          problem.path =
              absl::StrCat("Bundle.entry[", sent, "]", problem.path.substr(built.size()));
        }
        problem.position = static_cast<int64_t>(sent);
      }
      const size_t first = static_cast<size_t>(batch.problems[0].position);
      std::string message = batch.problems[0].message;
      fail(first, absl::InvalidArgumentError(message));
      result.problems = std::move(batch.problems);
      return result;
    }
    InheritStoredLabels(*store_, batch);
    for (hie::v1::RecordEnvelope& record : batch.records) {
      const size_t i = written.at(absl::StrCat(record.resource_type(), "/", record.resource_id()));
      record_entry.push_back(i);
      conditions.push_back(plan[i].method == "POST"
                               ? PutCondition{.if_absent = true}
                               : PutCondition{.if_version = plan[i].if_version});
      records.push_back(std::move(record));
    }
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].method != "DELETE") continue;
    hie::v1::RecordEnvelope tombstone;
    tombstone.set_resource_type(plan[i].type);
    tombstone.set_resource_id(plan[i].id);
    tombstone.set_deleted(true);
    records.push_back(std::move(tombstone));
    conditions.push_back(PutCondition{.if_version = plan[i].if_version});
    record_entry.push_back(i);
  }
  result.entries.resize(plan.size());
  bool patients = false;
  if (!records.empty()) {
    absl::StatusOr<PutOutcome> outcome =
        store_->Put(std::move(records), MpiRegistrationHook(outbox_), conditions);
    if (!outcome.ok()) {
      // Which entry: the store names the record in its message.
      size_t failed = 0;
      for (size_t k = 0; k < record_entry.size(); ++k) {
        const Planned& p = plan[record_entry[k]];
        if (absl::StrContains(outcome.status().message(), absl::StrCat(p.type, "/", p.id))) {
          failed = record_entry[k];
          break;
        }
      }
      return fail(failed, outcome.status());
    }
    for (size_t k = 0; k < outcome->records.size(); ++k) {
      WriteResult& w = result.entries[record_entry[k]].write;
      w.kind = outcome->kinds[k];
      w.record = std::move(outcome->records[k]);
      patients =
          patients || (w.record.resource_type() == "Patient" && w.kind != PutOutcome::kUnchanged);
    }
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    result.entries[i].method = plan[i].method;
    WriteResult& w = result.entries[i].write;
    if (plan[i].found) {
      w.record = *plan[i].found;
    } else if (plan[i].method == "GET") {
      absl::StatusOr<hie::v1::RecordEnvelope> record = store_->Get(plan[i].type, plan[i].id);
      if (record.ok()) {
        w.record = *std::move(record);
      } else {
        w = Failed(record.status());
      }
    } else if (w.kind == PutOutcome::kUnchanged && w.record.last_updated().seconds() == 0) {
      absl::StatusOr<hie::v1::RecordEnvelope> current =
          store_->Get(w.record.resource_type(), w.record.resource_id());
      if (current.ok()) w.record = *std::move(current);
    }
  }
  if (patients && patients_changed_) patients_changed_();
  return result;
}

}  // namespace hie::node
