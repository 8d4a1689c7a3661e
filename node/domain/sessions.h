// Server-side sessions of the node's web app: who is signed in, in which browser.
//
// A session id is 32 bytes from the CSPRNG (libsodium), base64url without padding (43
// characters): the browser holds it in a cookie and the server looks the session up by
// it. Only the id's SHA-256 is kept, so the table holds nothing a browser could
// present. Every sign-in gets a new id (Start); there is no way to choose one, so an
// id planted in a browser before sign-in (session fixation) is worthless, and Start
// ends the one the browser came with. Each session has its own CSRF token (another
// 32 random bytes) that state-changing forms must echo (CheckCsrf).
//
// A session ends on logout (End), after `idle_timeout` without a Touch, and
// `absolute_timeout` after it started however active it is; and all of one login's
// end when the account is disabled or its password is reset or changed (EndAllFor,
// called by the accounts: AccountsOptions::end_sessions).
//
// Sessions live in memory only: a restart of hie-node signs everyone out. That is
// deliberate: nothing that lets a browser act as a user is ever written to disk.
// Memory is bounded: at most `max_sessions` at once (expired ones are swept out first;
// beyond that Start refuses) and `max_sessions_per_login` per login (the oldest ends).
//
// Thread-safe.
#ifndef HIE_NODE_DOMAIN_SESSIONS_H_
#define HIE_NODE_DOMAIN_SESSIONS_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "node/domain/accounts.h"

namespace hie::node {

struct SessionOptions {
  // A session not touched for this long ends.
  absl::Duration idle_timeout = absl::Minutes(15);
  // A session ends this long after sign-in, however active.
  absl::Duration absolute_timeout = absl::Hours(8);
  // Live sessions at once, and per login.
  size_t max_sessions = 10000;
  size_t max_sessions_per_login = 8;
};

struct Session {
  // The cookie value: 43 base64url characters.
  std::string id;
  // What state-changing requests of this session must carry (43 base64url characters).
  std::string csrf_token;
  // The account as it was at sign-in (its role, patient id, must_change_password).
  Account account;
  absl::Time started_at;
  absl::Time last_seen;
  // When it ends unless touched before: the earlier of last_seen + idle_timeout and
  // started_at + absolute_timeout.
  absl::Time expires_at;
};

class Sessions {
 public:
  // `clock` is not owned and must outlive the sessions. Errors: InvalidArgument unless
  // 0 < idle_timeout <= absolute_timeout and both maxima are at least 1.
  static absl::StatusOr<std::unique_ptr<Sessions>> Create(Clock* clock,
                                                          SessionOptions options = {});

  Sessions(const Sessions&) = delete;
  Sessions& operator=(const Sessions&) = delete;

  // Signs `account` in: a new session with a new id and CSRF token. `replaces` is the
  // session id the browser came with, if any: it ends (whoever it belonged to).
  // Errors: ResourceExhausted when max_sessions are live.
  absl::StatusOr<Session> Start(const Account& account, absl::string_view replaces = "");

  // The live session with `id`, its idle timer renewed (a request from its browser).
  // Errors: Unauthenticated, saying whether it is unknown (never issued, ended, or
  // before a restart) or expired, and which timeout ended it.
  absl::StatusOr<Session> Touch(absl::string_view id);
  // The same without renewing the idle timer (a page that polls must not keep a
  // session alive).
  absl::StatusOr<Session> Lookup(absl::string_view id);

  // OK if `token` is the CSRF token of the live session `id` (compared in constant
  // time). Errors: Unauthenticated as for Lookup; PermissionDenied for a missing or
  // wrong token.
  absl::Status CheckCsrf(absl::string_view id, absl::string_view token);

  // Logout: the session is gone on the server. False if there was none.
  bool End(absl::string_view id);
  // Ends every session of `login`; returns how many.
  size_t EndAllFor(absl::string_view login);

  // Live sessions (some may have expired and not yet been swept).
  size_t size() const;

 private:
  Sessions(Clock* clock, SessionOptions options) : clock_(clock), options_(options) {}
  // Removes `key`'s entry. REQUIRES: it exists.
  void Remove(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SweepExpired(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Session> Find(absl::string_view id, bool touch);
  absl::Time ExpiresAt(const Session& session) const;

  Clock* const clock_;
  const SessionOptions options_;
  mutable absl::Mutex mu_;
  // By the SHA-256 of the session id; the Session's id is left empty.
  absl::flat_hash_map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
  // Login -> the keys of its sessions.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> by_login_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_SESSIONS_H_
