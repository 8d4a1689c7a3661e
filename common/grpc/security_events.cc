#include "common/grpc/security_events.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace hie {
namespace {

std::string Key(const SecurityEvent& e) {
  return absl::StrCat(static_cast<int>(e.kind), "\x1f", e.peer_address, "\x1f", e.org_id, "\x1f",
                      e.serial_hex, "\x1f", e.method, "\x1f", e.reason);
}

std::string OverflowKey(SecurityEventKind kind) {
  return absl::StrCat(static_cast<int>(kind), "\x1f(overflow)");
}

std::string ForeignKey(SecurityEventKind kind) {
  return absl::StrCat(static_cast<int>(kind), "\x1f(foreign issuer)");
}

// What is kept of a certificate the exchange CA did not issue: nothing it names.
SecurityEvent Foreign(const SecurityEvent& e) {
  SecurityEvent out;
  out.kind = e.kind;
  out.peer_address = e.peer_address;
  out.method = e.method;
  out.reason = std::string(kForeignIssuerReason);
  out.foreign_issuer = true;
  return out;
}

// `s` cut to kMaxEventFieldBytes (marker included), at a UTF-8 character boundary.
void Cap(std::string& s, size_t max = kMaxEventFieldBytes) {
  if (s.size() <= max) return;
  size_t keep = max - (sizeof(kCutMarker) - 1);
  while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  s.resize(keep);
  s += kCutMarker;
}

}  // namespace

absl::string_view SecurityEventKindName(SecurityEventKind kind) {
  switch (kind) {
    case SecurityEventKind::kAuthentication:
      return "authentication";
    case SecurityEventKind::kAuthorization:
      return "authorization";
    case SecurityEventKind::kSecurityConfig:
      return "security configuration";
  }
  return "security";
}

std::string DescribeSecurityEvent(const SecurityEvent& e) {
  std::string who;
  if (!e.org_id.empty()) absl::StrAppend(&who, "org \"", e.org_id, "\"");
  if (!e.subject.empty())
    absl::StrAppend(&who, who.empty() ? "" : " ", "subject \"", e.subject, "\"");
  if (!e.serial_hex.empty()) absl::StrAppend(&who, who.empty() ? "" : " ", "serial ", e.serial_hex);
  if (!e.peer_address.empty()) absl::StrAppend(&who, who.empty() ? "" : " ", "at ", e.peer_address);
  if (who.empty()) who = "unidentified peer";
  return absl::StrCat(SecurityEventKindName(e.kind), " refused: ", who,
                      e.method.empty() ? "" : absl::StrCat(" calling ", e.method), ": ", e.reason);
}

SecurityEventRecorder::SecurityEventRecorder(SecurityEventRecorderOptions options)
    : options_(std::move(options)) {
  thread_ = std::thread([this] { Loop(); });
}

SecurityEventRecorder::~SecurityEventRecorder() { Stop(); }

void SecurityEventRecorder::SetWriter(Writer writer) {
  absl::MutexLock lock(&write_mu_);
  writer_ = std::move(writer);
  held_ = false;
}

void SecurityEventRecorder::HoldUntilWriter() {
  absl::MutexLock lock(&write_mu_);
  held_ = writer_ == nullptr;
}

