#include "node/domain/fhir_ingest.h"

#include <algorithm>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fhir/datetime.h"
#include "common/json/json_writer.h"
#include "consent/domain/grant.h"
#include "node/domain/resource_types.h"
#include "simdjson.h"

namespace hie::node {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Clinical records that must name their patient, and the element that does.
const absl::flat_hash_map<std::string, std::string>& PatientElement() {
  static const auto* m =
      new absl::flat_hash_map<std::string, std::string>{{"AllergyIntolerance", "patient"},
                                                        {"CarePlan", "subject"},
                                                        {"Claim", "patient"},
                                                        {"Condition", "subject"},
                                                        {"Coverage", "beneficiary"},
                                                        {"DiagnosticReport", "subject"},
                                                        {"DocumentReference", "subject"},
                                                        {"Encounter", "subject"},
                                                        {"ExplanationOfBenefit", "patient"},
                                                        {"FamilyMemberHistory", "patient"},
                                                        {"Goal", "subject"},
                                                        {"ImagingStudy", "subject"},
                                                        {"Immunization", "patient"},
                                                        {"MedicationAdministration", "subject"},
                                                        {"MedicationRequest", "subject"},
                                                        {"MedicationStatement", "subject"},
                                                        {"Observation", "subject"},
                                                        {"Procedure", "subject"},
                                                        {"RiskAssessment", "subject"},
                                                        {"ServiceRequest", "subject"}};
  return *m;
}

bool IsDateKey(std::string_view key) {
  static constexpr std::string_view kKeys[] = {
      "birthDate", "date", "issued",  "recordedDate", "authoredOn",   "lastUpdated",
      "start",     "end",  "created", "recorded",     "dateAsserted", "dateWritten"};
  for (auto k : kKeys) {
    if (key == k) return true;
  }
  return absl::EndsWith(View(key), "DateTime") || absl::EndsWith(View(key), "Instant");
}

bool IsFhirId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return true;
}

struct Target {
  std::string type;
  std::string id;
};

// One resource on its way to the store.
struct Pending {
  hie::v1::RecordEnvelope record;
  std::vector<std::string> references;  // "Type/id" of resources of this batch it names
};

class Ingest {
 public:
  Ingest(const Labeler& labeler, const IngestOptions& options, std::string source)
      : labeler_(labeler), options_(options), source_(std::move(source)) {}

  IngestBatch Json(absl::string_view json) {
    element root;
    if (auto error = parser_.parse(json.data(), json.size()).get(root); error) {
      Problem(0, "$", absl::StrCat("not valid JSON: ", simdjson::error_message(error)));
      return Finish(false);
    }
    std::string_view type;
    if (!root.is_object() || root["resourceType"].get_string().get(type)) {
      Problem(0, "$", "not a FHIR resource: no resourceType");
      return Finish(false);
    }
    if (type != "Bundle") {
      Resource(root, std::string(type), 0, "");
      return Finish(false);
    }
    return Bundle(root.get_object().value_unsafe());
  }

