// The node's FHIR REST API against the gRPC path it stands beside, in one run on one
// exchange of real hie-mpi, hie-consent and hie-node processes on loopback (the patient
// and her records as query_bench has them: one requesting practice, H holders of R
// resources each):
//   1. GET /Patient/{id}/$everything over HTTPS with a bearer token from the node's own
//      token endpoint (a SMART client registered and a token taken with hiectl, as a
//      practice would), its next links followed to the end of the answer (default
//      _count), against the federated query as `hiectl query` makes it over
//      gRPC: the two alternate (ABBA) on kept-open connections, so machine noise hits
//      both; the figure is the ratio of their medians (target: at most 1.15).
//      GET /metadata and one local read on the same connection are the HTTPS floor.
//   2. Local reads, GET /{type}/{id} of the practice's own records, from C concurrent
//      keep-alive HTTPS connections (closed loop: each sends its next request when its
//      answer is whole) for N requests: p50, p99, requests per second, and the CPU the
//      node and this client used per request.
//
//   build/bin/fhir_api_bench [--holders H] [--records R] [--queries Q] [--reads N]
//                            [--clients C] [--client-threads T] [--workers W] [--json]
// (--workers sets the requesting node's fhir_api.workers; by default the node's own.)
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "bench/federated_patient.h"
#include "bench/keep_alive_client.h"
#include "bench/local_exchange.h"
#include "common/json/json_writer.h"
#include "proto/hie/v1/node.grpc.pb.h"
#include "simdjson.h"
#include "tests/integration/daemon_process.h"

namespace {

using SteadyClock = std::chrono::steady_clock;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Sample {
  double millis = 0;             // the whole answer
  double first_byte_millis = 0;  // its first byte (HTTP: the header; gRPC: the first piece)
};

struct Latency {
  double p50 = 0, p90 = 0, p99 = 0;
};

Latency Summarize(const std::vector<double>& ms) {
  return {Percentile(ms, 0.5), Percentile(ms, 0.9), Percentile(ms, 0.99)};
}

// An EC P-384 key pair in PEM files `prefix`.key.pem and `prefix`.pub.pem, as a
// practice's IT would make with openssl.
absl::Status MakeClientKey(const std::string& prefix) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  if (key == nullptr) return absl::InternalError("cannot make an EC P-384 key");
  bool ok = true;
  for (bool is_private : {true, false}) {
    std::string path = prefix + (is_private ? ".key.pem" : ".pub.pem");
    BIO* out = BIO_new_file(path.c_str(), "w");
    ok = ok && out != nullptr &&
         (is_private ? PEM_write_bio_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr)
                     : PEM_write_bio_PUBKEY(out, key)) == 1;
    BIO_free(out);
  }
  EVP_PKEY_free(key);
  return ok ? absl::OkStatus() : absl::InternalError("cannot write " + prefix + ".*.pem");
}

// A SMART Backend Services client of org's node, registered with hiectl over gRPC with
// the practice's certificate; returns its id.
absl::StatusOr<std::string> RegisterClient(hie::bench::LocalExchange& exchange,
                                           const std::string& bin_dir, const std::string& org,
                                           int grpc_port) {
  const std::string prefix = exchange.Path("bench-client");
  if (absl::Status s = MakeClientKey(prefix); !s.ok()) return s;
  const std::string node = "node-" + org;
  hie::testing::CommandResult r = hie::testing::RunCommand(
      {bin_dir + "/hiectl", "fhir", "client", "add", "--target",
       absl::StrCat("127.0.0.1:", grpc_port), "--ca", exchange.Path("ca/ca.crt"), "--cert",
       exchange.Path("certs/" + node + ".crt"), "--key", exchange.Path("certs/" + node + ".key"),
       "--name", "fhir_api_bench", "--public-key", prefix + ".pub.pem", "--scope", "system/*.read",
       "--json"});
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view id;
  if (r.exit_code != 0 || parser.parse(r.out).get(root) || root["client_id"].get_string().get(id)) {
    return absl::InternalError(absl::StrCat("hiectl fhir client add: ", r.err));
  }
  return std::string(id);
}

