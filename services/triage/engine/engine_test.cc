// Engine semantics and bad-input tests over a small rule set
// (testdata/mini) and mutated copies of it.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/time/civil_time.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/expr.h"
#include "services/triage/engine/loader.h"
#include "services/triage/engine/test_runner.h"

namespace frontdoor::rules {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kMini[] = "services/triage/engine/testdata/mini";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// A private copy of the mini rule set.
class RuleDir {
 public:
  RuleDir() {
    static int n = 0;
    dir_ = fs::temp_directory_path() /
           absl::StrCat("frontdoor_engine_test_", getpid(), "_", n++);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const auto& e : fs::directory_iterator(kMini)) {
      fs::copy_file(e.path(), dir_ / e.path().filename());
    }
  }
  ~RuleDir() { fs::remove_all(dir_); }

  // Replaces `from` with `to` in `file`; the text must be there.
  void Replace(const std::string& file, const std::string& from, const std::string& to) {
    std::string text = ReadFile(dir_ / file);
    ASSERT_NE(text.find(from), std::string::npos) << from;
    WriteFile(dir_ / file, absl::StrReplaceAll(text, {{from, to}}));
  }
  void Write(const std::string& file, const std::string& text) { WriteFile(dir_ / file, text); }
  std::string path() const { return dir_.string(); }

 private:
  fs::path dir_;
};

std::shared_ptr<const CompiledRuleSet> Load(const std::string& dir, Diagnostics* diags) {
  return LoadRuleSet(dir, LoadOptions(), diags);
}

std::string AllDiagnostics(const Diagnostics& d) {
  std::string out;
  for (const auto& x : d.items()) absl::StrAppend(&out, FormatDiagnostic(x), "\n");
  return out;
}

std::shared_ptr<const CompiledRuleSet> LoadMini() {
  Diagnostics diags;
  auto rs = Load(kMini, &diags);
  EXPECT_NE(rs, nullptr) << AllDiagnostics(diags);
  return rs;
}

v1::Referral Adult() {
  v1::Referral r;
  r.mutable_received_at()->set_seconds(1768471200);  // 2026-01-15T10:00:00Z
  auto* dob = r.mutable_patient()->mutable_date_of_birth();
  dob->set_year(1950);
  dob->set_month(3);
  dob->set_day(1);
  return r;
}

bool Fired(const v1::TriageDecision& d, const std::string& id) {
  for (const auto& f : d.fired()) {
    if (absl::StrCat(f.table(), "/", f.row()) == id) return true;
  }
  return false;
}

TEST(Engine, MiniRuleSetPassesItsOwnTests) {
  auto rs = LoadMini();
  ASSERT_NE(rs, nullptr);
  TestReport report = RunTests(*rs);
  EXPECT_TRUE(report.ok()) << FormatTestReport(report, true);
  EXPECT_EQ(report.failed, 0);
  EXPECT_EQ(report.passed, 6);
  EXPECT_EQ(rs->version().size(), 64u);
}

TEST(Engine, MissingObservationIsNeverNormal) {
  auto rs = LoadMini();
  v1::Referral r = Adult();
  r.mutable_observations()->set_pulse(95);  // 1 point; respiratory rate not recorded
  v1::TriageDecision d = rs->Triage(r);
  ASSERT_EQ(d.scores_size(), 1);
  EXPECT_FALSE(d.scores(0).complete());
  EXPECT_EQ(d.scores(0).value(), 1);             // lower bound
  EXPECT_EQ(d.scores(0).highest_possible(), 4);  // + the worst rr band
  EXPECT_THAT(d.scores(0).missing_inputs(), ::testing::ElementsAre("observations.respiratory_rate"));
  // "single 3" might apply: clinical review within the hour, naming the gap.
  EXPECT_EQ(d.pathway(), v1::PATHWAY_CLINICAL_REVIEW);
  EXPECT_EQ(d.urgency(), v1::URGENCY_WITHIN_1H);
  ASSERT_GT(d.could_escalate_size(), 0);
  EXPECT_THAT(d.missing_inputs(), ::testing::Contains("observations.respiratory_rate"));
  EXPECT_TRUE(std::find(d.flags().begin(), d.flags().end(), v1::FLAG_MISSING_DATA_REVIEW) !=
              d.flags().end());
}

