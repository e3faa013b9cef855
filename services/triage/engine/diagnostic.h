#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_DIAGNOSTIC_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_DIAGNOSTIC_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace frontdoor::rules {

// A position in a rule file, 1-based. 0 means "unknown".
struct SourcePos {
  int line = 0;
  int col = 0;
};

// One problem found while loading, compiling or analysing a rule set,
// written for the clinician who must fix it.
struct Diagnostic {
  enum class Severity { kError, kWarning, kNote };
  Severity severity = Severity::kError;
  std::string file;  // relative to the rule set directory
  SourcePos pos;
  std::string code;     // stable kebab-case id, e.g. "unknown-field"
  std::string message;  // what is wrong and what to do
  // A concrete referral (protobuf JSON) or input assignment showing the
  // problem, for analysis findings.
  std::string example;
};

// "file:line:col: error: message [code]" plus an indented example line.
std::string FormatDiagnostic(const Diagnostic& d);

// Collects diagnostics; not thread-safe.
class Diagnostics {
 public:
  void Add(Diagnostic d) { items_.push_back(std::move(d)); }
  void Error(absl::string_view file, SourcePos pos, absl::string_view code,
             std::string message);
  void Warning(absl::string_view file, SourcePos pos, absl::string_view code,
               std::string message);
  bool has_errors() const;
  int error_count() const;
  const std::vector<Diagnostic>& items() const { return items_; }
  std::vector<Diagnostic>& mutable_items() { return items_; }

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_DIAGNOSTIC_H_