// An access token for the client from the node's token endpoint, taken with hiectl
// (a signed assertion naming the user and the purpose of use).
absl::StatusOr<std::string> TakeToken(hie::bench::LocalExchange& exchange,
                                      const std::string& bin_dir, const std::string& client_id,
                                      int fhir_port) {
  hie::testing::CommandResult r = hie::testing::RunCommand(
      {bin_dir + "/hiectl", "fhir", "token", "--fhir-base",
       absl::StrCat("https://127.0.0.1:", fhir_port), "--client-id", client_id, "--client-key",
       exchange.Path("bench-client.key.pem"), "--ca", exchange.Path("ca/ca.crt"), "--user", "bench",
       "--purpose", "TREAT"});
  std::string token(absl::StripAsciiWhitespace(r.out));
  if (r.exit_code != 0 || token.empty()) {
    return absl::InternalError(absl::StrCat("hiectl fhir token: ", r.err));
  }
  return token;
}

// What one $everything page holds: its matches (-1 when it is not a Bundle), the
// outcomes that say a holder did not answer in full (warnings; the information ones say
// what consent withheld), and its next link ("" for none).
struct EverythingPage {
  int64_t matches = -1;
  int64_t holder_outcomes = 0;
  std::string next;
};

EverythingPage ReadEverythingPage(const std::string& body) {
  EverythingPage page;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body).get(root) || !root.is_object()) return page;
  page.matches = 0;
  simdjson::dom::array links, entries;
  if (!root["link"].get_array().get(links)) {
    for (simdjson::dom::element link : links) {
      std::string_view relation, url;
      if (!link["relation"].get_string().get(relation) && relation == "next" &&
          !link["url"].get_string().get(url)) {
        page.next = std::string(url);
      }
    }
  }
  if (root["entry"].get_array().get(entries)) return page;
  for (simdjson::dom::element e : entries) {
    std::string_view mode, severity;
    if (e["search"]["mode"].get_string().get(mode)) continue;
    if (mode == "match") ++page.matches;
    if (mode == "outcome" && !e["resource"]["issue"].at(0)["severity"].get_string().get(severity) &&
        severity != "information") {
      ++page.holder_outcomes;
    }
  }
  return page;
}

// The origin form of an absolute URL ("https://host:port/a?b" -> "/a?b").
std::string OriginForm(const std::string& url) {
  size_t scheme = url.find("://");
  size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return path == std::string::npos ? "/" : url.substr(path);
}

hie::bench::HttpsCall Get(std::string target, std::string bearer) {
  hie::bench::HttpsCall call;
  call.target = std::move(target);
  call.headers = {{"Authorization", std::move(bearer)}};
  return call;
}

