// The node's local accounts: the password policy, argon2id hashing and rehashing,
// lockout with back-off (across a reopen of the store, and failing closed when the store
// cannot record a failure), admin resets, and the TOTP second factor against RFC 6238.
#include "node/domain/accounts.h"

#include <sodium.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/store/key_codec.h"
#include "common/testing/fault_env.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/domain/totp.h"
#include "tests/node/manual_clock.h"

namespace hie::node {
namespace {

using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

constexpr char kPassword[] = "copper kettle on the hill";

// Mid-way through a 30-second TOTP step (1'800'000'000 is a multiple of 30), so a test
// has 15 seconds either way before the step changes.
const absl::Time kStart = absl::FromUnixSeconds(1'800'000'015);

NewAccount Clinician(const std::string& login = "dr.lee") {
  NewAccount a;
  a.login = login;
  a.display_name = "Dr Ana Lee";
  a.role = UserRole::kClinician;
  a.must_change_password = false;
  return a;
}

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "hie-accounts-" + std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    OpenStore();
  }
  void TearDown() override {
    accounts_.reset();
    kv_.reset();
    std::filesystem::remove_all(dir_);
  }

  void OpenStore(leveldb::Env* env = nullptr) {
    store::KvStoreOptions options;
    options.env = env;
    auto kv = store::KvStore::Open(dir_, options);
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
  }

  AccountsOptions FastOptions() {
    AccountsOptions options;
    options.hash_limits = PasswordHashLimits::MinimumForTest();
    options.totp_issuer = "hie org-a";
    options.end_sessions = [this](absl::string_view login) {
      ended_.push_back(std::string(login));
    };
    return options;
  }

  void OpenAccounts(AccountsOptions options) {
    auto accounts = Accounts::Open(kv_.get(), &clock_, std::move(options));
    ASSERT_TRUE(accounts.ok()) << accounts.status();
    accounts_ = std::move(*accounts);
  }
  void OpenAccounts() { OpenAccounts(FastOptions()); }

  // Reopens the store and the accounts, as a restart of the node does.
  void Restart(AccountsOptions options) {
    accounts_.reset();
    kv_.reset();
    OpenStore();
    OpenAccounts(std::move(options));
  }

  hie::v1::StoredAccount Stored(const std::string& login) {
    auto value = kv_->Get(store::KeyBuilder().AddString("account").AddString(login).Build());
    EXPECT_TRUE(value.ok()) << value.status();
    hie::v1::StoredAccount stored;
    EXPECT_TRUE(value.ok() && stored.ParseFromString(*value));
    return stored;
  }

  SignInResult SignIn(const std::string& login, const std::string& password,
                      const std::string& code = "") {
    auto result = accounts_->Authenticate(login, password, code);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : SignInResult{};
  }

