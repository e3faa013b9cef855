#include "services/triage/engine/test_runner.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/triage/engine/cell.h"

namespace frontdoor::rules {
namespace {

std::string Short(v1::Pathway p) {
  const auto* ev = v1::Pathway_descriptor()->FindValueByNumber(p);
  return ev ? ShortEnumName(ev) : "?";
}
std::string Short(v1::Urgency u) {
  const auto* ev = v1::Urgency_descriptor()->FindValueByNumber(u);
  return ev ? ShortEnumName(ev) : "?";
}
std::string Short(v1::Flag f) {
  const auto* ev = v1::Flag_descriptor()->FindValueByNumber(f);
  return ev ? ShortEnumName(ev) : "?";
}

std::string Why(const v1::TriageDecision& d) {
  std::vector<std::string> fired;
  for (const auto& f : d.fired()) {
    if (f.pathway() != v1::PATHWAY_UNSPECIFIED) fired.push_back(absl::StrCat(f.table(), "/", f.row()));
  }
  return absl::StrCat("decided by ", d.decisive_row(),
                      fired.empty() ? "" : absl::StrCat("; rows with outcomes that fired: ",
                                                        absl::StrJoin(fired, ", ")));
}

}  // namespace

TestReport RunTests(const CompiledRuleSet& rs) {
  TestReport report;
  std::set<std::string> covered;
  for (int i = 0; i < rs.proto().tests_size(); ++i) {
    const v1::RuleTest& t = rs.proto().tests(i);
    TestCaseResult res;
    res.name = t.name();
    res.file = t.file();
    if (i < static_cast<int>(rs.sources().tests.size())) res.pos = rs.sources().tests[i].pos;
    res.decision = rs.Triage(t.referral());
    const v1::TriageDecision& d = res.decision;
    std::set<std::string> fired;
    for (const auto& f : d.fired()) fired.insert(absl::StrCat(f.table(), "/", f.row()));
    covered.insert(fired.begin(), fired.end());
    auto fail = [&](std::string s) {
      res.passed = false;
      res.failures.push_back(std::move(s));
    };
    if (t.expect_pathway() != v1::PATHWAY_UNSPECIFIED && t.expect_pathway() != d.pathway()) {
      fail(absl::StrCat("pathway: expected ", Short(t.expect_pathway()), ", got ",
                        Short(d.pathway()), " (", Why(d), ")"));
    }
    if (t.expect_urgency() != v1::URGENCY_UNSPECIFIED && t.expect_urgency() != d.urgency()) {
      fail(absl::StrCat("urgency: expected ", Short(t.expect_urgency()), ", got ",
                        Short(d.urgency()), " (", Why(d), ")"));
    }
    for (const auto& id : t.expect_fired()) {
      if (!fired.count(id)) fail(absl::StrCat("row ", id, " was expected to fire and did not"));
    }
    for (const auto& id : t.expect_not_fired()) {
      if (fired.count(id)) fail(absl::StrCat("row ", id, " fired but was expected not to"));
    }
    auto has_flag = [&](int f) {
      return std::find(d.flags().begin(), d.flags().end(), f) != d.flags().end();
    };
    for (int f : t.expect_flags()) {
      if (!has_flag(f)) fail(absl::StrCat("flag ", Short(static_cast<v1::Flag>(f)), " expected, not set"));
    }
    for (int f : t.expect_not_flags()) {
      if (has_flag(f)) fail(absl::StrCat("flag ", Short(static_cast<v1::Flag>(f)), " set, not expected"));
    }
    for (const auto& [name, want] : t.expect_scores()) {
      const v1::Score* got = nullptr;
      for (const auto& s : d.scores()) {
        if (s.name() == name) got = &s;
      }
      if (got == nullptr) {
        fail(absl::StrCat("score ", name, " expected, but the rule set computes no such score"));
      } else if (std::fabs(got->value() - want) > 1e-9 || !got->complete()) {
        fail(absl::StrCat("score ", name, ": expected ", FormatNumber(want), ", got ",
                          FormatNumber(got->value()), got->complete() ? "" : " (incomplete)"));
      }
    }
    if (!t.expect_missing_data().empty()) {
      bool want = t.expect_missing_data() == "yes";
      bool got = d.could_escalate_size() > 0;
      if (want != got) {
        std::vector<std::string> rows;
        for (const auto& c : d.could_escalate()) rows.push_back(absl::StrCat(c.table(), "/", c.row()));
        fail(absl::StrCat("missing data: expected ", want ? "yes" : "no", ", got ",
                          got ? absl::StrCat("yes (", absl::StrJoin(rows, ", "), " undetermined; missing ",
                                             absl::StrJoin(d.missing_inputs(), ", "), ")")
                              : "no"));
      }
    }
    (res.passed ? report.passed : report.failed)++;
    report.cases.push_back(std::move(res));
  }
  for (const auto& t : rs.tables()) {
    for (const auto& r : t.rows) {
      ++report.rows_total;
      if (covered.count(r.qualified_id)) {
        ++report.rows_covered;
        continue;
      }
      report.uncovered_rows.push_back(r.qualified_id);
      if (r.safety_critical) report.uncovered_safety_critical.push_back(r.qualified_id);
    }
  }
  return report;
}

std::string FormatTestReport(const TestReport& report, bool verbose) {
  std::string out;
  for (const auto& c : report.cases) {
    if (c.passed) {
      if (verbose) absl::StrAppend(&out, "PASS  ", c.name, "\n");
      continue;
    }
    absl::StrAppend(&out, "FAIL  ", c.file, ":", c.pos.line, ": ", c.name, "\n");
    for (const auto& f : c.failures) absl::StrAppend(&out, "        - ", f, "\n");
  }
  double pct = report.rows_total == 0 ? 100.0 : 100.0 * report.rows_covered / report.rows_total;
  absl::StrAppend(&out, "\n", report.passed, " passed, ", report.failed, " failed\n");
  absl::StrAppend(&out, "row coverage: ", report.rows_covered, "/", report.rows_total, " (",
                  FormatNumber(std::round(pct * 10) / 10), "%)\n");
  if (!report.uncovered_rows.empty()) {
    absl::StrAppend(&out, "rows no test fires:\n");
    for (const auto& id : report.uncovered_rows) {
      bool sc = std::find(report.uncovered_safety_critical.begin(),
                          report.uncovered_safety_critical.end(),
                          id) != report.uncovered_safety_critical.end();
      absl::StrAppend(&out, "  ", id, sc ? "  [safety-critical: a test is required]" : "", "\n");
    }
  }
  return out;
}

}  // namespace frontdoor::rules
