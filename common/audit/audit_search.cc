#include "common/audit/audit_search.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/audit/fhir_audit_event.h"

namespace hie::audit {
namespace {

fhir::TimeRange RecordedRange(const hie::v1::AuditEntry& entry) {
  // Recorded to the millisecond (as the AuditEvent says it).
  absl::Time t = absl::FromUnixSeconds(entry.time().seconds()) +
                 absl::Milliseconds(entry.time().nanos() / 1000000);
  return {t, t + absl::Milliseconds(1)};
}

bool Matches(const AuditSearch& search, const hie::v1::AuditEntry& entry) {
  for (const fhir::DateParam& date : search.dates) {
    if (!date.Matches(RecordedRange(entry))) return false;
  }
  if (!search.agents.empty() &&
      std::none_of(search.agents.begin(), search.agents.end(), [&](const std::string& a) {
        return a == entry.actor_org() || a == entry.counterpart_org() ||
               a == entry.user().user_id();
      })) {
    return false;
  }
  if (!search.subtypes.empty() && std::find(search.subtypes.begin(), search.subtypes.end(),
                                            entry.action()) == search.subtypes.end()) {
    return false;
  }
  if (!search.actions.empty() && std::find(search.actions.begin(), search.actions.end(),
                                           FhirAuditAction(entry)) == search.actions.end()) {
    return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<AuditSearch> ParseAuditSearch(
    const std::vector<std::pair<std::string, std::string>>& params, const std::string& own_org) {
  AuditSearch search;
  bool have_count = false;
  for (const auto& [name, value] : params) {
    auto values = [&value = value]() -> std::vector<std::string> {
      return absl::StrSplit(value, ',', absl::SkipEmpty());
    };
    if (name == "patient") {
      if (search.patient.has_value()) {
        return absl::InvalidArgumentError("patient may be given once");
      }
      std::string id(absl::StripPrefix(value, "Patient/"));
      if (id.empty()) return absl::InvalidArgumentError("patient needs a value (Patient/<id>)");
      search.patient = PatientKey::Local(own_org, id);
    } else if (name == "date") {
      absl::StatusOr<fhir::DateParam> date = fhir::ParseDateParam(value);
      if (!date.ok())
        return absl::InvalidArgumentError(absl::StrCat("date: ", date.status().message()));
      search.dates.push_back(*date);
    } else if (name == "agent") {
      for (std::string& a : values()) {
        // Organization/org-b, Practitioner/dr-lee, or the bare id.
        size_t slash = a.rfind('/');
        search.agents.push_back(slash == std::string::npos ? a : a.substr(slash + 1));
      }
    } else if (name == "subtype") {
      for (const std::string& code : values()) {
        hie::v1::AuditAction action;
        std::string bare(absl::StripPrefix(code, "urn:hie:audit-action|"));
        if (!hie::v1::AuditAction_Parse(bare, &action) ||
            action == hie::v1::AUDIT_ACTION_UNSPECIFIED) {
          return absl::InvalidArgumentError(absl::StrCat(
              "subtype: \"", code, "\" is not an hie audit action (AUDIT_ACTION_QUERY...)"));
        }
        search.subtypes.push_back(action);
      }
    } else if (name == "action") {
      for (const std::string& code : values()) {
        if (code != "C" && code != "R" && code != "U" && code != "D" && code != "E") {
          return absl::InvalidArgumentError(
              absl::StrCat("action: \"", code, "\" is not C, R, U, D or E"));
        }
        search.actions.push_back(code);
      }
    } else if (name == "_count") {
      int count = 0;
      if (have_count || !absl::SimpleAtoi(value, &count) || count < 1 || count > 1000) {
        return absl::InvalidArgumentError("_count must be given once, 1 to 1000");
      }
      search.count = static_cast<size_t>(count);
      have_count = true;
    } else if (name == "_after") {
      if (!absl::SimpleAtoi(value, &search.after)) {
        return absl::InvalidArgumentError("_after must be the sequence a next link gives");
      }
    } else if (name == "_format") {
      // Answered by the front (JSON only).
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", name,
          "\" is not a search parameter of AuditEvent here (patient, date, agent, subtype, "
          "action, _count)"));
    }
  }
  return search;
}

absl::StatusOr<AuditPage> RunAuditSearch(const AuditLog& log, const AuditSearch& search,
                                         size_t max_scanned) {
  AuditPage page;
  size_t scanned = 0;
  auto take = [&](const hie::v1::AuditEntry& entry) {
    if (entry.sequence() <= search.after) return true;
    if (page.entries.size() == search.count || scanned == max_scanned) {
      page.next_after = page.entries.empty() && scanned == 0 ? 0 : entry.sequence() - 1;
      return false;
    }
    ++scanned;
    if (Matches(search, entry)) page.entries.push_back(entry);
    return true;
  };
  if (search.patient.has_value()) {
    absl::StatusOr<std::vector<hie::v1::AuditEntry>> entries = log.QueryByPatient(*search.patient);
    if (!entries.ok()) return entries.status();
    for (const hie::v1::AuditEntry& entry : *entries) {
      if (!take(entry)) break;
    }
    return page;
  }
  absl::Status s = log.ForEach(search.after + 1, take);
  if (!s.ok()) return s;
  return page;
}

}  // namespace hie::audit
