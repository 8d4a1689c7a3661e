#include "node/domain/accounting.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/time/proto_time.h"

namespace hie::node {
namespace {

bool IsAccountingOfPatient(const hie::v1::AuditEntry& entry) {
  return entry.interaction() == kAccountingInteraction && entry.purpose() == kPatientRequestPurpose;
}

// What a holder sends: its disclosures and refusals, not the accountings it gave.
bool HolderSends(const hie::v1::AuditEntry& entry) {
  switch (entry.action()) {
    case hie::v1::AUDIT_ACTION_DISCLOSE:
      return !IsAccountingOfPatient(entry);
    case hie::v1::AUDIT_ACTION_BREAK_GLASS:
    case hie::v1::AUDIT_ACTION_REFUSE:
      return true;
    default:
      return false;
  }
}

std::vector<std::string> WithheldCategoriesIn(absl::string_view detail) {
  size_t at = detail.find(kWithheldCategoriesNote);
  if (at == absl::string_view::npos) return {};
  return absl::StrSplit(detail.substr(at + sizeof(kWithheldCategoriesNote) - 1), ' ',
                        absl::SkipEmpty());
}

}  // namespace

std::optional<DisclosureEvent> EventOf(const hie::v1::AuditEntry& entry,
                                       const std::string& holder_org) {
  switch (entry.action()) {
    case hie::v1::AUDIT_ACTION_DISCLOSE:
      if (IsAccountingOfPatient(entry)) return std::nullopt;
      break;
    case hie::v1::AUDIT_ACTION_BREAK_GLASS:
    case hie::v1::AUDIT_ACTION_REFUSE:
    case hie::v1::AUDIT_ACTION_ACCESS:
      break;
    case hie::v1::AUDIT_ACTION_QUERY:
      // A query is recorded when it starts and when it ends: the end says how it went.
      if (entry.outcome() == "started") return std::nullopt;
      break;
    default:
      return std::nullopt;
  }
  DisclosureEvent event;
  event.time = FromProtoTime(entry.time());
  event.holder_org = holder_org;
  // A disclosure's actor is the requester; a query or access is this practice's own.
  event.recipient_org = entry.actor_org().empty() ? holder_org : entry.actor_org();
  event.user_id = entry.user().user_id();
  event.user_name = entry.user().display_name();
  event.user_role = entry.user().role();
  event.purpose = entry.purpose();
  event.action = entry.action();
  event.outcome = entry.outcome();
  event.withheld_categories = WithheldCategoriesIn(entry.detail());
  event.break_glass =
      entry.action() == hie::v1::AUDIT_ACTION_BREAK_GLASS || entry.purpose() == "ETREAT";
  event.detail = entry.detail();
  event.query_id = entry.query_id();
  return event;
}

absl::StatusOr<AccountingAnswer> AccountingHolder::Serve(const std::string& peer_org,
                                                         const hie::v1::SignedGrant& signed_grant) {
  constexpr char kOperation[] = "ListDisclosures";
  absl::StatusOr<hie::v1::DisclosureGrant> grant =
      discloser_->Admit(peer_org, signed_grant, kOperation, kPatientRequestPurpose);
  if (!grant.ok()) return grant.status();
  const std::string& own_org = discloser_->own_org();
  std::string local_id;
  for (const auto& holder : grant->holders()) {
    if (holder.org_id() == own_org) local_id = holder.local_id();
  }
  if (local_id.empty()) {
    return discloser_->Refuse(
        peer_org, kOperation,
        absl::NotFoundError(absl::StrCat("the grant names no patient at ", own_org)), &*grant);
  }
  absl::StatusOr<std::vector<hie::v1::AuditEntry>> all =
      log_->QueryByPatient(audit::PatientKey::Local(own_org, local_id));
  if (!all.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the audit chain could not be read: ", all.status().message()));
  }
  AccountingAnswer answer;
  for (hie::v1::AuditEntry& entry : *all) {
    if (HolderSends(entry)) answer.entries.push_back(std::move(entry));
  }
  // The newest max_entries_, and no more than kMaxAnswerBytes of them: the answer fits
  // one message whatever the entries' details carry.
  size_t keep = 0, bytes = 0;
  for (auto it = answer.entries.rbegin(); it != answer.entries.rend() && keep < max_entries_;
       ++it) {
    bytes += it->ByteSizeLong();
    if (bytes > kMaxAnswerBytes) break;
    ++keep;
  }
  if (keep < answer.entries.size()) {
    answer.entries.erase(answer.entries.begin(),
                         answer.entries.end() - static_cast<ptrdiff_t>(keep));
    answer.truncated = true;
  }
  // No answer without its record: the accounting is itself a disclosure to the peer.
  hie::v1::AuditEntry entry;
  entry.set_action(hie::v1::AUDIT_ACTION_DISCLOSE);
  entry.set_interaction(kAccountingInteraction);
  entry.set_resource("AuditEvent");
  entry.set_actor_org(peer_org);
  entry.set_counterpart_org(peer_org);
  *entry.mutable_user() = grant->user();
  entry.mutable_patient()->set_org_id(own_org);
  entry.mutable_patient()->set_local_id(local_id);
  entry.set_euid(grant->euid());
  entry.set_purpose(grant->purpose());
  entry.set_query_id(grant->query_id());
  entry.set_outcome("ok");
  entry.set_detail(absl::StrCat("accounting of disclosures: sent ", answer.entries.size(),
                                " entries", answer.truncated ? " (the newest)" : ""));
  if (absl::Status s = audit_->Append(std::move(entry)); !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the accounting could not be audited, so nothing is sent: ", s.message()));
  }
  return answer;
}

// One accounting in flight: collects every holder's answer, then merges. Deletes
// itself once `done` was called.
class DisclosureAccounting::Gathering {
 public:
  Gathering(AccountingReport local, std::function<void(absl::StatusOr<AccountingReport>)> done)
      : report_(std::move(local)), done_(std::move(done)) {}