TEST(Engine, PartialScoreAboveThresholdStillEscalates) {
  auto rs = LoadMini();
  v1::Referral r = Adult();
  r.mutable_observations()->set_respiratory_rate(6);  // 3 points; pulse missing
  v1::TriageDecision d = rs->Triage(r);
  EXPECT_EQ(d.scores(0).value(), 3);
  EXPECT_EQ(d.scores(0).highest_possible(), 6);
  // The total could reach 5 ("high"), so it cannot be routed as routine.
  EXPECT_EQ(d.pathway(), v1::PATHWAY_CLINICAL_REVIEW);
  bool high = false;
  for (const auto& c : d.could_escalate()) high = high || c.row() == "high";
  EXPECT_TRUE(high);
}

TEST(Engine, MissingAgeNamesTheInputs) {
  auto rs = LoadMini();
  v1::Referral r;
  r.mutable_received_at()->set_seconds(1768471200);
  r.mutable_observations()->set_respiratory_rate(14);
  r.mutable_observations()->set_pulse(70);
  v1::TriageDecision d = rs->Triage(r);
  EXPECT_EQ(d.pathway(), v1::PATHWAY_CLINICAL_REVIEW);
  EXPECT_THAT(d.missing_inputs(), ::testing::Contains("patient.date_of_birth"));
}

TEST(Engine, StatedAgeUsedWithoutDateOfBirth) {
  auto rs = LoadMini();
  v1::Referral r;
  r.mutable_received_at()->set_seconds(1768471200);
  r.mutable_patient()->set_stated_age_years(8);
  r.mutable_observations()->set_respiratory_rate(14);
  r.mutable_observations()->set_pulse(70);
  v1::TriageDecision d = rs->Triage(r);
  EXPECT_EQ(d.pathway(), v1::PATHWAY_PAEDIATRIC) << d.DebugString();
  EXPECT_TRUE(Fired(d, "age/stated"));
}

TEST(Engine, PriorityIgnoresRowOrder) {
  auto rs = LoadMini();
  v1::RuleSet shuffled = rs->proto();
  std::mt19937 rng(7);
  for (auto& t : *shuffled.mutable_tables()) {
    if (t.hit_policy() != v1::HIT_POLICY_PRIORITY) continue;
    std::shuffle(t.mutable_rows()->begin(), t.mutable_rows()->end(), rng);
    std::reverse(t.mutable_rows()->begin(), t.mutable_rows()->end());
  }
  Diagnostics diags;
  auto rs2 = CompiledRuleSet::Compile(shuffled, nullptr, &diags);
  ASSERT_NE(rs2, nullptr) << AllDiagnostics(diags);
  EXPECT_NE(rs2->version(), rs->version());
  for (int rr : {4, 8, 9, 14, 20, 21, 30}) {
    for (int hr : {30, 40, 41, 90, 91, 150}) {
      v1::Referral r = Adult();
      r.mutable_observations()->set_respiratory_rate(rr);
      r.mutable_observations()->set_pulse(hr);
      v1::TriageDecision a = rs->Triage(r), b = rs2->Triage(r);
      EXPECT_EQ(a.pathway(), b.pathway()) << rr << " " << hr;
      EXPECT_EQ(a.urgency(), b.urgency()) << rr << " " << hr;
      EXPECT_EQ(a.decisive_row(), b.decisive_row());
    }
  }
}

TEST(Engine, VersionIsStableAndContentAddressed) {
  auto a = LoadMini();
  auto b = LoadMini();
  EXPECT_EQ(a->version(), b->version());
  RuleDir dir;
  dir.Replace("20-outcome.rules.yaml", "| ACUTE       | IMMEDIATE |", "| ACUTE       | WITHIN_1H |");
  Diagnostics diags;
  auto c = Load(dir.path(), &diags);
  ASSERT_NE(c, nullptr) << AllDiagnostics(diags);
  EXPECT_NE(a->version(), c->version());
}

