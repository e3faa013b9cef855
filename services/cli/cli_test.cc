// Runs the built `frontdoor` binary (FRONTDOOR_BIN, set by CMake) from the
// source tree and checks its output and exit codes.

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "frontdoor/v1/triage.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

#ifndef FRONTDOOR_BIN
#error "FRONTDOOR_BIN must name the frontdoor binary"
#endif

namespace frontdoor::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A small, complete rule set (formatted, lint-clean, tests passing).
constexpr char kMini[] = "services/cli/testdata/mini";
constexpr char kDefault[] = "triage-rules/community-spa";
constexpr char kExamples[] = "examples/referrals";

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "exit " << r.code << "\n--- stdout\n"
            << r.out << "--- stderr\n"
            << r.err;
}

std::string ShellQuote(absl::string_view s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

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

// "line:col" (1-based) of the first occurrence of `needle` in `text`.
std::string PosOf(absl::string_view text, absl::string_view needle) {
  size_t at = text.find(needle);
  EXPECT_NE(at, absl::string_view::npos) << needle;
  if (at == absl::string_view::npos) return "?";
  size_t line_start = text.rfind('\n', at);
  line_start = line_start == absl::string_view::npos ? 0 : line_start + 1;
  int line = 1 + std::count(text.begin(), text.begin() + at, '\n');
  return absl::StrCat(line, ":", at - line_start + 1);
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (fs::path(::testing::TempDir()) / "cli_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    tmp_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }

  // Runs frontdoor with `args`, feeding `input` on standard input.
  Result Run(const std::vector<std::string>& args,
             absl::string_view input = "") {
    const fs::path in = tmp_ / "stdin", err = tmp_ / "stderr";
    WriteAll(in, input);
    std::string cmd = ShellQuote(FRONTDOOR_BIN);
    for (const auto& a : args) absl::StrAppend(&cmd, " ", ShellQuote(a));
    absl::StrAppend(&cmd, " <", ShellQuote(in.string()), " 2>",
                    ShellQuote(err.string()));
    Result r;
    FILE* pipe = popen(cmd.c_str(), "r");
    if (pipe == nullptr) {
      ADD_FAILURE() << "popen failed: " << cmd;
      return r;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) r.out.append(buf, n);
    int status = pclose(pipe);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.err = ReadAll(err);
    return r;
  }

  // Copies the rule set `src` to a fresh directory under the test's
  // temporary directory.
  fs::path CopyRuleSet(const fs::path& src, const std::string& name) {
    fs::path dst = tmp_ / name;
    fs::create_directories(dst);
    for (const auto& e : fs::directory_iterator(src)) {
      if (e.is_regular_file())
        fs::copy_file(e.path(), dst / e.path().filename());
    }
    return dst;
  }

  // The "version <hex>" line of a clean lint.
  std::string LintVersion(const fs::path& dir) {
    Result r = Run({"rules", "lint", dir.string()});
    EXPECT_EQ(r.code, 0) << r;
    std::smatch m;
    static const std::regex kVersion("\nversion ([0-9a-f]{64})\n");
    if (!std::regex_search(r.out, m, kVersion)) {
      ADD_FAILURE() << "no version line\n" << r;
      return "";
    }
    return m[1];
  }

  fs::path tmp_;
};

// --- help and usage
// -----------------------------------------------------------

TEST_F(CliTest, HelpPrintsUsageAndExitsZero) {
  Result r = Run({"--help"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr("usage: frontdoor"), HasSubstr("rules")));
  EXPECT_THAT(r.err, IsEmpty());

  r = Run({"rules", "--help"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr("lint DIR"), HasSubstr("test DIR"),
                           HasSubstr("explain DIR"), HasSubstr("fmt DIR")));

  r = Run({"rules", "explain", "--help"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("--json"));
}

TEST_F(CliTest, UnknownCommandPrintsUsageOnStderrAndExitsTwo) {
  Result r = Run({"frobnicate"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, AllOf(HasSubstr("unknown command 'frobnicate'"),
                           HasSubstr("usage: frontdoor")));

  r = Run({"rules", "frobnicate", kMini});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_THAT(r.err, AllOf(HasSubstr("unknown command 'frobnicate'"),
                           HasSubstr("usage: frontdoor rules")));
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  const std::string mini = kMini;
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"rules"},
      {"rules", "lint"},
      {"rules", "lint", mini, mini},
      {"rules", "lint", mini, "--bogus"},
      {"rules", "lint", "no/such/dir"},
      {"rules", "lint", mini + "/ruleset.yaml"},
      {"rules", "test"},
      {"rules", "test", mini, "--json"},
      {"rules", "test", "no/such/dir"},
      {"rules", "explain"},
      {"rules", "explain", mini, "a.json", "b.json"},
      {"rules", "explain", mini, "--verbose"},
      {"rules", "explain", "no/such/dir", "-"},
      {"rules", "fmt"},
      {"rules", "fmt", mini, "--verbose"},
      {"rules", "fmt", "no/such/dir"},
  };
  for (const auto& args : cases) {
    Result r = Run(args);
    EXPECT_EQ(r.code, 2) << "frontdoor " << absl::StrJoin(args, " ") << "\n"
                         << r;
    EXPECT_THAT(r.out, IsEmpty()) << absl::StrJoin(args, " ");
    EXPECT_THAT(r.err, Not(IsEmpty())) << absl::StrJoin(args, " ");
  }
}

TEST_F(CliTest, MissingDirectoryAndFileAreNamedWithTheReason) {
  Result r = Run({"rules", "lint", "no/such/dir"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_THAT(r.err, HasSubstr("no/such/dir: No such file or directory"));

  r = Run({"rules", "explain", kMini, "no/such/referral.json"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_THAT(r.err, HasSubstr("cannot read no/such/referral.json: No such "
                               "file or directory"));
}

// --- lint
// -----------------------------------------------------------------------

TEST_F(CliTest, LintCleanRuleSetExitsZeroWithSummaryAndVersion) {
  Result r = Run({"rules", "lint", kMini});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, Not(HasSubstr(": error:")));
  // Warnings are allowed (this set leaves most pathways unreachable).
  EXPECT_THAT(r.out, ContainsRegex("\n0 errors, [0-9]+ warnings?\nversion "
                                   "[0-9a-f]{64}\n$"));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(kMini, "/ruleset.yaml: warning:")));
}

// Every problem below is in one file; lint must report each with its
// file:line:col.
constexpr absl::string_view kBrokenRules =
    "tables:\n"
    "  - id: red_flags\n"
    "    title: &title Red flags\n"
    "    hit_policy: priority\n"
    "    inputs:\n"
    "      problem: problem\n"
    "      rr: observations.respiratory_rate\n"
    "    outputs:\n"
    "      pathway: decision\n"
    "      urgency: decision\n"
    "    rows: |\n"
    "      | id        | problem | rr    | colour | pathway      | urgency   "
    "| source | sc  |\n"
    "      # fast breathing first,\ta tab\n"
    "      | rr_high   | -       | >= 25 | red    | ACUTE        | WITHIN_1H "
    "| local  | yes |\n"
    "      | fall      | FALLL   | -     | -      | UCR          | WITHIN_2H "
    "| local  | -   |\n"
    "      | otherwise | -       | -     | -      | PRIMARY_CARE | local  | - "
    "|\n";

TEST_F(CliTest, LintBrokenRuleSetReportsEachProblemWithItsPosition) {
  fs::path dir = tmp_ / "broken";
  fs::create_directories(dir);
  fs::copy_file(fs::path(kMini) / "ruleset.yaml", dir / "ruleset.yaml");
  WriteAll(dir / "bad.rules.yaml", kBrokenRules);

  Result r = Run({"rules", "lint", dir.string()});
  EXPECT_EQ(r.code, 1) << r;
  const std::string file = (dir / "bad.rules.yaml").string();
  struct Expected {
    const char* what;
    std::string pos;
    const char* code;
  };
  const Expected expected[] = {
      {"anchor", PosOf(kBrokenRules, "&title"), "yaml-anchor"},
      {"tab", PosOf(kBrokenRules, "\t"), "yaml-tab"},
      {"unknown column", PosOf(kBrokenRules, "colour"), "unknown-column"},
      {"typo'd enum value", PosOf(kBrokenRules, "FALLL"), "bad-(cell|enum)"},
      {"ragged row", PosOf(kBrokenRules, "otherwise"), "ragged-row"},
  };
  for (const Expected& e : expected) {
    EXPECT_THAT(
        r.out, ContainsRegex(absl::StrCat(file, ":", e.pos,
                                          ": error: [^\n]*\\[", e.code, "\\]")))
        << e.what << " at " << e.pos << "\n"
        << r;
  }
  EXPECT_THAT(r.out,
              ContainsRegex("\n[1-9][0-9]* errors?, [0-9]+ warnings?\n$"));
  EXPECT_THAT(r.out, Not(HasSubstr("\nversion ")));
}

// --- test
// -----------------------------------------------------------------------

TEST_F(CliTest, TestPassingRuleSetExitsZero) {
  Result r = Run({"rules", "test", kMini});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("5 passed, 0 failed"));
  EXPECT_THAT(r.out, HasSubstr("row coverage: 4/4"));
  EXPECT_THAT(r.out, Not(HasSubstr("PASS")));

  r = Run({"rules", "test", kMini, "--verbose"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("PASS  fall with normal breathing goes to UCR"));
}

TEST_F(CliTest, TestFailingCaseExitsOne) {
  fs::path dir = CopyRuleSet(kMini, "failing");
  std::string tests = ReadAll(dir / "triage.test.yaml");
  tests = absl::StrReplaceAll(
      tests, {{"      pathway: UCR\n", "      pathway: ACUTE\n"}});
  WriteAll(dir / "triage.test.yaml", tests);
  Result r = Run({"rules", "test", dir.string()});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr("FAIL  triage.test.yaml:"),
                           HasSubstr("fall with normal breathing goes to UCR"),
                           HasSubstr("4 passed, 1 failed")));
}

TEST_F(CliTest, TestOnARuleSetThatDoesNotLoadPrintsErrorsAndExitsOne) {
  fs::path dir = CopyRuleSet(kMini, "broken");
  WriteAll(dir / "triage.rules.yaml", kBrokenRules);
  Result r = Run({"rules", "test", dir.string()});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.out, HasSubstr("[unknown-column]"));
  EXPECT_THAT(r.out, Not(HasSubstr("passed")));
}

