#include "node/domain/sessions.h"

#include <sodium.h>

#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/hash.h"

namespace hie::node {
namespace {

constexpr size_t kIdBytes = 32;

std::string RandomToken() {
  unsigned char bytes[kIdBytes];
  randombytes_buf(bytes, sizeof(bytes));
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

std::string KeyOf(absl::string_view id) { return crypto::Sha256(id); }

std::string Describe(absl::Duration d) { return absl::FormatDuration(d); }

}  // namespace

absl::StatusOr<std::unique_ptr<Sessions>> Sessions::Create(Clock* clock, SessionOptions options) {
  if (options.idle_timeout <= absl::ZeroDuration() ||
      options.absolute_timeout < options.idle_timeout) {
    return absl::InvalidArgumentError(
        absl::StrCat("session timeouts: need 0 < idle (", Describe(options.idle_timeout),
                     ") <= absolute (", Describe(options.absolute_timeout), ")"));
  }
  if (options.max_sessions < 1 || options.max_sessions_per_login < 1) {
    return absl::InvalidArgumentError(
        "session limits: max_sessions and max_sessions_per_login "
        "must be at least 1");
  }
  if (sodium_init() < 0) return absl::InternalError("libsodium could not start");
  return std::unique_ptr<Sessions>(new Sessions(clock, options));
}

absl::Time Sessions::ExpiresAt(const Session& session) const {
  return std::min(session.last_seen + options_.idle_timeout,
                  session.started_at + options_.absolute_timeout);
}

void Sessions::Remove(const std::string& key) {
  auto it = sessions_.find(key);
  auto login = by_login_.find(it->second.account.login);
  if (login != by_login_.end()) {
    login->second.erase(key);
    if (login->second.empty()) by_login_.erase(login);
  }
  sessions_.erase(it);
}

void Sessions::SweepExpired(absl::Time now) {
  std::vector<std::string> expired;
  for (const auto& [key, session] : sessions_) {
    if (session.expires_at <= now) expired.push_back(key);
  }
  for (const std::string& key : expired) Remove(key);
}

absl::StatusOr<Session> Sessions::Start(const Account& account, absl::string_view replaces) {
  const absl::Time now = clock_->Now();
  Session session;
  session.id = RandomToken();
  session.csrf_token = RandomToken();
  session.account = account;
  session.started_at = now;
  session.last_seen = now;
  session.expires_at = ExpiresAt(session);
  const std::string key = KeyOf(session.id);

  absl::MutexLock lock(&mu_);
  if (!replaces.empty()) {
    if (auto it = sessions_.find(KeyOf(replaces)); it != sessions_.end()) Remove(it->first);
  }
  // The login's own limit: its oldest session gives way.
  if (auto mine = by_login_.find(account.login); mine != by_login_.end()) {
    std::vector<std::string> keys(mine->second.begin(), mine->second.end());
    std::sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) {
      return sessions_.at(a).started_at < sessions_.at(b).started_at;
    });
    for (size_t i = 0; i + options_.max_sessions_per_login <= keys.size(); ++i) Remove(keys[i]);
  }
  if (sessions_.size() >= options_.max_sessions) SweepExpired(now);
  if (sessions_.size() >= options_.max_sessions) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the node has ", sessions_.size(),
                     " people signed in, as many as it allows: try again later"));
  }
  Session stored = session;
  stored.id.clear();
  sessions_.emplace(key, std::move(stored));
  by_login_[account.login].insert(key);
  return session;
}

absl::StatusOr<Session> Sessions::Find(absl::string_view id, bool touch) {
  const absl::Time now = clock_->Now();
  const std::string key = KeyOf(id);
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) {
    return absl::UnauthenticatedError(
        "no such session: signed out, ended by an administrator, or the node restarted");
  }
  Session& session = it->second;
  if (session.expires_at <= now) {
    const bool absolute = session.started_at + options_.absolute_timeout <= now;
    Remove(key);
    return absl::UnauthenticatedError(
        absolute ? absl::StrCat("session expired: ", Describe(options_.absolute_timeout),
                                " since sign-in")
                 : absl::StrCat("session expired: ", Describe(options_.idle_timeout),
                                " without activity"));
  }
  if (touch) {
    session.last_seen = now;
    session.expires_at = ExpiresAt(session);
  }
  Session out = session;
  out.id = std::string(id);
  return out;
}

absl::StatusOr<Session> Sessions::Touch(absl::string_view id) { return Find(id, true); }

absl::StatusOr<Session> Sessions::Lookup(absl::string_view id) { return Find(id, false); }

absl::Status Sessions::CheckCsrf(absl::string_view id, absl::string_view token) {
  absl::StatusOr<Session> session = Lookup(id);
  if (!session.ok()) return session.status();
  const std::string& expected = session->csrf_token;
  if (token.size() != expected.size() ||
      sodium_memcmp(token.data(), expected.data(), expected.size()) != 0) {
    return absl::PermissionDeniedError(token.empty() ? "the form carries no CSRF token"
                                                     : "the form's CSRF token is wrong");
  }
  return absl::OkStatus();
}

bool Sessions::End(absl::string_view id) {
  const std::string key = KeyOf(id);
  absl::MutexLock lock(&mu_);
  if (!sessions_.contains(key)) return false;
  Remove(key);
  return true;
}

size_t Sessions::EndAllFor(absl::string_view login) {
  absl::MutexLock lock(&mu_);
  auto it = by_login_.find(login);
  if (it == by_login_.end()) return 0;
  std::vector<std::string> keys(it->second.begin(), it->second.end());
  for (const std::string& key : keys) Remove(key);
  return keys.size();
}

size_t Sessions::size() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

}  // namespace hie::node
