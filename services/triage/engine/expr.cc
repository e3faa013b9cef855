#include "services/triage/engine/expr.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "services/common/nhs_number.h"

namespace frontdoor::rules {

class ExprParser {
 public:
  ExprParser(absl::string_view s, const Expr::Resolver& resolve, Expr* out)
      : s_(s), resolve_(resolve), out_(out) {}

  absl::StatusOr<int> Parse() {
    auto n = Or();
    if (!n.ok()) return n;
    Space();
    if (i_ < s_.size()) return Fail("unexpected text in the expression");
    return n;
  }
  int error_offset() const { return error_offset_; }

 private:
  using Op = Expr::Op;
  using Node = Expr::Node;

  absl::Status Fail(absl::string_view msg) {
    error_offset_ = static_cast<int>(std::min(i_, s_.size()));
    return absl::InvalidArgumentError(msg);
  }
  void Space() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  bool Eat(absl::string_view tok) {
    Space();
    if (s_.substr(i_, tok.size()) != tok) return false;
    // Keywords must not run into an identifier.
    if (std::isalpha(static_cast<unsigned char>(tok.back())) && i_ + tok.size() < s_.size()) {
      char next = s_[i_ + tok.size()];
      if (std::isalnum(static_cast<unsigned char>(next)) || next == '_') return false;
    }
    i_ += tok.size();
    return true;
  }
  int Add(Node n) {
    out_->nodes_.push_back(n);
    return static_cast<int>(out_->nodes_.size()) - 1;
  }
  ValueType TypeOf(int n) const { return out_->nodes_[n].type; }