  std::string dir_;
  testing::ManualClock clock_{kStart};
  // Declared before the store, so that it outlives a store opened with it.
  testing::FaultInjectionEnv fault_env_;
  std::unique_ptr<store::KvStore> kv_;
  std::unique_ptr<Accounts> accounts_;
  std::vector<std::string> ended_;
};

TEST(PasswordPolicyTest, LengthOwnNamesCommonPasswordsAndRepeats) {
  EXPECT_OK(CheckPasswordPolicy(kPassword, "dr.lee", "Dr Ana Lee"));
  EXPECT_THAT(CheckPasswordPolicy("short pass", "dr.lee", "Dr Ana Lee"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("at least 12 characters (this one has 10)")));
  // Characters, not bytes: eleven two-byte letters are eleven characters.
  EXPECT_THAT(CheckPasswordPolicy("ñññññññññññ", "dr.lee", "Dr Ana Lee"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("this one has 11")));
  EXPECT_OK(CheckPasswordPolicy("ñandú pequeño", "dr.lee", "Dr Ana Lee"));
  EXPECT_THAT(CheckPasswordPolicy(std::string(1025, 'x') + "y", "dr.lee", "Dr Ana Lee"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 1024 bytes")));
  EXPECT_THAT(CheckPasswordPolicy("ana.lee.at.work", "ana.lee.at.work", "Dr Ana Lee"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("login or your name")));
  EXPECT_THAT(CheckPasswordPolicy("Oyelaran Jane Marie", "jane", "Oyelaran Jane Marie"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("login or your name")));
  // Containing the login, or a long part of the name, ignoring case.
  EXPECT_THAT(CheckPasswordPolicy("my-DR.LEE-password", "dr.lee", "Dr Ana Lee"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("login or your name")));
  EXPECT_THAT(CheckPasswordPolicy("oyelaran is my name", "jane", "Jane Oyelaran"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("login or your name")));
  for (const char* common : {"password1234", "Password1234", "123456789012", "qwerty123456",
                             "iloveyou1234", "1qaz2wsx3edc"}) {
    EXPECT_THAT(CheckPasswordPolicy(common, "dr.lee", "Dr Ana Lee"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("most common passwords")))
        << common;
  }
  EXPECT_THAT(CheckPasswordPolicy("zzzzzzzzzzzzzzzz", "dr.lee", "Dr Ana Lee"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("one character repeated")));
}

TEST(RoleTest, NamesRoundTrip) {
  for (UserRole role :
       {UserRole::kClinician, UserRole::kFrontDesk, UserRole::kPracticeAdmin, UserRole::kPatient}) {
    ASSERT_OK_AND_ASSIGN(UserRole parsed, ParseUserRole(UserRoleName(role)));
    EXPECT_EQ(parsed, role);
  }
  EXPECT_THAT(ParseUserRole("doctor"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("practice-admin")));
}

TEST_F(AccountsTest, CreateValidatesEveryFieldAndKeepsLoginsUnique) {
  AccountsOptions options = FastOptions();
  options.check_patient = [](absl::string_view id) {
    return id == "p-1" ? absl::OkStatus()
                       : absl::NotFoundError(absl::StrCat("patient_id: no Patient/", id));
  };
  OpenAccounts(options);
  NewAccount bad = Clinician("-lee");
  EXPECT_THAT(accounts_->Create(bad, kPassword),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("login:")));
  bad = Clinician("dr lee");
  EXPECT_THAT(accounts_->Create(bad, kPassword),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("login:")));
  bad = Clinician();
  bad.display_name = "  ";
  EXPECT_THAT(accounts_->Create(bad, kPassword),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("display_name:")));
  bad.display_name = "Dr\nLee";
  EXPECT_THAT(accounts_->Create(bad, kPassword),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("control characters")));
  bad = Clinician();
  bad.patient_id = "p-1";
  EXPECT_THAT(accounts_->Create(bad, kPassword),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("only a patient account")));
  NewAccount patient;
  patient.login = "jane";
  patient.display_name = "Jane Oyelaran";
  patient.role = UserRole::kPatient;
  EXPECT_THAT(accounts_->Create(patient, kPassword),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("patient_id:")));
  patient.patient_id = "p-2";
  EXPECT_THAT(accounts_->Create(patient, kPassword),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no Patient/p-2")));
  patient.patient_id = "p-1";
  ASSERT_OK_AND_ASSIGN(Account jane, accounts_->Create(patient, kPassword));
  EXPECT_EQ(jane.role, UserRole::kPatient);
  EXPECT_EQ(jane.patient_id, "p-1");
  EXPECT_TRUE(jane.must_change_password);
  EXPECT_EQ(jane.created_at, kStart);
  EXPECT_THAT(accounts_->Create(Clinician(), "password1234"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("password:")));

  // Upper case is folded: Dr.Lee and dr.lee are one login.
  ASSERT_OK_AND_ASSIGN(Account lee, accounts_->Create(Clinician("Dr.Lee"), kPassword));
  EXPECT_EQ(lee.login, "dr.lee");
  EXPECT_THAT(accounts_->Create(Clinician("dr.lee"), kPassword),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("taken")));
  ASSERT_OK_AND_ASSIGN(Account got, accounts_->Get("DR.LEE"));
  EXPECT_EQ(got.display_name, "Dr Ana Lee");
  EXPECT_THAT(accounts_->Get("nobody"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(std::vector<Account> all, accounts_->List());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].login, "dr.lee");
  EXPECT_EQ(all[1].login, "jane");
}

