#include "node/domain/accounts.h"

#include <sodium.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/json/utf8.h"
#include "common/status/status_macros.h"
#include "common/store/key_codec.h"
#include "common/time/proto_time.h"
#include "node/domain/totp.h"

namespace hie::node {
namespace {

constexpr size_t kMaxLoginBytes = 64;
constexpr size_t kMaxDisplayNameBytes = 128;
constexpr size_t kMaxPatientIdBytes = 64;
constexpr size_t kMinPasswordChars = 12;
constexpr size_t kMaxPasswordBytes = 1024;
constexpr size_t kTotpSecretBytes = 20;
constexpr int kTotpDigits = 6;

// Well-known passwords of 12 characters or more (lower case): from the top of the
// published breach corpora, and what people at a practice reach for.
constexpr absl::string_view kCommonPasswords[] = {
    "000000000000",
    "098765432109",
    "111111111111",
    "121212121212",
    "123123123123",
    "123456123456",
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789123",
    "1234567890-=",
    "1234567890qwerty",
    "1q2w3e4r5t6y",
    "1q2w3e4r5t6y7u",
    "1qaz2wsx3edc",
    "1qaz2wsx3edc4rfv",
    "1qazxsw23edc",
    "987654321098",
    "!qaz@wsx#edc",
    "abc123abc123",
    "abcd12345678",
    "abcdefghijkl",
    "abcdefghijklmnopqrstuvwxyz",
    "administrator",
    "administrator1",
    "asdfasdfasdf",
    "asdfghjkl123",
    "baseball1234",
    "changeme1234",
    "changeme123!",
    "computer1234",
    "correcthorsebatterystaple",
    "doctor123456",
    "dragon123456",
    "football1234",
    "healthcare123",
    "hospital1234",
    "iloveyou1234",
    "iloveyouiloveyou",
    "letmein12345",
    "master123456",
    "michael12345",
    "monkey123456",
    "nurse1234567",
    "p@ssw0rd1234",
    "p@ssword1234",
    "passw0rd1234",
    "password!123",
    "password1234",
    "password12345",
    "password123456",
    "password1234567",
    "passwordpassword",
    "patient12345",
    "princess1234",
    "q1w2e3r4t5y6",
    "qazwsxedcrfv",
    "qwerty123456",
    "qwerty12345678",
    "qwertyqwerty",
    "qwertyuiop12",
    "qwertyuiop123",
    "qwertyuiopasdfghjkl",
    "shadow123456",
    "starwars1234",
    "sunshine1234",
    "superman1234",
    "thequickbrownfox",
    "trustno1trustno1",
    "welcome12345",
    "welcome123456",
    "whatever1234",
    "zaq12wsxcde3",
    "zxcvbnm12345",
    "zxcvbnmasdfghjkl",
};

std::string Key(absl::string_view login) {
  return store::KeyBuilder().AddString("account").AddString(login).Build();
}
std::string Prefix() { return store::KeyBuilder().AddString("account").Build(); }

bool IsValidLogin(absl::string_view login) {
  if (login.empty() || login.size() > kMaxLoginBytes) return false;
  if (!absl::ascii_isalnum(static_cast<unsigned char>(login[0]))) return false;
  for (char c : login) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
          c == '@')) {
      return false;
    }
  }
  return true;
}

absl::Status CheckDisplayName(absl::string_view name) {
  if (absl::StripAsciiWhitespace(name).empty() || name.size() > kMaxDisplayNameBytes) {
    return absl::InvalidArgumentError("display_name: must be 1 to 128 bytes, not blank");
  }
  for (size_t i = 0; i < name.size();) {
    size_t n = Utf8SequenceLength(name, i);
    if (n == 0) return absl::InvalidArgumentError("display_name: is not valid UTF-8");
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (n == 1 && (c < 0x20 || c == 0x7f)) {
      return absl::InvalidArgumentError("display_name: must not contain control characters");
    }
    i += n;
  }
  return absl::OkStatus();
}

