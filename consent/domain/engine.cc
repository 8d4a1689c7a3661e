#include "consent/domain/engine.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "consent/domain/codes.h"

namespace hie::consent {
namespace {

bool Has(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// Every criterion the provision states matches the request (rule 3/4).
bool Matches(const Provision& p, const DecisionRequest& r) {
  if (p.period && !p.period->Contains(r.now)) return false;
  if (!p.covers_disclosure) return false;
  if (!p.recipient_orgs.empty() && !Has(p.recipient_orgs, r.requester_org)) return false;
  if (!p.custodian_orgs.empty() && (r.holder_org.empty() || !Has(p.custodian_orgs, r.holder_org))) {
    return false;
  }
  if (!p.user_npis.empty() && (r.user_npi.empty() || !Has(p.user_npis, r.user_npi))) return false;
  if (!p.user_roles.empty() && !Has(p.user_roles, absl::AsciiStrToLower(r.user_role))) {
    return false;
  }
  if (!p.purposes.empty() &&
      std::none_of(p.purposes.begin(), p.purposes.end(),
                   [&](const std::string& named) { return PurposeWithin(r.purpose, named); })) {
    return false;
  }
  return true;
}

// The best provision so far for one question: deepest, then deny.
struct Best {
  const Provision* provision = nullptr;
  void Offer(const Provision* p) {
    if (provision == nullptr || p->depth > provision->depth ||
        (p->depth == provision->depth && p->type == ProvisionType::kDeny &&
         provision->type == ProvisionType::kPermit)) {
      provision = p;
    }
  }
};

struct Applicable {
  Best whole;
  std::map<std::string, Best> by_category;
  std::vector<const Provision*> data_denials;
  bool holder_named = false;
};

void Collect(const Provision& parent, const DecisionRequest& r, Applicable& out) {
  for (const Provision& p : parent.provisions) {
    if (!Matches(p, r)) continue;
    if (p.type == ProvisionType::kPermit && !r.holder_org.empty() &&
        Has(p.custodian_orgs, r.holder_org)) {
      out.holder_named = true;
    }
    if (p.data_period) {
      out.data_denials.push_back(&p);
    } else if (!p.security_labels.empty()) {
      for (const std::string& label : p.security_labels) out.by_category[label].Offer(&p);
    } else {
      out.whole.Offer(&p);
    }
    Collect(p, r, out);
  }
}

std::string Describe(const ConsentDirective& d) {
  return absl::StrCat("consent ", d.id.empty() ? "(no id)" : d.id, " of ", d.date_time_text);
}

void SortUnique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

std::string WithheldText(const std::vector<std::string>& withheld) {
  return withheld.empty() ? std::string("nothing withheld")
                          : absl::StrCat("withholding ", absl::StrJoin(withheld, ", "));
}

Decision Evaluate(const Policy& policy, const std::vector<const ConsentDirective*>& directives,
                  const DecisionRequest& r) {
  Decision decision;
  // Rule 1: the governing consent.
  const ConsentDirective* governing = nullptr;
  for (const ConsentDirective* d : directives) {
    if (d->status != "active" || !Matches(d->provision, r)) continue;
    if (governing == nullptr || d->date_time > governing->date_time ||
        (d->date_time == governing->date_time && d->id > governing->id)) {
      governing = d;
    }
  }
  // Rule 2: the policy alone.
  if (governing == nullptr) {
    if (policy.model == Model::kOptIn) {
      decision.reason = "opt-in policy and no consent on file that covers this request";
      return decision;
    }
    if (std::none_of(
            policy.purposes_without_consent.begin(), policy.purposes_without_consent.end(),
            [&](const std::string& allowed) { return PurposeWithin(r.purpose, allowed); })) {
      decision.reason =
          absl::StrCat("opt-out policy allows ",
                       policy.purposes_without_consent.empty()
                           ? std::string("no purpose")
                           : absl::StrJoin(policy.purposes_without_consent, ", "),
                       " without consent, not ", r.purpose, ", and no consent on file covers it");
      return decision;
    }
    decision.permit = true;
    decision.withheld = policy.withheld_categories;
    decision.reason = absl::StrCat("opt-out policy allows ", r.purpose,
                                   " without consent; no consent on file "
                                   "covers this request; ",
                                   WithheldText(decision.withheld));
    return decision;
  }
  // Rule 3: the governing consent's provisions.
  decision.directive_id = governing->id;
  Applicable applicable;
  if (governing->provision.type == ProvisionType::kPermit && !r.holder_org.empty() &&
      Has(governing->provision.custodian_orgs, r.holder_org)) {
    applicable.holder_named = true;
  }
  Collect(governing->provision, r, applicable);
  const Provision* decider =
      applicable.whole.provision ? applicable.whole.provision : &governing->provision;
  decision.provision_path = decider->path;
  decision.holder_named = applicable.holder_named;
  if (decider->type == ProvisionType::kDeny) {
    decision.reason = absl::StrCat(Describe(*governing), ": ", decider->path, " denies ", r.purpose,
                                   " for Organization/", r.requester_org);
    return decision;
  }
  decision.permit = true;
  std::vector<std::string> withheld;
  for (const std::string& category : policy.withheld_categories) {
    auto it = applicable.by_category.find(category);
    if (it == applicable.by_category.end() || it->second.provision->type == ProvisionType::kDeny) {
      withheld.push_back(category);
    }
  }
  std::vector<std::string> released;
  for (const auto& [category, best] : applicable.by_category) {
    if (best.provision->type == ProvisionType::kDeny) {
      withheld.push_back(category);
    } else if (Has(policy.withheld_categories, category)) {
      released.push_back(category);
    }
  }
  SortUnique(withheld);
  decision.withheld = std::move(withheld);
  for (const Provision* p : applicable.data_denials) {
    WithheldData data;
    data.data_period = *p->data_period;
    data.categories = p->security_labels;
    SortUnique(data.categories);
    data.provision_path = p->path;
    decision.withheld_data.push_back(std::move(data));
  }
  decision.reason =
      absl::StrCat(Describe(*governing), ": ", decider->path, " permits ", r.purpose,
                   " for Organization/", r.requester_org, "; ", WithheldText(decision.withheld));
  if (!released.empty()) {
    absl::StrAppend(&decision.reason, "; patient released ", absl::StrJoin(released, ", "));
  }
  if (!decision.withheld_data.empty()) {
    absl::StrAppend(&decision.reason, "; ", decision.withheld_data.size(), " dated restriction(s)");
  }
  return decision;
}

// The patient's own request, and the only role that may make it.
constexpr char kPatientRequest[] = "PATRQT";
constexpr char kPatientRole[] = "patient";

}  // namespace

absl::StatusOr<Decision> Decide(const Policy& policy,
                                const std::vector<const ConsentDirective*>& directives,
                                const DecisionRequest& request) {
  if (!IsPurposeOfUse(request.purpose)) {
    return absl::InvalidArgumentError(absl::StrCat("purpose \"", request.purpose,
                                                   "\" is not a v3 PurposeOfUse code (",
                                                   absl::StrJoin(PurposeCodes(), ", "), ")"));
  }
  const bool emergency = IsEmergencyPurpose(request.purpose);
  // A reason of spaces and newlines says nothing for the review to read.
  if (emergency && absl::StripAsciiWhitespace(request.break_glass_reason).empty()) {
    Decision denied;
    denied.reason = "break-the-glass (ETREAT) needs a reason";
    return denied;
  }
  if (emergency && !Has(policy.break_glass_roles, absl::AsciiStrToLower(request.user_role))) {
    Decision denied;
    denied.reason = absl::StrCat(
        "break-the-glass (ETREAT) is for ",
        policy.break_glass_roles.empty() ? std::string("no role")
                                         : absl::StrJoin(policy.break_glass_roles, ", "),
        " under the exchange's policy, not for role \"", request.user_role, "\"");
    return denied;
  }
  // The patient's own request is the patient's: a practice's staff or system asking
  // under PATRQT would pass the patient's own permits (and an opt-out's nested ones).
  if (request.purpose == kPatientRequest &&
      absl::AsciiStrToLower(request.user_role) != kPatientRole) {
    Decision denied;
    denied.reason =
        absl::StrCat("the patient's own request (PATRQT) is made by the patient (role \"",
                     kPatientRole, "\"), not by role \"", request.user_role, "\"");
    return denied;
  }
  Decision decision = Evaluate(policy, directives, request);
  if (!emergency) return decision;
  if (decision.permit) {
    // Every use of break-the-glass is reviewed, not only one that overrides a deny.
    decision.break_glass = true;
    absl::StrAppend(&decision.reason, "; break-the-glass, reason: ", request.break_glass_reason);
    return decision;
  }
  if (!policy.break_glass_allowed) {
    absl::StrAppend(&decision.reason, "; break-the-glass is not allowed by the exchange's policy");
    return decision;
  }
  if (!decision.directive_id.empty() && !policy.break_glass_overrides_directives) {
    absl::StrAppend(&decision.reason,
                    "; break-the-glass does not override the patient's own directive under "
                    "the exchange's policy");
    return decision;
  }
  // Rule 5: break-the-glass over a deny.
  decision.permit = true;
  decision.break_glass = true;
  decision.withheld = policy.withheld_categories;
  decision.withheld_data.clear();
  decision.reason = absl::StrCat("break-the-glass over a deny (", decision.reason,
                                 "); reason: ", request.break_glass_reason, "; ",
                                 WithheldText(decision.withheld));
  return decision;
}

}  // namespace hie::consent