  IngestBatch Ndjson(absl::string_view text) {
    int64_t line_number = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      ++line_number;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      element resource;
      if (auto error = parser_.parse(line.data(), line.size()).get(resource); error) {
        Problem(line_number, "$", absl::StrCat("not valid JSON: ", simdjson::error_message(error)));
        continue;
      }
      std::string_view type;
      if (!resource.is_object() || resource["resourceType"].get_string().get(type)) {
        Problem(line_number, "$", "not a FHIR resource: no resourceType");
        continue;
      }
      if (type == "Bundle") {
        Problem(line_number, "Bundle", "NDJSON carries one resource per line, not Bundles");
        continue;
      }
      full_urls_.clear();
      Resource(resource, std::string(type), line_number, "");
    }
    return Finish(false);
  }

 private:
  void Problem(int64_t position, std::string path, std::string message) {
    problems_.push_back({source_, position, std::move(path), std::move(message)});
  }

  IngestBatch Bundle(const object& bundle) {
    std::string_view bundle_type;
    if (bundle["type"].get_string().get(bundle_type)) {
      Problem(0, "Bundle.type", "is required");
      return Finish(false);
    }
    static constexpr std::string_view kTypes[] = {"transaction", "batch", "collection",
                                                  "searchset"};
    if (std::find(std::begin(kTypes), std::end(kTypes), bundle_type) == std::end(kTypes)) {
      Problem(0, "Bundle.type",
              absl::StrCat("\"", View(bundle_type),
                           "\" is not accepted: send a transaction, batch, collection or "
                           "searchset Bundle"));
      return Finish(false);
    }
    bool transaction = bundle_type == "transaction";
    array entries;
    if (bundle["entry"].get_array().get(entries)) return Finish(transaction);
    // First pass: every fullUrl, so that references resolve in any order.
    int64_t index = 0;
    for (element entry : entries) {
      std::string_view full_url, type, id;
      if (!entry["fullUrl"].get_string().get(full_url) &&
          !entry["resource"]["resourceType"].get_string().get(type)) {
        std::string resource_id;
        if (!entry["resource"]["id"].get_string().get(id)) {
          resource_id = std::string(id);
        } else if (absl::StartsWith(View(full_url), "urn:uuid:")) {
          resource_id = std::string(View(full_url).substr(9));
        }
        full_urls_[std::string(full_url)] = {std::string(type), resource_id};
        if (!resource_id.empty())
          full_urls_[absl::StrCat(View(type), "/", resource_id)] = {std::string(type), resource_id};
      }
      ++index;
    }
    index = 0;
    for (element entry : entries) {
      std::string path = absl::StrCat("Bundle.entry[", index, "]");
      element resource;
      std::string_view type, method;
      if (!entry["request"]["method"].get_string().get(method) && method != "POST" &&
          method != "PUT") {
        Problem(index, path + ".request.method",
                absl::StrCat(View(method), " is not supported: send the resource (POST or PUT)"));
      } else if (entry["resource"].get(resource) || !resource.is_object()) {
        Problem(index, path + ".resource", "is required");
      } else if (resource["resourceType"].get_string().get(type)) {
        Problem(index, path + ".resource.resourceType", "is required");
      } else {
        std::string_view full_url;
        std::string url = entry["fullUrl"].get_string().get(full_url) ? "" : std::string(full_url);
        Resource(resource, std::string(type), index, path + ".resource", url);
      }
      ++index;
    }
    return Finish(transaction);
  }

  // Resolves a reference string to a resource of this batch or a Patient/<id>.
  std::optional<Target> Resolve(absl::string_view reference) const {
    if (auto it = full_urls_.find(reference); it != full_urls_.end()) return it->second;
    // Relative or absolute Type/id (with an optional /_history/n).
    std::vector<absl::string_view> parts = absl::StrSplit(reference, '/');
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (IsFhirR4ResourceType(parts[i]) && IsFhirId(parts[i + 1]) &&
          !absl::StrContains(reference, "?")) {
        return Target{std::string(parts[i]), std::string(parts[i + 1])};
      }
    }
    return std::nullopt;
  }

  void Walk(const element& value, const std::string& path, int64_t position, Pending& pending) {
    if (value.is_array()) {
      size_t i = 0;
      array items = value.get_array().value_unsafe();
      for (element item : items) {
        if (item.is_object() || item.is_array())
          Walk(item, absl::StrCat(path, "[", i, "]"), position, pending);
        ++i;
      }
      return;
    }
    object fields = value.get_object().value_unsafe();
    // A key twice in one object is refused: readers disagree on which value counts (the
    // labeler read the first "code", an EMR may read the last), so a record could be
    // labelled by one code and mean another.
    absl::InlinedVector<std::string_view, 16> keys;
    absl::flat_hash_set<std::string_view> many_keys;
    for (auto field : fields) {
      bool repeated = false;
      if (keys.size() < keys.capacity()) {
        repeated = std::find(keys.begin(), keys.end(), field.key) != keys.end();
        keys.push_back(field.key);
      } else {
        if (many_keys.empty()) many_keys.insert(keys.begin(), keys.end());
        repeated = !many_keys.insert(field.key).second;
      }
      if (repeated) {
        Problem(position, absl::StrCat(path, ".", View(field.key)),
                "appears twice in one JSON object: each element may be given once");
        continue;
      }
      std::string_view text;
      if (field.value.is_string()) {
        text = field.value.get_string().value_unsafe();
        if (field.key == "reference") {
          absl::string_view ref = View(text);
          if (absl::StartsWith(ref, "urn:uuid:") && !full_urls_.contains(ref)) {
            Problem(position, absl::StrCat(path, ".reference"),
                    absl::StrCat("\"", ref, "\" names nothing in this Bundle"));
          } else if (auto target = Resolve(ref); target && !target->id.empty()) {
            pending.references.push_back(absl::StrCat(target->type, "/", target->id));
          }
        } else if (IsDateKey(field.key)) {
          if (auto parsed = fhir::ParseDateTime(View(text)); !parsed.ok()) {
            Problem(position, absl::StrCat(path, ".", View(field.key)),
                    std::string(parsed.status().message()));
          }
        }
      } else if ((field.value.is_object() || field.value.is_array()) && field.key != "text") {
        Walk(field.value, absl::StrCat(path, ".", View(field.key)), position, pending);
      }
    }
  }

  void Resource(const element& resource, const std::string& type, int64_t position,
                const std::string& where, const std::string& full_url = "") {
    const std::string path = where.empty() ? type : where;
    size_t problems_before = problems_.size();
    if (!IsFhirR4ResourceType(type)) {
      Problem(position, path + ".resourceType",
              absl::StrCat("\"", type, "\" is not a FHIR R4 resource type"));
      return;
    }
    if (type == "Bundle") {
      Problem(position, path, "a Bundle inside a Bundle is not accepted: send its entries");
      return;
    }
    std::string json = simdjson::minify(resource);
    if (json.size() > options_.max_resource_bytes) {
      Problem(position, path,
              absl::StrCat("resource is ", json.size(), " bytes; the limit is ",
                           options_.max_resource_bytes));
      return;
    }
    std::string id;
    std::string_view id_view;
    if (!resource["id"].get_string().get(id_view)) {
      id = std::string(id_view);
      if (!IsFhirId(id)) Problem(position, path + ".id", "must be 1-64 of [A-Za-z0-9-.]");
    } else if (absl::StartsWith(full_url, "urn:uuid:")) {
      id = full_url.substr(9);
    } else {
      id = consent::NewNonce();
    }
    Pending pending;
    pending.record.set_resource_type(type);
    pending.record.set_resource_id(id);
    // The patient.
    if (type == "Patient") {
      pending.record.set_patient_local_id(id);
    } else {
      auto required = PatientElement().find(type);
      std::string found_in;
      for (const char* key : {"subject", "patient", "beneficiary"}) {
        std::string_view ref;
        if (resource[key]["reference"].get_string().get(ref)) continue;
        found_in = key;
        if (auto target = Resolve(View(ref));
            target && target->type == "Patient" && !target->id.empty()) {
          pending.record.set_patient_local_id(target->id);
        }
        break;
      }
      if (required != PatientElement().end() && pending.record.patient_local_id().empty()) {
        std::string element = absl::StrCat(path, ".", required->second);
        Problem(position, element,
                found_in.empty()
                    ? std::string("is required: a clinical record must name its patient")
                    : std::string("does not name a Patient of this node (Patient/<id>, or a "
                                  "urn:uuid: of a Patient in the Bundle)"));
      }
    }
    Walk(resource, path, position, pending);
    if (problems_.size() != problems_before) return;
    pending.record.set_fhir_json(std::move(json));
    for (auto& label : labeler_.Label(resource)) pending.record.add_sensitivity(std::move(label));
    std::string key = absl::StrCat(type, "/", id);
    if (auto it = index_.find(key); it != index_.end()) {
      pending_[it->second] = std::move(pending);  // the later entry wins
    } else {
      index_[key] = pending_.size();
      pending_.push_back(std::move(pending));
    }
  }

  // Labels flow from the clinical records a resource references (one level, twice, so
  // that a claim about a condition a medication treats is labelled too).
  void InheritLabels() {
    for (int round = 0; round < 2; ++round) {
      for (auto& p : pending_) {
        std::vector<std::string> labels(p.record.sensitivity().begin(),
                                        p.record.sensitivity().end());
        size_t before = labels.size();
        for (const std::string& ref : p.references) {
          auto it = index_.find(ref);
          if (it == index_.end()) continue;
          const auto& target = pending_[it->second].record;
          if (!PassesLabels(target.resource_type())) continue;
          labels.insert(labels.end(), target.sensitivity().begin(), target.sensitivity().end());
        }
        if (labels.size() == before) continue;
        std::sort(labels.begin(), labels.end());
        labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
        p.record.clear_sensitivity();
        for (auto& l : labels) p.record.add_sensitivity(std::move(l));
      }
    }
  }

  IngestBatch Finish(bool transaction) {
    IngestBatch batch;
    batch.problems = std::move(problems_);
    if (transaction && !batch.problems.empty()) {
      batch.transaction_refused = true;
      return batch;
    }
    if (labeler_.inherit_through_references()) InheritLabels();
    for (auto& p : pending_) {
      std::vector<std::string> stored;
      if (labeler_.inherit_through_references()) {
        for (const std::string& ref : p.references) {
          if (index_.contains(ref)) continue;
          if (PassesLabels(absl::string_view(ref).substr(0, ref.find('/')))) stored.push_back(ref);
        }
      }
      batch.stored_references.push_back(std::move(stored));
      batch.records.push_back(std::move(p.record));
    }
    return batch;
  }

  const Labeler& labeler_;
  const IngestOptions& options_;
  const std::string source_;
  simdjson::dom::parser parser_;
  absl::flat_hash_map<std::string, Target> full_urls_;
  std::vector<IngestProblem> problems_;
  std::vector<Pending> pending_;
  absl::flat_hash_map<std::string, size_t> index_;
};

}  // namespace