bool IsValidFhirId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxPatientIdBytes) return false;
  for (char c : id) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<UserRole> FromStoredRole(hie::v1::UserRole role) {
  std::optional<UserRole> known = UserRoleFromProto(role);
  if (!known) return absl::DataLossError(absl::StrCat("stored role ", role, " is not a known one"));
  return *known;
}

// A stored account, checked enough that ToAccount cannot go wrong.
absl::StatusOr<hie::v1::StoredAccount> Parse(absl::string_view value) {
  hie::v1::StoredAccount stored;
  if (!stored.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
      stored.login().empty()) {
    return absl::DataLossError("a stored account does not parse");
  }
  if (absl::Status role = FromStoredRole(stored.role()).status(); !role.ok()) {
    return absl::DataLossError(
        absl::StrCat("account \"", absl::CHexEscape(stored.login()), "\": ", role.message()));
  }
  return stored;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  randombytes_buf(out.data(), out.size());
  return out;
}

// 16 characters from 32 that cannot be mistaken for one another (no l, o, 0, 1), in
// groups of four: 80 bits, easy to read out over the phone.
std::string RandomPassword() {
  static constexpr char kAlphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i > 0 && i % 4 == 0) out.push_back('-');
    out.push_back(kAlphabet[randombytes_uniform(32)]);
  }
  return out;
}

// The time step within one step of `now` whose code under `secret` is `code` and that is
// later than `after`; nullopt if none.
std::optional<int64_t> MatchTotp(absl::string_view secret, absl::string_view code, absl::Time now,
                                 int64_t after) {
  if (code.size() != kTotpDigits || secret.empty()) return std::nullopt;
  for (char c : code) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  const int64_t current = TotpStep(now);
  std::optional<int64_t> found;
  for (int64_t step = current - 1; step <= current + 1; ++step) {
    std::string expected = TotpCode(secret, step, kTotpDigits);
    // Every candidate is compared, in constant time.
    if (sodium_memcmp(expected.data(), code.data(), kTotpDigits) == 0 && step > after &&
        !found.has_value()) {
      found = step;
    }
  }
  return found;
}

// Digits only: authenticator apps show "123 456", people type it so.
std::string NormalizeCode(absl::string_view code) {
  std::string out;
  for (char c : code) {
    if (c != ' ' && c != '-') out.push_back(c);
  }
  return out;
}

std::string PercentEncode(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%",
                      absl::AsciiStrToUpper(absl::BytesToHexString(
                          absl::string_view(reinterpret_cast<char*>(&c), 1))));
    }
  }
  return out;
}

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

// Words of `text` (split on spaces and . _ - @) of 4 characters or more, lower case.
std::vector<std::string> LongWords(absl::string_view text) {
  std::vector<std::string> out;
  for (absl::string_view word : absl::StrSplit(text, absl::ByAnyChar(" ._-@"))) {
    if (word.size() >= 4) out.push_back(absl::AsciiStrToLower(word));
  }
  return out;
}

}  // namespace

absl::string_view UserRoleName(UserRole role) {
  switch (role) {
    case UserRole::kClinician:
      return "clinician";
    case UserRole::kFrontDesk:
      return "front-desk";
    case UserRole::kPracticeAdmin:
      return "practice-admin";
    case UserRole::kPatient:
      return "patient";
  }
  return "unknown";
}

absl::StatusOr<UserRole> ParseUserRole(absl::string_view name) {
  for (UserRole role :
       {UserRole::kClinician, UserRole::kFrontDesk, UserRole::kPracticeAdmin, UserRole::kPatient}) {
    if (name == UserRoleName(role)) return role;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("role: \"", absl::CHexEscape(name),
                   "\" is not one of clinician, front-desk, practice-admin, patient"));
}

