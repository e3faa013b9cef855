#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_EXPR_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_EXPR_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/triage/engine/value.h"

namespace frontdoor::rules {

// A compiled output expression (`= floor(days_between(a, b) / 365.25)`).
// Immutable after Parse; Evaluate is const, allocation-free and thread-safe.
class Expr {
 public:
  // Resolves an identifier to a value slot and its type, or an error.
  using Resolver = std::function<absl::StatusOr<int>(absl::string_view name,
                                                     TypeInfo* type)>;

  // Parses `text` (without the leading '='). On error `*error_offset` is the
  // 0-based offset of the problem in `text`.
  static absl::StatusOr<Expr> Parse(absl::string_view text, const Resolver& resolve,
                                    int* error_offset);

  // The result type: kNumber or kBool.
  ValueType type() const { return nodes_[root_].type; }
  // Slots read, for dependency ordering.
  const std::vector<int>& slots() const { return slots_; }
  std::string ToString() const { return text_; }

  // Missing operands give a missing result (with their missing masks);
  // uncertain numbers propagate as ranges.
  Value Evaluate(const Value* slots, const absl::TimeZone& tz) const;

  enum class Op : unsigned char {
    kConst, kSlot, kNeg, kAdd, kSub, kMul, kDiv, kLt, kLe, kGt, kGe, kEq, kNe,
    kAnd, kOr, kNot, kFloor, kCeil, kAbs, kMin, kMax, kDaysBetween, kYearsBetween, kMonthsBetween,
    kLocalMinuteOfDay, kLocalWeekday, kNhsNumberValid
  };
  struct Node {
    Op op = Op::kConst;
    ValueType type = ValueType::kNumber;
    ValueType slot_type = ValueType::kNumber;  // kSlot: the slot's type
    double number = 0;
    int slot = -1;
    int a = -1, b = -1;
  };

 private:
  Value Eval(int n, const Value* slots, const absl::TimeZone& tz) const;

  std::vector<Node> nodes_;
  int root_ = 0;
  std::vector<int> slots_;
  std::string text_;
  friend class ExprParser;
};

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_EXPR_H_
