// Row-level diff of two canonical rule sets: which rows of which tables were
// added, removed or changed, with their cells.

#ifndef FRONTDOOR_SERVICES_RULESETS_ROW_DIFF_H_
#define FRONTDOOR_SERVICES_RULESETS_ROW_DIFF_H_

#include <string>
#include <vector>

#include "frontdoor/v1/rule_set_service.pb.h"
#include "frontdoor/v1/ruleset.pb.h"

namespace frontdoor::rulesets {

// Compares `from` and `to` table by table (tables matched by id, rows by id
// within their table). For each row:
// - added: only in `to`; columns and after hold its cells;
// - removed: only in `from`; columns and before hold its cells;
// - changed: in both with different cells; columns is the union of both
//   tables' columns (`to`'s order, then columns only `from` had), before and
//   after the cells under them ("" where a table lacks the column), plus
//   "safety_critical", "source" and "note" columns when those changed.
// The columns of a row are its table's inputs, then its output columns.
//
// Changes that are not about one row come as RowChange entries with an
// empty row: a table added or removed as a whole (kind added/removed, and
// its rows listed too), a changed table property (hit_policy, mode,
// lowers_safety_critical, score, inputs, outputs) with kind "changed" and
// one column per changed property; and, with an empty table too, changed
// rule set properties (name, timezone, pathway_order, targets,
// missing_data, fallback).
//
// Order: tables in `to`'s order, then tables only `from` had; within a
// table its own changes first, then rows in `to`'s order, then removed
// rows. Identical rule sets give no changes. Test cases are not compared.
std::vector<v1::RowChange> DiffRows(const v1::RuleSet& from,
                                    const v1::RuleSet& to);

}  // namespace frontdoor::rulesets

#endif  // FRONTDOOR_SERVICES_RULESETS_ROW_DIFF_H_
