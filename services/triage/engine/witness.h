// Building blocks of example inputs, shared by the static analysis
// (analysis.cc) and the rule-set diff (services/rulesets/region_diff.cc):
// the values an input can take, a representative value of each segment of a
// column's partition, sample texts for free-text tests, and setting a
// Referral field from a value.

#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_WITNESS_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_WITNESS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "frontdoor/v1/referral.pb.h"
#include "services/triage/engine/cell.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/value.h"

namespace frontdoor::rules {

// The present values an input can take.
struct Domain {
  enum class Kind { kReal, kInteger, kFinite };
  Kind kind = Kind::kReal;
  double lo = -kInf;  // closed bounds (kReal, kInteger)
  double hi = kInf;
  std::vector<double> values;  // kFinite: sorted, distinct
  bool missing_possible = true;
};

bool IsWhole(double v);

// Whether `x` is a possible value.
bool PickPoint(const Domain& d, double x);

// A possible value in the open interval (a, b), preferring whole numbers
// next to the rows' own numbers; false if there is none.
bool PickInGap(const Domain& d, double a, double b, double* out);

// The values of a type: yes/no, an enum's values (without 0), otherwise any
// real number.
Domain TypeDomain(const TypeInfo& type);

// The values of a Referral field (a kField slot): its type's, whole numbers
// for integer fields (from 0 for unsigned ones).
Domain FieldDomain(const Slot& slot);

// One input of an example: a slot and its value (missing if !present).
struct SlotValue {
  int slot = -1;
  bool present = false;
  double number = 0;
  std::string text;
};

// `s` as a JSON string literal.
std::string JsonString(absl::string_view s);

// A date held as days since 1970-01-01, as "YYYY-MM-DD".
std::string DateText(double days);

// The value in the compact form: JSON number, true/false, the enum's short
// name, text, or null for missing.
std::string CompactValue(const Slot& slot, const SlotValue& v);

// Sets a Referral field (a kField slot) from an example value; `v.present`
// is not consulted.
void SetField(const Slot& slot, const SlotValue& v, v1::Referral* referral);

// Sample texts standing for the classes of texts the cells tell apart: one
// that no cell names, each exact text, each substring alone, with more text,
// and in pairs.
std::vector<std::string> TextCandidates(const std::vector<const CellTest*>& cells);

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_WITNESS_H_
