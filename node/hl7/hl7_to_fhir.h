// HL7 v2 to FHIR R4, after the HL7 v2-to-FHIR mapping guide where it speaks, as a
// transaction Bundle for the node's FHIR ingest (so that HL7 feeds are checked,
// labelled, stored and registered with the MPI exactly as FHIR imports are).
//
//   ADT^A01 A04 A05 A08 A28 A31 (and A02 A03 A06 A07 A11 A13, whose PV1 moves the visit)
//       PID -> Patient (PID-3 identifiers with their assigning authority, names,
//       birth date, sex, addresses, phones, death, multiple birth), NK1 -> Patient.contact,
//       PV1 -> Encounter, AL1 -> AllergyIntolerance, DG1 -> Condition, OBX -> Observation.
//   ADT^A40 (and the retired A34): each PID/MRG pair merges the patient MRG-1 names into
//       the one PID names: the survivor's Patient gains link "replaces", the retired
//       Patient becomes inactive with link "replaced-by"; `merges` tells the store to move
//       the retired patient's records.
//   ORU^R01: PID -> Patient, each OBR -> DiagnosticReport, each OBX -> Observation (value
//       by OBX-2 with units, reference range, interpretation, status), NTE -> note.
// Other message types and events are refused (AR, code 200 or 201); Z-segments and
// segments not listed are ignored.
//
// Resource ids are stable, so a resent or corrected message updates what it made:
// a Patient's id is its PID-3 identifier (the first of type MR, else the first) when that
// is a valid FHIR id, else "hl7-" and a hash of it; other ids hash what identifies the
// record (visit number, order number and OBX position, code and date).
#ifndef HIE_NODE_HL7_HL7_TO_FHIR_H_
#define HIE_NODE_HL7_HL7_TO_FHIR_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/hl7/hl7_message.h"

namespace hie::node::hl7 {

struct Hl7Merge {
  std::string retired_id;
  std::string survivor_id;
};

struct Hl7Conversion {
  // A FHIR R4 transaction Bundle (entries PUT Type/id).
  std::string bundle_json;
  // Which segment each Bundle entry came from ("PID", sequence), for error reports.
  struct Source {
    std::string segment;
    int sequence = 1;
  };
  std::vector<Source> entry_sources;
  std::vector<Hl7Merge> merges;
  // The Patient ids the message is about (survivors included).
  std::vector<std::string> patient_ids;
  // What was left out (an OBX without OBX-3, say): acknowledged AA with an ERR of
  // severity W each.
  std::vector<Hl7Issue> warnings;
};

struct Hl7MapOptions {
  // The survivor of a patient id retired by an earlier merge, or "" (may be empty:
  // no merges known).
  std::function<std::string(const std::string& patient_id)> survivor_of;
};

// Errors: InvalidArgument with `issue` set (unsupported type or event: reject; a
// required segment or field missing: error).
absl::StatusOr<Hl7Conversion> ConvertToFhir(const Hl7Message& message,
                                            const Hl7MapOptions& options = {},
                                            Hl7Issue* issue = nullptr);

// The node's Patient id for an identifier value (see above).
std::string PatientIdFor(const std::string& identifier_value);

// An HL7 DTM/DT ("20190713", "198908181126+0215") as a FHIR date or dateTime, or ""
// when it is not a valid one. A time without a zone is kept to the day (FHIR requires
// a zone with a time, and guessing one would move the event).
std::string FhirDateTime(const std::string& hl7);

}  // namespace hie::node::hl7

#endif  // HIE_NODE_HL7_HL7_TO_FHIR_H_
