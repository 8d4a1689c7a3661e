// hiectl consent: decide offline with the service's own engine (evaluate), and manage a
// patient's directives, ask for decisions and handle the signing keys at a running
// hie-consent.

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/rpc_command.h"
#include "common/fhir/datetime.h"
#include "common/json/json_writer.h"
#include "common/status/error_detail.h"
#include "consent/domain/engine.h"
#include "proto/hie/v1/consent.grpc.pb.h"

namespace hie::cli {
namespace {

absl::StatusOr<std::string> ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "path: first problem", plus every further violation on its own line.
int FailResource(const std::string& file, const absl::Status& status) {
  std::cerr << "hiectl: " << file << ": " << status.message() << "\n";
  if (auto detail = GetErrorDetail(status); detail && detail->field_violations_size() > 1) {
    for (const auto& v : detail->field_violations()) {
      std::cerr << "  " << v.field() << ": " << v.description() << "\n";
    }
  }
  return kExitFailed;
}

int RunEvaluate(const std::vector<std::string>& args) {
  std::string policy_name = "opt-out";
  std::vector<std::string> files;
  std::string requester, holder, purpose, reason, role, npi, at;
  std::vector<std::string> withhold;
  bool no_break_glass = false;
  bool glass_over_directives = false;
  bool json = false;
  FlagSet flags(
      "hiectl consent evaluate --policy opt-in|opt-out --consent F.json... --requester ORG "
      "--purpose CODE [--reason TEXT] [--json]",
      "Decides one request offline with the consent service's own engine, on FHIR R4\n"
      "Consent resources (the patient's directives; give none for the policy alone).\n"
      "Prints permit or deny, the categories withheld and which rule decided. The rules\n"
      "are in docs/consent.md. Exit status 0 for either decision; 1 if a directive is\n"
      "invalid (with the FHIR path of every problem).",
      "hiectl consent evaluate --policy opt-out --consent optout.json --requester org-b "
      "--purpose TREAT --json");
  flags.String("policy", &policy_name, "MODEL", "opt-out (default) or opt-in");
  flags.Strings("consent", &files, "F.json", "a FHIR R4 Consent resource (repeatable)");
  flags.String("requester", &requester, "ORG", "the organisation asking");
  flags.String("holder", &holder, "ORG",
               "decide for this record holder (provisions naming a custodian apply)");
  flags.String("purpose", &purpose, "CODE", "v3 PurposeOfUse: TREAT, ETREAT, HPAYMT...");
  flags.String("reason", &reason, "TEXT", "break-the-glass reason (with ETREAT)");
  flags.String("user-role", &role, "ROLE", "the requesting user's role");
  flags.String("npi", &npi, "NPI", "the requesting user's NPI");
  flags.Strings("withhold", &withhold, "CAT",
                "categories the policy withholds by default (repeatable; default ETH; "
                "42CFRPart2 always)");
  flags.Bool("no-break-glass", &no_break_glass, "the policy forbids break-the-glass");
  flags.Bool("break-glass-overrides-directives", &glass_over_directives,
             "break-the-glass may override the patient's own deny (default: it may not)");
  flags.String("at", &at, "DATETIME", "decide as of this FHIR dateTime (default now)");
  flags.Bool("json", &json, "print one JSON document on stdout");
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok())
    return UsageError("consent evaluate", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (policy_name != "opt-in" && policy_name != "opt-out") {
    return UsageError("consent evaluate",
                      absl::InvalidArgumentError("--policy must be opt-in or opt-out"));
  }
  if (requester.empty() || purpose.empty()) {
    return UsageError("consent evaluate",
                      absl::InvalidArgumentError("--requester and --purpose are required"));
  }
  consent::Policy policy;
  policy.model = policy_name == "opt-in" ? consent::Model::kOptIn : consent::Model::kOptOut;
  policy.break_glass_allowed = !no_break_glass;
  policy.break_glass_overrides_directives = glass_over_directives;
  if (flags.WasSet("withhold")) {
    hie::v1::ConsentPolicy config;
    for (const auto& c : withhold) config.mutable_withheld_categories()->add_codes(c);
    auto parsed = consent::PolicyFromConfig(config);
    if (!parsed.ok()) return UsageError("consent evaluate", parsed.status());
    policy.withheld_categories = parsed->withheld_categories;
  }
  absl::Time now = absl::Now();
  if (!at.empty()) {
    auto range = fhir::ParseDateTime(at);
    if (!range.ok()) return UsageError("consent evaluate", range.status());
    now = range->begin;
  }
  std::vector<consent::ConsentDirective> directives;
  for (const std::string& file : files) {
    absl::StatusOr<std::string> text = ReadFileText(file);
    if (!text.ok()) return Fail(text.status());
    absl::StatusOr<consent::ConsentDirective> d = consent::ParseConsent(*text);
    if (!d.ok()) return FailResource(file, d.status());
    if (d->id.empty()) d->id = file;
    directives.push_back(*std::move(d));
  }
  std::vector<const consent::ConsentDirective*> pointers;
  for (const auto& d : directives) pointers.push_back(&d);
  consent::DecisionRequest request{.requester_org = requester,
                                   .holder_org = holder,
                                   .purpose = purpose,
                                   .user_role = role,
                                   .user_npi = npi,
                                   .break_glass_reason = reason,
                                   .now = now};
  absl::StatusOr<consent::Decision> decision = consent::Decide(policy, pointers, request);
  if (!decision.ok()) return UsageError("consent evaluate", decision.status());
  if (json) {
    std::vector<std::string> withheld;
    for (const auto& c : decision->withheld) withheld.push_back(JsonQuote(c));
    std::vector<std::string> data;
    for (const auto& w : decision->withheld_data) {
      std::vector<std::string> categories;
      for (const auto& c : w.categories) categories.push_back(JsonQuote(c));
      JsonObject o;
      if (w.data_period.start) o.Add("start", fhir::FormatInstant(w.data_period.Begin()));
      if (w.data_period.end) o.Add("end", fhir::FormatInstant(w.data_period.End()));
      o.AddRaw("categories", JsonArray(categories)).Add("provision", w.provision_path);
      data.push_back(o.Build());
    }
    std::cout << JsonObject()
                     .Add("decision", decision->permit ? "permit" : "deny")
                     .AddRaw("withheld", JsonArray(withheld))
                     .Add("reason", decision->reason)
                     .Add("directive", decision->directive_id)
                     .Add("provision", decision->provision_path)
                     .Add("break_glass", decision->break_glass)
                     .AddRaw("withheld_data", JsonArray(data))
                     .Build()
              << "\n";
  } else {
    std::cout << (decision->permit ? "PERMIT" : "DENY") << "\n  why: " << decision->reason << "\n";
    if (decision->permit) {
      std::cout << "  withheld: "
                << (decision->withheld.empty() ? "nothing"
                                               : absl::StrJoin(decision->withheld, ", "))
                << "\n";
    }
    for (const auto& w : decision->withheld_data) {
      std::cout << "  withheld data from " << fhir::FormatInstant(w.data_period.Begin()) << " to "
                << (w.data_period.end ? fhir::FormatInstant(w.data_period.End()) : "now")
                << (w.categories.empty()
                        ? ""
                        : absl::StrCat(" (", absl::StrJoin(w.categories, ", "), ")"))
                << "\n";
    }
    if (decision->break_glass) std::cout << "  break-the-glass: audited as an alert\n";
  }
  return kExitOk;
}

void PrintDirective(const hie::v1::Directive& d) {
  std::cout << absl::StrFormat("%-34s v%-3d %-17s %s:%s  filed by %s%s\n", d.directive_id(),
                               d.version(), d.status(), d.patient().org_id(),
                               d.patient().local_id(), d.filed_by_org(),
                               d.reason().empty() ? "" : absl::StrCat(" (", d.reason(), ")"));
}

int RunPut(const std::vector<std::string>& args) {
  std::string org, patient, file;
  return RunRpcCommand<hie::v1::ConsentService>(
      args, "consent put", "hiectl consent put --org ORG --patient LOCAL_ID --file F.json",
      "Files a patient's directive (a FHIR R4 Consent resource) at the consent service. A\n"
      "practice files for its own patients (--org is its own org). Every version is kept;\n"
      "a resource with the id of an existing directive becomes its next version. An invalid\n"
      "directive is refused whole, with the FHIR path of each problem.",
      "hiectl consent put --profile org-a.profile --org org-a --patient 123 --file optout.json",
      [&](FlagSet& flags) {
        flags.String("org", &org, "ORG", "the organisation whose local id --patient is");
        flags.String("patient", &patient, "LOCAL_ID", "the patient's id at that organisation");
        flags.String("file", &file, "F.json", "the Consent resource");
      },
      [&](hie::v1::ConsentService::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        absl::StatusOr<std::string> text = ReadFileText(file);
        if (!text.ok()) return Fail(text.status());
        hie::v1::PutDirectiveRequest request;
        request.mutable_patient()->set_org_id(org);
        request.mutable_patient()->set_local_id(patient);
        request.set_consent_json(*text);
        hie::v1::Directive response;
        grpc::Status status = stub.PutDirective(&context, request, &response);
        if (!status.ok()) {
          absl::Status s = FromGrpcStatus(status);
          if (auto detail = GetErrorDetail(s); detail && detail->field_violations_size() > 0) {
            return FailResource(file, s);
          }
          return FailRpc(status, target);
        }
        if (json) {
          std::cout << ToJson(response) << "\n";
        } else {
          PrintDirective(response);
        }
        return kExitOk;
      });
}

int RunRevoke(const std::vector<std::string>& args) {
  std::string id, reason;
  return RunRpcCommand<hie::v1::ConsentService>(
      args, "consent revoke", "hiectl consent revoke --id DIRECTIVE_ID [--reason TEXT]",
      "Revokes a directive (a new version with status inactive); the next decision no\n"
      "longer counts it. Any of the patient's practices may revoke.",
      "hiectl consent revoke --profile org-a.profile --id 3f2a... --reason \"patient request\"",
      [&](FlagSet& flags) {
        flags.String("id", &id, "ID", "the directive");
        flags.String("reason", &reason, "TEXT", "why, for the audit");
      },
      [&](hie::v1::ConsentService::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::RevokeDirectiveRequest request;
        request.set_directive_id(id);
        request.set_reason(reason);
        hie::v1::Directive response;
        grpc::Status status = stub.RevokeDirective(&context, request, &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
        } else {
          PrintDirective(response);
        }
        return kExitOk;
      });
}

int RunList(const std::vector<std::string>& args) {
  std::string org, patient;
  bool history = false;
  return RunRpcCommand<hie::v1::ConsentService>(
      args, "consent list", "hiectl consent list --org ORG --patient LOCAL_ID [--history]",
      "Lists the patient's directives, filed at any of their practices, newest first.",
      "hiectl consent list --profile org-a.profile --org org-a --patient 123 --history",
      [&](FlagSet& flags) {
        flags.String("org", &org, "ORG", "the organisation whose local id --patient is");
        flags.String("patient", &patient, "LOCAL_ID", "the patient's id there");
        flags.Bool("history", &history, "every version, not only the current ones");
      },
      [&](hie::v1::ConsentService::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::ListDirectivesRequest request;
        request.mutable_patient()->set_org_id(org);
        request.mutable_patient()->set_local_id(patient);
        request.set_include_history(history);
        hie::v1::ListDirectivesResponse response;
        grpc::Status status = stub.ListDirectives(&context, request, &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
        } else if (response.directives().empty()) {
          std::cout << "no directives on file\n";
        } else {
          for (const auto& d : response.directives()) PrintDirective(d);
        }
        return kExitOk;
      });
}

int RunAuthorize(const std::vector<std::string>& args) {
  std::string patient, purpose, user, role, reason, query_id;
  return RunRpcCommand<hie::v1::ConsentService>(
      args, "consent authorize",
      "hiectl consent authorize --patient LOCAL_ID --purpose CODE --user ID [--reason TEXT]",
      "Asks the consent service for a decision as a practice's node would (the requester is\n"
      "the org of --cert). Prints the grant's holders and withheld categories, or the\n"
      "reason for a deny (exit status 1). Every call is audited.",
      "hiectl consent authorize --profile org-a.profile --patient 123 --purpose TREAT --user "
      "dr.lee",
      [&](FlagSet& flags) {
        flags.String("patient", &patient, "LOCAL_ID", "the patient's id at the requester");
        flags.String("purpose", &purpose, "CODE", "v3 PurposeOfUse code");
        flags.String("user", &user, "ID", "the person asking (required, audited)");
        flags.String("user-role", &role, "ROLE", "their role");
        flags.String("reason", &reason, "TEXT", "break-the-glass reason (with ETREAT)");
        flags.String("query-id", &query_id, "ID", "trace id (generated if absent)");
      },
      [&](hie::v1::ConsentService::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::AuthorizeRequest request;
        request.set_local_patient_id(patient);
        request.set_purpose(purpose);
        request.mutable_user()->set_user_id(user);
        request.mutable_user()->set_role(role);
        request.set_break_glass_reason(reason);
        request.set_query_id(query_id);
        hie::v1::AuthorizeResponse response;
        grpc::Status status = stub.Authorize(&context, request, &response);
        if (!status.ok()) return FailRpc(status, target);
        hie::v1::DisclosureGrant grant;
        if (response.has_grant()) grant.ParseFromString(response.grant().grant());
        if (json) {
          JsonObject out;
          out.Add("decision", response.has_grant() ? "permit" : "deny")
              .Add("query_id", response.query_id());
          if (response.has_grant()) {
            out.AddRaw("grant", ToJson(grant)).Add("key_id", response.grant().key_id());
          } else {
            out.Add("reason", response.denial().reason())
                .Add("directive", response.denial().directive_id());
          }
          std::cout << out.Build() << "\n";
        } else if (response.has_grant()) {
          std::cout << "PERMIT (query " << response.query_id() << ", EUID " << grant.euid()
                    << (grant.break_glass() ? ", BREAK-THE-GLASS" : "") << ")\n";
          for (const auto& h : grant.holders()) {
            std::cout << absl::StrFormat("  holder %-20s patient %-16s at %s\n", h.org_id(),
                                         h.local_id(), h.endpoint());
          }
          if (grant.holders().empty()) std::cout << "  no other holder\n";
          std::cout << "  withheld: "
                    << (grant.withheld_categories().empty()
                            ? std::string("nothing")
                            : absl::StrJoin(grant.withheld_categories(), ", "))
                    << "\n";
        } else {
          std::cout << "DENY (query " << response.query_id() << "): " << response.denial().reason()
                    << "\n";
        }
        return response.has_grant() ? kExitOk : kExitFailed;
      });
}

int RunKeys(const std::vector<std::string>& args) {
  return RunRpcCommand<hie::v1::ConsentService>(
      args, "consent keys", "hiectl consent keys [--json]",
      "Lists the keys grants are signed with: the current one and retired ones that still\n"
      "verify grants they signed.",
      "hiectl consent keys --profile operator.profile", [](FlagSet&) {},
      [](hie::v1::ConsentService::Stub& stub, grpc::ClientContext& context, bool json,
         const std::string& target) {
        hie::v1::GetPublicKeysResponse response;
        grpc::Status status = stub.GetPublicKeys(&context, {}, &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
          return kExitOk;
        }
        for (const auto& k : response.keys()) {
          std::cout << k.key_id() << "  since " << absl::FromUnixSeconds(k.not_before().seconds())
                    << (k.has_not_after()
                            ? absl::StrCat(
                                  "  verifies until ",
                                  absl::FormatTime(absl::FromUnixSeconds(k.not_after().seconds())))
                            : std::string("  (current)"))
                    << "\n";
        }
        return kExitOk;
      });
}

int RunRotateKey(const std::vector<std::string>& args) {
  return RunRpcCommand<hie::v1::ConsentService>(
      args, "consent rotate-key", "hiectl consent rotate-key [--json]",
      "Makes the consent service sign with a new key from now on (operators only). The old\n"
      "key keeps verifying until the grants it signed have expired.",
      "hiectl consent rotate-key --profile operator.profile", [](FlagSet&) {},
      [](hie::v1::ConsentService::Stub& stub, grpc::ClientContext& context, bool json,
         const std::string& target) {
        hie::v1::PublicKey response;
        grpc::Status status = stub.RotateSigningKey(&context, {}, &response);
        if (!status.ok()) return FailRpc(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
        } else {
          std::cout << "signing with key " << response.key_id() << "\n";
        }
        return kExitOk;
      });
}

}  // namespace

std::vector<Command> ConsentCommands() {
  return {
      {{"consent", "evaluate"}, "decide a request offline on FHIR Consent files", RunEvaluate},
      {{"consent", "put"}, "file a patient's directive (FHIR Consent)", RunPut},
      {{"consent", "revoke"}, "revoke a directive", RunRevoke},
      {{"consent", "list"}, "list a patient's directives", RunList},
      {{"consent", "authorize"}, "ask for a decision and grant, as a node would", RunAuthorize},
      {{"consent", "keys"}, "list the grant-signing keys", RunKeys},
      {{"consent", "rotate-key"}, "start signing grants with a new key", RunRotateKey},
  };
}

}  // namespace hie::cli
