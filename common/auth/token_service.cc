#include "common/auth/token_service.h"

#include <openssl/rand.h>

#include <algorithm>
#include <map>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/auth/json_internal.h"
#include "common/auth/oauth_error.h"
#include "common/auth/scope.h"
#include "common/crypto/hash.h"
#include "common/json/json_writer.h"
#include "common/status/status_macros.h"
#include "common/store/key_codec.h"

namespace hie::auth {
namespace {

constexpr char kGrantType[] = "client_credentials";
constexpr char kAssertionType[] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
constexpr size_t kAccessTokenBytes = 32;
constexpr size_t kMaxJtiBytes = 256;
constexpr size_t kMaxSubjectBytes = 256;
constexpr size_t kMaxReasonBytes = 1024;
constexpr absl::Duration kMaxTokenLifetime = absl::Hours(1);
constexpr absl::Duration kPurgeEvery = absl::Seconds(10);
constexpr int kMaxPurgedAtOnce = 10000;

// A claim's value in an error description: short and printable.
std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, 64)), text.size() > 64 ? "..." : "",
                      "\"");
}

absl::Status Refuse(OAuthError error, absl::string_view description) {
  return MakeOAuthError(error, description);
}

// ---- Purpose of use

// v3 PurposeOfUse (ActReason) codes: the set the consent service understands
// (consent/domain/codes.cc), repeated because common/ cannot link a domain library.
bool IsKnownPurpose(absl::string_view code) {
  static constexpr absl::string_view kCodes[] = {
      "BTG",     "CAREMGT", "CLINTRCH", "CLINTRL",   "COC",      "COVERAGE", "DECEASED",
      "DONAT",   "ERTREAT", "ETREAT",   "FAMRQT",    "HDIRECT",  "HLEGAL",   "HMARKT",
      "HOPERAT", "HPAYMT",  "HRESCH",   "HSYSADMIN", "MEMADMIN", "PATADMIN", "PATRQT",
      "POPHLTH", "PUBHLTH", "PWATRNY",  "SUPNWK",    "SYSDEV",   "TREAT",    "TRAIN"};
  return std::find(std::begin(kCodes), std::end(kCodes), code) != std::end(kCodes);
}

// Emergency treatment and its specializations: the purposes that break the glass, and
// so must say why.
bool IsEmergencyPurpose(absl::string_view code) {
  return code == "ETREAT" || code == "BTG" || code == "ERTREAT";
}

// FAST writes a purpose as system#code; a bare code is read as v3 ActReason.
absl::StatusOr<std::string> PurposeCode(absl::string_view text) {
  absl::string_view code = text;
  for (absl::string_view system :
       {"urn:oid:2.16.840.1.113883.5.8#", "http://terminology.hl7.org/CodeSystem/v3-ActReason#"}) {
    if (absl::ConsumePrefix(&code, system)) break;
  }
  if (!IsKnownPurpose(code)) {
    return Refuse(OAuthError::kInvalidRequest,
                  absl::StrCat("purpose_of_use ", Quoted(text), " is not a v3 PurposeOfUse code"));
  }
  return std::string(code);
}

// ---- Claims

struct User {
  std::string id;
  std::string name;
  std::string purpose;
  std::string reason;
};

struct Claims {
  std::string iss;
  std::string sub;
  std::vector<std::string> aud;
  absl::Time exp;
  std::optional<absl::Time> nbf;
  std::optional<absl::Time> iat;
  std::string jti;
  std::optional<User> user;
};

// Text that goes into audit entries: bounded, and no control characters.
absl::Status CheckText(absl::string_view field, absl::string_view text, size_t max_bytes) {
  bool control = std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (control || text.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be at most ", max_bytes, " bytes without control characters"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadPurpose(simdjson::dom::object b2b) {
  HIE_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> purposes,
                       internal::OptionalStringArray(b2b, "purpose_of_use"));
  if (!purposes.has_value() || purposes->empty()) {
    return absl::InvalidArgumentError("hl7-b2b purpose_of_use is missing");
  }
  // A federated query is authorized for one purpose; several would leave it to the
  // FHIR layer to pick one the user did not.
  if (purposes->size() > 1) {
    return absl::InvalidArgumentError("hl7-b2b purpose_of_use must name exactly one purpose");
  }
  return PurposeCode(purposes->front());
}

