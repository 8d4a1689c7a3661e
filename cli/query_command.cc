// hiectl query: the clinician's federated query from the target node, with each
// holder's status as it settles and a readable summary; --bundle writes the FHIR Bundle.

#include <fstream>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "cli/rpc_command.h"
#include "common/fhir/datetime.h"
#include "common/json/json_writer.h"
#include "proto/hie/v1/node.grpc.pb.h"
#include "simdjson.h"

namespace hie::cli {
namespace {

constexpr char kSourceOrgSystem[] = "http://hie.example/source-org";

std::string StateName(hie::v1::HolderStatus::State state) {
  switch (state) {
    case hie::v1::HolderStatus::STATE_OK:
      return "ok";
    case hie::v1::HolderStatus::STATE_DENIED:
      return "denied";
    case hie::v1::HolderStatus::STATE_TIMED_OUT:
      return "timed out";
    case hie::v1::HolderStatus::STATE_UNREACHABLE:
      return "unreachable";
    case hie::v1::HolderStatus::STATE_FAILED:
      return "failed";
    default:
      return "unknown";
  }
}

// Entries per source org and resource type, read from the Bundle's source tags.
std::map<std::string, std::map<std::string, int>> CountsBySource(const std::string& bundle_json) {
  std::map<std::string, std::map<std::string, int>> counts;
  simdjson::dom::parser parser;
  simdjson::dom::element bundle;
  if (parser.parse(bundle_json).get(bundle)) return counts;
  simdjson::dom::array entries;
  if (bundle["entry"].get_array().get(entries)) return counts;
  for (simdjson::dom::element entry : entries) {
    std::string_view type;
    if (entry["resource"]["resourceType"].get_string().get(type)) continue;
    simdjson::dom::array tags;
    if (entry["resource"]["meta"]["tag"].get_array().get(tags)) continue;
    for (simdjson::dom::element tag : tags) {
      std::string_view system, code;
      if (tag["system"].get_string().get(system) || system != kSourceOrgSystem) continue;
      if (tag["code"].get_string().get(code)) continue;
      ++counts[std::string(code)][std::string(type)];
    }
  }
  return counts;
}

std::vector<std::string> Quoted(const hie::v1::HolderStatus& h) {
  std::vector<std::string> out;
  for (const auto& ref : h.skipped_references()) out.push_back(JsonQuote(ref));
  return out;
}

int RunQuery(const std::vector<std::string>& args) {
  std::string patient, purpose, user = "cli", role, reason, bundle_out;
  int timeout_ms = 0;
  std::vector<std::string> types;
  std::string since, until;
  return RunRpcCommand<hie::v1::FederatedQuery>(
      args, "query",
      "hiectl query --patient LOCAL_ID --purpose CODE [--user ID] [--bundle OUT.json] [--json]",
      "Asks the target node for everything about one of its patients from every practice\n"
      "that may share it: the node authorizes at the consent service, fetches from each\n"
      "allowed holder in parallel and merges the answers. Prints each practice's status\n"
      "(ok, denied, timed out, unreachable) with its counts by resource type and time,\n"
      "what was withheld, records skipped as larger than the size limit (by reference),\n"
      "and the query id for the audit. The Bundle arrives in pieces of bounded size,\n"
      "joined here, so no record size or count breaks the answer. --bundle writes the\n"
      "merged FHIR Bundle. Exit status 1 if consent denies (with the reason).",
      "hiectl query --profile org-a.profile --patient 123 --purpose TREAT --user dr.lee "
      "--bundle jane.json",
      [&](FlagSet& flags) {
        flags.String("patient", &patient, "LOCAL_ID", "the patient's id at this practice");
        flags.String("purpose", &purpose, "CODE", "v3 PurposeOfUse: TREAT, ETREAT...");
        flags.String("user", &user, "ID", "who is asking (recorded in every audit entry)");
        flags.String("user-role", &role, "ROLE", "their role");
        flags.String("reason", &reason, "TEXT", "break-the-glass reason (with ETREAT)");
        flags.String("bundle", &bundle_out, "OUT.json", "write the merged FHIR Bundle here");
        flags.Int("holder-timeout-ms", &timeout_ms, "MS", "each holder's deadline");
        flags.Strings("type", &types, "TYPE", "only this resource type (repeatable)");
        flags.String("since", &since, "DATE", "only records dated from DATE (FHIR date)");
        flags.String("until", &until, "DATE", "only records dated up to DATE, inclusive");
      },
      [&](hie::v1::FederatedQuery::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
        hie::v1::QueryRequest request;
        request.set_local_patient_id(patient);
        request.set_purpose(purpose);
        request.mutable_user()->set_user_id(user);
        request.mutable_user()->set_role(role);
        request.set_break_glass_reason(reason);
        request.set_holder_timeout_ms(timeout_ms);
        for (const auto& t : types) request.add_resource_types(t);
        for (const auto& [text, is_start] : {std::pair{since, true}, std::pair{until, false}}) {
          if (text.empty()) continue;
          auto range = fhir::ParseDateTime(text);
          if (!range.ok()) return UsageError("query", range.status());
          absl::Time t = is_start ? range->begin : range->end;
          auto* bound = is_start ? request.mutable_clinical_period()->mutable_start()
                                 : request.mutable_clinical_period()->mutable_end();
          bound->set_seconds(absl::ToUnixSeconds(t));
        }
        auto reader = stub.Query(&context, request);
        std::vector<hie::v1::HolderStatus> holders;
        hie::v1::QueryResult result;
        bool has_result = false;
        // The Bundle arrives in pieces; joined in order they are its JSON text.
        std::string bundle;
        hie::v1::QueryEvent event;
        while (reader->Read(&event)) {
          if (event.has_bundle()) bundle += event.bundle().data();
          if (event.has_holder()) {
            holders.push_back(event.holder());
            if (!json) {
              const auto& h = event.holder();
              std::cerr << absl::StrFormat("  %-16s %-11s %5d records %4d ms%s\n", h.org_id(),
                                           StateName(h.state()), h.records(), h.elapsed_ms(),
                                           h.local() ? " (this practice)" : "");
            }
          }
          if (event.has_result()) {
            result = event.result();
            has_result = true;
          }
        }
        grpc::Status status = reader->Finish();
        if (!status.ok()) return FailRpc(status, target);
        if (!has_result || static_cast<int64_t>(bundle.size()) != result.bundle_bytes()) {
          return Fail(absl::DataLossError(absl::StrCat("the answer is incomplete: ", bundle.size(),
                                                       " of ", result.bundle_bytes(),
                                                       " bytes of the Bundle arrived")));
        }
        if (!bundle_out.empty()) {
          std::ofstream out(bundle_out, std::ios::binary);
          out << bundle;
          if (!out) return Fail(absl::InternalError(absl::StrCat("cannot write ", bundle_out)));
        }
        auto counts = CountsBySource(bundle);
        std::string().swap(bundle);
        if (json) {
          std::vector<std::string> items;
          for (const auto& h : holders) {
            JsonObject by_type;
            for (const auto& [type, n] : counts[h.org_id()]) by_type.Add(type, n);
            items.push_back(JsonObject()
                                .Add("org", h.org_id())
                                .Add("local", h.local())
                                .Add("status", StateName(h.state()))
                                .Add("records", static_cast<int64_t>(h.records()))
                                .Add("withheld", static_cast<int64_t>(h.withheld()))
                                .Add("skipped", static_cast<int64_t>(h.skipped()))
                                .AddRaw("skipped_references", JsonArray(Quoted(h)))
                                .Add("elapsed_ms", static_cast<int64_t>(h.elapsed_ms()))
                                .Add("message", h.message())
                                .AddRaw("by_type", by_type.Build())
                                .Build());
          }
          std::vector<std::string> withheld;
          for (const auto& c : result.withheld_categories()) withheld.push_back(JsonQuote(c));
          std::cout << JsonObject()
                           .Add("query_id", result.query_id())
                           .AddRaw("holders", JsonArray(items))
                           .Add("entries", static_cast<int64_t>(result.entries()))
                           .Add("duplicates_folded",
                                static_cast<int64_t>(result.duplicates_folded()))
                           .AddRaw("withheld_categories", JsonArray(withheld))
                           .Add("bundle", bundle_out)
                           .Build()
                    << "\n";
          return kExitOk;
        }
        std::cout << "Query " << result.query_id() << " for patient " << patient << " (" << purpose
                  << ")\n";
        for (const auto& h : holders) {
          std::vector<std::string> parts;
          for (const auto& [type, n] : counts[h.org_id()])
            parts.push_back(absl::StrCat(n, " ", type));
          std::cout << absl::StrFormat(
              "  %-16s %-11s %4d ms  %s%s\n", h.org_id(), StateName(h.state()), h.elapsed_ms(),
              parts.empty() ? std::string("-") : absl::StrJoin(parts, ", "),
              h.message().empty() ? "" : absl::StrCat("  (", h.message(), ")"));
          if (h.withheld() > 0) {
            std::cout << absl::StrFormat("  %-16s %d record(s) withheld at the holder\n", "",
                                         h.withheld());
          }
          if (h.skipped() > 0) {
            std::cout << absl::StrFormat(
                "  %-16s %d record(s) skipped as larger than the record size limit: %s%s\n", "",
                h.skipped(), absl::StrJoin(h.skipped_references(), ", "),
                h.skipped() > h.skipped_references_size() ? ", ..." : "");
          }
        }
        std::cout << absl::StrFormat("  %d entries in the Bundle, %d duplicates folded\n",
                                     result.entries(), result.duplicates_folded());
        if (!result.withheld_categories().empty()) {
          std::cout << "  withheld by consent: "
                    << absl::StrJoin(result.withheld_categories(), ", ")
                    << " (the exchange's policy or the patient's directives; `hiectl consent "
                       "evaluate` shows why)\n";
        }
        if (!bundle_out.empty()) std::cout << "  Bundle written to " << bundle_out << "\n";
        return kExitOk;
      });
}

}  // namespace

std::vector<Command> QueryCommands() {
  return {
      {{"query"}, "gather a patient's records from every practice (federated query)", RunQuery}};
}

}  // namespace hie::cli
