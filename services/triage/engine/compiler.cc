// RuleSet proto -> CompiledRuleSet: resolves columns against the Referral
// schema and earlier tables, parses every cell and expression, orders the
// tables by their dependencies and builds the per-column row indexes.

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/common/proto_hash.h"
#include "services/triage/engine/compiled_rule_set.h"

namespace frontdoor::rules {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;

class Compiler {
 public:
  Compiler(v1::RuleSet proto, const SourceMap* sources, Diagnostics* diags)
      : diags_(diags) {
    rs_ = std::shared_ptr<CompiledRuleSet>(new CompiledRuleSet());
    rs_->proto_ = std::move(proto);
    if (sources != nullptr) rs_->sources_ = *sources;
  }

  std::shared_ptr<const CompiledRuleSet> Run() {
    const int errors_before = diags_->error_count();
    CompileMeta();
    DeclareVariables();
    for (int i = 0; i < rs_->proto_.tables_size(); ++i) CompileTable(i);
    OrderTables();
    BuildLoadPlan();
    CheckTests();
    if (diags_->error_count() > errors_before) return nullptr;
    int offset = 0;
    for (auto& t : rs_->tables_) {
      t.scratch_offset = offset;
      offset += t.words;
    }
    rs_->scratch_words_ = offset;
    rs_->version_ = Hash();
    return rs_;
  }

 private:
  // --- positions -----------------------------------------------------------
  const SourceMap::Table* TablePos(int t) const {
    const auto& ts = rs_->sources_.tables;
    return t < static_cast<int>(ts.size()) ? &ts[t] : nullptr;
  }
  std::string TableFile(int t) const {
    const auto* p = TablePos(t);
    return p ? p->file : rs_->proto_.tables(t).file();
  }
  SourcePos TableAt(int t) const {
    const auto* p = TablePos(t);
    return p ? p->pos : SourcePos{};
  }
  SourcePos InputAt(int t, int i) const {
    const auto* p = TablePos(t);
    return p && i < static_cast<int>(p->inputs.size()) ? p->inputs[i] : TableAt(t);
  }
  SourcePos OutputAt(int t, int o) const {
    const auto* p = TablePos(t);
    return p && o < static_cast<int>(p->outputs.size()) ? p->outputs[o] : TableAt(t);
  }
  SourcePos RowAt(int t, int r) const {
    const auto* p = TablePos(t);
    return p && r < static_cast<int>(p->rows.size()) ? p->rows[r].pos : TableAt(t);
  }
  SourcePos CellAt(int t, int r, int c, bool input, int offset) const {
    const auto* p = TablePos(t);
    if (!p || r >= static_cast<int>(p->rows.size())) return TableAt(t);
    const auto& v = input ? p->rows[r].inputs : p->rows[r].outputs;
    if (c >= static_cast<int>(v.size())) return p->rows[r].pos;
    SourcePos pos = v[c];
    if (pos.col > 0) pos.col += offset;
    return pos;
  }
  void Error(int t, SourcePos pos, absl::string_view code, std::string msg) {
    diags_->Error(TableFile(t), pos, code, std::move(msg));
  }

  // --- rule set -------------------------------------------------------------
  void CompileMeta() {
    const v1::RuleSet& p = rs_->proto_;
    const std::string& file = rs_->sources_.ruleset_file;
    if (p.timezone().empty() || !absl::LoadTimeZone(p.timezone(), &rs_->tz_)) {
      if (p.timezone().empty()) diags_->Error(file, {}, "bad-timezone", "no time zone given");
      rs_->tz_ = absl::UTCTimeZone();
    }
    int np = v1::Pathway_descriptor()->value_count() + 1;
    rs_->pathway_pos_.assign(np + 16, np);
    for (int i = 0; i < p.pathway_order_size(); ++i) rs_->pathway_pos_[p.pathway_order(i)] = i;
    rs_->target_minutes_.assign(v1::Urgency_descriptor()->value_count() + 16, -1);
    for (const auto& t : p.targets()) rs_->target_minutes_[t.urgency()] = t.minutes();
    if (p.missing_data().pathway() == v1::PATHWAY_UNSPECIFIED ||
        p.missing_data().urgency() == v1::URGENCY_UNSPECIFIED) {
      diags_->Error(file, {}, "missing-key", "the missing_data outcome is incomplete");
    }
    if (p.fallback().pathway() == v1::PATHWAY_UNSPECIFIED ||
        p.fallback().urgency() == v1::URGENCY_UNSPECIFIED) {
      diags_->Error(file, {}, "missing-key", "the fallback outcome is incomplete");
    }
  }

