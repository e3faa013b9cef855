#include "services/triage/engine/proto_yaml.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "frontdoor/v1/referral.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/triage/engine/cell.h"

namespace frontdoor::rules {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

const FieldDescriptor* FindField(const Descriptor* d, const std::string& key) {
  if (const FieldDescriptor* f = d->FindFieldByName(key)) return f;
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->json_name() == key) return d->field(i);
  }
  return nullptr;
}

class Filler {
 public:
  Filler(absl::string_view file, Diagnostics* diags) : file_(file), diags_(diags) {}

  void Fill(const YamlNode& node, Message* msg) {
    const Descriptor* d = msg->GetDescriptor();
    if (d->full_name() == "google.protobuf.Timestamp") {
      FillTimestamp(node, msg);
      return;
    }
    if (d->full_name() == "frontdoor.v1.Date" && node.kind == YamlNode::Kind::kScalar) {
      FillDate(node, msg);
      return;
    }
    if (node.kind != YamlNode::Kind::kMap) {
      Error(node.pos, "wrong-shape",
            absl::StrCat("expected a map of ", d->name(), " fields, found ", node.KindName()));
      return;
    }
    for (const YamlNode::Entry& e : node.entries) {
      const FieldDescriptor* f = FindField(d, e.key);
      if (f == nullptr) {
        std::vector<std::string> names;
        for (int i = 0; i < d->field_count(); ++i) names.push_back(d->field(i)->name());
        Error(e.key_pos, "unknown-field",
              absl::StrCat("unknown field '", e.key, "' in ", d->name(), "; known fields: ",
                           absl::StrJoin(names, ", ")));
        continue;
      }
      if (f->is_map()) {
        Error(e.key_pos, "unsupported-field", "map fields are not supported here");
        continue;
      }
      if (f->is_repeated()) {
        if (e.value->kind != YamlNode::Kind::kSequence) {
          Error(e.value->pos, "wrong-shape", absl::StrCat("'", e.key, "' takes a list"));
          continue;
        }
        for (const auto& item : e.value->items) SetOne(*item, f, msg, true);
        continue;
      }
      SetOne(*e.value, f, msg, false);
    }
  }

 private:
  void Error(SourcePos pos, absl::string_view code, std::string message) {
    diags_->Error(file_, pos, code, std::move(message));
  }

  void FillTimestamp(const YamlNode& node, Message* msg) {
    if (node.kind != YamlNode::Kind::kScalar) {
      Error(node.pos, "wrong-shape", "a timestamp is RFC 3339 text, e.g. 2026-01-15T10:00:00Z");
      return;
    }
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, node.scalar, &t, &err)) {
      Error(node.pos, "bad-value",
            absl::StrCat("'", node.scalar,
                         "' is not an RFC 3339 timestamp such as 2026-01-15T10:00:00Z"));
      return;
    }
    auto* ts = static_cast<google::protobuf::Timestamp*>(msg);
    ts->set_seconds(absl::ToUnixSeconds(t));
    ts->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(ts->seconds())) /
                                       absl::Nanoseconds(1)));
  }

  void FillDate(const YamlNode& node, Message* msg) {
    std::vector<std::string> parts = absl::StrSplit(node.scalar, '-');
    int y, m, d;
    bool ok = parts.size() == 3 && absl::SimpleAtoi(parts[0], &y) &&
              absl::SimpleAtoi(parts[1], &m) && absl::SimpleAtoi(parts[2], &d);
    if (ok) {
      absl::CivilDay cd(y, m, d);
      ok = cd.year() == y && cd.month() == m && cd.day() == d;
    }
    if (!ok) {
      Error(node.pos, "bad-value",
            absl::StrCat("'", node.scalar, "' is not a date such as 1950-03-01"));
      return;
    }
    auto* date = static_cast<v1::Date*>(msg);
    date->set_year(y);
    date->set_month(m);
    date->set_day(d);
  }

  void SetOne(const YamlNode& v, const FieldDescriptor* f, Message* msg, bool repeated) {
    const Reflection* r = msg->GetReflection();
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      Message* sub = repeated ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
      Fill(v, sub);
      return;
    }
    if (v.kind != YamlNode::Kind::kScalar) {
      Error(v.pos, "wrong-shape", absl::StrCat("'", f->name(), "' takes a single value"));
      return;
    }
    const std::string& s = v.scalar;
    auto bad = [&](absl::string_view what) {
      Error(v.pos, "bad-value",
            absl::StrCat("'", s, "' is not ", what, " (field ", f->name(), ")"));
    };
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t x;
        if (!absl::SimpleAtoi(s, &x)) return bad("a whole number");
        repeated ? r->AddInt32(msg, f, x) : r->SetInt32(msg, f, x);
        return;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t x;
        if (!absl::SimpleAtoi(s, &x)) return bad("a whole number");
        repeated ? r->AddInt64(msg, f, x) : r->SetInt64(msg, f, x);
        return;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t x;
        if (!absl::SimpleAtoi(s, &x)) return bad("a whole number");
        repeated ? r->AddUInt32(msg, f, x) : r->SetUInt32(msg, f, x);
        return;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t x;
        if (!absl::SimpleAtoi(s, &x)) return bad("a whole number");
        repeated ? r->AddUInt64(msg, f, x) : r->SetUInt64(msg, f, x);
        return;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double x;
        if (!absl::SimpleAtod(s, &x) || !std::isfinite(x)) return bad("a number");
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
          repeated ? r->AddDouble(msg, f, x) : r->SetDouble(msg, f, x);
        } else {
          repeated ? r->AddFloat(msg, f, static_cast<float>(x))
                   : r->SetFloat(msg, f, static_cast<float>(x));
        }
        return;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        std::string l = absl::AsciiStrToLower(s);
        bool x;
        if (l == "yes" || l == "true") {
          x = true;
        } else if (l == "no" || l == "false") {
          x = false;
        } else {
          return bad("yes or no");
        }
        repeated ? r->AddBool(msg, f, x) : r->SetBool(msg, f, x);
        return;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* ev = FindEnumValue(f->enum_type(), s);
        if (ev == nullptr) {
          std::vector<std::string> names;
          for (int i = 1; i < f->enum_type()->value_count(); ++i) {
            names.push_back(ShortEnumName(f->enum_type()->value(i)));
          }
          Error(v.pos, "bad-enum",
                absl::StrCat("'", s, "' is not a value of ", f->enum_type()->name(),
                             " (field ", f->name(), "); expected one of ",
                             absl::StrJoin(names, ", ")));
          return;
        }
        repeated ? r->AddEnum(msg, f, ev) : r->SetEnum(msg, f, ev);
        return;
      }
      case FieldDescriptor::CPPTYPE_STRING:
        repeated ? r->AddString(msg, f, s) : r->SetString(msg, f, s);
        return;
      default:
        return;
    }
  }

  std::string file_;
  Diagnostics* diags_;
};

}  // namespace

void YamlToMessage(const YamlNode& node, absl::string_view file,
                   google::protobuf::Message* msg, Diagnostics* diags) {
  Filler(file, diags).Fill(node, msg);
}

}  // namespace frontdoor::rules
