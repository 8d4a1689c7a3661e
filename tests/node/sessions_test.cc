// Server-side sessions: random ids, a new one at every sign-in (fixation), idle and
// absolute expiry, logout, ending every session of a login (wired to the accounts),
// CSRF tokens, and the bounds on how many live.
#include "node/domain/sessions.h"

#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/node/manual_clock.h"

namespace hie::node {
namespace {

using ::hie::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

Account User(const std::string& login, UserRole role = UserRole::kClinician) {
  Account a;
  a.login = login;
  a.display_name = "Someone " + login;
  a.role = role;
  return a;
}

class SessionsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Sessions> Make(SessionOptions options = {}) {
    auto sessions = Sessions::Create(&clock_, options);
    EXPECT_TRUE(sessions.ok()) << sessions.status();
    return sessions.ok() ? std::move(*sessions) : nullptr;
  }
  testing::ManualClock clock_{kStart};
};

TEST_F(SessionsTest, IdsAndCsrfTokensAreFreshRandom32Bytes) {
  auto sessions = Make();
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK_AND_ASSIGN(Session s, sessions->Start(User("u" + std::to_string(i))));
    EXPECT_THAT(s.id, MatchesRegex("[A-Za-z0-9_-]{43}"));
    EXPECT_THAT(s.csrf_token, MatchesRegex("[A-Za-z0-9_-]{43}"));
    EXPECT_TRUE(seen.insert(s.id).second);
    EXPECT_TRUE(seen.insert(s.csrf_token).second);
    EXPECT_EQ(s.started_at, kStart);
    EXPECT_EQ(s.expires_at, kStart + absl::Minutes(15));
  }
  EXPECT_EQ(sessions->size(), 100u);
}

