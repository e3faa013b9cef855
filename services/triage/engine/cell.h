#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_CELL_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_CELL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/triage/engine/value.h"

namespace frontdoor::rules {

// An interval of the real line; ends may be open and infinite.
struct Interval {
  double lo = -kInf;
  double hi = kInf;
  bool lo_open = true;
  bool hi_open = true;

  bool Contains(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
};

// A parsed input cell (a DMN-style unary test). Enum values and bools are
// held as numbers (enum number, 0/1) so every non-text test is a union of
// intervals.
struct CellTest {
  enum class Kind { kAny, kMissing, kPresent, kSet };
  Kind kind = Kind::kAny;
  bool negated = false;          // not(...): a present value outside the set
  bool accepts_missing = false;  // the list names `missing`
  std::vector<Interval> intervals;  // sorted, disjoint
  std::vector<std::string> texts;     // exact text
  std::vector<std::string> contains;  // lower-cased substrings

  // Every finite end of every interval (for the column index).
  void AppendBreakpoints(std::vector<double>* out) const;
  // Whether the set (before negation) contains `v`.
  bool SetContains(double v) const;
};

// Parses `text` as a cell for a column of type `type`. On error the message
// says what is wrong and `*error_offset` is the 0-based offset in `text`.
absl::StatusOr<CellTest> ParseCell(absl::string_view text, const TypeInfo& type,
                                   int* error_offset);

// The canonical spelling of a cell (what `rules fmt` writes and what is
// hashed).
std::string RenderCell(const CellTest& cell, const TypeInfo& type);

// Tests `value` against `cell`; `unknown_if_missing` is the column's
// on_missing policy.
Tri MatchCell(const CellTest& cell, const Value& value, bool unknown_if_missing);

// MatchCell for a present text value whose lower-cased copy is `lowered`
// (so a column's cells share one lower-casing).
Tri MatchTextCell(const CellTest& cell, absl::string_view text, absl::string_view lowered);

// Enum value by short name (after the enum's UPPER_SNAKE prefix) or full
// name; null if none.
const google::protobuf::EnumValueDescriptor* FindEnumValue(
    const google::protobuf::EnumDescriptor* type, absl::string_view name);
// The short name of an enum value ("ACUTE" for PATHWAY_ACUTE).
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* v);
// Formats a number without trailing zeros ("37.5", "7").
std::string FormatNumber(double v);

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_CELL_H_
