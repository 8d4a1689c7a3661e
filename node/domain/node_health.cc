#include "node/domain/node_health.h"

#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/pki/identity.h"

namespace hie::node {
namespace {

DependencyHealth Probe(const DependencyCheck& check, absl::Duration deadline) {
  DependencyHealth health;
  health.name = check.name;
  health.address = check.address;
  if (!check.probe) return health;
  health.configured = true;
  const absl::Time start = absl::Now();
  absl::Status answer = check.probe(deadline);
  health.latency = absl::Now() - start;
  health.reachable = answer.ok();
  if (!answer.ok()) {
    health.error = answer.message().empty() ? std::string(absl::StatusCodeToString(answer.code()))
                                            : std::string(answer.message());
  }
  return health;
}

}  // namespace

absl::StatusOr<CertificateHealth> ReadCertificateHealth(const std::string& pem_file,
                                                        absl::Time now) {
  std::ifstream in(pem_file);
  if (!in) return absl::NotFoundError("the node's certificate file cannot be read");
  std::stringstream pem;
  pem << in.rdbuf();
  absl::StatusOr<pki::CertIdentity> identity = pki::ReadCertIdentity(pem.str());
  if (!identity.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the node's certificate does not parse: ", identity.status().message()));
  }
  CertificateHealth health;
  health.subject = pki::DescribeCertificate(pem.str()).subject;
  health.not_after = identity->not_after;
  // Whole days left, rounding down: "0" on the last day, negative once expired.
  const int64_t hours = absl::ToInt64Hours(identity->not_after - now);
  health.days_left = hours >= 0 ? hours / 24 : -((-hours + 23) / 24);
  health.warn = health.days_left < kCertificateWarnDays;
  return health;
}

NodeHealth CheckNodeHealth(const NodeHealthSources& sources, absl::Time now) {
  NodeHealth health;
  health.org_id = sources.org_id;
  health.checked_at = now;
  // Every probe at once, each bounded by its deadline: the page waits for the slowest.
  health.dependencies.resize(sources.dependencies.size());
  std::vector<std::thread> probes;
  probes.reserve(sources.dependencies.size());
  for (size_t i = 0; i < sources.dependencies.size(); ++i) {
    probes.emplace_back([&, i] {
      health.dependencies[i] = Probe(sources.dependencies[i], sources.probe_deadline);
    });
  }
  if (sources.outbox != nullptr) {
    absl::StatusOr<int64_t> pending = sources.outbox->Pending();
    if (pending.ok()) health.outbox_pending = *pending;
  }
  if (sources.certificate_file.empty()) {
    health.certificate_error = "this node was started without a certificate file";
  } else {
    absl::StatusOr<CertificateHealth> cert = ReadCertificateHealth(sources.certificate_file, now);
    if (cert.ok()) {
      health.certificate = *std::move(cert);
    } else {
      health.certificate_error = std::string(cert.status().message());
    }
  }
  if (sources.records != nullptr) {
    absl::StatusOr<std::map<std::string, int64_t>> counts = sources.records->CountByType();
    if (counts.ok()) {
      health.records_by_type = *std::move(counts);
      for (const auto& [type, n] : health.records_by_type) health.records += n;
    } else {
      health.records_error = std::string(counts.status().message());
    }
  }
  for (std::thread& t : probes) t.join();
  return health;
}

}  // namespace hie::node