// --- explain
// --------------------------------------------------------------------

constexpr absl::string_view kFallReferral = R"({
  "patient": {"nhs_number": "9434765919"},
  "problem": "PRESENTING_PROBLEM_FALL",
  "received_at": "2026-11-23T10:00:00Z",
  "observations": {"respiratory_rate": 16}
})";

TEST_F(CliTest, ExplainPrintsThePathwayAndWhy) {
  WriteAll(tmp_ / "fall.json", kFallReferral);
  Result r = Run({"rules", "explain", kMini, (tmp_ / "fall.json").string()});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr("Pathway:  UCR\n"),
                           HasSubstr("Urgency:  WITHIN_2H"),
                           HasSubstr("red_flags/fall"),
                           HasSubstr("Rule set: cli-mini version ")));
  EXPECT_THAT(r.err, IsEmpty());
}

TEST_F(CliTest, ExplainReadsStandardInput) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"rules", "explain", kMini, "-"},
        std::vector<std::string>{"rules", "explain", kMini}}) {
    Result r = Run(args, kFallReferral);
    EXPECT_EQ(r.code, 0) << r;
    EXPECT_THAT(r.out, HasSubstr("Pathway:  UCR\n"));
  }
}

TEST_F(CliTest, ExplainJsonPrintsTheDecisionWithProtoFieldNames) {
  Result r = Run({"rules", "explain", kMini, "-", "--json"}, kFallReferral);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr("\"rule_set_name\""),
                           HasSubstr("\"decisive_row\": \"red_flags/fall\"")));
  v1::TriageDecision d;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &d).ok())
      << r.out;
  EXPECT_EQ(d.pathway(), v1::PATHWAY_UCR);
  EXPECT_EQ(d.urgency(), v1::URGENCY_WITHIN_2H);
  EXPECT_EQ(d.rule_set_name(), "cli-mini");
}