TEST_F(AccountsTest, PasswordsAreArgon2idHashesThatVerify) {
  // The limits hie-node runs with.
  AccountsOptions options = FastOptions();
  options.hash_limits = PasswordHashLimits::Interactive();
  OpenAccounts(options);
  ASSERT_OK(accounts_->Create(Clinician("a.one"), kPassword).status());
  ASSERT_OK(accounts_->Create(Clinician("a.two"), kPassword).status());
  const std::string one = Stored("a.one").password_hash();
  const std::string two = Stored("a.two").password_hash();
  EXPECT_THAT(one, StartsWith("$argon2id$v=19$m=65536,t=2,p=1$"));
  EXPECT_EQ(one.find(kPassword), std::string::npos);
  // Salted: one password, two hashes.
  EXPECT_NE(one, two);
  EXPECT_EQ(crypto_pwhash_str_verify(one.c_str(), kPassword, strlen(kPassword)), 0);

  SignInResult ok = SignIn("a.one", kPassword);
  EXPECT_TRUE(ok.ok()) << ok.Message();
  EXPECT_EQ(ok.account.login, "a.one");
  EXPECT_EQ(ok.account.last_sign_in, kStart);
  EXPECT_EQ(SignIn("a.one", "copper kettle on the hilL").refusal, SignInRefusal::kBadCredentials);
  EXPECT_EQ(SignIn("a.one", "").refusal, SignInRefusal::kBadCredentials);
}

TEST_F(AccountsTest, AHashMadeWithOlderLimitsIsReplacedAtSignIn) {
  OpenAccounts();  // 1 pass over 8 KiB
  ASSERT_OK(accounts_->Create(Clinician(), kPassword).status());
  EXPECT_THAT(Stored("dr.lee").password_hash(), StartsWith("$argon2id$v=19$m=8,t=1,p=1$"));

  AccountsOptions stronger = FastOptions();
  stronger.hash_limits = {2, 16 << 10};
  Restart(stronger);
  // A refused sign-in does not rehash.
  EXPECT_EQ(SignIn("dr.lee", "not the password at all").refusal, SignInRefusal::kBadCredentials);
  EXPECT_THAT(Stored("dr.lee").password_hash(), StartsWith("$argon2id$v=19$m=8,t=1,p=1$"));
  EXPECT_TRUE(SignIn("dr.lee", kPassword).ok());
  const std::string rehashed = Stored("dr.lee").password_hash();
  EXPECT_THAT(rehashed, StartsWith("$argon2id$v=19$m=16,t=2,p=1$"));
  EXPECT_EQ(crypto_pwhash_str_needs_rehash(rehashed.c_str(), 2, 16 << 10), 0);
  EXPECT_TRUE(SignIn("dr.lee", kPassword).ok());
  EXPECT_EQ(Stored("dr.lee").password_hash(), rehashed);
}

TEST_F(AccountsTest, LockoutDoublesUpToTheCapAndASuccessResetsIt) {
  OpenAccounts();
  ASSERT_OK(accounts_->Create(Clinician(), kPassword).status());
  for (int i = 1; i <= 4; ++i) {
    SignInResult r = SignIn("dr.lee", "wrong password number " + std::to_string(i));
    EXPECT_EQ(r.refusal, SignInRefusal::kBadCredentials);
    EXPECT_FALSE(r.locked_until.has_value()) << i;
  }
  // The fifth failure locks for a minute; it says so.
  SignInResult fifth = SignIn("dr.lee", "wrong password number 5");
  EXPECT_EQ(fifth.refusal, SignInRefusal::kBadCredentials);
  ASSERT_TRUE(fifth.locked_until.has_value());
  EXPECT_EQ(*fifth.locked_until, kStart + absl::Minutes(1));
  EXPECT_THAT(fifth.Message(), HasSubstr("try again after 2027-01-15"));

  // While locked even the right password is refused, unchecked and uncounted.
  clock_.Advance(absl::Seconds(59));
  SignInResult locked = SignIn("dr.lee", kPassword);
  EXPECT_EQ(locked.refusal, SignInRefusal::kLocked);
  EXPECT_EQ(locked.locked_until, kStart + absl::Minutes(1));
  EXPECT_THAT(locked.Message(), HasSubstr("Too many failed sign-ins"));
  ASSERT_OK_AND_ASSIGN(Account during, accounts_->Get("dr.lee"));
  EXPECT_EQ(during.failed_attempts, 5);
  EXPECT_EQ(during.locked_until, kStart + absl::Minutes(1));

  // Each further failure doubles the lock: 2, 4, 8, 16, 32 minutes, then the hour cap.
  absl::Duration expected = absl::Minutes(1);
  for (int failure = 6; failure <= 12; ++failure) {
    clock_.Advance(expected);
    expected = std::min(expected * 2, absl::Hours(1));
    SignInResult r = SignIn("dr.lee", "still the wrong password");
    ASSERT_EQ(r.refusal, SignInRefusal::kBadCredentials) << failure;
    ASSERT_TRUE(r.locked_until.has_value());
    EXPECT_EQ(*r.locked_until - clock_.Now(), expected) << failure;
  }
  EXPECT_EQ(expected, absl::Hours(1));

  clock_.Advance(absl::Hours(1));
  SignInResult ok = SignIn("dr.lee", kPassword);
  ASSERT_TRUE(ok.ok()) << ok.Message();
  EXPECT_EQ(ok.account.failed_attempts, 0);
  EXPECT_FALSE(ok.account.locked_until.has_value());
  // Counting starts again from nothing.
  for (int i = 1; i <= 4; ++i) {
    EXPECT_FALSE(SignIn("dr.lee", "wrong once more please").locked_until.has_value());
  }
}