int Fail(const std::string& what) {
  std::cerr << "fhir_api_bench: " << what << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int holders = 3, records = 500, queries = 50, clients = 64, client_threads = 1, workers = 0;
  int64_t reads = 50000;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next_int = [&](int low) { return std::max(low, std::atoi(argv[++i])); };
    if (arg == "--json") {
      json = true;
    } else if (arg == "--holders" && i + 1 < argc) {
      holders = next_int(1);
    } else if (arg == "--records" && i + 1 < argc) {
      records = next_int(2);
    } else if (arg == "--queries" && i + 1 < argc) {
      queries = next_int(1);
    } else if (arg == "--reads" && i + 1 < argc) {
      reads = next_int(1);
    } else if (arg == "--clients" && i + 1 < argc) {
      clients = next_int(1);
    } else if (arg == "--client-threads" && i + 1 < argc) {
      client_threads = next_int(1);
    } else if (arg == "--workers" && i + 1 < argc) {
      workers = next_int(1);
    } else {
      std::cerr << "usage: fhir_api_bench [--holders H] [--records R] [--queries Q] [--reads N] "
                   "[--clients C] [--client-threads T] [--workers W] [--json]\n";
      return 2;
    }
  }
  std::vector<std::string> orgs;
  for (int i = 0; i <= holders; ++i)
    orgs.push_back("org-" + std::string(1, static_cast<char>('a' + i)));
  const std::string& requester = orgs.front();
  const std::string patient_id = hie::bench::PatientId(requester);
  hie::bench::LocalExchange exchange;
  const std::string bin_dir = std::filesystem::path(argv[0]).parent_path().string();
  if (absl::Status s = exchange.Start(bin_dir, orgs); !s.ok()) return Fail(s.ToString());
  auto patient = hie::bench::StartNodesWithPatient(exchange, orgs, records,
                                                   {.fhir_api = true, .fhir_workers = workers});
  if (!patient.ok()) return Fail(patient.status().ToString());
  const int grpc_port = patient->ports[requester];
  const int fhir_port = exchange.fhir_port(requester);
  auto client_id = RegisterClient(exchange, bin_dir, requester, grpc_port);
  if (!client_id.ok()) return Fail(client_id.status().ToString());
  const hie::bench::HttpsEndpoint endpoint{
      .host = "127.0.0.1", .port = fhir_port, .ca_file = exchange.Path("ca/ca.crt")};

  // ---- 1. $everything beside the gRPC query, alternating on kept-open connections.
  auto token = TakeToken(exchange, bin_dir, *client_id, fhir_port);
  if (!token.ok()) return Fail(token.status().ToString());
  const std::string auth = "Bearer " + *token;
  auto rest = hie::bench::KeepAliveClient::Connect(endpoint, 1, absl::Seconds(60));
  if (!rest.ok()) return Fail(rest.status().ToString());
  auto grpc_query =
      hie::v1::FederatedQuery::NewStub(exchange.Channel("node-" + requester, grpc_port));
  // Each path's samples, and the CPU the requesting node spent on it (holders do the same
  // work for both).
  struct Path {
    explicit Path(std::function<absl::StatusOr<Sample>()> f) : run(std::move(f)) {}
    std::function<absl::StatusOr<Sample>()> run;
    std::vector<double> millis, first_byte_millis;
    double node_cpu = 0;
  };
  int64_t entries = 0, rest_entries = 0;
  std::string bundle;
  Path grpc([&]() -> absl::StatusOr<Sample> {
    auto outcome = hie::bench::QueryOnce(*grpc_query, patient_id, holders, &bundle);
    if (!outcome.ok()) return outcome.status();
    entries = outcome->entries;
    return Sample{outcome->millis, outcome->first_piece_millis};
  });
  Path everything([&]() -> absl::StatusOr<Sample> {
    // The whole answer, as a client reads it: the first page, then each next link (the
    // later pages come from the answer the node kept). The time is the pages' together.
    Sample sample;
    int64_t matches = 0;
    std::string target = absl::StrCat("/Patient/", patient_id, "/$everything");
    for (int page = 0; !target.empty(); ++page) {
      auto reply = (*rest)->Send(Get(target, auth));
      if (!reply.ok()) return reply.status();
      if (reply->status != 200) {
        return absl::InternalError(
            absl::StrCat(target, " answered ", reply->status, ": ", reply->body.substr(0, 300)));
      }
      if (page == 0) sample.first_byte_millis = reply->header_millis;
      sample.millis += reply->millis;
      // Checked after the clock stopped: a Bundle, every holder in it.
      EverythingPage read = ReadEverythingPage(reply->body);
      if (read.matches < 0 || read.holder_outcomes > 0) {
        return absl::DataLossError(
            absl::StrCat("$everything: ", read.matches < 0 ? "not a Bundle" : "",
                         read.holder_outcomes, " holder(s) did not answer in full"));
      }
      matches += read.matches;
      target = read.next.empty() ? "" : OriginForm(read.next);
    }
    rest_entries = matches;
    return sample;
  });
  auto get = [&](const std::string& target) -> absl::StatusOr<Sample> {
    auto reply = (*rest)->Send(Get(target, auth));
    if (!reply.ok()) return reply.status();
    if (reply->status != 200) {
      return absl::InternalError(absl::StrCat(target, " answered ", reply->status));
    }
    return Sample{reply->millis, reply->header_millis};
  };
  Path metadata([&] { return get("/metadata"); });
  Path one_read([&] { return get(absl::StrCat("/Observation/", requester, "-o1")); });
  const std::string node = "node-" + requester;
  for (int i = -3; i < queries; ++i) {  // three rounds of warm-up
    // ABBA: neither path always goes first.
    std::vector<Path*> round = {&grpc, &everything, &metadata, &one_read};
    if (i % 2 != 0) std::swap(round[0], round[1]);
    for (Path* path : round) {
      const double cpu_before = exchange.CpuSeconds(node);
      absl::StatusOr<Sample> sample = path->run();
      if (!sample.ok()) return Fail(sample.status().ToString());
      if (i < 0) continue;
      path->node_cpu += exchange.CpuSeconds(node) - cpu_before;
      path->millis.push_back(sample->millis);
      path->first_byte_millis.push_back(sample->first_byte_millis);
    }
  }
  if (rest_entries != entries) {
    return Fail(
        absl::StrCat("$everything has ", rest_entries, " entries, the gRPC query ", entries));
  }
  rest->reset();

  // ---- 2. Local reads from `clients` keep-alive connections at once.
  token = TakeToken(exchange, bin_dir, *client_id, fhir_port);
  if (!token.ok()) return Fail(token.status().ToString());
  const std::string bearer = "Bearer " + *token;
  auto pool =
      hie::bench::KeepAliveClient::Connect(endpoint, clients, absl::Seconds(60), client_threads);
  if (!pool.ok()) return Fail(pool.status().ToString());
  // The practice's own records in turn: her Patient, then each Observation.
  auto read_call = [&](int64_t i) {
    int64_t k = i % records;
    return Get(k == 0 ? absl::StrCat("/Patient/", patient_id)
                      : absl::StrCat("/Observation/", requester, "-o", k),
               bearer);
  };
  auto warm = (*pool)->Run(read_call, 4 * static_cast<int64_t>(clients));
  if (!warm.ok()) return Fail(warm.status().ToString());
  const double node_cpu_before = exchange.CpuSeconds(node);
  const double client_cpu_before = ProcessCpuSeconds();
  auto load = (*pool)->Run(read_call, reads);
  if (!load.ok()) return Fail(load.status().ToString());
  const double node_cpu = exchange.CpuSeconds(node) - node_cpu_before;
  const double client_cpu = ProcessCpuSeconds() - client_cpu_before;
  if (load->non_2xx > 0 || warm->non_2xx > 0) {
    return Fail(absl::StrCat(load->non_2xx + warm->non_2xx, " reads were not answered 200"));
  }
  pool->reset();

  const Latency g = Summarize(grpc.millis), r = Summarize(everything.millis);
  const Latency meta = Summarize(metadata.millis), one = Summarize(one_read.millis);
  // Per call: the first byte's p50 and the requesting node's CPU.
  auto first_byte = [](const Path& p) { return Percentile(p.first_byte_millis, 0.5); };
  auto cpu_ms = [](const Path& p) {
    return 1e3 * p.node_cpu / static_cast<double>(p.millis.size());
  };
  auto path_json = [&](const Path& p, const Latency& l) {
    return hie::JsonObject()
        .Add("p50_ms", l.p50)
        .Add("p90_ms", l.p90)
        .Add("p99_ms", l.p99)
        .Add("first_byte_p50_ms", first_byte(p))
        .Add("node_cpu_ms_per_call", cpu_ms(p))
        .Build();
  };
  const Latency loaded = Summarize(load->millis);
  const double ratio = g.p50 > 0 ? r.p50 / g.p50 : 0;
  const double per_second = static_cast<double>(reads) / load->seconds;
  const double node_us = 1e6 * node_cpu / static_cast<double>(reads);
  const double client_us = 1e6 * client_cpu / static_cast<double>(reads);
  constexpr double kTargetRatio = 1.15;
  if (json) {
    std::cout << hie::JsonObject()
                     .Add("holders", holders)
                     .Add("records_per_holder", records)
                     .Add("queries", queries)
                     .Add("entries", entries)
                     .AddRaw("grpc_query", path_json(grpc, g))
                     .AddRaw("rest_everything", path_json(everything, r))
                     .Add("everything_ratio_p50", ratio)
                     .Add("target_ratio_p50", kTargetRatio)
                     .Add("target_met", ratio <= kTargetRatio)
                     .AddRaw("rest_metadata_one_client", path_json(metadata, meta))
                     .AddRaw("rest_read_one_client", path_json(one_read, one))
                     .AddRaw("rest_read_loaded", hie::JsonObject()
                                                     .Add("clients", clients)
                                                     .Add("client_threads", client_threads)
                                                     .Add("node_workers", workers)
                                                     .Add("requests", reads)
                                                     .Add("seconds", load->seconds)
                                                     .Add("requests_per_second", per_second)
                                                     .Add("p50_ms", loaded.p50)
                                                     .Add("p90_ms", loaded.p90)
                                                     .Add("p99_ms", loaded.p99)
                                                     .Add("node_cpu_us_per_request", node_us)
                                                     .Add("client_cpu_us_per_request", client_us)
                                                     .Build())
                     .AddRaw("daemon_peak_rss_kib", exchange.PeakMemoryJson())
                     .Build()
              << "\n";
    return 0;
  }
  std::cout << absl::StrFormat(
      "FHIR API beside gRPC, %d holders x %d resources (%d entries, %.1f MB per holder's "
      "import)\n",
      holders, records, entries, patient->bytes_per_holder / 1e6);
  auto line = [](const char* what, const Latency& l, const std::string& tail) {
    std::cout << absl::StrFormat("  %-34s p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms%s\n", what,
                                 l.p50, l.p90, l.p99, tail);
  };
  line("gRPC query (hiectl query's path)", g, absl::StrFormat("  (%d queries)", queries));
  line("REST GET /Patient/{id}/$everything", r, "  (alternating with it)");
  std::cout << absl::StrFormat("  target: $everything p50 <= %.2f x gRPC p50: %.3f, %s\n",
                               kTargetRatio, ratio, ratio <= kTargetRatio ? "met" : "NOT met");
  std::cout << absl::StrFormat(
      "  first byte p50: gRPC %.2f ms (the Bundle's first piece), REST %.2f ms (the header)\n"
      "  requesting node's CPU per query: gRPC %.2f ms, REST %.2f ms\n",
      first_byte(grpc), first_byte(everything), cpu_ms(grpc), cpu_ms(everything));
  line("REST GET /metadata, one client", meta, "");
  line("REST GET /{type}/{id}, one client", one, "");
  std::cout << absl::StrFormat(
      "local reads, %d keep-alive HTTPS connections, %d requests (client on %d thread%s, node "
      "fhir_api.workers %s)\n",
      clients, reads, client_threads, client_threads == 1 ? "" : "s",
      workers > 0 ? absl::StrCat(workers) : std::string("default"));
  line("REST GET /{type}/{id}", loaded, "");
  std::cout << absl::StrFormat(
      "  %.0f requests/s; CPU per request: node %.0f us, this client %.0f us\n", per_second,
      node_us, client_us);
  return 0;
}
