// JSON written by hie around bytes from outside: JsonQuote (every string hie emits) and
// fhir::SetMembers (an id assigned inside a resource kept as sent, e.g. a stored
// Consent). The input's first line is a string, the rest a JSON document. Properties
// checked: a quoted valid-UTF-8 string parses back, with simdjson, to exactly itself;
// SetMembers refuses what is not a JSON object with InvalidArgument, and otherwise
// returns an object that parses, carries the id set, and keeps every other member.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "common/fhir/resource_json.h"
#include "common/json/json_writer.h"
#include "simdjson.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

size_t MemberCount(simdjson::dom::object object) {
  size_t n = 0;
  for (auto field : object) {
    (void)field;
    ++n;
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  absl::string_view text = input.substr(0, newline);
  absl::string_view document =
      input.substr(newline == absl::string_view::npos ? size : newline + 1);

  simdjson::dom::parser parser;
  std::string quoted = hie::JsonQuote(text);
  if (simdjson::validate_utf8(text.data(), text.size())) {
    std::string_view back;
    Check(!parser.parse(quoted).get_string().get(back));
    Check(back == std::string_view(text.data(), text.size()));
  }

  auto edited = hie::fhir::SetMembers(document, {{"id", quoted}});
  if (!edited.ok()) {
    Check(absl::IsInvalidArgument(edited.status()));
    return 0;
  }
  simdjson::dom::parser original_parser;
  simdjson::dom::object original;
  Check(!original_parser.parse(document.data(), document.size()).get_object().get(original));
  simdjson::dom::object object;
  if (!simdjson::validate_utf8(text.data(), text.size())) return 0;
  Check(!parser.parse(*edited).get_object().get(object));
  std::string_view id;
  Check(!object["id"].get_string().get(id) && id == std::string_view(text.data(), text.size()));
  size_t had_id = original["id"].error() == simdjson::SUCCESS ? 1 : 0;
  Check(MemberCount(object) == MemberCount(original) + 1 - had_id);
  return 0;
}
