// For ThreadSanitizer builds only, preloaded (LD_PRELOAD) into the processes under test.
//
// Debian's Abseil is a shared library built without TSan, and absl::Mutex synchronises
// with its own atomics and futexes, which TSan cannot see. Without help, every access
// that an absl::Mutex orders (most of hie's shared state, and gRPC's, whose mutexes are
// absl::Mutex) would be reported as a race. This library interposes the public
// absl::Mutex, CondVar and Notification entry points, calls the real ones, and tells
// TSan about the happens-before edges they create: release before an unlock (and before
// a wait gives the lock up), acquire after a lock (and after a wait takes it back).
// absl evaluates a Condition while it holds the mutex internally, in the waiter or in
// the thread that unlocks on the waiter's behalf, and it calls the condition's function
// directly from inside libabsl, where nothing can interpose. Those evaluations run
// between the edges this library can annotate, and the function (a lambda of hie's, on
// the waiter's stack) is instrumented, so TSan would see the unlocker read a waiter's
// stack that the woken waiter then reuses. Memory accesses made inside the real calls
// are therefore ignored: the only instrumented code they run is such a condition, which
// reads state its mutex guards.
//
// Built without instrumentation and with the TSan entry points weak, so that a process
// that is not TSan-instrumented (a shell, a tool a test runs) can load it harmlessly.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

extern "C" {
void __tsan_acquire(void* addr) __attribute__((weak));
void __tsan_release(void* addr) __attribute__((weak));
void AnnotateIgnoreReadsBegin(const char* file, int line) __attribute__((weak));
void AnnotateIgnoreReadsEnd(const char* file, int line) __attribute__((weak));
void AnnotateIgnoreWritesBegin(const char* file, int line) __attribute__((weak));
void AnnotateIgnoreWritesEnd(const char* file, int line) __attribute__((weak));
}

namespace {

void Acquire(const void* addr) {
  if (__tsan_acquire != nullptr) __tsan_acquire(const_cast<void*>(addr));
}
void Release(const void* addr) {
  if (__tsan_release != nullptr) __tsan_release(const_cast<void*>(addr));
}

// Memory accesses this thread makes while an object lives are not checked: the scope
// of a real absl call, whose only instrumented code is a Condition's function.
class IgnoringAccesses {
 public:
  IgnoringAccesses() {
    if (AnnotateIgnoreReadsBegin != nullptr) AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
    if (AnnotateIgnoreWritesBegin != nullptr) AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  }
  ~IgnoringAccesses() {
    if (AnnotateIgnoreWritesEnd != nullptr) AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    if (AnnotateIgnoreReadsEnd != nullptr) AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
  }
  IgnoringAccesses(const IgnoringAccesses&) = delete;
  IgnoringAccesses& operator=(const IgnoringAccesses&) = delete;
};

template <typename Fn>
Fn Real(const char* mangled) {
  void* fn = dlsym(RTLD_NEXT, mangled);
  if (fn == nullptr) {
    std::fprintf(stderr, "absl_sync_annotations: %s not found\n", mangled);
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

#define HIE_REAL(type, mangled)                 \
  static const auto real = Real<type>(mangled); \
  (void)0

}  // namespace

namespace absl {

void Mutex::Lock() {
  HIE_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  real(this);
  Acquire(this);
}
void Mutex::ReaderLock() {
  HIE_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  real(this);
  Acquire(this);
}
void Mutex::Unlock() {
  HIE_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  Release(this);
  IgnoringAccesses ignoring;
  real(this);
}
void Mutex::ReaderUnlock() {
  HIE_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  Release(this);
  IgnoringAccesses ignoring;
  real(this);
}
bool Mutex::TryLock() {
  HIE_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  bool locked = real(this);
  if (locked) Acquire(this);
  return locked;
}
bool Mutex::ReaderTryLock() {
  HIE_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  bool locked = real(this);
  if (locked) Acquire(this);
  return locked;
}
void Mutex::LockWhen(const Condition& cond) {
  HIE_REAL(void (*)(Mutex*, const Condition&), "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  IgnoringAccesses ignoring;
  real(this, cond);
  Acquire(this);
}
void Mutex::ReaderLockWhen(const Condition& cond) {
  HIE_REAL(void (*)(Mutex*, const Condition&),
           "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  IgnoringAccesses ignoring;
  real(this, cond);
  Acquire(this);
}
bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  HIE_REAL(bool (*)(Mutex*, const Condition&, Duration),
           "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  IgnoringAccesses ignoring;
  bool result = real(this, cond, timeout);
  Acquire(this);
  return result;
}
bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  HIE_REAL(bool (*)(Mutex*, const Condition&, Time),
           "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  IgnoringAccesses ignoring;
  bool result = real(this, cond, deadline);
  Acquire(this);
  return result;
}
bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  HIE_REAL(bool (*)(Mutex*, const Condition&, Duration),
           "_ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  IgnoringAccesses ignoring;
  bool result = real(this, cond, timeout);
  Acquire(this);
  return result;
}
bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  HIE_REAL(bool (*)(Mutex*, const Condition&, Time),
           "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  IgnoringAccesses ignoring;
  bool result = real(this, cond, deadline);
  Acquire(this);
  return result;
}
void Mutex::Await(const Condition& cond) {
  HIE_REAL(void (*)(Mutex*, const Condition&), "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  Release(this);
  IgnoringAccesses ignoring;
  real(this, cond);
  Acquire(this);
}
bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  HIE_REAL(bool (*)(Mutex*, const Condition&, Duration),
           "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Release(this);
  IgnoringAccesses ignoring;
  bool result = real(this, cond, timeout);
  Acquire(this);
  return result;
}
bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  HIE_REAL(bool (*)(Mutex*, const Condition&, Time),
           "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Release(this);
  IgnoringAccesses ignoring;
  bool result = real(this, cond, deadline);
  Acquire(this);
  return result;
}

void CondVar::Wait(Mutex* mu) {
  HIE_REAL(void (*)(CondVar*, Mutex*), "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  Release(mu);
  real(this, mu);
  Acquire(mu);
}
bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  HIE_REAL(bool (*)(CondVar*, Mutex*, Duration),
           "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Release(mu);
  bool result = real(this, mu, timeout);
  Acquire(mu);
  return result;
}
bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  HIE_REAL(bool (*)(CondVar*, Mutex*, Time),
           "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Release(mu);
  bool result = real(this, mu, deadline);
  Acquire(mu);
  return result;
}

void Notification::Notify() {
  HIE_REAL(void (*)(Notification*), "_ZN4absl7debian312Notification6NotifyEv");
  Release(this);
  real(this);
}
void Notification::WaitForNotification() const {
  HIE_REAL(void (*)(const Notification*), "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  real(this);
  Acquire(this);
}
bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  HIE_REAL(bool (*)(const Notification*, Duration),
           "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  bool result = real(this, timeout);
  Acquire(this);
  return result;
}
bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  HIE_REAL(bool (*)(const Notification*, Time),
           "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  bool result = real(this, deadline);
  Acquire(this);
  return result;
}

}  // namespace absl
