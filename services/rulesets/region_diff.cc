#include "services/rulesets/region_diff.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "services/rulesets/replay.h"
#include "services/triage/engine/cell.h"
#include "services/triage/engine/witness.h"

namespace frontdoor::rulesets {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using rules::CellTest;
using rules::CompiledColumn;
using rules::CompiledRuleSet;
using rules::CompiledTable;
using rules::Domain;
using rules::EvalResult;
using rules::Expr;
using rules::Slot;
using rules::SlotValue;
using rules::Value;
using rules::ValueType;

// Regions kept in memory (the rest are counted).
constexpr int kMaxStoredRegions = 5000;
// The whole product of the changed tables' fields is enumerated from every
// base when it has at most this many points per base.
constexpr int64_t kFullProductPerBase = 4096;
// Breakpoints a mapped variable may add to one field for one base.
constexpr int kMaxDerivedPoints = 64;
// Description: fields and variables quoted from the example.
constexpr int kMaxAnchors = 4;
// Deadline checked every this many evaluations.
constexpr int kClockEvery = 32;

constexpr double kInf = rules::kInf;
constexpr double kExampleDay = 10957;          // 2000-01-01
constexpr double kExampleSecond = 1768471200;  // 2026-01-15T10:00:00Z

struct Outcome {
  v1::Pathway pathway = v1::PATHWAY_UNSPECIFIED;
  v1::Urgency urgency = v1::URGENCY_UNSPECIFIED;
  bool operator==(const Outcome& o) const {
    return pathway == o.pathway && urgency == o.urgency;
  }
  bool operator!=(const Outcome& o) const { return !(*this == o); }
};

// One evaluated point: whether the versions differ, and how.
struct Cell {
  bool differs = false;
  Outcome from, to;
  bool SameChange(const Cell& o) const {
    return differs && o.differs && from == o.from && to == o.to;
  }
};

// A Referral field read by either version.
struct Field {
  std::string name;
  const Slot* slot = nullptr;  // of either version: the path is the same
  ValueType type = ValueType::kNumber;
  Domain dom;
  bool can_be_missing = true;
  bool text = false;
  bool sampled_text = false;  // contains(...) cells: texts are samples
  std::vector<double> bps;    // from every cell on it, both versions
  std::vector<const CellTest*> text_cells;
};

// A variable's breakpoints mapped back onto a field its expression reads.
struct Mapping {
  int version;
  const Expr* expr;
  int slot;   // the field's slot in that version
  int field;  // index into fields
  const std::vector<double>* targets;
};

struct AxisPoint {
  bool present = false;
  double x = 0;
  std::string text;
  int seg = -1;  // numeric: segment of bps
};

struct Axis {
  int field = -1;
  bool ordered = false;  // numeric: neighbouring segments may merge
  bool integral = false;
  std::vector<double> bps;
  std::vector<AxisPoint> points;  // present in order, then missing
  int base_point = -1;
};

struct Base {
  v1::Referral referral;
  std::vector<Value> values[2];  // slot values under each version
  Outcome outcome[2];
  bool relevant = false;
  int order = 0;
  absl::flat_hash_map<int, std::unique_ptr<Axis>> axes;
};

struct StoredRegion {
  v1::DecisionRegion proto;
  int64_t order = 0;
};

bool Integral(ValueType t, const Domain& d) {
  return t == ValueType::kDate || t == ValueType::kTimestamp ||
         d.kind == Domain::Kind::kInteger;
}

size_t SegmentOf(const std::vector<double>& bps, double x) {
  auto it = std::lower_bound(bps.begin(), bps.end(), x);
  size_t k = static_cast<size_t>(it - bps.begin());
  if (it != bps.end() && *it == x) return 2 * k + 1;
  return 2 * k;
}

void ClearAt(const Slot& s, v1::Referral* referral) {
  Message* m = referral;
  for (size_t i = 0; i + 1 < s.path.size(); ++i) {
    const Reflection* r = m->GetReflection();
    if (!r->HasField(*m, s.path[i])) return;
    m = r->MutableMessage(m, s.path[i]);
  }
  m->GetReflection()->ClearField(m, s.path.back());
}

std::string Quote(const std::string& s) { return rules::JsonString(s); }

class Differ {
 public:
  Differ(const CompiledRuleSet& from, const CompiledRuleSet& to,
         const RegionDiffOptions& options)
      : rs_{&from, &to}, options_(options) {}

  RegionDiffResult Run() {
    start_ = absl::Now();
    deadline_ = start_ + options_.time_limit;
    FindChanges();
    if (changes_.empty()) {
      result_.complete = true;
      return std::move(result_);
    }
    CollectFields();
    CollectMappings();
    ChooseFields();
    CollectBases();
    Search();
    Finish();
    return std::move(result_);
  }

 private:
  // --- What changed --------------------------------------------------------

  void MarkTable(int v, int t, bool whole) {
    table_changed_[v][t] = true;
    if (whole) {
      auto& rows = row_changed_[v][t];
      std::fill(rows.begin(), rows.end(), true);
    }
  }

