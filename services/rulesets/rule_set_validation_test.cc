#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/test_util.h"
#include "services/rulesets/row_diff.h"
#include "services/rulesets/rule_files.h"
#include "services/rulesets/rule_set_test_util.h"
#include "services/rulesets/validation.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/loader.h"

namespace frontdoor::rulesets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::TempDir;

v1::RuleFile File(const std::string& name, const std::string& content = "") {
  v1::RuleFile f;
  f.set_name(name);
  f.set_content(content);
  return f;
}

TEST(RuleFileNamesTest, AcceptsPlainYamlNames) {
  for (const char* name : {"ruleset.yaml", "20-news2.rules.yaml",
                           "20-news2.test.yaml", "notes.yaml"}) {
    EXPECT_THAT(CheckRuleFileName(name), IsOk()) << name;
  }
}

TEST(RuleFileNamesTest, RejectsPathsHiddenAndOtherFiles) {
  for (const char* name :
       {"", "../ruleset.yaml", "a/b.rules.yaml", "..", ".", "x..rules.yaml",
        ".hidden.yaml", "ruleset.yml", "README.md", "a\\b.yaml", ".yaml"}) {
    EXPECT_THAT(CheckRuleFileName(name),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << name;
  }
  EXPECT_THAT(CheckRuleFileName(std::string("a\0b.yaml", 8)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CheckRuleFileName(std::string(300, 'a') + ".yaml"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RuleFilesTest, ChecksTheSubmissionAsAWhole) {
  EXPECT_THAT(CheckRuleFiles({}), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("no files")));
  EXPECT_THAT(CheckRuleFiles({File("ruleset.yaml"), File("ruleset.yaml")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  EXPECT_THAT(
      CheckRuleFiles({File("a.yaml", std::string(kMaxRuleFileBytes + 1, 'x'))}),
      StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<v1::RuleFile> big;
  for (int i = 0; i < 5; ++i) {
    big.push_back(File("f" + std::to_string(i) + ".yaml",
                       std::string(kMaxRuleFileBytes, 'x')));
  }
  EXPECT_THAT(CheckRuleFiles(big), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("in all")));
}

TEST(RuleFilesTest, ReadsThroughSymlinksLikeAConfigMap) {
  // A ConfigMap volume: ..2024_01/ holds the files, ..data links to it, and
  // each visible file links through ..data.
  TempDir tmp;
  const std::string dir = tmp.Sub("rules");
  testing::CopyDefaultRules(tmp.Sub("rules/..2024_01"));
  std::filesystem::create_directory_symlink("..2024_01", dir + "/..data");
  for (const auto& e : std::filesystem::directory_iterator(dir + "/..data")) {
    const std::string name = e.path().filename().string();
    std::filesystem::create_symlink("..data/" + name, dir + "/" + name);
  }
  testing::WriteText(dir + "/README.md", "not a rule file");
  testing::WriteText(dir + "/.hidden.yaml", "x");
  std::vector<v1::RuleFile> through_links = testing::FilesIn(dir);
  std::vector<v1::RuleFile> plain = testing::FilesIn(testing::kDefaultRules);
  ASSERT_EQ(through_links.size(), plain.size());
  EXPECT_EQ(through_links.front().name(), plain.front().name());
  EXPECT_EQ(HashRuleFiles(through_links), HashRuleFiles(plain));
  EXPECT_THAT(ReadRuleFiles(tmp.Sub("missing")),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(RuleFilesTest, HashDependsOnNamesAndContents) {
  const std::string a =
      HashRuleFiles({File("a.yaml", "x"), File("b.yaml", "")});
  EXPECT_EQ(a.size(), 64u);
  EXPECT_NE(a, HashRuleFiles({File("a.yaml", ""), File("b.yaml", "x")}));
  EXPECT_NE(a, HashRuleFiles({File("a.yaml", "x")}));
  EXPECT_EQ(a, HashRuleFiles({File("a.yaml", "x"), File("b.yaml", "")}));
}

TEST(ValidationTest, TheDefaultRuleSetIsValidAndKeepsItsVersion) {
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      ValidatedRuleSet v,
      ValidateRuleFiles(testing::FilesIn(testing::kDefaultRules)));
  EXPECT_TRUE(v.report.ok()) << SummariseReport(v.report);
  EXPECT_EQ(v.report.name(), "community-spa");
  EXPECT_GT(v.report.tests_passed(), 100);
  EXPECT_EQ(v.report.tests_failed(), 0);
  EXPECT_EQ(v.report.rows_total(), v.report.rows_covered());
  ASSERT_NE(v.compiled, nullptr);
  EXPECT_EQ(v.id, v.compiled->version());
  EXPECT_EQ(v.report.version(), v.id);
  EXPECT_EQ(SummariseReport(v.report), "ok");

  // Same id as the server's loader gives the directory.
  rules::Diagnostics diags;
  auto loaded =
      rules::LoadRuleSet(testing::kDefaultRules, rules::LoadOptions(), &diags);
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->version(), v.id);

  // The canonical RuleSet compiles again to the same version (what
  // activating a stored version relies on).
  rules::Diagnostics again;
  auto recompiled =
      rules::CompiledRuleSet::Compile(v.rule_set, nullptr, &again);
  ASSERT_NE(recompiled, nullptr);
  EXPECT_EQ(recompiled->version(), v.id);
}

TEST(ValidationTest, AFailingTestMakesItInvalidButItStillCompiles) {
  TempDir tmp;
  testing::CopyDefaultRules(tmp.path());
  testing::FailingTest(tmp.path());
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      ValidatedRuleSet v, ValidateRuleFiles(testing::FilesIn(tmp.path())));
  EXPECT_FALSE(v.report.ok());
  EXPECT_EQ(v.report.tests_failed(), 1);
  ASSERT_EQ(v.report.test_failures_size(), 1);
  EXPECT_THAT(v.report.test_failures(0),
              HasSubstr("70-primary-care.test.yaml:"));
  EXPECT_NE(v.compiled, nullptr);
  EXPECT_EQ(v.report.version(), v.id);
  EXPECT_THAT(SummariseReport(v.report), HasSubstr("1 test failing"));
}

TEST(ValidationTest, ABrokenFileIsAFindingWithItsPosition) {
  TempDir tmp;
  testing::CopyDefaultRules(tmp.path());
  testing::BreakSyntax(tmp.path());
  std::vector<v1::RuleFile> files = testing::FilesIn(tmp.path());
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(ValidatedRuleSet v, ValidateRuleFiles(files));
  EXPECT_FALSE(v.report.ok());
  EXPECT_EQ(v.report.version(), "");
  EXPECT_EQ(v.compiled, nullptr);
  EXPECT_EQ(v.id, HashRuleFiles(files));
  bool found = false;
  for (const v1::Finding& f : v.report.findings()) {
    if (f.severity() == "error" && f.file() == "ruleset.yaml" && f.line() > 0) {
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_THAT(SummariseReport(v.report), HasSubstr("ruleset.yaml:"));
}

TEST(ValidationTest, BadNamesAreRefusedBeforeAnythingIsWritten) {
  EXPECT_THAT(ValidateRuleFiles({File("../../etc/passwd.yaml", "x")}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Without ruleset.yaml it is a rule set with an error, not a bad request.
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      ValidatedRuleSet v,
      ValidateRuleFiles({File("x.rules.yaml", "tables: []\n")}));
  EXPECT_FALSE(v.report.ok());
}

v1::RuleSet Load(const std::string& dir) {
  rules::Diagnostics diags;
  auto rs = rules::LoadRuleSet(dir, rules::LoadOptions(), &diags);
  EXPECT_NE(rs, nullptr);
  return rs != nullptr ? rs->proto() : v1::RuleSet();
}

TEST(RowDiffTest, IdenticalRuleSetsHaveNoChanges) {
  v1::RuleSet a = Load(testing::kDefaultRules);
  EXPECT_THAT(DiffRows(a, a), IsEmpty());
}

TEST(RowDiffTest, AChangedCellShowsBeforeAndAfter) {
  TempDir tmp;
  testing::CopyDefaultRules(tmp.path());
  testing::MedicationWithin1H(tmp.path());
  std::vector<v1::RowChange> rows =
      DiffRows(Load(testing::kDefaultRules), Load(tmp.path()));
  ASSERT_EQ(rows.size(), 1u);
  const v1::RowChange& c = rows[0];
  EXPECT_EQ(c.table(), "primary_care");
  EXPECT_EQ(c.row(), "r77_medication_supply");
  EXPECT_EQ(c.kind(), "changed");
  ASSERT_EQ(c.columns_size(), c.before_size());
  ASSERT_EQ(c.columns_size(), c.after_size());
  int changed = 0;
  for (int i = 0; i < c.columns_size(); ++i) {
    if (c.before(i) == c.after(i)) continue;
    ++changed;
    EXPECT_EQ(c.columns(i), "urgency");
    EXPECT_EQ(c.before(i), "WITHIN_2H");
    EXPECT_EQ(c.after(i), "WITHIN_1H");
  }
  EXPECT_EQ(changed, 1);
}

TEST(RowDiffTest, AddedRemovedAndPropertyChanges) {
  v1::RuleSet a;
  a.set_name("x");
  a.set_timezone("Europe/London");
  v1::Table* t = a.add_tables();
  t->set_id("t");
  t->set_hit_policy(v1::HIT_POLICY_FIRST);
  t->add_inputs()->set_name("age");
  t->add_output_columns("urgency");
  v1::Row* r1 = t->add_rows();
  r1->set_id("r1");
  r1->add_inputs("< 16");
  r1->add_outputs("WITHIN_1H");
  v1::Row* r2 = t->add_rows();
  r2->set_id("r2");
  r2->add_inputs("-");
  r2->add_outputs("WITHIN_4H");
  v1::Table* gone = a.add_tables();
  gone->set_id("gone");
  gone->add_rows()->set_id("g1");

  v1::RuleSet b = a;
  b.set_timezone("UTC");
  b.mutable_tables()->RemoveLast();
  b.mutable_tables(0)->set_hit_policy(v1::HIT_POLICY_PRIORITY);
  b.mutable_tables(0)->mutable_rows()->RemoveLast();  // r2 removed
  v1::Row* r3 = b.mutable_tables(0)->add_rows();
  r3->set_id("r3");
  r3->add_inputs(">= 90");
  r3->add_outputs("WITHIN_2H");
  b.mutable_tables(0)->mutable_rows(0)->set_safety_critical(true);
  v1::Table* added = b.add_tables();
  added->set_id("new");
  added->add_rows()->set_id("n1");

  std::vector<std::string> summary;
  for (const v1::RowChange& c : DiffRows(a, b)) {
    summary.push_back(c.table() + "/" + c.row() + " " + c.kind());
  }
  EXPECT_THAT(summary,
              ElementsAre("/ changed",     // timezone
                          "t/ changed",    // hit policy
                          "t/r1 changed",  // safety_critical
                          "t/r3 added", "t/r2 removed", "new/ added",
                          "new/n1 added", "gone/ removed", "gone/g1 removed"));
  std::vector<v1::RowChange> rows = DiffRows(a, b);
  EXPECT_THAT(rows[0].columns(), ElementsAre("timezone"));
  EXPECT_THAT(rows[1].columns(), ElementsAre("hit_policy"));
  EXPECT_THAT(rows[2].columns(),
              ElementsAre("age", "urgency", "safety_critical"));
  EXPECT_THAT(rows[2].before(), ElementsAre("< 16", "WITHIN_1H", "no"));
  EXPECT_THAT(rows[2].after(), ElementsAre("< 16", "WITHIN_1H", "yes"));
  EXPECT_THAT(rows[3].after(), ElementsAre(">= 90", "WITHIN_2H"));
  EXPECT_THAT(rows[3].before(), IsEmpty());
  EXPECT_THAT(rows[4].before(), ElementsAre("-", "WITHIN_4H"));
  EXPECT_THAT(rows[4].after(), Not(ElementsAre("-")));
}

}  // namespace
}  // namespace frontdoor::rulesets
