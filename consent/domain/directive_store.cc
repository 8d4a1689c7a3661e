#include "consent/domain/directive_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/fhir/resource_json.h"
#include "common/json/json_writer.h"
#include "common/status/error_detail.h"
#include "common/store/key_codec.h"
#include "consent/domain/grant.h"
#include "google/protobuf/util/time_util.h"

namespace hie::consent {
namespace {

// How far ahead of this clock a consent's dateTime may be: clock skew, and for a date
// without a time (taken as UTC midnight) the day starting up to 14 hours early in the
// easternmost zones.
absl::Duration MaxFutureDating(const std::string& date_time_text) {
  constexpr absl::Duration kSkew = absl::Minutes(5);
  return date_time_text.find('T') == std::string::npos ? kSkew + absl::Hours(14) : kSkew;
}

using google::protobuf::util::TimeUtil;
using store::KeyBuilder;
using store::KeyReader;

constexpr char kDirective[] = "directive";
constexpr char kDirectiveOf[] = "directive-of";

std::string VersionPrefix(const std::string& id) {
  return KeyBuilder().AddString(kDirective).AddString(id).Build();
}

std::string VersionKey(const std::string& id, int64_t version) {
  return KeyBuilder().AddString(kDirective).AddString(id).AddInt64(version).Build();
}

std::string PatientPrefix(const hie::v1::LocalPatientRef& patient) {
  return KeyBuilder()
      .AddString(kDirectiveOf)
      .AddString(patient.org_id())
      .AddString(patient.local_id())
      .Build();
}

bool SamePatient(const hie::v1::LocalPatientRef& a, const hie::v1::LocalPatientRef& b) {
  return a.org_id() == b.org_id() && a.local_id() == b.local_id();
}

bool NewestFirst(const hie::v1::Directive& a, const hie::v1::Directive& b) {
  if (a.recorded_at().seconds() != b.recorded_at().seconds() ||
      a.recorded_at().nanos() != b.recorded_at().nanos()) {
    return TimeUtil::TimestampToNanoseconds(a.recorded_at()) >
           TimeUtil::TimestampToNanoseconds(b.recorded_at());
  }
  if (a.directive_id() != b.directive_id()) return a.directive_id() < b.directive_id();
  return a.version() > b.version();
}

}  // namespace

absl::StatusOr<hie::v1::Directive> DirectiveStore::Put(const hie::v1::LocalPatientRef& patient,
                                                       const std::string& euid,
                                                       const std::string& filed_by_org,
                                                       const std::string& consent_json) {
  absl::StatusOr<ConsentDirective> parsed = ParseConsent(consent_json);
  if (!parsed.ok()) return parsed.status();
  // The most recent consent governs, so one dated ahead would govern over every consent
  // the patient gives until then.
  if (parsed->date_time > clock_->Now() + MaxFutureDating(parsed->date_time_text)) {
    return InvalidResource(
        {{"Consent.dateTime",
          absl::StrCat("\"", parsed->date_time_text,
                       "\" is in the future: a consent is dated when the patient gave it")}});
  }
  std::string id = parsed->id.empty() ? NewNonce() : parsed->id;
  absl::StatusOr<std::string> stored_json = fhir::SetMembers(consent_json, {{"id", JsonQuote(id)}});
  if (!stored_json.ok()) return stored_json.status();
  hie::v1::Directive directive;
  directive.set_directive_id(id);
  directive.set_euid(euid);
  directive.set_status(parsed->status);
  directive.set_consent_json(*std::move(stored_json));
  directive.set_filed_by_org(filed_by_org);
  *directive.mutable_patient() = patient;
  absl::MutexLock lock(&write_mu_);
  absl::StatusOr<hie::v1::Directive> existing = Get(id);
  if (existing.ok()) {
    if (!SamePatient(existing->patient(), patient)) {
      return absl::PermissionDeniedError(
          absl::StrCat("directive ", id,
                       " belongs to another patient; file a new directive "
                       "without an id, or with an id of its own"));
    }
    directive.set_version(existing->version() + 1);
    return Store(std::move(directive), false);
  }
  if (existing.status().code() != absl::StatusCode::kNotFound) return existing.status();
  directive.set_version(1);
  return Store(std::move(directive), true);
}

absl::StatusOr<hie::v1::Directive> DirectiveStore::Revoke(const std::string& directive_id,
                                                          const std::string& by_org,
                                                          const std::string& reason) {
  absl::MutexLock lock(&write_mu_);
  absl::StatusOr<hie::v1::Directive> current = Get(directive_id);
  if (!current.ok()) return current.status();
  if (current->status() == "inactive") {
    return absl::FailedPreconditionError(absl::StrCat(
        "directive ", directive_id, " is already inactive (version ", current->version(), ")"));
  }
  absl::StatusOr<std::string> json =
      fhir::SetMembers(current->consent_json(), {{"status", "\"inactive\""}});
  if (!json.ok()) return json.status();
  hie::v1::Directive next = *current;
  next.set_version(current->version() + 1);
  next.set_status("inactive");
  next.set_consent_json(*std::move(json));
  next.set_filed_by_org(by_org);
  next.set_reason(reason);
  return Store(std::move(next), false);
}

absl::StatusOr<hie::v1::Directive> DirectiveStore::Store(hie::v1::Directive directive,
                                                         bool new_index_entry) {
  *directive.mutable_recorded_at() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  store::WriteBatch batch;
  batch.Put(VersionKey(directive.directive_id(), directive.version()),
            directive.SerializeAsString());
  if (new_index_entry) {
    batch.Put(KeyBuilder()
                  .AddString(kDirectiveOf)
                  .AddString(directive.patient().org_id())
                  .AddString(directive.patient().local_id())
                  .AddString(directive.directive_id())
                  .Build(),
              "");
  }
  if (absl::Status s = store_->Write(batch); !s.ok()) return s;
  // The cache takes the new version at once (a reader that loaded the old one before
  // this write cannot put it back: the newer version wins).
  absl::StatusOr<ConsentDirective> parsed = ParseConsent(directive.consent_json());
  absl::MutexLock lock(&cache_mu_);
  if (parsed.ok()) {
    auto current = std::make_shared<CurrentDirective>();
    current->stored = directive;
    current->parsed = *std::move(parsed);
    cache_[directive.directive_id()] = std::move(current);
  } else {
    cache_.erase(directive.directive_id());
  }
  return directive;
}

absl::StatusOr<hie::v1::Directive> DirectiveStore::Get(const std::string& directive_id) const {
  auto last = store_->LastWithPrefix(VersionPrefix(directive_id));
  if (!last.ok()) {
    if (last.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat("no directive ", directive_id));
    }
    return last.status();
  }
  hie::v1::Directive directive;
  if (!directive.ParseFromString(last->second)) {
    return absl::DataLossError(absl::StrCat("directive ", directive_id, " is unreadable"));
  }
  return directive;
}

