#include "services/triage/engine/loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/triage/engine/analysis.h"
#include "services/triage/engine/cell.h"
#include "services/triage/engine/proto_yaml.h"
#include "services/triage/engine/yaml_subset.h"

namespace frontdoor::rules {
namespace {

namespace fs = std::filesystem;
using google::protobuf::EnumDescriptor;

bool ValidId(absl::string_view s) {
  if (s.empty() || !(absl::ascii_islower(s[0]) || absl::ascii_isdigit(s[0]))) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '-')) return false;
  }
  return true;
}

// Reads one file's YAML with the subset checks; null on failure.
class FileReader {
 public:
  FileReader(const LoadOptions& options, Diagnostics* diags)
      : options_(options), diags_(diags) {}

  // `name` is the path relative to the rule set directory.
  std::unique_ptr<YamlNode> Read(const fs::path& path, const std::string& name,
                                 std::string* text) {
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec) {
      diags_->Error(name, {}, "io", absl::StrCat("cannot read: ", ec.message()));
      return nullptr;
    }
    if (static_cast<int64_t>(size) > options_.max_file_bytes) {
      diags_->Error(name, {}, "file-too-large",
                    absl::StrCat("file is ", size, " bytes; the limit is ",
                                 options_.max_file_bytes));
      return nullptr;
    }
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in.good() && !in.eof()) {
      diags_->Error(name, {}, "io", "cannot read the file");
      return nullptr;
    }
    *text = ss.str();
    return ParseStrictYaml(*text, name, diags_);
  }

 private:
  const LoadOptions& options_;
  Diagnostics* diags_;
};

// Shared helpers for reading schema'd YAML maps.
class Reader {
 public:
  Reader(std::string file, Diagnostics* diags) : file_(std::move(file)), diags_(diags) {}

  void Error(SourcePos pos, absl::string_view code, std::string msg) {
    diags_->Error(file_, pos, code, std::move(msg));
  }

  // Checks that `node` is a map with only `allowed` keys.
  bool Map(const YamlNode* node, absl::string_view what,
           std::initializer_list<absl::string_view> allowed) {
    if (node == nullptr) return false;
    if (node->kind != YamlNode::Kind::kMap) {
      Error(node->pos, "wrong-shape", absl::StrCat(what, " must be a map, found ", node->KindName()));
      return false;
    }
    // An empty `allowed` list means the keys are names the caller checks.
    for (const auto& e : node->entries) {
      if (allowed.size() > 0 && std::find(allowed.begin(), allowed.end(), e.key) == allowed.end()) {
        Error(e.key_pos, "unknown-key",
              absl::StrCat("unknown key '", e.key, "' in ", what, "; allowed: ",
                           absl::StrJoin(allowed, ", ")));
      }
    }
    return true;
  }

  // A required or optional scalar.
  const YamlNode* Scalar(const YamlNode& map, absl::string_view key, bool required,
                         absl::string_view what) {
    const YamlNode* v = map.Find(key);
    if (v == nullptr) {
      if (required) {
        Error(map.pos, "missing-key", absl::StrCat(what, " needs '", key, "'"));
      }
      return nullptr;
    }
    if (v->kind != YamlNode::Kind::kScalar) {
      Error(v->pos, "wrong-shape", absl::StrCat("'", key, "' must be a single value"));
      return nullptr;
    }
    return v;
  }

  bool Bool(const YamlNode& map, absl::string_view key, bool* out) {
    const YamlNode* v = Scalar(map, key, false, "");
    if (v == nullptr) return true;
    std::string l = absl::AsciiStrToLower(v->scalar);
    if (l == "yes" || l == "true") {
      *out = true;
    } else if (l == "no" || l == "false") {
      *out = false;
    } else {
      Error(v->pos, "bad-value", absl::StrCat("'", key, "' takes yes or no"));
      return false;
    }
    return true;
  }

  template <typename E>
  bool Enum(const YamlNode& v, const EnumDescriptor* type, E* out) {
    const auto* ev = FindEnumValue(type, v.scalar);
    if (ev == nullptr || ev->number() == 0) {
      std::vector<std::string> names;
      for (int i = 1; i < type->value_count(); ++i) names.push_back(ShortEnumName(type->value(i)));
      Error(v.pos, "bad-enum",
            absl::StrCat("'", v.scalar, "' is not a ", type->name(), "; expected one of ",
                         absl::StrJoin(names, ", ")));
      return false;
    }
    *out = static_cast<E>(ev->number());
    return true;
  }

