// The default rule set (triage-rules/community-spa) written by hand in C++:
// the same pathway and urgency decisions, with no rule engine. It is the
// baseline of tests/bench/engine_bench.cc and the oracle of
// tests/bench/oracle_test.cc, so it is written from the rule files' words,
// not from the engine's code, and it keeps no state between referrals.
//
// Missing data is handled the way docs/rule-language.md ("How the decision is
// made", step 4) describes, with simpler logic of its own: each rule is
// judged yes, no or "cannot tell" from what was recorded; a rule that cannot
// tell and would be more urgent than the outcome reached (than the outcome an
// override replaced, after an override) asks for a missing-data review, and
// the outcome becomes clinical review within 1 hour (or sooner) when that is
// more urgent than it, and no override was applied.

#ifndef FRONTDOOR_TESTS_BENCH_HANDWRITTEN_TRIAGE_H_
#define FRONTDOOR_TESTS_BENCH_HANDWRITTEN_TRIAGE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "frontdoor/v1/referral.pb.h"
#include "frontdoor/v1/triage.pb.h"

namespace frontdoor::bench {

struct HandDecision {
  v1::Pathway pathway = v1::PATHWAY_UNSPECIFIED;
  v1::Urgency urgency = v1::URGENCY_UNSPECIFIED;
  bool missing_data_review = false;
};

// Why a hand-written decision came out as it did: one line per rule that
// gave an outcome or could not be decided.
struct HandTrace {
  std::vector<std::string> lines;
};

class HandWrittenTriage {
 public:
  HandWrittenTriage();

  // Decides `r`. Allocation-free when `trace` is null.
  HandDecision Triage(const v1::Referral& r, HandTrace* trace = nullptr) const;

 private:
  absl::TimeZone tz_;
};

}  // namespace frontdoor::bench

#endif  // FRONTDOOR_TESTS_BENCH_HANDWRITTEN_TRIAGE_H_
