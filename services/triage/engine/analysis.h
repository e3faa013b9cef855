#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_ANALYSIS_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_ANALYSIS_H_

#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/diagnostic.h"

namespace frontdoor::rules {

// Static analysis of a compiled rule set. Reports, each with a concrete
// counter-example where one exists:
// - overlapping rows in `unique` tables (error);
// - gaps: inputs that no row of a single-hit table covers (error for tables
//   that give the decision outcome, a note otherwise);
// - rows masked by earlier rows in `first` tables (error);
// - pathways never produced by any row (warning);
// - rows of one score parameter that overlap (error);
// - safety-critical outcomes an override table could lower without
//   declaring it (error).
// Duplicate row ids, undefined columns, type errors and cycles between tables
// are found by the compiler.
void Analyse(const CompiledRuleSet& rule_set, Diagnostics* diags);

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_ANALYSIS_H_