  bool Outcome(const YamlNode* node, absl::string_view what, v1::Outcome* out) {
    if (!Map(node, what, {"pathway", "urgency"})) return false;
    const YamlNode* p = Scalar(*node, "pathway", true, what);
    const YamlNode* u = Scalar(*node, "urgency", true, what);
    v1::Pathway pw;
    v1::Urgency ug;
    if (p && Enum(*p, v1::Pathway_descriptor(), &pw)) out->set_pathway(pw);
    if (u && Enum(*u, v1::Urgency_descriptor(), &ug)) out->set_urgency(ug);
    return true;
  }

  // A list written either as a YAML sequence or as "A, B, C".
  std::vector<const YamlNode*> List(const YamlNode& v, std::vector<YamlNode>* storage) {
    std::vector<const YamlNode*> out;
    if (v.kind == YamlNode::Kind::kSequence) {
      for (const auto& i : v.items) {
        if (i->kind != YamlNode::Kind::kScalar) {
          Error(i->pos, "wrong-shape", "list items must be single values");
          continue;
        }
        out.push_back(i.get());
      }
      return out;
    }
    if (v.kind == YamlNode::Kind::kScalar) {
      storage->reserve(64);
      for (absl::string_view part : absl::StrSplit(v.scalar, ',')) {
        YamlNode n;
        n.pos = v.pos;
        n.scalar = std::string(absl::StripAsciiWhitespace(part));
        if (n.scalar.empty()) continue;
        storage->push_back(std::move(n));
      }
      for (const auto& n : *storage) out.push_back(&n);
      return out;
    }
    Error(v.pos, "wrong-shape", "expected a list");
    return out;
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
  Diagnostics* diags_;
};

bool ParseDuration(absl::string_view s, int* minutes) {
  s = absl::StripAsciiWhitespace(s);
  if (s == "-") {
    *minutes = -1;
    return true;
  }
  if (s.size() < 2) return false;
  char unit = s.back();
  int n;
  if (!absl::SimpleAtoi(s.substr(0, s.size() - 1), &n) || n < 0) return false;
  switch (unit) {
    case 'm':
      *minutes = n;
      return true;
    case 'h':
      *minutes = n * 60;
      return true;
    case 'd':
      *minutes = n * 24 * 60;
      return true;
    case 'w':
      *minutes = n * 7 * 24 * 60;
      return true;
  }
  return false;
}

void ReadRuleSetMeta(const YamlNode& root, Reader& rd, v1::RuleSet* out) {
  if (!rd.Map(&root, "ruleset.yaml",
              {"ruleset", "title", "owner", "description", "timezone", "pathway_order",
               "targets", "missing_data", "fallback"})) {
    return;
  }
  if (const YamlNode* v = rd.Scalar(root, "ruleset", true, "ruleset.yaml")) {
    if (!ValidId(v->scalar)) {
      rd.Error(v->pos, "bad-id", "the rule set name uses lower-case letters, digits and -");
    }
    out->set_name(v->scalar);
  }
  if (const YamlNode* v = rd.Scalar(root, "title", false, "")) out->set_title(v->scalar);
  if (const YamlNode* v = rd.Scalar(root, "owner", true, "ruleset.yaml")) out->set_owner(v->scalar);
  if (const YamlNode* v = rd.Scalar(root, "timezone", true, "ruleset.yaml")) {
    absl::TimeZone tz;
    if (!absl::LoadTimeZone(v->scalar, &tz)) {
      rd.Error(v->pos, "bad-timezone",
               absl::StrCat("unknown time zone '", v->scalar, "' (e.g. Europe/London)"));
    }
    out->set_timezone(v->scalar);
  }
  if (const YamlNode* v = root.Find("pathway_order")) {
    std::vector<YamlNode> storage;
    std::vector<bool> seen(v1::Pathway_descriptor()->value_count() + 1, false);
    for (const YamlNode* item : rd.List(*v, &storage)) {
      v1::Pathway p;
      if (!rd.Enum(*item, v1::Pathway_descriptor(), &p)) continue;
      if (seen[p]) rd.Error(item->pos, "duplicate", absl::StrCat("'", item->scalar, "' listed twice"));
      seen[p] = true;
      out->add_pathway_order(p);
    }
    for (int i = 1; i < v1::Pathway_descriptor()->value_count(); ++i) {
      const auto* ev = v1::Pathway_descriptor()->value(i);
      if (!seen[ev->number()]) {
        rd.Error(v->pos, "incomplete-order",
                 absl::StrCat("pathway_order must list every pathway; ", ShortEnumName(ev),
                              " is missing"));
      }
    }
  } else {
    rd.Error(root.pos, "missing-key", "ruleset.yaml needs 'pathway_order'");
  }
  if (const YamlNode* v = root.Find("targets")) {
    rd.Map(v, "targets", {});
    std::vector<bool> seen(v1::Urgency_descriptor()->value_count() + 1, false);
    for (const auto& e : v->entries) {
      YamlNode key;
      key.pos = e.key_pos;
      key.scalar = e.key;
      v1::Urgency u;
      if (!rd.Enum(key, v1::Urgency_descriptor(), &u)) continue;
      seen[u] = true;
      int minutes;
      if (e.value->kind != YamlNode::Kind::kScalar || !ParseDuration(e.value->scalar, &minutes)) {
        rd.Error(e.value->pos, "bad-value",
                 "a target is a number with m, h, d or w (e.g. 2h), or - for none");
        continue;
      }
      auto* t = out->add_targets();
      t->set_urgency(u);
      t->set_minutes(minutes);
    }
    for (int i = 1; i < v1::Urgency_descriptor()->value_count(); ++i) {
      const auto* ev = v1::Urgency_descriptor()->value(i);
      if (!seen[ev->number()]) {
        rd.Error(v->pos, "incomplete-targets",
                 absl::StrCat("targets must give every urgency; ", ShortEnumName(ev), " is missing"));
      }
    }
  } else {
    rd.Error(root.pos, "missing-key", "ruleset.yaml needs 'targets'");
  }
  const YamlNode* md = root.Find("missing_data");
  if (md == nullptr) {
    rd.Error(root.pos, "missing-key", "ruleset.yaml needs 'missing_data'");
  } else {
    rd.Outcome(md, "missing_data", out->mutable_missing_data());
  }
  const YamlNode* fb = root.Find("fallback");
  if (fb == nullptr) {
    rd.Error(root.pos, "missing-key", "ruleset.yaml needs 'fallback'");
  } else {
    rd.Outcome(fb, "fallback", out->mutable_fallback());
  }
}

std::vector<std::string> SplitLines(absl::string_view text) {
  return absl::StrSplit(text, '\n');
}

// Splits a pipe-table line into trimmed cells with their 1-based columns.
bool SplitPipeLine(absl::string_view line, int col0, std::vector<std::string>* cells,
                   std::vector<int>* cols) {
  cells->clear();
  cols->clear();
  // Files saved with Windows line endings keep a '\r' on each line.
  absl::ConsumeSuffix(&line, "\r");
  size_t first = line.find_first_not_of(' ');
  if (first == absl::string_view::npos || line[first] != '|') return false;
  size_t last = line.find_last_not_of(' ');
  if (line[last] != '|' || last == first) return false;
  size_t start = first + 1;
  while (start <= last) {
    size_t bar = line.find('|', start);
    if (bar == absl::string_view::npos || bar > last) break;
    absl::string_view raw = line.substr(start, bar - start);
    size_t lead = raw.find_first_not_of(' ');
    absl::string_view cell = absl::StripAsciiWhitespace(raw);
    cells->emplace_back(cell);
    cols->push_back(col0 + static_cast<int>(start + (lead == absl::string_view::npos ? 0 : lead)));
    start = bar + 1;
  }
  return true;
}

// A Markdown header separator such as "|----|:---:|": every cell is three or
// more dashes, optionally with colons. A row of '-' cells is data, not this.
bool IsSeparatorLine(absl::string_view line) {
  std::vector<std::string> cells;
  std::vector<int> cols;
  if (!SplitPipeLine(line, 1, &cells, &cols) || cells.empty()) return false;
  for (const std::string& c : cells) {
    absl::string_view v = c;
    absl::ConsumePrefix(&v, ":");
    absl::ConsumeSuffix(&v, ":");
    if (v.size() < 3 || v.find_first_not_of('-') != absl::string_view::npos) return false;
  }
  return true;
}

class TableReader {
 public:
  TableReader(Reader& rd, const std::vector<std::string>& source_lines)
      : rd_(rd), lines_(source_lines) {}

