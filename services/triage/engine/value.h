#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_VALUE_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_VALUE_H_

#include <bitset>
#include <limits>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace frontdoor::rules {

// The most distinct Referral fields one rule set may read. Each gets a bit
// in a MissingMask so that every undetermined row can name its missing inputs
// without allocating.
inline constexpr int kMaxFields = 128;  // more than the Referral schema has leaves
using MissingMask = std::bitset<kMaxFields>;

inline constexpr double kInf = std::numeric_limits<double>::infinity();

enum class ValueType { kNumber, kBool, kEnum, kText, kDate, kTimestamp };

struct TypeInfo {
  ValueType type = ValueType::kNumber;
  const google::protobuf::EnumDescriptor* enum_type = nullptr;  // kEnum only
};

// "number", "bool", "Pathway", ...
std::string TypeName(const TypeInfo& t);

// A value during evaluation. Numbers, bools (0/1), enums (their number),
// dates (days since 1970-01-01) and timestamps (seconds) are all held as a
// closed interval [lo, hi]: exact values have lo == hi; a value known only
// within bounds (an incomplete score) has lo < hi. Text points into the
// referral being evaluated and is never copied.
struct Value {
  bool present = false;
  double lo = 0;
  double hi = 0;
  absl::string_view text;
  // Inputs whose absence made this value missing or uncertain.
  MissingMask missing;

  bool exact() const { return present && lo == hi; }
  static Value Number(double v) {
    Value x;
    x.present = true;
    x.lo = x.hi = v;
    return x;
  }
  static Value Range(double lo, double hi) {
    Value x;
    x.present = true;
    x.lo = lo;
    x.hi = hi;
    return x;
  }
};

// Three-valued result of testing a cell: undetermined when the inputs it
// needs are missing or uncertain.
enum class Tri : unsigned char { kFail = 0, kMatch = 1, kUnknown = 2 };

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_VALUE_H_