TEST(Engine, WhitespaceDoesNotChangeTheVersion) {
  auto a = LoadMini();
  RuleDir dir;
  dir.Replace("20-outcome.rules.yaml", "| high      | >= 5   |", "| high      |>=5|");
  Diagnostics diags;
  auto b = Load(dir.path(), &diags);
  ASSERT_NE(b, nullptr) << AllDiagnostics(diags);
  EXPECT_EQ(a->version(), b->version());
}

TEST(Engine, WindowsLineEndingsLoadTheSame) {
  auto a = LoadMini();
  RuleDir dir;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    std::string text = ReadFile(e.path());
    dir.Write(e.path().filename().string(), absl::StrReplaceAll(text, {{"\n", "\r\n"}}));
  }
  Diagnostics diags;
  auto b = Load(dir.path(), &diags);
  ASSERT_NE(b, nullptr) << AllDiagnostics(diags);
  EXPECT_EQ(a->version(), b->version());
}

TEST(Engine, RowOfDashesIsARowNotASeparator) {
  RuleDir dir;
  dir.Replace("20-outcome.rules.yaml", "      | low       |", "      | - | - | - | - | - | - | - | - | - | - |\n      | low       |");
  Diagnostics diags;
  EXPECT_EQ(Load(dir.path(), &diags), nullptr);
  EXPECT_THAT(AllDiagnostics(diags), HasSubstr("[bad-id]"));
}

TEST(Engine, OverrideOfSafetyCriticalOutcomeIsRecorded) {
  auto rs = LoadMini();
  v1::Referral r = Adult();
  r.mutable_observations()->set_respiratory_rate(6);
  r.mutable_observations()->set_pulse(35);
  r.mutable_findings()->set_advance_care_plan_declines_hospital(true);
  v1::TriageDecision d = rs->Triage(r);
  EXPECT_EQ(d.pathway(), v1::PATHWAY_PALLIATIVE);
  ASSERT_TRUE(d.has_override());
  EXPECT_TRUE(d.override().lowered_safety_critical());
  EXPECT_EQ(d.override().from_pathway(), v1::PATHWAY_ACUTE);
  EXPECT_EQ(d.override().from_row(), "response/high");
}

TEST(Engine, UndeclaredLoweringOfSafetyCriticalOutcomeIsALoadError) {
  RuleDir dir;
  dir.Replace("20-outcome.rules.yaml", "    lowers_safety_critical: yes\n", "");
  Diagnostics diags;
  EXPECT_EQ(Load(dir.path(), &diags), nullptr);
  EXPECT_THAT(AllDiagnostics(diags), HasSubstr("[lowers-safety-critical]"));
}

TEST(Engine, EvaluationIsRepeatableWithAReusedResult) {
  auto rs = LoadMini();
  EvalResult result;
  v1::Referral a = Adult(), b = Adult();
  a.mutable_observations()->set_respiratory_rate(6);
  a.mutable_observations()->set_pulse(35);
  b.mutable_observations()->set_respiratory_rate(14);
  b.mutable_observations()->set_pulse(70);
  for (int i = 0; i < 3; ++i) {
    rs->Evaluate(a, &result);
    EXPECT_EQ(result.pathway(), v1::PATHWAY_ACUTE);
    rs->Evaluate(b, &result);
    EXPECT_EQ(result.pathway(), v1::PATHWAY_PRIMARY_CARE);
  }
}

// --- bad input: each gets a precise error, never a crash -------------------

struct BadCase {
  const char* name;
  const char* file;
  const char* from;
  const char* to;
  const char* code;      // expected diagnostic code
  const char* location;  // expected "file:line" (and ":col" where known)
};

