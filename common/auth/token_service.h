// SMART Backend Services token exchange (client_credentials with a signed JWT
// assertion, RFC 7523) and verification of the access tokens it issues.
//
// A registered client signs an assertion with its private key:
//   header  {"alg": "ES384" | "RS384", "typ": "JWT", "kid": ...}
//   claims  iss = sub = client_id, aud = the token endpoint URL, exp (at most five
//           minutes ahead), jti (unique), and optionally the HL7 FAST / UDAP B2B
//           authorization extension naming the person behind the request:
//           "extensions": {"hl7-b2b": {"version": "1", "subject_id": "...",
//             "subject_name": "...", "purpose_of_use": ["TREAT"], "reason": "..."}}
// and receives an opaque bearer token. The token endpoint and the FHIR routes translate
// HTTP to Exchange and Verify; no OAuth rule lives in them.
//
// What the exchange vouches for: the client is the registered one (signature with the
// key and algorithm pinned at registration), the practice is the one the client was
// registered for (never a claim), and the user and purpose are what that practice's
// client asserted. The requesting org is accountable for its user, as in every
// federated query.
#ifndef HIE_COMMON_AUTH_TOKEN_SERVICE_H_
#define HIE_COMMON_AUTH_TOKEN_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/client_registry.h"
#include "common/store/kv_store.h"

namespace hie::auth {

struct TokenServiceOptions {
  // How long an access token lives (expires_in). More than zero, at most one hour.
  absl::Duration token_lifetime = absl::Seconds(300);
  // How far ahead of now an assertion's exp may lie (SMART: five minutes).
  absl::Duration max_assertion_lifetime = absl::Minutes(5);
  // Leeway for a client clock running ahead of ours: added to max_assertion_lifetime
  // and to the nbf / iat checks. Never applied to exp itself, which is strict.
  absl::Duration clock_skew = absl::Seconds(30);
  // The longest assertion read, in bytes.
  size_t max_assertion_bytes = 16 << 10;
  // Live access tokens per client; past it Exchange refuses (ResourceExhausted) until
  // some expire, so one client cannot fill the node's memory.
  size_t max_tokens_per_client = 1000;
};

// The body of a successful token response (RFC 6749 section 5.1).
struct TokenResponse {
  std::string access_token;
  std::string token_type = "bearer";
  int64_t expires_in = 0;  // seconds
  std::string scope;       // the granted scopes, space-separated

  // {"access_token":..,"token_type":"bearer","expires_in":..,"scope":..}
  std::string ToJson() const;
};

// Who is calling with a verified access token.
struct Principal {
  std::string client_id;
  std::string org;                  // from the client's registration
  std::vector<std::string> scopes;  // granted
  // From the assertion's hl7-b2b extension; all empty without it (the FHIR layer then
  // refuses federated reads, which need a user and a purpose).
  std::string user_id;
  std::string user_name;       // may be empty even with a user
  std::string purpose_of_use;  // a v3 PurposeOfUse code, e.g. "TREAT", "ETREAT"
  std::string reason;          // always non-blank for an emergency purpose
  absl::Time expires_at;

  bool has_user() const { return !user_id.empty(); }
};

// The OAuth error body for a failed Exchange or CheckTokenRequest:
// {"error":..,"error_description":..}. A status without an OAuth error (a store
// failure) becomes {"error":"server_error"} with no internal detail.
std::string OAuthErrorJson(const absl::Status& status);

// The form parameters of a token request besides the assertion and scope.
// Errors (OAuth): unsupported_grant_type unless grant_type is "client_credentials";
// invalid_request unless client_assertion_type is
// "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".
absl::Status CheckTokenRequest(absl::string_view grant_type,
                               absl::string_view client_assertion_type);

// Thread-safe. Access tokens live in memory only: a restart ends them and clients ask
// again. Used assertion ids (jti) live in the store until their assertion expires, so an
// assertion cannot be replayed after a restart either.
class TokenService {
 public:
  virtual ~TokenService() = default;

  // `clients` and `store` are not owned and must outlive the service; the service keeps
  // its entries under the key prefix ("auth", "jti").
  // Errors: InvalidArgument for options out of range.
  static absl::StatusOr<std::unique_ptr<TokenService>> Create(ClientRegistry* clients,
                                                              store::KvStore* store,
                                                              const TokenServiceOptions& options);

  // Exchanges a client assertion for an access token. `scope` is the space-separated
  // scope request; `token_endpoint` the absolute URL the assertion must be addressed to
  // (its aud). The jti is stored (synced) before a token is returned.
  // Errors, each carrying its OAuth error (oauth_error.h):
  //   invalid_request  the assertion is not a JWS of JSON claims, a claim is missing or
  //                    of the wrong type, or the hl7-b2b extension is malformed: an
  //                    unknown purpose, more than one purpose, no subject_id, or an
  //                    emergency purpose (ETREAT, BTG, ERTREAT) without a reason.
  //   invalid_client   unknown or revoked client; the header's alg is not the one
  //                    registered; the signature does not verify.
  //   invalid_grant    sub != iss, wrong aud, exp passed or too far ahead, nbf or iat in
  //                    the future, or the jti was used before.
  //   invalid_scope    nothing requested is allowed for this client.
  // ResourceExhausted if the client holds max_tokens_per_client live tokens;
  // Unavailable if the jti could not be stored; other store errors as they come.
  virtual absl::StatusOr<TokenResponse> Exchange(absl::string_view assertion,
                                                 absl::string_view scope,
                                                 absl::string_view token_endpoint,
                                                 absl::Time now) = 0;

  // The principal of a live access token. Errors: Unauthenticated if the token is
  // unknown, expired, or its client has been revoked since it was issued; the store's
  // error if the client cannot be read.
  virtual absl::StatusOr<Principal> Verify(absl::string_view access_token,
                                           absl::Time now) const = 0;

  // Deletes the stored jtis of assertions expired by `now`; returns how many. Exchange
  // also does this now and then.
  virtual absl::StatusOr<int64_t> PurgeUsedAssertions(absl::Time now) = 0;
};

}  // namespace hie::auth

#endif  // HIE_COMMON_AUTH_TOKEN_SERVICE_H_