bool PassesLabels(absl::string_view type) {
  return type == "Condition" || type == "Observation" || type == "Procedure" ||
         type == "DiagnosticReport" || type == "MedicationRequest" ||
         type == "MedicationStatement" || type == "Medication" || type == "Claim";
}

std::string OperationOutcomeJson(const std::vector<IngestProblem>& problems) {
  std::vector<std::string> issues;
  for (const auto& p : problems) {
    bool unsupported = absl::StrContains(p.message, "is not a FHIR R4 resource type") ||
                       absl::StrContains(p.message, "not supported");
    issues.push_back(
        JsonObject()
            .Add("severity", "error")
            .Add("code", unsupported ? "not-supported" : "invalid")
            .Add("diagnostics", p.message)
            .AddRaw("location", JsonArray({JsonQuote(absl::StrCat(p.source, " #", p.position))}))
            .AddRaw("expression", JsonArray({JsonQuote(p.path)}))
            .Build());
  }
  return JsonObject()
      .Add("resourceType", "OperationOutcome")
      .AddRaw("issue", JsonArray(issues))
      .Build();
}

IngestBatch FhirIngester::ParseJson(absl::string_view json, const std::string& source) const {
  Ingest ingest(*labeler_, options_, source);
  return ingest.Json(json);
}

IngestBatch FhirIngester::ParseNdjson(absl::string_view text, const std::string& source) const {
  Ingest ingest(*labeler_, options_, source);
  return ingest.Ndjson(text);
}

}  // namespace hie::node
