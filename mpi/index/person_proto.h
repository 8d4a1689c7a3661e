// Conversion between the contract's demographics and the engine's Person.
#ifndef HIE_MPI_INDEX_PERSON_PROTO_H_
#define HIE_MPI_INDEX_PERSON_PROTO_H_

#include "mpi/match/person.h"
#include "proto/hie/v1/demographics.pb.h"

namespace hie::mpi {

// Current names (no period end, not OLD/MAIDEN) give the given and family names; old
// and maiden names become former family names. Home (or the first) address and every
// phone are kept.
Person PersonFromDemographics(const hie::v1::Demographics& demographics);
hie::v1::Demographics DemographicsFromPerson(const Person& person);

}  // namespace hie::mpi

#endif  // HIE_MPI_INDEX_PERSON_PROTO_H_