  void Read(const YamlNode& node, v1::Table* t, SourceMap::Table* pos) {
    pos->file = rd_.file();
    pos->pos = node.pos;
    t->set_file(rd_.file());
    if (!rd_.Map(&node, "a table",
                 {"id", "title", "description", "owner", "hit_policy", "mode",
                  "lowers_safety_critical", "score", "inputs", "outputs", "aggregates", "rows"})) {
      return;
    }
    if (const YamlNode* v = rd_.Scalar(node, "id", true, "a table")) {
      if (!ValidId(v->scalar)) {
        rd_.Error(v->pos, "bad-id", "table ids use lower-case letters, digits, _ and -");
      }
      t->set_id(v->scalar);
    }
    if (const YamlNode* v = rd_.Scalar(node, "title", false, "")) t->set_title(v->scalar);
    if (const YamlNode* v = rd_.Scalar(node, "description", false, "")) t->set_description(v->scalar);
    if (const YamlNode* v = rd_.Scalar(node, "owner", false, "")) t->set_owner(v->scalar);
    if (const YamlNode* v = rd_.Scalar(node, "hit_policy", true, "a table")) {
      static const std::pair<const char*, v1::HitPolicy> kPolicies[] = {
          {"priority", v1::HIT_POLICY_PRIORITY},
          {"first", v1::HIT_POLICY_FIRST},
          {"unique", v1::HIT_POLICY_UNIQUE},
          {"collect", v1::HIT_POLICY_COLLECT}};
      bool found = false;
      for (const auto& [name, hp] : kPolicies) {
        if (v->scalar == name) {
          t->set_hit_policy(hp);
          found = true;
        }
      }
      if (!found) {
        rd_.Error(v->pos, "bad-hit-policy",
                  absl::StrCat("unknown hit_policy '", v->scalar,
                               "'; use priority, first, unique or collect"));
      }
    }
    t->set_mode(v1::TABLE_MODE_CONTRIBUTE);
    if (const YamlNode* v = rd_.Scalar(node, "mode", false, "")) {
      if (v->scalar == "override") {
        t->set_mode(v1::TABLE_MODE_OVERRIDE);
      } else if (v->scalar != "contribute") {
        rd_.Error(v->pos, "bad-value", "mode is contribute or override");
      }
    }
    bool lowers = false;
    rd_.Bool(node, "lowers_safety_critical", &lowers);
    t->set_lowers_safety_critical(lowers);
    if (const YamlNode* v = rd_.Scalar(node, "score", false, "")) t->set_score(v->scalar);

    ReadInputs(node.Find("inputs"), node, t, pos);
    ReadOutputs(node.Find("outputs"), node, t, pos);
    ReadAggregates(node.Find("aggregates"), t, pos);
    const YamlNode* rows = rd_.Scalar(node, "rows", true, "a table");
    if (rows != nullptr) ReadRows(*rows, t, pos);
  }

