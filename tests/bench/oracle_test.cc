// Differential test: the rule engine with the default rule set against the
// same rules written by hand (handwritten_triage.h), on the whole generated
// corpus. They must agree on pathway and urgency (and on whether the
// missing-data review applied) for every referral. The first disagreements
// are printed with the referral and both explanations.

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/loader.h"
#include "tests/bench/corpus.h"
#include "tests/bench/handwritten_triage.h"

namespace frontdoor::bench {
namespace {

constexpr size_t kCorpusSize = 100000;
constexpr int kShow = 5;  // disagreements printed in full

std::string RuleSetDir() {
  const char* env = std::getenv("FRONTDOOR_RULESET");
  return env != nullptr && *env != '\0' ? env : "triage-rules/community-spa";
}

std::string Json(const v1::Referral& r) {
  std::string s;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = false;
  (void)google::protobuf::util::MessageToJsonString(r, &s, opts);
  return s;
}

std::string Outcome(v1::Pathway p, v1::Urgency u) {
  return absl::StrCat(v1::Pathway_Name(p), " ", v1::Urgency_Name(u));
}

// The engine's explanation: decisive row, rows with outcomes that fired,
// rows that could have escalated (with their missing inputs), scores.
std::string Explain(const v1::TriageDecision& d) {
  std::string s =
      absl::StrCat("    decision ", Outcome(d.pathway(), d.urgency()),
                   ", decisive ", d.decisive_row(), "\n");
  for (const auto& f : d.fired()) {
    if (f.pathway() == v1::PATHWAY_UNSPECIFIED) continue;
    absl::StrAppend(&s, "    fired ", f.table(), "/", f.row(), " -> ",
                    Outcome(f.pathway(), f.urgency()),
                    f.decisive() ? " (decisive)" : "", "\n");
  }
  for (const auto& f : d.could_escalate()) {
    absl::StrAppend(&s, "    could escalate ", f.table(), "/", f.row(), " -> ",
                    Outcome(f.pathway(), f.urgency()), " missing [",
                    absl::StrJoin(f.missing_inputs(), ", "), "]\n");
  }
  for (const auto& sc : d.scores()) {
    absl::StrAppend(&s, "    score ", sc.name(), " ", sc.value(),
                    sc.complete() ? ""
                                  : absl::StrCat(" (incomplete, up to ",
                                                 sc.highest_possible(), ")"),
                    "\n");
  }
  if (d.has_override()) {
    absl::StrAppend(
        &s, "    override by ", d.override().by_row(), " from ",
        Outcome(d.override().from_pathway(), d.override().from_urgency()),
        "\n");
  }
  return s;
}

TEST(OracleTest, EngineAndHandWrittenRulesAgreeOnTheCorpus) {
  rules::Diagnostics diags;
  auto rs = rules::LoadRuleSet(RuleSetDir(), rules::LoadOptions(), &diags);
  for (const auto& d : diags.items()) {
    if (d.severity == rules::Diagnostic::Severity::kError) {
      std::cerr << rules::FormatDiagnostic(d) << "\n";
    }
  }
  ASSERT_NE(rs, nullptr) << "cannot load " << RuleSetDir();
  const HandWrittenTriage hand;
  const std::vector<v1::Referral> corpus = GenerateCorpus(kCorpusSize);

  rules::EvalResult result;
  v1::TriageDecision decision;
  std::map<std::string, int>
      rows_matched;  // rows with an outcome, matched or undecided
  for (const auto& t : rs->proto().tables()) {
    for (const auto& row : t.rows())
      rows_matched[absl::StrCat(t.id(), "/", row.id())] = 0;
  }
  int disagree = 0, review_disagree = 0, md_reviews = 0;
  std::map<std::string, int> outcomes;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const v1::Referral& r = corpus[i];
    rs->Evaluate(r, &result);
    const HandDecision h = hand.Triage(r);
    ++outcomes[Outcome(result.pathway(), result.urgency())];
    md_reviews += result.missing_data_review();
    rs->ToDecision(result, &decision);
    for (const auto& f : decision.fired())
      ++rows_matched[absl::StrCat(f.table(), "/", f.row())];
    for (const auto& f : decision.could_escalate()) {
      ++rows_matched[absl::StrCat(f.table(), "/", f.row())];
    }
    const bool same =
        h.pathway == result.pathway() && h.urgency == result.urgency();
    const bool same_review =
        h.missing_data_review == result.missing_data_review();
    if (same && same_review) continue;
    if (!same) ++disagree;
    if (!same_review) ++review_disagree;
    if (disagree + review_disagree <= kShow) {
      v1::TriageDecision d;
      rs->ToDecision(result, &d);
      HandTrace trace;
      hand.Triage(r, &trace);
      std::string hand_lines;
      for (const auto& l : trace.lines)
        absl::StrAppend(&hand_lines, "    ", l, "\n");
      ADD_FAILURE() << "referral " << i << ": engine "
                    << Outcome(result.pathway(), result.urgency())
                    << (result.missing_data_review() ? " (missing-data review)"
                                                     : "")
                    << ", hand-written " << Outcome(h.pathway, h.urgency)
                    << (h.missing_data_review ? " (missing-data review)" : "")
                    << "\n  referral " << Json(r) << "\n  engine:\n"
                    << Explain(d) << "  hand-written:\n"
                    << hand_lines;
    }
  }
  std::cout << "rule set " << rs->version().substr(0, 12) << ", "
            << corpus.size() << " referrals, " << md_reviews
            << " missing-data reviews\n";
  for (const auto& [outcome, n] : outcomes)
    std::cout << "  " << n << "\t" << outcome << "\n";
  int never = 0;
  for (const auto& [row, n] : rows_matched) {
    if (n > 0) continue;
    if (never++ == 0)
      std::cout << "rows the corpus never matched or left undecided:\n";
    std::cout << "  " << row << "\n";
  }
  std::cout << rows_matched.size() - never << " of " << rows_matched.size()
            << " rows matched or undecided at least once\n";
  EXPECT_EQ(disagree, 0) << "referrals where pathway or urgency differ";
  EXPECT_EQ(review_disagree, 0)
      << "referrals where the missing-data review differs";
}

}  // namespace
}  // namespace frontdoor::bench
