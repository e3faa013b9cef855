// Building blocks of example inputs (witness.h), moved out of analysis.cc
// so that other analyses can use them.

#include "services/triage/engine/witness.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace frontdoor::rules {
namespace {

using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool ContainsLower(absl::string_view hay, absl::string_view lower_needle) {
  return absl::StrContains(absl::AsciiStrToLower(hay), lower_needle);
}

}  // namespace

bool IsWhole(double v) { return std::isfinite(v) && v == std::floor(v); }

bool PickPoint(const Domain& d, double x) {
  switch (d.kind) {
    case Domain::Kind::kFinite:
      return std::binary_search(d.values.begin(), d.values.end(), x);
    case Domain::Kind::kInteger:
      return IsWhole(x) && x >= d.lo && x <= d.hi;
    case Domain::Kind::kReal:
      return x >= d.lo && x <= d.hi;
  }
  return false;
}

bool PickInGap(const Domain& d, double a, double b, double* out) {
  switch (d.kind) {
    case Domain::Kind::kFinite: {
      auto it = std::upper_bound(d.values.begin(), d.values.end(), a);
      if (it == d.values.end() || !(*it < b)) return false;
      if (a == -kInf) {
        // Prefer the value just below b.
        auto below = std::lower_bound(d.values.begin(), d.values.end(), b);
        *out = *(below - 1);
      } else {
        *out = *it;
      }
      return true;
    }
    case Domain::Kind::kInteger: {
      double lo = std::max(a == -kInf ? -kInf : std::floor(a) + 1, std::ceil(d.lo));
      double hi = std::min(b == kInf ? kInf : std::ceil(b) - 1, std::floor(d.hi));
      if (lo > hi) return false;
      if (lo == -kInf && hi == kInf) {
        *out = 0;
      } else if (lo == -kInf || (a == -kInf && hi != kInf)) {
        *out = hi;
      } else {
        *out = lo;
      }
      return true;
    }
    case Domain::Kind::kReal: {
      double lo = std::max(a, d.lo), hi = std::min(b, d.hi);
      bool lo_open = a >= d.lo, hi_open = b <= d.hi;
      if (lo > hi || (lo == hi && (lo_open || hi_open))) return false;
      if (lo == hi) {
        *out = lo;
        return true;
      }
      if (lo == -kInf && hi == kInf) {
        *out = 0;
        return true;
      }
      // A whole number inside, next to the end the rows name.
      double n;
      if (lo == -kInf) {
        n = hi_open ? std::ceil(hi) - 1 : std::floor(hi);
      } else {
        n = lo_open ? std::floor(lo) + 1 : std::ceil(lo);
      }
      bool inside = (lo_open ? n > lo : n >= lo) && (hi_open ? n < hi : n <= hi);
      if (inside) {
        *out = n;
      } else {
        *out = lo == -kInf ? hi - 1 : hi == kInf ? lo + 1 : lo + (hi - lo) / 2;
      }
      return true;
    }
  }
  return false;
}

Domain TypeDomain(const TypeInfo& type) {
  Domain d;
  if (type.type == ValueType::kBool) {
    d.kind = Domain::Kind::kFinite;
    d.values = {0, 1};
  } else if (type.type == ValueType::kEnum && type.enum_type != nullptr) {
    d.kind = Domain::Kind::kFinite;
    for (int i = 0; i < type.enum_type->value_count(); ++i) {
      int n = type.enum_type->value(i)->number();
      if (n != 0) d.values.push_back(n);
    }
    std::sort(d.values.begin(), d.values.end());
    d.values.erase(std::unique(d.values.begin(), d.values.end()), d.values.end());
  }
  return d;
}