TEST_F(CliTest, ExplainEveryExampleReferral) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(kExamples, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().extension() == ".json") files.push_back(it->path());
  }
  if (files.empty()) GTEST_SKIP() << "no " << kExamples << "/*.json";
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    Result r = Run({"rules", "explain", kMini, f.string()});
    EXPECT_EQ(r.code, 0) << f << "\n" << r;
    EXPECT_THAT(r.out, ContainsRegex("^Pathway:  [A-Z_]+\nUrgency:  ")) << f;
  }
  // This rule set's answers for the examples whose content we know.
  const std::pair<const char*, const char*> known[] = {
      {"ucr-fall-morning.json", "UCR"},
      {"missing-observations.json", "CLINICAL_REVIEW"},
      {"news2-7-acute-deterioration.json", "ACUTE"},
  };
  for (const auto& [name, pathway] : known) {
    fs::path f = fs::path(kExamples) / name;
    if (!fs::exists(f)) continue;
    Result r = Run({"rules", "explain", kMini, f.string()});
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("Pathway:  ", pathway, "\n")))
        << f << "\n"
        << r;
  }
}

TEST_F(CliTest, ExplainUnknownFieldIsAnInvalidReferral) {
  fs::path f = tmp_ / "odd.json";
  WriteAll(f, R"({"problem": "PRESENTING_PROBLEM_FALL", "colour": "blue"})");
  Result r = Run({"rules", "explain", kMini, f.string()});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, AllOf(HasSubstr(f.string()), HasSubstr("colour")));

  r = Run({"rules", "explain", kMini}, R"({"observations": {"rr": 12}})");
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, AllOf(HasSubstr("<stdin>"), HasSubstr("rr")));
}

