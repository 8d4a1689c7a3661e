// A tampered audit log: three entries are appended to an in-memory store, then the
// input rewrites what was stored (the first byte picks a record and what to do to it:
// replace its value, delete it, or add the rest of the input as a new key beside it)
// before the log is opened again, verified and queried. Properties checked: opening
// fails only with DataLoss; any change to an entry (its bytes, its absence, a record
// added among the entries) is reported by Verify; a query either answers or reports the
// store as unreadable.
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>

#include "common/audit/audit_log.h"
#include "common/store/key_codec.h"
#include "common/time/clock.h"
#include "tests/fuzz/memory_kv_store.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  hie::fuzz::MemoryKvStore kv;
  {
    auto log = hie::audit::AuditLog::Open(&kv, hie::Clock::Real());
    Check(log.ok());
    for (int i = 0; i < 3; ++i) {
      hie::v1::AuditEntry entry;
      entry.set_action(hie::v1::AUDIT_ACTION_DISCLOSE);
      entry.mutable_patient()->set_org_id("org-a");
      entry.mutable_patient()->set_local_id(i == 1 ? "p2" : "p1");
      entry.set_euid("E1");
      Check((*log)->Append(entry).ok());
    }
  }
  const std::string entries_prefix =
      hie::store::KeyBuilder().AddString("audit").AddString("e").Build();
  auto contents = kv.Contents();
  auto target = std::next(contents.begin(), data[0] % contents.size());
  int mode = (data[0] / contents.size()) % 3;
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  bool entries_changed = false;
  bool is_entry = target->first.rfind(entries_prefix, 0) == 0;
  if (mode == 0) {
    Check(kv.Put(target->first, rest).ok());
    entries_changed = is_entry && rest != target->second;
  } else if (mode == 1) {
    Check(kv.Delete(target->first).ok());
    entries_changed = is_entry;
  } else {
    std::string key = target->first + rest;
    if (contents.count(key) == 0) {
      Check(kv.Put(key, rest).ok());
      entries_changed = is_entry;
    }
  }

  auto log = hie::audit::AuditLog::Open(&kv, hie::Clock::Real());
  if (!log.ok()) {
    Check(absl::IsDataLoss(log.status()));
    return 0;
  }
  auto report = (*log)->Verify();
  Check(report.ok() || absl::IsDataLoss(report.status()));
  if (report.ok() && entries_changed) Check(!report->ok);
  if (report.ok() && !report->ok) Check(!report->problem.empty() && !report->detail.empty());
  for (const auto& key :
       {hie::audit::PatientKey::Local("org-a", "p1"), hie::audit::PatientKey::Euid("E1")}) {
    auto entries = (*log)->QueryByPatient(key);
    Check(entries.ok() || absl::IsDataLoss(entries.status()) || absl::IsNotFound(entries.status()));
  }
  return 0;
}
