// Invitations to the patient portal: the front desk issues a one-time code for one of
// the practice's patients, the patient types it in the web app and chooses a login and
// a password, and the account made is that patient's.
//
// A code is 12 characters of an alphabet without look-alikes (A-Z and 2-9 without I
// and O: 32 symbols, 60 bits), shown in groups of four ("K7QM-3WXD-PA9T") to be read
// aloud or printed; what a patient types is taken without case, spaces or dashes. Only
// the code's SHA-256 is kept, so that reading the store does not give anyone a code.
// An invitation works once, until its expiry (72 hours by default); a patient has at
// most `max_live_per_patient` live invitations: issuing one more drops the oldest.
//
// Guessing: wrong, used and expired codes all get the same refusal, and the node as a
// whole takes at most `max_wrong_codes` of them per `wrong_code_window`; beyond that
// every attempt is refused unchecked (ResourceExhausted) until the window has moved on.
// The budget is node-wide because the web app has no trustworthy way to tell callers
// apart; at the defaults (20 per 10 minutes) finding one of a thousand live codes takes
// about 10^11 years of guessing.
//
// Thread-safe. Redemptions and issues run one at a time (they are rare), so a code
// cannot be used twice by two redemptions racing.
//
// Keys: ("invite", SHA-256(code))              -> hie.v1.StoredInvite
//       ("invite-of", patient id, SHA-256(code)) -> ""  (a patient's invitations)
#ifndef HIE_NODE_DOMAIN_INVITES_H_
#define HIE_NODE_DOMAIN_INVITES_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"

namespace hie::node {

struct InviteOptions {
  absl::Duration lifetime = absl::Hours(72);
  // At least 1.
  int max_live_per_patient = 1;
  // Wrong codes taken node-wide per window before attempts are refused unchecked (>= 1).
  int max_wrong_codes = 20;
  absl::Duration wrong_code_window = absl::Minutes(10);
};

// An invitation as issued: the code (shown once, never stored) and until when it works.
struct IssuedInvite {
  std::string code;  // "XXXX-XXXX-XXXX"
  absl::Time expires_at;
};

// What a redemption learns of its invitation.
struct Invite {
  std::string patient_id;
  std::string issued_by;
  absl::Time issued_at;
  absl::Time expires_at;
};

class Invites {
 public:
  // `store` and `clock` are not owned and must outlive the invites.
  // Errors: InvalidArgument for options out of range.
  static absl::StatusOr<std::unique_ptr<Invites>> Open(store::KvStore* store, const Clock* clock,
                                                       InviteOptions options = {});

  Invites(const Invites&) = delete;
  Invites& operator=(const Invites&) = delete;

  // A new invitation for `patient_id` by `issued_by` (a login); durable when it returns.
  // Expired invitations of the patient, and the oldest live ones beyond
  // max_live_per_patient - 1, are dropped in the same write.
  // Errors: InvalidArgument for an empty patient id or issuer; Internal if no random
  // bytes; the store's.
  absl::StatusOr<IssuedInvite> Issue(absl::string_view patient_id, absl::string_view issued_by);

  // Uses the invitation `code` (as typed): calls `use` with it and, if `use` returns OK,
  // deletes it (synced) before returning OK. If `use` fails, the invitation stays
  // usable and its error is returned (e.g. a login already taken: the patient tries
  // another).
  // Errors: Unauthenticated for a code that is wrong, used or expired (the same
  // refusal for each, counted against the node's budget); ResourceExhausted while the
  // budget is spent; DataLoss for a stored invitation that does not parse; the store's.
  absl::Status Redeem(absl::string_view code,
                      const std::function<absl::Status(const Invite&)>& use);

  // The invitations of `patient_id` still live now, oldest first (what the front desk
  // may want to know before issuing another). Errors: the store's; DataLoss.
  absl::StatusOr<std::vector<Invite>> LiveFor(absl::string_view patient_id) const;

  // `typed` without spaces and dashes, in upper case: the form codes are hashed in.
  static std::string NormalizeCode(absl::string_view typed);

 private:
  Invites(store::KvStore* store, const Clock* clock, InviteOptions options)
      : store_(store), clock_(clock), options_(options) {}

  // Counts a refused code at `now`.
  void CountWrongCode(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the wrong-code budget is spent at `now` (forgets failures outside the window).
  bool BudgetSpent(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::KvStore* const store_;
  const Clock* const clock_;
  const InviteOptions options_;

  absl::Mutex mu_;
  // When each wrong code of the current window came, oldest first.
  std::deque<absl::Time> wrong_codes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_INVITES_H_
