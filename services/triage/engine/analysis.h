#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_ANALYSIS_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_ANALYSIS_H_

#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/diagnostic.h"

namespace frontdoor::rules {

// Static analysis of a compiled rule set, over each table's column
// partition (the breakpoints of its cells, plus "missing"). Reports, each
// with a concrete example input where one exists:
// - overlap: two rows of a `unique` table that can both match (error);
// - masked-row: a row of a `first` table that earlier rows always pre-empt
//   (error; a warning "not proved" when the work limit is reached);
// - gap: inputs no row of a single-hit table covers (error when recorded
//   values fall through a table that gives an outcome or variables, a
//   warning when only missing values do, a note for flag-only tables; none
//   when a row is all '-');
// - score-overlap: rows of one score parameter that can both match (error);
// - lowers-safety-critical: an override row that could lower a
//   safety-critical outcome without declaring it (error);
// - subsumed-row: a row inside another with the same outputs (warning);
// - row-never-matches: a row no input can match (warning);
// - unreachable-pathway: a pathway no row produces (warning).
// Duplicate row ids, undefined columns, type errors and cycles between tables
// are found by the compiler.
void Analyse(const CompiledRuleSet& rule_set, Diagnostics* diags);

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_ANALYSIS_H_