std::string SignInResult::Message() const {
  switch (refusal) {
    case SignInRefusal::kNone:
      return "";
    case SignInRefusal::kBadCredentials:
      return locked_until.has_value()
                 ? absl::StrCat(
                       "Wrong login or password. Too many failed sign-ins: try again "
                       "after ",
                       FormatUtc(*locked_until), ".")
                 : "Wrong login or password.";
    case SignInRefusal::kLocked:
      return absl::StrCat("Too many failed sign-ins: try again after ",
                          FormatUtc(locked_until.value_or(absl::InfinitePast())), ".");
    case SignInRefusal::kDisabled:
      return "This account is disabled: ask your practice's administrator.";
    case SignInRefusal::kPasswordExpired:
      return "The password your administrator set has expired: ask them for a new one.";
    case SignInRefusal::kTotpRequired:
      return "Enter the 6-digit code from your authenticator app.";
    case SignInRefusal::kTotpWrong:
      return locked_until.has_value()
                 ? absl::StrCat(
                       "Wrong authenticator code. Too many failed sign-ins: try again "
                       "after ",
                       FormatUtc(*locked_until), ".")
                 : "Wrong authenticator code (check your device's clock; each code works once).";
  }
  return "";
}

PasswordHashLimits PasswordHashLimits::Interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
PasswordHashLimits PasswordHashLimits::Moderate() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}
PasswordHashLimits PasswordHashLimits::MinimumForTest() {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

absl::Status CheckPasswordPolicy(absl::string_view password, absl::string_view login,
                                 absl::string_view display_name) {
  if (password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError("password: must be at most 1024 bytes");
  }
  size_t chars = 0;
  for (unsigned char c : password) {
    if ((c & 0xc0) != 0x80) ++chars;
  }
  if (chars < kMinPasswordChars) {
    return absl::InvalidArgumentError(
        absl::StrCat("password: must be at least 12 characters (this one has ", chars,
                     "); a few unrelated words make a long one easy to remember"));
  }
  const std::string lower = absl::AsciiStrToLower(password);
  const std::string lower_login = absl::AsciiStrToLower(login);
  const std::string lower_name = absl::AsciiStrToLower(display_name);
  if ((!lower_login.empty() && lower == lower_login) ||
      (!lower_name.empty() && lower == lower_name)) {
    return absl::InvalidArgumentError("password: must not be your login or your name");
  }
  std::vector<std::string> words = LongWords(login);
  for (std::string& word : LongWords(display_name)) words.push_back(std::move(word));
  if (lower_login.size() >= 4) words.push_back(lower_login);
  if (lower_name.size() >= 4) words.push_back(lower_name);
  for (const std::string& word : words) {
    if (absl::StrContains(lower, word)) {
      return absl::InvalidArgumentError("password: must not contain your login or your name");
    }
  }
  if (std::all_of(password.begin(), password.end(), [&](char c) { return c == password[0]; })) {
    return absl::InvalidArgumentError("password: must not be one character repeated");
  }
  for (absl::string_view common : kCommonPasswords) {
    if (lower == common) {
      return absl::InvalidArgumentError(
          "password: is one of the most common passwords, which attackers try first; choose "
          "another");
    }
  }
  return absl::OkStatus();
}

// Holds `login` for one operation: another operation on the same login waits.
class Accounts::LoginSlot {
 public:
  LoginSlot(Accounts* accounts, std::string login) : accounts_(accounts), login_(std::move(login)) {
    absl::MutexLock lock(&accounts_->mu_);
    while (accounts_->busy_.contains(login_)) accounts_->changed_.Wait(&accounts_->mu_);
    accounts_->busy_.insert(login_);
  }
  ~LoginSlot() {
    absl::MutexLock lock(&accounts_->mu_);
    accounts_->busy_.erase(login_);
    accounts_->changed_.SignalAll();
  }
  LoginSlot(const LoginSlot&) = delete;
  LoginSlot& operator=(const LoginSlot&) = delete;

 private:
  Accounts* const accounts_;
  const std::string login_;
};

// One of the max_concurrent_hashes hashing turns.
class Accounts::HashSlot {
 public:
  explicit HashSlot(Accounts* accounts) : accounts_(accounts) {
    absl::MutexLock lock(&accounts_->mu_);
    while (accounts_->hashing_ >= accounts_->options_.max_concurrent_hashes) {
      accounts_->changed_.Wait(&accounts_->mu_);
    }
    ++accounts_->hashing_;
  }
  ~HashSlot() {
    absl::MutexLock lock(&accounts_->mu_);
    --accounts_->hashing_;
    accounts_->changed_.SignalAll();
  }
  HashSlot(const HashSlot&) = delete;
  HashSlot& operator=(const HashSlot&) = delete;

 private:
  Accounts* const accounts_;
};

Accounts::Accounts(store::KvStore* store, Clock* clock, AccountsOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Accounts>> Accounts::Open(store::KvStore* store, Clock* clock,
                                                         AccountsOptions options) {
  if (sodium_init() < 0) return absl::InternalError("libsodium could not start");
  const PasswordHashLimits& limits = options.hash_limits;
  if (limits.ops < crypto_pwhash_OPSLIMIT_MIN || limits.ops > crypto_pwhash_OPSLIMIT_MAX ||
      limits.mem_bytes < crypto_pwhash_MEMLIMIT_MIN ||
      limits.mem_bytes > crypto_pwhash_MEMLIMIT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("hash_limits: ", limits.ops, " passes over ",
                                                   limits.mem_bytes,
                                                   " bytes is outside what argon2id allows"));
  }
  if (options.max_concurrent_hashes < 1) {
    return absl::InvalidArgumentError("max_concurrent_hashes: must be at least 1");
  }
  if (options.lockout_threshold < 1 || options.lockout_base <= absl::ZeroDuration() ||
      options.lockout_cap < options.lockout_base) {
    return absl::InvalidArgumentError(
        "lockout: threshold must be at least 1, base positive and cap at least base");
  }
  if (options.temporary_password_lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("temporary_password_lifetime: must be positive");
  }
  auto accounts = std::unique_ptr<Accounts>(new Accounts(store, clock, std::move(options)));
  // The decoy: what an unknown login's password is checked against, so that it costs
  // what a real check costs.
  HIE_ASSIGN_OR_RETURN(accounts->decoy_hash_,
                       accounts->Hash(absl::WebSafeBase64Escape(RandomBytes(24))));
  return accounts;
}

absl::StatusOr<std::string> Accounts::Hash(absl::string_view password) {
  HashSlot slot(this);
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), options_.hash_limits.ops,
                            options_.hash_limits.mem_bytes, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::ResourceExhaustedError("not enough memory to hash a password");
  }
  return std::string(out);
}

