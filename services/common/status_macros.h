// Early-return macros for absl::Status and absl::StatusOr<T>.
//
// Abseil 20220623 (the version Debian 12 ships) has no status macros, so
// Frontdoor defines its own. Both macros may be used in any function whose
// return type can be constructed from a non-OK absl::Status: absl::Status
// itself or absl::StatusOr<U> for any U.
//
//   absl::Status Store(const Referral& r) {
//     FRONTDOOR_RETURN_IF_ERROR(Validate(r));
//     FRONTDOOR_ASSIGN_OR_RETURN(std::string key, KeyFor(r));
//     ...
//   }

#ifndef FRONTDOOR_SERVICES_COMMON_STATUS_MACROS_H_
#define FRONTDOOR_SERVICES_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace frontdoor {
namespace status_macros_internal {

// Returns the status of `status` itself; lets FRONTDOOR_RETURN_IF_ERROR take
// either an absl::Status or an absl::StatusOr<T>.
inline absl::Status AsStatus(const absl::Status& status) { return status; }
inline absl::Status AsStatus(absl::Status&& status) { return std::move(status); }

template <typename T>
absl::Status AsStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}
template <typename T>
absl::Status AsStatus(absl::StatusOr<T>&& status_or) {
  return std::move(status_or).status();
}

}  // namespace status_macros_internal
}  // namespace frontdoor

#define FRONTDOOR_STATUS_MACROS_CONCAT_INNER_(x, y) x##y
#define FRONTDOOR_STATUS_MACROS_CONCAT_(x, y) \
  FRONTDOOR_STATUS_MACROS_CONCAT_INNER_(x, y)

// Evaluates `expr` (an absl::Status or absl::StatusOr<T>) exactly once and,
// if it is not OK, returns its status from the enclosing function unchanged.
// A statement: use it as `FRONTDOOR_RETURN_IF_ERROR(expr);`.
#define FRONTDOOR_RETURN_IF_ERROR(expr)                                      \
  do {                                                                       \
    ::absl::Status frontdoor_status_macros_status_ =                         \
        ::frontdoor::status_macros_internal::AsStatus(expr);                 \
    if (ABSL_PREDICT_FALSE(!frontdoor_status_macros_status_.ok())) {         \
      return frontdoor_status_macros_status_;                                \
    }                                                                        \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>) exactly once. If it is not OK,
// returns its status from the enclosing function; otherwise moves its value
// into `lhs`, which is either an existing lvalue or a declaration such as
// `std::string name` or `auto x`.
//
// Because it expands to more than one statement, it cannot be the body of an
// unbraced if/else/for, and `lhs` must not contain an unparenthesised comma
// (declare `std::pair<A, B> p;` first, then assign to `p`).
#define FRONTDOOR_ASSIGN_OR_RETURN(lhs, rexpr)                        \
  FRONTDOOR_ASSIGN_OR_RETURN_IMPL_(                                   \
      FRONTDOOR_STATUS_MACROS_CONCAT_(frontdoor_statusor_, __LINE__), \
      lhs, rexpr)

#define FRONTDOOR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                     \
  if (ABSL_PREDICT_FALSE(!statusor.ok())) {                    \
    return std::move(statusor).status();                       \
  }                                                            \
  lhs = *std::move(statusor)

#endif  // FRONTDOOR_SERVICES_COMMON_STATUS_MACROS_H_