 private:
  void ReadInputs(const YamlNode* v, const YamlNode& table, v1::Table* t, SourceMap::Table* pos) {
    if (v == nullptr) return;  // a table may have no inputs (one unconditional row)
    if (!rd_.Map(v, "inputs", {})) return;
    for (const auto& e : v->entries) {
      auto* in = t->add_inputs();
      in->set_name(e.key);
      in->set_on_missing(v1::ON_MISSING_UNKNOWN);
      pos->inputs.push_back(e.key_pos);
      if (!ValidId(e.key)) rd_.Error(e.key_pos, "bad-id", "column names use lower-case letters, digits and _");
      if (e.value->kind == YamlNode::Kind::kScalar) {
        in->set_ref(e.value->scalar);
        continue;
      }
      if (!rd_.Map(e.value.get(), absl::StrCat("input '", e.key, "'"), {"ref", "on_missing"})) continue;
      if (const YamlNode* r = rd_.Scalar(*e.value, "ref", true, absl::StrCat("input '", e.key, "'"))) {
        in->set_ref(r->scalar);
      }
      if (const YamlNode* m = rd_.Scalar(*e.value, "on_missing", false, "")) {
        if (m->scalar == "unknown") {
          in->set_on_missing(v1::ON_MISSING_UNKNOWN);
        } else if (m->scalar == "no_match") {
          in->set_on_missing(v1::ON_MISSING_NO_MATCH);
        } else {
          rd_.Error(m->pos, "bad-value", "on_missing is unknown or no_match");
        }
      }
    }
  }

