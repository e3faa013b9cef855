#include "services/triage/engine/cell.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace frontdoor::rules {
namespace {

using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;

std::string EnumPrefix(const EnumDescriptor* type) {
  if (type->value_count() < 2) return "";
  std::string prefix = type->value(0)->name();
  for (int i = 1; i < type->value_count(); ++i) {
    const std::string& n = type->value(i)->name();
    size_t k = 0;
    while (k < prefix.size() && k < n.size() && prefix[k] == n[k]) ++k;
    prefix.resize(k);
  }
  size_t underscore = prefix.rfind('_');
  return underscore == std::string::npos ? "" : prefix.substr(0, underscore + 1);
}

// A small scanner over one cell with error offsets.
class Scanner {
 public:
  explicit Scanner(absl::string_view s) : s_(s) {}
  void SkipSpace() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  bool AtEnd() {
    SkipSpace();
    return i_ >= s_.size();
  }
  bool Consume(absl::string_view tok) {
    SkipSpace();
    if (s_.substr(i_, tok.size()) == tok) {
      i_ += tok.size();
      return true;
    }
    return false;
  }
  char Peek() {
    SkipSpace();
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  // A word: letters, digits, '_', '.', '-', '+' (numbers and enum names).
  absl::string_view Word() {
    SkipSpace();
    size_t start = i_;
    while (i_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' ||
            s_[i_] == '.' || s_[i_] == '-' || s_[i_] == '+')) {
      // ".." ends a number inside a range.
      if (s_[i_] == '.' && i_ + 1 < s_.size() && s_[i_ + 1] == '.') break;
      ++i_;
    }
    return s_.substr(start, i_ - start);
  }
  absl::StatusOr<std::string> Quoted() {
    SkipSpace();
    if (i_ >= s_.size() || s_[i_] != '"') return Fail("expected a quoted text");
    size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != '"') ++i_;
    if (i_ >= s_.size()) return Fail("unterminated quoted text");
    std::string out(s_.substr(start, i_ - start));
    ++i_;
    return out;
  }
  absl::Status Fail(absl::string_view message) {
    error_offset_ = static_cast<int>(std::min(i_, s_.size()));
    return absl::InvalidArgumentError(message);
  }
  size_t pos() const { return i_; }
  void set_pos(size_t p) { i_ = p; }
  int error_offset() const { return error_offset_; }

 private:
  absl::string_view s_;
  size_t i_ = 0;
  int error_offset_ = 0;
};

bool IsNumericType(ValueType t) {
  return t == ValueType::kNumber || t == ValueType::kDate ||
         t == ValueType::kTimestamp;
}

absl::StatusOr<double> ParseNumberWord(Scanner& sc, absl::string_view what) {
  size_t at = sc.pos();
  absl::string_view w = sc.Word();
  double v;
  if (w.empty() || !absl::SimpleAtod(w, &v) || !std::isfinite(v)) {
    sc.set_pos(at);
    return sc.Fail(absl::StrCat("expected a number ", what, w.empty() ? "" : ", not '",
                                w, w.empty() ? "" : "'"));
  }
  return v;
}

void Normalise(std::vector<Interval>* v) {
  std::sort(v->begin(), v->end(), [](const Interval& a, const Interval& b) {
    if (a.lo != b.lo) return a.lo < b.lo;
    return !a.lo_open && b.lo_open;
  });
  std::vector<Interval> out;
  for (const Interval& x : *v) {
    if (!out.empty()) {
      Interval& last = out.back();
      bool touches = x.lo < last.hi ||
                     (x.lo == last.hi && !(x.lo_open && last.hi_open));
      if (touches) {
        if (x.hi > last.hi || (x.hi == last.hi && !x.hi_open)) {
          last.hi = x.hi;
          last.hi_open = x.hi_open;
        }
        continue;
      }
    }
    out.push_back(x);
  }
  *v = std::move(out);
}

