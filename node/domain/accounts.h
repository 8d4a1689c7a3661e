// The node's local accounts: the people who sign in to its web app (the practice's
// clinicians, front desk, admins, and its patients), kept in the node's store so that
// they, their lockouts and their second factors survive restarts.
//
// Passwords are kept as argon2id hashes (libsodium crypto_pwhash_str; the string holds
// the algorithm, its limits and a random salt). The default limits are libsodium's
// "interactive" ones, 64 MiB and 2 passes (about 0.1 s on one core): the node runs
// beside the practice's EMR on the practice's own server, and the "moderate" limits
// (256 MiB, 3 passes, about 0.7 s) would make a morning's sign-ins, or an attacker's
// guesses, cost a gigabyte and seconds of latency. Interactive is libsodium's choice
// for online sign-in and is above OWASP's argon2id minimum (19 MiB, 2 passes). At most
// `max_concurrent_hashes` hashes run at once, which bounds the memory they take. A hash
// made with other limits than the current ones is replaced at the next sign-in.
//
// The password policy (CheckPasswordPolicy) follows NIST SP 800-63B: a length, not the
// user's own names, not a well-known password; no composition rules.
//
// Sign-in (Authenticate) refuses precisely but never says whether a login exists: an
// unknown login and a wrong password give the same refusal after the same work (an
// argon2id verification against a decoy hash, and a synced store write), and unknown
// logins lock out exactly as accounts do (that state is kept in memory, bounded).
// After `lockout_threshold` consecutive failures an account is locked for
// `lockout_base`, doubling with each further failure up to `lockout_cap`; attempts
// while locked are refused unchecked and not counted; a successful sign-in, Enable and
// ResetPassword clear the count. A wrong second-factor code counts as a failure.
//
// TOTP second factor (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits, one step of clock
// drift either way): EnrolTotp hands out a fresh 20-byte secret, which is required at
// sign-in only once ConfirmTotp has seen a first code from it. A code is accepted once:
// the last step accepted is remembered and only a later one is accepted after it. The
// secrets are kept in the store as they are (they must be, to compute codes): the
// node's data directory is as secret as the records in it.
//
// Thread-safe. Operations on one login run one at a time (a sign-in and an admin's
// change to the same account cannot lose each other's update); different logins run
// in parallel.
//
// Keys: ("account", login) -> hie.v1.StoredAccount
#ifndef HIE_NODE_DOMAIN_ACCOUNTS_H_
#define HIE_NODE_DOMAIN_ACCOUNTS_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "proto/hie/v1/account.pb.h"

namespace hie::node {

// What a person may do in the node's web app.
enum class UserRole { kClinician, kFrontDesk, kPracticeAdmin, kPatient };

// "clinician", "front-desk", "practice-admin", "patient".
absl::string_view UserRoleName(UserRole role);

// The role as the stored account and the Users service write it (hie.v1.UserRole), and
// back: nullopt for USER_ROLE_UNSPECIFIED or a value this build does not know.
hie::v1::UserRole UserRoleToProto(UserRole role);
std::optional<UserRole> UserRoleFromProto(hie::v1::UserRole role);
// The inverse of RoleName. Errors: InvalidArgument naming the four roles.
absl::StatusOr<UserRole> ParseUserRole(absl::string_view name);

// An account as callers see it: no password hash, no TOTP secret.
struct Account {
  std::string login;  // lower case
  std::string display_name;
  UserRole role = UserRole::kClinician;
  // kPatient only: the practice's local Patient id this person is (what a patient may
  // see is their own record: this id's, and what the exchange links to it).
  std::string patient_id;
  bool disabled = false;
  // The password was set by an administrator (Create with must_change_password, or
  // ResetPassword): the web app must have the user choose their own (ChangePassword)
  // before anything else.
  bool must_change_password = false;
  // Sign-in needs an authenticator code.
  bool totp_enabled = false;
  absl::Time created_at;
  absl::Time password_changed_at;
  std::optional<absl::Time> last_sign_in;
  // Consecutive failed sign-ins since the last successful one.
  int failed_attempts = 0;
  // Set while a lockout is in force (as of when the account was read).
  std::optional<absl::Time> locked_until;
};

// What Create takes.
struct NewAccount {
  // 1 to 64 of a-z 0-9 . _ - @, starting with a letter or digit; upper case is folded.
  std::string login;
  // 1 to 128 bytes of UTF-8, no control characters.
  std::string display_name;
  UserRole role = UserRole::kClinician;
  // Required for kPatient, refused for the other roles.
  std::string patient_id;
  // The initial password was chosen by an administrator: the user must change it at
  // their first sign-in.
  bool must_change_password = true;
};

// How a person's authenticator learns a new secret: type it (base32) or scan the URI
// (as a QR code).
struct TotpEnrolment {
  std::string secret_base32;  // 32 characters
  // otpauth://totp/ISSUER:LOGIN?secret=...&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
  std::string otpauth_uri;
};

// Why a sign-in was refused.
enum class SignInRefusal {
  kNone,
  // An unknown login or a wrong password: the caller cannot tell which, nor can anyone.
  kBadCredentials,
  // Too many failures: nothing is checked before locked_until.
  kLocked,
  // The password is right, but an administrator disabled the account.
  kDisabled,
  // The password set by a reset was not changed in time; an administrator must reset
  // it again.
  kPasswordExpired,
  // The password is right; the account needs its authenticator's code.
  kTotpRequired,
  // The authenticator code is wrong, from outside the window, or already used.
  kTotpWrong,
};

struct SignInResult {
  SignInRefusal refusal = SignInRefusal::kNone;
  // The account signed in to (refusal == kNone only).
  Account account;
  // Set when the account (or the unknown login) is locked now: with kLocked, and with
  // the failure that locked it.
  std::optional<absl::Time> locked_until;

