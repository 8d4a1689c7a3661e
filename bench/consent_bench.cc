// The consent service's costs, each beside a baseline measured in the same run:
//   1. a decision for a patient with 10 directives, in-process (baseline: the policy
//      alone, no directive);
//   2. grant sign and verify per second (baseline: a bare Ed25519 sign/verify of the
//      same bytes);
//   3. Authorize over mutual TLS on loopback with 16 concurrent callers, against real
//      hie-mpi and hie-consent processes (baseline: GetPublicKeys, a bare mTLS unary
//      call to the same server at the same concurrency).
// Prints medians and p99s; --json prints one JSON document.
//
//   build/bin/consent_bench [--decisions N] [--seconds S] [--callers C] [--json]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/local_exchange.h"
#include "common/crypto/signing.h"
#include "common/grpc/tls.h"
#include "common/json/json_writer.h"
#include "common/pki/ca.h"
#include "consent/domain/engine.h"
#include "consent/domain/grant.h"
#include "grpcpp/create_channel.h"
#include "proto/hie/v1/consent.grpc.pb.h"
#include "proto/hie/v1/directory.grpc.pb.h"
#include "proto/hie/v1/mpi.grpc.pb.h"
#include "tests/consent/consent_json.h"

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
using namespace hie::consent::testing;  // NOLINT: Consent JSON builders

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

double MicrosSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count();
}

// Ten directives of the shapes patients file: opt-outs per organisation, purpose
// restrictions, labelled withholdings and releases, dated restrictions, revoked ones.
std::vector<hie::consent::ConsentDirective> TenDirectives() {
  std::vector<std::string> json;
  for (int i = 0; i < 10; ++i) {
    std::string org = absl::StrCat("org-", i);
    json.push_back(Consent(
        absl::StrCat("d", i), absl::StrCat("20", 10 + i, "-01-01"),
        ProvisionJson(
            i % 3 == 0 ? "deny" : "permit", {},
            {ProvisionJson("deny", {Actors({OrgActor(org)}), Purposes({"HPAYMT", "HMARKT"})}),
             ProvisionJson("permit", {Actors({OrgActor("org-b")})},
                           {ProvisionJson("deny", {Labels({"PSY", "HIV"})})}),
             ProvisionJson("permit", {Labels({"ETH"}), Actors({OrgActor(org, "CST")})}),
             ProvisionJson("deny", {PeriodMember("dataPeriod", "2015", "2016")})}),
        i == 9 ? "inactive" : "active"));
  }
  std::vector<hie::consent::ConsentDirective> out;
  for (const auto& j : json) out.push_back(*hie::consent::ParseConsent(j));
  return out;
}

struct Latency {
  double p50 = 0, p99 = 0;
};

Latency TimeDecisions(const std::vector<const hie::consent::ConsentDirective*>& directives, int n) {
  hie::consent::Policy policy;
  hie::consent::DecisionRequest request{
      .requester_org = "org-b", .holder_org = "org-3", .purpose = "TREAT", .now = absl::Now()};
  std::vector<double> micros;
  micros.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto start = SteadyClock::now();
    auto decision = hie::consent::Decide(policy, directives, request);
    micros.push_back(MicrosSince(start));
    if (!decision.ok()) std::abort();
  }
  return {Percentile(micros, 0.5), Percentile(micros, 0.99)};
}

// Three practices hold patient P1 (registered at the MPI by each).
absl::Status Prepare(hie::bench::LocalExchange& exchange, const std::string& bin_dir) {
  const std::vector<std::string> orgs = {"org-a", "org-b", "org-c"};
  if (absl::Status s = exchange.Start(bin_dir, orgs); !s.ok()) return s;
  for (const auto& org : orgs) {
    if (absl::Status s = exchange.Enroll(org, "127.0.0.1:9"); !s.ok()) return s;
    auto mpi =
        hie::v1::MasterPatientIndex::NewStub(exchange.Channel("node-" + org, exchange.mpi_port()));
    grpc::ClientContext context;
    hie::v1::RegisterPatientRequest request;
    request.set_local_id("P1");
    auto* d = request.mutable_demographics();
    auto* name = d->add_names();
    name->set_family("Oyelaran");
    name->add_given("Jane");
    d->mutable_birth_date()->set_year(1984);
    d->mutable_birth_date()->set_month(6);
    d->mutable_birth_date()->set_day(2);
    d->set_sex(hie::v1::SEX_FEMALE);
    hie::v1::RegisterPatientResponse response;
    grpc::Status s = mpi->RegisterPatient(&context, request, &response);
    if (!s.ok()) return absl::InternalError(s.error_message());
  }
  return absl::OkStatus();
}