  void ReadOutputs(const YamlNode* v, const YamlNode& table, v1::Table* t, SourceMap::Table* pos) {
    if (v == nullptr) {
      rd_.Error(table.pos, "missing-key", "a table needs 'outputs'");
      return;
    }
    if (!rd_.Map(v, "outputs", {})) return;
    for (const auto& e : v->entries) {
      if (e.value->kind != YamlNode::Kind::kScalar) {
        rd_.Error(e.value->pos, "wrong-shape", "an output is 'name: type'");
        continue;
      }
      if (!ValidId(e.key)) rd_.Error(e.key_pos, "bad-id", "column names use lower-case letters, digits and _");
      auto* out = t->add_outputs();
      out->set_name(e.key);
      out->set_column(e.key);
      pos->outputs.push_back(e.value->pos);
      t->add_output_columns(e.key);
      const std::string& type = e.value->scalar;
      bool decision_name = e.key == "pathway" || e.key == "urgency" || e.key == "flags";
      if (type == "decision") {
        if (!decision_name) {
          rd_.Error(e.value->pos, "bad-output",
                    absl::StrCat("only pathway, urgency and flags are decision outputs; '",
                                 e.key, "' needs a type (number, bool, text or an enum)"));
        }
        if (e.key == "pathway") {
          out->set_type(v1::VALUE_TYPE_ENUM);
          out->set_enum_type("frontdoor.v1.Pathway");
        } else if (e.key == "urgency") {
          out->set_type(v1::VALUE_TYPE_ENUM);
          out->set_enum_type("frontdoor.v1.Urgency");
        } else {
          out->set_type(v1::VALUE_TYPE_ENUM);
          out->set_enum_type("frontdoor.v1.Flag");
        }
        continue;
      }
      if (decision_name) {
        rd_.Error(e.value->pos, "bad-output",
                  absl::StrCat("'", e.key, "' is a decision output: write '", e.key, ": decision'"));
        continue;
      }
      if (type == "number") {
        out->set_type(v1::VALUE_TYPE_NUMBER);
      } else if (type == "bool" || type == "yes/no") {
        out->set_type(v1::VALUE_TYPE_BOOL);
      } else if (type == "text") {
        out->set_type(v1::VALUE_TYPE_TEXT);
      } else {
        std::string full = absl::StrContains(type, '.') ? type : absl::StrCat("frontdoor.v1.", type);
        const EnumDescriptor* ed =
            google::protobuf::DescriptorPool::generated_pool()->FindEnumTypeByName(full);
        if (ed == nullptr) {
          rd_.Error(e.value->pos, "bad-type",
                    absl::StrCat("unknown type '", type,
                                 "'; use number, bool, text, decision or an enum such as SpO2Scale"));
          continue;
        }
        out->set_type(v1::VALUE_TYPE_ENUM);
        out->set_enum_type(full);
      }
    }
  }

  void ReadAggregates(const YamlNode* v, v1::Table* t, SourceMap::Table* pos) {
    if (v == nullptr) return;
    if (!rd_.Map(v, "aggregates", {})) return;
    if (t->hit_policy() != v1::HIT_POLICY_COLLECT) {
      rd_.Error(v->pos, "bad-aggregate", "only collect tables have aggregates");
    }
    for (const auto& e : v->entries) {
      if (e.value->kind != YamlNode::Kind::kScalar) {
        rd_.Error(e.value->pos, "wrong-shape", "an aggregate is 'name: sum(column)'");
        continue;
      }
      std::string s(absl::StripAsciiWhitespace(e.value->scalar));
      size_t open = s.find('('), close = s.rfind(')');
      static const std::pair<const char*, v1::Aggregate> kOps[] = {
          {"sum", v1::AGGREGATE_SUM}, {"max", v1::AGGREGATE_MAX},
          {"min", v1::AGGREGATE_MIN}, {"count", v1::AGGREGATE_COUNT}};
      v1::Aggregate op = v1::AGGREGATE_UNSPECIFIED;
      if (open != std::string::npos && close == s.size() - 1) {
        for (const auto& [name, a] : kOps) {
          if (s.substr(0, open) == name) op = a;
        }
      }
      if (op == v1::AGGREGATE_UNSPECIFIED) {
        rd_.Error(e.value->pos, "bad-aggregate",
                  "an aggregate is sum(column), max(column), min(column) or count(column)");
        continue;
      }
      auto* out = t->add_outputs();
      out->set_name(e.key);
      out->set_type(v1::VALUE_TYPE_NUMBER);
      out->set_aggregate(op);
      out->set_column(std::string(absl::StripAsciiWhitespace(s.substr(open + 1, close - open - 1))));
      pos->outputs.push_back(e.value->pos);
    }
  }

