#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_COMPILED_RULE_SET_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_COMPILED_RULE_SET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "frontdoor/v1/referral.pb.h"
#include "frontdoor/v1/ruleset.pb.h"
#include "frontdoor/v1/triage.pb.h"
#include "services/triage/engine/cell.h"
#include "services/triage/engine/diagnostic.h"
#include "services/triage/engine/expr.h"
#include "services/triage/engine/value.h"

namespace frontdoor::rules {

class EvalResult;

// Where each part of a rule set came from, for file:line:col diagnostics.
// Kept beside (not inside) the canonical RuleSet so that formatting never
// changes a version.
struct SourceMap {
  struct Row {
    SourcePos pos;
    std::vector<SourcePos> inputs;   // per input column
    std::vector<SourcePos> outputs;  // per output column
  };
  struct Table {
    std::string file;
    SourcePos pos;
    std::vector<SourcePos> inputs;   // declaration of each input
    std::vector<SourcePos> outputs;  // declaration of each OutputColumn
    std::vector<Row> rows;
  };
  struct Test {
    std::string file;
    SourcePos pos;
  };
  std::string ruleset_file;
  std::vector<Table> tables;
  std::vector<Test> tests;
};

// A value slot: a Referral field, a variable written by a table, or the
// outcome so far (override tables).
struct Slot {
  enum class Kind { kField, kVariable, kOutcomePathway, kOutcomeUrgency };
  Kind kind = Kind::kField;
  std::string name;  // field path or variable name
  TypeInfo type;
  // kField: descriptors from Referral down to the field.
  std::vector<const google::protobuf::FieldDescriptor*> path;
  int missing_bit = -1;  // kField: its bit in MissingMask
  // kField: the message node holding the field (CompiledRuleSet::nodes()).
  int node = -1;
  int writer_table = -1;  // kVariable: the table that writes it
};

struct CompiledColumn {
  std::string name;
  int slot = -1;
  TypeInfo type;
  bool unknown_if_missing = true;
  std::vector<CellTest> cells;  // one per row
  // Index (not for text columns): sorted distinct breakpoints; segment 2k+1
  // is breakpoint k itself, segment 2k the open gap below it, segment 2K the
  // gap above the last. `seg_match` holds one row bitset per segment.
  bool indexed = false;
  bool trivial = false;  // every cell is '-': the column never filters
  std::vector<double> breakpoints;
  std::vector<uint64_t> seg_match;
  // For integer values near the breakpoints (enums, bools, most
  // observations): segment = direct[x - direct_base], no search.
  int64_t direct_base = 0;
  std::vector<uint32_t> direct;
  std::vector<uint64_t> missing_match;    // rows matching a missing value
  std::vector<uint64_t> missing_unknown;  // rows undetermined on a missing value
};

// A message on the way to the fields the rules read (the Referral itself is
// node 0). Fields are loaded node by node, each nested message looked up
// once per evaluation, with its Reflection resolved at compile time.
struct MessageNode {
  int parent = -1;
  const google::protobuf::FieldDescriptor* field = nullptr;  // in the parent
  const google::protobuf::Reflection* reflection = nullptr;  // of this message
};

// One output cell of one row.
struct OutputCell {
  enum class Kind { kNone, kLiteral, kExpr };
  Kind kind = Kind::kNone;
  Value literal;
  std::string text;  // kLiteral on text columns
  int expr = -1;     // index into CompiledTable::exprs
};

struct CompiledOutput {
  // A decision output, a variable, or a label (text column of a collect table).
  enum class Kind { kPathway, kUrgency, kFlags, kVariable, kColumnOnly };
  Kind kind = Kind::kVariable;
  std::string name;
  TypeInfo type;
  int slot = -1;  // kVariable
  std::vector<OutputCell> cells;     // per row (kPathway/kUrgency use CompiledRow)
};

struct CompiledAggregate {
  std::string name;
  v1::Aggregate op = v1::AGGREGATE_SUM;
  int column = -1;  // index into outputs
  int slot = -1;
};

struct CompiledRow {
  std::string id;
  std::string qualified_id;  // "table/row"
  bool safety_critical = false;
  bool has_outcome = false;
  v1::Pathway pathway = v1::PATHWAY_UNSPECIFIED;
  v1::Urgency urgency = v1::URGENCY_UNSPECIFIED;
  int rank = 0;  // lower is more urgent; INT32_MAX without an outcome
  uint64_t flags = 0;  // bit n = Flag value n
  int label_column = -1;   // score tables: text output naming the parameter
  int group = -1;          // score tables: parameter group id
};

struct CompiledTable {
  std::string id;
  v1::HitPolicy hit_policy = v1::HIT_POLICY_FIRST;
  bool override_mode = false;
  bool lowers_safety_critical = false;
  std::string score;
  int nrows = 0;
  int words = 0;  // 64-bit words per row bitset
  std::vector<CompiledColumn> columns;
  std::vector<CompiledOutput> outputs;
  std::vector<CompiledAggregate> aggregates;
  std::vector<CompiledRow> rows;
  std::vector<Expr> exprs;
  // Priority tables: rows grouped by rank, most urgent first.
  std::vector<std::pair<int, std::vector<uint64_t>>> rank_classes;
  int score_label = -1;   // output index of the parameter label
  int score_points = -1;  // output index of the points column
  int ngroups = 0;
  int scratch_offset = 0;  // into EvalResult bitsets
};

// An immutable compiled rule set. Thread-safe: Evaluate is const and may be
// called from any number of threads at once.
class CompiledRuleSet {
 public:
  // Compiles a canonical RuleSet. `sources` (may be null) positions the
  // diagnostics. Cells are normalised in the stored proto and the version
  // computed from it. Returns null if there were errors (all reported).
  static std::shared_ptr<const CompiledRuleSet> Compile(v1::RuleSet proto,
                                                        const SourceMap* sources,
                                                        Diagnostics* diags);