  // --- slots ----------------------------------------------------------------
  void DeclareVariables() {
    std::map<std::string, int> table_ids;
    for (int t = 0; t < rs_->proto_.tables_size(); ++t) {
      const v1::Table& tp = rs_->proto_.tables(t);
      auto [it, inserted] = table_ids.emplace(tp.id(), t);
      if (!inserted) {
        Error(t, TableAt(t), "duplicate-table",
              absl::StrCat("table id '", tp.id(), "' is also used in ", TableFile(it->second)));
      }
      bool collect = tp.hit_policy() == v1::HIT_POLICY_COLLECT;
      for (int o = 0; o < tp.outputs_size(); ++o) {
        const v1::OutputColumn& oc = tp.outputs(o);
        bool decision = oc.name() == "pathway" || oc.name() == "urgency" || oc.name() == "flags";
        if (decision) continue;
        bool variable = collect ? oc.aggregate() != v1::AGGREGATE_UNSPECIFIED : true;
        if (!variable) continue;
        if (absl::StrContains(oc.name(), '.')) continue;
        auto found = variables_.find(oc.name());
        if (found != variables_.end()) {
          Error(t, OutputAt(t, o), "duplicate-writer",
                absl::StrCat("variable '", oc.name(), "' is already written by table '",
                             rs_->proto_.tables(rs_->slots_[found->second].writer_table).id(),
                             "'; each variable has one table that writes it"));
          continue;
        }
        if (ResolveFieldQuiet(oc.name()) != nullptr) {
          Error(t, OutputAt(t, o), "shadows-field",
                absl::StrCat("variable '", oc.name(), "' has the name of a referral field"));
        }
        Slot s;
        s.kind = Slot::Kind::kVariable;
        s.name = oc.name();
        s.type = OutputType(oc);
        s.writer_table = t;
        variables_[oc.name()] = static_cast<int>(rs_->slots_.size());
        rs_->slots_.push_back(std::move(s));
      }
    }
  }

  static TypeInfo OutputType(const v1::OutputColumn& oc) {
    TypeInfo t;
    switch (oc.type()) {
      case v1::VALUE_TYPE_BOOL:
        t.type = ValueType::kBool;
        break;
      case v1::VALUE_TYPE_TEXT:
        t.type = ValueType::kText;
        break;
      case v1::VALUE_TYPE_ENUM:
        t.type = ValueType::kEnum;
        t.enum_type =
            google::protobuf::DescriptorPool::generated_pool()->FindEnumTypeByName(oc.enum_type());
        break;
      default:
        t.type = ValueType::kNumber;
    }
    return t;
  }

  const FieldDescriptor* ResolveFieldQuiet(absl::string_view path) const {
    const Descriptor* d = v1::Referral::descriptor();
    const FieldDescriptor* f = nullptr;
    for (absl::string_view part : absl::StrSplit(path, '.')) {
      if (d == nullptr) return nullptr;
      f = d->FindFieldByName(std::string(part));
      if (f == nullptr || f->is_repeated()) return nullptr;
      d = f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ? f->message_type() : nullptr;
    }
    return f;
  }

