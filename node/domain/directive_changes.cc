#include "node/domain/directive_changes.h"

#include "absl/strings/str_cat.h"
#include "common/status/error_detail.h"
#include "common/time/proto_time.h"
#include "consent/domain/directive_feed.h"

namespace hie::node {

int64_t DirectiveChanges::cursor() const {
  absl::MutexLock lock(&mu_);
  return cursor_;
}

void DirectiveChanges::Apply(const std::vector<hie::v1::DirectiveChange>& changes,
                             int64_t last_sequence, absl::Time started_at, absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (const auto& change : changes) {
    if (change.sequence() <= cursor_) continue;
    cursor_ = change.sequence();
    Latest& latest = latest_[change.patient_key()];
    if (change.sequence() > latest.sequence) {
      latest.sequence = change.sequence();
      latest.changed_at = FromProtoTime(change.changed_at());
    }
  }
  // A feed that starts over (a new consent service store) has a lower last sequence:
  // follow it from there, keeping what is known.
  if (changes.empty() && last_sequence < cursor_) cursor_ = last_sequence;
  if (cursor_ >= last_sequence && started_at > fresh_as_of_) fresh_as_of_ = started_at;
  if (now - last_prune_ >= absl::Minutes(1)) {
    last_prune_ = now;
    absl::Time cutoff = now - consent::kDirectiveChangeRetention;
    absl::erase_if(latest_, [cutoff](const auto& kv) { return kv.second.changed_at < cutoff; });
  }
}

bool DirectiveChanges::Fresh(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  return now - fresh_as_of_ <= max_staleness_;
}

absl::Status DirectiveChanges::Check(const hie::v1::DisclosureGrant& grant, absl::Time now) const {
  absl::MutexLock lock(&mu_);
  if (now - fresh_as_of_ > max_staleness_) {
    return WithReason(
        absl::UnavailableError(absl::StrCat(
            "this holder cannot tell whether the patient's directives changed since the grant "
            "was issued (the consent service's directive feed was last read ",
            fresh_as_of_ == absl::InfinitePast() ? std::string("never")
                                                 : absl::FormatDuration(now - fresh_as_of_),
            " ago); try again shortly")),
        hie::v1::ERROR_REASON_DEPENDENCY_UNAVAILABLE);
  }
  auto it = latest_.find(grant.directive_key());
  if (it != latest_.end() && it->second.sequence > grant.directive_sequence()) {
    return WithReason(absl::PermissionDeniedError(absl::StrCat(
                          "grant revoked: the patient's directives changed at ",
                          absl::FormatTime(it->second.changed_at), " (change ", it->second.sequence,
                          "), after this grant was decided; ask the consent service again")),
                      hie::v1::ERROR_REASON_GRANT_REVOKED);
  }
  return absl::OkStatus();
}

}  // namespace hie::node
