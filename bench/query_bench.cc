// The federated query end to end on loopback, against real hie-mpi, hie-consent and
// hie-node processes: one requesting practice and H holders of R resources each (the
// patient registered at each through the nodes' outboxes and linked by the MPI). Beside
// it, in the same run, a bare mTLS gRPC call streaming the same number of records of the
// same bytes from an in-process server with no checks: what moving the bytes costs.
//
//   build/bin/query_bench [--holders H] [--records R] [--queries Q] [--json]
#include <algorithm>
#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/federated_patient.h"
#include "bench/local_exchange.h"
#include "common/grpc/vector_writer.h"
#include "common/json/json_writer.h"
#include "grpcpp/server_builder.h"
#include "proto/hie/v1/node.grpc.pb.h"

namespace {

using SteadyClock = std::chrono::steady_clock;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

double MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

// Streams a fixed list of records to anyone: the cost of moving the bytes, nothing else.
class BareHolder final : public hie::v1::PeerRecords::CallbackService {
 public:
  explicit BareHolder(std::vector<hie::v1::FetchRecordsResponse> messages)
      : messages_(std::move(messages)) {}
  grpc::ServerWriteReactor<hie::v1::FetchRecordsResponse>* FetchRecords(
      grpc::CallbackServerContext*, const hie::v1::FetchRecordsRequest*) override {
    return new hie::VectorWriter<hie::v1::FetchRecordsResponse>(messages_);
  }

 private:
  std::vector<hie::v1::FetchRecordsResponse> messages_;
};

}  // namespace

int main(int argc, char** argv) {
  int holders = 3, records = 500, queries = 50;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--holders" && i + 1 < argc) {
      holders = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--records" && i + 1 < argc) {
      records = std::max(2, std::atoi(argv[++i]));
    } else if (arg == "--queries" && i + 1 < argc) {
      queries = std::max(1, std::atoi(argv[++i]));
    } else {
      std::cerr << "usage: query_bench [--holders H] [--records R] [--queries Q] [--json]\n";
      return 2;
    }
  }
  std::vector<std::string> orgs;
  for (int i = 0; i <= holders; ++i)
    orgs.push_back("org-" + std::string(1, static_cast<char>('a' + i)));
  hie::bench::LocalExchange exchange;
  std::string bin_dir = std::filesystem::path(argv[0]).parent_path().string();
  if (absl::Status s = exchange.Start(bin_dir, orgs); !s.ok()) {
    std::cerr << "query_bench: " << s << "\n";
    return 1;
  }
  auto patient = hie::bench::StartNodesWithPatient(exchange, orgs, records);
  if (!patient.ok()) {
    std::cerr << "query_bench: " << patient.status() << "\n";
    return 1;
  }
  const uint64_t bytes_per_holder = patient->bytes_per_holder;

  auto query =
      hie::v1::FederatedQuery::NewStub(exchange.Channel("node-org-a", patient->ports["org-a"]));
  auto run_query = [&](int64_t* entries) {
    auto outcome = hie::bench::QueryOnce(*query, hie::bench::PatientId("org-a"), holders);
    if (outcome.ok()) *entries = outcome->entries;
    return outcome.ok();
  };
  std::vector<double> query_ms;
  int64_t entries = 0;
  for (int i = 0; i < 3; ++i) run_query(&entries);  // warm up
  for (int i = 0; i < queries; ++i) {
    auto start = SteadyClock::now();
    if (!run_query(&entries)) {
      std::cerr << "query_bench: a query failed\n";
      return 1;
    }
    query_ms.push_back(MillisSince(start));
  }

  // The baseline: the same number of records of the same bytes, one bare mTLS call.
  std::vector<hie::v1::FetchRecordsResponse> messages;
  for (int h = 1; h <= holders; ++h) {
    for (int i = 0; i < records; ++i) {
      auto* record = messages.emplace_back().mutable_record();
      record->set_resource_type("Observation");
      record->set_resource_id(absl::StrCat(orgs[h], "-o", i));
      record->set_source_org(orgs[h]);
      record->set_fhir_json(hie::bench::Observation(orgs[h], i));
      record->set_content_sha256(std::string(32, 'x'));
      record->set_version(1);
    }
  }
  messages.emplace_back().mutable_summary()->set_records_sent(holders * records);
  BareHolder bare(std::move(messages));
  auto server_tls = exchange.Tls("node-org-b");
  grpc::ServerBuilder builder;
  int bare_port = 0;
  builder.AddListeningPort("127.0.0.1:0", server_tls->ServerCredentials(), &bare_port);
  builder.RegisterService(&bare);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto bare_stub = hie::v1::PeerRecords::NewStub(exchange.Channel("node-org-a", bare_port));
  std::vector<double> bare_ms;
  for (int i = 0; i < queries + 3; ++i) {
    auto start = SteadyClock::now();
    grpc::ClientContext context;
    auto reader = bare_stub->FetchRecords(&context, {});
    hie::v1::FetchRecordsResponse message;
    int64_t n = 0;
    while (reader->Read(&message)) ++n;
    if (!reader->Finish().ok() || n != holders * records + 1) {
      std::cerr << "query_bench: bare call failed\n";
      return 1;
    }
    if (i >= 3) bare_ms.push_back(MillisSince(start));
  }
  server->Shutdown();

  double q50 = Percentile(query_ms, 0.5), q99 = Percentile(query_ms, 0.99);
  double b50 = Percentile(bare_ms, 0.5), b99 = Percentile(bare_ms, 0.99);
  double target = 2 * b50 + 5;
  if (json) {
    std::cout << hie::JsonObject()
                     .Add("holders", holders)
                     .Add("records_per_holder", records)
                     .Add("queries", queries)
                     .Add("entries", entries)
                     .Add("query_p50_ms", q50)
                     .Add("query_p99_ms", q99)
                     .Add("bare_mtls_call_p50_ms", b50)
                     .Add("bare_mtls_call_p99_ms", b99)
                     .Add("target_p50_ms", target)
                     .Add("target_met", q50 <= target)
                     .AddRaw("daemon_peak_rss_kib", exchange.PeakMemoryJson())
                     .Build()
              << "\n";
    return 0;
  }
  std::cout << absl::StrFormat(
      "federated query, %d holders x %d resources (%d entries, %.1f MB per holder's import)\n",
      holders, records, entries, bytes_per_holder / 1e6);
  std::cout << absl::StrFormat(
      "  query                        p50 %7.2f ms  p99 %7.2f ms  (%d queries)\n", q50, q99,
      queries);
  std::cout << absl::StrFormat("  bare mTLS call, same records p50 %7.2f ms  p99 %7.2f ms\n", b50,
                               b99);
  std::cout << absl::StrFormat("  target: query p50 <= 2 x bare p50 + 5 ms = %.2f ms: %s\n", target,
                               q50 <= target ? "met" : "NOT met");
  return 0;
}
