// Crash consistency of the real daemons: each of hie-node, hie-mpi and hie-consent is
// killed with SIGKILL at a random moment while clients write to it as fast as they can,
// fifty times over. After every restart each acknowledged write is there, a write that
// was in flight is there whole or not at all, and the audit chain verifies; the node's
// outbox still delivers every patient to the MPI in the end.
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "proto/hie/v1/audit.grpc.pb.h"
#include "proto/hie/v1/consent.grpc.pb.h"
#include "proto/hie/v1/node.grpc.pb.h"
#include "tests/integration/daemon_fixture.h"

namespace hie::testing {
namespace {

constexpr int kRounds = 50;
constexpr int kWriters = 2;

// What the writers did in one round: writes acknowledged, and the one each writer had
// in flight when the daemon died (its outcome unknown).
struct RoundLog {
  absl::Mutex mu;
  std::vector<std::string> acknowledged ABSL_GUARDED_BY(mu);
  std::vector<std::string> in_flight ABSL_GUARDED_BY(mu);
};

class CrashTest : public DaemonFixture {
 protected:
  int Restart(const std::string& name) {
    processes_.erase(name);
    return StartDaemon(name);
  }

  // Runs `write(id, channel)` on kWriters threads (one channel to `port` each, as
  // node-a) with fresh ids until it fails, and kills `name` with SIGKILL after a random
  // 20-250 ms. `write` returns true when the daemon acknowledged the write.
  using Writer = std::function<bool(const std::string&, const std::shared_ptr<grpc::Channel>&)>;
  void WriteUntilKilled(const std::string& name, int port, int round, const Writer& write,
                        RoundLog* log) {
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    for (int t = 0; t < kWriters; ++t) channels.push_back(ChannelAs("node-a", port));
    std::vector<std::thread> writers;
    for (int t = 0; t < kWriters; ++t) {
      writers.emplace_back([&, t] {
        // Bounded: the daemon dies within a second, and every call has a deadline.
        for (int i = 0; i < 100000; ++i) {
          std::string id = absl::StrCat(name, "-", round, "-", t, "-", i);
          if (write(id, channels[t])) {
            absl::MutexLock lock(&log->mu);
            log->acknowledged.push_back(id);
          } else {
            absl::MutexLock lock(&log->mu);
            log->in_flight.push_back(id);
            return;
          }
        }
      });
    }
    absl::SleepFor(absl::Milliseconds(20 + random_() % 230));
    auto killed = processes_.at(name).Stop(SIGKILL, absl::Seconds(10));
    EXPECT_TRUE(killed.ok()) << killed.status();
    for (auto& writer : writers) writer.join();
  }

  // The audit chain of the daemon on `port`, verified as the operator.
  void ExpectAuditVerifies(int port, int round) {
    auto audit = hie::v1::AuditLog::NewStub(ChannelAs("operator", port));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    hie::v1::VerifyAuditResponse verified;
    grpc::Status s = audit->Verify(&context, {}, &verified);
    ASSERT_TRUE(s.ok()) << "round " << round << ": " << s.error_message();
    // A witness this test does not run (the consent service) makes the answer
    // "unverified", never intact; the chain itself must have no bad entry.
    bool witness_missing = false;
    for (const auto& w : verified.witnesses()) witness_missing |= !w.reachable();
    EXPECT_TRUE(verified.ok() ||
                (witness_missing && verified.first_bad_sequence() == 0 &&
                 absl::StartsWith(verified.problem(), "unverified")))
        << "round " << round << ": " << verified.problem() << " at "
        << verified.first_bad_sequence();
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return context;
  }

  std::mt19937 random_{20261125};
};

// A transaction of three resources: a patient and two observations about her.
std::string PatientBundle(const std::string& id) {
  return absl::StrCat(
      R"({"resourceType":"Bundle","type":"transaction","entry":[)",
      R"({"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":")", id,
      R"(","name":[{"family":"Crash","given":[")", id,
      R"("]}],"gender":"female","birthDate":"1970-01-01"},"request":{"method":"PUT","url":"Patient"}},)",
      R"({"resource":{"resourceType":"Observation","id":")", id,
      R"(-o1","status":"final","code":{"text":"HR"},"subject":{"reference":"urn:uuid:p"}},)",
      R"("request":{"method":"PUT","url":"Observation"}},)",
      R"({"resource":{"resourceType":"Observation","id":")", id,
      R"(-o2","status":"final","code":{"text":"BP"},"subject":{"reference":"urn:uuid:p"}},)",
      R"("request":{"method":"PUT","url":"Observation"}}]})");
}

