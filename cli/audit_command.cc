// hiectl audit verify: checks a daemon's hash-chained audit log end to end and against
// the checkpoints its witnesses hold.
// hiectl audit checkpoints: what a witness holds for one party.
// hiectl audit disclosures: a patient's accounting (who asked, who got what, why), as a
// table, JSON or FHIR AuditEvents.

#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/command.h"
#include "cli/rpc_command.h"
#include "common/audit/fhir_audit_event.h"
#include "common/json/json_writer.h"
#include "proto/hie/v1/audit.grpc.pb.h"

namespace hie::cli {
namespace {

int RunVerify(const std::vector<std::string>& args) {
  return RunRpcCommand<hie::v1::AuditLog>(
      args, "audit verify", "hiectl audit verify [--json]",
      "Walks the target daemon's audit chain and reports the first entry where it breaks\n"
      "(altered, missing, out of order, truncated). The daemon then asks its witnesses (a\n"
      "node: the consent service and the MPI; the consent service: the MPI; the MPI: the\n"
      "consent service) for the signed checkpoints of its chain they hold, and reports the\n"
      "first entry that differs from a witnessed one (rewritten), is missing below a\n"
      "witnessed size (truncated), or that two checkpoints disagree about (forked): a\n"
      "store edited while the daemon was stopped cannot pass. Entries after the last\n"
      "witnessed checkpoint are checked by the chain alone. Exit status 1 and one line on\n"
      "stderr if the chain is broken, or if a witness did not answer (UNVERIFIED: the\n"
      "chain alone cannot show a cut tail); --json then has \"witnessed\": false and the\n"
      "witnesses in \"unreachable\".",
      "hiectl audit verify --profile operator.profile --target 127.0.0.1:41001", [](FlagSet&) {},
      [](hie::v1::AuditLog::Stub& stub, grpc::ClientContext& context, bool json,
         const std::string& target) {
        hie::v1::VerifyAuditResponse response;
        grpc::Status status = stub.Verify(&context, {}, &response);
        if (!status.ok()) return FailRpc(status, target);
        std::string witnessed;
        std::vector<std::string> unreachable, unreachable_json;
        if (response.witnesses_size() == 0) {
          witnessed = "no witness configured";
        } else {
          std::vector<std::string> parts;
          for (const auto& w : response.witnesses()) {
            parts.push_back(w.reachable()
                                ? absl::StrFormat("%s holds %d checkpoints up to entry %d%s",
                                                  w.name(), w.checkpoints(), w.witnessed_size(),
                                                  w.error().empty() ? "" : " (" + w.error() + ")")
                                : absl::StrFormat("%s UNREACHABLE (%s)", w.name(), w.error()));
            if (!w.reachable()) {
              unreachable.push_back(
                  absl::StrFormat("%s at %s (%s)", w.name(), w.address(), w.error()));
              unreachable_json.push_back(JsonQuote(w.name()));
            }
          }
          witnessed = absl::StrJoin(parts, "; ");
        }
        // A witness that did not answer: the chain was checked on its own only, which a
        // store cut while the daemon was stopped passes. Unverified, never intact.
        bool unverified = !unreachable.empty() && response.first_bad_sequence() == 0;
        if (json) {
          std::string body = ToJson(response);
          if (!body.empty() && body.back() == '}') body.pop_back();
          body +=
              absl::StrCat(body.size() > 1 ? "," : "", "\"witnessed\":",
                           response.witnesses_size() > 0 && unreachable.empty() ? "true" : "false",
                           ",\"unreachable\":", JsonArray(unreachable_json), "}");
          std::cout << body << "\n";
        } else if (response.ok() && !unverified) {
          std::cout << absl::StrFormat(
              "%s: audit chain intact, %d entries, head %s; witnessed up to entry %d (%s)\n",
              target, response.entries_checked(), response.head_hash(), response.witnessed_size(),
              witnessed);
        }
        if (unverified) {
          std::cerr << absl::StrFormat(
              "%s: audit chain UNVERIFIED: witness %s did not answer; %d entries consistent on "
              "their own only, which a store cut while the daemon was stopped also is\n",
              target, absl::StrJoin(unreachable, ", "), response.entries_checked());
          return kExitFailed;
        }
        if (!response.ok()) {
          std::cerr << absl::StrFormat("%s: audit chain BROKEN at entry %d: %s\n", target,
                                       response.first_bad_sequence(), response.problem());
        }
        return response.ok() ? kExitOk : kExitFailed;
      });
}

int RunDisclosures(const std::vector<std::string>& args) {
  std::string org, patient, euid, action;
  bool fhir = false;
  return RunRpcCommand<hie::v1::AuditLog>(
      args, "audit disclosures",
      "hiectl audit disclosures (--org ORG --patient LOCAL_ID | --euid EUID) [--action A] "
      "[--fhir] [--json]",
      "A patient's accounting from the target daemon's audit chain, oldest first: every\n"
      "decision, disclosure, query, break-the-glass and directive change about them, with\n"
      "who asked (org and user), why (purpose), the outcome and what was withheld. At the\n"
      "consent service a practice's local id also finds the entries filed under the\n"
      "patient's EUID. --action keeps one kind (authorize, disclose, query, break-glass,\n"
      "directive, link, refuse); --fhir prints a FHIR R4 Bundle of AuditEvents.",
      "hiectl audit disclosures --profile operator.profile --org org-a --patient 123 --fhir",
      [&](FlagSet& flags) {
        flags.String("org", &org, "ORG", "the organisation whose local id --patient is");
        flags.String("patient", &patient, "LOCAL_ID", "the patient's id there");
        flags.String("euid", &euid, "EUID", "or the patient's enterprise id");
        flags.String("action", &action, "A", "only entries of this kind");
        flags.Bool("fhir", &fhir, "print a FHIR Bundle of AuditEvent resources");
      },
      [&](hie::v1::AuditLog::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::QueryByPatientRequest request;
        if (!euid.empty()) {
          request.set_euid(euid);
        } else {
          request.mutable_local()->set_org_id(org);
          request.mutable_local()->set_local_id(patient);
        }
        if (!action.empty()) {
          std::string name = absl::AsciiStrToUpper(action);
          for (char& c : name) c = c == '-' ? '_' : c;
          hie::v1::AuditAction parsed;
          if (!hie::v1::AuditAction_Parse("AUDIT_ACTION_" + name, &parsed)) {
            return UsageError("audit disclosures",
                              absl::InvalidArgumentError("--action: unknown kind " + action));
          }
          request.set_action(parsed);
        }
        auto reader = stub.QueryByPatient(&context, request);
        std::vector<hie::v1::AuditEntry> entries;
        hie::v1::AuditEntry entry;
        while (reader->Read(&entry)) entries.push_back(entry);
        grpc::Status status = reader->Finish();
        if (!status.ok()) return FailRpc(status, target);
        if (fhir) {
          std::cout << audit::ToFhirAuditBundle(entries, target) << "\n";
        } else if (json) {
          std::vector<std::string> items;
          for (const auto& e : entries) items.push_back(ToJson(e));
          std::cout << "{\"entries\":" << JsonArray(items) << "}\n";
        } else if (entries.empty()) {
          std::cout << "no entries about this patient\n";
        } else {
          for (const auto& e : entries) {
            std::string kind = hie::v1::AuditAction_Name(e.action()).substr(13);
            std::cout << absl::StrFormat(
                "%6d %s %-11s %-8s %-10s %s/%s %s\n", e.sequence(),
                absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(e.time().seconds()),
                                 absl::UTCTimeZone()),
                absl::AsciiStrToLower(kind), e.outcome(), e.purpose().empty() ? "-" : e.purpose(),
                e.actor_org(), e.user().user_id().empty() ? "-" : e.user().user_id(), e.detail());
          }
        }
        return kExitOk;
      });
}

int RunCheckpoints(const std::vector<std::string>& args) {
  std::string org, role;
  return RunRpcCommand<hie::v1::AuditWitness>(
      args, "audit checkpoints", "hiectl audit checkpoints --org ORG --role ROLE [--json]",
      "The signed audit checkpoints a witness (the consent service or the MPI, the target)\n"
      "holds for one party, oldest first: the entries each covers, the chain head and when\n"
      "it was signed and received. Asked as the operator, straight from the witness, it\n"
      "shows what a party deposited whatever its own daemon says now. A member asking\n"
      "gets its own checkpoints.",
      "hiectl audit checkpoints --profile operator.profile --target 127.0.0.1:41002 "
      "--org org-a --role node",
      [&](FlagSet& flags) {
        flags.String("org", &org, "ORG", "the party's org id");
        flags.String("role", &role, "ROLE", "its role: node, mpi or consent");
      },
      [&](hie::v1::AuditWitness::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::ListCheckpointsRequest request;
        request.set_org_id(org);
        request.set_role(role);
        auto reader = stub.ListCheckpoints(&context, request);
        std::vector<hie::v1::AuditCheckpoint> held;
        hie::v1::SignedCheckpoint signed_checkpoint;
        std::vector<int64_t> received;
        while (reader->Read(&signed_checkpoint)) {
          hie::v1::AuditCheckpoint c;
          if (!c.ParseFromString(signed_checkpoint.checkpoint())) continue;
          held.push_back(c);
          received.push_back(signed_checkpoint.received().seconds());
        }
        grpc::Status status = reader->Finish();
        if (!status.ok()) return FailRpc(status, target);
        auto when = [](int64_t seconds) {
          return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(seconds),
                                  absl::UTCTimeZone());
        };
        if (json) {
          std::vector<std::string> items;
          for (auto& c : held) {
            c.clear_entry_hashes();
            items.push_back(ToJson(c));
          }
          std::cout << "{\"checkpoints\":" << JsonArray(items) << "}\n";
        } else if (held.empty()) {
          std::cout << "no checkpoints held for this party\n";
        } else {
          for (size_t i = 0; i < held.size(); ++i) {
            const auto& c = held[i];
            std::cout << absl::StrFormat("entries %d..%d head %s signed %s received %s\n",
                                         c.from_size() + 1, c.size(), c.head_hash(),
                                         when(c.time().seconds()), when(received[i]));
          }
        }
        return kExitOk;
      });
}

}  // namespace

std::vector<Command> AuditCommands() {
  return {{{"audit", "verify"}, "check a daemon's audit chain end to end", RunVerify},
          {{"audit", "disclosures"},
           "a patient's accounting of decisions and disclosures",
           RunDisclosures},
          {{"audit", "checkpoints"},
           "the signed audit checkpoints a witness holds for one party",
           RunCheckpoints}};
}

}  // namespace hie::cli
