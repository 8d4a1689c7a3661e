// The devnet's sample patients: a few people spread over three practices the way care
// is spread (a GP, a hospital, a specialist), each practice's registration typed a
// little differently, with one patient who opted out and one with substance-use records
// the policy withholds. Generated, not copied: no real person, nothing committed.
#ifndef HIE_CLI_SAMPLES_H_
#define HIE_CLI_SAMPLES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace hie::cli {

struct SampleBundle {
  std::string org;       // "org-a"
  std::string local_id;  // the patient's id at that practice
  std::string patient;   // a display name, for the summary
  std::string json;      // a FHIR R4 transaction Bundle
};

struct SamplePatient {
  std::string name;
  std::string story;                                               // what it shows
  std::vector<std::pair<std::string, std::string>> registrations;  // org, local id
  // A FHIR Consent to file at the first registration's practice, or empty.
  std::string consent_json;
};

struct SampleSet {
  std::vector<SamplePatient> patients;
  std::vector<SampleBundle> bundles;
};

// The set for `orgs` practices (at least 1; the spread uses up to three).
SampleSet MakeSamples(const std::vector<std::string>& orgs);

// Adds one Synthea patient bundle (a transaction with urn:uuid fullUrls) to `set`, its
// records spread over the practices by encounter: ambulatory and wellness visits at the
// GP (orgs[0]), emergency and inpatient stays at the hospital (orgs[1]), the rest at the
// specialist (orgs[2]); records without an encounter stay with the GP; providers and
// organisations go to every practice. Each practice registers the patient under its own
// id, the hospital without the identifiers and the specialist without the phone.
// References to records another practice holds become relative (Type/id). Errors:
// InvalidArgument if the bundle has no Patient.
absl::Status AddSyntheaPatient(const std::string& bundle_json, const std::vector<std::string>& orgs,
                               SampleSet* set);

}  // namespace hie::cli

#endif  // HIE_CLI_SAMPLES_H_