TEST_F(CrashTest, NodeKeepsEveryAcknowledgedImportAndItsOutboxDrains) {
  int mpi = StartDaemon("mpi");
  ASSERT_GT(mpi, 0);
  mpi_address_ = absl::StrCat("127.0.0.1:", mpi);
  Enroll(mpi, "org-a");

  auto import = [&](const std::string& id, const std::shared_ptr<grpc::Channel>& channel) {
    auto ingest = hie::v1::Ingest::NewStub(channel);
    auto context = Context();
    hie::v1::ImportResponse response;
    auto writer = ingest->Import(context.get(), &response);
    hie::v1::ImportRequest request;
    request.set_format(hie::v1::ImportRequest::FORMAT_JSON);
    request.set_data(PatientBundle(id));
    writer->Write(request);
    writer->WritesDone();
    return writer->Finish().ok() && response.accepted() == 3;
  };
  // How many of the patient's three resources the node on `port` has.
  auto count = [&](const std::string& id, hie::v1::Ingest::Stub* ingest) {
    int present = 0;
    for (const auto& [type, rid] : std::vector<std::pair<std::string, std::string>>{
             {"Patient", id}, {"Observation", id + "-o1"}, {"Observation", id + "-o2"}}) {
      hie::v1::GetRecordRequest request;
      request.set_resource_type(type);
      request.set_resource_id(rid);
      hie::v1::RecordEnvelope record;
      grpc::Status s = ingest->GetRecord(Context().get(), request, &record);
      EXPECT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND) << s.error_message();
      present += s.ok();
    }
    return present;
  };

  std::vector<std::string> all_acknowledged;
  int acknowledged_in_flight = 0;
  int port = StartDaemon("node");
  ASSERT_GT(port, 0);
  for (int round = 0; round < kRounds; ++round) {
    RoundLog log;
    WriteUntilKilled("node", port, round, import, &log);
    int after = port = Restart("node");
    ASSERT_GT(after, 0) << "round " << round;
    ExpectAuditVerifies(after, round);
    if (HasFatalFailure()) return;
    auto ingest = hie::v1::Ingest::NewStub(ChannelAs("node-a", after));
    absl::MutexLock lock(&log.mu);
    for (const std::string& id : log.acknowledged) {
      ASSERT_EQ(count(id, ingest.get()), 3)
          << "round " << round << ": acknowledged " << id << " lost";
      all_acknowledged.push_back(id);
    }
    for (const std::string& id : log.in_flight) {
      int present = count(id, ingest.get());
      ASSERT_TRUE(present == 0 || present == 3)
          << "round " << round << ": " << id << " half present (" << present << " of 3)";
      if (present == 3) {
        ++acknowledged_in_flight;
        all_acknowledged.push_back(id);  // stored: its outbox entry must be delivered too
      }
    }
  }
  ASSERT_GT(all_acknowledged.size(), static_cast<size_t>(kRounds)) << "the writers barely wrote";

  // Every stored patient reaches the MPI through the outbox, across fifty kills.
  absl::Time deadline = absl::Now() + absl::Seconds(120);
  size_t next = 0;
  auto index = MpiAs("operator", mpi);
  while (next < all_acknowledged.size() && absl::Now() < deadline) {
    hie::v1::CrossReference xref;
    if (Xref(index.get(), "org-a", all_acknowledged[next], &xref).ok()) {
      ++next;
    } else {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  EXPECT_EQ(next, all_acknowledged.size())
      << "the outbox did not deliver "
      << all_acknowledged[std::min(next, all_acknowledged.size() - 1)];
  std::cout << "[ crash    ] node: " << kRounds << " kills, " << all_acknowledged.size()
            << " imports stored (" << acknowledged_in_flight
            << " of them in flight at the kill), all delivered to the MPI\n";
}

TEST_F(CrashTest, MpiKeepsEveryAcknowledgedRegistration) {
  auto demographics = [](const std::string& id) {
    hie::v1::Demographics d = Jane(id);
    d.mutable_names(0)->set_family(absl::StrCat("Fam", std::hash<std::string>()(id) % 100000));
    d.mutable_birth_date()->set_day(1 + std::hash<std::string>()(id) % 28);
    return d;
  };
  auto register_patient = [&](const std::string& id,
                              const std::shared_ptr<grpc::Channel>& channel) {
    hie::v1::RegisterPatientResponse response;
    auto index = hie::v1::MasterPatientIndex::NewStub(channel);
    return Register(index.get(), id, demographics(id), &response).ok();
  };
  size_t total = 0;
  int port = StartDaemon("mpi");
  ASSERT_GT(port, 0);
  Enroll(port, "org-a");
  for (int round = 0; round < kRounds; ++round) {
    RoundLog log;
    WriteUntilKilled("mpi", port, round, register_patient, &log);
    int after = port = Restart("mpi");
    ASSERT_GT(after, 0) << "round " << round;
    auto index = MpiAs("operator", after);
    absl::MutexLock lock(&log.mu);
    for (const std::string& id : log.acknowledged) {
      hie::v1::CrossReference xref;
      grpc::Status s = Xref(index.get(), "org-a", id, &xref);
      ASSERT_TRUE(s.ok()) << "round " << round << ": acknowledged " << id
                          << " lost: " << s.error_message();
      ASSERT_FALSE(xref.euid().empty());
    }
    for (const std::string& id : log.in_flight) {
      hie::v1::CrossReference xref;
      grpc::Status s = Xref(index.get(), "org-a", id, &xref);
      ASSERT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND)
          << "round " << round << ": " << id << ": " << s.error_message();
    }
    total += log.acknowledged.size();
    ExpectAuditVerifies(after, round);
    if (HasFatalFailure()) return;
  }
  ASSERT_GT(total, static_cast<size_t>(kRounds)) << "the writers barely wrote";
  std::cout << "[ crash    ] mpi: " << kRounds << " kills, " << total
            << " acknowledged registrations, all present\n";
}

