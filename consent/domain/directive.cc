#include "consent/domain/directive.h"

#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/pki/identity.h"
#include "common/status/error_detail.h"
#include "consent/domain/codes.h"
#include "simdjson.h"

namespace hie::consent {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr char kNpiSystem[] = "http://hl7.org/fhir/sid/us-npi";
constexpr char kUserRoleSystem[] = "urn:hie:user-role";

// Walks a Consent resource, collecting every violation with its path.
class ConsentParser {
 public:
  absl::StatusOr<ConsentDirective> Parse(absl::string_view json) {
    if (json.size() > kMaxConsentBytes) {
      Fail("Consent",
           absl::StrCat("resource is ", json.size(), " bytes; the limit is ", kMaxConsentBytes));
      return InvalidResource(violations_);
    }
    element root;
    if (auto error = parser_.parse(json.data(), json.size()).get(root); error) {
      Fail("Consent", absl::StrCat("not valid JSON: ", simdjson::error_message(error)));
      return InvalidResource(violations_);
    }
    object resource;
    if (root.get_object().get(resource)) {
      Fail("Consent", "must be a JSON object");
      return InvalidResource(violations_);
    }
    ConsentDirective directive;
    std::string_view resource_type;
    if (resource["resourceType"].get_string().get(resource_type) || resource_type != "Consent") {
      Fail("Consent.resourceType", "must be \"Consent\"");
      return InvalidResource(violations_);
    }
    RefuseModifierExtension(resource, "Consent");
    if (auto id = OptionalString(resource, "id", "Consent.id")) {
      if (!IsFhirId(*id)) Fail("Consent.id", "must be 1-64 of [A-Za-z0-9-.]");
      directive.id = *id;
    }
    if (auto status = OptionalString(resource, "status", "Consent.status")) {
      static constexpr std::string_view kStatuses[] = {"draft",    "proposed", "active",
                                                       "rejected", "inactive", "entered-in-error"};
      bool known = false;
      for (auto s : kStatuses) known = known || *status == s;
      if (!known) {
        Fail("Consent.status",
             "must be draft, proposed, active, rejected, inactive or entered-in-error");
      }
      directive.status = *status;
    } else {
      Fail("Consent.status", "is required");
    }
    CheckScope(resource);
    if (auto date_time = OptionalString(resource, "dateTime", "Consent.dateTime")) {
      auto range = fhir::ParseDateTime(*date_time);
      if (!range.ok()) {
        Fail("Consent.dateTime", std::string(range.status().message()));
      } else {
        directive.date_time = range->begin;
        directive.date_time_text = *date_time;
      }
    } else {
      Fail("Consent.dateTime",
           "is required: when a patient has several consents, the most "
           "recent governs");
    }
    std::optional<ProvisionType> policy_type = PolicyRuleType(resource);
    element provision;
    if (!resource["provision"].get(provision)) {
      object base;
      if (provision.get_object().get(base)) {
        Fail("Consent.provision", "must be an object");
      } else {
        directive.provision = ParseProvision(base, "Consent.provision", 0, policy_type);
      }
    } else if (policy_type.has_value()) {
      directive.provision.path = "Consent.provision";
      directive.provision.type = *policy_type;
    } else {
      Fail("Consent.provision", "is required when policyRule is not OPTIN or OPTOUT");
    }
    if (!violations_.empty()) return InvalidResource(violations_);
    return directive;
  }

 private:
  void Fail(std::string path, std::string description) {
    violations_.push_back({std::move(path), std::move(description)});
  }