TEST_F(CliTest, ExplainMalformedReferralsExitOne) {
  for (absl::string_view json :
       {R"({"problem": "FALLL"})", R"({"observations": {"pulse": "fast"}})",
        R"({"problem":)", "not json"}) {
    Result r = Run({"rules", "explain", kMini, "-"}, json);
    EXPECT_EQ(r.code, 1) << json << "\n" << r;
    EXPECT_THAT(r.err, HasSubstr("<stdin>: invalid referral: ")) << json;
  }
}

TEST_F(CliTest, ExplainWithABrokenRuleSetExitsOne) {
  fs::path dir = CopyRuleSet(kMini, "broken");
  WriteAll(dir / "triage.rules.yaml", kBrokenRules);
  Result r = Run({"rules", "explain", dir.string(), "-"}, kFallReferral);
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, AllOf(HasSubstr("[unknown-column]"),
                           HasSubstr("frontdoor rules lint")));
}

// --- fmt
// ------------------------------------------------------------------------

// The same table lines with their spacing squeezed: what a hurried author
// might write.
std::string Untidy(absl::string_view text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  bool first = true;  // the block's first line sets its indentation
  for (std::string& line : lines) {
    if (!absl::StartsWith(line, "      |")) continue;
    std::string squeezed = "      ";
    for (char c : line.substr(squeezed.size())) {
      if (c == ' ' && !squeezed.empty() && squeezed.back() == ' ') continue;
      squeezed.push_back(c);
    }
    line = absl::StrReplaceAll(squeezed, {{"| ", "|"}});
    if (!first) line.insert(0, line.size() % 3, ' ');  // uneven indentation
    first = false;
  }
  return absl::StrJoin(lines, "\n");
}