absl::Status ParseItem(Scanner& sc, const TypeInfo& type, CellTest* cell) {
  char c = sc.Peek();
  size_t at = sc.pos();
  if (sc.Consume("missing")) {
    cell->accepts_missing = true;
    return absl::OkStatus();
  }
  if (type.type == ValueType::kText) {
    if (sc.Consume("contains(")) {
      do {
        auto q = sc.Quoted();
        if (!q.ok()) return q.status();
        if (q->empty()) return sc.Fail("contains(\"\") would match anything");
        cell->contains.push_back(absl::AsciiStrToLower(*q));
      } while (sc.Consume(","));
      if (!sc.Consume(")")) return sc.Fail("expected ')' to close contains(");
      return absl::OkStatus();
    }
    auto q = sc.Quoted();
    if (!q.ok()) {
      sc.set_pos(at);
      return sc.Fail(
          "text columns take \"quoted text\", contains(\"...\"), missing or present");
    }
    cell->texts.push_back(*q);
    return absl::OkStatus();
  }
  if (IsNumericType(type.type)) {
    if (type.type != ValueType::kNumber) {
      return sc.Fail("date and time columns take only -, missing or present; "
                     "compare them in an expression instead");
    }
    Interval iv;
    if (c == '[' || c == '(') {
      sc.Consume(absl::string_view(&c, 1));
      iv.lo_open = c == '(';
      auto lo = ParseNumberWord(sc, "at the start of the range");
      if (!lo.ok()) return lo.status();
      if (!sc.Consume("..")) return sc.Fail("expected '..' in the range, e.g. [16..18)");
      auto hi = ParseNumberWord(sc, "at the end of the range");
      if (!hi.ok()) return hi.status();
      char close = sc.Peek();
      if (close != ']' && close != ')') {
        return sc.Fail("expected ']' (included) or ')' (excluded) to close the range");
      }
      sc.Consume(absl::string_view(&close, 1));
      iv.hi_open = close == ')';
      iv.lo = *lo;
      iv.hi = *hi;
      if (iv.lo > iv.hi || (iv.lo == iv.hi && (iv.lo_open || iv.hi_open))) {
        sc.set_pos(at);
        return sc.Fail("empty range: the start must be below the end");
      }
      cell->intervals.push_back(iv);
      return absl::OkStatus();
    }
    struct Op {
      const char* tok;
      bool lo_side;  // the number is the lower end
      bool open;
    };
    static const Op kOps[] = {{"<=", false, false}, {">=", true, false},
                              {"!=", false, false}, {"<", false, true},
                              {">", true, true},    {"=", false, false}};
    for (const Op& op : kOps) {
      if (!sc.Consume(op.tok)) continue;
      auto v = ParseNumberWord(sc, absl::StrCat("after '", op.tok, "'"));
      if (!v.ok()) return v.status();
      absl::string_view tok = op.tok;
      if (tok == "!=") {
        // != is only meaningful on its own: not(v).
        cell->negated = !cell->negated;
        cell->intervals.push_back({*v, *v, false, false});
      } else if (tok == "=") {
        cell->intervals.push_back({*v, *v, false, false});
      } else if (op.lo_side) {
        cell->intervals.push_back({*v, kInf, op.open, true});
      } else {
        cell->intervals.push_back({-kInf, *v, true, op.open});
      }
      return absl::OkStatus();
    }
    auto v = ParseNumberWord(sc, "");
    if (!v.ok()) {
      sc.set_pos(at);
      return sc.Fail(
          "expected a number, a comparison (>= 7), a range ([16..18)), missing or present");
    }
    cell->intervals.push_back({*v, *v, false, false});
    return absl::OkStatus();
  }
  absl::string_view w = sc.Word();
  if (type.type == ValueType::kBool) {
    std::string lw = absl::AsciiStrToLower(w);
    if (lw == "yes" || lw == "true") {
      cell->intervals.push_back({1, 1, false, false});
      return absl::OkStatus();
    }
    if (lw == "no" || lw == "false") {
      cell->intervals.push_back({0, 0, false, false});
      return absl::OkStatus();
    }
    sc.set_pos(at);
    return sc.Fail(absl::StrCat("expected yes or no for this yes/no column, not '", w, "'"));
  }
  // Enum.
  const EnumValueDescriptor* ev = FindEnumValue(type.enum_type, w);
  if (ev == nullptr || ev->number() == 0) {
    sc.set_pos(at);
    std::vector<std::string> names;
    for (int i = 0; i < type.enum_type->value_count(); ++i) {
      if (type.enum_type->value(i)->number() != 0) {
        names.push_back(ShortEnumName(type.enum_type->value(i)));
      }
    }
    return sc.Fail(absl::StrCat("'", w, "' is not a value of ", type.enum_type->name(),
                                "; expected one of ", absl::StrJoin(names, ", ")));
  }
  cell->intervals.push_back({static_cast<double>(ev->number()),
                             static_cast<double>(ev->number()), false, false});
  return absl::OkStatus();
}

