// Status propagation macros. Debian's Abseil (20220623) ships none, so they live here once.
//
//   HIE_RETURN_IF_ERROR(expr);          // returns the status if !ok()
//   HIE_ASSIGN_OR_RETURN(auto x, expr); // unwraps a StatusOr or returns its status
#ifndef HIE_COMMON_STATUS_STATUS_MACROS_H_
#define HIE_COMMON_STATUS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#define HIE_STATUS_CONCAT_INNER_(a, b) a##b
#define HIE_STATUS_CONCAT_(a, b) HIE_STATUS_CONCAT_INNER_(a, b)

#define HIE_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status hie_status_ = (expr);       \
    if (!hie_status_.ok()) return hie_status_; \
  } while (false)

#define HIE_ASSIGN_OR_RETURN(lhs, expr) \
  HIE_ASSIGN_OR_RETURN_IMPL_(HIE_STATUS_CONCAT_(hie_statusor_, __LINE__), lhs, expr)

#define HIE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)    \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace hie {

// Returns `status` with `context + ": "` prepended to its message; the code is kept.
// An OK status is returned unchanged.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace hie

#endif  // HIE_COMMON_STATUS_STATUS_MACROS_H_
