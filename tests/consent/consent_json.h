// Building FHIR R4 Consent resources for tests, compactly.
#ifndef HIE_TESTS_CONSENT_CONSENT_JSON_H_
#define HIE_TESTS_CONSENT_CONSENT_JSON_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace hie::consent::testing {

// An actor: Organization/<org> in `role` (PRCP: the requester; CST: the holder).
inline std::string OrgActor(const std::string& org, const std::string& role = "PRCP") {
  return absl::StrCat(
      R"({"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":")",
      role, R"("}]},"reference":{"reference":"Organization/)", org, R"("}})");
}

inline std::string IdentifierActor(const std::string& system, const std::string& value) {
  return absl::StrCat(
      R"({"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"PRCP"}]},"reference":{"identifier":{"system":")",
      system, R"(","value":")", value, R"("}}})");
}

inline std::string Actors(const std::vector<std::string>& actors) {
  return absl::StrCat(R"("actor":[)", absl::StrJoin(actors, ","), "]");
}

inline std::string Purposes(const std::vector<std::string>& codes) {
  std::vector<std::string> out;
  for (const auto& c : codes) {
    out.push_back(absl::StrCat(
        R"({"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":")", c, R"("})"));
  }
  return absl::StrCat(R"("purpose":[)", absl::StrJoin(out, ","), "]");
}

inline std::string Labels(const std::vector<std::string>& codes) {
  std::vector<std::string> out;
  for (const auto& c : codes) {
    out.push_back(absl::StrCat(
        R"({"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":")", c, R"("})"));
  }
  return absl::StrCat(R"("securityLabel":[)", absl::StrJoin(out, ","), "]");
}

inline std::string PeriodMember(const std::string& name, const std::string& start,
                                const std::string& end) {
  std::vector<std::string> bounds;
  if (!start.empty()) bounds.push_back(absl::StrCat(R"("start":")", start, "\""));
  if (!end.empty()) bounds.push_back(absl::StrCat(R"("end":")", end, "\""));
  return absl::StrCat("\"", name, "\":{", absl::StrJoin(bounds, ","), "}");
}

inline std::string Actions(const std::vector<std::string>& codes) {
  std::vector<std::string> out;
  for (const auto& c : codes) {
    out.push_back(absl::StrCat(
        R"({"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":")", c,
        R"("}]})"));
  }
  return absl::StrCat(R"("action":[)", absl::StrJoin(out, ","), "]");
}

// A provision object: `type` ("permit", "deny" or "" for none) and raw members.
inline std::string ProvisionJson(const std::string& type, const std::vector<std::string>& members,
                                 const std::vector<std::string>& nested = {}) {
  std::vector<std::string> all;
  if (!type.empty()) all.push_back(absl::StrCat(R"("type":")", type, "\""));
  all.insert(all.end(), members.begin(), members.end());
  if (!nested.empty()) {
    all.push_back(absl::StrCat(R"("provision":[)", absl::StrJoin(nested, ","), "]"));
  }
  return absl::StrCat("{", absl::StrJoin(all, ","), "}");
}

// A whole Consent resource around a base provision.
inline std::string Consent(const std::string& id, const std::string& date_time,
                           const std::string& base_provision, const std::string& status = "active",
                           const std::string& policy_rule = "") {
  std::string rule;
  if (!policy_rule.empty()) {
    rule = absl::StrCat(
        R"("policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":")",
        policy_rule, R"("}]},)");
  }
  std::string id_member = id.empty() ? "" : absl::StrCat(R"("id":")", id, R"(",)");
  return absl::StrCat(
      R"({"resourceType":"Consent",)", id_member, R"("status":")", status,
      R"(","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},)",
      R"("category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],)",
      R"("patient":{"reference":"Patient/p1"},"dateTime":")", date_time, R"(",)", rule,
      R"("provision":)", base_provision, "}");
}

}  // namespace hie::consent::testing

#endif  // HIE_TESTS_CONSENT_CONSENT_JSON_H_
