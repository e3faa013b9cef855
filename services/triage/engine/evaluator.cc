// Evaluation of a compiled rule set: allocation-free once an EvalResult's
// buffers have grown to the rule set's size.

#include <algorithm>
#include <climits>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/triage/engine/compiled_rule_set.h"

namespace frontdoor::rules {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

const absl::CivilDay kEpoch(1970, 1, 1);

// Reads one field from the message holding it (null when that message, or
// one above it, is absent).
Value LoadField(const Slot& s, const Message* m, const Reflection* r) {
  Value v;
  if (m == nullptr) {
    v.missing.set(s.missing_bit);
    return v;
  }
  const size_t n = s.path.size();
  const FieldDescriptor* f = s.path[n - 1];
  if (f->has_presence() && !r->HasField(*m, f)) {
    v.missing.set(s.missing_bit);
    return v;
  }
  double x = 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      x = r->GetInt32(*m, f);
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      x = static_cast<double>(r->GetInt64(*m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      x = r->GetUInt32(*m, f);
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      x = static_cast<double>(r->GetUInt64(*m, f));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      x = r->GetDouble(*m, f);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      x = r->GetFloat(*m, f);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      x = r->GetBool(*m, f) ? 1 : 0;
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      x = r->GetEnumValue(*m, f);
      if (x == 0) {
        v.missing.set(s.missing_bit);
        return v;
      }
      break;
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& text = r->GetStringReference(*m, f, &scratch);
      if (text.empty() || &text == &scratch) {
        // Empty (or, for unusual string representations, not addressable).
        v.missing.set(s.missing_bit);
        return v;
      }
      v.present = true;
      v.text = text;
      return v;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = r->GetMessage(*m, f);
      if (s.type.type == ValueType::kDate) {
        const auto& d = static_cast<const v1::Date&>(sub);
        if (d.year() == 0 || d.month() < 1 || d.month() > 12 || d.day() < 1 || d.day() > 31) {
          v.missing.set(s.missing_bit);
          return v;
        }
        x = static_cast<double>(absl::CivilDay(d.year(), d.month(), d.day()) - kEpoch);
      } else {
        const auto& ts = static_cast<const google::protobuf::Timestamp&>(sub);
        x = static_cast<double>(ts.seconds()) + ts.nanos() * 1e-9;
      }
      break;
    }
  }
  v.present = true;
  v.lo = v.hi = x;
  return v;
}

inline bool TestBit(const uint64_t* bits, int r) { return (bits[r / 64] >> (r % 64)) & 1; }

inline int LowestBit(const uint64_t* bits, int words) {
  for (int w = 0; w < words; ++w) {
    if (bits[w] != 0) return w * 64 + __builtin_ctzll(bits[w]);
  }
  return -1;
}

// Column index lookup: the segment holding `x`.
inline size_t Segment(const CompiledColumn& col, double x) {
  if (!col.direct.empty()) {
    const double k = x - static_cast<double>(col.direct_base);
    if (k >= 0 && k < static_cast<double>(col.direct.size()) && k == std::floor(k)) {
      return col.direct[static_cast<size_t>(k)];
    }
  }
  const std::vector<double>& bp = col.breakpoints;
  auto it = std::lower_bound(bp.begin(), bp.end(), x);
  size_t k = static_cast<size_t>(it - bp.begin());
  if (it != bp.end() && *it == x) return 2 * k + 1;
  return 2 * k;
}

}  // namespace

void EvalResult::Reset(const CompiledRuleSet& rs, int scratch_words) {
  // Every slot is written before it is read (fields on load, variables by
  // their table): size only, no clearing.
  if (slots_.size() != rs.slots().size()) slots_.resize(rs.slots().size());
  if (messages_.size() != rs.nodes().size()) messages_.resize(rs.nodes().size());
  // Every table writes its own bitsets before reading them: no clearing.
  if (matched_.size() < static_cast<size_t>(scratch_words)) {
    matched_.resize(scratch_words);
    undetermined_.resize(scratch_words);
  }
  tables_.assign(rs.tables().size(), TableState());
  size_t max_words = 1, max_rows = 1;
  for (const auto& t : rs.tables()) {
    max_words = std::max<size_t>(max_words, t.words);
    max_rows = std::max<size_t>(max_rows, t.nrows);
  }
  if (tmp_.size() < max_words * 2 + max_rows * 3) tmp_.resize(max_words * 2 + max_rows * 3);
  could_escalate_.clear();
  pathway_ = v1::PATHWAY_UNSPECIFIED;
  urgency_ = v1::URGENCY_UNSPECIFIED;
  rank_ = INT_MAX;
  decisive_table_ = decisive_row_ = -1;
  flags_ = 0;
  missing_.reset();
  overridden_ = false;
  override_table_ = override_row_ = -1;
  from_pathway_ = v1::PATHWAY_UNSPECIFIED;
  from_urgency_ = v1::URGENCY_UNSPECIFIED;
  from_table_ = from_row_ = -1;
  lowered_safety_critical_ = false;
}