TEST_F(SessionsTest, ASignInNeverKeepsTheIdTheBrowserCameWith) {
  auto sessions = Make();
  // An attacker signs in and plants their own session id in the victim's browser.
  ASSERT_OK_AND_ASSIGN(Session planted, sessions->Start(User("mallory")));
  // The victim signs in from that browser: a new id, and the planted one is gone.
  ASSERT_OK_AND_ASSIGN(Session victim, sessions->Start(User("dr.lee"), planted.id));
  EXPECT_NE(victim.id, planted.id);
  EXPECT_NE(victim.csrf_token, planted.csrf_token);
  EXPECT_THAT(sessions->Touch(planted.id), StatusIs(absl::StatusCode::kUnauthenticated));
  ASSERT_OK_AND_ASSIGN(Session found, sessions->Touch(victim.id));
  EXPECT_EQ(found.account.login, "dr.lee");
  EXPECT_EQ(found.id, victim.id);
  // An id made up by the attacker is never a session, before or after a sign-in.
  const std::string made_up(43, 'A');
  EXPECT_THAT(sessions->Touch(made_up), StatusIs(absl::StatusCode::kUnauthenticated));
  ASSERT_OK_AND_ASSIGN(Session again, sessions->Start(User("dr.lee"), made_up));
  EXPECT_NE(again.id, made_up);
  EXPECT_THAT(sessions->Touch(made_up),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no such session")));
  // Signing in again from a signed-in browser replaces that session too.
  ASSERT_OK_AND_ASSIGN(Session renewed, sessions->Start(User("dr.lee"), victim.id));
  EXPECT_THAT(sessions->Touch(victim.id), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_OK(sessions->Touch(renewed.id).status());
}

TEST_F(SessionsTest, IdleTimeoutIsRenewedByTouchNotByLookup) {
  auto sessions = Make();
  ASSERT_OK_AND_ASSIGN(Session s, sessions->Start(User("dr.lee")));
  clock_.Advance(absl::Minutes(14));
  ASSERT_OK_AND_ASSIGN(Session touched, sessions->Touch(s.id));
  EXPECT_EQ(touched.last_seen, kStart + absl::Minutes(14));
  EXPECT_EQ(touched.expires_at, kStart + absl::Minutes(29));
  clock_.Advance(absl::Minutes(14));
  ASSERT_OK_AND_ASSIGN(Session looked, sessions->Lookup(s.id));
  EXPECT_EQ(looked.expires_at, kStart + absl::Minutes(29));  // not renewed
  clock_.Advance(absl::Minutes(1));
  EXPECT_THAT(sessions->Touch(s.id),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("15m without activity")));
  // Gone for good: not "expired" a second time, unknown.
  EXPECT_THAT(sessions->Touch(s.id),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no such session")));
  EXPECT_EQ(sessions->size(), 0u);
}

TEST_F(SessionsTest, AbsoluteTimeoutEndsEvenABusySession) {
  SessionOptions options;
  options.idle_timeout = absl::Minutes(10);
  options.absolute_timeout = absl::Hours(1);
  auto sessions = Make(options);
  ASSERT_OK_AND_ASSIGN(Session s, sessions->Start(User("dr.lee")));
  for (int i = 0; i < 11; ++i) {
    clock_.Advance(absl::Minutes(5));
    ASSERT_OK_AND_ASSIGN(Session touched, sessions->Touch(s.id));
    EXPECT_LE(touched.expires_at, kStart + absl::Hours(1));
  }
  ASSERT_OK_AND_ASSIGN(Session last, sessions->Touch(s.id));
  EXPECT_EQ(last.expires_at, kStart + absl::Hours(1));
  clock_.Advance(absl::Minutes(5));  // 60 minutes in, touched 5 minutes ago
  EXPECT_THAT(sessions->Touch(s.id),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("1h since sign-in")));
}

TEST_F(SessionsTest, LogoutEndsTheSessionOnTheServer) {
  auto sessions = Make();
  ASSERT_OK_AND_ASSIGN(Session s, sessions->Start(User("dr.lee")));
  ASSERT_OK_AND_ASSIGN(Session other, sessions->Start(User("dr.lee")));
  EXPECT_TRUE(sessions->End(s.id));
  EXPECT_FALSE(sessions->End(s.id));
  EXPECT_THAT(sessions->Touch(s.id), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(sessions->CheckCsrf(s.id, s.csrf_token),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // The same user's other browser stays signed in.
  EXPECT_OK(sessions->Touch(other.id).status());
}

TEST_F(SessionsTest, EndAllForEndsEveryBrowserOfOneLogin) {
  auto sessions = Make();
  std::vector<Session> lee;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(Session s, sessions->Start(User("dr.lee")));
    lee.push_back(s);
  }
  ASSERT_OK_AND_ASSIGN(Session jane, sessions->Start(User("jane", UserRole::kPatient)));
  EXPECT_EQ(sessions->EndAllFor("dr.lee"), 3u);
  for (const Session& s : lee) {
    EXPECT_THAT(sessions->Touch(s.id), StatusIs(absl::StatusCode::kUnauthenticated));
  }
  EXPECT_OK(sessions->Touch(jane.id).status());
  EXPECT_EQ(sessions->EndAllFor("dr.lee"), 0u);
  EXPECT_EQ(sessions->size(), 1u);
}

TEST_F(SessionsTest, DisablingOrResettingAnAccountSignsItOutEverywhere) {
  const std::string dir = ::testing::TempDir() + "hie-sessions-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  {
    auto sessions = Make();
    ASSERT_OK_AND_ASSIGN(auto kv, store::KvStore::Open(dir));
    AccountsOptions options;
    options.hash_limits = PasswordHashLimits::MinimumForTest();
    options.end_sessions = [&](absl::string_view login) { sessions->EndAllFor(login); };
    ASSERT_OK_AND_ASSIGN(auto accounts, Accounts::Open(kv.get(), &clock_, options));
    NewAccount lee;
    lee.login = "dr.lee";
    lee.display_name = "Dr Ana Lee";
    lee.must_change_password = false;
    ASSERT_OK(accounts->Create(lee, "copper kettle on the hill").status());
    ASSERT_OK_AND_ASSIGN(SignInResult signed_in,
                         accounts->Authenticate("dr.lee", "copper kettle on the hill"));
    ASSERT_TRUE(signed_in.ok());
    ASSERT_OK_AND_ASSIGN(Session first, sessions->Start(signed_in.account));
    ASSERT_OK_AND_ASSIGN(Session second, sessions->Start(signed_in.account));
    EXPECT_FALSE(first.account.must_change_password);
    ASSERT_OK(accounts->Disable("dr.lee").status());
    EXPECT_THAT(sessions->Touch(first.id), StatusIs(absl::StatusCode::kUnauthenticated));
    EXPECT_THAT(sessions->Touch(second.id), StatusIs(absl::StatusCode::kUnauthenticated));

    ASSERT_OK(accounts->Enable("dr.lee").status());
    ASSERT_OK_AND_ASSIGN(Session third, sessions->Start(signed_in.account));
    ASSERT_OK(accounts->ResetPassword("dr.lee").status());
    EXPECT_THAT(sessions->Touch(third.id), StatusIs(absl::StatusCode::kUnauthenticated));
  }
  std::filesystem::remove_all(dir);
}

TEST_F(SessionsTest, CsrfTokenMustMatchItsOwnSession) {
  auto sessions = Make();
  ASSERT_OK_AND_ASSIGN(Session mine, sessions->Start(User("dr.lee")));
  ASSERT_OK_AND_ASSIGN(Session theirs, sessions->Start(User("mallory")));
  EXPECT_OK(sessions->CheckCsrf(mine.id, mine.csrf_token));
  EXPECT_THAT(sessions->CheckCsrf(mine.id, theirs.csrf_token),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("wrong")));
  EXPECT_THAT(sessions->CheckCsrf(mine.id, ""),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("no CSRF token")));
  EXPECT_THAT(sessions->CheckCsrf(mine.id, mine.csrf_token.substr(1)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // The token alone is not a session.
  EXPECT_THAT(sessions->CheckCsrf(mine.csrf_token, mine.csrf_token),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(SessionsTest, HowManyLiveIsBounded) {
  SessionOptions options;
  options.max_sessions = 3;
  options.max_sessions_per_login = 2;
  auto sessions = Make(options);
  ASSERT_OK_AND_ASSIGN(Session a1, sessions->Start(User("a")));
  clock_.Advance(absl::Seconds(1));
  ASSERT_OK_AND_ASSIGN(Session a2, sessions->Start(User("a")));
  clock_.Advance(absl::Seconds(1));
  // A login's third session ends its oldest.
  ASSERT_OK_AND_ASSIGN(Session a3, sessions->Start(User("a")));
  EXPECT_THAT(sessions->Touch(a1.id), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_OK(sessions->Touch(a2.id).status());
  EXPECT_OK(sessions->Touch(a3.id).status());
  ASSERT_OK_AND_ASSIGN(Session b1, sessions->Start(User("b")));
  // Full: a fourth person is refused...
  EXPECT_THAT(sessions->Start(User("c")),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("try again later")));
  // ...until one expires, which makes room.
  clock_.Advance(absl::Minutes(10));
  EXPECT_OK(sessions->Touch(a2.id).status());
  EXPECT_OK(sessions->Touch(a3.id).status());
  clock_.Advance(absl::Minutes(6));  // b1 idle for 16 minutes
  ASSERT_OK_AND_ASSIGN(Session c1, sessions->Start(User("c")));
  EXPECT_THAT(sessions->Touch(b1.id), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_OK(sessions->Touch(c1.id).status());
  EXPECT_EQ(sessions->size(), 3u);
}

TEST_F(SessionsTest, OptionsAreChecked) {
  SessionOptions options;
  options.idle_timeout = absl::Hours(9);
  EXPECT_THAT(Sessions::Create(&clock_, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("idle")));
  options = {};
  options.idle_timeout = absl::ZeroDuration();
  EXPECT_THAT(Sessions::Create(&clock_, options), StatusIs(absl::StatusCode::kInvalidArgument));
  options = {};
  options.max_sessions = 0;
  EXPECT_THAT(Sessions::Create(&clock_, options), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(SessionsTest, ManyThreadsAtOnce) {
  auto sessions = Make();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&sessions, t] {
      for (int i = 0; i < 200; ++i) {
        auto s = sessions->Start(User("user-" + std::to_string(t)));
        ASSERT_TRUE(s.ok());
        EXPECT_TRUE(sessions->Touch(s->id).ok());
        EXPECT_TRUE(sessions->CheckCsrf(s->id, s->csrf_token).ok());
        if (i % 2 == 0) {
          EXPECT_TRUE(sessions->End(s->id));
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  // Each login kept its last max_sessions_per_login (8) of the 100 it did not end.
  EXPECT_EQ(sessions->size(), 8u * 8u);
}

}  // namespace
}  // namespace hie::node
