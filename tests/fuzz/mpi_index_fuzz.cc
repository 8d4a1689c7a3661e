// The MPI's index reading back what it stored, after the bytes were changed: three
// registrations are made in an in-memory store, then the input rewrites one stored
// record (the first byte picks the record and whether to replace its value, delete it,
// or add the rest of the input as a new key beside it) before the index is opened
// again, asked for every cross-reference and given one more registration. A replaced
// registration is read as whatever demographics the bytes decode to, so arbitrary
// stored people go through preparation and matching too. Properties checked: opening
// fails only with DataLoss; lookups answer, or fail with NotFound or DataLoss; a
// registration after a successful open succeeds or fails with DataLoss.
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>

#include "common/time/clock.h"
#include "google/protobuf/stubs/logging.h"
#include "mpi/index/patient_index.h"
#include "tests/fuzz/memory_kv_store.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Acceptable(const absl::Status& s) {
  return s.ok() || absl::IsNotFound(s) || absl::IsDataLoss(s);
}

hie::mpi::Person Someone(const char* given, const char* family, int day) {
  hie::mpi::Person p;
  p.given = {given};
  p.family = family;
  p.birth_date = {1980, 5, day};
  p.postal_code = "4000";
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  // Protobuf logs every string field that is not UTF-8; the index's DataLoss says it.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  hie::fuzz::MemoryKvStore kv;
  {
    auto index = hie::mpi::PatientIndex::Open(&kv, hie::Clock::Real(), {});
    Check(index.ok());
    Check((*index)->Register("org-a", "p1", Someone("ann", "lee", 3)).ok());
    Check((*index)->Register("org-b", "q1", Someone("anne", "lee", 3)).ok());
    Check((*index)->Register("org-a", "p2", Someone("bob", "marsh", 9)).ok());
  }
  auto contents = kv.Contents();
  auto target = std::next(contents.begin(), data[0] % contents.size());
  int mode = (data[0] / contents.size()) % 3;
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode == 0) {
    Check(kv.Put(target->first, rest).ok());
  } else if (mode == 1) {
    Check(kv.Delete(target->first).ok());
  } else {
    Check(kv.Put(target->first + rest, rest).ok());
  }

  auto index = hie::mpi::PatientIndex::Open(&kv, hie::Clock::Real(), {});
  if (!index.ok()) {
    Check(absl::IsDataLoss(index.status()));
    return 0;
  }
  for (const auto& [org, local] : {std::pair{"org-a", "p1"}, {"org-b", "q1"}, {"org-a", "p2"}}) {
    auto xref = (*index)->CrossReference(org, local);
    Check(Acceptable(xref.status()));
    if (xref.ok()) Check(Acceptable((*index)->CrossReferenceByEuid(xref->euid).status()));
    Check(Acceptable((*index)->GetPerson(org, local).status()));
  }
  auto again = (*index)->Register("org-c", "r1", Someone("ann", "lee", 3));
  Check(again.ok() || absl::IsDataLoss(again.status()));
  return 0;
}