TEST_F(CrashTest, ConsentKeepsEveryAcknowledgedDirectiveAndItsAuditChain) {
  int mpi = StartDaemon("mpi");
  ASSERT_GT(mpi, 0);
  mpi_address_ = absl::StrCat("127.0.0.1:", mpi);
  Enroll(mpi, "org-a");
  hie::v1::RegisterPatientResponse registered;
  ASSERT_TRUE(Register(MpiAs("node-a", mpi).get(), "A1", Jane(), &registered).ok());

  // Writer 0 files directives; the other writers ask for grants, each audited.
  auto write = [&](const std::string& id, const std::shared_ptr<grpc::Channel>& channel) {
    auto consent = hie::v1::ConsentService::NewStub(channel);
    if (id.find("-0-") == std::string::npos) {
      hie::v1::AuthorizeRequest request;
      request.set_local_patient_id("A1");
      request.set_purpose("TREAT");
      request.mutable_user()->set_user_id("dr.lee");
      request.set_query_id(id);
      hie::v1::AuthorizeResponse response;
      return consent->Authorize(Context().get(), request, &response).ok();
    }
    hie::v1::PutDirectiveRequest request;
    request.mutable_patient()->set_org_id("org-a");
    request.mutable_patient()->set_local_id("A1");
    request.set_consent_json(absl::StrCat(
        R"({"resourceType":"Consent","id":")", id, R"(","status":"active",)",
        R"("scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},)",
        R"("category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],"dateTime":"2025-01-01",)",
        R"("policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTIN"}]}})"));
    hie::v1::Directive out;
    return consent->PutDirective(Context().get(), request, &out).ok();
  };
  auto directives = [&](int port) {
    auto consent = hie::v1::ConsentService::NewStub(ChannelAs("node-a", port));
    hie::v1::ListDirectivesRequest request;
    request.mutable_patient()->set_org_id("org-a");
    request.mutable_patient()->set_local_id("A1");
    request.set_include_history(true);
    hie::v1::ListDirectivesResponse response;
    grpc::Status s = consent->ListDirectives(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::set<std::string> ids;
    for (const auto& d : response.directives()) ids.insert(d.directive_id());
    return ids;
  };
  size_t filed = 0;
  size_t authorized = 0;
  int port = StartDaemon("consent");
  ASSERT_GT(port, 0);
  for (int round = 0; round < kRounds; ++round) {
    RoundLog log;
    WriteUntilKilled("consent", port, round, write, &log);
    int after = port = Restart("consent");
    ASSERT_GT(after, 0) << "round " << round;
    std::set<std::string> present = directives(after);
    absl::MutexLock lock(&log.mu);
    for (const std::string& id : log.acknowledged) {
      if (id.find("-0-") == std::string::npos) {
        ++authorized;
        continue;
      }
      ++filed;
      ASSERT_TRUE(present.count(id))
          << "round " << round << ": acknowledged directive " << id << " lost";
    }
    ExpectAuditVerifies(after, round);
    if (HasFatalFailure()) return;
  }
  ASSERT_GT(filed, static_cast<size_t>(kRounds)) << "the writers barely wrote";
  std::cout << "[ crash    ] consent: " << kRounds << " kills, " << filed
            << " acknowledged directives present, " << authorized
            << " audited grants, chain verified after each\n";
}

}  // namespace
}  // namespace hie::testing
