// Static analysis of a compiled rule set.
//
// Every input column of a table splits its values into a finite partition:
// the compiler's index segments (each breakpoint, the open gaps between
// them) that hold at least one possible value of the input, plus "missing".
// The possible values come from the input: whole numbers for integer fields,
// the values of enums and yes/no, the literals a table can write into a
// variable, bounds for sums and counts. A row accepts a union of points in
// each column, held as sorted runs of point indexes, so a row is a box of
// the product space and every check below is exact over that partition
// (free text is the exception: it is tested on sample texts).
//
// Rows are first narrowed with the compiler's per-segment row bitsets; the
// searches (gaps, masked rows) then split the space column by column, only
// where the rows still in play differ, remember the row sets already
// settled, and stop at a work cap with a "not proved" warning. A row that is
// undetermined on a missing input is not a gap: the missing-data review
// covers it.

#include "services/triage/engine/analysis.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "services/triage/engine/explain.h"
#include "services/triage/engine/witness.h"

namespace frontdoor::rules {
namespace {

using Severity = Diagnostic::Severity;

// Point index meaning "the input is missing"; kNoPoint: no point at all.
constexpr int kMissingPoint = -1;
constexpr int kNoPoint = -2;
// Gap witnesses: a column whose value does not matter (left out).
constexpr int kAnyPoint = -3;
// Columns where a row accepts at most this many points prefilter candidate
// rows with the compiler's bitsets.
constexpr int kFilterPoints = 32;
// Findings listed per table and check; the rest are counted in one note.
constexpr int kMaxReports = 10;
// Work caps, in row-membership tests: one gap search, one masked-row proof,
// all masked-row proofs of one table, pairwise checks of one table.
constexpr int64_t kSearchCap = 10000000;
constexpr int64_t kRowCap = 1000000;
constexpr int64_t kTableCap = 30000000;
constexpr int64_t kPairCap = 30000000;

// Representative values of date and timestamp inputs, which rules test only
// for presence.
constexpr double kExampleDay = 10957;             // 2000-01-01
constexpr double kExampleSecond = 1768471200;     // 2026-01-15T10:00:00Z

enum MissState : uint8_t { kMissFail = 0, kMissMatch = 1, kMissUnknown = 2 };

inline bool TestBit(const uint64_t* b, int r) { return (b[r >> 6] >> (r & 63)) & 1; }
inline void SetBit(uint64_t* b, int r) { b[r >> 6] |= uint64_t{1} << (r & 63); }

// ---------------------------------------------------------------------------
// Shared state.

struct Ctx {
  const CompiledRuleSet& rs;
  Diagnostics* diags;
  absl::flat_hash_map<int, Domain> domains;
  std::set<int> domains_in_progress;
  // Findings per table and kind (code, or code plus " (not proved)"), for
  // the per-table cap.
  std::map<std::pair<int, std::string>, int> reported;
};

std::string FileOf(const CompiledRuleSet& rs, int t) {
  const auto& ts = rs.sources().tables;
  return t < static_cast<int>(ts.size()) ? ts[t].file : rs.proto().tables(t).file();
}
SourcePos TablePos(const CompiledRuleSet& rs, int t) {
  const auto& ts = rs.sources().tables;
  return t < static_cast<int>(ts.size()) ? ts[t].pos : SourcePos{};
}
SourcePos RowPos(const CompiledRuleSet& rs, int t, int r) {
  const auto& ts = rs.sources().tables;
  if (t < static_cast<int>(ts.size()) && r < static_cast<int>(ts[t].rows.size())) {
    return ts[t].rows[r].pos;
  }
  return {};
}

// "'id' (line 12)".
std::string RowRef(const CompiledRuleSet& rs, int t, int r) {
  const CompiledRow& row = rs.tables()[t].rows[r];
  SourcePos p = RowPos(rs, t, r);
  if (p.line > 0) return absl::StrCat("'", row.id, "' (line ", p.line, ")");
  return absl::StrCat("'", row.id, "'");
}

// How a finding counts towards the per-table cap.
enum class Cap { kFinding, kUnproved, kNever };

// Adds a finding unless the table already has kMaxReports of its kind.
// Notices that a whole check stopped at its work limit (Cap::kNever) are
// always added.
void Report(Ctx& ctx, Severity severity, int t, SourcePos pos, const std::string& code,
            std::string message, std::string example, Cap cap = Cap::kFinding) {
  if (cap != Cap::kNever) {
    int& n = ctx.reported[{t, cap == Cap::kUnproved ? code + " (not proved)" : code}];
    if (++n > kMaxReports) return;
  }
  Diagnostic d;
  d.severity = severity;
  d.file = FileOf(ctx.rs, t);
  d.pos = pos;
  d.code = code;
  d.message = std::move(message);
  d.example = std::move(example);
  ctx.diags->Add(std::move(d));
}

void ReportOverflow(Ctx& ctx) {
  for (const auto& [key, n] : ctx.reported) {
    if (n <= kMaxReports) continue;
    Diagnostic d;
    d.severity = Severity::kNote;
    d.file = FileOf(ctx.rs, key.first);
    d.pos = TablePos(ctx.rs, key.first);
    d.code = "findings-not-listed";
    d.message = absl::StrCat(n - kMaxReports, " more '", key.second, "' findings in table '",
                             ctx.rs.tables()[key.first].id, "' are not listed");
    ctx.diags->Add(std::move(d));
  }
}

// ---------------------------------------------------------------------------
// Domains of slots.

const Domain& SlotDomain(Ctx& ctx, int slot);

// Whether an output expression always gives a whole number: a top-level
// floor() or ceil(), a whole literal, or a whole-number input.
bool WholeExpr(Ctx& ctx, const CompiledTable& t, const Expr& e) {
  std::string text = e.ToString();
  text.erase(std::remove(text.begin(), text.end(), ' '), text.end());
  for (absl::string_view fn : {"floor(", "ceil("}) {
    if (absl::StartsWith(text, fn) && text.back() == ')') {
      int depth = 0;
      bool closes_at_end = true;
      for (size_t i = fn.size() - 1; i < text.size(); ++i) {
        if (text[i] == '(') ++depth;
        if (text[i] == ')' && --depth == 0 && i + 1 != text.size()) closes_at_end = false;
      }
      if (closes_at_end) return true;
    }
  }
  double v;
  if (absl::SimpleAtod(text, &v)) return IsWhole(v);
  int slot = -1;
  for (const auto& col : t.columns) {
    if (col.name == text) slot = col.slot;
  }
  if (slot < 0) {
    for (size_t s = 0; s < ctx.rs.slots().size(); ++s) {
      if (ctx.rs.slots()[s].name == text) slot = static_cast<int>(s);
    }
  }
  if (slot < 0 || ctx.rs.slots()[slot].type.type != ValueType::kNumber) return false;
  const Domain& d = SlotDomain(ctx, slot);
  if (d.kind == Domain::Kind::kInteger) return true;
  if (d.kind == Domain::Kind::kFinite) {
    for (double x : d.values) {
      if (!IsWhole(x)) return false;
    }
    return true;
  }
  return false;
}

Domain ComputeDomain(Ctx& ctx, int slot_index) {
  const Slot& s = ctx.rs.slots()[slot_index];
  Domain d = TypeDomain(s.type);
  switch (s.kind) {
    case Slot::Kind::kOutcomePathway:
    case Slot::Kind::kOutcomeUrgency:
      d.missing_possible = false;
      return d;
    case Slot::Kind::kField:
      return FieldDomain(s);
    case Slot::Kind::kVariable:
      break;
  }
  if (s.writer_table < 0 || s.writer_table >= static_cast<int>(ctx.rs.tables().size())) return d;
  if (s.type.type == ValueType::kText) return d;
  const CompiledTable& w = ctx.rs.tables()[s.writer_table];
  // The values a column of the writer can give.
  auto gather = [&](const CompiledOutput& out, std::vector<double>* lits, bool* all_literal,
                    bool* all_whole) {
    *all_literal = true;
    *all_whole = true;
    for (int r = 0; r < w.nrows && r < static_cast<int>(out.cells.size()); ++r) {
      const OutputCell& c = out.cells[r];
      if (c.kind == OutputCell::Kind::kLiteral) {
        lits->push_back(c.literal.lo);
        if (!IsWhole(c.literal.lo)) *all_whole = false;
      } else if (c.kind == OutputCell::Kind::kExpr) {
        *all_literal = false;
        if (c.expr < 0 || !WholeExpr(ctx, w, w.exprs[c.expr])) *all_whole = false;
      }
    }
  };
  for (const CompiledAggregate& ag : w.aggregates) {
    if (ag.slot != slot_index || ag.column < 0) continue;
    if (ag.op == v1::AGGREGATE_COUNT) {
      d.kind = Domain::Kind::kInteger;
      d.lo = 0;
      d.hi = w.nrows;
      d.missing_possible = false;
      return d;
    }
    std::vector<double> lits;
    bool all_literal, all_whole;
    gather(w.outputs[ag.column], &lits, &all_literal, &all_whole);
    if (ag.op == v1::AGGREGATE_SUM) {
      d.missing_possible = false;
      d.kind = all_whole ? Domain::Kind::kInteger : Domain::Kind::kReal;
      if (all_literal) {
        d.lo = d.hi = 0;
        for (double v : lits) {
          d.lo += std::min(0.0, v);
          d.hi += std::max(0.0, v);
        }
      }
      return d;
    }
    // max / min: one of the values, or missing when no row matched.
    if (all_literal) {
      d.kind = Domain::Kind::kFinite;
      std::sort(lits.begin(), lits.end());
      lits.erase(std::unique(lits.begin(), lits.end()), lits.end());
      d.values = std::move(lits);
    } else if (all_whole) {
      d.kind = Domain::Kind::kInteger;
    }
    return d;
  }
  for (const CompiledOutput& out : w.outputs) {
    if (out.kind != CompiledOutput::Kind::kVariable || out.slot != slot_index) continue;
    std::vector<double> lits;
    bool all_literal, all_whole;
    gather(out, &lits, &all_literal, &all_whole);
    if (all_literal) {
      d.kind = Domain::Kind::kFinite;
      std::sort(lits.begin(), lits.end());
      lits.erase(std::unique(lits.begin(), lits.end()), lits.end());
      d.values = std::move(lits);
    } else if (s.type.type == ValueType::kNumber && all_whole) {
      d.kind = Domain::Kind::kInteger;
    }
    return d;
  }
  return d;
}

const Domain& SlotDomain(Ctx& ctx, int slot) {
  auto it = ctx.domains.find(slot);
  if (it != ctx.domains.end()) return it->second;
  if (ctx.domains_in_progress.count(slot)) {
    static const Domain* const kAny = new Domain();
    return *kAny;
  }
  ctx.domains_in_progress.insert(slot);
  Domain d = ComputeDomain(ctx, slot);
  ctx.domains_in_progress.erase(slot);
  return ctx.domains.emplace(slot, std::move(d)).first->second;
}

// ---------------------------------------------------------------------------
// Examples.

// A concrete counter-example: a Referral in protobuf JSON (proto field
// names, enum full names) when every input is a referral field, otherwise
// a JSON object keyed by column ref.
std::string RenderExample(const CompiledRuleSet& rs, const std::vector<SlotValue>& values) {
  std::vector<SlotValue> vals;
  std::set<int> seen;
  for (const SlotValue& v : values) {
    if (v.slot >= 0 && seen.insert(v.slot).second) vals.push_back(v);
  }
  bool all_fields = true;
  for (const SlotValue& v : vals) {
    if (rs.slots()[v.slot].kind != Slot::Kind::kField || rs.slots()[v.slot].path.empty()) {
      all_fields = false;
    }
  }
  if (all_fields) {
    v1::Referral referral;
    for (const SlotValue& v : vals) {
      if (v.present) SetField(rs.slots()[v.slot], v, &referral);
    }
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    std::string json;
    if (google::protobuf::util::MessageToJsonString(referral, &json, options).ok()) return json;
  }
  std::vector<std::string> parts;
  for (const SlotValue& v : vals) {
    const Slot& slot = rs.slots()[v.slot];
    parts.push_back(absl::StrCat(JsonString(slot.name), ": ", CompactValue(slot, v)));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ", "), "}");
}

// ---------------------------------------------------------------------------
// The table model.

struct Run {
  int lo;
  int hi;  // inclusive
};

struct ColModel {
  int col = -1;  // index into CompiledTable::columns
  int slot = -1;
  const CompiledColumn* cc = nullptr;
  bool text = false;
  bool has_missing = true;  // the input can be missing
  int npts = 0;             // points for present values
  std::vector<int> seg;     // numeric: the compiler segment of each point
  std::vector<double> num;  // numeric: a value in each point
  std::vector<std::string> str;   // text: a sample text per point
  std::vector<uint64_t> text_acc; // text: rows matching each point
  // Per row.
  std::vector<int> run_begin;  // nrows + 1 offsets into runs
  std::vector<Run> runs;       // the points the row matches
  std::vector<uint8_t> miss;   // MissState on a missing input
  std::vector<int> count;      // points the row matches (missing included)

