// Sensitivity labelling: which v3 categories (ETH, PSY, HIV, STD, SEX, SDV, GDIS,
// 42CFRPart2, R, V...) a FHIR resource carries, from its meta.security and from code-set
// rules matched against every Coding in it (docs/labelling.md). A grant that withholds a
// category keeps every resource carrying it at its holder.
//
// Every meta.security label is honoured: a v3 sensitivity, confidentiality (R, V) or
// 42CFRPart2 code becomes that category; a label that restricts nothing the exchange
// does (U/L/M/N, integrity and provenance codes, HTEST, obligations the exchange
// fulfils) adds none; any other label, unknown ones included, is kept as
// "system|code", a category no consent can release (fail closed). A sensitive category
// implies R (confidentiality is a high-water mark).
#ifndef HIE_NODE_DOMAIN_LABELER_H_
#define HIE_NODE_DOMAIN_LABELER_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/hie/v1/config.pb.h"
#include "simdjson.h"

namespace hie::node {

// Thread-compatible: build once, then share const.
class Labeler {
 public:
  // From config (defaults filled in). Errors: InvalidArgument naming the rule
  // ("rules[2].category: \"XYZ\" is not a v3 sensitivity code").
  static absl::StatusOr<Labeler> FromConfig(const hie::v1::LabellingConfig& config);

  // The categories of `resource`, sorted and unique; R added when a category implies it.
  std::vector<std::string> Label(const simdjson::dom::element& resource) const;

  bool inherit_through_references() const { return inherit_; }
  size_t rule_count() const { return exact_.size() + prefixes_.size(); }

 private:
  void AddRule(const hie::v1::SensitivityRule& rule);
  void Walk(const simdjson::dom::element& value, bool is_meta, std::vector<std::string>& out) const;
  void Security(const simdjson::dom::element& labels, std::vector<std::string>& out) const;
  void Match(absl::string_view system, absl::string_view code, std::vector<std::string>& out) const;

  // system + '|' + code -> categories
  absl::flat_hash_map<std::string, std::vector<std::string>> exact_;
  struct Prefix {
    std::string system;
    std::string prefix;
    std::string category;
  };
  std::vector<Prefix> prefixes_;
  bool inherit_ = true;
};

// The built-in rules (documented in docs/labelling.md).
std::vector<hie::v1::SensitivityRule> DefaultSensitivityRules();

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_LABELER_H_
