#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_FMT_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_FMT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace frontdoor::rules {

// Formats the text of a *.rules.yaml file: every pipe table inside a
// `rows: |` block of a table is aligned, each column padded to its widest
// cell with one space either side of every cell, and every table line
// indented to the block's indentation. Separator lines (`|---|:--|`) are
// redrawn to the column widths.
//
// Only whitespace inside row blocks changes: cell contents, comment lines,
// blank lines, line endings (LF or CRLF, and a last line without one) and
// everything outside row blocks are kept byte for byte, and no line is added
// or removed, so the rule set's version and every diagnostic position stay
// the same. Formatting is idempotent.
//
// Returns InvalidArgument ("line:col: message") if the text is not YAML the
// rule loader can read at all; problems the loader would report but can read
// past (tabs, anchors, unknown keys, ragged rows) do not stop formatting.
absl::StatusOr<std::string> FormatRulesFile(absl::string_view text);

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_FMT_H_
