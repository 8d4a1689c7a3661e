// A patient's accounting of disclosures ("who saw my record"), gathered from every
// practice that holds the patient's records. The requesting practice asks the consent
// service to Authorize the patient's own request (purpose PATRQT, user: the patient),
// so that holders are named only through a consent decision (DESIGN.md step 2); asks
// every holder in the grant for its audit entries about the patient (PeerRecords
// ListDisclosures, under the same checks as FetchRecords: AccountingHolder below); adds
// its own chain's entries about the patient (disclosures, and its own users' queries
// and accesses); and merges them newest first. A holder that cannot answer costs its
// own entries only, and is reported.
#ifndef HIE_NODE_DOMAIN_ACCOUNTING_H_
#define HIE_NODE_DOMAIN_ACCOUNTING_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/audit/audit_log.h"
#include "node/domain/audit_sink.h"
#include "node/domain/disclosure.h"
#include "node/domain/federated_query.h"
#include "proto/hie/v1/audit.pb.h"
#include "proto/hie/v1/grant.pb.h"

namespace hie::node {

// The v3 PurposeOfUse code of a patient's own request.
inline constexpr char kPatientRequestPurpose[] = "PATRQT";
// AuditEntry.interaction of a holder's audit entry for an accounting it gave.
inline constexpr char kAccountingInteraction[] = "accounting";
// The most entries a holder sends (its newest), and the most bytes of them: one answer
// stays far under a gRPC message's limit. The requester takes no more from a holder.
inline constexpr size_t kMaxEntriesPerHolder = 1000;
inline constexpr size_t kMaxAnswerBytes = size_t{1} << 20;

// A holder's answer to ListDisclosures: its audit entries about the patient, oldest
// first.
struct AccountingAnswer {
  std::vector<hie::v1::AuditEntry> entries;
  // More entries were found than the holder sends (the newest are sent).
  bool truncated = false;
};

// The holder's side: answers another practice's node asking, for the patient's own
// request, which disclosures of the patient's records this holder made. Thread-safe.
class AccountingHolder {
 public:
  // Everything passed in must outlive this. `discloser` checks the grant (and spends
  // it), `log` is this node's chain, `audit` where the answer is audited.
  AccountingHolder(Discloser* discloser, const audit::AuditLog* log, AuditSink* audit,
                   size_t max_entries = kMaxEntriesPerHolder)
      : discloser_(discloser), log_(log), audit_(audit), max_entries_(max_entries) {}

  // This holder's entries about the patient `signed_grant` names here: disclosures
  // (DISCLOSE, BREAK_GLASS) and refusals (REFUSE), less the accountings it gave the
  // patient before. Checks the grant as a fetch does (Discloser::Admit, purpose
  // PATRQT) and audits the answer (DISCLOSE, interaction kAccountingInteraction)
  // before returning it. Errors: Discloser::Admit's; NotFound if the grant names no
  // patient here; Unavailable if the chain cannot be read or the answer audited.
  absl::StatusOr<AccountingAnswer> Serve(const std::string& peer_org,
                                         const hie::v1::SignedGrant& signed_grant);