  void Ask(AccountingClient* client, const hie::v1::SignedGrant& signed_grant,
           const std::vector<hie::v1::GrantHolder>& holders, absl::Duration timeout) {
    {
      absl::MutexLock lock(&mu_);
      pending_ = holders.size() + 1;  // +1: released below, once every call is started
      for (const auto& holder : holders) {
        report_.sources.push_back({.org_id = holder.org_id()});
      }
    }
    const size_t first = report_.sources.size() - holders.size();
    for (size_t i = 0; i < holders.size(); ++i) {
      client->ListDisclosures(
          holders[i], signed_grant, timeout,
          [this, index = first + i, org = holders[i].org_id()](
              absl::StatusOr<AccountingAnswer> answer) { Settle(index, org, std::move(answer)); });
    }
    Release();
  }

  // No holder to ask: why, then the report as it is.
  void Finish(std::string not_asked) {
    report_.not_asked = std::move(not_asked);
    {
      absl::MutexLock lock(&mu_);
      pending_ = 1;
    }
    Release();
  }

 private:
  void Settle(size_t index, const std::string& org, absl::StatusOr<AccountingAnswer> answer) {
    {
      absl::MutexLock lock(&mu_);
      AccountingSource& source = report_.sources[index];
      if (!answer.ok()) {
        source.state = HolderStateFor(answer.status());
        source.message = std::string(answer.status().message());
      } else {
        // A holder answering more than a holder sends is cut to its newest.
        std::vector<hie::v1::AuditEntry>& entries = answer->entries;
        source.truncated = answer->truncated || entries.size() > kMaxEntriesPerHolder;
        if (entries.size() > kMaxEntriesPerHolder) {
          entries.erase(entries.begin(),
                        entries.end() - static_cast<ptrdiff_t>(kMaxEntriesPerHolder));
        }
        for (const auto& entry : entries) {
          std::optional<DisclosureEvent> event = EventOf(entry, org);
          if (!event) continue;
          ++source.entries;
          report_.events.push_back(*std::move(event));
        }
      }
    }
    Release();
  }

  void Release() {
    {
      absl::MutexLock lock(&mu_);
      if (--pending_ > 0) return;
    }
    std::stable_sort(
        report_.events.begin(), report_.events.end(),
        [](const DisclosureEvent& a, const DisclosureEvent& b) { return a.time > b.time; });
    done_(std::move(report_));
    delete this;
  }