std::string RenderInterval(const Interval& iv, const TypeInfo& type) {
  if (iv.lo == iv.hi) {
    if (type.type == ValueType::kBool) return iv.lo != 0 ? "yes" : "no";
    if (type.type == ValueType::kEnum) {
      const EnumValueDescriptor* ev =
          type.enum_type->FindValueByNumber(static_cast<int>(iv.lo));
      return ev == nullptr ? FormatNumber(iv.lo) : ShortEnumName(ev);
    }
    return FormatNumber(iv.lo);
  }
  if (iv.hi == kInf) return absl::StrCat(iv.lo_open ? "> " : ">= ", FormatNumber(iv.lo));
  if (iv.lo == -kInf) return absl::StrCat(iv.hi_open ? "< " : "<= ", FormatNumber(iv.hi));
  return absl::StrCat(iv.lo_open ? "(" : "[", FormatNumber(iv.lo), "..",
                      FormatNumber(iv.hi), iv.hi_open ? ")" : "]");
}

}  // namespace

std::string TypeName(const TypeInfo& t) {
  switch (t.type) {
    case ValueType::kNumber:
      return "number";
    case ValueType::kBool:
      return "yes/no";
    case ValueType::kEnum:
      return t.enum_type != nullptr ? t.enum_type->name() : "enum";
    case ValueType::kText:
      return "text";
    case ValueType::kDate:
      return "date";
    case ValueType::kTimestamp:
      return "timestamp";
  }
  return "?";
}

std::string FormatNumber(double v) {
  if (v == kInf) return "inf";
  if (v == -kInf) return "-inf";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.10g", v);
  return buf;
}

const EnumValueDescriptor* FindEnumValue(const EnumDescriptor* type,
                                         absl::string_view name) {
  if (type == nullptr || name.empty()) return nullptr;
  std::string n(name);
  if (const EnumValueDescriptor* v = type->FindValueByName(n)) return v;
  return type->FindValueByName(EnumPrefix(type) + n);
}

std::string ShortEnumName(const EnumValueDescriptor* v) {
  std::string prefix = EnumPrefix(v->type());
  const std::string& n = v->name();
  return n.substr(0, prefix.size()) == prefix ? n.substr(prefix.size()) : n;
}

void CellTest::AppendBreakpoints(std::vector<double>* out) const {
  for (const Interval& iv : intervals) {
    if (std::isfinite(iv.lo)) out->push_back(iv.lo);
    if (std::isfinite(iv.hi)) out->push_back(iv.hi);
  }
}

bool CellTest::SetContains(double v) const {
  for (const Interval& iv : intervals) {
    if (iv.Contains(v)) return true;
  }
  return false;
}

absl::StatusOr<CellTest> ParseCell(absl::string_view text, const TypeInfo& type,
                                   int* error_offset) {
  *error_offset = 0;
  CellTest cell;
  Scanner sc(text);
  if (sc.AtEnd()) return absl::InvalidArgumentError("empty cell; write - for 'any value'");
  if (sc.Consume("-") && sc.AtEnd()) return cell;
  sc.set_pos(0);
  if (sc.Consume("missing") && sc.AtEnd()) {
    cell.kind = CellTest::Kind::kMissing;
    return cell;
  }
  sc.set_pos(0);
  if (sc.Consume("present") && sc.AtEnd()) {
    cell.kind = CellTest::Kind::kPresent;
    return cell;
  }
  sc.set_pos(0);
  cell.kind = CellTest::Kind::kSet;
  bool negated = sc.Consume("not(");
  absl::Status st;
  do {
    st = ParseItem(sc, type, &cell);
    if (!st.ok()) {
      *error_offset = sc.error_offset();
      return st;
    }
  } while (sc.Consume(","));
  if (negated && !sc.Consume(")")) {
    *error_offset = static_cast<int>(sc.pos());
    return absl::InvalidArgumentError("expected ')' to close not(");
  }
  if (!sc.AtEnd()) {
    *error_offset = static_cast<int>(sc.pos());
    return absl::InvalidArgumentError(
        "unexpected text; separate alternatives with commas");
  }
  if (cell.negated && (negated || cell.intervals.size() > 1)) {
    *error_offset = 0;
    return absl::InvalidArgumentError("write not(a, b) rather than combining != with others");
  }
  if (negated) cell.negated = true;
  Normalise(&cell.intervals);
  if (cell.negated && cell.intervals.empty() && cell.texts.empty() &&
      cell.contains.empty()) {
    // not(missing) is present.
    if (cell.accepts_missing) {
      CellTest p;
      p.kind = CellTest::Kind::kPresent;
      return p;
    }
  }
  return cell;
}

