#include "node/domain/disclosure.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/fhir/datetime.h"
#include "common/status/status_macros.h"
#include "common/store/key_codec.h"
#include "common/time/proto_time.h"
#include "consent/domain/codes.h"
#include "google/protobuf/util/time_util.h"
#include "simdjson.h"

namespace hie::node {
namespace {

using google::protobuf::util::TimeUtil;

bool Has(const google::protobuf::RepeatedPtrField<std::string>& values, absl::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// The categories `record` is withheld by (consent::EffectiveCategories: the hierarchy
// and the R high-water mark, applied again so records labelled earlier are caught too).
std::vector<std::string> EffectiveCategories(const hie::v1::RecordEnvelope& record) {
  return consent::EffectiveCategories(
      std::vector<std::string>(record.sensitivity().begin(), record.sensitivity().end()));
}

}  // namespace

bool WithheldByGrant(const hie::v1::RecordEnvelope& record, const hie::v1::DisclosureGrant& grant) {
  const std::vector<std::string> categories = EffectiveCategories(record);
  for (const auto& category : categories) {
    // A label the consent engine does not know (an unknown meta.security label, kept as
    // "system|code") is withheld under every grant: no consent can release it.
    if (!consent::IsSensitivityCategory(category)) return true;
    if (Has(grant.withheld_categories(), category)) return true;
  }
  if (grant.withheld_data().empty()) return false;
  std::optional<absl::Time> date = ClinicalDate(record.fhir_json());
  if (!date) return false;  // undated records are not caught by a dated restriction
  for (const auto& restriction : grant.withheld_data()) {
    const auto& period = restriction.data_period();
    if (period.has_start() && *date < FromProtoTime(period.start())) continue;
    if (period.has_end() && *date >= FromProtoTime(period.end())) continue;
    if (restriction.categories().empty()) return true;
    for (const auto& category : categories) {
      if (Has(restriction.categories(), category)) return true;
    }
  }
  return false;
}

std::optional<absl::Time> ClinicalDate(absl::string_view fhir_json) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element resource;
  if (parser.parse(fhir_json.data(), fhir_json.size()).get(resource)) return std::nullopt;
  return ClinicalDate(resource);
}

std::optional<absl::Time> ClinicalDate(const simdjson::dom::element& resource) {
  static constexpr const char* kFields[][2] = {{"effectiveDateTime", nullptr},
                                               {"effectivePeriod", "start"},
                                               {"effectiveInstant", nullptr},
                                               {"onsetDateTime", nullptr},
                                               {"onsetPeriod", "start"},
                                               {"performedDateTime", nullptr},
                                               {"performedPeriod", "start"},
                                               {"occurrenceDateTime", nullptr},
                                               {"occurrencePeriod", "start"},
                                               {"started", nullptr},
                                               {"whenHandedOver", nullptr},
                                               {"whenPrepared", nullptr},
                                               {"dateAsserted", nullptr},
                                               {"effectiveDate", nullptr},
                                               {"period", "start"},
                                               {"authoredOn", nullptr},
                                               {"recordedDate", nullptr},
                                               {"issued", nullptr},
                                               {"date", nullptr},
                                               {"created", nullptr}};
  for (const auto& field : kFields) {
    std::string_view text;
    auto value = resource[field[0]];
    bool missing =
        field[1] == nullptr ? value.get_string().get(text) : value[field[1]].get_string().get(text);
    if (missing) continue;
    auto range = fhir::ParseDateTime(absl::string_view(text.data(), text.size()));
    if (range.ok()) return range->begin;
  }
  return std::nullopt;
}

bool OutsidePeriod(const hie::v1::RecordEnvelope& record, const hie::v1::Period& period) {
  if (!period.has_start() && !period.has_end()) return false;
  std::optional<absl::Time> date = ClinicalDate(record.fhir_json());
  if (!date) return false;
  if (period.has_start() && *date < FromProtoTime(period.start())) return true;
  if (period.has_end() && *date >= FromProtoTime(period.end())) return true;
  return false;
}

absl::StatusOr<Disclosure> SelectForGrant(const RecordStore& store,
                                          const hie::v1::DisclosureGrant& grant,
                                          const std::string& own_org,
                                          const std::vector<std::string>& resource_types,
                                          const hie::v1::Period* clinical_period) {
  Disclosure out;
  for (const auto& holder : grant.holders()) {
    if (holder.org_id() == own_org) out.patient_local_id = holder.local_id();
  }
  if (out.patient_local_id.empty()) {
    return absl::NotFoundError(absl::StrCat("the grant names no patient at ", own_org));
  }
  bool any = false;
  absl::Status s =
      store.ForPatient(out.patient_local_id, "", [&](const hie::v1::RecordEnvelope& r) {
        any = true;
        if (!resource_types.empty() && std::find(resource_types.begin(), resource_types.end(),
                                                 r.resource_type()) == resource_types.end()) {
          return true;
        }
        if (r.deleted()) return true;
        if (WithheldByGrant(r, grant)) {
          ++out.withheld;
          return true;
        }
        out.records.push_back(r);
        out.records.back().set_source_org(own_org);
        return true;
      });
  if (!s.ok()) return s;
  if (!any) {
    return absl::NotFoundError(
        absl::StrCat(own_org, " holds no record of patient ", out.patient_local_id));
  }
  return out;
}

namespace {

// nonce/<nonce> -> keep_until (unix micros, decimal); nonce-until/<keep_until>/<nonce>
// -> "" orders them for the purge.
std::string NonceKey(absl::string_view nonce) {
  return store::KeyBuilder().AddString("nonce").AddString(nonce).Build();
}
std::string NonceUntilKey(int64_t keep_until_micros, absl::string_view nonce) {
  return store::KeyBuilder()
      .AddString("nonce-until")
      .AddInt64(keep_until_micros)
      .AddString(nonce)
      .Build();
}

constexpr absl::Duration kPurgeEvery = absl::Seconds(10);
constexpr int kMaxPurgedAtOnce = 10000;

}  // namespace

absl::Status NonceRegistry::Use(const std::string& nonce, absl::Time keep_until, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (now - last_purge_ >= kPurgeEvery) {
    last_purge_ = now;
    // A failed purge only delays the purge; the check below does not depend on it.
    (void)PurgeLocked(now);
  }
  absl::StatusOr<std::string> seen = store_->Get(NonceKey(nonce));
  if (seen.ok()) {
    return absl::PermissionDeniedError(
        "this grant was already used here: ask the consent service for a new one");
  }
  if (seen.status().code() != absl::StatusCode::kNotFound) return seen.status();
  int64_t until = absl::ToUnixMicros(keep_until);
  store::WriteBatch batch;
  batch.Put(NonceKey(nonce), absl::StrCat(until));
  batch.Put(NonceUntilKey(until, nonce), "");
  // Synced: a restart cannot re-arm the grant. Without that record nothing may be sent.
  if (absl::Status written = store_->Write(batch); !written.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "the grant's use could not be recorded, so nothing is sent: ", written.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> NonceRegistry::Purge(absl::Time now) {
  absl::MutexLock lock(&mu_);
  last_purge_ = now;
  return PurgeLocked(now);
}

absl::StatusOr<int64_t> NonceRegistry::PurgeLocked(absl::Time now) {
  std::string start = store::KeyBuilder().AddString("nonce-until").Build();
  std::string end = NonceUntilKey(absl::ToUnixMicros(now), "");
  store::WriteBatch batch;
  absl::Status scanned = store_->Scan(start, end, [&](absl::string_view key, absl::string_view) {
    store::KeyReader reader(key);
    std::string kind, nonce;
    int64_t until = 0;
    if (reader.ReadString(&kind) && reader.ReadInt64(&until) && reader.ReadString(&nonce)) {
      batch.Delete(NonceKey(nonce));
    }
    batch.Delete(key);
    return batch.size() < 2 * kMaxPurgedAtOnce;
  });
  if (!scanned.ok()) return scanned;
  if (batch.empty()) return 0;
  HIE_RETURN_IF_ERROR(store_->WriteUnsynced(batch));  // losing a purge only delays it
  return static_cast<int64_t>(batch.size() / 2);
}

absl::Status Discloser::Refuse(const std::string& peer_org, absl::string_view operation,
                               const absl::Status& why, const hie::v1::DisclosureGrant* grant) {
  hie::v1::AuditEntry entry;
  entry.set_action(hie::v1::AUDIT_ACTION_REFUSE);
  entry.set_actor_org(peer_org);
  entry.set_counterpart_org(peer_org);
  entry.set_outcome("refused");
  entry.set_detail(absl::StrCat(operation, ": ", why.message()));
  if (grant != nullptr) {
    // A verified grant names this holder: the refusal is filed under the patient here.
    for (const auto& holder : grant->holders()) {
      if (holder.org_id() != own_org_) continue;
      entry.mutable_patient()->set_org_id(own_org_);
      entry.mutable_patient()->set_local_id(holder.local_id());
    }
    *entry.mutable_user() = grant->user();
    entry.set_euid(grant->euid());
    entry.set_purpose(grant->purpose());
    entry.set_query_id(grant->query_id());
  }
  (void)audit_->Append(std::move(entry));
  return why;
}

absl::StatusOr<hie::v1::DisclosureGrant> Discloser::Admit(const std::string& peer_org,
                                                          const hie::v1::SignedGrant& signed_grant,
                                                          absl::string_view operation,
                                                          absl::string_view required_purpose) {
  absl::StatusOr<std::shared_ptr<const consent::GrantVerifier>> verifier =
      verifiers_->VerifierFor(signed_grant.key_id());
  if (!verifier.ok()) return verifier.status();
  absl::StatusOr<hie::v1::DisclosureGrant> grant =
      (*verifier)->Verify(signed_grant, peer_org, own_org_);
  if (!grant.ok()) return Refuse(peer_org, operation, grant.status(), nullptr);
  if (!required_purpose.empty() && grant->purpose() != required_purpose) {
    return Refuse(peer_org, operation,
                  absl::PermissionDeniedError(absl::StrCat(
                      "the grant's purpose is ", grant->purpose(), ", not ", required_purpose)),
                  &*grant);
  }
  // Before the nonce is spent: a grant refused for a stale feed may be tried again.
  if (directives_ != nullptr) {
    if (absl::Status s = directives_->Check(*grant); !s.ok()) {
      return Refuse(peer_org, operation, s, &*grant);
    }
  }
  if (absl::Status s =
          nonces_.Use(grant->nonce(), (*verifier)->AcceptedUntil(*grant), clock_->Now());
      !s.ok()) {
    return Refuse(peer_org, operation, s, &*grant);
  }
  return grant;
}

absl::StatusOr<FetchAnswer> Discloser::Serve(const FetchInput& input) {
  const std::string& peer_org = input.peer_org;
  absl::StatusOr<hie::v1::DisclosureGrant> grant = Admit(peer_org, input.grant, "FetchRecords");
  if (!grant.ok()) return grant.status();
  absl::StatusOr<Disclosure> disclosure =
      SelectForGrant(*records_, *grant, own_org_, input.resource_types,
                     input.clinical_period.has_value() ? &*input.clinical_period : nullptr);
  if (!disclosure.ok()) return Refuse(peer_org, "FetchRecords", disclosure.status(), &*grant);
  // A record larger than the limit is named, not sent; the rest go.
  FetchAnswer answer;
  LeaveOutLarger(&disclosure->records, max_record_bytes_, &answer.skipped);

  // No disclosure without its audit entry: it is durable before the first record leaves.
  hie::v1::AuditEntry entry;
  entry.set_action(grant->break_glass() ? hie::v1::AUDIT_ACTION_BREAK_GLASS
                                        : hie::v1::AUDIT_ACTION_DISCLOSE);
  entry.set_actor_org(peer_org);
  *entry.mutable_user() = grant->user();
  entry.mutable_patient()->set_org_id(own_org_);
  entry.mutable_patient()->set_local_id(disclosure->patient_local_id);
  entry.set_euid(grant->euid());
  entry.set_purpose(grant->purpose());
  entry.set_query_id(grant->query_id());
  entry.set_counterpart_org(peer_org);
  entry.set_outcome("ok");
  entry.set_detail(absl::StrCat(
      "sent ", disclosure->records.size(), ", withheld ", disclosure->withheld,
      answer.skipped.count == 0
          ? ""
          : absl::StrCat(", skipped ", answer.skipped.count, " larger than ", max_record_bytes_,
                         " bytes: ", absl::StrJoin(answer.skipped.references, " ")),
      grant->break_glass() ? absl::StrCat(" (break-the-glass: ", grant->break_glass_reason(), ")")
                           : "",
      // The patient's accounting shows what the grant kept back (node/domain/accounting.h).
      grant->withheld_categories().empty()
          ? ""
          : absl::StrCat("; ", kWithheldCategoriesNote,
                         absl::StrJoin(grant->withheld_categories(), " "))));
  if (absl::Status appended = audit_->Append(std::move(entry)); !appended.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "the disclosure could not be audited, so nothing is sent: ", appended.message()));
  }
  answer.records = std::move(disclosure->records);
  answer.withheld = disclosure->withheld;
  return answer;
}

}  // namespace hie::node