  const v1::RuleSet& proto() const { return proto_; }
  const std::string& version() const { return version_; }
  const SourceMap& sources() const { return sources_; }

  // Triage `referral`. When `result` is reused across calls, no heap memory
  // is allocated once its buffers have grown.
  void Evaluate(const v1::Referral& referral, EvalResult* result) const;

  // The full decision with explanation, from an evaluated result.
  void ToDecision(const EvalResult& result, v1::TriageDecision* decision) const;

  // Convenience: Evaluate + ToDecision.
  v1::TriageDecision Triage(const v1::Referral& referral) const;

  // Internals for analysis, tests and tools.
  const std::vector<Slot>& slots() const { return slots_; }
  const std::vector<MessageNode>& nodes() const { return nodes_; }
  const std::vector<CompiledTable>& tables() const { return tables_; }
  const std::vector<int>& order() const { return order_; }
  int Rank(v1::Pathway p, v1::Urgency u) const;
  int TargetMinutes(v1::Urgency u) const;
  const absl::TimeZone& time_zone() const { return tz_; }
  int field_count() const { return field_count_; }
  // The rule set's missing-data and fallback outcomes.
  const v1::Outcome& missing_data() const { return proto_.missing_data(); }
  const v1::Outcome& fallback() const { return proto_.fallback(); }

 private:
  friend class Compiler;
  CompiledRuleSet() = default;

  void EvaluateTable(const CompiledTable& t, EvalResult* r) const;

  v1::RuleSet proto_;
  std::string version_;
  SourceMap sources_;
  std::vector<Slot> slots_;
  std::vector<MessageNode> nodes_;
  std::vector<int> field_slots_;  // slots of kind kField, by node order
  int field_count_ = 0;
  std::vector<CompiledTable> tables_;
  std::vector<int> order_;  // evaluation order (indexes into tables_)
  std::vector<int> pathway_pos_;   // by Pathway number
  std::vector<int> target_minutes_;  // by Urgency number
  absl::TimeZone tz_;
  int scratch_words_ = 0;
};

// Reusable evaluation state and result. Not thread-safe; use one per thread.
class EvalResult {
 public:
  EvalResult() = default;

  // Outcome.
  v1::Pathway pathway() const { return pathway_; }
  v1::Urgency urgency() const { return urgency_; }
  uint64_t flags() const { return flags_; }
  bool missing_data_review() const { return !could_escalate_.empty(); }

  // Internals for replay, coverage and analysis tools; valid after Evaluate
  // with the rule set `t` belongs to. Allocation-free.
  // The row whose outcome was taken (the table and row of its decisive_row;
  // -1 for the fallback). The outcome itself may since have been raised by
  // the missing-data review.
  int decisive_table() const { return decisive_table_; }
  int decisive_row() const { return decisive_row_; }
  // Whether row `row` of table `t` matched (every cell; for single-hit
  // tables whether or not it was the row chosen): what a decision lists as
  // fired and tests count as covered.
  bool RowMatched(const CompiledTable& t, int row) const {
    return (matched_[t.scratch_offset + row / 64] >> (row % 64)) & 1;
  }
  // The rows of `t` that matched, as a bitset of t.words words.
  const uint64_t* MatchedRows(const CompiledTable& t) const {
    return matched_.data() + t.scratch_offset;
  }
  // The value of slot `i` (CompiledRuleSet::slots()): a field as read, a
  // variable as computed. Text points into the referral evaluated.
  const Value& slot_value(int i) const { return slots_[i]; }

 private:
  friend class CompiledRuleSet;
  struct RowRef {
    int table;
    int row;
    MissingMask missing;  // filled once the outcome is final
  };
  struct TableState {
    int selected = -1;  // single-hit tables
    bool uncertain = false;
  };
  void Reset(const CompiledRuleSet& rs, int scratch_words);

  std::vector<Value> slots_;
  std::vector<uint64_t> matched_;       // per table bitsets (scratch_offset)
  std::vector<uint64_t> undetermined_;
  std::vector<TableState> tables_;
  std::vector<uint64_t> tmp_;
  std::vector<const google::protobuf::Message*> messages_;  // by MessageNode
  std::string lowered_;  // lower-cased text of the column being matched
  std::vector<RowRef> could_escalate_;
  v1::Pathway pathway_ = v1::PATHWAY_UNSPECIFIED;
  v1::Urgency urgency_ = v1::URGENCY_UNSPECIFIED;
  int rank_ = 0;
  int decisive_table_ = -1;  // -1: fallback
  int decisive_row_ = -1;
  uint64_t flags_ = 0;
  MissingMask missing_;
  bool overridden_ = false;
  int override_table_ = -1, override_row_ = -1;
  v1::Pathway from_pathway_ = v1::PATHWAY_UNSPECIFIED;
  v1::Urgency from_urgency_ = v1::URGENCY_UNSPECIFIED;
  int from_table_ = -1, from_row_ = -1;
  bool lowered_safety_critical_ = false;
};

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_COMPILED_RULE_SET_H_