TEST_F(CliTest, FmtCheckOnAFormattedRuleSetExitsZero) {
  Result r = Run({"rules", "fmt", kMini, "--check"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, IsEmpty());
}

TEST_F(CliTest, FmtRewritesUntidyFilesAndKeepsTheVersion) {
  const std::string tidy = ReadAll(fs::path(kMini) / "triage.rules.yaml");
  fs::path dir = CopyRuleSet(kMini, "untidy");
  const fs::path file = dir / "triage.rules.yaml";
  const std::string untidy = Untidy(tidy);
  ASSERT_NE(untidy, tidy);
  WriteAll(file, untidy);
  ASSERT_EQ(chmod(file.c_str(), 0640), 0);
  const std::string version = LintVersion(kMini);
  EXPECT_EQ(LintVersion(dir), version);

  Result r = Run({"rules", "fmt", dir.string(), "--check"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_EQ(r.out, file.string() + "\n");
  EXPECT_EQ(ReadAll(file), untidy) << "--check must not write";

  r = Run({"rules", "fmt", dir.string()});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "formatted " + file.string() + "\n");
  EXPECT_EQ(ReadAll(file), tidy);
  struct stat st;
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u) << "permissions kept";
  EXPECT_EQ(LintVersion(dir), version);

  r = Run({"rules", "fmt", dir.string(), "--check"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, IsEmpty());
  // No temporary files left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 3);
}

TEST_F(CliTest, FmtReportsFilesItCannotReadAsYaml) {
  fs::path dir = CopyRuleSet(kMini, "unreadable");
  WriteAll(dir / "zz.rules.yaml", "tables:\n  - id: [oops\n");
  Result r = Run({"rules", "fmt", dir.string(), "--check"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err,
              ContainsRegex(absl::StrCat((dir / "zz.rules.yaml").string(),
                                         ":[0-9]+:[0-9]+: ")));
  EXPECT_EQ(ReadAll(dir / "zz.rules.yaml"), "tables:\n  - id: [oops\n");
}

// --- the default rule set (being written; smoke tests only)
// -------------------

TEST_F(CliTest, DefaultRuleSetSmoke) {
  if (!fs::exists(fs::path(kDefault) / "ruleset.yaml")) {
    GTEST_SKIP() << kDefault << " has no ruleset.yaml yet";
  }
  Result lint = Run({"rules", "lint", kDefault});
  EXPECT_THAT(lint.code, ::testing::AnyOf(0, 1)) << lint;
  EXPECT_THAT(lint.out, ContainsRegex("[0-9]+ errors?, [0-9]+ warnings?"));
  if (lint.code != 0) {
    std::cerr << "note: " << kDefault << " does not lint clean yet:\n"
              << lint.out;
    return;
  }
  for (const auto& e : fs::directory_iterator(kExamples)) {
    if (e.path().extension() != ".json") continue;
    Result r = Run({"rules", "explain", kDefault, e.path().string()});
    EXPECT_EQ(r.code, 0) << e.path() << "\n" << r;
    EXPECT_THAT(r.out, ContainsRegex("^Pathway:  [A-Z_]+\n")) << e.path();
  }
  Result check = Run({"rules", "fmt", kDefault, "--check"});
  EXPECT_THAT(check.code, ::testing::AnyOf(0, 1)) << check;
  if (check.code != 0) {
    std::cerr << "note: " << kDefault << " is not formatted yet:\n"
              << check.out;
  }
  // Formatting a copy makes it fmt-clean and keeps its version.
  fs::path copy = CopyRuleSet(kDefault, "default");
  Result fmt = Run({"rules", "fmt", copy.string()});
  EXPECT_EQ(fmt.code, 0) << fmt;
  Result recheck = Run({"rules", "fmt", copy.string(), "--check"});
  EXPECT_EQ(recheck.code, 0) << recheck;
  EXPECT_EQ(LintVersion(copy), LintVersion(kDefault));
}

}  // namespace
}  // namespace frontdoor::cli