TEST_F(AccountsTest, TheLockSurvivesARestart) {
  OpenAccounts();
  ASSERT_OK(accounts_->Create(Clinician(), kPassword).status());
  for (int i = 0; i < 5; ++i) SignIn("dr.lee", "a wrong password here");
  Restart(FastOptions());
  SignInResult r = SignIn("dr.lee", kPassword);
  EXPECT_EQ(r.refusal, SignInRefusal::kLocked);
  EXPECT_EQ(r.locked_until, kStart + absl::Minutes(1));
  // The count survives too: the next failure after the lock doubles it.
  clock_.Advance(absl::Minutes(1));
  SignInResult sixth = SignIn("dr.lee", "a wrong password here");
  EXPECT_EQ(sixth.locked_until, clock_.Now() + absl::Minutes(2));
}

TEST_F(AccountsTest, AnUnknownLoginIsRefusedExactlyAsAWrongPassword) {
  OpenAccounts();
  ASSERT_OK(accounts_->Create(Clinician(), kPassword).status());
  for (int i = 1; i <= 7; ++i) {
    SignInResult known = SignIn("dr.lee", "guess number " + std::to_string(i));
    SignInResult unknown = SignIn("dr.who", "guess number " + std::to_string(i));
    EXPECT_EQ(known.refusal, unknown.refusal) << i;
    EXPECT_EQ(known.locked_until, unknown.locked_until) << i;
    EXPECT_EQ(known.Message(), unknown.Message()) << i;
    if (i >= 5) {
      // Locked, both: the attempt while locked is refused alike.
      SignInResult known_locked = SignIn("dr.lee", kPassword);
      SignInResult unknown_locked = SignIn("dr.who", kPassword);
      EXPECT_EQ(known_locked.refusal, SignInRefusal::kLocked);
      EXPECT_EQ(unknown_locked.refusal, SignInRefusal::kLocked);
      EXPECT_EQ(known_locked.locked_until, unknown_locked.locked_until);
      clock_.Advance(*known.locked_until - clock_.Now());
    }
  }
  // A login no account could have is refused alike too.
  EXPECT_EQ(SignIn("Not A Login!", kPassword).refusal, SignInRefusal::kBadCredentials);
  // Nothing was stored for the unknown login.
  EXPECT_THAT(accounts_->Get("dr.who"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(AccountsTest, AnUnknownLoginCostsWhatAWrongPasswordCosts) {
  // With the real limits a password check takes a tenth of a second or more; without
  // the decoy check an unknown login would answer in a few milliseconds. The fastest
  // of interleaved tries is compared, with a wide margin: load only adds time.
  AccountsOptions options = FastOptions();
  options.hash_limits = PasswordHashLimits::Interactive();
  options.lockout_threshold = 100;
  OpenAccounts(options);
  ASSERT_OK(accounts_->Create(Clinician(), kPassword).status());
  absl::Duration known = absl::InfiniteDuration();
  absl::Duration unknown = absl::InfiniteDuration();
  for (int i = 0; i < 3; ++i) {
    absl::Time start = absl::Now();
    EXPECT_EQ(SignIn("dr.lee", "a wrong password here").refusal, SignInRefusal::kBadCredentials);
    known = std::min(known, absl::Now() - start);
    start = absl::Now();
    EXPECT_EQ(SignIn("dr.who", "a wrong password here").refusal, SignInRefusal::kBadCredentials);
    unknown = std::min(unknown, absl::Now() - start);
  }
  EXPECT_GT(unknown, known / 3) << "known " << known << ", unknown " << unknown;
  EXPECT_GT(known, unknown / 3) << "known " << known << ", unknown " << unknown;
}

TEST_F(AccountsTest, UnknownLoginsRememberedAreBounded) {
  AccountsOptions options = FastOptions();
  options.max_unknown_logins = 2;
  OpenAccounts(options);
  for (int i = 0; i < 5; ++i) SignIn("ghost-1", "some wrong password");
  EXPECT_EQ(SignIn("ghost-1", "some wrong password").refusal, SignInRefusal::kLocked);
  SignIn("ghost-2", "some wrong password");
  SignIn("ghost-3", "some wrong password");  // ghost-1, the oldest, is forgotten
  SignInResult r = SignIn("ghost-1", "some wrong password");
  EXPECT_EQ(r.refusal, SignInRefusal::kBadCredentials);
  EXPECT_FALSE(r.locked_until.has_value());
}

TEST_F(AccountsTest, AFailureTheStoreCannotRecordSignsNobodyIn) {
  accounts_.reset();
  kv_.reset();
  OpenStore(&fault_env_);
  OpenAccounts();
  ASSERT_OK(accounts_->Create(Clinician(), kPassword).status());
  fault_env_.SetFilesystemFull(true);
  EXPECT_FALSE(accounts_->Authenticate("dr.lee", "a wrong password here").ok());
  EXPECT_FALSE(accounts_->Authenticate("dr.lee", kPassword).ok());
  EXPECT_FALSE(accounts_->Authenticate("dr.who", kPassword).ok());
  fault_env_.SetFilesystemFull(false);
  EXPECT_TRUE(SignIn("dr.lee", kPassword).ok());
}

TEST_F(AccountsTest, DisabledAccountsCannotSignInAndTheirSessionsEnd) {
  OpenAccounts();
  ASSERT_OK(accounts_->Create(Clinician(), kPassword).status());
  for (int i = 0; i < 5; ++i) SignIn("dr.lee", "a wrong password here");
  ASSERT_OK_AND_ASSIGN(Account disabled, accounts_->Disable("dr.lee"));
  EXPECT_TRUE(disabled.disabled);
  EXPECT_THAT(ended_, ::testing::ElementsAre("dr.lee"));
  // Enable lifts the lockout as well.
  ASSERT_OK(accounts_->Enable("dr.lee").status());
  ASSERT_OK(accounts_->Disable("dr.lee").status());
  SignInResult r = SignIn("dr.lee", kPassword);
  EXPECT_EQ(r.refusal, SignInRefusal::kDisabled);
  EXPECT_THAT(r.Message(), HasSubstr("disabled"));
  // A wrong password says nothing about the account being disabled.
  EXPECT_EQ(SignIn("dr.lee", "a wrong password here").refusal, SignInRefusal::kBadCredentials);
  ASSERT_OK_AND_ASSIGN(Account enabled, accounts_->Enable("dr.lee"));
  EXPECT_FALSE(enabled.disabled);
  EXPECT_EQ(enabled.failed_attempts, 0);
  EXPECT_TRUE(SignIn("dr.lee", kPassword).ok());
  EXPECT_THAT(accounts_->Disable("nobody"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(AccountsTest, AResetPasswordMustBeChangedAndExpires) {
  OpenAccounts();
  ASSERT_OK(accounts_->Create(Clinician(), kPassword).status());
  for (int i = 0; i < 5; ++i) SignIn("dr.lee", "a wrong password here");
  ASSERT_OK_AND_ASSIGN(std::string temporary, accounts_->ResetPassword("dr.lee"));
  EXPECT_THAT(temporary, MatchesRegex("[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}"));
  EXPECT_OK(CheckPasswordPolicy(temporary, "dr.lee", "Dr Ana Lee"));
  EXPECT_THAT(ended_, ::testing::ElementsAre("dr.lee"));
  ASSERT_OK_AND_ASSIGN(std::string again, accounts_->ResetPassword("dr.lee"));
  EXPECT_NE(again, temporary);
  EXPECT_EQ(SignIn("dr.lee", temporary).refusal, SignInRefusal::kBadCredentials);
  EXPECT_EQ(SignIn("dr.lee", kPassword).refusal, SignInRefusal::kBadCredentials);
  // The reset lifted the lock; the temporary password works, flagged for a change.
  SignInResult r = SignIn("dr.lee", again);
  ASSERT_TRUE(r.ok()) << r.Message();
  EXPECT_TRUE(r.account.must_change_password);

  // Unchanged for 72 hours, it stops working.
  clock_.Advance(absl::Hours(72));
  SignInResult expired = SignIn("dr.lee", again);
  EXPECT_EQ(expired.refusal, SignInRefusal::kPasswordExpired);
  EXPECT_THAT(expired.Message(), HasSubstr("expired"));
  ASSERT_OK_AND_ASSIGN(std::string third, accounts_->ResetPassword("dr.lee"));
  ended_.clear();
  ASSERT_OK(accounts_->ChangePassword("dr.lee", third, "a brand new passphrase"));
  EXPECT_THAT(ended_, ::testing::ElementsAre("dr.lee"));
  clock_.Advance(absl::Hours(100));
  SignInResult changed = SignIn("dr.lee", "a brand new passphrase");
  ASSERT_TRUE(changed.ok()) << changed.Message();
  EXPECT_FALSE(changed.account.must_change_password);
  EXPECT_THAT(accounts_->ResetPassword("nobody"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(AccountsTest, ChangePasswordChecksTheCurrentOneAndThePolicy) {
  OpenAccounts();
  ASSERT_OK(accounts_->Create(Clinician(), kPassword).status());
  EXPECT_THAT(accounts_->ChangePassword("dr.lee", "not my password", "another fine passphrase"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("current password")));
  ASSERT_OK_AND_ASSIGN(Account after, accounts_->Get("dr.lee"));
  EXPECT_EQ(after.failed_attempts, 1);
  EXPECT_THAT(accounts_->ChangePassword("dr.lee", kPassword, "short"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least 12")));
  EXPECT_THAT(accounts_->ChangePassword("dr.lee", kPassword, kPassword),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must differ")));
  EXPECT_TRUE(ended_.empty());
  for (int i = 0; i < 4; ++i) SignIn("dr.lee", "a wrong password here");
  EXPECT_THAT(accounts_->ChangePassword("dr.lee", kPassword, "another fine passphrase"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("try again after")));
  clock_.Advance(absl::Minutes(1));
  ASSERT_OK(accounts_->ChangePassword("dr.lee", kPassword, "another fine passphrase"));
  EXPECT_EQ(SignIn("dr.lee", kPassword).refusal, SignInRefusal::kBadCredentials);
  EXPECT_TRUE(SignIn("dr.lee", "another fine passphrase").ok());
}

TEST_F(AccountsTest, ConcurrentFailuresAreAllCounted) {
  AccountsOptions options = FastOptions();
  options.lockout_threshold = 100;
  OpenAccounts(options);
  ASSERT_OK(accounts_->Create(Clinician(), kPassword).status());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < 5; ++i) {
        auto r = accounts_->Authenticate("dr.lee", "a wrong password here");
        EXPECT_TRUE(r.ok() && r->refusal == SignInRefusal::kBadCredentials);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_OK_AND_ASSIGN(Account lee, accounts_->Get("dr.lee"));
  EXPECT_EQ(lee.failed_attempts, 40);
}

TEST(TotpTest, Rfc6238Sha1TestVectors) {
  // RFC 6238 appendix B, SHA1 mode: the secret is the ASCII "12345678901234567890".
  const std::string secret = "12345678901234567890";
  const std::pair<int64_t, const char*> vectors[] = {
      {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
      {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
  };
  for (const auto& [seconds, code] : vectors) {
    const int64_t step = TotpStep(absl::FromUnixSeconds(seconds));
    EXPECT_EQ(TotpCode(secret, step, 8), code) << seconds;
    // Six digits are the last six of eight.
    EXPECT_EQ(TotpCode(secret, step, 6), std::string(code).substr(2)) << seconds;
  }
  EXPECT_EQ(TotpStep(absl::FromUnixSeconds(59)), 1);
  EXPECT_EQ(TotpStep(absl::FromUnixSeconds(60)), 2);
  EXPECT_EQ(TotpStep(absl::FromUnixSeconds(-1)), -1);
}

TEST(TotpTest, Base32RoundTripsAndRfc4648Vectors) {
  // RFC 4648 section 10, without the padding.
  EXPECT_EQ(Base32Encode(""), "");
  EXPECT_EQ(Base32Encode("f"), "MY");
  EXPECT_EQ(Base32Encode("fo"), "MZXQ");
  EXPECT_EQ(Base32Encode("foo"), "MZXW6");
  EXPECT_EQ(Base32Encode("foob"), "MZXW6YQ");
  EXPECT_EQ(Base32Encode("fooba"), "MZXW6YTB");
  EXPECT_EQ(Base32Encode("foobar"), "MZXW6YTBOI");
  EXPECT_THAT(Base32Decode("MZXW6YTBOI======"), ::hie::testing::IsOkAndHolds("foobar"));
  EXPECT_THAT(Base32Decode("mzxw 6ytb oi"), ::hie::testing::IsOkAndHolds("foobar"));
  EXPECT_THAT(Base32Decode("MZXW1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Base32Decode("MY"), ::hie::testing::IsOkAndHolds("f"));
  // "MZ" leaves a set bit after the last whole byte: not what an encoder writes.
  EXPECT_THAT(Base32Decode("MZ"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Base32Decode("MZ7"), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  EXPECT_THAT(Base32Decode(Base32Encode(bytes)), ::hie::testing::IsOkAndHolds(bytes));
}

TEST_F(AccountsTest, TotpEnrolmentConfirmationWindowAndReplay) {
  OpenAccounts();
  ASSERT_OK(accounts_->Create(Clinician(), kPassword).status());
  ASSERT_OK_AND_ASSIGN(TotpEnrolment enrolment, accounts_->EnrolTotp("dr.lee"));
  EXPECT_EQ(enrolment.secret_base32.size(), 32u);
  ASSERT_OK_AND_ASSIGN(std::string secret, Base32Decode(enrolment.secret_base32));
  EXPECT_EQ(secret.size(), 20u);
  EXPECT_EQ(enrolment.otpauth_uri,
            absl::StrCat("otpauth://totp/hie%20org-a:dr.lee?secret=", enrolment.secret_base32,
                         "&issuer=hie%20org-a&algorithm=SHA1&digits=6&period=30"));
  // Not required until confirmed.
  EXPECT_TRUE(SignIn("dr.lee", kPassword).ok());
  auto code_at = [&](int64_t offset_steps) {
    return TotpCode(secret, TotpStep(clock_.Now()) + offset_steps, 6);
  };
  // A code that is none of the three the window accepts now.
  auto wrong_code = [&] {
    for (int n = 0;; ++n) {
      std::string code = absl::StrCat(100000 + n);
      if (code != code_at(-1) && code != code_at(0) && code != code_at(1)) return code;
    }
  };
  EXPECT_THAT(accounts_->ConfirmTotp("dr.lee", wrong_code()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
  ASSERT_OK(accounts_->ConfirmTotp("dr.lee", code_at(0)));
  EXPECT_THAT(accounts_->ConfirmTotp("dr.lee", code_at(0)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("enrol one first")));
  ASSERT_OK_AND_ASSIGN(Account enrolled, accounts_->Get("dr.lee"));
  EXPECT_TRUE(enrolled.totp_enabled);

  // Now the code is needed; asking without one is no failure.
  SignInResult needed = SignIn("dr.lee", kPassword);
  EXPECT_EQ(needed.refusal, SignInRefusal::kTotpRequired);
  EXPECT_THAT(needed.Message(), HasSubstr("6-digit code"));
  // The code that confirmed the enrolment is used up.
  EXPECT_EQ(SignIn("dr.lee", kPassword, code_at(0)).refusal, SignInRefusal::kTotpWrong);
  ASSERT_OK_AND_ASSIGN(Account after_replay, accounts_->Get("dr.lee"));
  EXPECT_EQ(after_replay.failed_attempts, 1);
  // A wrong password with a right code is a wrong password.
  EXPECT_EQ(SignIn("dr.lee", "a wrong password here", code_at(1)).refusal,
            SignInRefusal::kBadCredentials);

  // The next step's code is within the window (a phone clock a little ahead); spaces
  // as apps show them are fine.
  std::string next = code_at(1);
  SignInResult ahead = SignIn("dr.lee", kPassword, next.substr(0, 3) + " " + next.substr(3));
  ASSERT_TRUE(ahead.ok()) << ahead.Message();
  EXPECT_EQ(ahead.account.failed_attempts, 0);
  // ...and used once only, and nothing before it is accepted after it.
  EXPECT_EQ(SignIn("dr.lee", kPassword, next).refusal, SignInRefusal::kTotpWrong);
  EXPECT_EQ(SignIn("dr.lee", kPassword, code_at(0)).refusal, SignInRefusal::kTotpWrong);
  // Two steps ahead is outside the window.
  EXPECT_EQ(SignIn("dr.lee", kPassword, code_at(2)).refusal, SignInRefusal::kTotpWrong);

  // Four steps on: one step behind (a phone a little late) is accepted, two are not.
  clock_.Advance(absl::Seconds(120));
  EXPECT_EQ(SignIn("dr.lee", kPassword, code_at(-2)).refusal, SignInRefusal::kTotpWrong);
  EXPECT_TRUE(SignIn("dr.lee", kPassword, code_at(-1)).ok());
  EXPECT_EQ(SignIn("dr.lee", kPassword, "12345").refusal, SignInRefusal::kTotpWrong);
  EXPECT_EQ(SignIn("dr.lee", kPassword, "abcdef").refusal, SignInRefusal::kTotpWrong);

  // Wrong codes lock like wrong passwords (5 failures since the last success).
  EXPECT_EQ(SignIn("dr.lee", kPassword, wrong_code()).refusal, SignInRefusal::kTotpWrong);
  EXPECT_EQ(SignIn("dr.lee", kPassword, wrong_code()).refusal, SignInRefusal::kTotpWrong);
  SignInResult locking = SignIn("dr.lee", kPassword, wrong_code());
  EXPECT_EQ(locking.refusal, SignInRefusal::kTotpWrong);
  ASSERT_TRUE(locking.locked_until.has_value());
  EXPECT_THAT(locking.Message(), HasSubstr("try again after"));
  EXPECT_EQ(SignIn("dr.lee", kPassword, code_at(0)).refusal, SignInRefusal::kLocked);

  // A restart keeps the used step: the code accepted before it is still refused.
  clock_.Advance(absl::Minutes(1));
  Restart(FastOptions());
  EXPECT_TRUE(SignIn("dr.lee", kPassword, code_at(0)).ok());
  Restart(FastOptions());
  EXPECT_EQ(SignIn("dr.lee", kPassword, code_at(0)).refusal, SignInRefusal::kTotpWrong);

  // A lost phone: the admin removes the second factor.
  ASSERT_OK(accounts_->RemoveTotp("dr.lee"));
  EXPECT_TRUE(SignIn("dr.lee", kPassword).ok());
  EXPECT_OK(accounts_->RemoveTotp("dr.lee"));
  EXPECT_THAT(accounts_->EnrolTotp("nobody"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(AccountsTest, ReEnrollingKeepsTheOldFactorUntilTheNewOneIsConfirmed) {
  OpenAccounts();
  ASSERT_OK(accounts_->Create(Clinician(), kPassword).status());
  ASSERT_OK_AND_ASSIGN(TotpEnrolment first, accounts_->EnrolTotp("dr.lee"));
  ASSERT_OK_AND_ASSIGN(std::string old_secret, Base32Decode(first.secret_base32));
  ASSERT_OK(accounts_->ConfirmTotp("dr.lee", TotpCode(old_secret, TotpStep(clock_.Now()))));
  ASSERT_OK_AND_ASSIGN(TotpEnrolment second, accounts_->EnrolTotp("dr.lee"));
  EXPECT_NE(second.secret_base32, first.secret_base32);
  ASSERT_OK_AND_ASSIGN(std::string new_secret, Base32Decode(second.secret_base32));
  clock_.Advance(absl::Seconds(30));
  const int64_t step = TotpStep(clock_.Now());
  // The old phone still signs in; the new one does not yet.
  if (TotpCode(new_secret, step) != TotpCode(old_secret, step)) {
    EXPECT_EQ(SignIn("dr.lee", kPassword, TotpCode(new_secret, step)).refusal,
              SignInRefusal::kTotpWrong);
  }
  EXPECT_TRUE(SignIn("dr.lee", kPassword, TotpCode(old_secret, step)).ok());
  clock_.Advance(absl::Seconds(30));
  ASSERT_OK(accounts_->ConfirmTotp("dr.lee", TotpCode(new_secret, step + 1)));
  clock_.Advance(absl::Seconds(30));
  if (TotpCode(new_secret, step + 2) != TotpCode(old_secret, step + 2)) {
    EXPECT_EQ(SignIn("dr.lee", kPassword, TotpCode(old_secret, step + 2)).refusal,
              SignInRefusal::kTotpWrong);
  }
  EXPECT_TRUE(SignIn("dr.lee", kPassword, TotpCode(new_secret, step + 2)).ok());
}

TEST_F(AccountsTest, OptionsOutOfRangeAreRefused) {
  AccountsOptions options = FastOptions();
  options.hash_limits = {0, 1};
  EXPECT_THAT(Accounts::Open(kv_.get(), &clock_, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hash_limits")));
  options = FastOptions();
  options.lockout_cap = absl::Seconds(1);
  EXPECT_THAT(Accounts::Open(kv_.get(), &clock_, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lockout")));
}

}  // namespace
}  // namespace hie::node