  void FindChanges() {
    const v1::RuleSet* p[2] = {&rs_[0]->proto(), &rs_[1]->proto()};
    for (int v = 0; v < 2; ++v) {
      table_changed_[v].assign(p[v]->tables_size(), false);
      row_changed_[v].resize(p[v]->tables_size());
      for (int t = 0; t < p[v]->tables_size(); ++t) {
        row_changed_[v][t].assign(p[v]->tables(t).rows_size(), false);
      }
    }
    auto differ = [](const google::protobuf::Message& a,
                     const google::protobuf::Message& b) {
      return a.SerializeAsString() != b.SerializeAsString();
    };
    if (p[0]->timezone() != p[1]->timezone()) Global("timezone");
    if (differ(p[0]->missing_data(), p[1]->missing_data())) {
      Global("missing_data");
    }
    if (differ(p[0]->fallback(), p[1]->fallback())) Global("fallback");
    if (std::vector<int>(p[0]->pathway_order().begin(),
                         p[0]->pathway_order().end()) !=
        std::vector<int>(p[1]->pathway_order().begin(),
                         p[1]->pathway_order().end())) {
      Global("pathway_order");
    }
    std::map<std::string, int> index[2];
    for (int v = 0; v < 2; ++v) {
      for (int t = 0; t < p[v]->tables_size(); ++t) {
        index[v][p[v]->tables(t).id()] = t;
      }
    }
    // Tables in both, in each version's order.
    std::vector<std::string> common[2];
    for (int v = 0; v < 2; ++v) {
      for (const auto& t : p[v]->tables()) {
        if (index[1 - v].count(t.id())) common[v].push_back(t.id());
      }
    }
    if (common[0] != common[1]) Global("table order");
    for (int v = 0; v < 2; ++v) {
      for (int t = 0; t < p[v]->tables_size(); ++t) {
        const v1::Table& table = p[v]->tables(t);
        if (index[1 - v].count(table.id())) continue;
        MarkTable(v, t, true);
        changes_.push_back(
            absl::StrCat(table.id(), v == 0 ? " (removed)" : " (added)"));
      }
    }
    for (int t0 = 0; t0 < p[0]->tables_size(); ++t0) {
      const v1::Table& a = p[0]->tables(t0);
      auto it = index[1].find(a.id());
      if (it == index[1].end()) continue;
      const int t1 = it->second;
      const v1::Table& b = p[1]->tables(t1);
      v1::Table da = a, db = b;
      da.clear_rows();
      db.clear_rows();
      for (v1::Table* d : {&da, &db}) {
        d->clear_title();
        d->clear_description();
        d->clear_owner();
        d->clear_file();
      }
      absl::flat_hash_map<std::string, int> row_index[2];
      for (int r = 0; r < a.rows_size(); ++r) row_index[0][a.rows(r).id()] = r;
      for (int r = 0; r < b.rows_size(); ++r) row_index[1][b.rows(r).id()] = r;
      // Rows of both, in each version's order.
      std::vector<std::string> ids[2];
      for (const auto& r : a.rows()) {
        if (row_index[1].contains(r.id())) ids[0].push_back(r.id());
      }
      for (const auto& r : b.rows()) {
        if (row_index[0].contains(r.id())) ids[1].push_back(r.id());
      }
      if (differ(da, db) || ids[0] != ids[1]) {
        MarkTable(0, t0, true);
        MarkTable(1, t1, true);
        changes_.push_back(absl::StrCat(a.id(), " (changed)"));
        continue;
      }
      for (int r0 = 0; r0 < a.rows_size(); ++r0) {
        auto found = row_index[1].find(a.rows(r0).id());
        const std::string qid = absl::StrCat(a.id(), "/", a.rows(r0).id());
        if (found == row_index[1].end()) {
          MarkTable(0, t0, false);
          row_changed_[0][t0][r0] = true;
          changes_.push_back(qid + " (removed)");
          continue;
        }
        const int r1 = found->second;
        v1::Row x = a.rows(r0), y = b.rows(r1);
        for (v1::Row* d : {&x, &y}) {
          d->clear_source();
          d->clear_note();
        }
        if (!differ(x, y)) continue;
        MarkTable(0, t0, false);
        MarkTable(1, t1, false);
        row_changed_[0][t0][r0] = true;
        row_changed_[1][t1][r1] = true;
        changes_.push_back(qid + " (changed)");
      }
      for (int r1 = 0; r1 < b.rows_size(); ++r1) {
        if (row_index[0].contains(b.rows(r1).id())) continue;
        MarkTable(1, t1, false);
        row_changed_[1][t1][r1] = true;
        changes_.push_back(
            absl::StrCat(b.id(), "/", b.rows(r1).id(), " (added)"));
      }
    }
    result_.changes = changes_;
  }

  void Global(const std::string& what) {
    global_ = true;
    changes_.push_back("rule set: " + what);
  }

  // --- Fields, variables, mappings -----------------------------------------

  int FieldIndex(const Slot& s) {
    auto it = field_index_.find(s.name);
    if (it != field_index_.end()) return it->second;
    Field f;
    f.name = s.name;
    f.slot = &s;
    f.type = s.type.type;
    f.dom = rules::FieldDomain(s);
    if (f.type == ValueType::kDate || f.type == ValueType::kTimestamp) {
      f.dom.kind = Domain::Kind::kInteger;
    }
    const FieldDescriptor* d = s.path.back();
    f.can_be_missing = d->has_presence() ||
                       d->cpp_type() == FieldDescriptor::CPPTYPE_ENUM ||
                       d->cpp_type() == FieldDescriptor::CPPTYPE_STRING;
    f.text = f.type == ValueType::kText;
    fields_.push_back(std::move(f));
    const int i = static_cast<int>(fields_.size()) - 1;
    field_index_[s.name] = i;
    return i;
  }