  // Resolves a ref to a slot, creating field slots on first use.
  absl::StatusOr<int> ResolveRef(absl::string_view ref, bool override_table, TypeInfo* type) {
    if (ref == "outcome.pathway" || ref == "outcome.urgency") {
      if (!override_table) {
        return absl::InvalidArgumentError(
            "outcome.pathway and outcome.urgency can be read only by override tables");
      }
      bool pathway = ref == "outcome.pathway";
      std::string key(ref);
      auto it = fields_.find(key);
      if (it == fields_.end()) {
        Slot s;
        s.kind = pathway ? Slot::Kind::kOutcomePathway : Slot::Kind::kOutcomeUrgency;
        s.name = key;
        s.type = {ValueType::kEnum, pathway ? v1::Pathway_descriptor() : v1::Urgency_descriptor()};
        it = fields_.emplace(key, static_cast<int>(rs_->slots_.size())).first;
        rs_->slots_.push_back(std::move(s));
      }
      *type = rs_->slots_[it->second].type;
      return it->second;
    }
    if (auto it = variables_.find(std::string(ref)); it != variables_.end()) {
      *type = rs_->slots_[it->second].type;
      return it->second;
    }
    if (auto it = fields_.find(std::string(ref)); it != fields_.end()) {
      *type = rs_->slots_[it->second].type;
      return it->second;
    }
    // A Referral field path.
    const Descriptor* d = v1::Referral::descriptor();
    std::vector<const FieldDescriptor*> path;
    std::vector<std::string> parts = absl::StrSplit(ref, '.');
    for (size_t i = 0; i < parts.size(); ++i) {
      const FieldDescriptor* f = d == nullptr ? nullptr : d->FindFieldByName(parts[i]);
      if (f == nullptr) {
        if (d == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat("'", absl::StrJoin(parts.begin(), parts.begin() + i, "."),
                           "' has no fields"));
        }
        std::vector<std::string> names;
        for (int k = 0; k < d->field_count(); ++k) names.push_back(d->field(k)->name());
        std::vector<std::string> vars;
        for (const auto& [name, slot] : variables_) vars.push_back(name);
        return absl::InvalidArgumentError(absl::StrCat(
            "'", ref, "' is neither a variable nor a field: ", d->full_name(), " has no field '",
            parts[i], "'; its fields are ", absl::StrJoin(names, ", "),
            i == 0 ? absl::StrCat("; variables are ", absl::StrJoin(vars, ", ")) : ""));
      }
      if (f->is_repeated()) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", ref, "' is a list; rules read single values"));
      }
      path.push_back(f);
      d = f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ? f->message_type() : nullptr;
    }
    const FieldDescriptor* leaf = path.back();
    TypeInfo t;
    switch (leaf->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64:
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        t.type = ValueType::kNumber;
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        t.type = ValueType::kBool;
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        t.type = ValueType::kEnum;
        t.enum_type = leaf->enum_type();
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        t.type = ValueType::kText;
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (leaf->message_type()->full_name() == "frontdoor.v1.Date") {
          t.type = ValueType::kDate;
        } else if (leaf->message_type()->full_name() == "google.protobuf.Timestamp") {
          t.type = ValueType::kTimestamp;
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              "'", ref, "' is a group of fields (", leaf->message_type()->name(),
              "); name one of its fields, e.g. ", ref, ".",
              leaf->message_type()->field(0)->name()));
        }
        break;
    }
    if (rs_->field_count_ >= kMaxFields) {
      return absl::ResourceExhaustedError(
          absl::StrCat("a rule set may read at most ", kMaxFields, " distinct fields"));
    }
    Slot s;
    s.kind = Slot::Kind::kField;
    s.name = std::string(ref);
    s.type = t;
    s.path = std::move(path);
    s.missing_bit = rs_->field_count_++;
    int idx = static_cast<int>(rs_->slots_.size());
    fields_[s.name] = idx;
    rs_->slots_.push_back(std::move(s));
    *type = t;
    return idx;
  }

  // --- tables ---------------------------------------------------------------
  void CompileTable(int ti) {
    v1::Table& tp = *rs_->proto_.mutable_tables(ti);
    CompiledTable t;
    t.id = tp.id();
    t.hit_policy = tp.hit_policy();
    t.override_mode = tp.mode() == v1::TABLE_MODE_OVERRIDE;
    t.lowers_safety_critical = tp.lowers_safety_critical();
    t.score = tp.score();
    t.nrows = tp.rows_size();
    t.words = std::max(1, (t.nrows + 63) / 64);
    bool collect = t.hit_policy == v1::HIT_POLICY_COLLECT;
    if (t.hit_policy == v1::HIT_POLICY_UNSPECIFIED) t.hit_policy = v1::HIT_POLICY_FIRST;
    if (!t.score.empty() && !collect) {
      Error(ti, TableAt(ti), "bad-score", "only collect tables compute a score");
    }
    if (t.lowers_safety_critical && !t.override_mode) {
      Error(ti, TableAt(ti), "bad-value", "lowers_safety_critical applies only to override tables");
    }
    std::set<std::string> deps;

    // Inputs.
    for (int c = 0; c < tp.inputs_size(); ++c) {
      const v1::InputColumn& in = tp.inputs(c);
      CompiledColumn col;
      col.name = in.name();
      col.unknown_if_missing = in.on_missing() != v1::ON_MISSING_NO_MATCH;
      auto slot = ResolveRef(in.ref(), t.override_mode, &col.type);
      if (!slot.ok()) {
        Error(ti, InputAt(ti, c), "unknown-column", std::string(slot.status().message()));
        col.slot = -1;
      } else {
        col.slot = *slot;
        if (rs_->slots_[*slot].kind == Slot::Kind::kVariable) {
          deps.insert(rs_->slots_[*slot].name);
        }
      }
      t.columns.push_back(std::move(col));
    }

    // Output columns (as they appear in rows) and aggregates.
    std::map<std::string, int> out_index;
    for (int o = 0; o < tp.outputs_size(); ++o) {
      const v1::OutputColumn& oc = tp.outputs(o);
      if (oc.aggregate() != v1::AGGREGATE_UNSPECIFIED) continue;
      CompiledOutput out;
      out.name = oc.name();
      out.type = OutputType(oc);
      if (oc.name() == "pathway") {
        out.kind = CompiledOutput::Kind::kPathway;
      } else if (oc.name() == "urgency") {
        out.kind = CompiledOutput::Kind::kUrgency;
      } else if (oc.name() == "flags") {
        out.kind = CompiledOutput::Kind::kFlags;
      } else if (collect) {
        out.kind = CompiledOutput::Kind::kColumnOnly;
      } else {
        out.kind = CompiledOutput::Kind::kVariable;
        auto it = variables_.find(oc.name());
        out.slot = it == variables_.end() ? -1 : it->second;
      }
      out_index[oc.name()] = static_cast<int>(t.outputs.size());
      out.cells.resize(t.nrows);
      t.outputs.push_back(std::move(out));
    }
    bool has_pathway = out_index.count("pathway"), has_urgency = out_index.count("urgency");
    if (has_pathway != has_urgency) {
      Error(ti, TableAt(ti), "bad-output", "a table that outputs pathway must output urgency too");
    }
    if (t.hit_policy == v1::HIT_POLICY_PRIORITY && !has_urgency) {
      Error(ti, TableAt(ti), "bad-hit-policy",
            "a priority table needs an urgency output: 'most urgent wins' ranks by it");
    }
    if (t.override_mode && (!has_pathway || collect)) {
      Error(ti, TableAt(ti), "bad-override",
            "an override table is a single-hit table that outputs pathway and urgency");
    }
    for (int o = 0; o < tp.outputs_size(); ++o) {
      const v1::OutputColumn& oc = tp.outputs(o);
      if (oc.aggregate() == v1::AGGREGATE_UNSPECIFIED) continue;
      CompiledAggregate ag;
      ag.name = oc.name();
      ag.op = oc.aggregate();
      auto it = out_index.find(oc.column());
      if (it == out_index.end() ||
          (t.outputs[it->second].type.type != ValueType::kNumber &&
           oc.aggregate() != v1::AGGREGATE_COUNT)) {
        Error(ti, OutputAt(ti, o), "bad-aggregate",
              absl::StrCat("aggregate '", oc.name(), "' needs a number output column named '",
                           oc.column(), "'"));
        continue;
      }
      ag.column = it->second;
      auto v = variables_.find(oc.name());
      ag.slot = v == variables_.end() ? -1 : v->second;
      t.aggregates.push_back(ag);
    }
    if (!t.score.empty()) {
      for (size_t o = 0; o < t.outputs.size(); ++o) {
        if (t.outputs[o].type.type == ValueType::kText && t.score_label < 0) t.score_label = o;
      }
      if (!t.aggregates.empty()) t.score_points = t.aggregates[0].column;
      if (t.score_label < 0 || t.score_points < 0) {
        Error(ti, TableAt(ti), "bad-score",
              "a score table needs a text column naming the parameter and an aggregate of points");
      }
    }

    // Rows.
    std::map<std::string, int> row_ids;
    const int out_row_cols = tp.output_columns_size();
    for (int r = 0; r < t.nrows; ++r) {
      v1::Row& row = *tp.mutable_rows(r);
      CompiledRow cr;
      cr.id = row.id();
      cr.qualified_id = absl::StrCat(t.id, "/", row.id());
      cr.safety_critical = row.safety_critical();
      cr.rank = INT_MAX;
      auto [it, inserted] = row_ids.emplace(row.id(), r);
      if (!inserted) {
        Error(ti, RowAt(ti, r), "duplicate-row-id",
              absl::StrCat("row id '", row.id(), "' is used twice in table '", t.id,
                           "' (first at line ", RowAt(ti, it->second).line, ")"));
      }
      if (row.inputs_size() != tp.inputs_size() || row.outputs_size() != out_row_cols) {
        Error(ti, RowAt(ti, r), "ragged-row", "the row does not have one cell per column");
        continue;
      }
      for (int c = 0; c < tp.inputs_size(); ++c) {
        CompiledColumn& col = t.columns[c];
        if (col.slot < 0) {
          col.cells.emplace_back();
          continue;
        }
        int offset = 0;
        auto cell = ParseCell(row.inputs(c), col.type, &offset);
        if (!cell.ok()) {
          Error(ti, CellAt(ti, r, c, true, offset), "bad-cell",
                absl::StrCat("column '", col.name, "' (", TypeName(col.type), "): ",
                             cell.status().message()));
          col.cells.emplace_back();
          continue;
        }
        row.set_inputs(c, RenderCell(*cell, col.type));
        col.cells.push_back(std::move(*cell));
      }
      bool pathway_set = false, urgency_set = false;
      for (int oc = 0; oc < out_row_cols; ++oc) {
        auto idx = out_index.find(tp.output_columns(oc));
        if (idx == out_index.end()) continue;
        CompiledOutput& out = t.outputs[idx->second];
        std::string text(absl::StripAsciiWhitespace(row.outputs(oc)));
        SourcePos at = CellAt(ti, r, oc, false, 0);
        if (text == "-") continue;
        if (out.kind == CompiledOutput::Kind::kFlags) {
          std::vector<std::string> names;
          for (absl::string_view part : absl::StrSplit(text, ',')) {
            std::string name(absl::StripAsciiWhitespace(part));
            const auto* ev = FindEnumValue(v1::Flag_descriptor(), name);
            if (ev == nullptr || ev->number() == 0 || ev->number() >= 64) {
              Error(ti, at, "bad-enum", absl::StrCat("'", name, "' is not a Flag"));
              continue;
            }
            cr.flags |= uint64_t{1} << ev->number();
            names.push_back(ShortEnumName(ev));
          }
          row.set_outputs(oc, absl::StrJoin(names, ", "));
          continue;
        }
        if (!text.empty() && text[0] == '=') {
          if (out.type.type != ValueType::kNumber && out.type.type != ValueType::kBool) {
            Error(ti, at, "bad-cell", "only number and yes/no outputs can be expressions");
            continue;
          }
          int offset = 0;
          absl::string_view body = absl::string_view(text).substr(1);
          size_t lead = body.find_first_not_of(' ');
          if (lead == absl::string_view::npos) lead = body.size();
          body = body.substr(lead);
          auto resolver = [&](absl::string_view name, TypeInfo* type) -> absl::StatusOr<int> {
            for (const auto& col : t.columns) {
              if (col.name == name && col.slot >= 0) {
                *type = col.type;
                return col.slot;
              }
            }
            auto s = ResolveRef(name, t.override_mode, type);
            if (s.ok() && rs_->slots_[*s].kind == Slot::Kind::kVariable) {
              deps.insert(rs_->slots_[*s].name);
            }
            return s;
          };
          auto e = Expr::Parse(body, resolver, &offset);
          if (!e.ok()) {
            SourcePos p = at;
            if (p.col > 0) p.col += 1 + static_cast<int>(lead) + offset;
            Error(ti, p, "bad-expression",
                  absl::StrCat("column '", out.name, "': ", e.status().message()));
            continue;
          }
          if ((e->type() == ValueType::kBool) != (out.type.type == ValueType::kBool)) {
            Error(ti, at, "type-mismatch",
                  absl::StrCat("column '", out.name, "' is ", TypeName(out.type),
                               " but the expression gives ",
                               e->type() == ValueType::kBool ? "yes/no" : "a number"));
            continue;
          }
          out.cells[r].kind = OutputCell::Kind::kExpr;
          out.cells[r].expr = static_cast<int>(t.exprs.size());
          t.exprs.push_back(std::move(*e));
          row.set_outputs(oc, absl::StrCat("= ", body));
          continue;
        }
        // A literal.
        OutputCell& cell = out.cells[r];
        cell.kind = OutputCell::Kind::kLiteral;
        switch (out.type.type) {
          case ValueType::kText:
            cell.text = text;
            cell.literal.present = true;
            break;
          case ValueType::kNumber: {
            double v;
            if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
              Error(ti, at, "type-mismatch",
                    absl::StrCat("column '", out.name, "' is a number; '", text, "' is not"));
              cell.kind = OutputCell::Kind::kNone;
              continue;
            }
            cell.literal = Value::Number(v);
            row.set_outputs(oc, FormatNumber(v));
            break;
          }
          case ValueType::kBool: {
            std::string l = absl::AsciiStrToLower(text);
            if (l != "yes" && l != "no" && l != "true" && l != "false") {
              Error(ti, at, "type-mismatch",
                    absl::StrCat("column '", out.name, "' is yes/no; '", text, "' is not"));
              cell.kind = OutputCell::Kind::kNone;
              continue;
            }
            bool b = l == "yes" || l == "true";
            cell.literal = Value::Number(b ? 1 : 0);
            row.set_outputs(oc, b ? "yes" : "no");
            break;
          }
          case ValueType::kEnum: {
            const auto* ev = FindEnumValue(out.type.enum_type, text);
            if (ev == nullptr || ev->number() == 0) {
              std::vector<std::string> names;
              for (int k = 1; k < out.type.enum_type->value_count(); ++k) {
                names.push_back(ShortEnumName(out.type.enum_type->value(k)));
              }
              Error(ti, at, "bad-enum",
                    absl::StrCat("'", text, "' is not a ", out.type.enum_type->name(),
                                 "; expected one of ", absl::StrJoin(names, ", ")));
              cell.kind = OutputCell::Kind::kNone;
              continue;
            }
            cell.literal = Value::Number(ev->number());
            row.set_outputs(oc, ShortEnumName(ev));
            if (out.kind == CompiledOutput::Kind::kPathway) {
              cr.pathway = static_cast<v1::Pathway>(ev->number());
              pathway_set = true;
            } else if (out.kind == CompiledOutput::Kind::kUrgency) {
              cr.urgency = static_cast<v1::Urgency>(ev->number());
              urgency_set = true;
            }
            break;
          }
          default:
            break;
        }
      }
      if (pathway_set != urgency_set) {
        Error(ti, RowAt(ti, r), "half-outcome",
              absl::StrCat("row '", row.id(),
                           "' sets only one of pathway and urgency; set both or neither"));
      }
      if (pathway_set && urgency_set) {
        cr.has_outcome = true;
        cr.rank = rs_->Rank(cr.pathway, cr.urgency);
      }
      t.rows.push_back(std::move(cr));
    }
    if (static_cast<int>(t.rows.size()) != t.nrows) {
      // Structural errors were reported; keep vectors consistent.
      t.rows.resize(t.nrows);
    }
    for (auto& col : t.columns) col.cells.resize(t.nrows);

    // Score parameter groups.
    if (t.score_label >= 0) {
      std::map<std::string, int> groups;
      for (int r = 0; r < t.nrows; ++r) {
        const OutputCell& c = t.outputs[t.score_label].cells[r];
        t.rows[r].label_column = t.score_label;
        std::string key = c.kind == OutputCell::Kind::kLiteral ? c.text : absl::StrCat("#", r);
        auto [it, inserted] = groups.emplace(key, static_cast<int>(groups.size()));
        t.rows[r].group = it->second;
      }
      t.ngroups = static_cast<int>(groups.size());
    }

    BuildIndexes(&t);
    if (t.hit_policy == v1::HIT_POLICY_PRIORITY) {
      std::map<int, std::vector<uint64_t>> classes;
      for (int r = 0; r < t.nrows; ++r) {
        auto& bits = classes[t.rows[r].rank];
        bits.resize(t.words, 0);
        bits[r / 64] |= uint64_t{1} << (r % 64);
      }
      for (auto& [rank, bits] : classes) t.rank_classes.emplace_back(rank, std::move(bits));
    }
    deps_.push_back(std::move(deps));
    rs_->tables_.push_back(std::move(t));
  }

  static void SetBit(std::vector<uint64_t>& v, size_t base, int r) {
    v[base + r / 64] |= uint64_t{1} << (r % 64);
  }

  void BuildIndexes(CompiledTable* t) {
    for (auto& col : t->columns) {
      col.missing_match.assign(t->words, 0);
      col.missing_unknown.assign(t->words, 0);
      Value missing;
      bool trivial = true;
      for (int r = 0; r < t->nrows; ++r) {
        const CellTest& c = col.cells[r];
        if (c.kind != CellTest::Kind::kAny) trivial = false;
        Tri m = MatchCell(c, missing, col.unknown_if_missing);
        if (m == Tri::kMatch) SetBit(col.missing_match, 0, r);
        if (m == Tri::kUnknown) SetBit(col.missing_unknown, 0, r);
      }
      col.trivial = trivial;
      if (col.type.type == ValueType::kText || trivial) continue;
      std::vector<double> bp;
      for (const CellTest& c : col.cells) c.AppendBreakpoints(&bp);
      std::sort(bp.begin(), bp.end());
      bp.erase(std::unique(bp.begin(), bp.end()), bp.end());
      col.breakpoints = bp;
      const size_t nseg = 2 * bp.size() + 1;
      col.seg_match.assign(nseg * t->words, 0);
      for (size_t s = 0; s < nseg; ++s) {
        double rep;
        size_t k = s / 2;
        if (s % 2 == 1) {
          rep = bp[k];
        } else if (bp.empty()) {
          rep = 0;
        } else if (k == 0) {
          rep = bp[0] - 1;
        } else if (k == bp.size()) {
          rep = bp.back() + 1;
        } else {
          rep = (bp[k - 1] + bp[k]) / 2;
        }
        Value v = Value::Number(rep);
        for (int r = 0; r < t->nrows; ++r) {
          if (MatchCell(col.cells[r], v, col.unknown_if_missing) == Tri::kMatch) {
            SetBit(col.seg_match, s * t->words, r);
          }
        }
      }
      col.indexed = true;
      // A direct lookup for integers when the breakpoints span a small range.
      if (!bp.empty() && bp.back() - bp.front() <= 4096) {
        bool integral = true;
        for (double b : bp) integral = integral && b == std::floor(b);
        if (integral) {
          col.direct_base = static_cast<int64_t>(bp.front()) - 1;
          const int64_t span = static_cast<int64_t>(bp.back()) + 1 - col.direct_base + 1;
          col.direct.resize(span);
          for (int64_t k = 0; k < span; ++k) {
            const double x = static_cast<double>(col.direct_base + k);
            auto it = std::lower_bound(bp.begin(), bp.end(), x);
            size_t idx = static_cast<size_t>(it - bp.begin());
            col.direct[k] = static_cast<uint32_t>(it != bp.end() && *it == x ? 2 * idx + 1 : 2 * idx);
          }
        }
      }
    }
  }

  // --- ordering -------------------------------------------------------------
  void OrderTables() {
    const int n = static_cast<int>(rs_->tables_.size());
    std::vector<std::vector<int>> edges(n);  // writer -> reader
    std::vector<int> indegree(n, 0);
    for (int t = 0; t < n; ++t) {
      std::set<int> from;
      for (const std::string& v : deps_[t]) {
        auto it = variables_.find(v);
        if (it == variables_.end()) continue;
        int w = rs_->slots_[it->second].writer_table;
        if (w == t) {
          Error(t, TableAt(t), "cycle",
                absl::StrCat("table '", rs_->tables_[t].id, "' reads '", v,
                             "', which it writes itself"));
          continue;
        }
        from.insert(w);
      }
      if (rs_->tables_[t].override_mode) {
        for (int w = 0; w < n; ++w) {
          if (!rs_->tables_[w].override_mode) from.insert(w);
        }
      }
      for (int w : from) {
        edges[w].push_back(t);
        ++indegree[t];
      }
    }
    // Kahn's algorithm, taking the earliest ready table in file order.
    std::set<int> ready;
    for (int t = 0; t < n; ++t) {
      if (indegree[t] == 0) ready.insert(t);
    }
    while (!ready.empty()) {
      int t = *ready.begin();
      ready.erase(ready.begin());
      rs_->order_.push_back(t);
      for (int r : edges[t]) {
        if (--indegree[r] == 0) ready.insert(r);
      }
    }
    if (static_cast<int>(rs_->order_.size()) != n) {
      std::vector<std::string> stuck;
      int first = -1;
      for (int t = 0; t < n; ++t) {
        if (indegree[t] > 0) {
          stuck.push_back(rs_->tables_[t].id);
          if (first < 0) first = t;
        }
      }
      Error(first, TableAt(first), "cycle",
            absl::StrCat("tables depend on each other in a cycle: ", absl::StrJoin(stuck, ", "),
                         "; each must read only variables written before it"));
    }
  }

  // Groups field slots under the messages that hold them, so evaluation
  // looks each nested message up once.
  void BuildLoadPlan() {
    auto& nodes = rs_->nodes_;
    nodes.clear();
    const google::protobuf::MessageFactory* factory =
        google::protobuf::MessageFactory::generated_factory();
    nodes.push_back({-1, nullptr, v1::Referral::default_instance().GetReflection()});
    std::map<std::pair<int, const FieldDescriptor*>, int> index;
    for (size_t i = 0; i < rs_->slots_.size(); ++i) {
      Slot& s = rs_->slots_[i];
      if (s.kind != Slot::Kind::kField) continue;
      int node = 0;
      for (size_t k = 0; k + 1 < s.path.size(); ++k) {
        auto key = std::make_pair(node, s.path[k]);
        auto it = index.find(key);
        if (it == index.end()) {
          const google::protobuf::Message* proto =
              const_cast<google::protobuf::MessageFactory*>(factory)->GetPrototype(
                  s.path[k]->message_type());
          nodes.push_back({node, s.path[k], proto->GetReflection()});
          it = index.emplace(key, static_cast<int>(nodes.size()) - 1).first;
        }
        node = it->second;
      }
      s.node = node;
    }
    rs_->field_slots_.clear();
    for (size_t n = 0; n < nodes.size(); ++n) {
      for (size_t i = 0; i < rs_->slots_.size(); ++i) {
        if (rs_->slots_[i].kind == Slot::Kind::kField && rs_->slots_[i].node == static_cast<int>(n)) {
          rs_->field_slots_.push_back(static_cast<int>(i));
        }
      }
    }
  }

  void CheckTests() {
    std::set<std::string> rows;
    for (const auto& t : rs_->tables_) {
      for (const auto& r : t.rows) rows.insert(r.qualified_id);
    }
    for (int i = 0; i < rs_->proto_.tests_size(); ++i) {
      const v1::RuleTest& t = rs_->proto_.tests(i);
      SourcePos pos;
      std::string file = t.file();
      if (i < static_cast<int>(rs_->sources_.tests.size())) pos = rs_->sources_.tests[i].pos;
      auto check = [&](const std::string& id) {
        if (!rows.count(id)) {
          diags_->Error(file, pos, "unknown-row",
                        absl::StrCat("test '", t.name(), "' names row '", id,
                                     "', which no table has (write table/row)"));
        }
      };
      for (const auto& id : t.expect_fired()) check(id);
      for (const auto& id : t.expect_not_fired()) check(id);
    }
  }

  std::string Hash() const { return Sha256Hex(DeterministicBytes(rs_->proto_)); }

  std::shared_ptr<CompiledRuleSet> rs_;
  Diagnostics* diags_;
  std::map<std::string, int> variables_;
  std::map<std::string, int> fields_;
  std::vector<std::set<std::string>> deps_;
};

std::shared_ptr<const CompiledRuleSet> CompiledRuleSet::Compile(v1::RuleSet proto,
                                                                const SourceMap* sources,
                                                                Diagnostics* diags) {
  return Compiler(std::move(proto), sources, diags).Run();
}

int CompiledRuleSet::Rank(v1::Pathway p, v1::Urgency u) const {
  int np = static_cast<int>(pathway_pos_.size());
  int pos = p >= 0 && p < np ? pathway_pos_[p] : np;
  return static_cast<int>(u) * 64 + pos;
}

int CompiledRuleSet::TargetMinutes(v1::Urgency u) const {
  return u >= 0 && u < static_cast<int>(target_minutes_.size()) ? target_minutes_[u] : -1;
}

}  // namespace frontdoor::rules
