#include "services/triage/engine/fmt.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/triage/engine/diagnostic.h"
#include "services/triage/engine/yaml_subset.h"

namespace frontdoor::rules {
namespace {

// One line of the file without its terminator; `cr` is set when the line
// ended in "\r\n" (the '\r' is not part of `body`).
struct Line {
  absl::string_view body;
  bool cr = false;
};

std::vector<Line> SplitLines(absl::string_view text) {
  std::vector<Line> lines;
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    Line line{l, false};
    if (!l.empty() && l.back() == '\r') {
      line.body.remove_suffix(1);
      line.cr = true;
    }
    lines.push_back(line);
  }
  return lines;
}

bool IsBlank(absl::string_view s) {
  return s.find_first_not_of(' ') == absl::string_view::npos;
}

int Indent(absl::string_view s) {
  size_t i = s.find_first_not_of(' ');
  return static_cast<int>(i == absl::string_view::npos ? s.size() : i);
}

// Columns on screen, counting each UTF-8 code point as one.
size_t DisplayWidth(absl::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// A `rows: |` block: where its indicator is and how far its parent map is
// indented (the block's lines must be indented further).
struct RowsBlock {
  int indicator_line = 0;  // 1-based
  int indicator_col = 0;   // 1-based
  int parent_indent = 0;
};

// The row blocks of every table, found the way the loader finds them.
std::vector<RowsBlock> FindRowsBlocks(const YamlNode& root) {
  std::vector<RowsBlock> blocks;
  if (root.kind != YamlNode::Kind::kMap) return blocks;
  const YamlNode* tables = root.Find("tables");
  if (tables == nullptr || tables->kind != YamlNode::Kind::kSequence) {
    return blocks;
  }
  for (const auto& table : tables->items) {
    if (table->kind != YamlNode::Kind::kMap) continue;
    const YamlNode::Entry* rows = table->FindEntry("rows");
    if (rows == nullptr || rows->value == nullptr ||
        rows->value->kind != YamlNode::Kind::kScalar ||
        !rows->value->block_scalar) {
      continue;
    }
    blocks.push_back(
        {rows->value->pos.line, rows->value->pos.col, rows->key_pos.col - 1});
  }
  return blocks;
}

// True if `header` (a block header from its indicator on) is a literal
// block with at most a chomping indicator: `|`, `|-` or `|+`, then nothing
// but spaces and a comment. Folded blocks and explicit indentation
// indicators are left alone.
bool IsPlainLiteralHeader(absl::string_view header) {
  if (header.empty() || header[0] != '|') return false;
  size_t i = 1;
  if (i < header.size() && (header[i] == '-' || header[i] == '+')) ++i;
  absl::string_view rest = header.substr(i);
  if (rest.empty()) return true;
  if (rest[0] != ' ') return false;
  rest = absl::StripLeadingAsciiWhitespace(rest);
  return rest.empty() || rest[0] == '#';
}

// Splits a table line into its cells (trimmed) if it is one: after the
// indentation it starts and ends with '|'. Mirrors the loader's reading.
bool SplitCells(absl::string_view body, std::vector<absl::string_view>* cells) {
  cells->clear();
  absl::string_view t = absl::StripAsciiWhitespace(body);
  if (t.size() < 2 || t.front() != '|' || t.back() != '|') return false;
  t = t.substr(1, t.size() - 2);
  for (absl::string_view cell : absl::StrSplit(t, '|')) {
    cells->push_back(absl::StripAsciiWhitespace(cell));
  }
  return true;
}

// A Markdown-style separator: every cell is dashes with optional colons at
// either end, and at least one cell is three characters or more (so that a
// row of '-' cells stays a row).
bool IsSeparator(const std::vector<absl::string_view>& cells) {
  bool long_cell = false;
  for (absl::string_view c : cells) {
    absl::string_view d = c;
    if (!d.empty() && d.front() == ':') d.remove_prefix(1);
    if (!d.empty() && d.back() == ':') d.remove_suffix(1);
    if (d.empty() || d.find_first_not_of('-') != absl::string_view::npos) {
      return false;
    }
    long_cell = long_cell || c.size() >= 3;
  }
  return long_cell;
}

struct TableLine {
  size_t index;  // into the file's lines
  bool separator = false;
  std::vector<absl::string_view> cells;
};

// Aligns the table lines among lines [begin, end), writing the new text of
// each changed line into `out` (indexed like the file's lines).
void FormatBlock(const std::vector<Line>& lines, size_t begin, size_t end,
                 int indent, std::vector<std::string>* out,
                 std::vector<bool>* replaced) {
  std::vector<TableLine> table;
  std::vector<size_t> widths;
  std::vector<absl::string_view> cells;
  for (size_t i = begin; i < end; ++i) {
    if (!SplitCells(lines[i].body, &cells)) continue;  // comment, blank, other
    TableLine tl{i, IsSeparator(cells), cells};
    if (!tl.separator) {
      if (widths.size() < cells.size()) widths.resize(cells.size(), 1);
      for (size_t k = 0; k < cells.size(); ++k) {
        widths[k] = std::max(widths[k], DisplayWidth(cells[k]));
      }
    }
    table.push_back(std::move(tl));
  }
  const std::string pad(indent, ' ');
  for (const TableLine& tl : table) {
    std::string s = pad;
    for (size_t k = 0; k < tl.cells.size(); ++k) {
      absl::string_view c = tl.cells[k];
      size_t w = k < widths.size() ? widths[k] : 1;
      if (tl.separator) {
        bool left = c.front() == ':';
        bool right = c.size() > 1 && c.back() == ':';
        absl::StrAppend(&s, "|", left ? ":" : "",
                        std::string(w + 2 - left - right, '-'),
                        right ? ":" : "");
      } else {
        absl::StrAppend(&s, "| ", c, std::string(w - DisplayWidth(c), ' '),
                        " ");
      }
    }
    absl::StrAppend(&s, "|");
    if (lines[tl.index].cr) s.push_back('\r');
    (*out)[tl.index] = std::move(s);
    (*replaced)[tl.index] = true;
  }
}

}  // namespace

absl::StatusOr<std::string> FormatRulesFile(absl::string_view text) {
  Diagnostics diags;
  std::unique_ptr<YamlNode> root = ParseStrictYaml(text, "", &diags);
  if (root == nullptr) {
    for (const Diagnostic& d : diags.items()) {
      if (d.code == "yaml-syntax" || d.code == "not-text") {
        return absl::InvalidArgumentError(
            absl::StrCat(d.pos.line, ":", d.pos.col, ": ", d.message));
      }
    }
    return std::string(text);  // empty: nothing to format
  }
  std::vector<Line> lines = SplitLines(text);
  std::vector<std::string> out(lines.size());
  std::vector<bool> replaced(lines.size(), false);
  for (const RowsBlock& b : FindRowsBlocks(*root)) {
    if (b.indicator_line < 1 ||
        b.indicator_line > static_cast<int>(lines.size())) {
      continue;
    }
    absl::string_view header = lines[b.indicator_line - 1].body;
    if (b.indicator_col < 1 ||
        b.indicator_col > static_cast<int>(header.size()) ||
        !IsPlainLiteralHeader(header.substr(b.indicator_col - 1))) {
      continue;
    }
    // The block's indentation is that of its first non-blank line; it ends
    // before the first non-blank line indented less.
    size_t first = b.indicator_line;  // 0-based index of the next line
    while (first < lines.size() && IsBlank(lines[first].body)) ++first;
    if (first == lines.size()) continue;
    const int indent = Indent(lines[first].body);
    if (indent <= b.parent_indent) continue;  // empty block
    size_t end = first;
    while (end < lines.size() &&
           (IsBlank(lines[end].body) || Indent(lines[end].body) >= indent)) {
      ++end;
    }
    FormatBlock(lines, first, end, indent, &out, &replaced);
  }
  std::string result;
  result.reserve(text.size() + text.size() / 4);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) result.push_back('\n');
    if (replaced[i]) {
      result += out[i];
    } else {
      absl::StrAppend(&result, lines[i].body, lines[i].cr ? "\r" : "");
    }
  }
  return result;
}

}  // namespace frontdoor::rules