  void CollectFields() {
    for (int v = 0; v < 2; ++v) {
      const auto& slots = rs_[v]->slots();
      slot_field_[v].assign(slots.size(), -1);
      for (size_t s = 0; s < slots.size(); ++s) {
        if (slots[s].kind == Slot::Kind::kField && !slots[s].path.empty()) {
          slot_field_[v][s] = FieldIndex(slots[s]);
        }
      }
    }
    for (int v = 0; v < 2; ++v) {
      field_slot_[v].assign(fields_.size(), -1);
      for (size_t s = 0; s < slot_field_[v].size(); ++s) {
        if (slot_field_[v][s] >= 0) field_slot_[v][slot_field_[v][s]] = s;
      }
      const auto& slots = rs_[v]->slots();
      for (const CompiledTable& t : rs_[v]->tables()) {
        for (const CompiledColumn& col : t.columns) {
          if (col.slot < 0) continue;
          if (slot_field_[v][col.slot] >= 0) {
            Field& f = fields_[slot_field_[v][col.slot]];
            for (const CellTest& cell : col.cells) {
              if (f.text) {
                f.text_cells.push_back(&cell);
                if (!cell.contains.empty()) f.sampled_text = true;
              } else {
                cell.AppendBreakpoints(&f.bps);
              }
            }
          } else if (slots[col.slot].kind == Slot::Kind::kVariable &&
                     col.type.type != ValueType::kText) {
            auto& bps = var_bps_[slots[col.slot].name];
            for (const CellTest& cell : col.cells) cell.AppendBreakpoints(&bps);
          }
        }
      }
    }
    for (Field& f : fields_) Unique(&f.bps);
    for (auto& [name, bps] : var_bps_) Unique(&bps);
  }

  static void Unique(std::vector<double>* v) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }

  // The fields a slot depends on (itself for a field; for a variable, every
  // field its writer table reads, directly or through other variables).
  const std::set<int>& Sources(int v, int slot) {
    auto& memo = sources_[v];
    auto it = memo.find(slot);
    if (it != memo.end()) return it->second;
    std::set<int>& out = memo[slot];  // empty while in progress
    const Slot& s = rs_[v]->slots()[slot];
    if (s.kind == Slot::Kind::kField) {
      if (slot_field_[v][slot] >= 0) out.insert(slot_field_[v][slot]);
      return out;
    }
    if (s.kind != Slot::Kind::kVariable || s.writer_table < 0) return out;
    const CompiledTable& w = rs_[v]->tables()[s.writer_table];
    std::set<int> acc;
    for (const CompiledColumn& col : w.columns) {
      if (col.slot >= 0 && !col.trivial) {
        const std::set<int>& sub = Sources(v, col.slot);
        acc.insert(sub.begin(), sub.end());
      }
    }
    for (const Expr& e : w.exprs) {
      for (int x : e.slots()) {
        const std::set<int>& sub = Sources(v, x);
        acc.insert(sub.begin(), sub.end());
      }
    }
    std::set<int>& fresh = memo[slot];
    fresh = std::move(acc);
    return fresh;
  }

  void CollectMappings() {
    std::set<std::tuple<int, const Expr*, int>> seen;
    for (int v = 0; v < 2; ++v) {
      const auto& slots = rs_[v]->slots();
      for (const CompiledTable& t : rs_[v]->tables()) {
        for (const auto& out : t.outputs) {
          if (out.kind != rules::CompiledOutput::Kind::kVariable ||
              out.slot < 0) {
            continue;
          }
          auto bps = var_bps_.find(slots[out.slot].name);
          if (bps == var_bps_.end() || bps->second.empty()) continue;
          for (const auto& cell : out.cells) {
            if (cell.kind != rules::OutputCell::Kind::kExpr || cell.expr < 0) {
              continue;
            }
            const Expr* e = &t.exprs[cell.expr];
            for (int x : e->slots()) {
              if (slot_field_[v][x] < 0) continue;
              if (!seen.insert({v, e, x}).second) continue;
              mappings_.push_back({v, e, x, slot_field_[v][x], &bps->second});
            }
          }
        }
      }
    }
  }

  // Which fields the search varies.
  void ChooseFields() {
    std::set<int> direct, indirect, secondary_direct, secondary_indirect;
    direct_only_ = !global_;
    for (int v = 0; v < 2; ++v) {
      const auto& slots = rs_[v]->slots();
      for (size_t t = 0; t < rs_[v]->tables().size(); ++t) {
        if (!table_changed_[v][t]) continue;
        const CompiledTable& table = rs_[v]->tables()[t];
        for (const CompiledColumn& col : table.columns) {
          if (col.slot < 0) continue;
          const bool field = slot_field_[v][col.slot] >= 0;
          if (!col.trivial && !field) direct_only_ = false;
          for (int r = 0; r < table.nrows; ++r) {
            if (!row_changed_[v][t][r] ||
                col.cells[r].kind == CellTest::Kind::kAny) {
              continue;
            }
            if (field) {
              direct.insert(slot_field_[v][col.slot]);
            } else {
              const std::set<int>& s = Sources(v, col.slot);
              indirect.insert(s.begin(), s.end());
              if (slots[col.slot].kind == Slot::Kind::kVariable) {
                anchor_vars_.insert(slots[col.slot].name);
              }
            }
          }
          if (col.trivial) continue;
          if (field) {
            secondary_direct.insert(slot_field_[v][col.slot]);
            changed_table_fields_.insert(slot_field_[v][col.slot]);
          } else {
            const std::set<int>& s = Sources(v, col.slot);
            secondary_indirect.insert(s.begin(), s.end());
          }
        }
      }
    }
    if (global_) {
      for (size_t f = 0; f < fields_.size(); ++f) {
        primary_.push_back(static_cast<int>(f));
      }
      return;
    }
    anchor_fields_.assign(direct.begin(), direct.end());
    auto add = [](std::vector<int>* out, const std::set<int>& s) {
      for (int f : s) {
        if (std::find(out->begin(), out->end(), f) == out->end()) {
          out->push_back(f);
        }
      }
    };
    add(&primary_, direct);
    add(&primary_, indirect);
    add(&secondary_, secondary_direct);
    add(&secondary_, secondary_indirect);
    add(&secondary_, direct);
    add(&secondary_, indirect);
  }

