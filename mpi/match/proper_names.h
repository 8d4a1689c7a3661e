#ifndef HIE_MPI_MATCH_PROPER_NAMES_H_
#define HIE_MPI_MATCH_PROPER_NAMES_H_

#include <cstddef>

namespace hie::mpi::internal {

// The proper names of Debian's English word list (wamerican), lower case and sorted;
// generated at build time by cmake/proper_names.cmake. Read through IsProperName
// (mpi/match/text.h).
extern const char* const kProperNames[];
extern const size_t kProperNameCount;

}  // namespace hie::mpi::internal

#endif  // HIE_MPI_MATCH_PROPER_NAMES_H_
