#include "services/rulesets/validation.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/status_macros.h"
#include "services/rulesets/rule_files.h"
#include "services/triage/engine/analysis.h"
#include "services/triage/engine/diagnostic.h"
#include "services/triage/engine/loader.h"
#include "services/triage/engine/test_runner.h"

namespace frontdoor::rulesets {
namespace {

namespace fs = std::filesystem;

// A fresh private directory, removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
        "/frontdoor_ruleset_XXXXXX";
    if (char* made = ::mkdtemp(templ.data()); made != nullptr) path_ = made;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const char* SeverityName(rules::Diagnostic::Severity s) {
  switch (s) {
    case rules::Diagnostic::Severity::kError:
      return "error";
    case rules::Diagnostic::Severity::kWarning:
      return "warning";
    case rules::Diagnostic::Severity::kNote:
      return "note";
  }
  return "error";
}

std::string Plural(int n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

}  // namespace

absl::StatusOr<ValidatedRuleSet> ValidateRuleFiles(
    const std::vector<v1::RuleFile>& files) {
  FRONTDOOR_RETURN_IF_ERROR(CheckRuleFiles(files));
  ScratchDir dir;
  if (dir.path().empty()) {
    return absl::UnavailableError("cannot create a temporary directory");
  }
  FRONTDOOR_RETURN_IF_ERROR(WriteRuleFiles(files, dir.path()));

  rules::LoadOptions options;
  options.max_file_bytes = kMaxRuleFileBytes;
  options.max_files = kMaxRuleFiles;
  rules::Diagnostics diags;
  v1::RuleSet proto;
  rules::SourceMap sources;
  const bool read_ok =
      rules::ReadRuleSetFiles(dir.path(), options, &proto, &sources, &diags);
  ValidatedRuleSet out;
  out.report.set_name(proto.name());
  // Compile even after read errors so that every problem is reported at
  // once; the result is then discarded.
  std::shared_ptr<const rules::CompiledRuleSet> compiled =
      rules::CompiledRuleSet::Compile(std::move(proto), &sources, &diags);
  if (!read_ok) compiled = nullptr;
  rules::TestReport tests;
  if (compiled != nullptr) {
    rules::Analyse(*compiled, &diags);
    tests = rules::RunTests(*compiled);
  }

  v1::ValidationReport& report = out.report;
  for (const rules::Diagnostic& d : diags.items()) {
    v1::Finding* f = report.add_findings();
    f->set_severity(SeverityName(d.severity));
    f->set_file(d.file);
    f->set_line(d.pos.line);
    f->set_column(d.pos.col);
    f->set_code(d.code);
    f->set_message(d.message);
    f->set_example(d.example);
  }
  report.set_tests_passed(tests.passed);
  report.set_tests_failed(tests.failed);
  for (const rules::TestCaseResult& c : tests.cases) {
    for (const std::string& failure : c.failures) {
      report.add_test_failures(
          absl::StrCat(c.file, ":", c.pos.line, ": ", c.name, ": ", failure));
    }
    if (!c.passed && c.failures.empty()) {
      report.add_test_failures(
          absl::StrCat(c.file, ":", c.pos.line, ": ", c.name, ": failed"));
    }
  }
  report.set_rows_total(tests.rows_total);
  report.set_rows_covered(tests.rows_covered);
  for (const std::string& row : tests.uncovered_safety_critical) {
    report.add_uncovered_safety_critical(row);
  }
  report.set_ok(compiled != nullptr && !diags.has_errors() && tests.ok());
  if (compiled != nullptr) {
    report.set_version(compiled->version());
    out.id = compiled->version();
    out.rule_set = compiled->proto();
    out.compiled = std::move(compiled);
  } else {
    out.id = HashRuleFiles(files);
  }
  return out;
}

std::string SummariseReport(const v1::ValidationReport& report) {
  if (report.ok()) return "ok";
  int errors = 0;
  const v1::Finding* first = nullptr;
  for (const v1::Finding& f : report.findings()) {
    if (f.severity() != "error") continue;
    ++errors;
    if (first == nullptr) first = &f;
  }
  std::vector<std::string> parts;
  if (errors > 0) parts.push_back(Plural(errors, "error", "errors"));
  if (report.version().empty()) parts.push_back("does not compile");
  if (report.tests_failed() > 0) {
    parts.push_back(
        Plural(report.tests_failed(), "test failing", "tests failing"));
  }
  if (report.uncovered_safety_critical_size() > 0) {
    parts.push_back(Plural(report.uncovered_safety_critical_size(),
                           "safety-critical row without a test",
                           "safety-critical rows without a test"));
  }
  std::string out = absl::StrJoin(parts, ", ");
  if (first != nullptr) {
    absl::StrAppend(&out, "; first: ", first->file(), ":", first->line(), ":",
                    first->column(), ": ", first->message(), " [",
                    first->code(), "]");
  } else if (report.test_failures_size() > 0) {
    absl::StrAppend(&out, "; first: ", report.test_failures(0));
  }
  return out;
}

}  // namespace frontdoor::rulesets