  // --- Bases -----------------------------------------------------------------

  bool Eval(const v1::Referral& r, Outcome* a, Outcome* b) {
    if (exhausted_) return false;
    if (result_.evaluations >= options_.max_evaluations ||
        (result_.evaluations % kClockEvery == 0 && absl::Now() > deadline_)) {
      exhausted_ = true;
      return false;
    }
    ++result_.evaluations;
    rs_[0]->Evaluate(r, &eval_[0]);
    rs_[1]->Evaluate(r, &eval_[1]);
    *a = {eval_[0].pathway(), eval_[0].urgency()};
    *b = {eval_[1].pathway(), eval_[1].urgency()};
    return true;
  }

  void CollectBases() {
    std::set<std::string> seen;
    auto add = [&](const v1::Referral& r) {
      if (!seen.insert(r.SerializeAsString()).second) return;
      auto b = std::make_unique<Base>();
      b->referral = r;
      b->order = static_cast<int>(bases_.size());
      bases_.push_back(std::move(b));
    };
    for (int v = 0; v < 2; ++v) {
      for (const auto& t : rs_[v]->proto().tests()) add(t.referral());
    }
    for (const auto& r : options_.bases) add(r);
    // Relevance: the base fires a changed row, or already differs.
    for (auto& b : bases_) {
      if (!Eval(b->referral, &b->outcome[0], &b->outcome[1])) break;
      for (int v = 0; v < 2; ++v) {
        const auto& slots = rs_[v]->slots();
        b->values[v].resize(slots.size());
        for (size_t s = 0; s < slots.size(); ++s) {
          b->values[v][s] = eval_[v].slot_value(static_cast<int>(s));
        }
        for (size_t t = 0; t < rs_[v]->tables().size() && !b->relevant; ++t) {
          if (!table_changed_[v][t]) continue;
          const CompiledTable& table = rs_[v]->tables()[t];
          for (int r = 0; r < table.nrows; ++r) {
            if (row_changed_[v][t][r] && eval_[v].RowMatched(table, r)) {
              b->relevant = true;
              break;
            }
          }
        }
      }
      b->relevant = b->relevant || b->outcome[0] != b->outcome[1];
    }
    if (exhausted_) {
      // Not every base was evaluated: keep those that were.
      bases_.erase(std::remove_if(bases_.begin(), bases_.end(),
                                  [](const std::unique_ptr<Base>& b) {
                                    return b->values[0].empty();
                                  }),
                   bases_.end());
    }
    std::stable_sort(
        bases_.begin(), bases_.end(),
        [](const std::unique_ptr<Base>& x, const std::unique_ptr<Base>& y) {
          return x->relevant > y->relevant;
        });
    if (static_cast<int>(bases_.size()) > options_.max_bases) {
      bases_.resize(std::max(0, options_.max_bases));
      bases_truncated_ = true;
    }
    result_.bases = static_cast<int>(bases_.size());
  }

  // --- Axes ------------------------------------------------------------------

  // The base's value of a field (present or not), from a version reading it.
  Value BaseValue(const Base& b, int field) const {
    for (int v = 0; v < 2; ++v) {
      const int s = field_slot_[v][field];
      if (s >= 0 && !b.values[v].empty()) return b.values[v][s];
    }
    return Value();
  }

  // Field values where a mapped variable crosses its breakpoints, the other
  // inputs at the base's values: samples around the base's value, then
  // bisection between samples on either side of a breakpoint.
  void Derived(const Base& b, int field, std::vector<double>* out) const {
    const Field& f = fields_[field];
    const bool integral = Integral(f.type, f.dom);
    for (const Mapping& m : mappings_) {
      if (m.field != field || b.values[m.version].empty()) continue;
      std::vector<Value> vals = b.values[m.version];
      const absl::TimeZone& tz = rs_[m.version]->time_zone();
      auto cls = [&](double x) -> int64_t {
        vals[m.slot] = Value::Number(x);
        Value r = m.expr->Evaluate(vals.data(), tz);
        if (!r.present) return -1;
        return static_cast<int64_t>(SegmentOf(*m.targets, r.lo));
      };
      const Value bv = b.values[m.version][m.slot];
      double center = 0;
      std::vector<double> offsets;
      switch (f.type) {
        case ValueType::kDate: {
          center = bv.present ? bv.lo : kExampleDay;
          if (!bv.present) {
            // Around the date of receipt, if the expression reads it.
            for (int x : m.expr->slots()) {
              const Value& o = b.values[m.version][x];
              if (x != m.slot && o.present &&
                  rs_[m.version]->slots()[x].type.type ==
                      ValueType::kTimestamp) {
                center = std::floor(o.lo / 86400);
              }
            }
          }
          for (double d : {1.0, 7.0, 30.0, 91.0, 182.0, 365.0, 730.0, 1826.0,
                           3652.0, 5844.0, 6574.0, 7305.0, 10957.0, 18262.0,
                           23741.0, 25567.0, 29220.0, 36525.0, 43830.0}) {
            offsets.push_back(d);
          }
          break;
        }
        case ValueType::kTimestamp:
          center = bv.present ? std::floor(bv.lo) : kExampleSecond;
          for (double h :
               {1.0 / 60, 0.1,  0.5,   1.0,   2.0,    3.0,    4.0,  6.0,
                8.0,      10.0, 12.0,  14.0,  16.0,   18.0,   20.0, 22.0,
                24.0,     48.0, 168.0, 720.0, 8766.0, 87660.0}) {
            offsets.push_back(std::round(h * 3600));
          }
          break;
        case ValueType::kNumber:
          center = bv.present ? bv.lo : 0;
          for (double d : {0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0,
                           200.0, 500.0, 1000.0, 1e4, 1e6}) {
            offsets.push_back(d);
          }
          break;
        default:
          continue;  // enums and yes/no: every value is a point already
      }
      std::vector<double> xs = {center};
      if (f.type == ValueType::kNumber) xs.push_back(0);
      for (double d : offsets) {
        xs.push_back(center - d);
        xs.push_back(center + d);
      }
      if (integral) {
        for (double& x : xs) x = std::round(x);
      }
      xs.erase(std::remove_if(
                   xs.begin(), xs.end(),
                   [&](double x) { return x < f.dom.lo || x > f.dom.hi; }),
               xs.end());
      Unique(&xs);
      std::vector<int64_t> cs;
      for (double x : xs) cs.push_back(cls(x));
      for (size_t i = 0; i + 1 < xs.size(); ++i) {
        if (cs[i] == cs[i + 1]) continue;
        Bisect(xs[i], cs[i], xs[i + 1], cs[i + 1], integral, cls, out, 0);
        if (static_cast<int>(out->size()) >= kMaxDerivedPoints) return;
      }
    }
  }