absl::StatusOr<User> ReadUser(simdjson::dom::object b2b) {
  if (internal::HasDuplicateMembers(b2b)) {
    return absl::InvalidArgumentError("hl7-b2b names a member twice");
  }
  HIE_ASSIGN_OR_RETURN(std::optional<std::string> version,
                       internal::OptionalString(b2b, "version"));
  if (version.has_value() && *version != "1") {
    return absl::InvalidArgumentError(
        absl::StrCat("hl7-b2b version ", Quoted(*version), " is not 1"));
  }
  User user;
  HIE_ASSIGN_OR_RETURN(user.id, internal::RequiredString(b2b, "subject_id"));
  HIE_ASSIGN_OR_RETURN(std::optional<std::string> name,
                       internal::OptionalString(b2b, "subject_name"));
  HIE_ASSIGN_OR_RETURN(std::optional<std::string> reason, internal::OptionalString(b2b, "reason"));
  user.name = name.value_or("");
  user.reason = reason.value_or("");
  HIE_RETURN_IF_ERROR(CheckText("hl7-b2b subject_id", user.id, kMaxSubjectBytes));
  HIE_RETURN_IF_ERROR(CheckText("hl7-b2b subject_name", user.name, kMaxSubjectBytes));
  HIE_RETURN_IF_ERROR(CheckText("hl7-b2b reason", user.reason, kMaxReasonBytes));
  HIE_ASSIGN_OR_RETURN(user.purpose, ReadPurpose(b2b));
  if (IsEmergencyPurpose(user.purpose) && absl::StripAsciiWhitespace(user.reason).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("purpose ", user.purpose, " breaks the glass: hl7-b2b reason must say why"));
  }
  return user;
}

// The hl7-b2b extension, if the assertion carries one.
absl::StatusOr<std::optional<User>> ReadExtensions(simdjson::dom::object claims) {
  simdjson::dom::element extensions;
  if (claims.at_key("extensions").get(extensions)) return std::nullopt;
  simdjson::dom::object object;
  if (extensions.get_object().get(object) || internal::HasDuplicateMembers(object)) {
    return absl::InvalidArgumentError("\"extensions\" is not a JSON object");
  }
  simdjson::dom::element b2b;
  if (object.at_key("hl7-b2b").get(b2b)) return std::nullopt;
  simdjson::dom::object b2b_object;
  if (b2b.get_object().get(b2b_object)) {
    return absl::InvalidArgumentError("\"hl7-b2b\" is not a JSON object");
  }
  return ReadUser(b2b_object);
}

// RFC 7519 allows one audience or an array of them.
absl::StatusOr<std::vector<std::string>> ReadAudiences(simdjson::dom::object claims) {
  simdjson::dom::element aud;
  if (claims.at_key("aud").get(aud)) return absl::InvalidArgumentError("\"aud\" is missing");
  if (aud.is_array()) {
    HIE_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> many,
                         internal::OptionalStringArray(claims, "aud"));
    return many.value_or(std::vector<std::string>());
  }
  HIE_ASSIGN_OR_RETURN(std::string one, internal::RequiredString(claims, "aud"));
  return std::vector<std::string>{one};
}

absl::StatusOr<Claims> ReadClaimsFrom(simdjson::dom::object json) {
  Claims claims;
  HIE_ASSIGN_OR_RETURN(claims.iss, internal::RequiredString(json, "iss"));
  HIE_ASSIGN_OR_RETURN(claims.sub, internal::RequiredString(json, "sub"));
  HIE_ASSIGN_OR_RETURN(claims.jti, internal::RequiredString(json, "jti"));
  if (claims.jti.size() > kMaxJtiBytes) {
    return absl::InvalidArgumentError("\"jti\" is longer than 256 bytes");
  }
  HIE_ASSIGN_OR_RETURN(claims.aud, ReadAudiences(json));
  HIE_ASSIGN_OR_RETURN(std::optional<absl::Time> exp, internal::OptionalNumericDate(json, "exp"));
  if (!exp.has_value()) return absl::InvalidArgumentError("\"exp\" is missing");
  claims.exp = *exp;
  HIE_ASSIGN_OR_RETURN(claims.nbf, internal::OptionalNumericDate(json, "nbf"));
  HIE_ASSIGN_OR_RETURN(claims.iat, internal::OptionalNumericDate(json, "iat"));
  HIE_ASSIGN_OR_RETURN(claims.user, ReadExtensions(json));
  return claims;
}

