// hiectl fhir: the practice's SMART Backend Services clients of its node's FHIR API
// (client add, list, revoke, over gRPC with the practice's certificate), and a token for
// one of them (token: the client-credentials flow with a signed assertion, over HTTPS).

#include <openssl/rand.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/https_client.h"
#include "cli/rpc_command.h"
#include "common/auth/jwt.h"
#include "common/config/config_file.h"
#include "common/json/json_writer.h"
#include "proto/hie/v1/config.pb.h"
#include "proto/hie/v1/node.grpc.pb.h"
#include "simdjson.h"

namespace hie::cli {
namespace {

absl::StatusOr<std::string> ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void PrintClient(const hie::v1::FhirClient& c) {
  std::cout << c.client_id() << "  " << c.name() << "  " << c.algorithm() << "  "
            << absl::StrJoin(c.scopes(), " ") << (c.has_revoked_at() ? "  (revoked)" : "") << "\n";
}

int RunClientAdd(const std::vector<std::string>& args) {
  std::string name, key_file, algorithm = "ES384";
  std::vector<std::string> scopes;
  return RunRpcCommand<hie::v1::FhirClients>(
      args, "fhir client add",
      "hiectl fhir client add --name TEXT --public-key FILE [--algorithm ES384|RS384] "
      "--scope S... [--json]",
      "Registers a SMART Backend Services client of the node's FHIR API, for the node's own\n"
      "practice: its public key (PEM or JWK; an EC P-384 key for ES384, RSA of 2048 bits or\n"
      "more for RS384), the only algorithm its assertions may use, and the system scopes it\n"
      "may ask for (system/*.read, system/Patient.rs...). Prints the client id to put in\n"
      "the profile (fhir_client_id) with the private key's file (fhir_client_key_file).",
      "hiectl fhir client add --profile org-a.profile --name \"EMR export\" --public-key "
      "emr.pub.pem --scope 'system/*.read'",
      [&](FlagSet& flags) {
        flags.String("name", &name, "TEXT", "what the client is, for people (required)");
        flags.String("public-key", &key_file, "FILE", "its public key, PEM or JWK (required)");
        flags.String("algorithm", &algorithm, "ALG", "ES384 (default) or RS384");
        flags.Strings("scope", &scopes, "S", "a system scope it may ask for (repeat)");
      },
      [&](hie::v1::FhirClients::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        if (name.empty() || key_file.empty() || scopes.empty()) {
          return UsageError(
              "fhir client add",
              absl::InvalidArgumentError("--name, --public-key and --scope are required"));
        }
        absl::StatusOr<std::string> key = ReadFileText(key_file);
        if (!key.ok()) return Fail(key.status());
        hie::v1::RegisterFhirClientRequest request;
        request.set_name(name);
        request.set_public_key(*key);
        request.set_algorithm(algorithm);
        for (const std::string& s : scopes) request.add_scopes(s);
        hie::v1::FhirClient response;
        grpc::Status status = stub.RegisterClient(&context, request, &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
        } else {
          PrintClient(response);
        }
        return kExitOk;
      });
}

int RunClientList(const std::vector<std::string>& args) {
  return RunRpcCommand<hie::v1::FhirClients>(
      args, "fhir client list", "hiectl fhir client list [--json]",
      "The node's FHIR API clients: id, name, algorithm, scopes, and whether revoked.",
      "hiectl fhir client list --profile org-a.profile", [](FlagSet&) {},
      [&](hie::v1::FhirClients::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::ListFhirClientsResponse response;
        grpc::Status status =
            stub.ListClients(&context, hie::v1::ListFhirClientsRequest(), &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
        } else {
          for (const auto& c : response.clients()) PrintClient(c);
        }
        return kExitOk;
      });
}

int RunClientRevoke(const std::vector<std::string>& args) {
  std::string client_id;
  return RunRpcCommand<hie::v1::FhirClients>(
      args, "fhir client revoke", "hiectl fhir client revoke --client-id ID [--json]",
      "Revokes a client of the node's FHIR API: its assertions are refused and the tokens\n"
      "it holds stop working at once.",
      "hiectl fhir client revoke --profile org-a.profile --client-id 3q2-AbC...",
      [&](FlagSet& flags) { flags.String("client-id", &client_id, "ID", "the client (required)"); },
      [&](hie::v1::FhirClients::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        if (client_id.empty()) {
          return UsageError("fhir client revoke",
                            absl::InvalidArgumentError("--client-id is required"));
        }
        hie::v1::RevokeFhirClientRequest request;
        request.set_client_id(client_id);
        hie::v1::FhirClient response;
        grpc::Status status = stub.RevokeClient(&context, request, &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
        } else {
          PrintClient(response);
        }
        return kExitOk;
      });
}

std::string RandomId() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  return auth::Base64UrlEncode(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

int RunToken(const std::vector<std::string>& args) {
  std::string profile_path, fhir_base, client_id, key_file, ca_file;
  std::string user, user_name, purpose, reason, scope = "system/*.read";
  bool json = false;
  FlagSet flags(
      "hiectl fhir token --profile P [--user ID --purpose CODE] [--user-name NAME] "
      "[--reason TEXT] [--scope S] [--json]",
      "Asks the node's FHIR API for an access token with the practice's registered client\n"
      "(SMART Backend Services: an assertion signed with the client's private key, with the\n"
      "requesting user and purpose of use as HL7 B2B claims) and prints the token, so that\n"
      "curl -H \"Authorization: Bearer $(hiectl fhir token ...)\" works. The profile names\n"
      "the API (fhir_base), the client (fhir_client_id, fhir_client_key_file) and the CA\n"
      "that signed the node's certificate (ca_file); flags override it. An emergency purpose\n"
      "(ETREAT) needs --reason. Without --user and --purpose the token reads this practice's\n"
      "own records only (no federated $everything).",
      "hiectl fhir token --profile org-a.profile --user dr-ana --user-name \"Dr Ana Ruiz\" "
      "--purpose TREAT");
  flags.String("profile", &profile_path, "FILE", "client profile (default $HIECTL_PROFILE)");
  flags.String("fhir-base", &fhir_base, "URL", "the API's base URL (https://host:port)");
  flags.String("client-id", &client_id, "ID", "the registered client");
  flags.String("client-key", &key_file, "FILE", "its private key (PEM)");
  flags.String("ca", &ca_file, "FILE", "the exchange CA certificate");
  flags.String("user", &user, "ID", "the requesting user's id (with --purpose)");
  flags.String("user-name", &user_name, "NAME", "the user's display name");
  flags.String("purpose", &purpose, "CODE", "HL7 v3 PurposeOfUse: TREAT, ETREAT, HPAYMT...");
  flags.String("reason", &reason, "TEXT", "why (required for ETREAT)");
  flags.String("scope", &scope, "S", "scopes asked for (default system/*.read)");
  flags.Bool("json", &json, "print the whole token response");
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok()) return UsageError("fhir token", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (profile_path.empty()) {
    if (const char* env = std::getenv("HIECTL_PROFILE"); env != nullptr) profile_path = env;
  }
  if (!profile_path.empty()) {
    hie::v1::ClientProfile profile;
    absl::StatusOr<ConfigFile> file = ConfigFile::Load(profile_path, &profile);
    if (!file.ok()) return UsageError("fhir token", file.status());
    if (fhir_base.empty()) fhir_base = profile.fhir_base();
    if (client_id.empty()) client_id = profile.fhir_client_id();
    if (key_file.empty() && !profile.fhir_client_key_file().empty()) {
      key_file = file->ResolvePath(profile.fhir_client_key_file());
    }
    if (ca_file.empty() && !profile.ca_file().empty())
      ca_file = file->ResolvePath(profile.ca_file());
  }
  if (fhir_base.empty() || client_id.empty() || key_file.empty() || ca_file.empty()) {
    return UsageError("fhir token",
                      absl::InvalidArgumentError("need the API's base URL, the client id, its key "
                                                 "and the CA (--profile, or the flags)"));
  }
  if (user.empty() != purpose.empty()) {
    return UsageError("fhir token", absl::InvalidArgumentError(
                                        "give --user and --purpose together (or neither, for a "
                                        "system token that reads this practice's records only)"));
  }
  while (!fhir_base.empty() && fhir_base.back() == '/') fhir_base.pop_back();
  absl::StatusOr<std::string> key = ReadFileText(key_file);
  if (!key.ok()) return Fail(key.status());
  const std::string endpoint = fhir_base + "/auth/token";
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  JsonObject claims;
  claims.Add("iss", client_id)
      .Add("sub", client_id)
      .Add("aud", endpoint)
      .Add("exp", now + 240)
      .Add("jti", RandomId());
  if (!user.empty()) {
    JsonObject b2b;
    b2b.Add("version", "1")
        .Add("subject_id", user)
        .AddRaw("purpose_of_use", JsonArray({JsonQuote(purpose)}));
    if (!user_name.empty()) b2b.Add("subject_name", user_name);
    if (!reason.empty()) b2b.Add("reason", reason);
    claims.AddRaw("extensions", JsonObject().AddRaw("hl7-b2b", b2b.Build()).Build());
  }
  absl::StatusOr<std::string> assertion = auth::SignJwt({}, claims.Build(), *key);
  if (!assertion.ok()) return Fail(assertion.status());
  const std::string form = absl::StrCat(
      "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
      "client-assertion-type%3Ajwt-bearer&client_assertion=",
      *assertion, "&scope=", absl::StrReplaceAll(scope, {{" ", "+"}, {"/", "%2F"}, {"*", "%2A"}}));
  absl::StatusOr<HttpsResponse> answer = HttpsRequest(
      "POST", endpoint, ca_file, "application/x-www-form-urlencoded", form, absl::Seconds(10));
  if (!answer.ok()) return Fail(answer.status());
  if (answer->status != 200) {
    std::cerr << "hiectl: " << endpoint << ": " << answer->status << " " << answer->body << "\n";
    return kExitFailed;
  }
  if (json) {
    std::cout << answer->body << "\n";
    return kExitOk;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view token;
  if (parser.parse(answer->body).get(root) || root["access_token"].get_string().get(token)) {
    std::cerr << "hiectl: " << endpoint << ": no access_token in the answer\n";
    return kExitFailed;
  }
  std::cout << token << "\n";
  return kExitOk;
}

}  // namespace

std::vector<Command> FhirCommands() {
  return {
      {{"fhir", "client", "add"}, "register a client of the node's FHIR API", RunClientAdd},
      {{"fhir", "client", "list"}, "the node's FHIR API clients", RunClientList},
      {{"fhir", "client", "revoke"}, "revoke a client of the node's FHIR API", RunClientRevoke},
      {{"fhir", "token"}, "an access token for the node's FHIR API (client credentials)", RunToken},
  };
}

}  // namespace hie::cli