  template <typename F>
  void Bisect(double a, int64_t ca, double c, int64_t cc, bool integral,
              const F& cls, std::vector<double>* out, int depth) const {
    if (static_cast<int>(out->size()) >= kMaxDerivedPoints) return;
    const bool close =
        integral ? c - a <= 1 : c - a <= 1e-9 * std::max(1.0, std::fabs(a));
    if (close || depth > 80) {
      out->push_back(a);
      out->push_back(c);
      return;
    }
    double m = a + (c - a) / 2;
    if (integral) m = std::floor(m);
    if (m <= a || m >= c) {
      out->push_back(a);
      out->push_back(c);
      return;
    }
    const int64_t cm = cls(m);
    if (cm != ca) Bisect(a, ca, m, cm, integral, cls, out, depth + 1);
    if (cm != cc) Bisect(m, cm, c, cc, integral, cls, out, depth + 1);
  }

  const Axis& AxisFor(Base& b, int field) {
    auto it = b.axes.find(field);
    if (it != b.axes.end()) return *it->second;
    auto axis = std::make_unique<Axis>();
    Axis& a = *axis;
    const Field& f = fields_[field];
    a.field = field;
    const Value bv = BaseValue(b, field);
    if (f.text) {
      std::set<std::string> texts;
      if (bv.present) {
        a.points.push_back({true, 0, std::string(bv.text), -1});
        texts.insert(std::string(bv.text));
        a.base_point = 0;
      }
      for (std::string& t : rules::TextCandidates(f.text_cells)) {
        if (texts.insert(t).second) a.points.push_back({true, 0, t, -1});
      }
    } else {
      a.ordered = true;
      a.integral = Integral(f.type, f.dom);
      a.bps = f.bps;
      Derived(b, field, &a.bps);
      Unique(&a.bps);
      const int k = static_cast<int>(a.bps.size());
      const int base_seg =
          bv.present ? static_cast<int>(SegmentOf(a.bps, bv.lo)) : -1;
      for (int s = 0; s <= 2 * k; ++s) {
        double x;
        if (s == base_seg) {
          x = bv.lo;
          a.base_point = static_cast<int>(a.points.size());
        } else if (s % 2 == 1) {
          x = a.bps[s / 2];
          if (!rules::PickPoint(f.dom, x)) continue;
        } else if (!rules::PickInGap(f.dom,
                                     s / 2 == 0 ? -kInf : a.bps[s / 2 - 1],
                                     s / 2 == k ? kInf : a.bps[s / 2], &x)) {
          continue;
        }
        a.points.push_back({true, x, "", s});
      }
    }
    if (f.can_be_missing) {
      if (!bv.present) a.base_point = static_cast<int>(a.points.size());
      a.points.push_back({false, 0, "", -1});
    }
    return *(b.axes[field] = std::move(axis));
  }

  void Apply(v1::Referral* r, int field, const AxisPoint& p) const {
    const Field& f = fields_[field];
    if (!p.present) {
      ClearAt(*f.slot, r);
      return;
    }
    SlotValue v;
    v.slot = -1;
    v.present = true;
    v.number = p.x;
    v.text = p.text;
    rules::SetField(*f.slot, v, r);
  }

  // --- Descriptions
  // ------------------------------------------------------------

