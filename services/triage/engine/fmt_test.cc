#include "services/triage/engine/fmt.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/test_util.h"
#include "services/triage/engine/diagnostic.h"
#include "services/triage/engine/loader.h"

namespace frontdoor::rules {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Formats `input`, expects `expected`, and expects formatting that to change
// nothing (idempotence).
void ExpectFormats(absl::string_view input, absl::string_view expected) {
  absl::StatusOr<std::string> once = FormatRulesFile(input);
  ASSERT_THAT(once, IsOk());
  EXPECT_EQ(*once, expected);
  absl::StatusOr<std::string> twice = FormatRulesFile(*once);
  ASSERT_THAT(twice, IsOk());
  EXPECT_EQ(*twice, *once) << "formatting is not idempotent";
}

void ExpectUnchanged(absl::string_view input) { ExpectFormats(input, input); }

TEST(FmtTest, AlignsEveryColumnToItsWidestCell) {
  ExpectFormats(
      "tables:\n"
      "  - id: t\n"
      "    rows: |\n"
      "      |id|rr|pathway|source|\n"
      "      | r1 | <= 8 |   ACUTE | RCP NEWS2 2017 |\n"
      "      |r2|[9..12)|-|local|\n",
      "tables:\n"
      "  - id: t\n"
      "    rows: |\n"
      "      | id | rr      | pathway | source         |\n"
      "      | r1 | <= 8    | ACUTE   | RCP NEWS2 2017 |\n"
      "      | r2 | [9..12) | -       | local          |\n");
}

TEST(FmtTest, KeepsTheBlockIndentationCommentsAndBlankLines) {
  ExpectFormats(
      "tables:\n"
      "- id: t\n"
      "  rows: |\n"
      "     | id | a |\n"
      "     # first group\n"
      "       | r1 | long value |\n"
      "\n"
      "     #   second group, |odd| comment\n"
      "     | r2 | b |\n",
      "tables:\n"
      "- id: t\n"
      "  rows: |\n"
      "     | id | a          |\n"
      "     # first group\n"
      "     | r1 | long value |\n"
      "\n"
      "     #   second group, |odd| comment\n"
      "     | r2 | b          |\n");
}

TEST(FmtTest, LeavesEverythingOutsideRowBlocksByteForByte) {
  // A pipe table in a description block and in comments is not a row
  // block; odd spacing elsewhere stays too.
  ExpectUnchanged(
      "# |a|b|\n"
      "tables:   # the tables\n"
      "  - id:    t\n"
      "    description: |\n"
      "      |not|a|rule|\n"
      "      | table  |x|\n"
      "    inputs: {a: problem}\n"
      "    rows: |\n"
      "      | id | a |\n"
      "      | r1 | - |\n"
      "\n"
      "# |x|  |y|\n");
}

TEST(FmtTest, FormatsEachTableSeparately) {
  ExpectFormats(
      "tables:\n"
      "  - id: one\n"
      "    rows: |\n"
      "      | id | a |\n"
      "      | r1 | xxxxx |\n"
      "  - id: two\n"
      "    rows: |-\n"
      "      | id | a | b |\n"
      "      | long_row_id | - | - |\n",
      "tables:\n"
      "  - id: one\n"
      "    rows: |\n"
      "      | id | a     |\n"
      "      | r1 | xxxxx |\n"
      "  - id: two\n"
      "    rows: |-\n"
      "      | id          | a | b |\n"
      "      | long_row_id | - | - |\n");
}

TEST(FmtTest, KeepsAMissingFinalNewline) {
  ExpectFormats(
      "tables:\n  - id: t\n    rows: |\n      | id | a |\n      | r1 | bb |",
      "tables:\n  - id: t\n    rows: |\n      | id | a  |\n      | r1 | bb |");
}

TEST(FmtTest, KeepsCrlfLineEndings) {
  ExpectFormats(
      "tables:\r\n  - id: t\r\n    rows: |\r\n      | id | a |\r\n"
      "      | r1 | bb |\r\n",
      "tables:\r\n  - id: t\r\n    rows: |\r\n      | id | a  |\r\n"
      "      | r1 | bb |\r\n");
}

TEST(FmtTest, RedrawsSeparatorLinesKeepingColons) {
  ExpectFormats(
      "tables:\n"
      "  - id: t\n"
      "    rows: |\n"
      "      | id | value | x |\n"
      "      |---|:-|--:|\n"
      "      | r1 | 12345 | y |\n",
      "tables:\n"
      "  - id: t\n"
      "    rows: |\n"
      "      | id | value | x |\n"
      "      |----|:------|--:|\n"
      "      | r1 | 12345 | y |\n");
}

TEST(FmtTest, RowOfDashCellsIsARowNotASeparator) {
  ExpectFormats(
      "tables:\n"
      "  - id: t\n"
      "    rows: |\n"
      "      | id | aaaa |\n"
      "      | - | - |\n",
      "tables:\n"
      "  - id: t\n"
      "    rows: |\n"
      "      | id | aaaa |\n"
      "      | -  | -    |\n");
}

TEST(FmtTest, CountsUtf8CharactersNotBytes) {
  ExpectFormats(
      "tables:\n"
      "  - id: t\n"
      "    rows: |\n"
      "      | id | source |\n"
      "      | r1 | NICE NG51 — sepsis ≥ 5 |\n"
      "      | r2 | local |\n",
      "tables:\n"
      "  - id: t\n"
      "    rows: |\n"
      "      | id | source                 |\n"
      "      | r1 | NICE NG51 — sepsis ≥ 5 |\n"
      "      | r2 | local                  |\n");
}

TEST(FmtTest, AlignsRaggedRowsByPositionAndKeepsOtherLines) {
  // The loader reports ragged rows and lines that are not rows; formatting
  // them only touches whitespace.
  ExpectFormats(
      "tables:\n"
      "  - id: t\n"
      "    rows: |\n"
      "      | id | a | b |\n"
      "      | r1 | xx |\n"
      "      | r2 | - | - | extra |\n"
      "      r3 | not | a row |\n",
      "tables:\n"
      "  - id: t\n"
      "    rows: |\n"
      "      | id | a  | b |\n"
      "      | r1 | xx |\n"
      "      | r2 | -  | - | extra |\n"
      "      r3 | not | a row |\n");
}

TEST(FmtTest, EmptyCellsKeepTheirPlace) {
  ExpectFormats(
      "tables:\n  - id: t\n    rows: |\n      | id || c |\n      |r1|  |x|\n",
      "tables:\n  - id: t\n    rows: |\n      | id |   | c |\n"
      "      | r1 |   | x |\n");
}

TEST(FmtTest, TabsInsideCellsAreWhitespaceAroundCells) {
  // Tabs are load errors, but the formatter can still align around them;
  // the loader strips the same whitespace from every cell.
  ExpectFormats(
      "tables:\n  - id: t\n    rows: |\n      | id |\ta |\n      | r1 | b\t|\n",
      "tables:\n  - id: t\n    rows: |\n      | id | a |\n      | r1 | b |\n");
}

TEST(FmtTest, LeavesFoldedAndExplicitlyIndentedBlocksAlone) {
  ExpectUnchanged(
      "tables:\n"
      "  - id: t\n"
      "    rows: >\n"
      "      | id | a |\n"
      "      | r1 | bb |\n"
      "  - id: u\n"
      "    rows: |2\n"
      "      | id | a |\n"
      "      | r1 | bb |\n");
}

TEST(FmtTest, LeavesFilesWithoutTablesAlone) {
  ExpectUnchanged("");
  ExpectUnchanged("# nothing but a comment\n");
  ExpectUnchanged(
      "ruleset: x\n"
      "pathway_order: [ACUTE,    UCR]\n"
      "targets:\n"
      "  IMMEDIATE:   0m\n");
  ExpectUnchanged("cases:\n  - name: a | b | c\n");
  ExpectUnchanged("tables:\n  - id: t\n    rows: \"| id | a |\"\n");
}

TEST(FmtTest, UnreadableYamlIsAnError) {
  EXPECT_THAT(FormatRulesFile("tables:\n  - id: [t\n    rows: |\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":")));
  EXPECT_THAT(FormatRulesFile(absl::string_view("a: b\0", 5)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// --- the rule set's version does not change ---------------------------------

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const fs::path& p, absl::string_view text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << p;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (fs::path(::testing::TempDir()) / "fmt_test.XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The table lines of a file as trimmed cells, in order, without separator
// lines (which the loader skips): what formatting must not change.
std::vector<std::vector<std::string>> CellsOf(absl::string_view text) {
  std::vector<std::vector<std::string>> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    absl::string_view t = absl::StripAsciiWhitespace(line);
    if (t.size() < 2 || t.front() != '|' || t.back() != '|') continue;
    if (t.find_first_not_of("|-: ") == absl::string_view::npos &&
        absl::StrContains(t, '-')) {
      continue;
    }
    std::vector<std::string> cells;
    for (absl::string_view c : absl::StrSplit(t.substr(1, t.size() - 2), '|')) {
      cells.emplace_back(absl::StripAsciiWhitespace(c));
    }
    out.push_back(std::move(cells));
  }
  return out;
}

// Copies every file of `src` to a temporary directory, formats the
// *.rules.yaml ones there, and checks that the rule set reads to the same
// canonical RuleSet, gives the same diagnostics on the same lines and, if
// it loads, loads to the same version. Returns how many files changed.
int FormatCopyAndCompare(const fs::path& src, bool must_load) {
  TempDir tmp;
  int changed = 0;
  for (const auto& entry : fs::directory_iterator(src)) {
    if (!entry.is_regular_file()) continue;
    const fs::path dst = tmp.path() / entry.path().filename();
    std::string text = ReadAll(entry.path());
    if (absl::EndsWith(entry.path().filename().string(), ".rules.yaml")) {
      absl::StatusOr<std::string> formatted = FormatRulesFile(text);
      EXPECT_THAT(formatted, IsOk()) << entry.path();
      if (!formatted.ok()) continue;
      EXPECT_EQ(CellsOf(*formatted), CellsOf(text)) << entry.path();
      EXPECT_EQ(std::count(formatted->begin(), formatted->end(), '\n'),
                std::count(text.begin(), text.end(), '\n'))
          << entry.path();
      EXPECT_EQ(FormatRulesFile(*formatted).value_or(""), *formatted)
          << "not idempotent: " << entry.path();
      if (*formatted != text) ++changed;
      text = *std::move(formatted);
    }
    WriteAll(dst, text);
  }

  v1::RuleSet before, after;
  SourceMap before_sources, after_sources;
  Diagnostics before_read, after_read;
  ReadRuleSetFiles(src.string(), LoadOptions(), &before, &before_sources,
                   &before_read);
  ReadRuleSetFiles(tmp.path().string(), LoadOptions(), &after, &after_sources,
                   &after_read);
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());

  Diagnostics before_diags, after_diags;
  auto before_rs = LoadRuleSet(src.string(), LoadOptions(), &before_diags);
  auto after_rs = LoadRuleSet(tmp.path().string(), LoadOptions(), &after_diags);
  auto summary = [](const Diagnostics& d) {
    std::vector<std::string> out;
    for (const auto& x : d.items()) {
      out.push_back(absl::StrCat(x.file, ":", x.pos.line, " ", x.code));
    }
    return out;
  };
  EXPECT_EQ(summary(after_diags), summary(before_diags));
  if (must_load) {
    for (const auto& d : before_diags.items()) {
      if (d.severity == Diagnostic::Severity::kError) {
        ADD_FAILURE() << FormatDiagnostic(d);
      }
    }
    EXPECT_NE(before_rs, nullptr);
  }
  if (before_rs != nullptr) {
    EXPECT_NE(after_rs, nullptr);
    if (after_rs != nullptr) {
      EXPECT_EQ(after_rs->version(), before_rs->version());
    }
  } else {
    std::cerr << "note: " << src << " does not load; compared the canonical "
              << "RuleSet and diagnostics only\n";
  }
  return changed;
}

constexpr absl::string_view kRuleSetYaml = R"(ruleset: fmt-test
owner: Frontdoor engineering
timezone: Europe/London
pathway_order: [EMERGENCY_SERVICES, ACUTE, CLINICAL_REVIEW, MATERNITY, PAEDIATRIC,
  MENTAL_HEALTH_CRISIS, PALLIATIVE, UCR, VIRTUAL_WARD, COMMUNITY_NURSING,
  PRIMARY_CARE, MENTAL_HEALTH_COMMUNITY, SOCIAL_CARE, ADVICE_ONLY]
targets: {IMMEDIATE: 0m, WITHIN_1H: 1h, WITHIN_2H: 2h, WITHIN_4H: 4h,
  WITHIN_12H: 12h, WITHIN_24H: 24h, WITHIN_48H: 48h, WITHIN_72H: 72h,
  WITHIN_2W: 2w, WITHIN_4W: 4w, NONE: "-"}
missing_data: {pathway: CLINICAL_REVIEW, urgency: WITHIN_1H}
fallback: {pathway: CLINICAL_REVIEW, urgency: WITHIN_4H}
)";

// Deliberately untidy: ragged padding, a comment, a blank line, a separator.
constexpr absl::string_view kUntidyRules = R"(tables:
  - id: breathing
    hit_policy: priority
    inputs:
      rr: observations.respiratory_rate
    outputs: {pathway: decision, urgency: decision}
    rows: |
      |id|rr|pathway|urgency|source|sc|note|
      |---|---|---|---|---|---|---|
      # fast breathing
      | rr_high |>= 25|ACUTE| WITHIN_1H |RCP NEWS2 2017 (RR 25 or more) |yes|  call now  |

      |rr_other| -     | PRIMARY_CARE|WITHIN_2W| local | - | - |
)";

TEST(FmtVersionTest, FormattingAnUntidyRuleSetKeepsItsVersion) {
  TempDir src;
  WriteAll(src.path() / "ruleset.yaml", kRuleSetYaml);
  WriteAll(src.path() / "breathing.rules.yaml", kUntidyRules);
  EXPECT_EQ(FormatCopyAndCompare(src.path(), /*must_load=*/true), 1);
}

TEST(FmtVersionTest, FormattingTheDefaultRuleSetKeepsItsVersion) {
  const fs::path dir = "triage-rules/community-spa";
  if (!fs::is_directory(dir)) GTEST_SKIP() << dir << " does not exist";
  FormatCopyAndCompare(dir, /*must_load=*/false);
}

}  // namespace
}  // namespace frontdoor::rules