namespace {

// The inputs that left row `r` of `t` undetermined.
MissingMask RowMissing(const CompiledTable& t, int r, const Value* slots) {
  MissingMask m;
  for (const auto& col : t.columns) {
    if (col.slot < 0) continue;
    const Value& v = slots[col.slot];
    if (MatchCell(col.cells[r], v, col.unknown_if_missing) == Tri::kUnknown) m |= v.missing;
  }
  return m;
}

Value CellValue(const CompiledTable& t, const CompiledOutput& out, int r, const Value* slots,
                const absl::TimeZone& tz) {
  const OutputCell& c = out.cells[r];
  switch (c.kind) {
    case OutputCell::Kind::kNone:
      return Value();
    case OutputCell::Kind::kLiteral: {
      Value v = c.literal;
      if (out.type.type == ValueType::kText) v.text = c.text;
      return v;
    }
    case OutputCell::Kind::kExpr:
      return t.exprs[c.expr].Evaluate(slots, tz);
  }
  return Value();
}

}  // namespace

void CompiledRuleSet::EvaluateTable(const CompiledTable& t, EvalResult* res) const {
  const int words = t.words;
  uint64_t* matched = res->matched_.data() + t.scratch_offset;
  uint64_t* undet = res->undetermined_.data() + t.scratch_offset;
  uint64_t* possible = res->tmp_.data();
  uint64_t* m_tmp = res->tmp_.data() + words;
  for (int w = 0; w < words; ++w) matched[w] = possible[w] = ~uint64_t{0};
  if (t.nrows % 64 != 0) {
    uint64_t last = (uint64_t{1} << (t.nrows % 64)) - 1;
    matched[words - 1] = possible[words - 1] = last;
  }
  if (t.nrows == 0) matched[0] = possible[0] = 0;
  const Value* slots = res->slots_.data();

  for (const CompiledColumn& col : t.columns) {
    if (col.trivial || col.slot < 0) continue;
    const Value& v = slots[col.slot];
    if (!v.present) {
      const uint64_t* mm = col.missing_match.data();
      const uint64_t* mu = col.missing_unknown.data();
      for (int w = 0; w < words; ++w) {
        matched[w] &= mm[w];
        possible[w] &= mm[w] | mu[w];
      }
      continue;
    }
    if (!col.indexed) {
      // Text columns: lower-case the text once, then test each row.
      std::string& lowered = res->lowered_;
      lowered.assign(v.text.data(), v.text.size());
      for (char& c : lowered) c = absl::ascii_tolower(static_cast<unsigned char>(c));
      for (int r = 0; r < t.nrows; ++r) {
        Tri m = MatchTextCell(col.cells[r], v.text, lowered);
        uint64_t bit = uint64_t{1} << (r % 64);
        if (m != Tri::kMatch) matched[r / 64] &= ~bit;
        if (m == Tri::kFail) possible[r / 64] &= ~bit;
      }
      continue;
    }
    if (v.lo == v.hi) {
      const uint64_t* seg = col.seg_match.data() + Segment(col, v.lo) * words;
      for (int w = 0; w < words; ++w) {
        matched[w] &= seg[w];
        possible[w] &= seg[w];
      }
      continue;
    }
    // An uncertain value spans segments: a row matches if it matches in all
    // of them and is possible if it matches in any.
    size_t s0 = Segment(col, v.lo), s1 = Segment(col, v.hi);
    for (int w = 0; w < words; ++w) {
      uint64_t all = ~uint64_t{0}, any = 0;
      for (size_t s = s0; s <= s1; ++s) {
        uint64_t x = col.seg_match[s * words + w];
        all &= x;
        any |= x;
      }
      m_tmp[w] = all;
      matched[w] &= all;
      possible[w] &= any;
    }
  }
  for (int w = 0; w < words; ++w) undet[w] = possible[w] & ~matched[w];

  const int ti = static_cast<int>(&t - tables_.data());
  auto& state = res->tables_[ti];

  // Rows that would outrank the outcome if their missing inputs were known
  // are kept as escalation candidates; the final outcome filters them.
  auto consider_undetermined = [&](int limit_rank, int before_row) {
    for (int w = 0; w < words; ++w) {
      uint64_t bits = undet[w];
      while (bits) {
        int r = w * 64 + __builtin_ctzll(bits);
        bits &= bits - 1;
        if (before_row >= 0 && r >= before_row) return;
        const CompiledRow& row = t.rows[r];
        if (!row.has_outcome || row.rank >= limit_rank) continue;
        res->could_escalate_.push_back({ti, r, MissingMask()});
      }
    }
  };

  if (t.hit_policy == v1::HIT_POLICY_COLLECT) {
    for (int w = 0; w < words; ++w) {
      uint64_t bits = matched[w];
      while (bits) {
        int r = w * 64 + __builtin_ctzll(bits);
        bits &= bits - 1;
        const CompiledRow& row = t.rows[r];
        res->flags_ |= row.flags;
        if (row.has_outcome && row.rank < res->rank_) {
          res->rank_ = row.rank;
          res->decisive_table_ = ti;
          res->decisive_row_ = r;
        }
      }
    }
    consider_undetermined(INT_MAX, -1);
    // Aggregates. Rows sharing a parameter group are exclusive, so an
    // undetermined group adds at most its largest (or smallest) value.
    for (const CompiledAggregate& ag : t.aggregates) {
      if (ag.slot < 0) continue;
      const CompiledOutput& out = t.outputs[ag.column];
      double* g_lo = reinterpret_cast<double*>(res->tmp_.data() + 2 * words);
      double* g_hi = g_lo + t.nrows;
      uint64_t* g_state = reinterpret_cast<uint64_t*>(g_hi + t.nrows);  // 1 matched, 2 undetermined
      const int ngroups = t.ngroups > 0 ? t.ngroups : t.nrows;
      for (int g = 0; g < ngroups; ++g) {
        g_lo[g] = kInf;
        g_hi[g] = -kInf;
        g_state[g] = 0;
      }
      double lo = 0, hi = 0;
      bool any_matched = false, any_undet = false;
      double m_max = -kInf, m_min = kInf, u_max = -kInf, u_min = kInf;
      MissingMask mask;
      for (int r = 0; r < t.nrows; ++r) {
        bool is_m = TestBit(matched, r), is_u = TestBit(undet, r);
        if (!is_m && !is_u) continue;
        Value cv = ag.op == v1::AGGREGATE_COUNT ? Value::Number(1)
                                                : CellValue(t, out, r, slots, tz_);
        if (!cv.present) {
          if (is_m) {
            // A matching row without a value contributes nothing.
            continue;
          }
          cv = Value::Number(0);
        }
        int g = t.rows[r].group >= 0 ? t.rows[r].group : r;
        if (is_m) {
          any_matched = true;
          g_state[g] |= 1;
          lo += cv.lo;
          hi += cv.hi;
          m_max = std::max(m_max, cv.hi);
          m_min = std::min(m_min, cv.lo);
          mask |= cv.missing;
        } else {
          any_undet = true;
          g_state[g] |= 2;
          g_lo[g] = std::min(g_lo[g], cv.lo);
          g_hi[g] = std::max(g_hi[g], cv.hi);
          u_max = std::max(u_max, cv.hi);
          u_min = std::min(u_min, cv.lo);
          mask |= RowMissing(t, r, slots);
        }
      }
      Value result;
      switch (ag.op) {
        case v1::AGGREGATE_SUM:
        case v1::AGGREGATE_COUNT:
          for (int g = 0; g < ngroups; ++g) {
            if (g_state[g] == 2) {
              lo += std::min(0.0, g_lo[g]);
              hi += std::max(0.0, g_hi[g]);
            }
          }
          result = Value::Range(lo, hi);
          break;
        case v1::AGGREGATE_MAX:
          if (!any_matched && !any_undet) break;
          result = any_matched ? Value::Range(m_max, std::max(m_max, u_max))
                               : Value::Range(u_min, u_max);
          break;
        case v1::AGGREGATE_MIN:
          if (!any_matched && !any_undet) break;
          result = any_matched ? Value::Range(std::min(m_min, u_min), m_min)
                               : Value::Range(u_min, u_max);
          break;
        default:
          break;
      }
      result.missing = mask;
      if (any_undet && !any_matched && ag.op != v1::AGGREGATE_SUM &&
          ag.op != v1::AGGREGATE_COUNT) {
        // Possibly no row at all: the value may be missing.
        result.present = true;
      }
      res->slots_[ag.slot] = result;
    }
    return;
  }

  // Single-hit tables: choose the row.
  int selected = -1;
  int limit_rank = INT_MAX;
  int before_row = -1;
  switch (t.hit_policy) {
    case v1::HIT_POLICY_PRIORITY:
      for (const auto& [rank, bits] : t.rank_classes) {
        for (int w = 0; w < words; ++w) {
          uint64_t x = matched[w] & bits[w];
          if (x) {
            selected = w * 64 + __builtin_ctzll(x);
            break;
          }
        }
        if (selected >= 0) break;
      }
      if (selected >= 0) limit_rank = t.rows[selected].rank;
      break;
    case v1::HIT_POLICY_FIRST:
      selected = LowestBit(matched, words);
      before_row = selected;
      break;
    default:  // unique
      selected = LowestBit(matched, words);
      break;
  }
  state.selected = selected;
  // Rows that could have been chosen instead.
  bool uncertain = false;
  {
    for (int w = 0; w < words && !uncertain; ++w) {
      uint64_t bits = undet[w];
      while (bits) {
        int r = w * 64 + __builtin_ctzll(bits);
        bits &= bits - 1;
        if (before_row >= 0 && r >= before_row) break;
        if (t.hit_policy == v1::HIT_POLICY_PRIORITY && t.rows[r].rank >= limit_rank) continue;
        uncertain = true;
        break;
      }
    }
  }
  state.uncertain = uncertain;

  if (!t.override_mode) {
    consider_undetermined(limit_rank, before_row);
    if (selected >= 0) {
      const CompiledRow& row = t.rows[selected];
      res->flags_ |= row.flags;
      if (row.has_outcome && row.rank < res->rank_) {
        res->rank_ = row.rank;
        res->decisive_table_ = ti;
        res->decisive_row_ = selected;
      }
    }
  } else if (selected >= 0 && t.rows[selected].has_outcome) {
    const CompiledRow& row = t.rows[selected];
    bool lowers = row.rank > res->rank_;
    bool from_sc = res->decisive_table_ >= 0 &&
                   tables_[res->decisive_table_].rows[res->decisive_row_].safety_critical;
    if (!(lowers && from_sc && !t.lowers_safety_critical)) {
      // (Undeclared lowering of a safety-critical outcome is refused here as
      // well as at load.)
      res->overridden_ = true;
      res->override_table_ = ti;
      res->override_row_ = selected;
      res->from_table_ = res->decisive_table_;
      res->from_row_ = res->decisive_row_;
      res->from_pathway_ = res->pathway_;
      res->from_urgency_ = res->urgency_;
      res->lowered_safety_critical_ = lowers && from_sc;
      res->flags_ |= row.flags;
      if (res->lowered_safety_critical_) {
        res->flags_ |= uint64_t{1} << v1::FLAG_CLINICIAN_CONFIRMATION_REQUIRED;
      }
      res->rank_ = row.rank;
      res->pathway_ = row.pathway;
      res->urgency_ = row.urgency;
      res->decisive_table_ = ti;
      res->decisive_row_ = selected;
    }
  }

  // Variables.
  for (const CompiledOutput& out : t.outputs) {
    if (out.kind != CompiledOutput::Kind::kVariable || out.slot < 0) continue;
    Value v;
    if (selected >= 0) v = CellValue(t, out, selected, slots, tz_);
    if (uncertain) {
      // Another row might have been chosen: the value is the range of the
      // candidates' values (numbers) or their common value; if no row might
      // match at all, or a candidate has no value, it is missing.
      bool ok = selected >= 0 && v.present;
      MissingMask mask = v.missing;
      for (int w = 0; w < words; ++w) {
        uint64_t bits = undet[w];
        while (bits) {
          int r = w * 64 + __builtin_ctzll(bits);
          bits &= bits - 1;
          if (before_row >= 0 && r >= before_row) break;
          if (t.hit_policy == v1::HIT_POLICY_PRIORITY && t.rows[r].rank >= limit_rank) continue;
          Value c = CellValue(t, out, r, slots, tz_);
          mask |= RowMissing(t, r, slots) | c.missing;
          if (!ok || !c.present) {
            ok = false;
            continue;
          }
          if (c.lo == v.lo && c.hi == v.hi) continue;
          if (out.type.type == ValueType::kNumber) {
            v.lo = std::min(v.lo, c.lo);
            v.hi = std::max(v.hi, c.hi);
          } else {
            ok = false;
          }
        }
      }
      if (!ok) v = Value();
      v.missing = mask;
    } else if (selected < 0) {
      // No row applies: name the table's missing inputs as the reason.
      for (const CompiledColumn& col : t.columns) {
        if (col.slot >= 0 && !slots[col.slot].exact()) v.missing |= slots[col.slot].missing;
      }
    }
    res->slots_[out.slot] = v;
  }
}