bool Accounts::Verify(const std::string& hash, absl::string_view password) {
  HashSlot slot(this);
  if (password.size() > kMaxPasswordBytes) {
    // Never a valid password: still costs a verification.
    [[maybe_unused]] int ignored = crypto_pwhash_str_verify(decoy_hash_.c_str(), "", 0);
    return false;
  }
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

absl::StatusOr<hie::v1::StoredAccount> Accounts::Load(absl::string_view login) const {
  absl::StatusOr<std::string> value = store_->Get(Key(login));
  if (!value.ok()) {
    if (absl::IsNotFound(value.status())) {
      return absl::NotFoundError(absl::StrCat("no account \"", absl::CHexEscape(login), "\""));
    }
    return value.status();
  }
  return Parse(*value);
}

absl::Status Accounts::Save(const hie::v1::StoredAccount& account) {
  return store_->Put(Key(account.login()), account.SerializeAsString());
}

Account Accounts::ToAccount(const hie::v1::StoredAccount& stored, absl::Time now) const {
  Account a;
  a.login = stored.login();
  a.display_name = stored.display_name();
  a.role = *FromStoredRole(stored.role());  // checked by Parse
  a.patient_id = stored.patient_id();
  a.disabled = stored.disabled();
  a.must_change_password = stored.must_change_password();
  a.totp_enabled = !stored.totp_secret().empty();
  a.created_at = FromProtoTime(stored.created_at());
  a.password_changed_at = FromProtoTime(stored.password_changed_at());
  if (stored.has_last_sign_in_at()) a.last_sign_in = FromProtoTime(stored.last_sign_in_at());
  a.failed_attempts = static_cast<int>(stored.failed_attempts());
  if (stored.has_locked_until() && FromProtoTime(stored.locked_until()) > now) {
    a.locked_until = FromProtoTime(stored.locked_until());
  }
  return a;
}

absl::StatusOr<Account> Accounts::Create(const NewAccount& account, absl::string_view password) {
  const std::string login = absl::AsciiStrToLower(account.login);
  if (!IsValidLogin(login)) {
    return absl::InvalidArgumentError(
        absl::StrCat("login: \"", absl::CHexEscape(account.login),
                     "\" must be 1 to 64 of a-z 0-9 . _ - @, starting with a letter or digit"));
  }
  HIE_RETURN_IF_ERROR(CheckDisplayName(account.display_name));
  if (account.role == UserRole::kPatient) {
    if (!IsValidFhirId(account.patient_id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("patient_id: a patient account needs the practice's Patient id (1 to 64 "
                       "of A-Z a-z 0-9 - .), not \"",
                       absl::CHexEscape(account.patient_id), "\""));
    }
    if (options_.check_patient) HIE_RETURN_IF_ERROR(options_.check_patient(account.patient_id));
  } else if (!account.patient_id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "patient_id: only a patient account has one, not a ", UserRoleName(account.role), "'s"));
  }
  LoginSlot slot(this, login);
  absl::StatusOr<hie::v1::StoredAccount> existing = Load(login);
  if (existing.ok()) {
    return absl::AlreadyExistsError(absl::StrCat("login: \"", login, "\" is taken"));
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  HIE_RETURN_IF_ERROR(CheckPasswordPolicy(password, login, account.display_name));
  const absl::Time now = clock_->Now();
  hie::v1::StoredAccount stored;
  stored.set_login(login);
  stored.set_display_name(account.display_name);
  stored.set_role(UserRoleToProto(account.role));
  stored.set_patient_id(account.patient_id);
  HIE_ASSIGN_OR_RETURN(*stored.mutable_password_hash(), Hash(password));
  stored.set_must_change_password(account.must_change_password);
  *stored.mutable_created_at() = ToProtoTime(now);
  *stored.mutable_password_changed_at() = ToProtoTime(now);
  HIE_RETURN_IF_ERROR(Save(stored));
  {
    // Failures remembered while the login had no account are not the account's.
    absl::MutexLock lock(&mu_);
    unknown_.erase(login);
  }
  return ToAccount(stored, now);
}

