// hiectl import: sends FHIR R4 JSON (resources, Bundles) and NDJSON files to a node's
// Ingest service in one stream, with a progress bar on a terminal and a summary at the
// end.

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/command.h"
#include "cli/rpc_command.h"
#include "common/json/json_writer.h"
#include "proto/hie/v1/node.grpc.pb.h"
#include "simdjson.h"

namespace hie::cli {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

// A one-line progress bar on stderr, redrawn in place; silent when stderr is not a
// terminal.
class Progress {
 public:
  explicit Progress(uint64_t total) : total_(total), tty_(isatty(STDERR_FILENO) == 1) {}
  void Update(uint64_t done, const std::string& file) {
    if (!tty_ || total_ == 0) return;
    int width = 30;
    int filled = static_cast<int>(width * done / total_);
    std::cerr << absl::StrFormat("\r[%s%s] %3d%% %6.1f/%.1f MB %-30.30s", std::string(filled, '#'),
                                 std::string(width - filled, '.'),
                                 static_cast<int>(100 * done / total_), done / 1e6, total_ / 1e6,
                                 file)
              << std::flush;
  }
  void Done() {
    if (tty_ && total_ > 0) std::cerr << "\n";
  }

 private:
  uint64_t total_;
  bool tty_;
};

// NDJSON by extension; otherwise by content: a file that is one JSON document is JSON
// (however it is laid out over lines), anything else is taken as NDJSON.
bool IsNdjson(const std::string& path, const std::string& text) {
  if (absl::EndsWith(path, ".ndjson") || absl::EndsWith(path, ".jsonl")) return true;
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  return parser.parse(text).get(document) != simdjson::SUCCESS;
}

int RunImport(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  ConnectionFlags connection_flags;
  bool json = false;
  std::string outcome_file;
  FlagSet flags("hiectl import FILE... [--json] [--outcome OUT.json]",
                "Sends FHIR R4 JSON to the target node: single resources, Bundles (transaction,\n"
                "batch, collection, searchset) and NDJSON files (.ndjson/.jsonl, or one resource\n"
                "per line), all in one stream. Every accepted resource is durable when counted.\n"
                "Prints accepted, unchanged and rejected counts and each rejection with its file,\n"
                "entry and FHIR path; --json prints them as one document. A progress bar shows on\n"
                "a terminal. --outcome writes the rejections as a FHIR OperationOutcome.\n"
                "Exit status 1 if anything was rejected.",
                "hiectl import --profile org-a.profile --target 127.0.0.1:41003 patients/*.json");
  AddConnectionFlags(flags, &connection_flags);
  flags.Bool("json", &json, "print one JSON document on stdout");
  flags.String("outcome", &outcome_file, "OUT.json",
               "write the rejections as a FHIR OperationOutcome (when there are any)");
  if (absl::Status s = flags.Parse(args, &files); !s.ok()) return UsageError("import", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (files.empty()) {
    return UsageError("import", absl::InvalidArgumentError("name at least one FILE"));
  }
  std::vector<std::pair<std::string, std::string>> contents;
  uint64_t total = 0;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Fail(absl::NotFoundError(absl::StrCat("cannot read ", file)));
    std::stringstream ss;
    ss << in.rdbuf();
    total += ss.str().size();
    contents.emplace_back(file, ss.str());
  }
  absl::StatusOr<Connection> connection = Connect(connection_flags);
  if (!connection.ok()) {
    return connection.status().code() == absl::StatusCode::kInvalidArgument
               ? UsageError("import", connection.status())
               : Fail(connection.status());
  }
  auto stub = hie::v1::Ingest::NewStub(connection->channel);
  grpc::ClientContext context;
  // Large exports take a while; the server acknowledges as it goes.
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
  hie::v1::ImportResponse response;
  auto writer = stub->Import(&context, &response);
  Progress progress(total);
  uint64_t sent = 0;
  for (const auto& [file, text] : contents) {
    std::string name = file.substr(file.find_last_of('/') + 1);
    bool ndjson = IsNdjson(file, text);
    size_t offset = 0;
    while (offset < text.size()) {
      size_t length = text.size() - offset;
      if (ndjson && length > kChunkBytes) {
        size_t cut = text.rfind('\n', offset + kChunkBytes);
        length = (cut == std::string::npos || cut < offset) ? kChunkBytes : cut + 1 - offset;
      }
      // One JSON document larger than a message goes in pieces the node joins.
      if (!ndjson && length > kChunkBytes) length = kChunkBytes;
      hie::v1::ImportRequest request;
      request.set_format(ndjson ? hie::v1::ImportRequest::FORMAT_NDJSON
                                : hie::v1::ImportRequest::FORMAT_JSON);
      request.set_source_name(name);
      request.set_data(text.substr(offset, length));
      request.set_continues(!ndjson && offset + length < text.size());
      if (!writer->Write(request)) break;  // the server ended the call: Finish says why
      offset += length;
      sent += length;
      progress.Update(sent, name);
    }
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  progress.Done();
  if (!status.ok()) {
    if (response.accepted() > 0) {
      std::cerr << "hiectl: " << response.accepted()
                << " resources were stored before the import stopped\n";
    }
    return FailRpc(status, connection->target);
  }
  if (!outcome_file.empty() && !response.operation_outcome_json().empty()) {
    std::ofstream out(outcome_file, std::ios::binary);
    out << response.operation_outcome_json();
    if (!out) return Fail(absl::InternalError(absl::StrCat("cannot write ", outcome_file)));
  }
  if (json) {
    std::vector<std::string> rejections;
    for (const auto& p : response.rejected()) {
      rejections.push_back(JsonObject()
                               .Add("source", p.source_name())
                               .Add("position", static_cast<int64_t>(p.position()))
                               .Add("path", p.path())
                               .Add("message", p.message())
                               .Build());
    }
    std::cout << JsonObject()
                     .Add("accepted", static_cast<int64_t>(response.accepted()))
                     .Add("unchanged", static_cast<int64_t>(response.unchanged()))
                     .Add("rejected", static_cast<int64_t>(response.rejected_size()))
                     .AddRaw("rejections", JsonArray(rejections))
                     .Build()
              << "\n";
  } else {
    std::cout << absl::StrFormat("accepted %d (%d unchanged), rejected %d\n", response.accepted(),
                                 response.unchanged(), response.rejected_size());
    for (const auto& p : response.rejected()) {
      std::cout << "  " << p.source_name() << " #" << p.position() << " " << p.path() << ": "
                << p.message() << "\n";
    }
  }
  return response.rejected_size() == 0 ? kExitOk : kExitFailed;
}

}  // namespace

std::vector<Command> ImportCommands() {
  return {{{"import"}, "send FHIR R4 JSON or NDJSON files to a node", RunImport}};
}

}  // namespace hie::cli