void CompiledRuleSet::Evaluate(const v1::Referral& referral, EvalResult* res) const {
  res->Reset(*this, scratch_words_);
  const Message** msgs = res->messages_.data();
  msgs[0] = &referral;
  for (size_t n = 1; n < nodes_.size(); ++n) {
    const MessageNode& node = nodes_[n];
    const Message* parent = msgs[node.parent];
    const Reflection* pr = nodes_[node.parent].reflection;
    msgs[n] = parent != nullptr && pr->HasField(*parent, node.field)
                  ? &pr->GetMessage(*parent, node.field)
                  : nullptr;
  }
  for (int i : field_slots_) {
    const Slot& s = slots_[i];
    res->slots_[i] = LoadField(s, msgs[s.node], nodes_[s.node].reflection);
  }
  bool outcome_set = false;
  for (int ti : order_) {
    const CompiledTable& t = tables_[ti];
    if (t.override_mode && !outcome_set) {
      // Settle the contributed outcome before any override reads it.
      if (res->decisive_table_ >= 0) {
        const CompiledRow& row = tables_[res->decisive_table_].rows[res->decisive_row_];
        res->pathway_ = row.pathway;
        res->urgency_ = row.urgency;
      } else {
        res->pathway_ = proto_.fallback().pathway();
        res->urgency_ = proto_.fallback().urgency();
        res->rank_ = Rank(res->pathway_, res->urgency_);
      }
      outcome_set = true;
    }
    if (t.override_mode) {
      for (size_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].kind == Slot::Kind::kOutcomePathway) {
          res->slots_[i] = Value::Number(res->pathway_);
        } else if (slots_[i].kind == Slot::Kind::kOutcomeUrgency) {
          res->slots_[i] = Value::Number(res->urgency_);
        }
      }
    }
    EvaluateTable(t, res);
  }
  if (!outcome_set) {
    if (res->decisive_table_ >= 0) {
      const CompiledRow& row = tables_[res->decisive_table_].rows[res->decisive_row_];
      res->pathway_ = row.pathway;
      res->urgency_ = row.urgency;
    } else {
      res->pathway_ = proto_.fallback().pathway();
      res->urgency_ = proto_.fallback().urgency();
      res->rank_ = Rank(res->pathway_, res->urgency_);
    }
  }
  // Missing data: rows that could not be decided and would outrank the
  // outcome. After an override, compare with the outcome it replaced: the
  // override chose deliberately among outcomes at least that urgent.
  const int reference_rank =
      res->overridden_ ? Rank(res->from_pathway_, res->from_urgency_) : res->rank_;
  auto& ce = res->could_escalate_;
  ce.erase(std::remove_if(ce.begin(), ce.end(),
                          [&](const EvalResult::RowRef& r) {
                            return tables_[r.table].rows[r.row].rank >= reference_rank;
                          }),
           ce.end());
  if (!ce.empty()) {
    for (auto& r : ce) {
      r.missing = RowMissing(tables_[r.table], r.row, res->slots_.data());
      res->missing_ |= r.missing;
    }
    res->flags_ |= uint64_t{1} << v1::FLAG_MISSING_DATA_REVIEW;
    // The missing-data outcome only ever raises: a known outcome that
    // already outranks it (acute within the hour) stands, flagged; so does
    // an override, which already demands a clinician's confirmation.
    const v1::Outcome& md = proto_.missing_data();
    const v1::Urgency u = std::min(res->urgency_, md.urgency());
    const int md_rank = Rank(md.pathway(), u);
    if (!res->overridden_ && md_rank < res->rank_) {
      res->pathway_ = md.pathway();
      res->urgency_ = u;
      res->rank_ = md_rank;
    }
  }
}

}  // namespace frontdoor::rules