void SecurityEventRecorder::Record(const SecurityEvent& original) {
  SecurityEvent event = original;
  for (std::string* field :
       {&event.peer_address, &event.org_id, &event.subject, &event.serial_hex, &event.method}) {
    Cap(*field);
  }
  Cap(event.reason, kMaxEventReasonBytes);
  absl::MutexLock lock(&mu_);
  switch (event.kind) {
    case SecurityEventKind::kAuthentication:
      ++counters_.authentication;
      break;
    case SecurityEventKind::kAuthorization:
      ++counters_.authorization;
      break;
    case SecurityEventKind::kSecurityConfig:
      ++counters_.security_config;
      break;
  }
  if (stop_) return;
  const absl::Time now = options_.clock->Now();
  if (event.foreign_issuer) {
    // One key per kind, not budgeted: the sender can mint any number of these.
    std::string key = ForeignKey(event.kind);
    auto it = slots_.find(key);
    if (it == slots_.end()) {
      SecurityEvent kept = Foreign(event);
      slots_.emplace(key, Slot{kept, now, 0, /*budgeted=*/false});
      queue_.push_back({std::move(kept), 1, false});
    } else {
      ++it->second.pending;
    }
    return;
  }
  const size_t kind = static_cast<size_t>(event.kind);
  std::string key = Key(event);
  auto it = slots_.find(key);
  if (it == slots_.end() && keys_of_kind_[kind] >= options_.max_keys) {
    ++counters_.overflowed;
    key = OverflowKey(event.kind);
    it = slots_.find(key);
    if (it == slots_.end()) {
      // The overflow key stands for many peers: keep only what they share.
      SecurityEvent shared;
      shared.kind = event.kind;
      shared.reason = absl::StrCat("more than ", options_.max_keys,
                                   " distinct refusals in one window, e.g. ", event.reason);
      it = slots_.emplace(key, Slot{std::move(shared), now, 0, /*budgeted=*/false}).first;
      queue_.push_back({it->second.first, 1, false});
      return;
    }
  }
  if (it == slots_.end()) {
    slots_.emplace(key, Slot{event, now, 0});
    ++keys_of_kind_[kind];
    queue_.push_back({event, 1, false});
    return;
  }
  ++it->second.pending;
}

std::deque<SecurityEventRecorder::Pending> SecurityEventRecorder::TakeWorkLocked(bool all) {
  const absl::Time now = options_.clock->Now();
  for (auto it = slots_.begin(); it != slots_.end();) {
    Slot& slot = it->second;
    if (!all && now < slot.window_start + options_.window) {
      ++it;
      continue;
    }
    if (slot.pending == 0) {
      if (slot.budgeted) --keys_of_kind_[static_cast<size_t>(slot.first.kind)];
      slots_.erase(it++);
      continue;
    }
    queue_.push_back({slot.first, slot.pending, true});
    slot.pending = 0;
    slot.window_start = now;
    ++it;
  }
  return std::exchange(queue_, {});
}

void SecurityEventRecorder::Write(std::deque<Pending> work) {
  if (work.empty()) return;
  uint64_t written = 0, failed = 0;
  for (const Pending& p : work) {
    std::string line = DescribeSecurityEvent(p.event);
    if (p.summary) line = absl::StrCat(line, " (", p.count, " more in the last window)");
    LogWarning(line);
    if (!writer_) continue;
    if (absl::Status s = writer_(p.event, p.count, p.summary); s.ok()) {
      ++written;
    } else {
      ++failed;
      LogError("cannot audit a security refusal: ", s.message());
    }
  }
  absl::MutexLock lock(&mu_);
  counters_.entries_written += written;
  counters_.entries_failed += failed;
}

void SecurityEventRecorder::Flush() {
  absl::MutexLock write_lock(&write_mu_);
  if (held_) return;
  std::deque<Pending> work;
  {
    absl::MutexLock lock(&mu_);
    work = TakeWorkLocked(/*all=*/false);
  }
  Write(std::move(work));
}

void SecurityEventRecorder::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock write_lock(&write_mu_);
  std::deque<Pending> work;
  {
    absl::MutexLock lock(&mu_);
    work = TakeWorkLocked(/*all=*/true);
  }
  Write(std::move(work));
  writer_ = nullptr;
}

SecurityEventCounters SecurityEventRecorder::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

void SecurityEventRecorder::Loop() {
  const absl::Duration tick = std::min(absl::Seconds(1), options_.window);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(this, &SecurityEventRecorder::ShouldWake), tick);
      if (stop_) return;
    }
    Flush();
  }
}

}  // namespace hie
