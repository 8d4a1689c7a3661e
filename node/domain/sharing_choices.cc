#include "node/domain/sharing_choices.h"

#include <openssl/rand.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json/json_writer.h"
#include "node/domain/accounting.h"

namespace hie::node {
namespace {

constexpr char kActCode[] = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
constexpr char kActReason[] = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
// The patient's own request (the portal's purpose).
constexpr char kParticipationType[] = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";

std::string Codings(const char* system, const std::vector<std::string>& codes) {
  std::vector<std::string> out;
  for (const std::string& code : codes) {
    out.push_back(JsonObject().Add("system", system).Add("code", code).Build());
  }
  return JsonArray(out);
}

std::string ProvisionJson(const char* type, const std::vector<std::string>& labels,
                          bool patient_request_only, const std::vector<std::string>& nested) {
  JsonObject provision;
  provision.Add("type", type);
  if (patient_request_only)
    provision.AddRaw("purpose", Codings(kActReason, {kPatientRequestPurpose}));
  if (!labels.empty()) provision.AddRaw("securityLabel", Codings(kActCode, labels));
  if (!nested.empty()) provision.AddRaw("provision", JsonArray(nested));
  return provision.Build();
}

// Organization/<org> as the requesting practice (IRCP: information recipient).
std::string RecipientActor(absl::string_view org) {
  return JsonObject()
      .AddRaw(
          "role",
          JsonObject()
              .AddRaw(
                  "coding",
                  JsonArray(
                      {JsonObject().Add("system", kParticipationType).Add("code", "IRCP").Build()}))
              .Build())
      .AddRaw("reference",
              JsonObject().Add("reference", absl::StrCat("Organization/", org)).Build())
      .Build();
}

// The practice `org` may not see the records; the patient's own request through it may.
std::string PracticeDenyJson(absl::string_view org) {
  return JsonObject()
      .Add("type", "deny")
      .AddRaw("actor", JsonArray({RecipientActor(org)}))
      .AddRaw("provision", JsonArray({ProvisionJson("permit", {}, true, {})}))
      .Build();
}

// The practice a provision built by PracticeDenyJson refuses, or "".
std::string DeniedPracticeOf(const consent::Provision& p) {
  if (p.type != consent::ProvisionType::kDeny || p.recipient_orgs.size() != 1 ||
      !p.custodian_orgs.empty() || !p.purposes.empty() || !p.user_npis.empty() ||
      !p.user_roles.empty() || p.provisions.size() != 1) {
    return "";
  }
  const consent::Provision& inner = p.provisions.front();
  if (inner.type != consent::ProvisionType::kPermit ||
      inner.purposes != std::vector<std::string>{kPatientRequestPurpose} ||
      !inner.recipient_orgs.empty() || !inner.security_labels.empty()) {
    return "";
  }
  return p.recipient_orgs.front();
}

std::string CodingObject(const char* system, const char* code) {
  return JsonObject()
      .AddRaw("coding", JsonArray({JsonObject().Add("system", system).Add("code", code).Build()}))
      .Build();
}

// The category whose codes are exactly `labels`, or null.
const SensitiveCategory* CategoryWithCodes(std::vector<std::string> labels) {
  std::sort(labels.begin(), labels.end());
  for (const SensitiveCategory& category : SensitiveCategories()) {
    std::vector<std::string> codes = category.codes;
    std::sort(codes.begin(), codes.end());
    if (codes == labels) return &category;
  }
  return nullptr;
}

bool IsPatientRequestOnly(const consent::Provision& p) {
  return p.type == consent::ProvisionType::kPermit &&
         p.purposes == std::vector<std::string>{kPatientRequestPurpose} &&
         p.recipient_orgs.empty() && p.provisions.empty();
}

}  // namespace

const std::vector<SensitiveCategory>& SensitiveCategories() {
  static const auto* const kCategories = new std::vector<SensitiveCategory>{
      {"substance-use", "Substance-use treatment", {"42CFRPart2", "ETH"}},
      {"mental-health", "Mental health", {"PSY"}},
      {"hiv", "HIV", {"HIV"}},
      {"sexual-health", "Sexual and reproductive health", {"SEX"}},
  };
  return *kCategories;
}

bool SharingChoices::Shares(absl::string_view category_key) const {
  return std::find(shared_categories.begin(), shared_categories.end(), category_key) !=
         shared_categories.end();
}

bool SharingChoices::MaySee(absl::string_view org_id) const {
  return std::find(denied_practices.begin(), denied_practices.end(), org_id) ==
         denied_practices.end();
}

absl::StatusOr<std::string> NewPortalDirectiveId() {
  unsigned char bytes[12];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::UnavailableError("no random bytes for a directive id");
  }
  return absl::StrCat(kPortalDirectivePrefix,
                      absl::BytesToHexString(
                          absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes))));
}

std::string SharingConsentJson(const SharingChoices& choices, absl::string_view directive_id,
                               absl::string_view patient_local_id, absl::Time now) {
  std::vector<std::string> nested;
  if (!choices.share) nested.push_back(ProvisionJson("permit", {}, true, {}));
  for (const SensitiveCategory& category : SensitiveCategories()) {
    if (choices.Shares(category.key)) {
      nested.push_back(ProvisionJson("permit", category.codes, false, {}));
    } else {
      nested.push_back(ProvisionJson("deny", category.codes, false,
                                     {ProvisionJson("permit", category.codes, true, {})}));
    }
  }
  for (const std::string& org : choices.denied_practices) {
    nested.push_back(PracticeDenyJson(org));
  }
  return JsonObject()
      .Add("resourceType", "Consent")
      .Add("id", directive_id)
      .Add("status", "active")
      .AddRaw("scope",
              CodingObject("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"))
      .AddRaw("category", JsonArray({CodingObject("http://loinc.org", "59284-0")}))
      .AddRaw("patient",
              JsonObject().Add("reference", absl::StrCat("Patient/", patient_local_id)).Build())
      .Add("dateTime", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone()))
      .AddRaw("policyRule", CodingObject(kActCode, choices.share ? "OPTIN" : "OPTOUT"))
      .AddRaw("provision", ProvisionJson(choices.share ? "permit" : "deny", {}, false, nested))
      .Build();
}

std::optional<SharingChoices> ChoicesOf(const consent::ConsentDirective& directive) {
  if (!absl::StartsWith(directive.id, kPortalDirectivePrefix)) return std::nullopt;
  SharingChoices choices;
  choices.share = directive.provision.type == consent::ProvisionType::kPermit;
  for (const consent::Provision& p : directive.provision.provisions) {
    if (p.security_labels.empty()) {
      if (IsPatientRequestOnly(p)) continue;
      std::string org = DeniedPracticeOf(p);
      if (org.empty()) return std::nullopt;
      choices.denied_practices.push_back(std::move(org));
      continue;
    }
    const SensitiveCategory* category = CategoryWithCodes(p.security_labels);
    if (category == nullptr || !p.purposes.empty()) return std::nullopt;
    if (p.type == consent::ProvisionType::kPermit) {
      choices.shared_categories.push_back(category->key);
    }
  }
  return choices;
}

const DirectiveInfo* PortalDirective(const std::vector<DirectiveInfo>& directives,
                                     absl::string_view own_org) {
  for (const DirectiveInfo& d : directives) {
    if (d.filed_by_org == own_org && absl::StartsWith(d.id, kPortalDirectivePrefix)) return &d;
  }
  return nullptr;
}

}  // namespace hie::node