  const uint64_t* Acc(int p, int words) const {
    if (p == kMissingPoint) return cc->missing_match.data();
    return text ? text_acc.data() + static_cast<size_t>(p) * words
                : cc->seg_match.data() + static_cast<size_t>(seg[p]) * words;
  }
  const Run* RunsBegin(int r) const { return runs.data() + run_begin[r]; }
  const Run* RunsEnd(int r) const { return runs.data() + run_begin[r + 1]; }
  bool HasPoint(int r, int p) const {
    if (p == kMissingPoint) return has_missing && miss[r] == kMissMatch;
    const Run* b = RunsBegin(r);
    const Run* e = RunsEnd(r);
    const Run* it = std::upper_bound(b, e, p, [](int x, const Run& run) { return x < run.lo; });
    return it != b && (it - 1)->hi >= p;
  }
  // The row's present points cover every present value.
  bool CoversPresent(int r) const {
    if (npts == 0) return true;
    return run_begin[r + 1] - run_begin[r] == 1 && runs[run_begin[r]].lo == 0 &&
           runs[run_begin[r]].hi == npts - 1;
  }
  bool FullMatch(int r) const {
    return CoversPresent(r) && (!has_missing || miss[r] == kMissMatch);
  }
  // Every value, missing included, matches or is undetermined.
  bool FullPossible(int r, bool with_missing) const {
    return CoversPresent(r) && (!with_missing || !has_missing || miss[r] != kMissFail);
  }
  // The first point the row matches, present values first.
  int FirstPoint(int r) const {
    if (run_begin[r + 1] > run_begin[r]) return runs[run_begin[r]].lo;
    if (has_missing && miss[r] == kMissMatch) return kMissingPoint;
    return kNoPoint;
  }
};

struct TableModel {
  const CompiledTable* t = nullptr;
  int ti = -1;
  int nrows = 0;
  int words = 0;
  std::vector<ColModel> cols;  // columns that are not all '-'
  bool approx_text = false;    // a text column uses contains(...)
  std::vector<uint8_t> empty;  // per row: no input matches it
  std::vector<int> empty_col;  // per empty row: the column that excludes everything
  std::vector<uint64_t> live;  // rows that are not empty
};

// Segment runs (compiler index space) of the present values a cell matches.
void CellSegmentRuns(const CellTest& cell, const std::vector<double>& bp, std::vector<Run>* out) {
  out->clear();
  const int top = 2 * static_cast<int>(bp.size());
  switch (cell.kind) {
    case CellTest::Kind::kAny:
    case CellTest::Kind::kPresent:
      out->push_back({0, top});
      return;
    case CellTest::Kind::kMissing:
      return;
    case CellTest::Kind::kSet:
      break;
  }
  std::vector<Run> in;
  auto index = [&](double v) {
    return static_cast<int>(std::lower_bound(bp.begin(), bp.end(), v) - bp.begin());
  };
  for (const Interval& iv : cell.intervals) {
    int a = iv.lo == -kInf ? 0 : (iv.lo_open ? 2 * index(iv.lo) + 2 : 2 * index(iv.lo) + 1);
    int b = iv.hi == kInf ? top : (iv.hi_open ? 2 * index(iv.hi) : 2 * index(iv.hi) + 1);
    if (a > b) continue;
    if (!in.empty() && in.back().hi + 1 >= a) {
      in.back().hi = std::max(in.back().hi, b);
    } else {
      in.push_back({a, b});
    }
  }
  if (!cell.negated) {
    *out = std::move(in);
    return;
  }
  int next = 0;
  for (const Run& r : in) {
    if (r.lo > next) out->push_back({next, r.lo - 1});
    next = r.hi + 1;
  }
  if (next <= top) out->push_back({next, top});
}

void AppendRun(std::vector<Run>* runs, size_t begin, int lo, int hi) {
  if (runs->size() > begin && runs->back().hi + 1 >= lo) {
    runs->back().hi = std::max(runs->back().hi, hi);
  } else {
    runs->push_back({lo, hi});
  }
}

bool BuildColumn(Ctx& ctx, const CompiledTable& t, int c, ColModel* m) {
  const CompiledColumn& cc = t.columns[c];
  m->col = c;
  m->slot = cc.slot;
  m->cc = &cc;
  const Domain& dom = SlotDomain(ctx, cc.slot);
  m->has_missing = dom.missing_possible;
  const int n = t.nrows;
  const int words = t.words;
  m->run_begin.assign(n + 1, 0);
  m->miss.assign(n, kMissFail);
  m->count.assign(n, 0);
  for (int r = 0; r < n; ++r) {
    if (TestBit(cc.missing_match.data(), r)) {
      m->miss[r] = kMissMatch;
    } else if (TestBit(cc.missing_unknown.data(), r)) {
      m->miss[r] = kMissUnknown;
    }
  }
  if (cc.type.type == ValueType::kText) {
    m->text = true;
    std::vector<const CellTest*> cells;
    for (const CellTest& cell : cc.cells) cells.push_back(&cell);
    m->str = TextCandidates(cells);
    m->npts = static_cast<int>(m->str.size());
    m->text_acc.assign(static_cast<size_t>(m->npts) * words, 0);
    std::vector<std::vector<bool>> match(n, std::vector<bool>(m->npts, false));
    for (int p = 0; p < m->npts; ++p) {
      Value v;
      v.present = true;
      v.text = m->str[p];
      for (int r = 0; r < n; ++r) {
        if (MatchCell(cc.cells[r], v, cc.unknown_if_missing) == Tri::kMatch) {
          SetBit(m->text_acc.data() + static_cast<size_t>(p) * words, r);
          match[r][p] = true;
        }
      }
    }
    for (int r = 0; r < n; ++r) {
      size_t begin = m->runs.size();
      for (int p = 0; p < m->npts; ++p) {
        if (match[r][p]) AppendRun(&m->runs, begin, p, p);
      }
      m->run_begin[r + 1] = static_cast<int>(m->runs.size());
    }
  } else {
    if (!cc.indexed) return false;
    const std::vector<double>& bp = cc.breakpoints;
    const int k = static_cast<int>(bp.size());
    for (int s = 0; s <= 2 * k; ++s) {
      double v = 0;
      bool ok;
      if (cc.type.type == ValueType::kDate || cc.type.type == ValueType::kTimestamp) {
        v = cc.type.type == ValueType::kDate ? kExampleDay : kExampleSecond;
        ok = k == 0;
      } else if (s % 2 == 1) {
        v = bp[s / 2];
        ok = PickPoint(dom, v);
      } else {
        double a = s / 2 == 0 ? -kInf : bp[s / 2 - 1];
        double b = s / 2 == k ? kInf : bp[s / 2];
        ok = PickInGap(dom, a, b, &v);
      }
      if (ok) {
        m->seg.push_back(s);
        m->num.push_back(v);
      }
    }
    m->npts = static_cast<int>(m->seg.size());
    std::vector<Run> seg_runs;
    for (int r = 0; r < n; ++r) {
      CellSegmentRuns(cc.cells[r], bp, &seg_runs);
      size_t begin = m->runs.size();
      for (const Run& sr : seg_runs) {
        int p0 = static_cast<int>(std::lower_bound(m->seg.begin(), m->seg.end(), sr.lo) -
                                  m->seg.begin());
        int p1 = static_cast<int>(std::upper_bound(m->seg.begin(), m->seg.end(), sr.hi) -
                                  m->seg.begin()) - 1;
        if (p0 <= p1) AppendRun(&m->runs, begin, p0, p1);
      }
      m->run_begin[r + 1] = static_cast<int>(m->runs.size());
    }
  }
  for (int r = 0; r < n; ++r) {
    int cnt = 0;
    for (const Run* it = m->RunsBegin(r); it != m->RunsEnd(r); ++it) cnt += it->hi - it->lo + 1;
    if (m->has_missing && m->miss[r] == kMissMatch) ++cnt;
    m->count[r] = cnt;
  }
  return true;
}

bool BuildModel(Ctx& ctx, int ti, TableModel* m) {
  const CompiledTable& t = ctx.rs.tables()[ti];
  m->t = &t;
  m->ti = ti;
  m->nrows = t.nrows;
  m->words = t.words;
  if (static_cast<int>(t.rows.size()) != t.nrows) return false;
  for (int c = 0; c < static_cast<int>(t.columns.size()); ++c) {
    const CompiledColumn& cc = t.columns[c];
    if (cc.slot < 0 || static_cast<int>(cc.cells.size()) != t.nrows) return false;
    if (cc.trivial) continue;
    ColModel col;
    if (!BuildColumn(ctx, t, c, &col)) return false;
    if (col.text) {
      for (const CellTest& cell : cc.cells) {
        if (!cell.contains.empty()) m->approx_text = true;
      }
    }
    m->cols.push_back(std::move(col));
  }
  // Fewer points first: the searches split on the coarsest columns first.
  std::stable_sort(m->cols.begin(), m->cols.end(), [](const ColModel& a, const ColModel& b) {
    return a.npts < b.npts;
  });
  m->empty.assign(t.nrows, 0);
  m->empty_col.assign(t.nrows, -1);
  m->live.assign(t.words, 0);
  for (int r = 0; r < t.nrows; ++r) {
    for (int k = 0; k < static_cast<int>(m->cols.size()); ++k) {
      if (m->cols[k].count[r] == 0) {
        m->empty[r] = 1;
        m->empty_col[r] = k;
        break;
      }
    }
    if (!m->empty[r]) SetBit(m->live.data(), r);
  }
  return true;
}

// ---------------------------------------------------------------------------
// Points, rows and witnesses.

// A common point of rows a and b in a column (present values first),
// kMissingPoint, or kNoPoint.
int CommonPoint(const ColModel& c, int a, int b) {
  const Run* i = c.RunsBegin(a);
  const Run* ie = c.RunsEnd(a);
  const Run* j = c.RunsBegin(b);
  const Run* je = c.RunsEnd(b);
  while (i != ie && j != je) {
    int lo = std::max(i->lo, j->lo);
    if (lo <= std::min(i->hi, j->hi)) return lo;
    if (i->hi < j->hi) {
      ++i;
    } else {
      ++j;
    }
  }
  if (c.has_missing && c.miss[a] == kMissMatch && c.miss[b] == kMissMatch) return kMissingPoint;
  return kNoPoint;
}

// Whether row `outer` matches every point row `inner` matches.
bool ContainsRow(const ColModel& c, int outer, int inner) {
  if (c.has_missing && c.miss[inner] == kMissMatch && c.miss[outer] != kMissMatch) return false;
  const Run* j = c.RunsBegin(outer);
  const Run* je = c.RunsEnd(outer);
  for (const Run* i = c.RunsBegin(inner); i != c.RunsEnd(inner); ++i) {
    while (j != je && j->hi < i->lo) ++j;
    if (j == je || j->lo > i->lo || j->hi < i->hi) return false;
  }
  return true;
}

Value PointValue(const ColModel& c, int p) {
  if (p < 0) return Value();
  if (c.text) {
    Value v;
    v.present = true;
    v.text = c.str[p];
    return v;
  }
  return Value::Number(c.num[p]);
}

SlotValue PointSlotValue(const ColModel& c, int p) {
  SlotValue v;
  v.slot = c.slot;
  if (p < 0) return v;
  v.present = true;
  if (c.text) {
    v.text = c.str[p];
  } else {
    v.number = c.num[p];
  }
  return v;
}

// Evaluates row r on a witness (a point per model column; columns not in
// the model are all '-').
Tri EvalRow(const TableModel& m, int r, const std::vector<int>& pts) {
  Tri out = Tri::kMatch;
  for (size_t k = 0; k < m.cols.size(); ++k) {
    const ColModel& c = m.cols[k];
    Tri x = MatchCell(c.cc->cells[r], PointValue(c, pts[k]), c.cc->unknown_if_missing);
    if (x == Tri::kFail) return Tri::kFail;
    if (x == Tri::kUnknown) out = Tri::kUnknown;
  }
  return out;
}

// Two model columns reading the same input must agree on its value.
bool Consistent(const TableModel& m, const std::vector<int>& pts) {
  for (size_t a = 0; a < m.cols.size(); ++a) {
    for (size_t b = a + 1; b < m.cols.size(); ++b) {
      if (m.cols[a].slot != m.cols[b].slot || pts[a] == kAnyPoint || pts[b] == kAnyPoint) continue;
      Value x = PointValue(m.cols[a], pts[a]), y = PointValue(m.cols[b], pts[b]);
      if (x.present != y.present || x.lo != y.lo || x.text != y.text) return false;
    }
  }
  return true;
}

// The example for a witness, naming the columns where `rows` are not all '-'
// (every column if `rows` is empty).
std::string WitnessExample(const Ctx& ctx, const TableModel& m, const std::vector<int>& pts,
                           const std::vector<int>& rows) {
  std::vector<SlotValue> vals;
  for (size_t k = 0; k < m.cols.size(); ++k) {
    const ColModel& c = m.cols[k];
    bool involved = rows.empty();
    for (int r : rows) {
      if (c.cc->cells[r].kind != CellTest::Kind::kAny) involved = true;
    }
    if (involved && pts[k] != kAnyPoint) vals.push_back(PointSlotValue(c, pts[k]));
  }
  // Keep the table's column order.
  std::vector<std::pair<int, SlotValue>> ordered;
  for (const SlotValue& v : vals) {
    int col = 0;
    for (const ColModel& c : m.cols) {
      if (c.slot == v.slot) col = c.col;
    }
    ordered.emplace_back(col, v);
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  vals.clear();
  for (auto& [col, v] : ordered) vals.push_back(std::move(v));
  return RenderExample(ctx.rs, vals);
}

std::string CellText(const CompiledTable& t, int c, int r) {
  return RenderCell(t.columns[c].cells[r], t.columns[c].type);
}

// "pulse: '< 50' and '[45..60)'" for the columns where rows a and b differ
// (or, if they test the same everywhere, where they test something).
std::string CellPairs(const TableModel& m, int a, int b) {
  std::vector<std::string> differ, same;
  const CompiledTable& t = *m.t;
  for (int c = 0; c < static_cast<int>(t.columns.size()); ++c) {
    const auto& cells = t.columns[c].cells;
    if (cells[a].kind == CellTest::Kind::kAny && cells[b].kind == CellTest::Kind::kAny) continue;
    std::string x = CellText(t, c, a), y = CellText(t, c, b);
    (x == y ? same : differ)
        .push_back(absl::StrCat(t.columns[c].name, ": '", x, "' and '", y, "'"));
  }
  return absl::StrJoin(differ.empty() ? same : differ, "; ");
}

// Rows (bitset over words [w0, w1)) sharing a point with row r in column c.
void OrPoints(const TableModel& m, const ColModel& c, int r, uint64_t* out, int w0, int w1) {
  const int words = m.words;
  for (int w = w0; w < w1; ++w) out[w] = 0;
  for (const Run* it = c.RunsBegin(r); it != c.RunsEnd(r); ++it) {
    for (int p = it->lo; p <= it->hi; ++p) {
      const uint64_t* acc = c.Acc(p, words);
      for (int w = w0; w < w1; ++w) out[w] |= acc[w];
    }
  }
  if (c.has_missing && c.miss[r] == kMissMatch) {
    const uint64_t* acc = c.Acc(kMissingPoint, words);
    for (int w = w0; w < w1; ++w) out[w] |= acc[w];
  }
}

// Rows matching every point row r matches in column c, ANDed into `cand`.
void AndPoints(const TableModel& m, const ColModel& c, int r, uint64_t* cand, int w0, int w1) {
  const int words = m.words;
  for (const Run* it = c.RunsBegin(r); it != c.RunsEnd(r); ++it) {
    for (int p = it->lo; p <= it->hi; ++p) {
      const uint64_t* acc = c.Acc(p, words);
      for (int w = w0; w < w1; ++w) cand[w] &= acc[w];
    }
  }
  if (c.has_missing && c.miss[r] == kMissMatch) {
    const uint64_t* acc = c.Acc(kMissingPoint, words);
    for (int w = w0; w < w1; ++w) cand[w] &= acc[w];
  }
}

bool AnyBit(const uint64_t* b, int w0, int w1) {
  for (int w = w0; w < w1; ++w) {
    if (b[w]) return true;
  }
  return false;
}

// Model columns where row r accepts few points, fewest first.
std::vector<int> FilterColumns(const TableModel& m, int r) {
  std::vector<int> ks;
  for (int k = 0; k < static_cast<int>(m.cols.size()); ++k) {
    const ColModel& c = m.cols[k];
    if (c.FullMatch(r) || c.count[r] > kFilterPoints) continue;
    ks.push_back(k);
  }
  std::sort(ks.begin(), ks.end(),
            [&](int a, int b) { return m.cols[a].count[r] < m.cols[b].count[r]; });
  return ks;
}

// Narrows `cand` (words [w0, w1)) to rows that intersect row r in every
// filter column; false if none is left.
bool FilterIntersecting(const TableModel& m, int r, uint64_t* cand, std::vector<uint64_t>* tmp,
                        int w0, int w1) {
  for (int k : FilterColumns(m, r)) {
    OrPoints(m, m.cols[k], r, tmp->data(), w0, w1);
    bool any = false;
    for (int w = w0; w < w1; ++w) {
      cand[w] &= (*tmp)[w];
      any = any || cand[w];
    }
    if (!any) return false;
  }
  return AnyBit(cand, w0, w1);
}

template <typename F>
void ForEachBit(const uint64_t* b, int w0, int w1, F f) {
  for (int w = w0; w < w1; ++w) {
    uint64_t x = b[w];
    while (x) {
      int r = w * 64 + __builtin_ctzll(x);
      x &= x - 1;
      if (!f(r)) return;
    }
  }
}

// A point of every column where rows a and b both match, or false.
bool PairWitness(const TableModel& m, int a, int b, std::vector<int>* pts) {
  pts->resize(m.cols.size());
  for (size_t k = 0; k < m.cols.size(); ++k) {
    int p = CommonPoint(m.cols[k], a, b);
    if (p == kNoPoint) return false;
    (*pts)[k] = p;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Row never matches.

void CheckEmptyRows(Ctx& ctx, const TableModel& m) {
  const CompiledTable& t = *m.t;
  for (int r = 0; r < m.nrows; ++r) {
    if (!m.empty[r]) continue;
    const ColModel& c = m.cols[m.empty_col[r]];
    Report(ctx, Severity::kWarning, m.ti, RowPos(ctx.rs, m.ti, r), "row-never-matches",
           absl::StrCat("row '", t.rows[r].id, "' of table '", t.id,
                        "' can never match: no possible value of '", t.columns[c.col].name,
                        "' (", ctx.rs.slots()[c.slot].name, ") passes '",
                        CellText(t, c.col, r), "'; correct the cell or delete the row"),
           "");
  }
}

// ---------------------------------------------------------------------------
// Pairs of rows that can both match (unique tables; score parameters).

void CheckOverlaps(Ctx& ctx, const TableModel& m, bool score) {
  const CompiledTable& t = *m.t;
  const int words = m.words;
  // Score tables: rows of each parameter with more than one row.
  std::vector<std::vector<uint64_t>> groups;
  std::vector<int> group_of(m.nrows, -1);
  if (score) {
    std::map<int, std::vector<int>> by_group;
    for (int r = 0; r < m.nrows; ++r) {
      if (t.rows[r].group >= 0) by_group[t.rows[r].group].push_back(r);
    }
    for (const auto& [g, rows] : by_group) {
      if (rows.size() < 2) continue;
      groups.emplace_back(words, 0);
      for (int r : rows) {
        SetBit(groups.back().data(), r);
        group_of[r] = static_cast<int>(groups.size()) - 1;
      }
    }
  }
  std::vector<uint64_t> cand(words), tmp(words);
  std::vector<int> pts;
  int64_t work = 0;
  for (int a = 0; a < m.nrows; ++a) {
    if (m.empty[a]) continue;
    if (score && group_of[a] < 0) continue;
    const int first = a + 1;
    const int w0 = first / 64;
    if (w0 >= words) break;
    for (int w = w0; w < words; ++w) {
      cand[w] = score ? groups[group_of[a]][w] & m.live[w] : m.live[w];
    }
    // Only rows after a.
    if (first % 64 != 0) cand[w0] &= ~((uint64_t{1} << (first % 64)) - 1);
    if (!FilterIntersecting(m, a, cand.data(), &tmp, w0, words)) continue;
    bool stop = false;
    ForEachBit(cand.data(), w0, words, [&](int b) {
      if (b <= a) return true;
      work += static_cast<int64_t>(m.cols.size());
      if (work > kPairCap) {
        stop = true;
        return false;
      }
      if (!PairWitness(m, a, b, &pts)) return true;
      if (!Consistent(m, pts) || EvalRow(m, a, pts) != Tri::kMatch ||
          EvalRow(m, b, pts) != Tri::kMatch) {
        return true;
      }
      std::string example = WitnessExample(ctx, m, pts, {a, b});
      if (score) {
        const OutputCell& label = t.outputs[t.score_label].cells[a];
        Report(ctx, Severity::kError, m.ti, RowPos(ctx.rs, m.ti, b), "score-overlap",
               absl::StrCat("rows ", RowRef(ctx.rs, m.ti, a), " and ", RowRef(ctx.rs, m.ti, b),
                            " of score table '", t.id, "' both give points for parameter '",
                            label.text, "' to the same referral, so ", t.score,
                            " would count it twice and its bounds would be wrong; make their "
                            "conditions exclusive (",
                            CellPairs(m, a, b), ")"),
               example);
      } else {
        Report(ctx, Severity::kError, m.ti, RowPos(ctx.rs, m.ti, b), "overlap",
               absl::StrCat("rows ", RowRef(ctx.rs, m.ti, a), " and ", RowRef(ctx.rs, m.ti, b),
                            " of unique table '", t.id,
                            "' can both match the same referral, but a unique table allows at "
                            "most one; make their conditions exclusive (",
                            CellPairs(m, a, b),
                            ") or use hit_policy first or priority if the overlap is intended"),
               example);
      }
      return true;
    });
    if (stop) {
      Report(ctx, Severity::kWarning, m.ti, TablePos(ctx.rs, m.ti),
             score ? "score-overlap" : "overlap",
             absl::StrCat("the overlap check of table '", t.id,
                          "' stopped at its work limit; rows after ", RowRef(ctx.rs, m.ti, a),
                          " were not checked (not proved)"),
             "", Cap::kNever);
      return;
    }
  }
}

// ---------------------------------------------------------------------------
// Recursive splitting.

// Elementary classes of column `c` restricted to `region` (sorted runs):
// maximal intervals where no row of `rows` starts or ends.
void Classes(const ColModel& c, const std::vector<Run>& region, const std::vector<int>& rows,
             std::vector<Run>* out) {
  std::vector<int> cuts;
  for (const Run& r : region) {
    cuts.push_back(r.lo);
    cuts.push_back(r.hi + 1);
  }
  for (int s : rows) {
    for (const Run* it = c.RunsBegin(s); it != c.RunsEnd(s); ++it) {
      cuts.push_back(it->lo);
      cuts.push_back(it->hi + 1);
    }
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  out->clear();
  size_t ci = 0;
  for (const Run& r : region) {
    while (ci < cuts.size() && cuts[ci] <= r.lo) ++ci;
    int lo = r.lo;
    while (lo <= r.hi) {
      int hi = r.hi;
      if (ci < cuts.size() && cuts[ci] <= r.hi) hi = cuts[ci] - 1;
      out->push_back({lo, hi});
      lo = hi + 1;
      if (ci < cuts.size() && cuts[ci] == lo) ++ci;
    }
  }
}

using RowSetMemo = absl::flat_hash_set<std::vector<int>>;

// Gap search: is there a point of columns k.. (given the classes chosen for
// columns before k) where no row of `rows` can match? Returns 1 with
// `pts` filled, 0 if not, -1 at the work cap.
class GapSearch {
 public:
  GapSearch(const TableModel& m, bool with_missing) : m_(m), with_missing_(with_missing) {
    const int ncols = static_cast<int>(m.cols.size());
    full_from_.assign(m.nrows, ncols);
    for (int r = 0; r < m.nrows; ++r) {
      int k = ncols;
      while (k > 0 && m.cols[k - 1].FullPossible(r, with_missing)) --k;
      full_from_[r] = k;
    }
    memo_.resize(ncols + 1);
    pts_.assign(ncols, kNoPoint);
  }

  int Find(const std::vector<int>& rows) { return Search(0, rows); }
  const std::vector<int>& pts() const { return pts_; }
  int64_t work() const { return work_; }

 private:
  int Search(int k, const std::vector<int>& rows) {
    const int ncols = static_cast<int>(m_.cols.size());
    work_ += 1 + static_cast<int64_t>(rows.size());
    if (work_ > kSearchCap) return -1;
    if (rows.empty()) {
      for (int j = k; j < ncols; ++j) pts_[j] = kAnyPoint;
      return 1;
    }
    for (int s : rows) {
      if (full_from_[s] <= k) return 0;
    }
    if (k == ncols) return 0;
    const ColModel& c = m_.cols[k];
    std::vector<Run> all;
    if (c.npts > 0) all.push_back({0, c.npts - 1});
    std::vector<Run> classes;
    Classes(c, all, rows, &classes);
    work_ += static_cast<int64_t>(classes.size()) * static_cast<int64_t>(rows.size());
    RowSetMemo local;
    std::vector<int> sub;
    auto visit = [&](int point) -> int {
      if (local.contains(sub) || memo_[k + 1].contains(sub)) return 0;
      local.insert(sub);
      pts_[k] = point;
      int res = Search(k + 1, sub);
      if (res == 0) memo_[k + 1].insert(sub);
      return res;
    };
    // A missing value keeps the rows that do not fail on it. If that is a
    // superset of the rows of a present class already searched without a
    // gap, it cannot have a gap either (fewer rows leave more gaps).
    bool missing_dominated = false;
    for (const Run& cl : classes) {
      sub.clear();
      bool all_survive_missing = true;
      for (int s : rows) {
        if (c.HasPoint(s, cl.lo)) {
          sub.push_back(s);
          all_survive_missing = all_survive_missing && c.miss[s] != kMissFail;
        }
      }
      int res = visit(cl.lo);
      if (res != 0) return res;
      missing_dominated = missing_dominated || all_survive_missing;
    }
    if (with_missing_ && c.has_missing && !missing_dominated) {
      sub.clear();
      for (int s : rows) {
        if (c.miss[s] != kMissFail) sub.push_back(s);
      }
      int res = visit(kMissingPoint);
      if (res != 0) return res;
    }
    return 0;
  }

  const TableModel& m_;
  bool with_missing_;
  std::vector<int> full_from_;
  std::vector<RowSetMemo> memo_;
  std::vector<int> pts_;
  int64_t work_ = 0;
};

// What the table gives when it decides, for the gap message.
std::string TableOutputs(const CompiledTable& t, bool* decides) {
  std::vector<std::string> vars;
  bool outcome = false;
  for (const auto& out : t.outputs) {
    if (out.kind == CompiledOutput::Kind::kPathway) outcome = true;
    if (out.kind == CompiledOutput::Kind::kVariable) vars.push_back(out.name);
  }
  for (const auto& ag : t.aggregates) vars.push_back(ag.name);
  *decides = outcome || !vars.empty();
  std::vector<std::string> parts;
  if (outcome) parts.push_back("the table gives no pathway or urgency");
  if (!vars.empty()) {
    parts.push_back(absl::StrCat(vars.size() == 1 ? "variable " : "variables ",
                                 absl::StrJoin(vars, ", "), " stay",
                                 vars.size() == 1 ? "s" : "", " missing"));
  }
  if (parts.empty()) parts.push_back("its flags are not considered");
  return absl::StrJoin(parts, " and ");
}

void CheckGaps(Ctx& ctx, const TableModel& m) {
  const CompiledTable& t = *m.t;
  bool decides = false;
  std::string consequence = TableOutputs(t, &decides);
  // A row with '-' in every input column is an explicit catch-all.
  std::vector<int> rows;
  for (int r = 0; r < m.nrows; ++r) {
    bool any = true;
    for (const auto& col : t.columns) any = any && col.cells[r].kind == CellTest::Kind::kAny;
    if (any) return;
    rows.push_back(r);
  }
  const std::string fix =
      "; add rows for these inputs, or a last row with '-' in every input column if no "
      "result is intended";
  // Present values first: a referral with everything recorded that falls
  // through is an error; one that falls through only when inputs are not
  // recorded is a warning.
  for (bool with_missing : {false, true}) {
    GapSearch search(m, with_missing);
    int res = search.Find(rows);
    if (res < 0) {
      Report(ctx, decides ? Severity::kWarning : Severity::kNote, m.ti, TablePos(ctx.rs, m.ti),
             "gap",
             absl::StrCat("could not prove that every referral matches a row of table '", t.id,
                          "' within the analysis limit (not proved)"),
             "", Cap::kNever);
      return;
    }
    if (res == 0) continue;
    std::vector<int> pts = search.pts();
    bool genuine = Consistent(m, pts);
    for (int r : rows) genuine = genuine && EvalRow(m, r, pts) == Tri::kFail;
    if (!genuine) continue;
    std::string example = WitnessExample(ctx, m, pts, {});
    std::vector<std::string> missing;
    for (size_t k = 0; k < m.cols.size(); ++k) {
      if (pts[k] == kMissingPoint) missing.push_back(ctx.rs.slots()[m.cols[k].slot].name);
    }
    std::sort(missing.begin(), missing.end());
    missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
    std::string when =
        missing.empty() ? ""
                        : absl::StrCat("when ", absl::StrJoin(missing, ", "),
                                       missing.size() == 1 ? " is" : " are", " not recorded, ");
    if (missing.empty()) {
      Report(ctx, decides ? Severity::kError : Severity::kNote, m.ti, TablePos(ctx.rs, m.ti),
             "gap",
             absl::StrCat("no row of table '", t.id,
                          "' matches some referrals (example below), so ", consequence, fix),
             example);
    } else {
      Report(ctx, decides ? Severity::kWarning : Severity::kNote, m.ti, TablePos(ctx.rs, m.ti),
             "gap",
             absl::StrCat(when, "no row of table '", t.id,
                          "' can match (example below), so ", consequence,
                          "; add a row for missing values (or use '-') if that is not intended"),
             example);
    }
    return;
  }
}

// ---------------------------------------------------------------------------
// Masked rows in first tables.

class MaskProof {
 public:
  MaskProof(const TableModel& m, int r, int64_t cap) : m_(m), r_(r), cap_(cap) {
    const int ncols = static_cast<int>(m.cols.size());
    region_.resize(ncols);
    for (int k = 0; k < ncols; ++k) {
      const ColModel& c = m.cols[k];
      region_[k].assign(c.RunsBegin(r), c.RunsEnd(r));
    }
    memo_.resize(ncols + 1);
  }

  // 1: every point of r's region is matched by an earlier row; 0: not;
  // -1: work cap.
  int Prove(const std::vector<int>& earlier) {
    const int ncols = static_cast<int>(m_.cols.size());
    cover_from_.clear();
    for (int s : earlier) {
      int k = ncols;
      while (k > 0 && ContainsRow(m_.cols[k - 1], s, r_)) --k;
      cover_from_[s] = k;
    }
    return Cover(0, earlier);
  }
  int64_t work() const { return work_; }
  // Earlier rows that took part in the proof.
  const std::vector<int>& maskers() const { return maskers_; }

 private:
  int Cover(int k, const std::vector<int>& rows) {
    const int ncols = static_cast<int>(m_.cols.size());
    work_ += 1 + static_cast<int64_t>(rows.size());
    if (work_ > cap_) return -1;
    if (rows.empty()) return 0;
    for (int s : rows) {
      if (cover_from_[s] <= k) {
        if (maskers_.size() < 4 &&
            std::find(maskers_.begin(), maskers_.end(), s) == maskers_.end()) {
          maskers_.push_back(s);
        }
        return 1;
      }
    }
    if (k == ncols) return 1;
    const ColModel& c = m_.cols[k];
    std::vector<Run> classes;
    Classes(c, region_[k], rows, &classes);
    work_ += static_cast<int64_t>(classes.size()) * static_cast<int64_t>(rows.size());
    RowSetMemo local;
    std::vector<int> sub;
    auto visit = [&]() -> int {
      if (local.contains(sub) || memo_[k + 1].contains(sub)) return 1;
      local.insert(sub);
      int res = Cover(k + 1, sub);
      if (res == 1) memo_[k + 1].insert(sub);
      return res;
    };
    // Missing first: earlier rows that test a value do not match it.
    if (c.has_missing && c.miss[r_] == kMissMatch) {
      sub.clear();
      for (int s : rows) {
        if (c.miss[s] == kMissMatch) sub.push_back(s);
      }
      int res = visit();
      if (res != 1) return res;
    }
    for (const Run& cl : classes) {
      sub.clear();
      for (int s : rows) {
        if (c.HasPoint(s, cl.lo)) sub.push_back(s);
      }
      int res = visit();
      if (res != 1) return res;
    }
    return 1;
  }

  const TableModel& m_;
  int r_;
  int64_t cap_;
  std::vector<std::vector<Run>> region_;
  absl::flat_hash_map<int, int> cover_from_;
  std::vector<RowSetMemo> memo_;
  std::vector<int> maskers_;
  int64_t work_ = 0;
};

void CheckMasked(Ctx& ctx, const TableModel& m) {
  const CompiledTable& t = *m.t;
  const int words = m.words;
  std::vector<uint64_t> cand(words), tmp(words);
  std::vector<int> earlier;
  int64_t budget = kTableCap;
  for (int r = 1; r < m.nrows; ++r) {
    if (m.empty[r]) continue;
    const int w1 = (r + 63) / 64;
    for (int w = 0; w < w1; ++w) cand[w] = m.live[w];
    if (r % 64 != 0) cand[w1 - 1] &= (uint64_t{1} << (r % 64)) - 1;
    if (!FilterIntersecting(m, r, cand.data(), &tmp, 0, w1)) continue;
    earlier.clear();
    std::vector<int> pts;
    ForEachBit(cand.data(), 0, w1, [&](int s) {
      budget -= static_cast<int64_t>(m.cols.size());
      if (PairWitness(m, r, s, &pts)) earlier.push_back(s);
      return true;
    });
    if (earlier.empty()) continue;
    if (budget <= 0) {
      Report(ctx, Severity::kWarning, m.ti, RowPos(ctx.rs, m.ti, r), "masked-row",
             absl::StrCat("the masked-row check of table '", t.id,
                          "' stopped at its work limit; rows from ", RowRef(ctx.rs, m.ti, r),
                          " on were not checked (not proved)"),
             "", Cap::kNever);
      return;
    }
    MaskProof proof(m, r, std::min(kRowCap, budget));
    int res = proof.Prove(earlier);
    budget -= proof.work();
    if (res == 0) continue;
    if (res < 0) {
      Report(ctx, Severity::kWarning, m.ti, RowPos(ctx.rs, m.ti, r), "masked-row",
             absl::StrCat("could not prove whether row '", t.rows[r].id, "' of first table '",
                          t.id, "' can ever be chosen, or whether earlier rows always match "
                          "first, within the analysis limit (not proved); check the rows above it"),
             "", Cap::kUnproved);
      continue;
    }
    // A point of the row, and an earlier row that takes it.
    std::vector<int> pts_r(m.cols.size());
    for (size_t k = 0; k < m.cols.size(); ++k) pts_r[k] = m.cols[k].FirstPoint(r);
    int taker = -1;
    for (int s : earlier) {
      if (EvalRow(m, s, pts_r) == Tri::kMatch) {
        taker = s;
        break;
      }
    }
    std::vector<int> maskers = proof.maskers();
    if (taker >= 0 && std::find(maskers.begin(), maskers.end(), taker) == maskers.end()) {
      maskers.insert(maskers.begin(), taker);
    }
    std::sort(maskers.begin(), maskers.end());
    std::vector<std::string> names;
    for (int s : maskers) names.push_back(RowRef(ctx.rs, m.ti, s));
    std::vector<int> involved = {r};
    if (taker >= 0) involved.push_back(taker);
    std::string example = taker >= 0 && Consistent(m, pts_r) && EvalRow(m, r, pts_r) == Tri::kMatch
                              ? WitnessExample(ctx, m, pts_r, involved)
                              : "";
    Report(ctx, m.approx_text ? Severity::kWarning : Severity::kError, m.ti,
           RowPos(ctx.rs, m.ti, r), "masked-row",
           absl::StrCat("row '", t.rows[r].id, "' of first table '", t.id,
                        "' can never be chosen: every referral it matches is matched first by "
                        "earlier row",
                        names.size() == 1 ? " " : "s ", absl::StrJoin(names, ", "),
                        taker >= 0 ? absl::StrCat(" (in the example, '", t.rows[taker].id,
                                                  "' is chosen)")
                                   : "",
                        names.size() == 1 ? "; move it above that row, narrow that row"
                                          : "; move it above them, narrow the earlier rows",
                        ", or delete it",
                        m.approx_text ? " (free-text tests were checked on sample texts)" : ""),
           example);
  }
}

// ---------------------------------------------------------------------------
// Subsumed rows in priority and collect tables.

std::string OutputSignature(const CompiledTable& t, int r) {
  const CompiledRow& row = t.rows[r];
  std::string sig = absl::StrCat(row.has_outcome, "|", row.pathway, "|", row.urgency, "|",
                                 row.flags);
  for (const auto& out : t.outputs) {
    if (r >= static_cast<int>(out.cells.size())) continue;
    const OutputCell& c = out.cells[r];
    switch (c.kind) {
      case OutputCell::Kind::kNone:
        absl::StrAppend(&sig, "|-");
        break;
      case OutputCell::Kind::kLiteral:
        absl::StrAppend(&sig, "|L", FormatNumber(c.literal.lo), ":", c.text);
        break;
      case OutputCell::Kind::kExpr:
        absl::StrAppend(&sig, "|E", t.exprs[c.expr].ToString());
        break;
    }
  }
  return sig;
}

void CheckSubsumed(Ctx& ctx, const TableModel& m) {
  const CompiledTable& t = *m.t;
  const int words = m.words;
  std::map<std::string, std::vector<int>> by_sig;
  for (int r = 0; r < m.nrows; ++r) {
    if (!m.empty[r]) by_sig[OutputSignature(t, r)].push_back(r);
  }
  std::vector<uint64_t> cand(words), group(words);
  int64_t work = 0;
  for (const auto& [sig, rows] : by_sig) {
    if (rows.size() < 2) continue;
    std::fill(group.begin(), group.end(), 0);
    for (int r : rows) SetBit(group.data(), r);
    for (int r : rows) {
      cand = group;
      cand[r / 64] &= ~(uint64_t{1} << (r % 64));
      for (int k : FilterColumns(m, r)) {
        AndPoints(m, m.cols[k], r, cand.data(), 0, words);
        if (!AnyBit(cand.data(), 0, words)) break;
      }
      int container = -1;
      bool stop = false;
      ForEachBit(cand.data(), 0, words, [&](int s) {
        work += static_cast<int64_t>(m.cols.size());
        if (work > kPairCap) {
          stop = true;
          return false;
        }
        for (const ColModel& c : m.cols) {
          if (!ContainsRow(c, s, r)) return true;
        }
        // Identical regions: report only the later row.
        bool equal = true;
        for (const ColModel& c : m.cols) equal = equal && ContainsRow(c, r, s);
        if (equal && s > r) return true;
        container = s;
        return false;
      });
      if (stop) {
        Report(ctx, Severity::kWarning, m.ti, TablePos(ctx.rs, m.ti), "subsumed-row",
               absl::StrCat("the subsumed-row check of table '", t.id,
                            "' stopped at its work limit (not proved)"),
               "", Cap::kNever);
        return;
      }
      if (container < 0) continue;
      std::vector<int> pts(m.cols.size());
      for (size_t k = 0; k < m.cols.size(); ++k) pts[k] = m.cols[k].FirstPoint(r);
      std::string example =
          Consistent(m, pts) && EvalRow(m, r, pts) == Tri::kMatch &&
                  EvalRow(m, container, pts) == Tri::kMatch
              ? WitnessExample(ctx, m, pts, {r, container})
              : "";
      bool collect = t.hit_policy == v1::HIT_POLICY_COLLECT;
      Report(ctx, Severity::kWarning, m.ti, RowPos(ctx.rs, m.ti, r), "subsumed-row",
             absl::StrCat("row '", t.rows[r].id, "' of table '", t.id, "' is redundant: row ",
                          RowRef(ctx.rs, m.ti, container),
                          " matches every referral it matches and gives the same outputs",
                          collect ? "; in a collect table both fire, so their values count twice"
                                  : "",
                          "; delete it or make it differ (", CellPairs(m, r, container), ")"),
             example);
    }
  }
}

// ---------------------------------------------------------------------------
// Rule-set-wide checks.

// Pathways that no row and neither the fallback nor the missing-data outcome
// can produce.
void CheckUnreachablePathways(const CompiledRuleSet& rs, Diagnostics* diags) {
  std::set<int> produced = {rs.fallback().pathway(), rs.missing_data().pathway()};
  for (const auto& t : rs.tables()) {
    for (const auto& r : t.rows) {
      if (r.has_outcome) produced.insert(r.pathway);
    }
  }
  for (int i = 1; i < v1::Pathway_descriptor()->value_count(); ++i) {
    int p = v1::Pathway_descriptor()->value(i)->number();
    if (!produced.count(p)) {
      diags->Warning(rs.sources().ruleset_file, {}, "unreachable-pathway",
                     absl::StrCat("no row produces pathway ",
                                  PathwayName(static_cast<v1::Pathway>(p))));
    }
  }
}

// One input cell constraining a slot.
struct Constraint {
  const CellTest* cell;
  bool unknown_if_missing;
};

// A value of `slot` that every cell matches, or false.
bool CommonValue(Ctx& ctx, int slot, const std::vector<Constraint>& cons, SlotValue* out) {
  const Slot& s = ctx.rs.slots()[slot];
  const Domain& dom = SlotDomain(ctx, slot);
  std::vector<Value> cands;
  std::vector<std::string> texts;
  if (s.type.type == ValueType::kText) {
    std::vector<const CellTest*> cells;
    for (const auto& c : cons) cells.push_back(c.cell);
    texts = TextCandidates(cells);
    for (const auto& t : texts) {
      Value v;
      v.present = true;
      v.text = t;
      cands.push_back(v);
    }
  } else if (s.type.type == ValueType::kDate || s.type.type == ValueType::kTimestamp) {
    cands.push_back(Value::Number(s.type.type == ValueType::kDate ? kExampleDay : kExampleSecond));
  } else {
    std::vector<double> bp;
    for (const auto& c : cons) c.cell->AppendBreakpoints(&bp);
    std::sort(bp.begin(), bp.end());
    bp.erase(std::unique(bp.begin(), bp.end()), bp.end());
    const int k = static_cast<int>(bp.size());
    for (int seg = 0; seg <= 2 * k; ++seg) {
      double v;
      if (seg % 2 == 1) {
        v = bp[seg / 2];
        if (!PickPoint(dom, v)) continue;
      } else if (!PickInGap(dom, seg / 2 == 0 ? -kInf : bp[seg / 2 - 1],
                            seg / 2 == k ? kInf : bp[seg / 2], &v)) {
        continue;
      }
      cands.push_back(Value::Number(v));
    }
  }
  if (dom.missing_possible) cands.push_back(Value());
  for (const Value& v : cands) {
    bool all = true;
    for (const auto& c : cons) {
      all = all && MatchCell(*c.cell, v, c.unknown_if_missing) == Tri::kMatch;
    }
    if (!all) continue;
    out->slot = slot;
    out->present = v.present;
    out->number = v.lo;
    out->text = std::string(v.text);
    return true;
  }
  // Free-text tests are tried on sample texts only: without proof that no
  // text passes them all, assume one does (and leave it out of the example).
  for (const auto& c : cons) {
    if (!c.cell->contains.empty()) {
      out->slot = -1;
      return true;
    }
  }
  return false;
}

// Inputs under which row `ri` of `t` and row `oi` of override table `o`
// both match, with the override seeing the first row's outcome; false if
// there are none.
bool LoweringExample(Ctx& ctx, const CompiledTable& t, int ri, const CompiledTable& o, int oi,
                     std::vector<SlotValue>* example) {
  const CompiledRow& sc = t.rows[ri];
  std::map<int, std::vector<Constraint>> by_slot;
  std::vector<int> order;
  auto add = [&](const CompiledTable& table, int r) {
    for (const auto& col : table.columns) {
      if (col.slot < 0 || r >= static_cast<int>(col.cells.size())) continue;
      const CellTest& cell = col.cells[r];
      const Slot& slot = ctx.rs.slots()[col.slot];
      if (slot.kind == Slot::Kind::kOutcomePathway || slot.kind == Slot::Kind::kOutcomeUrgency) {
        double v = slot.kind == Slot::Kind::kOutcomePathway ? static_cast<double>(sc.pathway)
                                                            : static_cast<double>(sc.urgency);
        if (MatchCell(cell, Value::Number(v), col.unknown_if_missing) != Tri::kMatch) {
          return false;
        }
        continue;
      }
      if (cell.kind == CellTest::Kind::kAny) continue;
      if (!by_slot.count(col.slot)) order.push_back(col.slot);
      by_slot[col.slot].push_back({&cell, col.unknown_if_missing});
    }
    return true;
  };
  if (!add(t, ri) || !add(o, oi)) return false;
  example->clear();
  for (int slot : order) {
    SlotValue v;
    if (!CommonValue(ctx, slot, by_slot[slot], &v)) return false;
    example->push_back(v);
  }
  return true;
}

// An override table that can lower a safety-critical outcome must say so.
void CheckSafetyCriticalLowering(Ctx& ctx) {
  const CompiledRuleSet& rs = ctx.rs;
  for (size_t ti = 0; ti < rs.tables().size(); ++ti) {
    const CompiledTable& t = rs.tables()[ti];
    if (!t.override_mode || t.lowers_safety_critical) continue;
    for (int r = 0; r < t.nrows && r < static_cast<int>(t.rows.size()); ++r) {
      const CompiledRow& row = t.rows[r];
      if (!row.has_outcome) continue;
      bool found = false;
      for (const auto& other : rs.tables()) {
        if (other.override_mode) continue;
        for (int si = 0; si < static_cast<int>(other.rows.size()) && !found; ++si) {
          const CompiledRow& sc = other.rows[si];
          if (!sc.safety_critical || !sc.has_outcome || sc.rank >= row.rank) continue;
          std::vector<SlotValue> example;
          if (!LoweringExample(ctx, other, si, t, r, &example)) continue;
          found = true;
          Diagnostic d;
          d.file = FileOf(rs, ti);
          d.pos = RowPos(rs, ti, r);
          d.code = "lowers-safety-critical";
          d.message = absl::StrCat(
              "override row '", row.id, "' (", PathwayName(row.pathway), " ",
              UrgencyName(row.urgency), ") can replace the safety-critical outcome of ",
              sc.qualified_id, " (", PathwayName(sc.pathway), " ", UrgencyName(sc.urgency),
              ") with a less urgent one, as in the example; add 'lowers_safety_critical: yes' to "
              "the table so the decision demands clinician confirmation, or change the row");
          d.example = RenderExample(rs, example);
          ctx.diags->Add(std::move(d));
        }
        if (found) break;
      }
    }
  }
}

}  // namespace

void Analyse(const CompiledRuleSet& rule_set, Diagnostics* diags) {
  Ctx ctx{rule_set, diags, {}, {}, {}};
  CheckUnreachablePathways(rule_set, diags);
  CheckSafetyCriticalLowering(ctx);
  for (int ti = 0; ti < static_cast<int>(rule_set.tables().size()); ++ti) {
    const CompiledTable& t = rule_set.tables()[ti];
    TableModel m;
    if (!BuildModel(ctx, ti, &m)) continue;
    CheckEmptyRows(ctx, m);
    switch (t.hit_policy) {
      case v1::HIT_POLICY_UNIQUE:
        CheckOverlaps(ctx, m, /*score=*/false);
        break;
      case v1::HIT_POLICY_FIRST:
        CheckMasked(ctx, m);
        break;
      case v1::HIT_POLICY_COLLECT:
        if (!t.score.empty() && t.score_label >= 0) CheckOverlaps(ctx, m, /*score=*/true);
        break;
      default:
        break;
    }
    if (t.hit_policy != v1::HIT_POLICY_COLLECT && !t.override_mode) CheckGaps(ctx, m);
    if (t.hit_policy == v1::HIT_POLICY_PRIORITY || t.hit_policy == v1::HIT_POLICY_COLLECT) {
      CheckSubsumed(ctx, m);
    }
  }
  ReportOverflow(ctx);
}

}  // namespace frontdoor::rules
