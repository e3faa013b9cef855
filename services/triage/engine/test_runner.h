#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_TEST_RUNNER_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_TEST_RUNNER_H_

#include <string>
#include <vector>

#include "frontdoor/v1/triage.pb.h"
#include "services/triage/engine/compiled_rule_set.h"

namespace frontdoor::rules {

struct TestCaseResult {
  std::string name;
  std::string file;
  SourcePos pos;
  bool passed = true;
  std::vector<std::string> failures;  // one line per expectation not met
  v1::TriageDecision decision;
};

struct TestReport {
  std::vector<TestCaseResult> cases;
  int passed = 0;
  int failed = 0;
  int rows_total = 0;
  int rows_covered = 0;
  std::vector<std::string> uncovered_rows;             // "table/row"
  std::vector<std::string> uncovered_safety_critical;  // subset of the above
  // Every case passed and every safety-critical row is covered.
  bool ok() const { return failed == 0 && uncovered_safety_critical.empty(); }
};

// Runs the rule set's own test cases (RuleSet.tests). A row is covered when
// it matched in at least one case.
TestReport RunTests(const CompiledRuleSet& rule_set);

// Human-readable report: failures with expected/actual, then coverage.
std::string FormatTestReport(const TestReport& report, bool verbose);

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_TEST_RUNNER_H_
