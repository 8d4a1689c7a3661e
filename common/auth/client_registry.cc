#include "common/auth/client_registry.h"

#include <openssl/rand.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/auth/json_internal.h"
#include "common/auth/scope.h"
#include "common/json/json_writer.h"
#include "common/pki/identity.h"
#include "common/status/status_macros.h"
#include "common/store/key_codec.h"

namespace hie::auth {
namespace {

constexpr size_t kClientIdBytes = 16;
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxKeyBytes = 16 << 10;

std::string Prefix() { return store::KeyBuilder().AddString("auth").AddString("client").Build(); }

std::string ClientKey(absl::string_view client_id) {
  return store::KeyBuilder().AddString("auth").AddString("client").AddString(client_id).Build();
}

absl::StatusOr<std::string> NewClientId() {
  unsigned char bytes[kClientIdBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("no randomness for a client id");
  }
  return Base64UrlEncode(absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

absl::Status CheckRegistration(const ClientRegistration& r) {
  if (absl::StripAsciiWhitespace(r.name).empty() || r.name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError("name: must be 1 to 256 characters, not blank");
  }
  if (!pki::IsValidOrgId(r.org)) {
    return absl::InvalidArgumentError(absl::StrCat("org: \"", absl::CHexEscape(r.org),
                                                   "\" is not an org id ([a-z0-9-], 1 to 63)"));
  }
  if (r.public_key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError("public_key: longer than 16 KiB");
  }
  if (absl::Status key = JwtPublicKey::Parse(r.public_key, r.algorithm).status(); !key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("public_key: ", key.message()));
  }
  if (r.scopes.empty()) return absl::InvalidArgumentError("scopes: none given");
  for (const std::string& scope : r.scopes) {
    if (!IsSystemScope(scope)) {
      return absl::InvalidArgumentError(
          absl::StrCat("scopes: \"", absl::CHexEscape(scope),
                       "\" is not a system scope (system/Type.read, system/*.rs, ...)"));
    }
  }
  return absl::OkStatus();
}

std::string Encode(const Client& client) {
  std::vector<std::string> scopes;
  for (const std::string& scope : client.scopes) scopes.push_back(JsonQuote(scope));
  JsonObject json;
  json.Add("client_id", client.client_id)
      .Add("name", client.name)
      .Add("org", client.org)
      .Add("algorithm", JwsAlgorithmName(client.algorithm))
      .Add("public_key", client.public_key)
      .AddRaw("scopes", JsonArray(scopes))
      .Add("registered_at_us", absl::ToUnixMicros(client.registered_at));
  if (client.revoked_at.has_value()) {
    json.Add("revoked_at_us", absl::ToUnixMicros(*client.revoked_at));
  }
  return json.Build();
}

absl::StatusOr<Client> DecodeFields(simdjson::dom::object json) {
  Client client;
  HIE_ASSIGN_OR_RETURN(client.client_id, internal::RequiredString(json, "client_id"));
  HIE_ASSIGN_OR_RETURN(client.name, internal::RequiredString(json, "name"));
  HIE_ASSIGN_OR_RETURN(client.org, internal::RequiredString(json, "org"));
  HIE_ASSIGN_OR_RETURN(client.public_key, internal::RequiredString(json, "public_key"));
  HIE_ASSIGN_OR_RETURN(std::string algorithm, internal::RequiredString(json, "algorithm"));
  HIE_ASSIGN_OR_RETURN(client.algorithm, ParseJwsAlgorithm(algorithm));
  HIE_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> scopes,
                       internal::OptionalStringArray(json, "scopes"));
  client.scopes = scopes.value_or(std::vector<std::string>());
  int64_t micros = 0;
  if (json.at_key("registered_at_us").get_int64().get(micros)) {
    return absl::InvalidArgumentError("no registered_at_us");
  }
  client.registered_at = absl::FromUnixMicros(micros);
  if (!json.at_key("revoked_at_us").get_int64().get(micros)) {
    client.revoked_at = absl::FromUnixMicros(micros);
  }
  return client;
}

absl::StatusOr<Client> Decode(absl::string_view key, absl::string_view value) {
  simdjson::dom::parser parser;
  simdjson::dom::object json;
  absl::Status parsed = internal::ParseObject(parser, value, "client entry", &json);
  absl::StatusOr<Client> client = parsed.ok() ? DecodeFields(json) : parsed;
  if (!client.ok()) {
    return absl::DataLossError(absl::StrCat("client entry ", absl::CHexEscape(key),
                                            " is corrupt: ", client.status().message()));
  }
  return client;
}

}  // namespace

absl::StatusOr<Client> ClientRegistry::Register(const ClientRegistration& registration,
                                                absl::Time now) {
  HIE_RETURN_IF_ERROR(CheckRegistration(registration));
  Client client;
  HIE_ASSIGN_OR_RETURN(client.client_id, NewClientId());
  client.name = registration.name;
  client.org = registration.org;
  client.public_key = registration.public_key;
  client.algorithm = registration.algorithm;
  for (const std::string& scope : registration.scopes) {
    if (std::find(client.scopes.begin(), client.scopes.end(), scope) == client.scopes.end()) {
      client.scopes.push_back(scope);
    }
  }
  client.registered_at = now;
  HIE_RETURN_IF_ERROR(Put(client));
  return client;
}

absl::Status ClientRegistry::Revoke(absl::string_view client_id, absl::Time now) {
  HIE_ASSIGN_OR_RETURN(Client client, Get(client_id));
  if (client.revoked()) return absl::OkStatus();
  client.revoked_at = now;
  return Put(client);
}

absl::StatusOr<Client> ClientRegistry::Get(absl::string_view client_id) const {
  {
    absl::MutexLock lock(&mu_);
    auto it = known_.find(client_id);
    if (it != known_.end()) return it->second;
  }
  std::string key = ClientKey(client_id);
  absl::StatusOr<std::string> value = store_->Get(key);
  if (absl::IsNotFound(value.status())) {
    return absl::NotFoundError(
        absl::StrCat("no client \"", absl::CHexEscape(client_id.substr(0, 64)), "\""));
  }
  if (!value.ok()) return value.status();
  absl::StatusOr<Client> client = Decode(key, *value);
  if (client.ok()) {
    absl::MutexLock lock(&mu_);
    known_.emplace(client->client_id, *client);
  }
  return client;
}

absl::StatusOr<std::vector<Client>> ClientRegistry::List() const {
  std::vector<Client> out;
  absl::Status status = absl::OkStatus();
  HIE_RETURN_IF_ERROR(
      store_->ScanPrefix(Prefix(), [&](absl::string_view key, absl::string_view value) {
        absl::StatusOr<Client> client = Decode(key, value);
        if (!client.ok()) status = client.status();
        if (client.ok()) out.push_back(*std::move(client));
        return status.ok();
      }));
  HIE_RETURN_IF_ERROR(status);
  return out;
}

absl::Status ClientRegistry::Put(const Client& client) {
  absl::Status stored = store_->Put(ClientKey(client.client_id), Encode(client));
  if (stored.ok()) {
    absl::MutexLock lock(&mu_);
    known_.insert_or_assign(client.client_id, client);
  }
  return stored;
}

}  // namespace hie::auth