std::vector<std::string> DirectiveStore::IdsOf(const hie::v1::LocalPatientRef& patient,
                                               absl::Status* status) const {
  std::vector<std::string> ids;
  *status =
      store_->ScanPrefix(PatientPrefix(patient), [&](absl::string_view key, absl::string_view) {
        KeyReader reader(key);
        std::string kind, org, local, id;
        if (reader.ReadString(&kind) && reader.ReadString(&org) && reader.ReadString(&local) &&
            reader.ReadString(&id)) {
          ids.push_back(std::move(id));
        }
        return true;
      });
  return ids;
}

absl::StatusOr<std::vector<hie::v1::Directive>> DirectiveStore::List(
    const std::vector<hie::v1::LocalPatientRef>& patients, bool include_history) const {
  std::vector<hie::v1::Directive> out;
  for (const auto& patient : patients) {
    absl::Status status;
    for (const std::string& id : IdsOf(patient, &status)) {
      if (!include_history) {
        absl::StatusOr<hie::v1::Directive> current = Get(id);
        if (!current.ok()) return current.status();
        out.push_back(*std::move(current));
        continue;
      }
      absl::Status scan =
          store_->ScanPrefix(VersionPrefix(id), [&](absl::string_view, absl::string_view value) {
            hie::v1::Directive version;
            if (version.ParseFromString(std::string(value))) out.push_back(std::move(version));
            return true;
          });
      if (!scan.ok()) return scan;
    }
    if (!status.ok()) return status;
  }
  std::sort(out.begin(), out.end(), NewestFirst);
  return out;
}

absl::StatusOr<std::shared_ptr<const CurrentDirective>> DirectiveStore::LoadCurrent(
    const std::string& id) const {
  {
    absl::MutexLock lock(&cache_mu_);
    auto it = cache_.find(id);
    if (it != cache_.end()) return it->second;
  }
  absl::StatusOr<hie::v1::Directive> stored = Get(id);
  if (!stored.ok()) return stored.status();
  absl::StatusOr<ConsentDirective> parsed = ParseConsent(stored->consent_json());
  if (!parsed.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored directive ", id, " no longer parses: ", parsed.status().message()));
  }
  auto current = std::make_shared<CurrentDirective>();
  current->stored = *std::move(stored);
  current->parsed = *std::move(parsed);
  absl::MutexLock lock(&cache_mu_);
  // A writer may have stored a newer version meanwhile; keep whichever is newer.
  auto [it, inserted] = cache_.emplace(id, current);
  if (!inserted && it->second->stored.version() < current->stored.version()) it->second = current;
  return it->second;
}

absl::StatusOr<std::vector<std::shared_ptr<const CurrentDirective>>> DirectiveStore::Current(
    const std::vector<hie::v1::LocalPatientRef>& patients) const {
  std::vector<std::shared_ptr<const CurrentDirective>> out;
  for (const auto& patient : patients) {
    absl::Status status;
    std::vector<std::string> ids = IdsOf(patient, &status);
    if (!status.ok()) return status;
    for (const std::string& id : ids) {
      auto current = LoadCurrent(id);
      if (!current.ok()) return current.status();
      out.push_back(*std::move(current));
    }
  }
  return out;
}

}  // namespace hie::consent