struct Throughput {
  double per_second = 0;
  double p50_ms = 0, p99_ms = 0;
  int64_t errors = 0;
};

// `callers` threads, each on its own channel, call `rpc` for `seconds`.
template <typename Call>
Throughput Drive(hie::bench::LocalExchange& exchange, int callers, double seconds, Call call) {
  std::vector<std::vector<double>> latencies(callers);
  std::atomic<int64_t> errors{0};
  std::vector<std::thread> threads;
  auto deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                           std::chrono::duration<double>(seconds));
  const char* nodes[] = {"node-org-a", "node-org-b", "node-org-c"};
  for (int t = 0; t < callers; ++t) {
    threads.emplace_back([&, t] {
      auto stub =
          hie::v1::ConsentService::NewStub(exchange.Channel(nodes[t % 3], exchange.consent_port()));
      while (SteadyClock::now() < deadline) {
        auto start = SteadyClock::now();
        if (!call(*stub)) ++errors;
        latencies[t].push_back(MicrosSince(start) / 1000.0);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  return {all.size() / seconds, Percentile(all, 0.5), Percentile(all, 0.99), errors.load()};
}

}  // namespace

int main(int argc, char** argv) {
  int decisions = 200000;
  double seconds = 5;
  int callers = 16;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
    } else if (i + 1 < argc && arg == "--decisions") {
      decisions = std::atoi(argv[++i]);
    } else if (i + 1 < argc && arg == "--seconds") {
      seconds = std::atof(argv[++i]);
    } else if (i + 1 < argc && arg == "--callers") {
      callers = std::atoi(argv[++i]);
    } else {
      std::cerr << "usage: consent_bench [--decisions N] [--seconds S] [--callers C] [--json]\n";
      return 2;
    }
  }
  // 1. Decisions.
  std::vector<hie::consent::ConsentDirective> ten = TenDirectives();
  std::vector<const hie::consent::ConsentDirective*> pointers;
  for (const auto& d : ten) pointers.push_back(&d);
  TimeDecisions(pointers, decisions / 10);  // warm up
  Latency with_ten = TimeDecisions(pointers, decisions);
  Latency policy_only = TimeDecisions({}, decisions);

  // 2. Grants.
  auto key = hie::crypto::SigningKey::Generate();
  hie::crypto::KeyRing ring;
  ring.Add(key->verifying_key());
  hie::consent::GrantSigner signer(&*key, hie::Clock::Real(), absl::Minutes(5));
  hie::consent::GrantVerifier verifier(ring, hie::Clock::Real());
  hie::v1::DisclosureGrant grant;
  grant.set_euid("E0123456789abcdef");
  grant.set_requester_org("org-a");
  grant.set_purpose("TREAT");
  grant.mutable_user()->set_user_id("dr.lee");
  for (const char* org : {"org-b", "org-c", "org-d"}) {
    auto* h = grant.add_holders();
    h->set_org_id(org);
    h->set_local_id("123456");
    h->set_endpoint("10.0.0.1:41003");
  }
  grant.add_withheld_categories("ETH");
  const int kGrants = 3000;
  std::vector<hie::v1::SignedGrant> signed_grants;
  auto start = SteadyClock::now();
  for (int i = 0; i < kGrants; ++i) signed_grants.push_back(*signer.Sign(grant));
  double sign_per_s = kGrants / (MicrosSince(start) / 1e6);
  start = SteadyClock::now();
  for (const auto& g : signed_grants) {
    if (!verifier.Verify(g, "org-a", "org-c").ok()) std::abort();
  }
  double verify_per_s = kGrants / (MicrosSince(start) / 1e6);
  std::string bytes = hie::consent::GrantSigningInput(signed_grants[0].grant());
  start = SteadyClock::now();
  std::string raw_signature;
  for (int i = 0; i < kGrants; ++i) raw_signature = *key->Sign(bytes);
  double raw_sign_per_s = kGrants / (MicrosSince(start) / 1e6);
  start = SteadyClock::now();
  for (int i = 0; i < kGrants; ++i) {
    if (!key->verifying_key().Verify(bytes, raw_signature).ok()) std::abort();
  }
  double raw_verify_per_s = kGrants / (MicrosSince(start) / 1e6);

  // 3. Authorize over mTLS.
  std::string bin_dir = fs::path(argv[0]).parent_path().string();
  hie::bench::LocalExchange exchange;
  if (absl::Status s = Prepare(exchange, bin_dir); !s.ok()) {
    std::cerr << "consent_bench: cannot start the local exchange: " << s << "\n";
    return 1;
  }
  if (!json)
    std::cerr << "driving Authorize with " << callers << " callers for " << seconds << " s...\n";
  Throughput keys = Drive(exchange, callers, seconds, [](hie::v1::ConsentService::Stub& stub) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    hie::v1::GetPublicKeysResponse response;
    return stub.GetPublicKeys(&context, {}, &response).ok();
  });
  Throughput authorize = Drive(exchange, callers, seconds, [](hie::v1::ConsentService::Stub& stub) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    hie::v1::AuthorizeRequest request;
    request.set_local_patient_id("P1");
    request.set_purpose("TREAT");
    request.mutable_user()->set_user_id("bench");
    hie::v1::AuthorizeResponse response;
    grpc::Status status = stub.Authorize(&context, request, &response);
    if (!status.ok() || !response.has_grant()) {
      static std::atomic<bool> reported{false};
      if (!reported.exchange(true)) {
        std::cerr << "consent_bench: first Authorize failure: "
                  << (status.ok() ? response.denial().reason() : status.error_message()) << "\n";
      }
      return false;
    }
    return true;
  });

  if (json) {
    std::cout << hie::JsonObject()
                     .Add("decision_10_directives_p50_us", with_ten.p50)
                     .Add("decision_10_directives_p99_us", with_ten.p99)
                     .Add("decision_policy_only_p50_us", policy_only.p50)
                     .Add("decision_policy_only_p99_us", policy_only.p99)
                     .Add("grant_sign_per_s", sign_per_s)
                     .Add("grant_verify_per_s", verify_per_s)
                     .Add("raw_ed25519_sign_per_s", raw_sign_per_s)
                     .Add("raw_ed25519_verify_per_s", raw_verify_per_s)
                     .Add("callers", callers)
                     .Add("authorize_per_s", authorize.per_second)
                     .Add("authorize_p50_ms", authorize.p50_ms)
                     .Add("authorize_p99_ms", authorize.p99_ms)
                     .Add("authorize_errors", static_cast<int64_t>(authorize.errors))
                     .Add("get_public_keys_per_s", keys.per_second)
                     .Add("get_public_keys_p50_ms", keys.p50_ms)
                     .Add("get_public_keys_p99_ms", keys.p99_ms)
                     .AddRaw("daemon_peak_rss_kib", exchange.PeakMemoryJson())
                     .Build()
              << "\n";
    return 0;
  }
  std::cout << absl::StrFormat(
      "decision, 10 directives     p50 %7.2f us  p99 %7.2f us   (policy alone: p50 %.2f us, "
      "p99 %.2f us; ratio p99 %.1fx)\n",
      with_ten.p50, with_ten.p99, policy_only.p50, policy_only.p99, with_ten.p99 / policy_only.p99);
  std::cout << absl::StrFormat(
      "grant sign                  %7.0f /s   (bare Ed25519 sign: %.0f /s; ratio %.2f)\n",
      sign_per_s, raw_sign_per_s, sign_per_s / raw_sign_per_s);
  std::cout << absl::StrFormat(
      "grant verify                %7.0f /s   (bare Ed25519 verify: %.0f /s; ratio %.2f)\n",
      verify_per_s, raw_verify_per_s, verify_per_s / raw_verify_per_s);
  std::cout << absl::StrFormat(
      "Authorize over mTLS, %2d callers  %7.0f /s  p50 %.2f ms  p99 %.2f ms  errors %d\n"
      "GetPublicKeys (bare call)        %7.0f /s  p50 %.2f ms  p99 %.2f ms  (Authorize/bare "
      "throughput %.2f)\n",
      callers, authorize.per_second, authorize.p50_ms, authorize.p99_ms, authorize.errors,
      keys.per_second, keys.p50_ms, keys.p99_ms, authorize.per_second / keys.per_second);
  return authorize.errors == 0 ? 0 : 1;
}
