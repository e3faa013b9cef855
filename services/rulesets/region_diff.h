// The formal diff of two rule sets: regions of input space whose decision
// (pathway and urgency) differs between them, each with a counter-example
// referral, downgrades first.
//
// How the regions are found:
// 1. What changed: rows added, removed or changed (cells, outcome, flags,
//    safety_critical), tables whose definition or row order changed (all
//    their rows), and changes to the whole rule set (fallback, missing-data
//    outcome, pathway order, time zone, table order).
// 2. The input axes: for every Referral field either version reads, the
//    breakpoints of every cell on it in either version cut its values into
//    segments (each breakpoint, the open gaps between them), plus "missing"
//    where the field can be absent; free-text fields get sample texts. A
//    variable that a table computes from fields by an expression (age from
//    the date of birth and the time of receipt, a copy of a stated age) has
//    its own breakpoints mapped back onto each field the expression reads,
//    the other inputs held at the base referral's values (a search over
//    the field's range, exact where the expression is monotone).
// 3. The search starts from base referrals (both rule sets' own test
//    referrals, then options.bases), those that fire a changed row first.
//    From each base it varies, segment by segment: each field a changed row
//    constrains (directly or through a variable), alone; then each such
//    field together with each other field the changed tables read; both
//    versions evaluate every point. Adjacent segments that differ in the same
//    way merge into one region. When the changed tables read Referral fields
//    only and the product of those fields' segments is small, that whole
//    product is evaluated from every base instead.
//
// What is reported is sound: every region's example was evaluated with both
// versions and differs as stated (the description's ranges hold for every
// cell reading those fields, directly or through a mapped variable; the
// other inputs are as in the example). It is not exhaustive:
// regions_complete is true only when nothing changed, or when the changed
// tables read Referral fields only, the whole product of those fields'
// segments (and missing) was evaluated from every base, no free-text test
// was sampled, and no limit was reached. Even then, a difference that also
// needs some other table in a state no base referral reaches is not seen.

#ifndef FRONTDOOR_SERVICES_RULESETS_REGION_DIFF_H_
#define FRONTDOOR_SERVICES_RULESETS_REGION_DIFF_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "frontdoor/v1/referral.pb.h"
#include "frontdoor/v1/rule_set_service.pb.h"
#include "services/triage/engine/compiled_rule_set.h"

namespace frontdoor::rulesets {

struct RegionDiffOptions {
  // Default 2 s: wall-clock budget of the search.
  absl::Duration time_limit = absl::Seconds(2);
  // Default 1,000,000: referrals evaluated (each with both versions).
  int64_t max_evaluations = 1000000;
  // Default 100: regions listed (downgrades first); more are counted.
  int max_regions = 100;
  // Base referrals besides the rule sets' own tests (e.g. a sample of
  // stored referrals, or bench corpus referrals in tests).
  std::vector<v1::Referral> bases;
  // Default 500: base referrals used at most (the most relevant first).
  int max_bases = 500;
};

struct RegionDiffResult {
  std::vector<v1::DecisionRegion> regions;  // downgrades first
  bool complete = false;
  // Why the search is not complete ("" when it is).
  std::string incomplete_reason;
  int64_t regions_found = 0;  // distinct regions, listed or not
  int64_t evaluations = 0;
  int bases = 0;
  // What changed: "table/row (added|removed|changed)", "table (changed)",
  // or "rule set: <property>".
  std::vector<std::string> changes;
};

// Searches for the regions whose decision differs between `from` and `to`.
RegionDiffResult DiffRegions(const rules::CompiledRuleSet& from,
                             const rules::CompiledRuleSet& to,
                             const RegionDiffOptions& options = {});

// DiffRegions with the default options into diff->regions and
// diff->regions_complete (replacing them; nothing else is touched). Always
// OK; the signature of RuleSetServiceImpl::Options::regions.
absl::Status FillRegions(const rules::CompiledRuleSet& from,
                         const rules::CompiledRuleSet& to,
                         v1::RuleSetDiff* diff);

}  // namespace frontdoor::rulesets

#endif  // FRONTDOOR_SERVICES_RULESETS_REGION_DIFF_H_
