#include "services/triage/engine/diagnostic.h"

#include "absl/strings/str_cat.h"

namespace frontdoor::rules {

std::string FormatDiagnostic(const Diagnostic& d) {
  const char* severity = d.severity == Diagnostic::Severity::kError ? "error"
                         : d.severity == Diagnostic::Severity::kWarning
                             ? "warning"
                             : "note";
  std::string out = d.file.empty() ? "<rule set>" : d.file;
  if (d.pos.line > 0) absl::StrAppend(&out, ":", d.pos.line);
  if (d.pos.col > 0) absl::StrAppend(&out, ":", d.pos.col);
  absl::StrAppend(&out, ": ", severity, ": ", d.message);
  if (!d.code.empty()) absl::StrAppend(&out, " [", d.code, "]");
  if (!d.example.empty()) absl::StrAppend(&out, "\n    example: ", d.example);
  return out;
}

void Diagnostics::Error(absl::string_view file, SourcePos pos,
                        absl::string_view code, std::string message) {
  items_.push_back({Diagnostic::Severity::kError, std::string(file), pos,
                    std::string(code), std::move(message), ""});
}

void Diagnostics::Warning(absl::string_view file, SourcePos pos,
                          absl::string_view code, std::string message) {
  items_.push_back({Diagnostic::Severity::kWarning, std::string(file), pos,
                    std::string(code), std::move(message), ""});
}

bool Diagnostics::has_errors() const { return error_count() > 0; }

int Diagnostics::error_count() const {
  int n = 0;
  for (const auto& d : items_) n += d.severity == Diagnostic::Severity::kError;
  return n;
}

}  // namespace frontdoor::rules