  absl::Status Need(int n, ValueType t, absl::string_view what) {
    ValueType have = TypeOf(n);
    bool ok = have == t;
    if (!ok) {
      return Fail(absl::StrCat(what, " needs ",
                               t == ValueType::kBool ? "a yes/no value" : "a number"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int> Binary(Op op, ValueType result, ValueType operands, int a, int b,
                             absl::string_view what) {
    if (auto st = Need(a, operands, what); !st.ok()) return st;
    if (auto st = Need(b, operands, what); !st.ok()) return st;
    Node n;
    n.op = op;
    n.type = result;
    n.a = a;
    n.b = b;
    return Add(n);
  }

  absl::StatusOr<int> Or() {
    auto a = And();
    if (!a.ok()) return a;
    while (Eat("or")) {
      auto b = And();
      if (!b.ok()) return b;
      a = Binary(Op::kOr, ValueType::kBool, ValueType::kBool, *a, *b, "'or'");
      if (!a.ok()) return a;
    }
    return a;
  }
  absl::StatusOr<int> And() {
    auto a = NotE();
    if (!a.ok()) return a;
    while (Eat("and")) {
      auto b = NotE();
      if (!b.ok()) return b;
      a = Binary(Op::kAnd, ValueType::kBool, ValueType::kBool, *a, *b, "'and'");
      if (!a.ok()) return a;
    }
    return a;
  }
  absl::StatusOr<int> NotE() {
    if (Eat("not")) {
      auto a = NotE();
      if (!a.ok()) return a;
      if (auto st = Need(*a, ValueType::kBool, "'not'"); !st.ok()) return st;
      Node n;
      n.op = Op::kNot;
      n.type = ValueType::kBool;
      n.a = *a;
      return Add(n);
    }
    return Cmp();
  }
  absl::StatusOr<int> Cmp() {
    auto a = Sum();
    if (!a.ok()) return a;
    struct C {
      const char* tok;
      Op op;
    };
    static const C kCmp[] = {{"<=", Op::kLe}, {">=", Op::kGe}, {"==", Op::kEq},
                             {"!=", Op::kNe}, {"<", Op::kLt},  {">", Op::kGt}};
    for (const C& c : kCmp) {
      if (Eat(c.tok)) {
        auto b = Sum();
        if (!b.ok()) return b;
        return Binary(c.op, ValueType::kBool, ValueType::kNumber, *a, *b,
                      absl::StrCat("'", c.tok, "'"));
      }
    }
    return a;
  }
  absl::StatusOr<int> Sum() {
    auto a = Product();
    if (!a.ok()) return a;
    for (;;) {
      Op op;
      if (Eat("+")) {
        op = Op::kAdd;
      } else if (Eat("-")) {
        op = Op::kSub;
      } else {
        return a;
      }
      auto b = Product();
      if (!b.ok()) return b;
      a = Binary(op, ValueType::kNumber, ValueType::kNumber, *a, *b, "arithmetic");
      if (!a.ok()) return a;
    }
  }
  absl::StatusOr<int> Product() {
    auto a = Unary();
    if (!a.ok()) return a;
    for (;;) {
      Op op;
      if (Eat("*")) {
        op = Op::kMul;
      } else if (Eat("/")) {
        op = Op::kDiv;
      } else {
        return a;
      }
      auto b = Unary();
      if (!b.ok()) return b;
      a = Binary(op, ValueType::kNumber, ValueType::kNumber, *a, *b, "arithmetic");
      if (!a.ok()) return a;
    }
  }
  absl::StatusOr<int> Unary() {
    if (Eat("-")) {
      auto a = Unary();
      if (!a.ok()) return a;
      if (auto st = Need(*a, ValueType::kNumber, "'-'"); !st.ok()) return st;
      Node n;
      n.op = Op::kNeg;
      n.a = *a;
      return Add(n);
    }
    return Primary();
  }
  absl::StatusOr<int> Primary() {
    Space();
    if (Eat("(")) {
      auto a = Or();
      if (!a.ok()) return a;
      if (!Eat(")")) return Fail("expected ')'");
      return a;
    }
    size_t start = i_;
    if (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) {
      while (i_ < s_.size() &&
             (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) {
        ++i_;
      }
      double v;
      if (!absl::SimpleAtod(s_.substr(start, i_ - start), &v)) {
        i_ = start;
        return Fail("not a number");
      }
      Node n;
      n.number = v;
      return Add(n);
    }
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) ||
                              s_[i_] == '_' || s_[i_] == '.')) {
      ++i_;
    }
    absl::string_view name = s_.substr(start, i_ - start);
    if (name.empty()) {
      i_ = start;
      return Fail("expected a number, a name or '('");
    }
    if (name == "yes" || name == "true" || name == "no" || name == "false") {
      Node n;
      n.type = ValueType::kBool;
      n.number = (name == "yes" || name == "true") ? 1 : 0;
      return Add(n);
    }
    if (Eat("(")) return Call(name, start);
    TypeInfo t;
    auto slot = resolve_(name, &t);
    if (!slot.ok()) {
      i_ = start;
      return Fail(slot.status().message());
    }
    Node n;
    n.op = Op::kSlot;
    n.slot = *slot;
    n.slot_type = t.type;
    switch (t.type) {
      case ValueType::kBool:
        n.type = ValueType::kBool;
        break;
      case ValueType::kNumber:
        n.type = ValueType::kNumber;
        break;
      case ValueType::kDate:
      case ValueType::kTimestamp:
      case ValueType::kText:
      case ValueType::kEnum:
        // Usable only as function arguments.
        n.type = t.type;
        break;
    }
    out_->slots_.push_back(*slot);
    return Add(n);
  }

  absl::StatusOr<int> Call(absl::string_view fn, size_t start) {
    std::vector<int> args;
    if (!Eat(")")) {
      do {
        auto a = Or();
        if (!a.ok()) return a;
        args.push_back(*a);
      } while (Eat(","));
      if (!Eat(")")) return Fail("expected ')' after the arguments");
    }
    struct F {
      const char* name;
      Op op;
      int arity;
    };
    static const F kFns[] = {{"floor", Op::kFloor, 1},
                             {"ceil", Op::kCeil, 1},
                             {"abs", Op::kAbs, 1},
                             {"min", Op::kMin, 2},
                             {"max", Op::kMax, 2},
                             {"days_between", Op::kDaysBetween, 2},
                             {"years_between", Op::kYearsBetween, 2},
                             {"months_between", Op::kMonthsBetween, 2},
                             {"local_minute_of_day", Op::kLocalMinuteOfDay, 1},
                             {"local_weekday", Op::kLocalWeekday, 1},
                             {"nhs_number_valid", Op::kNhsNumberValid, 1}};
    for (const F& f : kFns) {
      if (fn != f.name) continue;
      if (static_cast<int>(args.size()) != f.arity) {
        i_ = start;
        return Fail(absl::StrCat(f.name, "() takes ", f.arity, " argument",
                                 f.arity == 1 ? "" : "s"));
      }
      Node n;
      n.op = f.op;
      n.a = args[0];
      n.b = f.arity > 1 ? args[1] : -1;
      auto is_time = [&](int a) {
        return TypeOf(a) == ValueType::kDate || TypeOf(a) == ValueType::kTimestamp;
      };
      switch (f.op) {
        case Op::kDaysBetween:
        case Op::kYearsBetween:
        case Op::kMonthsBetween:
          if (!is_time(n.a) || !is_time(n.b)) {
            i_ = start;
            return Fail(absl::StrCat(f.name, "() takes two dates or timestamps"));
          }
          break;
        case Op::kLocalMinuteOfDay:
        case Op::kLocalWeekday:
          if (TypeOf(n.a) != ValueType::kTimestamp) {
            i_ = start;
            return Fail(absl::StrCat(f.name, "() takes a timestamp"));
          }
          break;
        case Op::kNhsNumberValid:
          if (TypeOf(n.a) != ValueType::kText) {
            i_ = start;
            return Fail("nhs_number_valid() takes a text field");
          }
          n.type = ValueType::kBool;
          break;
        default:
          for (int a : args) {
            if (TypeOf(a) != ValueType::kNumber) {
              i_ = start;
              return Fail(absl::StrCat(f.name, "() takes numbers"));
            }
          }
      }
      return Add(n);
    }
    i_ = start;
    return Fail(absl::StrCat("unknown function '", fn,
                             "'; known: floor, ceil, abs, min, max, days_between, years_between, "
                             "months_between, "
                             "local_minute_of_day, local_weekday, nhs_number_valid"));
  }

  absl::string_view s_;
  size_t i_ = 0;
  const Expr::Resolver& resolve_;
  Expr* out_;
  int error_offset_ = 0;
};

absl::StatusOr<Expr> Expr::Parse(absl::string_view text, const Resolver& resolve,
                                 int* error_offset) {
  Expr e;
  e.text_ = std::string(text);
  ExprParser p(text, resolve, &e);
  auto root = p.Parse();
  if (!root.ok()) {
    *error_offset = p.error_offset();
    return root.status();
  }
  ValueType t = e.nodes_[*root].type;
  if (t != ValueType::kNumber && t != ValueType::kBool) {
    *error_offset = 0;
    return absl::InvalidArgumentError(
        "an expression must give a number or yes/no; use a function such as "
        "days_between() on dates");
  }
  e.root_ = *root;
  std::sort(e.slots_.begin(), e.slots_.end());
  e.slots_.erase(std::unique(e.slots_.begin(), e.slots_.end()), e.slots_.end());
  return e;
}

Value Expr::Evaluate(const Value* slots, const absl::TimeZone& tz) const {
  return Eval(root_, slots, tz);
}

namespace {

struct Ymd {
  int64_t y;
  int m, d;
};

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
// civil_from_days): plain arithmetic, no time-zone library on the hot path.
Ymd CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2), m, d};
}

struct LocalTime {
  Ymd date;
  int minute_of_day;
  int weekday;  // 1 = Monday
};

// A timestamp (seconds) in `tz`. One evaluation asks about the same instant
// several times (age, months, opening hours), so the last answer is kept.
const LocalTime& ToLocal(double seconds, const absl::TimeZone& tz) {
  thread_local int64_t last_seconds = INT64_MIN;
  thread_local absl::TimeZone last_zone;
  thread_local LocalTime last;
  const int64_t s = static_cast<int64_t>(std::floor(seconds));
  if (s == last_seconds && tz == last_zone) return last;
  const absl::TimeZone::CivilInfo ci = tz.At(absl::FromUnixSeconds(s));
  const int64_t local = s + ci.offset;
  const int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
  const int64_t sod = local - days * 86400;
  last.date = CivilFromDays(days);
  last.minute_of_day = static_cast<int>(sod / 60);
  last.weekday = static_cast<int>(((days % 7) + 7 + 3) % 7) + 1;  // 1970-01-01 was a Thursday
  last_seconds = s;
  last_zone = tz;
  return last;
}

Ymd LocalDate(double seconds, const absl::TimeZone& tz) { return ToLocal(seconds, tz).date; }

Value Missing(const Value& a, const Value& b) {
  Value v;
  v.missing = a.missing | b.missing;
  return v;
}

Value Bool3(double lo, double hi, const MissingMask& m) {
  Value v = Value::Range(lo, hi);
  v.missing = m;
  return v;
}

}  // namespace

