// A FHIR R4 Patient as the MPI's demographics: names, birth date, sex, addresses,
// phones and e-mail, identifiers, multiple birth and death.
#ifndef HIE_NODE_DOMAIN_PATIENT_DEMOGRAPHICS_H_
#define HIE_NODE_DOMAIN_PATIENT_DEMOGRAPHICS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/hie/v1/demographics.pb.h"

namespace hie::node {

// Errors: InvalidArgument if the JSON is not a Patient.
absl::StatusOr<hie::v1::Demographics> DemographicsFromFhirPatient(absl::string_view json);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_PATIENT_DEMOGRAPHICS_H_