  void ReadRows(const YamlNode& rows, v1::Table* t, SourceMap::Table* pos) {
    if (!rows.block_scalar) {
      rd_.Error(rows.pos, "rows-not-block", "rows must be a block: 'rows: |' then one row per line");
    }
    std::vector<std::string> value_lines = absl::StrSplit(rows.scalar, '\n');
    // The block's content starts on the line after the '|' indicator.
    int first_line = rows.pos.line + 1;
    std::vector<std::string> header;
    std::vector<int> header_cols;
    int header_line = 0;
    std::vector<std::string> cells;
    std::vector<int> cols;
    std::vector<int> input_at, output_at;  // header index of each column
    int id_at = -1, source_at = -1, sc_at = -1, note_at = -1;
    for (size_t i = 0; i < value_lines.size(); ++i) {
      absl::string_view value_line = value_lines[i];
      absl::string_view stripped = absl::StripAsciiWhitespace(value_line);
      if (stripped.empty() || stripped[0] == '#' || IsSeparatorLine(stripped)) continue;
      int line_no = first_line + static_cast<int>(i);
      // Column numbers come from the file itself (the block's indentation is
      // stripped from the value).
      int col0 = 1;
      absl::string_view source_line = value_line;
      if (line_no >= 1 && line_no <= static_cast<int>(lines_.size()) &&
          absl::StripAsciiWhitespace(lines_[line_no - 1]) == stripped) {
        source_line = lines_[line_no - 1];
      } else {
        line_no = 0;  // the position is not reliable
      }
      if (!SplitPipeLine(source_line, col0, &cells, &cols)) {
        rd_.Error({line_no, 1}, "bad-row",
                  "each row is one line that starts and ends with '|'");
        continue;
      }
      if (header.empty()) {
        header = cells;
        header_cols = cols;
        header_line = line_no;
        ResolveHeader(*t, header, header_cols, header_line, &input_at, &output_at, &id_at,
                      &source_at, &sc_at, &note_at);
        continue;
      }
      if (cells.size() != header.size()) {
        rd_.Error({line_no, cols.empty() ? 1 : cols[0]}, "ragged-row",
                  absl::StrCat("this row has ", cells.size(), " cells but the header has ",
                               header.size()));
        continue;
      }
      auto* row = t->add_rows();
      SourceMap::Row rp;
      rp.pos = {line_no, cols[0]};
      if (id_at >= 0) row->set_id(cells[id_at]);
      if (source_at >= 0) row->set_source(cells[source_at]);
      if (note_at >= 0 && cells[note_at] != "-") row->set_note(cells[note_at]);
      if (sc_at >= 0) {
        std::string l = absl::AsciiStrToLower(cells[sc_at]);
        if (l == "yes" || l == "sc") {
          row->set_safety_critical(true);
        } else if (l != "-" && l != "no" && !l.empty()) {
          rd_.Error({line_no, cols[sc_at]}, "bad-value", "the sc column takes yes or -");
        }
      }
      if (id_at >= 0 && !ValidId(cells[id_at])) {
        rd_.Error({line_no, cols[id_at]}, "bad-id",
                  absl::StrCat("row id '", cells[id_at],
                               "' must use lower-case letters, digits, _ and -"));
      }
      if (source_at >= 0 && (cells[source_at].empty() || cells[source_at] == "-")) {
        rd_.Error({line_no, cols[source_at]}, "missing-source",
                  "every row needs a source: the guideline or local decision it implements");
      }
      for (int at : input_at) {
        row->add_inputs(at >= 0 ? cells[at] : "-");
        rp.inputs.push_back(at >= 0 ? SourcePos{line_no, cols[at]} : SourcePos{line_no, 0});
      }
      for (int at : output_at) {
        row->add_outputs(at >= 0 ? cells[at] : "-");
        rp.outputs.push_back(at >= 0 ? SourcePos{line_no, cols[at]} : SourcePos{line_no, 0});
      }
      pos->rows.push_back(std::move(rp));
    }
    if (header.empty()) {
      rd_.Error(rows.pos, "no-rows", "the table has no header line");
    } else if (t->rows_size() == 0) {
      rd_.Error({header_line, 1}, "no-rows", "the table has no rows");
    }
  }