  bool ok() const { return refusal == SignInRefusal::kNone; }
  // One line for the person signing in ("Wrong login or password.", "Too many failed
  // sign-ins: try again after 2026-03-01 10:15 UTC."...); empty when ok.
  std::string Message() const;
};

// The cost of each password hash (libsodium crypto_pwhash opslimit and memlimit).
struct PasswordHashLimits {
  uint64_t ops = 0;
  size_t mem_bytes = 0;

  // crypto_pwhash_OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE: 2 passes, 64 MiB.
  static PasswordHashLimits Interactive();
  // crypto_pwhash_OPSLIMIT_MODERATE / MEMLIMIT_MODERATE: 3 passes, 256 MiB.
  static PasswordHashLimits Moderate();
  // The least libsodium allows (1 pass, 8 KiB): for tests only, never for people.
  static PasswordHashLimits MinimumForTest();
};

struct AccountsOptions {
  PasswordHashLimits hash_limits = PasswordHashLimits::Interactive();
  // Hashes computed at once (each takes hash_limits.mem_bytes); more wait their turn.
  int max_concurrent_hashes = 4;
  // Consecutive failures before the first lock, its length, and the longest lock.
  int lockout_threshold = 5;
  absl::Duration lockout_base = absl::Minutes(1);
  absl::Duration lockout_cap = absl::Hours(1);
  // How long a password set by ResetPassword works before it must have been changed.
  absl::Duration temporary_password_lifetime = absl::Hours(72);
  // The issuer an authenticator app shows beside the login ("hie org-a").
  std::string totp_issuer = "hie";
  // Unknown logins whose failures are remembered (see above); the oldest is forgotten
  // beyond this.
  size_t max_unknown_logins = 10000;
  // Called by Create for a patient account: an error refuses the account with that
  // error (e.g. NotFound when the practice holds no Patient with the id). Null: every
  // id is taken.
  std::function<absl::Status(absl::string_view patient_id)> check_patient;
  // Called (outside every lock) after an account is disabled or its password reset or
  // changed: every session of `login` must end (Sessions::EndAllFor). Null: none.
  std::function<void(absl::string_view login)> end_sessions;
};

// The password policy: at least 12 characters (code points) and at most 1024 bytes;
// neither the login nor the display name, nor containing either (ignoring case); not
// one of the most common passwords, nor one character repeated. Errors:
// InvalidArgument, "password: " and what to do, for a person to read.
absl::Status CheckPasswordPolicy(absl::string_view password, absl::string_view login,
                                 absl::string_view display_name);

class Accounts {
 public:
  // `store` and `clock` are not owned and must outlive the accounts. Computes the decoy
  // hash (one hash's time). Errors: InvalidArgument for limits libsodium refuses or
  // lockout settings out of range; Internal if libsodium cannot start.
  static absl::StatusOr<std::unique_ptr<Accounts>> Open(store::KvStore* store, Clock* clock,
                                                        AccountsOptions options = {});

  Accounts(const Accounts&) = delete;
  Accounts& operator=(const Accounts&) = delete;

  // Creates an account with `password` (held to the policy). Durable when it returns.
  // Errors: InvalidArgument naming the field (login, display_name, patient_id,
  // password); AlreadyExists if the login is taken; check_patient's error.
  absl::StatusOr<Account> Create(const NewAccount& account, absl::string_view password);

  // Errors: NotFound for an unknown login; DataLoss if its entry does not parse.
  absl::StatusOr<Account> Get(absl::string_view login) const;
  // Every account, ordered by login.
  absl::StatusOr<std::vector<Account>> List() const;

