#include "services/common/status_macros.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/test_util.h"

namespace frontdoor {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<int> Half(int n) {
  if (n % 2 != 0) return absl::InvalidArgumentError("odd");
  return n / 2;
}

absl::Status CheckEven(int n) {
  FRONTDOOR_RETURN_IF_ERROR(Half(n));
  return absl::OkStatus();
}

absl::Status Forward(absl::Status s, int* reached) {
  FRONTDOOR_RETURN_IF_ERROR(s);
  ++*reached;
  return absl::OkStatus();
}

absl::StatusOr<int> Quarter(int n) {
  FRONTDOOR_ASSIGN_OR_RETURN(int half, Half(n));
  FRONTDOOR_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::StatusOr<std::unique_ptr<int>> Boxed(int n) {
  if (n < 0) return absl::OutOfRangeError("negative");
  return std::make_unique<int>(n);
}

absl::Status AssignExisting(int n, int* out) {
  FRONTDOOR_ASSIGN_OR_RETURN(*out, Half(n));
  return absl::OkStatus();
}

TEST(ReturnIfError, PassesOkThrough) {
  int reached = 0;
  EXPECT_THAT(Forward(absl::OkStatus(), &reached), IsOk());
  EXPECT_EQ(reached, 1);
}

TEST(ReturnIfError, ReturnsTheErrorUnchanged) {
  int reached = 0;
  absl::Status s = Forward(absl::NotFoundError("gone"), &reached);
  EXPECT_EQ(s, absl::NotFoundError("gone"));
  EXPECT_EQ(reached, 0);
}

TEST(ReturnIfError, TakesStatusOr) {
  EXPECT_THAT(CheckEven(4), IsOk());
  EXPECT_THAT(CheckEven(3), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ReturnIfError, EvaluatesOnce) {
  int calls = 0;
  auto f = [&]() -> absl::Status {
    FRONTDOOR_RETURN_IF_ERROR((++calls, absl::OkStatus()));
    return absl::OkStatus();
  };
  EXPECT_THAT(f(), IsOk());
  EXPECT_EQ(calls, 1);
}

TEST(AssignOrReturn, AssignsValues) {
  absl::StatusOr<int> q = Quarter(12);
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(*q, 3);
}

TEST(AssignOrReturn, ReturnsFirstError) {
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kInvalidArgument, "odd"));
  EXPECT_THAT(Quarter(5), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AssignOrReturn, MovesMoveOnlyValues) {
  auto f = [](int n) -> absl::StatusOr<int> {
    FRONTDOOR_ASSIGN_OR_RETURN(std::unique_ptr<int> p, Boxed(n));
    return *p + 1;
  };
  EXPECT_THAT(f(1), IsOk());
  EXPECT_EQ(*f(1), 2);
  EXPECT_THAT(f(-1), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(AssignOrReturn, AssignsToExistingLvalue) {
  int out = 0;
  EXPECT_THAT(AssignExisting(8, &out), IsOk());
  EXPECT_EQ(out, 4);
  EXPECT_THAT(AssignExisting(7, &out), Not(IsOk()));
  EXPECT_EQ(out, 4);
}

TEST(Matchers, DescribeMismatches) {
  EXPECT_THAT(absl::OkStatus(), Not(StatusIs(absl::StatusCode::kNotFound)));
  EXPECT_THAT(absl::NotFoundError("ref-1 not found"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("ref-1")));
  EXPECT_THAT(absl::NotFoundError("ref-1 not found"),
              Not(StatusIs(absl::StatusCode::kNotFound, HasSubstr("ref-2"))));
  EXPECT_EQ(::testing::DescribeMatcher<absl::Status>(IsOk()), "is OK");
  EXPECT_EQ(::testing::DescribeMatcher<absl::Status>(
                StatusIs(absl::StatusCode::kNotFound)),
            "has status code NOT_FOUND");
}

TEST(Matchers, AssertOkAndAssign) {
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<int> p, Boxed(5));
  EXPECT_EQ(*p, 5);
  FRONTDOOR_EXPECT_OK(Half(2));
  FRONTDOOR_ASSERT_OK(absl::OkStatus());
}

}  // namespace
}  // namespace frontdoor