absl::StatusOr<Account> Accounts::Get(absl::string_view login) const {
  HIE_ASSIGN_OR_RETURN(hie::v1::StoredAccount stored, Load(absl::AsciiStrToLower(login)));
  return ToAccount(stored, clock_->Now());
}

absl::StatusOr<std::vector<Account>> Accounts::List() const {
  std::vector<Account> out;
  absl::Status parse_error;
  const absl::Time now = clock_->Now();
  HIE_RETURN_IF_ERROR(store_->ScanPrefix(Prefix(), [&](absl::string_view, absl::string_view value) {
    absl::StatusOr<hie::v1::StoredAccount> stored = Parse(value);
    if (!stored.ok()) {
      parse_error = stored.status();
      return false;
    }
    out.push_back(ToAccount(*stored, now));
    return true;
  }));
  HIE_RETURN_IF_ERROR(parse_error);
  return out;
}

absl::StatusOr<Account> Accounts::Update(
    absl::string_view login_in, bool end_sessions,
    const std::function<absl::Status(hie::v1::StoredAccount&)>& change) {
  const std::string login = absl::AsciiStrToLower(login_in);
  Account account;
  {
    LoginSlot slot(this, login);
    HIE_ASSIGN_OR_RETURN(hie::v1::StoredAccount stored, Load(login));
    HIE_RETURN_IF_ERROR(change(stored));
    HIE_RETURN_IF_ERROR(Save(stored));
    account = ToAccount(stored, clock_->Now());
  }
  if (end_sessions && options_.end_sessions) options_.end_sessions(login);
  return account;
}

absl::StatusOr<Account> Accounts::Disable(absl::string_view login) {
  return Update(login, /*end_sessions=*/true, [](hie::v1::StoredAccount& stored) {
    stored.set_disabled(true);
    return absl::OkStatus();
  });
}

