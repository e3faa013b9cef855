#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_LOADER_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_LOADER_H_

#include <memory>
#include <string>

#include "frontdoor/v1/ruleset.pb.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/diagnostic.h"

namespace frontdoor::rules {

// Limits on what one rule set may hold, so that a hostile or broken
// directory cannot exhaust the process.
struct LoadOptions {
  int64_t max_file_bytes = 16 << 20;  // per file
  int max_files = 1000;
  int max_rows = 200000;              // across all tables
  int max_tables = 2000;
  bool analyse = true;                // run static analysis after compiling
};

// Reads the rule set directory `dir` (ruleset.yaml, *.rules.yaml,
// *.test.yaml) into its canonical RuleSet and where each part came from.
// Every problem is reported to `diags` (all of them, not just the first);
// returns false if any was an error.
bool ReadRuleSetFiles(const std::string& dir, const LoadOptions& options,
                      v1::RuleSet* out, SourceMap* sources, Diagnostics* diags);

// Reads, compiles and (by default) analyses a rule set directory. Returns
// null if anything is an error; the rule set in force elsewhere is untouched.
std::shared_ptr<const CompiledRuleSet> LoadRuleSet(const std::string& dir,
                                                   const LoadOptions& options,
                                                   Diagnostics* diags);

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_LOADER_H_