  void ResolveHeader(const v1::Table& t, const std::vector<std::string>& header,
                     const std::vector<int>& cols, int line, std::vector<int>* input_at,
                     std::vector<int>* output_at, int* id_at, int* source_at, int* sc_at,
                     int* note_at) {
    auto find = [&](absl::string_view name) {
      for (size_t i = 0; i < header.size(); ++i) {
        if (header[i] == name) return static_cast<int>(i);
      }
      return -1;
    };
    for (size_t i = 0; i < header.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (header[i] == header[j]) {
          rd_.Error({line, cols[i]}, "duplicate-column",
                    absl::StrCat("column '", header[i], "' appears twice"));
        }
      }
    }
    *id_at = find("id");
    if (*id_at != 0) rd_.Error({line, cols.empty() ? 1 : cols[0]}, "missing-id", "the first column must be 'id'");
    *source_at = find("source");
    if (*source_at < 0) rd_.Error({line, 1}, "missing-source", "the table needs a 'source' column");
    *sc_at = find("sc");
    *note_at = find("note");
    for (const auto& in : t.inputs()) {
      int at = find(in.name());
      if (at < 0) {
        rd_.Error({line, 1}, "missing-column",
                  absl::StrCat("input '", in.name(), "' has no column in the rows"));
      }
      input_at->push_back(at);
    }
    for (const auto& out : t.output_columns()) {
      int at = find(out);
      if (at < 0) {
        rd_.Error({line, 1}, "missing-column",
                  absl::StrCat("output '", out, "' has no column in the rows"));
      }
      output_at->push_back(at);
    }
    for (size_t i = 0; i < header.size(); ++i) {
      const std::string& h = header[i];
      bool known = h == "id" || h == "source" || h == "sc" || h == "note";
      for (const auto& in : t.inputs()) known = known || in.name() == h;
      for (const auto& out : t.output_columns()) known = known || out == h;
      if (!known) {
        rd_.Error({line, cols[i]}, "unknown-column",
                  absl::StrCat("column '", h,
                               "' is not an input or output of this table; declare it under "
                               "inputs: or outputs:"));
      }
    }
  }

  Reader& rd_;
  const std::vector<std::string>& lines_;
};

void ReadTests(const YamlNode& root, Reader& rd, v1::RuleSet* out, SourceMap* sources,
               Diagnostics* diags) {
  if (!rd.Map(&root, "a test file", {"base", "cases"})) return;
  v1::Referral base;
  if (const YamlNode* b = root.Find("base")) YamlToMessage(*b, rd.file(), &base, diags);
  const YamlNode* cases = root.Find("cases");
  if (cases == nullptr || cases->kind != YamlNode::Kind::kSequence) {
    rd.Error(root.pos, "missing-key", "a test file needs 'cases:' with a list of cases");
    return;
  }
  for (const auto& c : cases->items) {
    if (!rd.Map(c.get(), "a test case", {"name", "referral", "expect"})) continue;
    v1::RuleTest* t = out->add_tests();
    sources->tests.push_back({rd.file(), c->pos});
    t->set_file(rd.file());
    if (const YamlNode* n = rd.Scalar(*c, "name", true, "a test case")) t->set_name(n->scalar);
    *t->mutable_referral() = base;
    if (const YamlNode* r = c->Find("referral")) {
      v1::Referral own;
      YamlToMessage(*r, rd.file(), &own, diags);
      t->mutable_referral()->MergeFrom(own);
    } else {
      rd.Error(c->pos, "missing-key", "a test case needs 'referral'");
    }
    const YamlNode* e = c->Find("expect");
    if (!rd.Map(e, "expect",
                {"pathway", "urgency", "fired", "not_fired", "flags", "not_flags", "scores",
                 "missing_data"})) {
      if (e == nullptr) rd.Error(c->pos, "missing-key", "a test case needs 'expect'");
      continue;
    }
    v1::Pathway p;
    v1::Urgency u;
    if (const YamlNode* v = rd.Scalar(*e, "pathway", false, "")) {
      if (rd.Enum(*v, v1::Pathway_descriptor(), &p)) t->set_expect_pathway(p);
    }
    if (const YamlNode* v = rd.Scalar(*e, "urgency", false, "")) {
      if (rd.Enum(*v, v1::Urgency_descriptor(), &u)) t->set_expect_urgency(u);
    }
    auto ids = [&](absl::string_view key, google::protobuf::RepeatedPtrField<std::string>* dst) {
      const YamlNode* v = e->Find(key);
      if (v == nullptr) return;
      std::vector<YamlNode> storage;
      for (const YamlNode* item : rd.List(*v, &storage)) *dst->Add() = item->scalar;
    };
    ids("fired", t->mutable_expect_fired());
    ids("not_fired", t->mutable_expect_not_fired());
    auto flags = [&](absl::string_view key, google::protobuf::RepeatedField<int>* dst) {
      const YamlNode* v = e->Find(key);
      if (v == nullptr) return;
      std::vector<YamlNode> storage;
      for (const YamlNode* item : rd.List(*v, &storage)) {
        v1::Flag f;
        if (rd.Enum(*item, v1::Flag_descriptor(), &f)) dst->Add(f);
      }
    };
    flags("flags", t->mutable_expect_flags());
    flags("not_flags", t->mutable_expect_not_flags());
    if (const YamlNode* v = e->Find("scores")) {
      if (rd.Map(v, "scores", {})) {
        for (const auto& s : v->entries) {
          double x;
          if (s.value->kind != YamlNode::Kind::kScalar || !absl::SimpleAtod(s.value->scalar, &x)) {
            rd.Error(s.value->pos, "bad-value", "a score is a number");
            continue;
          }
          (*t->mutable_expect_scores())[s.key] = x;
        }
      }
    }
    if (const YamlNode* v = rd.Scalar(*e, "missing_data", false, "")) {
      std::string l = absl::AsciiStrToLower(v->scalar);
      if (l == "yes" || l == "true") {
        t->set_expect_missing_data("yes");
      } else if (l == "no" || l == "false") {
        t->set_expect_missing_data("no");
      } else {
        rd.Error(v->pos, "bad-value", "missing_data takes yes or no");
      }
    }
  }
}

}  // namespace