absl::StatusOr<Account> Accounts::Enable(absl::string_view login) {
  return Update(login, /*end_sessions=*/false, [](hie::v1::StoredAccount& stored) {
    stored.set_disabled(false);
    stored.set_failed_attempts(0);
    stored.clear_locked_until();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> Accounts::ResetPassword(absl::string_view login) {
  std::string password;
  HIE_RETURN_IF_ERROR(
      Update(login, /*end_sessions=*/true, [&](hie::v1::StoredAccount& stored) -> absl::Status {
        do {
          password = RandomPassword();
        } while (!CheckPasswordPolicy(password, stored.login(), stored.display_name()).ok());
        HIE_ASSIGN_OR_RETURN(*stored.mutable_password_hash(), Hash(password));
        const absl::Time now = clock_->Now();
        stored.set_must_change_password(true);
        *stored.mutable_temporary_password_expires_at() =
            ToProtoTime(now + options_.temporary_password_lifetime);
        *stored.mutable_password_changed_at() = ToProtoTime(now);
        stored.set_failed_attempts(0);
        stored.clear_locked_until();
        return absl::OkStatus();
      }).status());
  return password;
}

absl::Status Accounts::ChangePassword(absl::string_view login, absl::string_view current,
                                      absl::string_view replacement) {
  return Update(login, /*end_sessions=*/true,
                [&](hie::v1::StoredAccount& stored) -> absl::Status {
                  const absl::Time now = clock_->Now();
                  HIE_RETURN_IF_ERROR(CheckCurrentPassword(stored, current, now));
                  if (stored.disabled()) {
                    return absl::FailedPreconditionError("the account is disabled");
                  }
                  HIE_RETURN_IF_ERROR(
                      CheckPasswordPolicy(replacement, stored.login(), stored.display_name()));
                  if (replacement == current) {
                    return absl::InvalidArgumentError(
                        "password: the new password must differ from the current one");
                  }
                  HIE_ASSIGN_OR_RETURN(*stored.mutable_password_hash(), Hash(replacement));
                  stored.set_must_change_password(false);
                  stored.clear_temporary_password_expires_at();
                  *stored.mutable_password_changed_at() = ToProtoTime(now);
                  stored.set_failed_attempts(0);
                  stored.clear_locked_until();
                  return absl::OkStatus();
                })
      .status();
}

absl::Status Accounts::CheckCurrentPassword(hie::v1::StoredAccount& stored,
                                            absl::string_view password, absl::Time now) {
  if (stored.has_locked_until() && FromProtoTime(stored.locked_until()) > now) {
    return absl::FailedPreconditionError(
        absl::StrCat("too many failed sign-ins: try again after ",
                     FormatUtc(FromProtoTime(stored.locked_until()))));
  }
  if (Verify(stored.password_hash(), password)) return absl::OkStatus();
  LockState state{stored.failed_attempts(), std::nullopt};
  std::optional<absl::Time> lock = RecordFailure(state, now);
  stored.set_failed_attempts(state.failures);
  if (lock.has_value()) *stored.mutable_locked_until() = ToProtoTime(*lock);
  // The failure is recorded even though what it was for is refused.
  HIE_RETURN_IF_ERROR(Save(stored));
  return absl::UnauthenticatedError("the current password is wrong");
}

absl::StatusOr<TotpEnrolment> Accounts::EnrolTotp(
    absl::string_view login, std::optional<absl::string_view> current_password) {
  std::string secret = RandomBytes(kTotpSecretBytes);
  HIE_ASSIGN_OR_RETURN(
      Account account,
      Update(login, /*end_sessions=*/false, [&](hie::v1::StoredAccount& stored) -> absl::Status {
        if (current_password.has_value()) {
          HIE_RETURN_IF_ERROR(CheckCurrentPassword(stored, *current_password, clock_->Now()));
        }
        if (stored.disabled()) return absl::FailedPreconditionError("the account is disabled");
        stored.set_totp_pending_secret(secret);
        return absl::OkStatus();
      }));
  TotpEnrolment enrolment;
  enrolment.secret_base32 = Base32Encode(secret);
  const std::string issuer = PercentEncode(options_.totp_issuer);
  enrolment.otpauth_uri = absl::StrCat("otpauth://totp/", issuer, ":", PercentEncode(account.login),
                                       "?secret=", enrolment.secret_base32, "&issuer=", issuer,
                                       "&algorithm=SHA1&digits=", kTotpDigits,
                                       "&period=", absl::ToInt64Seconds(kTotpStep));
  return enrolment;
}

absl::Status Accounts::ConfirmTotp(absl::string_view login, absl::string_view code) {
  return Update(login, /*end_sessions=*/false,
                [&](hie::v1::StoredAccount& stored) -> absl::Status {
                  if (stored.totp_pending_secret().empty()) {
                    return absl::FailedPreconditionError(
                        "no authenticator enrolment to confirm: enrol one first");
                  }
                  std::optional<int64_t> step =
                      MatchTotp(stored.totp_pending_secret(), NormalizeCode(code), clock_->Now(),
                                std::numeric_limits<int64_t>::min());
                  if (!step.has_value()) {
                    return absl::InvalidArgumentError(
                        "code: does not match the new secret (is the authenticator's clock "
                        "right?)");
                  }
                  stored.set_totp_secret(stored.totp_pending_secret());
                  stored.clear_totp_pending_secret();
                  stored.set_totp_last_step(*step);
                  return absl::OkStatus();
                })
      .status();
}

absl::Status Accounts::RemoveTotp(absl::string_view login) {
  return Update(login, /*end_sessions=*/false,
                [](hie::v1::StoredAccount& stored) {
                  stored.clear_totp_secret();
                  stored.clear_totp_pending_secret();
                  stored.clear_totp_last_step();
                  return absl::OkStatus();
                })
      .status();
}

std::optional<absl::Time> Accounts::RecordFailure(LockState& state, absl::Time now) const {
  ++state.failures;
  if (state.failures < static_cast<uint32_t>(options_.lockout_threshold)) return std::nullopt;
  const uint32_t doublings =
      std::min<uint32_t>(state.failures - static_cast<uint32_t>(options_.lockout_threshold), 30);
  absl::Duration lock = options_.lockout_base;
  for (uint32_t i = 0; i < doublings && lock < options_.lockout_cap; ++i) lock *= 2;
  lock = std::min(lock, options_.lockout_cap);
  state.locked_until = now + lock;
  return state.locked_until;
}

absl::StatusOr<SignInResult> Accounts::AuthenticateUnknown(const std::string& login,
                                                           absl::string_view password,
                                                           absl::Time now) {
  SignInResult result;
  {
    absl::MutexLock lock(&mu_);
    auto it = unknown_.find(login);
    if (it != unknown_.end() && it->second.locked_until.has_value() &&
        *it->second.locked_until > now) {
      result.refusal = SignInRefusal::kLocked;
      result.locked_until = it->second.locked_until;
      return result;
    }
  }
  Verify(decoy_hash_, password);
  // An account's failure is a synced write: so is this.
  HIE_RETURN_IF_ERROR(store_->Sync());
  result.refusal = SignInRefusal::kBadCredentials;
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = unknown_.try_emplace(login);
  if (inserted) {
    unknown_order_.push_back(login);
    while (unknown_.size() > options_.max_unknown_logins && !unknown_order_.empty()) {
      unknown_.erase(unknown_order_.front());
      unknown_order_.pop_front();
    }
    it = unknown_.find(login);
    if (it == unknown_.end()) return result;  // max_unknown_logins is 0
  }
  result.locked_until = RecordFailure(it->second, now);
  return result;
}

absl::StatusOr<SignInResult> Accounts::Authenticate(absl::string_view login_in,
                                                    absl::string_view password,
                                                    absl::string_view totp_code) {
  const absl::Time now = clock_->Now();
  const std::string login = absl::AsciiStrToLower(login_in);
  SignInResult result;
  if (!IsValidLogin(login)) {
    // No account can have it; it costs what a wrong password costs.
    Verify(decoy_hash_, password);
    HIE_RETURN_IF_ERROR(store_->Sync());
    result.refusal = SignInRefusal::kBadCredentials;
    return result;
  }
  LoginSlot slot(this, login);
  absl::StatusOr<hie::v1::StoredAccount> loaded = Load(login);
  if (absl::IsNotFound(loaded.status())) return AuthenticateUnknown(login, password, now);
  if (!loaded.ok()) return loaded.status();
  hie::v1::StoredAccount& stored = *loaded;
  if (stored.has_locked_until() && FromProtoTime(stored.locked_until()) > now) {
    result.refusal = SignInRefusal::kLocked;
    result.locked_until = FromProtoTime(stored.locked_until());
    return result;
  }
  auto fail = [&](SignInRefusal refusal) -> absl::StatusOr<SignInResult> {
    LockState state{stored.failed_attempts(), std::nullopt};
    result.locked_until = RecordFailure(state, now);
    stored.set_failed_attempts(state.failures);
    if (result.locked_until.has_value()) {
      *stored.mutable_locked_until() = ToProtoTime(*result.locked_until);
    }
    HIE_RETURN_IF_ERROR(Save(stored));
    result.refusal = refusal;
    return result;
  };
  if (!Verify(stored.password_hash(), password)) return fail(SignInRefusal::kBadCredentials);
  if (stored.disabled()) {
    result.refusal = SignInRefusal::kDisabled;
    return result;
  }
  if (stored.must_change_password() && stored.has_temporary_password_expires_at() &&
      FromProtoTime(stored.temporary_password_expires_at()) <= now) {
    result.refusal = SignInRefusal::kPasswordExpired;
    return result;
  }
  if (!stored.totp_secret().empty()) {
    const std::string code = NormalizeCode(totp_code);
    if (code.empty()) {
      result.refusal = SignInRefusal::kTotpRequired;
      return result;
    }
    std::optional<int64_t> step =
        MatchTotp(stored.totp_secret(), code, now, stored.totp_last_step());
    if (!step.has_value()) return fail(SignInRefusal::kTotpWrong);
    stored.set_totp_last_step(*step);
  }
  stored.set_failed_attempts(0);
  stored.clear_locked_until();
  *stored.mutable_last_sign_in_at() = ToProtoTime(now);
  if (crypto_pwhash_str_needs_rehash(stored.password_hash().c_str(), options_.hash_limits.ops,
                                     options_.hash_limits.mem_bytes) != 0) {
    // Hashed with other limits (older, or another algorithm): hash it as today's.
    HIE_ASSIGN_OR_RETURN(*stored.mutable_password_hash(), Hash(password));
  }
  HIE_RETURN_IF_ERROR(Save(stored));
  result.account = ToAccount(stored, now);
  return result;
}

hie::v1::UserRole UserRoleToProto(UserRole role) {
  switch (role) {
    case UserRole::kClinician:
      return hie::v1::USER_ROLE_CLINICIAN;
    case UserRole::kFrontDesk:
      return hie::v1::USER_ROLE_FRONT_DESK;
    case UserRole::kPracticeAdmin:
      return hie::v1::USER_ROLE_PRACTICE_ADMIN;
    case UserRole::kPatient:
      return hie::v1::USER_ROLE_PATIENT;
  }
  return hie::v1::USER_ROLE_UNSPECIFIED;
}

std::optional<UserRole> UserRoleFromProto(hie::v1::UserRole role) {
  switch (role) {
    case hie::v1::USER_ROLE_CLINICIAN:
      return UserRole::kClinician;
    case hie::v1::USER_ROLE_FRONT_DESK:
      return UserRole::kFrontDesk;
    case hie::v1::USER_ROLE_PRACTICE_ADMIN:
      return UserRole::kPracticeAdmin;
    case hie::v1::USER_ROLE_PATIENT:
      return UserRole::kPatient;
    default:
      return std::nullopt;
  }
}

}  // namespace hie::node