  absl::Mutex mu_;
  size_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  AccountingReport report_;
  std::function<void(absl::StatusOr<AccountingReport>)> done_;
};

DisclosureAccounting::DisclosureAccounting(DisclosureAccountingOptions options,
                                           const audit::AuditLog* log,
                                           std::unique_ptr<ConsentClient> consent,
                                           std::unique_ptr<AccountingClient> holders)
    : options_(std::move(options)),
      log_(log),
      consent_(std::move(consent)),
      holders_(std::move(holders)) {}

void DisclosureAccounting::Run(const AccountingRequest& request,
                               std::function<void(absl::StatusOr<AccountingReport>)> done) {
  if (request.local_patient_id.empty() || request.patient.id.empty()) {
    done(absl::InvalidArgumentError("an accounting needs the patient's id and login"));
    return;
  }
  absl::StatusOr<std::vector<hie::v1::AuditEntry>> own =
      log_->QueryByPatient(audit::PatientKey::Local(options_.own_org, request.local_patient_id));
  if (!own.ok()) {
    done(own.status());
    return;
  }
  AccountingReport local;
  AccountingSource self{.org_id = options_.own_org, .local = true};
  for (const auto& entry : *own) {
    std::optional<DisclosureEvent> event = EventOf(entry, options_.own_org);
    if (!event) continue;
    ++self.entries;
    local.events.push_back(*std::move(event));
  }
  local.sources.push_back(std::move(self));
  auto* gathering = new Gathering(std::move(local), std::move(done));
  AuthorizePatient(request, [this, gathering](absl::StatusOr<PatientGrant> granted) {
    if (!granted.ok()) {
      gathering->Finish(std::string(granted.status().message()));
      return;
    }
    gathering->Ask(holders_.get(), granted->signed_grant, OtherHolders(granted->grant),
                   options_.holder_timeout);
  });
}

void DisclosureAccounting::PatientPractices(
    const AccountingRequest& request,
    std::function<void(absl::StatusOr<std::vector<std::string>>)> done) {
  if (request.local_patient_id.empty() || request.patient.id.empty()) {
    done(absl::InvalidArgumentError("the patient's practices need the patient's id and login"));
    return;
  }
  AuthorizePatient(request, [this, done = std::move(done)](absl::StatusOr<PatientGrant> granted) {
    if (!granted.ok()) {
      done(granted.status());
      return;
    }
    std::vector<std::string> orgs;
    for (const auto& holder : OtherHolders(granted->grant)) orgs.push_back(holder.org_id());
    done(std::move(orgs));
  });
}

std::vector<hie::v1::GrantHolder> DisclosureAccounting::OtherHolders(
    const hie::v1::DisclosureGrant& grant) const {
  std::vector<hie::v1::GrantHolder> holders;
  for (const auto& holder : grant.holders()) {
    if (holder.org_id() == options_.own_org) continue;
    const bool seen = std::any_of(holders.begin(), holders.end(),
                                  [&](const auto& h) { return h.org_id() == holder.org_id(); });
    if (!seen) holders.push_back(holder);
  }
  return holders;
}

void DisclosureAccounting::AuthorizePatient(
    const AccountingRequest& request, std::function<void(absl::StatusOr<PatientGrant>)> done) {
  AuthorizeQuery query{.local_patient_id = request.local_patient_id,
                       .purpose = kPatientRequestPurpose,
                       .user = request.patient,
                       .timeout = options_.authorize_timeout};
  consent_->Authorize(query, [done = std::move(done)](absl::StatusOr<Authorization> authorization) {
    if (!authorization.ok()) {
      done(absl::UnavailableError(absl::StrCat("the consent service could not be asked (",
                                               authorization.status().message(), ")")));
      return;
    }
    if (authorization->denied) {
      done(absl::PermissionDeniedError(
          absl::StrCat("the consent service did not allow it: ", authorization->deny_reason)));
      return;
    }
    PatientGrant granted{.signed_grant = std::move(authorization->grant)};
    if (!granted.grant.ParseFromString(granted.signed_grant.grant())) {
      done(absl::InternalError("the consent service's grant could not be read"));
      return;
    }
    done(std::move(granted));
  });
}

}  // namespace hie::node