  // Disabled accounts cannot sign in; their sessions end. Enable also lifts a lockout.
  // Both are idempotent. Errors: NotFound.
  absl::StatusOr<Account> Disable(absl::string_view login);
  absl::StatusOr<Account> Enable(absl::string_view login);

  // By an administrator, for a user who forgot theirs: sets a new random password
  // (16 characters of a-z 2-9, about 80 bits, in groups of four) and returns it, once.
  // It works for temporary_password_lifetime and must be changed at the next sign-in;
  // the lockout is lifted and the account's sessions end. The second factor stays.
  // Errors: NotFound.
  absl::StatusOr<std::string> ResetPassword(absl::string_view login);

  // By the user: `current` must be their password (a wrong one counts as a failed
  // sign-in), `replacement` must meet the policy and differ from it. Clears
  // must_change_password; the account's sessions end (the web app starts a new one).
  // Errors: NotFound; FailedPrecondition while locked or disabled; Unauthenticated for
  // a wrong current password; InvalidArgument for the replacement.
  absl::Status ChangePassword(absl::string_view login, absl::string_view current,
                              absl::string_view replacement);

  // Starts (or restarts) enrolment of an authenticator: a new secret, kept pending
  // until ConfirmTotp. A confirmed one stays required until then. By the user
  // themself (the web app), `current_password` is given and must be theirs: a session
  // alone must not be enough to take over the second factor; a wrong one counts as a
  // failed sign-in. Errors: NotFound; FailedPrecondition for a disabled or locked
  // account; Unauthenticated for a wrong current password.
  absl::StatusOr<TotpEnrolment> EnrolTotp(
      absl::string_view login, std::optional<absl::string_view> current_password = std::nullopt);
  // `code` from the pending secret (now, or one step either side) makes it the
  // account's second factor; that code is then used up. Errors: NotFound;
  // FailedPrecondition if no enrolment is pending; InvalidArgument if the code does not
  // match.
  absl::Status ConfirmTotp(absl::string_view login, absl::string_view code);
  // Removes the second factor and any pending enrolment (a lost phone); idempotent.
  // Errors: NotFound.
  absl::Status RemoveTotp(absl::string_view login);

  // Signs in: the refusal is in the result (see SignInRefusal). `totp_code` is ignored
  // for accounts without a second factor, and may be empty to learn whether one is
  // needed (kTotpRequired, not counted as a failure). Takes about one hash's time
  // whenever a password is checked. Errors (not refusals): the store's, e.g. when a
  // failure cannot be recorded; then nobody is signed in.
  absl::StatusOr<SignInResult> Authenticate(absl::string_view login, absl::string_view password,
                                            absl::string_view totp_code = "");

 private:
  class LoginSlot;
  class HashSlot;
  struct LockState {
    uint32_t failures = 0;
    std::optional<absl::Time> locked_until;
  };

  Accounts(store::KvStore* store, Clock* clock, AccountsOptions options);

  absl::StatusOr<hie::v1::StoredAccount> Load(absl::string_view login) const;
  absl::Status Save(const hie::v1::StoredAccount& account);
  absl::StatusOr<std::string> Hash(absl::string_view password);
  bool Verify(const std::string& hash, absl::string_view password);
  // OK if `password` is `stored`'s; otherwise the failure is counted (and saved) and the
  // answer is Unauthenticated, or FailedPrecondition while the account is locked.
  absl::Status CheckCurrentPassword(hie::v1::StoredAccount& stored, absl::string_view password,
                                    absl::Time now);
  // Counts a failure in `state` at `now`; returns the lock it sets, if any.
  std::optional<absl::Time> RecordFailure(LockState& state, absl::Time now) const;
  absl::StatusOr<SignInResult> AuthenticateUnknown(const std::string& login,
                                                   absl::string_view password, absl::Time now);
  Account ToAccount(const hie::v1::StoredAccount& stored, absl::Time now) const;
  // Load, `change`, Save under the login's slot; then end_sessions if `end_sessions`.
  absl::StatusOr<Account> Update(
      absl::string_view login, bool end_sessions,
      const std::function<absl::Status(hie::v1::StoredAccount&)>& change);

  store::KvStore* const store_;
  Clock* const clock_;
  const AccountsOptions options_;
  std::string decoy_hash_;

  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  // Logins with an operation in progress.
  absl::flat_hash_set<std::string> busy_ ABSL_GUARDED_BY(mu_);
  int hashing_ ABSL_GUARDED_BY(mu_) = 0;
  // Failures of logins that have no account, oldest first in unknown_order_.
  absl::flat_hash_map<std::string, LockState> unknown_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> unknown_order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_ACCOUNTS_H_
