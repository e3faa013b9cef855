// gmock matchers and assertion macros for absl::Status and absl::StatusOr<T>.
// For test code only (needs gmock; frontdoor_cc_test links it).
//
// GoogleTest 1.12 and Abseil 20220623 (Debian 12) have no status matchers,
// so Frontdoor defines its own:
//
//   EXPECT_THAT(store.Put(r), frontdoor::IsOk());
//   EXPECT_THAT(ParseRuleSet(dir), frontdoor::StatusIs(
//                   absl::StatusCode::kInvalidArgument));
//   EXPECT_THAT(Get(id), frontdoor::StatusIs(absl::StatusCode::kNotFound,
//                                            testing::HasSubstr("ref-1")));
//   FRONTDOOR_ASSERT_OK_AND_ASSIGN(Referral r, Get(id));

#ifndef FRONTDOOR_SERVICES_COMMON_TEST_UTIL_H_
#define FRONTDOOR_SERVICES_COMMON_TEST_UTIL_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/status_macros.h"

namespace frontdoor {
namespace test_util_internal {

// The status of an absl::Status or absl::StatusOr<T>, so that one matcher
// serves both.
inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace test_util_internal

// Matches an absl::Status or absl::StatusOr<T> that is OK. On a mismatch the
// failure message shows the status.
MATCHER(IsOk, negation ? "is not OK" : "is OK") {
  const absl::Status& status = test_util_internal::GetStatus(arg);
  if (!status.ok()) *result_listener << "whose status is " << status;
  return status.ok();
}

// Matches an absl::Status or absl::StatusOr<T> whose code is `code` (an
// absl::StatusCode), whatever its message.
MATCHER_P(StatusIs, code,
          std::string(negation ? "does not have" : "has") + " status code " +
              absl::StatusCodeToString(code)) {
  const absl::Status& status = test_util_internal::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code;
}

// Matches an absl::Status or absl::StatusOr<T> whose code is `code` and
// whose message matches `message_matcher` (a std::string matcher or value).
MATCHER_P2(StatusIs, code, message_matcher,
           std::string(negation ? "does not have" : "has") + " status code " +
               absl::StatusCodeToString(code) + " and a message that " +
               ::testing::DescribeMatcher<std::string>(message_matcher,
                                                       negation)) {
  const absl::Status& status = test_util_internal::GetStatus(arg);
  *result_listener << "whose status is " << status;
  if (status.code() != code) return false;
  return ::testing::Matches(::testing::SafeMatcherCast<const std::string&>(
      message_matcher))(std::string(status.message()));
}

}  // namespace frontdoor

// Fails the test (EXPECT_) or the test and the function (ASSERT_) unless
// `expr`, an absl::Status or absl::StatusOr<T>, is OK.
#define FRONTDOOR_EXPECT_OK(expr) EXPECT_THAT((expr), ::frontdoor::IsOk())
#define FRONTDOOR_ASSERT_OK(expr) ASSERT_THAT((expr), ::frontdoor::IsOk())

// Evaluates `rexpr` (an absl::StatusOr<T>) once; fails the test and returns
// from the enclosing void function unless it is OK, otherwise moves the
// value into `lhs` (an lvalue or a declaration, as FRONTDOOR_ASSIGN_OR_RETURN).
#define FRONTDOOR_ASSERT_OK_AND_ASSIGN(lhs, rexpr)                    \
  FRONTDOOR_ASSERT_OK_AND_ASSIGN_IMPL_(                               \
      FRONTDOOR_STATUS_MACROS_CONCAT_(frontdoor_statusor_, __LINE__), \
      lhs, rexpr)

#define FRONTDOOR_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                         \
  ASSERT_THAT(statusor, ::frontdoor::IsOk());                      \
  lhs = *std::move(statusor)

#endif  // FRONTDOOR_SERVICES_COMMON_TEST_UTIL_H_