Domain FieldDomain(const Slot& s) {
  Domain d = TypeDomain(s.type);
  if (s.type.type == ValueType::kNumber && !s.path.empty()) {
    switch (s.path.back()->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
        d.kind = Domain::Kind::kInteger;
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64:
        d.kind = Domain::Kind::kInteger;
        d.lo = 0;
        break;
      default:
        break;
    }
  }
  return d;
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

std::string DateText(double days) {
  absl::CivilDay d = absl::CivilDay(1970, 1, 1) + static_cast<int64_t>(days);
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

std::string CompactValue(const Slot& slot, const SlotValue& v) {
  if (!v.present) return "null";
  switch (slot.type.type) {
    case ValueType::kBool:
      return v.number != 0 ? "true" : "false";
    case ValueType::kEnum: {
      const EnumValueDescriptor* ev =
          slot.type.enum_type == nullptr
              ? nullptr
              : slot.type.enum_type->FindValueByNumber(static_cast<int>(v.number));
      return ev == nullptr ? FormatNumber(v.number) : JsonString(ShortEnumName(ev));
    }
    case ValueType::kText:
      return JsonString(v.text);
    case ValueType::kDate:
      return JsonString(DateText(v.number));
    case ValueType::kTimestamp:
      return JsonString(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                         absl::FromUnixSeconds(static_cast<int64_t>(v.number)),
                                         absl::UTCTimeZone()));
    case ValueType::kNumber:
      return FormatNumber(v.number);
  }
  return "null";
}

void SetField(const Slot& slot, const SlotValue& v, v1::Referral* referral) {
  Message* m = referral;
  for (size_t i = 0; i + 1 < slot.path.size(); ++i) {
    m = m->GetReflection()->MutableMessage(m, slot.path[i]);
  }
  const FieldDescriptor* f = slot.path.back();
  const Reflection* r = m->GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      r->SetInt32(m, f, static_cast<int32_t>(v.number));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      r->SetInt64(m, f, static_cast<int64_t>(v.number));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      r->SetUInt32(m, f, static_cast<uint32_t>(v.number));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      r->SetUInt64(m, f, static_cast<uint64_t>(v.number));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      r->SetDouble(m, f, v.number);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      r->SetFloat(m, f, static_cast<float>(v.number));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      r->SetBool(m, f, v.number != 0);
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      r->SetEnumValue(m, f, static_cast<int>(v.number));
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      r->SetString(m, f, v.text);
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* sub = r->MutableMessage(m, f);
      const auto* d = sub->GetDescriptor();
      const Reflection* sr = sub->GetReflection();
      if (slot.type.type == ValueType::kDate) {
        absl::CivilDay day = absl::CivilDay(1970, 1, 1) + static_cast<int64_t>(v.number);
        sr->SetInt32(sub, d->FindFieldByName("year"), static_cast<int32_t>(day.year()));
        sr->SetInt32(sub, d->FindFieldByName("month"), day.month());
        sr->SetInt32(sub, d->FindFieldByName("day"), day.day());
      } else {
        sr->SetInt64(sub, d->FindFieldByName("seconds"), static_cast<int64_t>(v.number));
      }
      break;
    }
  }
}

std::vector<std::string> TextCandidates(const std::vector<const CellTest*>& cells) {
  std::vector<std::string> texts, needles;
  for (const CellTest* c : cells) {
    texts.insert(texts.end(), c->texts.begin(), c->texts.end());
    needles.insert(needles.end(), c->contains.begin(), c->contains.end());
  }
  std::sort(needles.begin(), needles.end());
  needles.erase(std::unique(needles.begin(), needles.end()), needles.end());
  std::vector<std::string> out;
  // A text that no cell names.
  for (const char* fresh : {"other", "(other text)", "~", "\xe2\x80\xa6"}) {
    bool clean = true;
    for (const auto& t : texts) clean = clean && t != fresh;
    for (const auto& n : needles) clean = clean && !ContainsLower(fresh, n);
    if (clean) {
      out.push_back(fresh);
      break;
    }
  }
  out.insert(out.end(), texts.begin(), texts.end());
  for (const auto& n : needles) {
    out.push_back(n);
    out.push_back(absl::StrCat(n, " \xe2\x80\xa6"));
  }
  if (needles.size() <= 24) {
    for (size_t i = 0; i < needles.size(); ++i) {
      for (size_t j = i + 1; j < needles.size(); ++j) {
        out.push_back(absl::StrCat(needles[i], " ", needles[j]));
      }
    }
  }
  if (needles.size() > 2) out.push_back(absl::StrJoin(needles, " "));
  std::vector<std::string> unique;
  std::set<std::string> seen;
  for (auto& s : out) {
    if (!s.empty() && seen.insert(s).second) unique.push_back(std::move(s));
  }
  return unique;
}

}  // namespace frontdoor::rules
