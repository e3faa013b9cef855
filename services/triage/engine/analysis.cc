#include "services/triage/engine/analysis.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "services/triage/engine/explain.h"

namespace frontdoor::rules {
namespace {

std::string FileOf(const CompiledRuleSet& rs, int t) {
  const auto& ts = rs.sources().tables;
  return t < static_cast<int>(ts.size()) ? ts[t].file : rs.proto().tables(t).file();
}
SourcePos RowPos(const CompiledRuleSet& rs, int t, int r) {
  const auto& ts = rs.sources().tables;
  if (t < static_cast<int>(ts.size()) && r < static_cast<int>(ts[t].rows.size())) {
    return ts[t].rows[r].pos;
  }
  return {};
}

// Pathways that no row and neither the fallback nor the missing-data outcome
// can produce.
void CheckUnreachablePathways(const CompiledRuleSet& rs, Diagnostics* diags) {
  std::set<int> produced = {rs.fallback().pathway(), rs.missing_data().pathway()};
  for (const auto& t : rs.tables()) {
    for (const auto& r : t.rows) {
      if (r.has_outcome) produced.insert(r.pathway);
    }
  }
  for (int i = 1; i < v1::Pathway_descriptor()->value_count(); ++i) {
    int p = v1::Pathway_descriptor()->value(i)->number();
    if (!produced.count(p)) {
      diags->Warning(rs.sources().ruleset_file, {}, "unreachable-pathway",
                     absl::StrCat("no row produces pathway ",
                                  PathwayName(static_cast<v1::Pathway>(p))));
    }
  }
}

// An override table that can lower a safety-critical outcome must say so.
void CheckSafetyCriticalLowering(const CompiledRuleSet& rs, Diagnostics* diags) {
  for (size_t ti = 0; ti < rs.tables().size(); ++ti) {
    const CompiledTable& t = rs.tables()[ti];
    if (!t.override_mode || t.lowers_safety_critical) continue;
    for (int r = 0; r < t.nrows; ++r) {
      const CompiledRow& row = t.rows[r];
      if (!row.has_outcome) continue;
      for (const auto& other : rs.tables()) {
        if (other.override_mode) continue;
        for (const auto& sc : other.rows) {
          if (!sc.safety_critical || !sc.has_outcome || sc.rank >= row.rank) continue;
          Diagnostic d;
          d.file = FileOf(rs, ti);
          d.pos = RowPos(rs, ti, r);
          d.code = "lowers-safety-critical";
          d.message = absl::StrCat(
              "override row '", row.id, "' (", PathwayName(row.pathway), " ",
              UrgencyName(row.urgency), ") can replace the safety-critical outcome of ",
              sc.qualified_id, " (", PathwayName(sc.pathway), " ", UrgencyName(sc.urgency),
              ") with a less urgent one; add 'lowers_safety_critical: yes' to the table so "
              "the decision demands clinician confirmation, or change the row");
          diags->Add(std::move(d));
          goto next_row;
        }
      }
    next_row:;
    }
  }
}

}  // namespace

void Analyse(const CompiledRuleSet& rule_set, Diagnostics* diags) {
  CheckUnreachablePathways(rule_set, diags);
  CheckSafetyCriticalLowering(rule_set, diags);
}

}  // namespace frontdoor::rules