  std::string ValueText(const Field& f, double x) const {
    switch (f.type) {
      case ValueType::kDate:
        return rules::DateText(x);
      case ValueType::kTimestamp:
        return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                absl::FromUnixSeconds(static_cast<int64_t>(x)),
                                absl::UTCTimeZone());
      case ValueType::kBool:
        return x != 0 ? "yes" : "no";
      case ValueType::kEnum: {
        const auto* e = f.slot->type.enum_type;
        const auto* ev =
            e == nullptr ? nullptr : e->FindValueByNumber(static_cast<int>(x));
        return ev == nullptr ? rules::FormatNumber(x)
                             : rules::ShortEnumName(ev);
      }
      default:
        return rules::FormatNumber(x);
    }
  }

  // "field in [a..b]" for points i0..i1 of an axis.
  std::string RangeText(const Axis& a, int i0, int i1) const {
    const Field& f = fields_[a.field];
    const AxisPoint& p0 = a.points[i0];
    if (!p0.present) return f.name + " missing";
    if (!a.ordered) return absl::StrCat(f.name, " = ", Quote(p0.text));
    const int k = static_cast<int>(a.bps.size());
    const int s0 = p0.seg, s1 = a.points[i1].seg;
    double lo = -kInf, hi = kInf;
    bool lo_open = true, hi_open = true;
    if (s0 % 2 == 1) {
      lo = a.bps[s0 / 2];
      lo_open = false;
    } else if (s0 / 2 > 0) {
      lo = a.bps[s0 / 2 - 1];
    }
    if (s1 % 2 == 1) {
      hi = a.bps[s1 / 2];
      hi_open = false;
    } else if (s1 / 2 < k) {
      hi = a.bps[s1 / 2];
    }
    if (f.dom.kind == Domain::Kind::kFinite) {
      std::vector<std::string> names;
      for (double x : f.dom.values) {
        const bool above = lo_open ? x > lo : x >= lo;
        const bool below = hi_open ? x < hi : x <= hi;
        if (above && below) names.push_back(ValueText(f, x));
      }
      if (names.size() == 1) return absl::StrCat(f.name, " = ", names[0]);
      if (names.size() > 8) {
        const size_t more = names.size() - 6;
        names.resize(6);
        names.push_back(absl::StrCat("and ", more, " more"));
      }
      return absl::StrCat(f.name, " in {", absl::StrJoin(names, ", "), "}");
    }
    if (a.integral) {
      if (lo != -kInf && lo_open) {
        lo = std::floor(lo) + 1;
        lo_open = false;
      }
      if (hi != kInf && hi_open) {
        hi = std::ceil(hi) - 1;
        hi_open = false;
      }
      if (f.dom.lo != -kInf && lo < f.dom.lo) {
        lo = f.dom.lo;
        lo_open = false;
      }
    }
    if (lo == -kInf && hi == kInf) return f.name + " present";
    if (lo == hi && !lo_open && !hi_open) {
      return absl::StrCat(f.name, " = ", ValueText(f, lo));
    }
    if (lo == -kInf) {
      return absl::StrCat(f.name, hi_open ? " < " : " <= ", ValueText(f, hi));
    }
    if (hi == kInf) {
      return absl::StrCat(f.name, lo_open ? " > " : " >= ", ValueText(f, lo));
    }
    return absl::StrCat(f.name, " in ", lo_open ? "(" : "[", ValueText(f, lo),
                        "..", ValueText(f, hi), hi_open ? ")" : "]");
  }

  std::string SlotText(int v, int slot, const Value& x) const {
    if (!x.present) return "missing";
    const Slot& s = rs_[v]->slots()[slot];
    if (s.type.type == ValueType::kText) return Quote(std::string(x.text));
    Field tmp;
    tmp.type = s.type.type;
    tmp.slot = &s;
    if (x.lo != x.hi) {
      return absl::StrCat(ValueText(tmp, x.lo), "..", ValueText(tmp, x.hi));
    }
    return ValueText(tmp, x.lo);
  }

  // Records a region found at `example` (already holding its values).
  void Emit(const std::vector<std::string>& dims, const Cell& cell,
            const v1::Referral& example, const std::vector<int>& dim_fields) {
    ++result_.regions_found;
    const std::string key = absl::StrCat(
        absl::StrJoin(dims, "; "), "|", cell.from.pathway, ",",
        cell.from.urgency, ",", cell.to.pathway, ",", cell.to.urgency);
    if (regions_.count(key)) {
      --result_.regions_found;
      return;
    }
    if (static_cast<int>(regions_.size()) >= kMaxStoredRegions) {
      regions_truncated_ = true;
      return;
    }
    // The example once more, for the rows responsible and the values the
    // changed rows read (not counted against the budget).
    rs_[0]->Evaluate(example, &eval_[0]);
    rs_[1]->Evaluate(example, &eval_[1]);
    std::vector<std::string> parts;
    parts.push_back(dims.empty() ? std::string("the example's inputs")
                                 : absl::StrJoin(dims, ", "));
    std::vector<std::string> with;
    for (int f : anchor_fields_) {
      if (std::find(dim_fields.begin(), dim_fields.end(), f) !=
          dim_fields.end()) {
        continue;
      }
      if (static_cast<int>(with.size()) == kMaxAnchors) break;
      for (int v = 0; v < 2; ++v) {
        const int s = field_slot_[v][f];
        if (s < 0) continue;
        with.push_back(absl::StrCat(fields_[f].name, " ",
                                    SlotText(v, s, eval_[v].slot_value(s))));
        break;
      }
    }
    if (!with.empty()) parts.push_back("with " + absl::StrJoin(with, ", "));
    std::vector<std::string> where;
    for (const std::string& name : anchor_vars_) {
      if (static_cast<int>(where.size()) == kMaxAnchors) break;
      std::string text[2];
      for (int v = 0; v < 2; ++v) {
        const auto& slots = rs_[v]->slots();
        for (size_t s = 0; s < slots.size(); ++s) {
          if (slots[s].kind == Slot::Kind::kVariable && slots[s].name == name) {
            text[v] = SlotText(v, static_cast<int>(s),
                               eval_[v].slot_value(static_cast<int>(s)));
          }
        }
      }
      if (text[0].empty() && text[1].empty()) continue;
      where.push_back(text[0] == text[1] || text[1].empty()
                          ? absl::StrCat(name, " ", text[0])
                          : absl::StrCat(name, " ",
                                         text[0].empty() ? "-" : text[0],
                                         " -> ", text[1]));
    }
    if (!where.empty()) parts.push_back("where " + absl::StrJoin(where, ", "));
    const std::string row0 = ResponsibleRow(*rs_[0], eval_[0]);
    const std::string row1 = ResponsibleRow(*rs_[1], eval_[1]);
    parts.push_back(row0 == row1
                        ? absl::StrCat("decided by ", row0)
                        : absl::StrCat("decided by ", row0, " -> ", row1));
    parts.push_back("other inputs as in the example");

    StoredRegion stored;
    stored.order = next_order_++;
    v1::DecisionRegion& r = stored.proto;
    r.set_description(absl::StrJoin(parts, "; "));
    google::protobuf::util::JsonPrintOptions json;
    json.preserve_proto_field_names = true;
    std::string text;
    if (google::protobuf::util::MessageToJsonString(example, &text, json)
            .ok()) {
      r.set_example(text);
    }
    r.set_from_pathway(cell.from.pathway);
    r.set_from_urgency(cell.from.urgency);
    r.set_to_pathway(cell.to.pathway);
    r.set_to_urgency(cell.to.urgency);
    r.set_downgrade(IsDowngrade(cell.from.urgency, cell.to.urgency));
    regions_.emplace(key, std::move(stored));
  }

  // --- Probes
  // ------------------------------------------------------------------

  struct Span {
    int i0, i1;
    Cell cell;
    bool whole = false;  // every point of the axis, missing included
    bool operator==(const Span& o) const {
      return i0 == o.i0 && i1 == o.i1 && whole == o.whole &&
             o.cell.SameChange(cell);
    }
  };

  // Runs of differing points along an axis: neighbouring present points of
  // an ordered axis that differ in the same way merge. When every point
  // differs in the same way the axis does not matter: one whole span.
  static std::vector<Span> Runs(const Axis& a, const std::vector<Cell>& line) {
    std::vector<Span> out;
    bool whole = !line.empty();
    for (const Cell& c : line) whole = whole && c.SameChange(line[0]);
    if (whole) {
      out.push_back({0, static_cast<int>(line.size()) - 1, line[0], true});
      return out;
    }
    for (int i = 0; i < static_cast<int>(line.size()); ++i) {
      if (!line[i].differs) continue;
      if (!out.empty() && a.ordered && a.points[i].present &&
          a.points[out.back().i1].present && out.back().i1 == i - 1 &&
          out.back().cell.SameChange(line[i])) {
        out.back().i1 = i;
      } else {
        out.push_back({i, i, line[i]});
      }
    }
    return out;
  }

  // Varies `dims` of base `b` over their points (the whole product), merges
  // differing points into regions along dims[0] (runs) and dims[1]
  // (rectangles of identical runs), and emits them. With
  // `skip_base_secondary`, rectangles that include the base's own point of
  // dims[1] are left out (a probe of dims[0] alone found them). Returns
  // false if the budget ran out.
  bool Probe(Base& b, const std::vector<int>& dims, bool skip_base_secondary) {
    v1::Referral work = b.referral;
    if (dims.empty()) {
      Cell c;
      if (!Eval(work, &c.from, &c.to)) return false;
      c.differs = c.from != c.to;
      if (c.differs) Emit({}, c, work, dims);
      return true;
    }
    std::vector<const Axis*> axes;
    for (int f : dims) axes.push_back(&AxisFor(b, f));
    const int n0 = static_cast<int>(axes[0]->points.size());
    const int n1 =
        dims.size() > 1 ? static_cast<int>(axes[1]->points.size()) : 1;
    std::vector<int> odo(dims.size(), 0);
    std::vector<Cell> line(n0);
    std::vector<std::vector<Span>> runs(n1);
    for (;;) {
      for (size_t k = 2; k < dims.size(); ++k) {
        Apply(&work, dims[k], axes[k]->points[odo[k]]);
      }
      for (int j = 0; j < n1; ++j) {
        if (dims.size() > 1) Apply(&work, dims[1], axes[1]->points[j]);
        for (int i = 0; i < n0; ++i) {
          Apply(&work, dims[0], axes[0]->points[i]);
          Cell& c = line[i];
          if (!Eval(work, &c.from, &c.to)) return false;
          c.differs = c.from != c.to;
        }
        runs[j] = Runs(*axes[0], line);
      }
      // Rectangles: neighbouring points of dims[1] with identical runs.
      int j0 = 0;
      while (j0 < n1) {
        int j1 = j0;
        const bool mergeable =
            dims.size() > 1 && axes[1]->ordered && axes[1]->points[j0].present;
        while (mergeable && j1 + 1 < n1 && axes[1]->points[j1 + 1].present &&
               runs[j1 + 1] == runs[j0]) {
          ++j1;
        }
        const bool has_base = dims.size() > 1 && axes[1]->base_point >= j0 &&
                              axes[1]->base_point <= j1;
        if (!(skip_base_secondary && has_base)) {
          for (const Span& run : runs[j0]) {
            // A whole span is not described: that field does not matter.
            std::vector<std::string> text;
            if (!run.whole) text.push_back(RangeText(*axes[0], run.i0, run.i1));
            if (dims.size() > 1) text.push_back(RangeText(*axes[1], j0, j1));
            for (size_t k = 2; k < dims.size(); ++k) {
              text.push_back(RangeText(*axes[k], odo[k], odo[k]));
            }
            v1::Referral example = work;
            Apply(&example, dims[0],
                  axes[0]->points[run.whole && axes[0]->base_point >= 0
                                      ? axes[0]->base_point
                                      : run.i0]);
            if (dims.size() > 1) Apply(&example, dims[1], axes[1]->points[j0]);
            std::vector<int> described(dims.begin() + (run.whole ? 1 : 0),
                                       dims.end());
            Emit(text, run.cell, example, described);
          }
        }
        j0 = j1 + 1;
      }
      // Next combination of dims[2..].
      size_t k = 2;
      while (k < dims.size()) {
        if (++odo[k] < static_cast<int>(axes[k]->points.size())) break;
        odo[k] = 0;
        ++k;
      }
      if (k >= dims.size()) break;
    }
    return true;
  }

  // Points per base of the product of `dims` (static breakpoints only).
  int64_t ProductSize(const std::vector<int>& dims) const {
    int64_t n = 1;
    for (int f : dims) {
      const Field& fl = fields_[f];
      int64_t k = fl.text ? static_cast<int64_t>(fl.text_cells.size()) + 2
                          : 2 * static_cast<int64_t>(fl.bps.size()) + 1;
      k += fl.can_be_missing;
      n *= k;
      if (n > kFullProductPerBase * 16) return n;
    }
    return n;
  }

  void Search() {
    if (global_) {
      for (auto& b : bases_) {
        if (!Probe(*b, {}, false)) return;
      }
    }
    // The whole product, when the changed tables read fields only and it is
    // small.
    std::vector<int> product(primary_.begin(), primary_.end());
    for (int f : changed_table_fields_) {
      if (std::find(product.begin(), product.end(), f) == product.end()) {
        product.push_back(f);
      }
    }
    bool sampled = false;
    for (int f : product) sampled = sampled || fields_[f].sampled_text;
    if (!global_ && direct_only_ && product.empty()) {
      // The changed tables test nothing: only the bases can tell.
      full_product_ = true;
      for (auto& b : bases_) {
        if (!Probe(*b, {}, false)) return;
      }
      full_product_done_ = true;
      return;
    }
    const int64_t size = ProductSize(product);
    if (!global_ && direct_only_ && !product.empty() &&
        size <= kFullProductPerBase &&
        size * static_cast<int64_t>(bases_.size()) <=
            options_.max_evaluations) {
      full_product_ = true;
      for (auto& b : bases_) {
        if (!Probe(*b, product, false)) return;
      }
      full_product_done_ = !sampled;
      return;
    }
    if (primary_.empty()) {
      for (auto& b : bases_) {
        if (!Probe(*b, {}, false)) return;
      }
      return;
    }
    for (int f : primary_) {
      for (auto& b : bases_) {
        if (!Probe(*b, {f}, false)) return;
      }
    }
    if (global_) return;
    for (size_t i = 0; i < primary_.size(); ++i) {
      const int f = primary_[i];
      for (int g : secondary_) {
        // Each pair once: (f, g) with g not an earlier primary field.
        auto at = std::find(primary_.begin(), primary_.end(), g);
        if (g == f || (at != primary_.end() &&
                       static_cast<size_t>(at - primary_.begin()) < i)) {
          continue;
        }
        for (auto& b : bases_) {
          if (!Probe(*b, {f, g}, true)) return;
        }
      }
    }
  }

  void Finish() {
    std::vector<StoredRegion*> all;
    for (auto& [key, r] : regions_) all.push_back(&r);
    std::sort(all.begin(), all.end(), [](StoredRegion* x, StoredRegion* y) {
      if (x->proto.downgrade() != y->proto.downgrade()) {
        return x->proto.downgrade();
      }
      return x->order < y->order;
    });
    for (StoredRegion* r : all) {
      if (static_cast<int>(result_.regions.size()) >= options_.max_regions) {
        break;
      }
      result_.regions.push_back(r->proto);
    }
    const bool listed_all =
        static_cast<int64_t>(result_.regions.size()) == result_.regions_found;
    std::vector<std::string> why;
    if (global_) why.push_back("the whole rule set changed");
    if (!direct_only_ && !global_) {
      why.push_back("a changed table reads variables or the outcome");
    }
    if (direct_only_ && !full_product_) {
      why.push_back("the changed tables' input product is too large");
    }
    if (full_product_ && !full_product_done_ && !exhausted_) {
      why.push_back("free-text tests were tried on sample texts");
    }
    if (exhausted_) why.push_back("the time or evaluation limit was reached");
    if (bases_truncated_) why.push_back("not every base referral was used");
    if (regions_truncated_ || !listed_all) {
      why.push_back("not every region is listed");
    }
    result_.complete = why.empty() && full_product_done_;
    result_.incomplete_reason = absl::StrJoin(why, "; ");
  }

  const CompiledRuleSet* rs_[2];
  const RegionDiffOptions& options_;
  absl::Time start_, deadline_;
  RegionDiffResult result_;

  std::vector<std::string> changes_;
  bool global_ = false;
  std::vector<bool> table_changed_[2];
  std::vector<std::vector<bool>> row_changed_[2];

  std::vector<Field> fields_;
  std::map<std::string, int> field_index_;
  std::vector<int> slot_field_[2];
  std::vector<int> field_slot_[2];
  std::map<std::string, std::vector<double>> var_bps_;
  std::map<int, std::set<int>> sources_[2];
  std::vector<Mapping> mappings_;

  std::vector<int> primary_, secondary_;
  std::set<int> changed_table_fields_;
  std::vector<int> anchor_fields_;
  std::set<std::string> anchor_vars_;
  bool direct_only_ = false;
  bool full_product_ = false;
  bool full_product_done_ = false;

  std::vector<std::unique_ptr<Base>> bases_;
  bool bases_truncated_ = false;
  EvalResult eval_[2];
  bool exhausted_ = false;

  std::map<std::string, StoredRegion> regions_;
  bool regions_truncated_ = false;
  int64_t next_order_ = 0;
};

}  // namespace

RegionDiffResult DiffRegions(const CompiledRuleSet& from,
                             const CompiledRuleSet& to,
                             const RegionDiffOptions& options) {
  return Differ(from, to, options).Run();
}

absl::Status FillRegions(const CompiledRuleSet& from, const CompiledRuleSet& to,
                         v1::RuleSetDiff* diff) {
  RegionDiffResult r = DiffRegions(from, to);
  diff->clear_regions();
  for (auto& region : r.regions) *diff->add_regions() = std::move(region);
  diff->set_regions_complete(r.complete);
  return absl::OkStatus();
}

}  // namespace frontdoor::rulesets