bool ReadRuleSetFiles(const std::string& dir, const LoadOptions& options, v1::RuleSet* out,
                      SourceMap* sources, Diagnostics* diags) {
  const int errors_before = diags->error_count();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    diags->Error(dir, {}, "not-a-directory", "not a rule set directory");
    return false;
  }
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    names.push_back(it->path().filename().string());
  }
  if (ec) {
    diags->Error(dir, {}, "io", absl::StrCat("cannot list the directory: ", ec.message()));
    return false;
  }
  std::sort(names.begin(), names.end());
  if (static_cast<int>(names.size()) > options.max_files) {
    diags->Error(dir, {}, "too-many-files", absl::StrCat("more than ", options.max_files, " files"));
    return false;
  }
  FileReader files(options, diags);
  sources->ruleset_file = "ruleset.yaml";
  if (std::find(names.begin(), names.end(), "ruleset.yaml") == names.end()) {
    diags->Error("ruleset.yaml", {}, "missing-file",
                 "a rule set directory needs ruleset.yaml (name, owner, targets, ...)");
  } else {
    std::string text;
    auto root = files.Read(fs::path(dir) / "ruleset.yaml", "ruleset.yaml", &text);
    if (root) {
      Reader rd("ruleset.yaml", diags);
      ReadRuleSetMeta(*root, rd, out);
    }
  }
  int rows = 0;
  for (const std::string& name : names) {
    if (absl::EndsWith(name, ".rules.yaml")) {
      std::string text;
      auto root = files.Read(fs::path(dir) / name, name, &text);
      if (!root) continue;
      Reader rd(name, diags);
      if (!rd.Map(root.get(), "a rules file", {"tables"})) continue;
      const YamlNode* tables = root->Find("tables");
      if (tables == nullptr || tables->kind != YamlNode::Kind::kSequence) {
        rd.Error(root->pos, "missing-key", "a rules file needs 'tables:' with a list of tables");
        continue;
      }
      std::vector<std::string> lines = SplitLines(text);
      TableReader tr(rd, lines);
      for (const auto& tn : tables->items) {
        if (out->tables_size() >= options.max_tables) {
          rd.Error(tn->pos, "too-many-tables",
                   absl::StrCat("more than ", options.max_tables, " tables"));
          break;
        }
        sources->tables.emplace_back();
        tr.Read(*tn, out->add_tables(), &sources->tables.back());
        rows += out->tables(out->tables_size() - 1).rows_size();
      }
      if (rows > options.max_rows) {
        rd.Error(root->pos, "too-many-rows",
                 absl::StrCat("the rule set has more than ", options.max_rows, " rows"));
        return false;
      }
    } else if (absl::EndsWith(name, ".test.yaml")) {
      std::string text;
      auto root = files.Read(fs::path(dir) / name, name, &text);
      if (!root) continue;
      Reader rd(name, diags);
      ReadTests(*root, rd, out, sources, diags);
    }
  }
  return diags->error_count() == errors_before;
}

std::shared_ptr<const CompiledRuleSet> LoadRuleSet(const std::string& dir,
                                                   const LoadOptions& options,
                                                   Diagnostics* diags) {
  v1::RuleSet proto;
  SourceMap sources;
  const bool read_ok = ReadRuleSetFiles(dir, options, &proto, &sources, diags);
  // Compile even after read errors so that every problem is reported at
  // once; the result is discarded.
  auto rs = CompiledRuleSet::Compile(std::move(proto), &sources, diags);
  if (!read_ok || rs == nullptr) return nullptr;
  if (options.analyse) {
    Analyse(*rs, diags);
    if (diags->has_errors()) return nullptr;
  }
  return rs;
}

}  // namespace frontdoor::rules