  static bool IsFhirId(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
        return false;
      }
    }
    return true;
  }

  std::optional<std::string> OptionalString(const object& o, const char* key,
                                            const std::string& path) {
    element value;
    if (o[key].get(value)) return std::nullopt;
    std::string_view s;
    if (value.get_string().get(s)) {
      Fail(path, "must be a string");
      return std::nullopt;
    }
    return std::string(s);
  }

  // An array member, or an empty one if absent; a non-array is a violation.
  std::optional<array> OptionalArray(const object& o, const char* key, const std::string& path) {
    element value;
    if (o[key].get(value)) return std::nullopt;
    array a;
    if (value.get_array().get(a)) {
      Fail(path, "must be an array");
      return std::nullopt;
    }
    return a;
  }

  void RefuseModifierExtension(const object& o, const std::string& path) {
    element value;
    if (!o["modifierExtension"].get(value)) {
      Fail(path + ".modifierExtension",
           "is not supported: a modifier extension could change what the consent means");
    }
  }

  // The codes of a CodeableConcept's codings (with their paths).
  std::vector<std::pair<std::string, std::string>> Codings(const element& codeable,
                                                           const std::string& path) {
    std::vector<std::pair<std::string, std::string>> out;
    object o;
    if (codeable.get_object().get(o)) {
      Fail(path, "must be a CodeableConcept object");
      return out;
    }
    auto codings = OptionalArray(o, "coding", path + ".coding");
    if (!codings) return out;
    size_t i = 0;
    for (element coding : *codings) {
      std::string coding_path = absl::StrCat(path, ".coding[", i++, "]");
      object c;
      if (coding.get_object().get(c)) {
        Fail(coding_path, "must be a Coding object");
        continue;
      }
      auto code = OptionalString(c, "code", coding_path + ".code");
      if (!code) continue;
      out.emplace_back(coding_path + ".code", *code);
    }
    return out;
  }

  // The codes of the Coding array `key`, each checked by `known` (described as `what`
  // when it is not).
  std::vector<std::string> CodingCodes(const object& o, const char* key, const std::string& path,
                                       bool (*known)(absl::string_view), const char* what) {
    std::vector<std::string> codes;
    auto codings = OptionalArray(o, key, absl::StrCat(path, ".", key));
    if (!codings) return codes;
    size_t i = 0;
    for (element value : *codings) {
      std::string coding_path = absl::StrCat(path, ".", key, "[", i++, "]");
      object coding;
      if (value.get_object().get(coding)) {
        Fail(coding_path, "must be a Coding object");
        continue;
      }
      auto code = OptionalString(coding, "code", coding_path + ".code");
      if (!code) {
        Fail(coding_path + ".code", "is required");
      } else if (!known(*code)) {
        Fail(coding_path + ".code", absl::StrCat("\"", *code, "\" is not ", what));
      } else {
        codes.push_back(*code);
      }
    }
    return codes;
  }

  void CheckScope(const object& resource) {
    element scope;
    if (resource["scope"].get(scope)) {
      Fail("Consent.scope", "is required (patient-privacy)");
      return;
    }
    for (const auto& [path, code] : Codings(scope, "Consent.scope")) {
      if (code == "patient-privacy") return;
    }
    Fail("Consent.scope", "only patient-privacy consents are supported");
  }

  std::optional<ProvisionType> PolicyRuleType(const object& resource) {
    element rule;
    if (resource["policyRule"].get(rule)) return std::nullopt;
    for (const auto& [path, code] : Codings(rule, "Consent.policyRule")) {
      if (code == "OPTIN" || code == "OPTINR") return ProvisionType::kPermit;
      if (code == "OPTOUT" || code == "OPTOUTE") return ProvisionType::kDeny;
    }
    return std::nullopt;
  }

  std::optional<fhir::Period> ParsePeriod(const object& o, const char* key,
                                          const std::string& path) {
    element value;
    if (o[key].get(value)) return std::nullopt;
    object p;
    if (value.get_object().get(p)) {
      Fail(path, "must be a Period object");
      return std::nullopt;
    }
    fhir::Period period;
    for (const char* bound : {"start", "end"}) {
      std::string bound_path = absl::StrCat(path, ".", bound);
      auto text = OptionalString(p, bound, bound_path);
      if (!text) continue;
      auto range = fhir::ParseDateTime(*text);
      if (!range.ok()) {
        Fail(bound_path, std::string(range.status().message()));
        continue;
      }
      (std::string_view(bound) == "start" ? period.start : period.end) = *range;
    }
    if (period.start && period.end && period.End() <= period.Begin()) {
      Fail(path, "ends before it starts");
    }
    return period;
  }

  void ParseActor(const element& actor, const std::string& path, Provision& provision) {
    object a;
    if (actor.get_object().get(a)) {
      Fail(path, "must be an object");
      return;
    }
    std::string role;
    element role_concept;
    if (a["role"].get(role_concept)) {
      Fail(path + ".role", "is required");
    } else {
      auto codes = Codings(role_concept, path + ".role");
      if (!codes.empty()) role = codes.front().second;
    }
    element reference_element;
    object reference;
    if (a["reference"].get(reference_element) || reference_element.get_object().get(reference)) {
      Fail(path + ".reference", "is required (a Reference object)");
      return;
    }
    if (auto literal = OptionalString(reference, "reference", path + ".reference.reference")) {
      constexpr absl::string_view kOrg = "Organization/";
      if (!absl::StartsWith(*literal, kOrg)) {
        Fail(path + ".reference.reference",
             absl::StrCat("\"", *literal,
                          "\" cannot be identified across the exchange: name an organisation "
                          "as Organization/<org-id>, a user by an identifier with system ",
                          kNpiSystem, " or ", kUserRoleSystem));
        return;
      }
      std::string org(absl::string_view(*literal).substr(kOrg.size()));
      if (!pki::IsValidOrgId(org)) {
        Fail(path + ".reference.reference", absl::StrCat("\"", org, "\" is not an org id"));
        return;
      }
      if (role == "CST" || role == "AUT") {
        provision.custodian_orgs.push_back(org);
      } else {
        provision.recipient_orgs.push_back(org);
      }
      return;
    }
    element identifier_element;
    object identifier;
    if (!reference["identifier"].get(identifier_element) &&
        !identifier_element.get_object().get(identifier)) {
      std::string id_path = path + ".reference.identifier";
      auto system = OptionalString(identifier, "system", id_path + ".system");
      auto value = OptionalString(identifier, "value", id_path + ".value");
      if (!system || !value || value->empty()) {
        Fail(id_path, "needs a system and a value");
        return;
      }
      if (*system == kNpiSystem) {
        provision.user_npis.push_back(*value);
      } else if (*system == kUserRoleSystem) {
        provision.user_roles.push_back(absl::AsciiStrToLower(*value));
      } else {
        Fail(id_path + ".system",
             absl::StrCat("identifier system \"", *system, "\" is not supported; use ", kNpiSystem,
                          " or ", kUserRoleSystem));
      }
      return;
    }
    Fail(path + ".reference", "must have a reference or an identifier");
  }

  Provision ParseProvision(const object& o, const std::string& path, int depth,
                           std::optional<ProvisionType> inherited) {
    Provision provision;
    provision.path = path;
    provision.depth = depth;
    RefuseModifierExtension(o, path);
    for (const char* unsupported : {"data", "class", "code"}) {
      element value;
      if (!o[unsupported].get(value)) {
        Fail(absl::StrCat(path, ".", unsupported),
             "is not supported: the exchange decides by actor, purpose, period and sensitivity "
             "label, not by individual resource, class or code");
      }
    }
    if (auto type = OptionalString(o, "type", path + ".type")) {
      if (*type == "permit") {
        provision.type = ProvisionType::kPermit;
      } else if (*type == "deny") {
        provision.type = ProvisionType::kDeny;
      } else {
        Fail(path + ".type", "must be permit or deny");
      }
    } else if (inherited.has_value()) {
      provision.type = *inherited;
    } else {
      Fail(path + ".type",
           "is required on the base provision unless policyRule is OPTIN or "
           "OPTOUT");
    }
    if (depth == 0) {
      // The base provision says what the consent is about as a whole; labelled and
      // data-period rules are exceptions, and belong in nested provisions.
      for (const char* exception_only : {"securityLabel", "dataPeriod"}) {
        element value;
        if (!o[exception_only].get(value)) {
          Fail(absl::StrCat(path, ".", exception_only),
               "is supported on nested provisions only: put the labelled or dated rule in "
               "provision.provision");
        }
      }
    }
    provision.period = ParsePeriod(o, "period", path + ".period");
    provision.data_period = ParsePeriod(o, "dataPeriod", path + ".dataPeriod");
    if (provision.data_period && provision.type == ProvisionType::kPermit) {
      Fail(path + ".dataPeriod",
           "is supported on deny provisions only (withhold the data of a period)");
    }
    if (auto actors = OptionalArray(o, "actor", path + ".actor")) {
      size_t i = 0;
      for (element actor : *actors)
        ParseActor(actor, absl::StrCat(path, ".actor[", i++, "]"), provision);
    }
    if (auto actions = OptionalArray(o, "action", path + ".action")) {
      size_t i = 0;
      bool any_disclosure = false;
      for (element action : *actions) {
        for (const auto& [code_path, code] :
             Codings(action, absl::StrCat(path, ".action[", i++, "]"))) {
          if (code == "access" || code == "use" || code == "disclose") any_disclosure = true;
        }
      }
      provision.covers_disclosure = any_disclosure;
    }
    provision.purposes = CodingCodes(o, "purpose", path, IsPurposeOfUse, "a v3 PurposeOfUse code");
    provision.security_labels = CodingCodes(o, "securityLabel", path, IsSensitivityCategory,
                                            "a v3 sensitivity or confidentiality code");
    if (auto nested = OptionalArray(o, "provision", path + ".provision")) {
      if (depth + 1 > kMaxProvisionDepth) {
        Fail(path + ".provision",
             absl::StrCat("provisions nest deeper than ", kMaxProvisionDepth, " levels"));
        return provision;
      }
      ProvisionType opposite =
          provision.type == ProvisionType::kPermit ? ProvisionType::kDeny : ProvisionType::kPermit;
      size_t i = 0;
      for (element child : *nested) {
        std::string child_path = absl::StrCat(path, ".provision[", i++, "]");
        object c;
        if (child.get_object().get(c)) {
          Fail(child_path, "must be an object");
          continue;
        }
        provision.provisions.push_back(ParseProvision(c, child_path, depth + 1, opposite));
      }
    }
    return provision;
  }

  simdjson::dom::parser parser_;
  std::vector<Violation> violations_;
};

}  // namespace

absl::string_view ProvisionTypeName(ProvisionType type) {
  return type == ProvisionType::kPermit ? "permit" : "deny";
}

absl::StatusOr<ConsentDirective> ParseConsent(absl::string_view json) {
  ConsentParser parser;
  return parser.Parse(json);
}

}  // namespace hie::consent
