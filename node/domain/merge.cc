#include "node/domain/merge.h"

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/fhir/datetime.h"
#include "common/json/json_writer.h"
#include "node/domain/disclosure.h"
#include "simdjson.h"

namespace hie::node {
namespace {

// "system|code" of the first coding of the element that says what the record is.
std::string FactKey(const hie::v1::RecordEnvelope& r, simdjson::dom::parser& parser) {
  static constexpr const char* kCodeFields[] = {"code", "vaccineCode", "medicationCodeableConcept"};
  simdjson::dom::element resource;
  if (parser.parse(r.fhir_json()).get(resource)) return "";
  std::string code;
  for (const char* field : kCodeFields) {
    std::string_view system, value;
    auto coding = resource[field]["coding"].at(0);
    if (!coding["code"].get_string().get(value)) {
      if (coding["system"].get_string().get(system)) system = "";
      code = absl::StrCat(field, "=", std::string(system), "|", std::string(value));
      break;
    }
  }
  if (code.empty()) return "";
  std::optional<absl::Time> date = ClinicalDate(resource);
  if (!date) return "";
  std::string value;
  double number;
  std::string_view unit;
  if (!resource["valueQuantity"]["value"].get_double().get(number)) {
    if (resource["valueQuantity"]["unit"].get_string().get(unit)) unit = "";
    value = absl::StrCat(number, std::string(unit));
  }
  return absl::StrCat(r.resource_type(), "#", code, "#", absl::FormatTime(*date), "#", value);
}

bool LooksLikeUuid(const std::string& id) {
  return id.size() == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-';
}

// The resource with one source-org tag per source added to its meta.
std::string Tagged(const std::string& json,
                   const std::vector<const hie::v1::RecordEnvelope*>& sources,
                   simdjson::dom::parser& parser) {
  simdjson::dom::element resource;
  if (parser.parse(json).get(resource)) return json;
  std::vector<std::string> meta_members;
  std::vector<std::string> tags;
  simdjson::dom::object meta;
  if (!resource["meta"].get_object().get(meta)) {
    for (auto field : meta) {
      if (field.key == "tag") {
        simdjson::dom::array existing;
        if (!field.value.get_array().get(existing)) {
          for (auto t : existing) tags.push_back(simdjson::minify(t));
        }
        continue;
      }
      meta_members.push_back(
          absl::StrCat(JsonQuote(std::string(field.key)), ":", simdjson::minify(field.value)));
    }
  }
  for (const auto* s : sources) {
    std::string updated = fhir::FormatInstant(absl::FromUnixSeconds(s->last_updated().seconds()));
    tags.push_back(JsonObject()
                       .Add("system", kSourceOrgSystem)
                       .Add("code", s->source_org())
                       .Add("display", absl::StrCat(s->source_org(), ", updated ", updated))
                       .Build());
  }
  meta_members.push_back(absl::StrCat("\"tag\":[", absl::StrJoin(tags, ","), "]"));
  std::string meta_json = absl::StrCat("{", absl::StrJoin(meta_members, ","), "}");
  // Re-emitted from the one parse: every member as it was, meta replaced (or added
  // after id, where FHIR puts it).
  simdjson::dom::object object;
  if (resource.get_object().get(object)) return json;
  std::string out = "{";
  bool has_meta = false;
  for (auto field : object) has_meta = has_meta || field.key == "meta";
  bool first = true;
  auto append = [&](std::string_view key, const std::string& value) {
    if (!first) out += ",";
    first = false;
    absl::StrAppend(&out, JsonQuote(std::string(key)), ":", value);
  };
  for (auto field : object) {
    if (field.key == "meta") {
      append(field.key, meta_json);
      continue;
    }
    append(field.key, simdjson::minify(field.value));
    if (!has_meta && field.key == "id") {
      append("meta", meta_json);
      has_meta = true;
    }
  }
  if (!has_meta) append("meta", meta_json);
  out += "}";
  return out;
}

}  // namespace

MergedBundle MergeRecords(std::vector<hie::v1::RecordEnvelope> records) {
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return std::tie(a.resource_type(), a.source_org(), a.resource_id()) <
           std::tie(b.resource_type(), b.source_org(), b.resource_id());
  });
  simdjson::dom::parser parser;
  // Group: first by content, then by clinical fact (across sources only).
  std::vector<std::vector<const hie::v1::RecordEnvelope*>> groups;
  absl::flat_hash_map<std::string, size_t> by_content, by_fact;
  MergedBundle merged;
  for (const auto& r : records) {
    simdjson::dom::object object;
    if (parser.parse(r.fhir_json()).get_object().get(object)) {
      ++merged.unreadable;
      continue;
    }
    std::string content_key = absl::StrCat(r.resource_type(), "#", r.content_sha256());
    auto it = by_content.find(content_key);
    std::string fact =
        it == by_content.end() && r.resource_type() != "Patient" ? FactKey(r, parser) : "";
    auto fact_it = fact.empty() ? by_fact.end() : by_fact.find(fact);
    size_t group;
    if (it != by_content.end()) {
      group = it->second;
    } else if (fact_it != by_fact.end() &&
               groups[fact_it->second].front()->source_org() != r.source_org()) {
      group = fact_it->second;
    } else {
      group = groups.size();
      groups.emplace_back();
      by_content.emplace(content_key, group);
      if (!fact.empty()) by_fact.emplace(fact, group);
    }
    if (!groups[group].empty()) ++merged.duplicates_folded;
    groups[group].push_back(&r);
  }
  std::vector<std::string> entries;
  for (const auto& group : groups) {
    const hie::v1::RecordEnvelope& first = *group.front();
    std::string full_url = LooksLikeUuid(first.resource_id())
                               ? absl::StrCat("urn:uuid:", first.resource_id())
                               : absl::StrCat("urn:hie:", first.source_org(), ":",
                                              first.resource_type(), "/", first.resource_id());
    entries.push_back(JsonObject()
                          .Add("fullUrl", full_url)
                          .AddRaw("resource", Tagged(first.fhir_json(), group, parser))
                          .AddRaw("search", JsonObject().Add("mode", "match").Build())
                          .Build());
  }
  merged.entries = static_cast<int64_t>(entries.size());
  merged.bundle_json = JsonObject()
                           .Add("resourceType", "Bundle")
                           .Add("type", "searchset")
                           .Add("total", merged.entries)
                           .AddRaw("entry", JsonArray(entries))
                           .Build();
  return merged;
}

}  // namespace hie::node