 private:
  Discloser* const discloser_;
  const audit::AuditLog* const log_;
  AuditSink* const audit_;
  const size_t max_entries_;
};

// ---------------------------------------------------------------------------------
// The requesting practice's side.

// One event of the accounting, as a patient reads it.
struct DisclosureEvent {
  absl::Time time;
  // The practice whose records these were (whose chain says so).
  std::string holder_org;
  // The practice that received them or asked (for this practice's own users: itself).
  std::string recipient_org;
  std::string user_id;
  std::string user_name;
  std::string user_role;
  std::string purpose;
  hie::v1::AuditAction action = hie::v1::AUDIT_ACTION_UNSPECIFIED;
  // "ok", "refused", "deny"...
  std::string outcome;
  // The categories the grant withheld, when the entry says.
  std::vector<std::string> withheld_categories;
  bool break_glass = false;
  std::string detail;
  std::string query_id;
};

// Where the entries came from, and how asking went.
struct AccountingSource {
  std::string org_id;
  bool local = false;
  HolderState state = HolderState::kOk;
  int64_t entries = 0;
  bool truncated = false;
  std::string message;  // why, when not kOk
};

struct AccountingReport {
  // Newest first.
  std::vector<DisclosureEvent> events;
  // This practice first, then every holder the grant named, in the grant's order.
  std::vector<AccountingSource> sources;
  // Why no other practice was asked (the consent service denied or could not be
  // reached); empty when they were.
  std::string not_asked;
};

// Asking one holder for its accounting (PeerRecords.ListDisclosures). Implementations
// are thread-safe.
class AccountingClient {
 public:
  virtual ~AccountingClient() = default;
  // Calls `done` exactly once, on any thread, within about `timeout`. Never blocks on
  // the holder. Errors: as HolderStream::OnDone's.
  virtual void ListDisclosures(const hie::v1::GrantHolder& holder,
                               const hie::v1::SignedGrant& grant, absl::Duration timeout,
                               std::function<void(absl::StatusOr<AccountingAnswer>)> done) = 0;
};

struct AccountingRequest {
  // The patient's id at this practice.
  std::string local_patient_id;
  // The patient, as this practice vouches for them (their portal login).
  QueryUser patient;
};

struct DisclosureAccountingOptions {
  std::string own_org;
  absl::Duration holder_timeout = absl::Seconds(5);
  absl::Duration authorize_timeout = absl::Seconds(5);
};

// Thread-safe: one per node.
class DisclosureAccounting {
 public:
  // `log` and `clock` must outlive this; it owns the clients.
  DisclosureAccounting(DisclosureAccountingOptions options, const audit::AuditLog* log,
                       std::unique_ptr<ConsentClient> consent,
                       std::unique_ptr<AccountingClient> holders);

  // Gathers the accounting for `request` and calls `done` once with it, on any thread
  // (the caller's too). Reads this node's chain on the caller's thread, so call it off
  // I/O threads. REQUIRES: the front has established that the caller is the patient.
  // Errors: InvalidArgument without a patient id or user; the chain's read error. A
  // consent deny or an unreachable consent service is not an error: the report then
  // has this practice's entries and says why no other was asked.
  void Run(const AccountingRequest& request,
           std::function<void(absl::StatusOr<AccountingReport>)> done);

  // The other practices holding the patient's records, as the consent service names
  // them to this practice for the patient's own request (the holders of a PATRQT
  // grant, this practice left out, in the grant's order): the practices the patient may
  // make choices about. The grant is not used to fetch anything. Calls `done` once, on
  // any thread. REQUIRES: as Run. Errors: InvalidArgument without a patient id or user;
  // PermissionDenied when the consent service denies, Unavailable when it cannot be
  // asked, Internal when its grant cannot be read (each message says which).
  void PatientPractices(const AccountingRequest& request,
                        std::function<void(absl::StatusOr<std::vector<std::string>>)> done);

 private:
  class Gathering;

  // A grant for the patient's own request, as signed and as read.
  struct PatientGrant {
    hie::v1::SignedGrant signed_grant;
    hie::v1::DisclosureGrant grant;
  };
  // Asks the consent service to Authorize the patient's own request (PATRQT): the one
  // way holders become known here. Errors: as PatientPractices'.
  void AuthorizePatient(const AccountingRequest& request,
                        std::function<void(absl::StatusOr<PatientGrant>)> done);
  // The grant's holders but this practice, each org once (a holder named twice is
  // asked once: its grant serves one request there).
  std::vector<hie::v1::GrantHolder> OtherHolders(const hie::v1::DisclosureGrant& grant) const;

  const DisclosureAccountingOptions options_;
  const audit::AuditLog* const log_;
  const std::unique_ptr<ConsentClient> consent_;
  const std::unique_ptr<AccountingClient> holders_;
};

// The event an audit entry of `holder_org`'s chain tells the patient about, or nothing
// for an entry that tells them nothing (a query only started, the patient's own
// accountings). Exposed for tests.
std::optional<DisclosureEvent> EventOf(const hie::v1::AuditEntry& entry,
                                       const std::string& holder_org);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_ACCOUNTING_H_