// Every malformation is invalid_request, with what was wrong as the description.
absl::StatusOr<Claims> ReadClaims(absl::string_view payload_json) {
  simdjson::dom::parser parser;
  simdjson::dom::object json;
  absl::Status parsed = internal::ParseObject(parser, payload_json, "JWT claims", &json);
  absl::StatusOr<Claims> claims = parsed.ok() ? ReadClaimsFrom(json) : parsed;
  if (!claims.ok() && !OAuthErrorOf(claims.status()).has_value()) {
    return Refuse(OAuthError::kInvalidRequest, claims.status().message());
  }
  return claims;
}

absl::Status CheckGrant(const Claims& claims, absl::string_view token_endpoint, absl::Time now,
                        const TokenServiceOptions& options) {
  if (claims.sub != claims.iss) {
    return Refuse(OAuthError::kInvalidGrant, "\"sub\" must equal \"iss\", the client_id");
  }
  if (std::find(claims.aud.begin(), claims.aud.end(), token_endpoint) == claims.aud.end()) {
    return Refuse(OAuthError::kInvalidGrant,
                  absl::StrCat("\"aud\" must be this token endpoint, ", token_endpoint));
  }
  if (claims.exp <= now) return Refuse(OAuthError::kInvalidGrant, "the assertion has expired");
  if (claims.exp > now + options.max_assertion_lifetime + options.clock_skew) {
    return Refuse(OAuthError::kInvalidGrant,
                  absl::StrCat("\"exp\" may be at most ",
                               absl::FormatDuration(options.max_assertion_lifetime), " ahead"));
  }
  if (claims.nbf.has_value() && *claims.nbf > now + options.clock_skew) {
    return Refuse(OAuthError::kInvalidGrant, "the assertion is not valid yet (\"nbf\")");
  }
  if (claims.iat.has_value() && *claims.iat > now + options.clock_skew) {
    return Refuse(OAuthError::kInvalidGrant, "the assertion was issued in the future (\"iat\")");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NewAccessToken() {
  unsigned char bytes[kAccessTokenBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("no randomness for an access token");
  }
  return Base64UrlEncode(absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

// ---- Used assertion ids in the store
//
// (auth, jti, client_id, jti) -> keep_until (unix micros, decimal);
// (auth, jti-until, keep_until, client_id, jti) -> "" orders them for the purge.

std::string JtiKey(absl::string_view client_id, absl::string_view jti) {
  return store::KeyBuilder()
      .AddString("auth")
      .AddString("jti")
      .AddString(client_id)
      .AddString(jti)
      .Build();
}

std::string JtiUntilKey(int64_t until_micros, absl::string_view client_id, absl::string_view jti) {
  return store::KeyBuilder()
      .AddString("auth")
      .AddString("jti-until")
      .AddInt64(until_micros)
      .AddString(client_id)
      .AddString(jti)
      .Build();
}

std::string JtiUntilPrefix() {
  return store::KeyBuilder().AddString("auth").AddString("jti-until").Build();
}

class TokenServiceImpl final : public TokenService {
 public:
  TokenServiceImpl(ClientRegistry* clients, store::KvStore* store,
                   const TokenServiceOptions& options)
      : clients_(clients), store_(store), options_(options) {}

  absl::StatusOr<TokenResponse> Exchange(absl::string_view assertion, absl::string_view scope,
                                         absl::string_view token_endpoint, absl::Time now) override;
  absl::StatusOr<Principal> Verify(absl::string_view access_token, absl::Time now) const override;
  absl::StatusOr<int64_t> PurgeUsedAssertions(absl::Time now) override;

 private:
  // The client named by `iss`, if registered and not revoked, and its checked signature.
  absl::StatusOr<Client> Authenticate(const Jws& jws, const Claims& claims) const;
  absl::Status UseJti(const Claims& claims, absl::Time now);
  absl::StatusOr<int64_t> PurgeLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(jti_mu_);
  absl::StatusOr<std::string> Issue(Principal principal, absl::Time now);
  void DropExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tokens_mu_);

  ClientRegistry* const clients_;
  store::KvStore* const store_;
  const TokenServiceOptions options_;

  absl::Mutex jti_mu_;  // orders check-then-record of a jti
  absl::Time last_purge_ ABSL_GUARDED_BY(jti_mu_) = absl::InfinitePast();

  // Keyed by the token's SHA-256, not the token: a lookup's timing then reveals nothing
  // about live tokens, and a memory dump holds none.
  mutable absl::Mutex tokens_mu_;
  absl::flat_hash_map<std::string, Principal> tokens_ ABSL_GUARDED_BY(tokens_mu_);
  std::multimap<absl::Time, std::string> by_expiry_ ABSL_GUARDED_BY(tokens_mu_);
  absl::flat_hash_map<std::string, size_t> per_client_ ABSL_GUARDED_BY(tokens_mu_);
};

absl::StatusOr<TokenResponse> TokenServiceImpl::Exchange(absl::string_view assertion,
                                                         absl::string_view scope,
                                                         absl::string_view token_endpoint,
                                                         absl::Time now) {
  if (assertion.size() > options_.max_assertion_bytes) {
    return Refuse(OAuthError::kInvalidRequest, "the assertion is too long");
  }
  absl::StatusOr<Jws> jws = ParseJws(assertion);
  if (!jws.ok()) return Refuse(OAuthError::kInvalidRequest, jws.status().message());
  HIE_ASSIGN_OR_RETURN(Claims claims, ReadClaims(jws->payload_json));
  HIE_ASSIGN_OR_RETURN(Client client, Authenticate(*jws, claims));
  HIE_RETURN_IF_ERROR(CheckGrant(claims, token_endpoint, now, options_));
  std::vector<std::string> granted = GrantScopes(scope, client.scopes);
  if (granted.empty()) {
    return Refuse(OAuthError::kInvalidScope,
                  "none of the requested scopes is allowed for this client");
  }
  HIE_RETURN_IF_ERROR(UseJti(claims, now));
  Principal principal;
  principal.client_id = client.client_id;
  principal.org = client.org;
  principal.scopes = granted;
  if (claims.user.has_value()) {
    principal.user_id = claims.user->id;
    principal.user_name = claims.user->name;
    principal.purpose_of_use = claims.user->purpose;
    principal.reason = claims.user->reason;
  }
  TokenResponse response;
  HIE_ASSIGN_OR_RETURN(response.access_token, Issue(std::move(principal), now));
  response.expires_in = absl::ToInt64Seconds(options_.token_lifetime);
  response.scope = absl::StrJoin(granted, " ");
  return response;
}

absl::StatusOr<Client> TokenServiceImpl::Authenticate(const Jws& jws, const Claims& claims) const {
  absl::StatusOr<Client> client = clients_->Get(claims.iss);
  if (absl::IsNotFound(client.status())) {
    return Refuse(OAuthError::kInvalidClient, absl::StrCat("unknown client ", Quoted(claims.iss)));
  }
  if (!client.ok()) return client.status();
  if (client->revoked()) {
    return Refuse(OAuthError::kInvalidClient, "this client's registration has been revoked");
  }
  absl::StatusOr<JwtPublicKey> key = client->Key();
  if (!key.ok()) {
    return absl::InternalError(absl::StrCat("the registered key of client ", client->client_id,
                                            " does not load: ", key.status().message()));
  }
  if (absl::Status verified = key->Verify(jws); !verified.ok()) {
    return Refuse(OAuthError::kInvalidClient, verified.message());
  }
  return client;
}

absl::Status TokenServiceImpl::UseJti(const Claims& claims, absl::Time now) {
  absl::MutexLock lock(&jti_mu_);
  if (now - last_purge_ >= kPurgeEvery) {
    last_purge_ = now;
    (void)PurgeLocked(now);  // a failed purge only delays it; the check does not need it
  }
  std::string key = JtiKey(claims.iss, claims.jti);
  absl::StatusOr<std::string> seen = store_->Get(key);
  if (seen.ok()) {
    return Refuse(OAuthError::kInvalidGrant, "this assertion's jti has been used before");
  }
  if (!absl::IsNotFound(seen.status())) return seen.status();
  int64_t until = absl::ToUnixMicros(claims.exp);
  store::WriteBatch batch;
  batch.Put(key, absl::StrCat(until));
  batch.Put(JtiUntilKey(until, claims.iss, claims.jti), "");
  // Synced: a restart cannot make the assertion usable again. No record, no token.
  if (absl::Status written = store_->Write(batch); !written.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the assertion's use could not be recorded: ", written.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> TokenServiceImpl::PurgeUsedAssertions(absl::Time now) {
  absl::MutexLock lock(&jti_mu_);
  last_purge_ = now;
  return PurgeLocked(now);
}

absl::StatusOr<int64_t> TokenServiceImpl::PurgeLocked(absl::Time now) {
  std::string start = JtiUntilPrefix();
  std::string end = JtiUntilKey(absl::ToUnixMicros(now), "", "");
  store::WriteBatch batch;
  HIE_RETURN_IF_ERROR(store_->Scan(start, end, [&](absl::string_view key, absl::string_view) {
    store::KeyReader reader(key);
    std::string auth, kind, client_id, jti;
    int64_t until = 0;
    if (reader.ReadString(&auth) && reader.ReadString(&kind) && reader.ReadInt64(&until) &&
        reader.ReadString(&client_id) && reader.ReadString(&jti)) {
      batch.Delete(JtiKey(client_id, jti));
    }
    batch.Delete(key);
    return batch.size() < 2 * kMaxPurgedAtOnce;
  }));
  if (batch.empty()) return 0;
  HIE_RETURN_IF_ERROR(store_->WriteUnsynced(batch));  // losing a purge only delays it
  return static_cast<int64_t>(batch.size() / 2);
}

absl::StatusOr<std::string> TokenServiceImpl::Issue(Principal principal, absl::Time now) {
  HIE_ASSIGN_OR_RETURN(std::string token, NewAccessToken());
  principal.expires_at = now + options_.token_lifetime;
  std::string hash = crypto::Sha256(token);
  absl::MutexLock lock(&tokens_mu_);
  DropExpiredLocked(now);
  size_t& live = per_client_[principal.client_id];
  if (live >= options_.max_tokens_per_client) {
    return absl::ResourceExhaustedError(
        "this client holds too many live access tokens: reuse one until it expires");
  }
  ++live;
  by_expiry_.emplace(principal.expires_at, hash);
  tokens_.emplace(std::move(hash), std::move(principal));
  return token;
}

void TokenServiceImpl::DropExpiredLocked(absl::Time now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    auto token = tokens_.find(by_expiry_.begin()->second);
    if (token != tokens_.end()) {
      auto count = per_client_.find(token->second.client_id);
      if (count != per_client_.end() && --count->second == 0) per_client_.erase(count);
      tokens_.erase(token);
    }
    by_expiry_.erase(by_expiry_.begin());
  }
}

absl::StatusOr<Principal> TokenServiceImpl::Verify(absl::string_view access_token,
                                                   absl::Time now) const {
  std::optional<Principal> principal;
  {
    absl::ReaderMutexLock lock(&tokens_mu_);
    auto it = tokens_.find(crypto::Sha256(access_token));
    if (it != tokens_.end()) principal = it->second;
  }
  if (!principal.has_value()) return absl::UnauthenticatedError("unknown access token");
  if (now >= principal->expires_at) return absl::UnauthenticatedError("access token expired");
  absl::StatusOr<Client> client = clients_->Get(principal->client_id);
  if (absl::IsNotFound(client.status()) || (client.ok() && client->revoked())) {
    return absl::UnauthenticatedError("the access token's client has been revoked");
  }
  if (!client.ok()) return client.status();
  return *std::move(principal);
}

}  // namespace

std::string TokenResponse::ToJson() const {
  return JsonObject()
      .Add("access_token", access_token)
      .Add("token_type", token_type)
      .Add("expires_in", expires_in)
      .Add("scope", scope)
      .Build();
}

std::string OAuthErrorJson(const absl::Status& status) {
  std::optional<std::string> error = OAuthErrorOf(status);
  if (error.has_value()) {
    return JsonObject().Add("error", *error).Add("error_description", status.message()).Build();
  }
  bool busy = absl::IsResourceExhausted(status) || absl::IsUnavailable(status);
  return JsonObject()
      .Add("error", busy ? "temporarily_unavailable" : "server_error")
      .Add("error_description", "the token request could not be completed; try again later")
      .Build();
}

absl::Status CheckTokenRequest(absl::string_view grant_type,
                               absl::string_view client_assertion_type) {
  if (grant_type != kGrantType) {
    return Refuse(OAuthError::kUnsupportedGrantType, "grant_type must be client_credentials");
  }
  if (client_assertion_type != kAssertionType) {
    return Refuse(OAuthError::kInvalidRequest,
                  absl::StrCat("client_assertion_type must be ", kAssertionType));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TokenService>> TokenService::Create(
    ClientRegistry* clients, store::KvStore* store, const TokenServiceOptions& options) {
  if (options.token_lifetime <= absl::ZeroDuration() ||
      options.token_lifetime > kMaxTokenLifetime) {
    return absl::InvalidArgumentError("token_lifetime must be more than zero and at most 1h");
  }
  if (options.max_assertion_lifetime <= absl::ZeroDuration() ||
      options.clock_skew < absl::ZeroDuration() || options.max_tokens_per_client == 0) {
    return absl::InvalidArgumentError(
        "max_assertion_lifetime and max_tokens_per_client must be positive, clock_skew not "
        "negative");
  }
  return std::make_unique<TokenServiceImpl>(clients, store, options);
}

}  // namespace hie::auth