std::string RenderCell(const CellTest& cell, const TypeInfo& type) {
  switch (cell.kind) {
    case CellTest::Kind::kAny:
      return "-";
    case CellTest::Kind::kMissing:
      return "missing";
    case CellTest::Kind::kPresent:
      return "present";
    case CellTest::Kind::kSet:
      break;
  }
  std::vector<std::string> items;
  for (const Interval& iv : cell.intervals) items.push_back(RenderInterval(iv, type));
  for (const std::string& t : cell.texts) items.push_back(absl::StrCat("\"", t, "\""));
  if (!cell.contains.empty()) {
    std::vector<std::string> q;
    for (const std::string& t : cell.contains) q.push_back(absl::StrCat("\"", t, "\""));
    items.push_back(absl::StrCat("contains(", absl::StrJoin(q, ", "), ")"));
  }
  if (cell.accepts_missing) items.push_back("missing");
  std::string joined = absl::StrJoin(items, ", ");
  if (!cell.negated) return joined;
  if (cell.intervals.size() == 1 && cell.texts.empty() && cell.contains.empty() &&
      !cell.accepts_missing && cell.intervals[0].lo == cell.intervals[0].hi &&
      type.type == ValueType::kNumber) {
    return absl::StrCat("!= ", joined);
  }
  return absl::StrCat("not(", joined, ")");
}

namespace {

bool ContainsIgnoreCase(absl::string_view hay, absl::string_view lower_needle) {
  if (lower_needle.size() > hay.size()) return false;
  for (size_t i = 0; i + lower_needle.size() <= hay.size(); ++i) {
    size_t k = 0;
    while (k < lower_needle.size() &&
           absl::ascii_tolower(static_cast<unsigned char>(hay[i + k])) ==
               lower_needle[k]) {
      ++k;
    }
    if (k == lower_needle.size()) return true;
  }
  return false;
}

}  // namespace

Tri MatchTextCell(const CellTest& cell, absl::string_view text, absl::string_view lowered) {
  switch (cell.kind) {
    case CellTest::Kind::kAny:
    case CellTest::Kind::kPresent:
      return Tri::kMatch;
    case CellTest::Kind::kMissing:
      return Tri::kFail;
    case CellTest::Kind::kSet:
      break;
  }
  bool in = false;
  for (const std::string& t : cell.texts) in = in || text == t;
  for (const std::string& t : cell.contains) in = in || lowered.find(t) != absl::string_view::npos;
  if (cell.negated) in = !in;
  return in ? Tri::kMatch : Tri::kFail;
}

Tri MatchCell(const CellTest& cell, const Value& value, bool unknown_if_missing) {
  switch (cell.kind) {
    case CellTest::Kind::kAny:
      return Tri::kMatch;
    case CellTest::Kind::kMissing:
      if (!value.present) return Tri::kMatch;
      return Tri::kFail;
    case CellTest::Kind::kPresent:
      return value.present ? Tri::kMatch : Tri::kFail;
    case CellTest::Kind::kSet:
      break;
  }
  if (!value.present) {
    if (cell.accepts_missing) return cell.negated ? Tri::kFail : Tri::kMatch;
    return unknown_if_missing ? Tri::kUnknown : Tri::kFail;
  }
  bool in;
  if (!cell.texts.empty() || !cell.contains.empty()) {
    in = false;
    for (const std::string& t : cell.texts) in = in || value.text == t;
    for (const std::string& t : cell.contains) in = in || ContainsIgnoreCase(value.text, t);
  } else if (value.lo == value.hi) {
    in = cell.SetContains(value.lo);
  } else {
    // An uncertain value: inside if wholly within one interval, outside if
    // it meets none, otherwise undetermined.
    bool all = false, any = false;
    for (const Interval& iv : cell.intervals) {
      bool lo_in = iv.Contains(value.lo), hi_in = iv.Contains(value.hi);
      if (lo_in && hi_in) all = true;
      bool disjoint = value.hi < iv.lo || (value.hi == iv.lo && iv.lo_open) ||
                      value.lo > iv.hi || (value.lo == iv.hi && iv.hi_open);
      if (!disjoint) any = true;
    }
    if (all) {
      in = true;
    } else if (!any) {
      in = false;
    } else {
      return Tri::kUnknown;
    }
  }
  if (cell.negated) in = !in;
  return in ? Tri::kMatch : Tri::kFail;
}

}  // namespace frontdoor::rules
