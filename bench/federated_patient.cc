#include "bench/federated_patient.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "proto/hie/v1/mpi.grpc.pb.h"

namespace hie::bench {

std::string PatientId(const std::string& org) { return "P-" + org; }

std::string Observation(const std::string& org, int i) {
  return absl::StrFormat(
      R"({"resourceType":"Observation","id":"%s-o%d","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"urn:uuid:p"},"effectiveDateTime":"%d-%02d-%02dT%02d:%02d:00Z","valueQuantity":{"value":%d,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"},"note":[{"text":"recorded at %s during a routine visit"}]})",
      org, i, 2000 + (org.back() - 'a'), 1 + i % 12, 1 + i % 28, i % 24, (i * 7) % 60, 50 + i % 60,
      org);
}

std::string PatientBundle(const std::string& org, int records) {
  std::string entries = absl::StrCat(
      R"({"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":")", PatientId(org),
      R"(","name":[{"family":"Oyelaran","given":["Jane"]}],"gender":"female","birthDate":"1984-06-02",)",
      R"("telecom":[{"system":"phone","value":"217-555-0143"}],"address":[{"line":["12 Main Street"],"city":"Springfield","postalCode":"62701"}]},"request":{"method":"PUT","url":"Patient"}})");
  for (int i = 1; i < records; ++i) {
    absl::StrAppend(&entries, R"(,{"fullUrl":"urn:uuid:o)", i, R"(","resource":)",
                    Observation(org, i), R"(,"request":{"method":"PUT","url":"Observation"}})");
  }
  return absl::StrCat(R"({"resourceType":"Bundle","type":"transaction","entry":[)", entries, "]}");
}

absl::StatusOr<FederatedPatient> StartNodesWithPatient(LocalExchange& exchange,
                                                       const std::vector<std::string>& orgs,
                                                       int records, const NodeOptions& requester) {
  FederatedPatient out;
  for (const auto& org : orgs) {
    auto port = exchange.StartNode(org, org == orgs.front() ? requester : NodeOptions{});
    if (!port.ok()) return port.status();
    out.ports[org] = *port;
    auto ingest = hie::v1::Ingest::NewStub(exchange.Channel("node-" + org, *port));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
    hie::v1::ImportResponse response;
    auto writer = ingest->Import(&context, &response);
    hie::v1::ImportRequest request;
    request.set_format(hie::v1::ImportRequest::FORMAT_JSON);
    request.set_data(PatientBundle(org, records));
    out.bytes_per_holder = request.data().size();
    writer->Write(request);
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    if (!s.ok() || response.accepted() != records) {
      return absl::InternalError(absl::StrCat("import at ", org, ": ", s.error_message(),
                                              " accepted ", response.accepted()));
    }
  }
  // Wait for the outboxes and the MPI to link every registration.
  auto mpi =
      hie::v1::MasterPatientIndex::NewStub(exchange.Channel("operator", exchange.mpi_port()));
  const int wanted = static_cast<int>(orgs.size());
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  int linked = 0;
  while (absl::Now() < deadline && linked < wanted) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    hie::v1::GetCrossReferenceRequest request;
    request.mutable_local()->set_org_id(orgs.front());
    request.mutable_local()->set_local_id(PatientId(orgs.front()));
    hie::v1::CrossReference xref;
    linked = 0;
    if (mpi->GetCrossReference(&context, request, &xref).ok()) {
      for (const auto& r : xref.registrations())
        linked += r.grade() == hie::v1::MATCH_GRADE_CERTAIN;
    }
    if (linked < wanted) absl::SleepFor(absl::Milliseconds(200));
  }
  if (linked < wanted) {
    return absl::DeadlineExceededError(
        absl::StrCat("only ", linked, " of ", wanted, " registrations linked"));
  }
  return out;
}

absl::StatusOr<QueryOutcome> QueryOnce(hie::v1::FederatedQuery::Stub& stub,
                                       const std::string& patient, int holders,
                                       std::string* bundle) {
  using SteadyClock = std::chrono::steady_clock;
  auto millis_since = [](SteadyClock::time_point start) {
    return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
  };
  const SteadyClock::time_point start = SteadyClock::now();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  hie::v1::QueryRequest request;
  request.set_local_patient_id(patient);
  request.set_purpose("TREAT");
  request.mutable_user()->set_user_id("bench");
  auto reader = stub.Query(&context, request);
  hie::v1::QueryEvent event;
  QueryOutcome out;
  int ok_holders = 0;
  int64_t bundle_bytes = 0;
  int64_t expected_bytes = -1;
  if (bundle != nullptr) bundle->clear();
  while (reader->Read(&event)) {
    if (event.has_bundle()) {
      if (bundle_bytes == 0) out.first_piece_millis = millis_since(start);
      bundle_bytes += static_cast<int64_t>(event.bundle().data().size());
      if (bundle != nullptr) *bundle += event.bundle().data();
    }
    if (event.has_holder() && !event.holder().local() &&
        event.holder().state() == hie::v1::HolderStatus::STATE_OK) {
      ++ok_holders;
    }
    if (event.has_result()) {
      out.entries = event.result().entries();
      expected_bytes = event.result().bundle_bytes();
    }
  }
  grpc::Status s = reader->Finish();
  out.millis = millis_since(start);
  if (!s.ok()) return absl::InternalError(absl::StrCat("query: ", s.error_message()));
  if (ok_holders != holders || bundle_bytes != expected_bytes) {
    return absl::DataLossError(absl::StrCat("query: ", ok_holders, " of ", holders,
                                            " holders answered, ", bundle_bytes, " of ",
                                            expected_bytes, " bytes of the Bundle arrived"));
  }
  return out;
}

}  // namespace hie::bench
