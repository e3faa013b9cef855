// Validation of a submitted rule set: lint (read and compile), static
// analysis and the rule set's own tests, the checks `frontdoor rules lint`
// and `frontdoor rules test` run, as one ValidationReport.

#ifndef FRONTDOOR_SERVICES_RULESETS_VALIDATION_H_
#define FRONTDOOR_SERVICES_RULESETS_VALIDATION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "frontdoor/v1/rule_set_service.pb.h"
#include "frontdoor/v1/ruleset.pb.h"
#include "services/triage/engine/compiled_rule_set.h"

namespace frontdoor::rulesets {

struct ValidatedRuleSet {
  v1::ValidationReport report;
  // The version id: the compiled rule set's version (SHA-256 of the
  // canonical RuleSet) when it compiles, else HashRuleFiles of the files,
  // so that even a broken submission has a stable id.
  std::string id;
  // The canonical RuleSet when it compiles (cells normalised); empty
  // otherwise.
  v1::RuleSet rule_set;
  // The compiled rule set when it compiles, even if analysis or tests
  // failed (report.ok says whether it may be used); null otherwise.
  std::shared_ptr<const rules::CompiledRuleSet> compiled;
};

// Validates `files` (the files of one rule set directory): the names and
// sizes are checked first (INVALID_ARGUMENT: nothing is validated), then
// the files are written to a fresh temporary directory (removed again) and
// read with ReadRuleSetFiles, compiled, analysed and tested. Problems with
// the rule set itself are findings in the report, not errors.
//
// report.ok: no error finding, every test passes and every safety-critical
// row is covered by a test.
absl::StatusOr<ValidatedRuleSet> ValidateRuleFiles(
    const std::vector<v1::RuleFile>& files);

// One line: "ok" or "3 errors, 1 test failing, 1 safety-critical row
// without a test", with the first error finding when there is one.
std::string SummariseReport(const v1::ValidationReport& report);

}  // namespace frontdoor::rulesets

#endif  // FRONTDOOR_SERVICES_RULESETS_VALIDATION_H_