class BadRuleFile : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadRuleFile, IsRejectedWithPosition) {
  const BadCase& c = GetParam();
  RuleDir dir;
  dir.Replace(c.file, c.from, c.to);
  Diagnostics diags;
  auto rs = Load(dir.path(), &diags);
  EXPECT_EQ(rs, nullptr);
  std::string all = AllDiagnostics(diags);
  EXPECT_THAT(all, HasSubstr(absl::StrCat("[", c.code, "]"))) << all;
  EXPECT_THAT(all, HasSubstr(c.location)) << all;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadRuleFile,
    ::testing::Values(
        BadCase{"MalformedYaml", "10-derived.rules.yaml", "    title: Age at referral",
                "    title: [Age at referral", "yaml-syntax", "10-derived.rules.yaml:"},
        BadCase{"Anchor", "10-derived.rules.yaml", "    title: Age at referral",
                "    title: &a Age at referral", "yaml-anchor", "10-derived.rules.yaml:3"},
        BadCase{"Alias", "10-derived.rules.yaml", "    title: Two-parameter score",
                "    title: *a", "yaml-syntax", "10-derived.rules.yaml:"},
        BadCase{"Tag", "10-derived.rules.yaml", "    title: Age at referral",
                "    title: !!str Age", "yaml-tag", "10-derived.rules.yaml:3"},
        BadCase{"DuplicateKey", "10-derived.rules.yaml", "    title: Age at referral",
                "    title: Age at referral\n    title: Again", "yaml-duplicate-key",
                "10-derived.rules.yaml:4:5"},
        BadCase{"Tab", "10-derived.rules.yaml", "    title: Age at referral",
                "    title:\tAge", "yaml-tab", "10-derived.rules.yaml:3:11"},
        BadCase{"UnknownColumn", "20-outcome.rules.yaml", "| fall | pathway", "| falls | pathway",
                "unknown-column", "20-outcome.rules.yaml:15:"},
        BadCase{"UnknownField", "20-outcome.rules.yaml", "findings.fall,", "findings.falls,",
                "unknown-column", "20-outcome.rules.yaml:9:"},
        BadCase{"EnumTypo", "20-outcome.rules.yaml", "| ACUTE       | IMMEDIATE",
                "| ACUT        | IMMEDIATE", "bad-enum", "20-outcome.rules.yaml:16:"},
        BadCase{"TypeMismatch", "20-outcome.rules.yaml", "| >= 18 | yes  |", "| >= 18 | 7    |",
                "bad-cell", "20-outcome.rules.yaml:19:"},
        BadCase{"UnparsableCell", "20-outcome.rules.yaml", "| high      | >= 5   |",
                "| high      | >= x5  |", "bad-cell", "20-outcome.rules.yaml:16:"},
        BadCase{"RaggedRow", "20-outcome.rules.yaml", "| local  | -   |\n      | fall",
                "| local  |\n      | fall", "ragged-row", "20-outcome.rules.yaml:18:"},
        BadCase{"DuplicateRowId", "20-outcome.rules.yaml", "| single3   |", "| high      |",
                "duplicate-row-id", "20-outcome.rules.yaml:17:"},
        BadCase{"MissingSource", "20-outcome.rules.yaml", "| FRAILTY  | local  |",
                "| FRAILTY  | -      |", "missing-source", "20-outcome.rules.yaml:19:"},
        BadCase{"UnknownVariable", "10-derived.rules.yaml", "      rr: observations.respiratory_rate",
                "      rr: response_level", "unknown-column", "10-derived.rules.yaml:"},
        BadCase{"BadExpression", "10-derived.rules.yaml", "/ 365.25)", "/ )",
                "bad-expression", "10-derived.rules.yaml:12:"},
        BadCase{"HalfOutcome", "20-outcome.rules.yaml", "| UCR         | WITHIN_2H |",
                "| UCR         | -         |", "half-outcome", "20-outcome.rules.yaml:19:"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST(Engine, CycleBetweenTablesIsRejected) {
  RuleDir dir;
  // points reads age_years (written by age), and age reads total (written
  // by points).
  dir.Replace("10-derived.rules.yaml", "      stated: patient.stated_age_years\n",
              "      stated: patient.stated_age_years\n      t: total\n");
  dir.Replace("10-derived.rules.yaml", "| id       | dob     | stated  |",
              "| id       | dob     | stated  | t |");
  dir.Replace("10-derived.rules.yaml", "| from_dob | present | -       |",
              "| from_dob | present | -       | - |");
  dir.Replace("10-derived.rules.yaml", "| stated   | missing | present |",
              "| stated   | missing | present | - |");
  dir.Replace("10-derived.rules.yaml", "      hr: observations.pulse\n",
              "      hr: observations.pulse\n      a: age_years\n");
  dir.Replace("10-derived.rules.yaml", "| id    | rr       | hr       |", "| id    | rr       | hr       | a |");
  for (const char* row : {"rr_lo", "rr_ok", "rr_hi", "hr_lo", "hr_ok", "hr_hi"}) {
    std::string text = ReadFile(fs::path(dir.path()) / "10-derived.rules.yaml");
    size_t at = text.find(absl::StrCat("| ", row, " |"));
    ASSERT_NE(at, std::string::npos);
    size_t third = at;
    for (int k = 0; k < 4; ++k) third = text.find('|', third + 1);
    text.insert(third, "| - ");
    dir.Write("10-derived.rules.yaml", text);
  }
  Diagnostics diags;
  EXPECT_EQ(Load(dir.path(), &diags), nullptr);
  EXPECT_THAT(AllDiagnostics(diags), HasSubstr("[cycle]"));
}

TEST(Engine, AllProblemsAreReportedAtOnce) {
  RuleDir dir;
  dir.Replace("20-outcome.rules.yaml", "| ACUTE       | IMMEDIATE", "| ACUT        | IMMEDIATE");
  dir.Replace("20-outcome.rules.yaml", "| high      | >= 5   |", "| high      | >= x5  |");
  dir.Replace("10-derived.rules.yaml", "    title: Age at referral", "    title: Age\n    title: x");
  Diagnostics diags;
  EXPECT_EQ(Load(dir.path(), &diags), nullptr);
  EXPECT_GE(diags.error_count(), 3) << AllDiagnostics(diags);
}

TEST(Engine, BinaryGarbageIsRejected) {
  RuleDir dir;
  std::string garbage;
  std::mt19937 rng(1);
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>(rng()));
  dir.Write("10-derived.rules.yaml", garbage);
  Diagnostics diags;
  EXPECT_EQ(Load(dir.path(), &diags), nullptr);
  EXPECT_THAT(AllDiagnostics(diags), HasSubstr("10-derived.rules.yaml"));
}

TEST(Engine, DegenerateYamlEndsWithAnError) {
  // Inputs that make yaml-cpp produce empty documents without end.
  for (const char* text : {",", "[a],", ",,,\n,"}) {
    RuleDir dir;
    dir.Write("ruleset.yaml", text);
    dir.Write("10-derived.rules.yaml", text);
    Diagnostics diags;
    EXPECT_EQ(Load(dir.path(), &diags), nullptr) << text;
    EXPECT_LT(diags.items().size(), 50u) << text;
  }
}

TEST(Engine, TextInAnotherEncodingIsRejectedWithItsPosition) {
  RuleDir dir;
  dir.Replace("10-derived.rules.yaml", "    title: Age at referral", "    title: Age at r\xe9" "f\xe9" "rral");
  Diagnostics diags;
  EXPECT_EQ(Load(dir.path(), &diags), nullptr);
  EXPECT_THAT(AllDiagnostics(diags), HasSubstr("10-derived.rules.yaml:3:20: error: the file is not UTF-8"));
}

TEST(Engine, EmptyAndMissingFilesAreErrors) {
  {
    RuleDir dir;
    dir.Write("10-derived.rules.yaml", "");
    Diagnostics diags;
    EXPECT_EQ(Load(dir.path(), &diags), nullptr);
    EXPECT_THAT(AllDiagnostics(diags), HasSubstr("[empty-file]"));
  }
  {
    Diagnostics diags;
    EXPECT_EQ(Load("/nonexistent/rules", &diags), nullptr);
    EXPECT_THAT(AllDiagnostics(diags), HasSubstr("[not-a-directory]"));
  }
  {
    RuleDir dir;
    fs::remove(fs::path(dir.path()) / "ruleset.yaml");
    Diagnostics diags;
    EXPECT_EQ(Load(dir.path(), &diags), nullptr);
    EXPECT_THAT(AllDiagnostics(diags), HasSubstr("[missing-file]"));
  }
}

TEST(Engine, FailedLoadLeavesRuleSetInForceUntouched) {
  auto good = LoadMini();
  RuleDir dir;
  dir.Replace("20-outcome.rules.yaml", "| ACUTE       | IMMEDIATE", "| ACUT        | IMMEDIATE");
  Diagnostics diags;
  std::shared_ptr<const CompiledRuleSet> active = good;
  auto candidate = Load(dir.path(), &diags);
  if (candidate != nullptr) active = candidate;
  EXPECT_EQ(active, good);
  v1::Referral r = Adult();
  r.mutable_observations()->set_respiratory_rate(6);
  r.mutable_observations()->set_pulse(35);
  EXPECT_EQ(active->Triage(r).pathway(), v1::PATHWAY_ACUTE);
}

TEST(Engine, LargeRuleSetLoads) {
  // 100 copies of the outcome table (about 100x the mini set's rows).
  RuleDir dir;
  std::string base = ReadFile(fs::path(dir.path()) / "20-outcome.rules.yaml");
  size_t plan = base.find("  - id: plan");
  std::string table = base.substr(std::string("tables:\n").size(), plan - 8);
  std::string big = "tables:\n";
  for (int i = 0; i < 100; ++i) {
    std::string copy = absl::StrReplaceAll(table, {{"id: response", absl::StrCat("id: response", i)}});
    absl::StrAppend(&big, copy);
  }
  dir.Write("30-big.rules.yaml", big);
  Diagnostics diags;
  auto rs = Load(dir.path(), &diags);
  ASSERT_NE(rs, nullptr) << AllDiagnostics(diags);
  EXPECT_EQ(rs->tables().size(), 4u + 100u);
}

TEST(Engine, RowLimitIsEnforced) {
  RuleDir dir;
  LoadOptions options;
  options.max_rows = 5;
  Diagnostics diags;
  EXPECT_EQ(LoadRuleSet(dir.path(), options, &diags), nullptr);
  EXPECT_THAT(AllDiagnostics(diags), HasSubstr("[too-many-rows]"));
}

}  // namespace
}  // namespace frontdoor::rules

