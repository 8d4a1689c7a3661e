#include "common/fhir/resource_json.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json/json_writer.h"
#include "simdjson.h"

namespace hie::fhir {

absl::StatusOr<std::string> SetMembers(
    absl::string_view json_object,
    const std::vector<std::pair<std::string, std::string>>& members) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(json_object.data(), json_object.size()).get(root); error) {
    return absl::InvalidArgumentError(absl::StrCat("not JSON: ", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  auto member = [](absl::string_view key, absl::string_view raw) {
    return absl::StrCat(JsonQuote(key), ":", raw);
  };
  std::vector<bool> present(members.size(), false);
  bool has_resource_type = false;
  for (auto field : object) {
    absl::string_view key(field.key.data(), field.key.size());
    has_resource_type = has_resource_type || key == "resourceType";
    for (size_t i = 0; i < members.size(); ++i) present[i] = present[i] || members[i].first == key;
  }
  std::vector<std::string> added;
  for (size_t i = 0; i < members.size(); ++i) {
    if (!present[i]) added.push_back(member(members[i].first, members[i].second));
  }
  std::vector<std::string> out;
  bool added_done = !has_resource_type;
  if (!has_resource_type) out = added;
  for (auto field : object) {
    absl::string_view key(field.key.data(), field.key.size());
    std::string value;
    for (const auto& [name, raw] : members) {
      if (name == key) value = raw;
    }
    out.push_back(member(key, value.empty() ? simdjson::minify(field.value) : value));
    // Added members go right after resourceType, where FHIR puts id (once, should the
    // input repeat resourceType).
    if (key == "resourceType" && !added_done) {
      out.insert(out.end(), added.begin(), added.end());
      added_done = true;
    }
  }
  return absl::StrCat("{", absl::StrJoin(out, ","), "}");
}

}  // namespace hie::fhir