Value Expr::Eval(int idx, const Value* slots, const absl::TimeZone& tz) const {
  const Node& n = nodes_[idx];
  switch (n.op) {
    case Op::kConst:
      return Value::Number(n.number);
    case Op::kSlot:
      return slots[n.slot];
    default:
      break;
  }
  Value a = Eval(n.a, slots, tz);
  Value b;
  if (n.b >= 0) b = Eval(n.b, slots, tz);
  // Kleene logic: a definite false (or true) decides regardless of the other.
  if (n.op == Op::kAnd || n.op == Op::kOr) {
    bool want = n.op == Op::kOr;  // the dominating value
    double w = want ? 1 : 0;
    if ((a.exact() && a.lo == w) || (b.exact() && b.lo == w)) return Value::Number(w);
    if (!a.present || !b.present) return Missing(a, b);
    if (a.exact() && b.exact()) return Value::Number(1 - w);
    return Bool3(0, 1, a.missing | b.missing);
  }
  if (!a.present || (n.b >= 0 && !b.present)) return Missing(a, b);
  MissingMask m = a.missing | b.missing;
  Value r;
  switch (n.op) {
    case Op::kNeg:
      r = Value::Range(-a.hi, -a.lo);
      break;
    case Op::kAdd:
      r = Value::Range(a.lo + b.lo, a.hi + b.hi);
      break;
    case Op::kSub:
      r = Value::Range(a.lo - b.hi, a.hi - b.lo);
      break;
    case Op::kMul: {
      double c[4] = {a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi};
      r = Value::Range(*std::min_element(c, c + 4), *std::max_element(c, c + 4));
      break;
    }
    case Op::kDiv: {
      if (b.lo <= 0 && b.hi >= 0) {
        // Division by zero (or a range containing it) has no value.
        Value v;
        v.missing = m;
        return v;
      }
      double c[4] = {a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi};
      r = Value::Range(*std::min_element(c, c + 4), *std::max_element(c, c + 4));
      break;
    }
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe:
    case Op::kEq:
    case Op::kNe: {
      auto test = [&](double x, double y) {
        switch (n.op) {
          case Op::kLt: return x < y;
          case Op::kLe: return x <= y;
          case Op::kGt: return x > y;
          case Op::kGe: return x >= y;
          case Op::kEq: return x == y;
          default: return x != y;
        }
      };
      if (a.exact() && b.exact()) {
        r = Value::Number(test(a.lo, b.lo) ? 1 : 0);
        break;
      }
      // Decide from the ends of the ranges where possible.
      bool always = false, never = false;
      switch (n.op) {
        case Op::kLt: always = a.hi < b.lo; never = a.lo >= b.hi; break;
        case Op::kLe: always = a.hi <= b.lo; never = a.lo > b.hi; break;
        case Op::kGt: always = a.lo > b.hi; never = a.hi <= b.lo; break;
        case Op::kGe: always = a.lo >= b.hi; never = a.hi < b.lo; break;
        case Op::kEq: never = a.hi < b.lo || a.lo > b.hi; break;
        default: always = a.hi < b.lo || a.lo > b.hi; break;
      }
      r = always ? Value::Number(1) : never ? Value::Number(0) : Value::Range(0, 1);
      break;
    }
    case Op::kNot:
      r = Value::Range(1 - a.hi, 1 - a.lo);
      break;
    case Op::kFloor:
      r = Value::Range(std::floor(a.lo), std::floor(a.hi));
      break;
    case Op::kCeil:
      r = Value::Range(std::ceil(a.lo), std::ceil(a.hi));
      break;
    case Op::kAbs:
      if (a.lo >= 0) {
        r = a;
      } else if (a.hi <= 0) {
        r = Value::Range(-a.hi, -a.lo);
      } else {
        r = Value::Range(0, std::max(-a.lo, a.hi));
      }
      break;
    case Op::kMin:
      r = Value::Range(std::min(a.lo, b.lo), std::min(a.hi, b.hi));
      break;
    case Op::kMax:
      r = Value::Range(std::max(a.lo, b.lo), std::max(a.hi, b.hi));
      break;
    case Op::kDaysBetween: {
      auto days = [&](const Value& v, ValueType t, bool hi) {
        double x = hi ? v.hi : v.lo;
        return t == ValueType::kTimestamp ? x / 86400.0 : x;
      };
      ValueType ta = nodes_[n.a].type, tb = nodes_[n.b].type;
      r = Value::Range(days(b, tb, false) - days(a, ta, true),
                       days(b, tb, true) - days(a, ta, false));
      break;
    }
    case Op::kYearsBetween:
    case Op::kMonthsBetween: {
      // Whole calendar years (or months) from a to b, as birthdays count:
      // someone born on 29 February gains a year on 1 March in other years.
      auto day = [&](double x, ValueType t) {
        return t == ValueType::kDate ? CivilFromDays(static_cast<int64_t>(std::floor(x)))
                                     : LocalDate(x, tz);
      };
      auto between = [&](Ymd from, Ymd to) {
        int64_t months = (to.y - from.y) * 12 + (to.m - from.m);
        if (to.d < from.d) --months;
        if (n.op == Op::kMonthsBetween) return static_cast<double>(months);
        return static_cast<double>(months >= 0 ? months / 12 : -((-months + 11) / 12));
      };
      ValueType ta = nodes_[n.a].type, tb = nodes_[n.b].type;
      // Monotone: rising in b, falling in a.
      r = Value::Range(between(day(a.hi, ta), day(b.lo, tb)), between(day(a.lo, ta), day(b.hi, tb)));
      break;
    }
    case Op::kLocalMinuteOfDay:
    case Op::kLocalWeekday: {
      if (!a.exact()) {
        r = n.op == Op::kLocalWeekday ? Value::Range(1, 7) : Value::Range(0, 1439);
        break;
      }
      const LocalTime& lt = ToLocal(a.lo, tz);
      r = Value::Number(n.op == Op::kLocalMinuteOfDay ? lt.minute_of_day : lt.weekday);
      break;
    }
    case Op::kNhsNumberValid:
      r = Value::Number(IsValidNhsNumber(a.text) ? 1 : 0);
      break;
    default:
      break;
  }
  r.missing = m;
  return r;
}

}  // namespace frontdoor::rules