namespace frontdoor::rules {
namespace {

// years_between/months_between count birthdays as the calendar does.
double Years(absl::CivilDay dob, absl::CivilSecond at, const char* fn = "years_between") {
  Expr::Resolver resolve = [](absl::string_view name, TypeInfo* type) -> absl::StatusOr<int> {
    type->type = name == "dob" ? ValueType::kDate : ValueType::kTimestamp;
    return name == "dob" ? 0 : 1;
  };
  int offset = 0;
  auto e = Expr::Parse(absl::StrCat(fn, "(dob, at)"), resolve, &offset);
  EXPECT_TRUE(e.ok()) << e.status();
  absl::TimeZone london;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  Value slots[2] = {Value::Number(static_cast<double>(dob - absl::CivilDay(1970, 1, 1))),
                    Value::Number(static_cast<double>(absl::ToUnixSeconds(absl::FromCivil(at, london))))};
  return e->Evaluate(slots, london).lo;
}

TEST(Expressions, YearsBetweenCountsBirthdays) {
  EXPECT_EQ(Years(absl::CivilDay(2009, 1, 15), absl::CivilSecond(2026, 1, 15, 0, 30, 0)), 17);
  EXPECT_EQ(Years(absl::CivilDay(2009, 1, 15), absl::CivilSecond(2026, 1, 14, 23, 59, 0)), 16);
  // A leapling is 18 on 1 March in a common year.
  EXPECT_EQ(Years(absl::CivilDay(2008, 2, 29), absl::CivilSecond(2026, 2, 28, 12, 0, 0)), 17);
  EXPECT_EQ(Years(absl::CivilDay(2008, 2, 29), absl::CivilSecond(2026, 3, 1, 0, 0, 0)), 18);
  // Local date, not UTC: 00:30 BST on the birthday is still the birthday.
  EXPECT_EQ(Years(absl::CivilDay(2008, 7, 1), absl::CivilSecond(2026, 7, 1, 0, 30, 0)), 18);
  EXPECT_EQ(Years(absl::CivilDay(2025, 11, 20), absl::CivilSecond(2026, 1, 19, 9, 0, 0), "months_between"), 1);
  EXPECT_EQ(Years(absl::CivilDay(2025, 11, 20), absl::CivilSecond(2026, 1, 20, 9, 0, 0), "months_between"), 2);
}

}  // namespace
}  // namespace frontdoor::rules
