#include "services/rulesets/row_diff.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"

namespace frontdoor::rulesets {
namespace {

using Props = std::vector<std::pair<std::string, std::string>>;

template <typename E>
std::string EnumName(const google::protobuf::EnumDescriptor* d, E value) {
  const google::protobuf::EnumValueDescriptor* v =
      d->FindValueByNumber(static_cast<int>(value));
  return v != nullptr ? v->name() : absl::StrCat(static_cast<int>(value));
}

std::string OutcomeText(const v1::Outcome& o) {
  return absl::StrCat(EnumName(v1::Pathway_descriptor(), o.pathway()), " ",
                      EnumName(v1::Urgency_descriptor(), o.urgency()));
}

std::vector<std::string> Columns(const v1::Table& t) {
  std::vector<std::string> out;
  for (const v1::InputColumn& c : t.inputs()) out.push_back(c.name());
  for (const std::string& c : t.output_columns()) out.push_back(c);
  return out;
}

std::vector<std::string> Cells(const v1::Row& r) {
  std::vector<std::string> out(r.inputs().begin(), r.inputs().end());
  out.insert(out.end(), r.outputs().begin(), r.outputs().end());
  return out;
}

// Column name -> cell.
std::map<std::string, std::string> CellMap(const v1::Table& t,
                                           const v1::Row& r) {
  std::map<std::string, std::string> out;
  const std::vector<std::string> cols = Columns(t);
  const std::vector<std::string> cells = Cells(r);
  for (size_t i = 0; i < cols.size() && i < cells.size(); ++i) {
    out[cols[i]] = cells[i];
  }
  return out;
}

Props TableProps(const v1::Table& t) {
  std::vector<std::string> inputs;
  for (const v1::InputColumn& c : t.inputs()) {
    inputs.push_back(absl::StrCat(c.name(), "=", c.ref(),
                                  c.on_missing() == v1::ON_MISSING_NO_MATCH
                                      ? " (no match if missing)"
                                      : ""));
  }
  std::vector<std::string> outputs;
  for (const v1::OutputColumn& c : t.outputs()) {
    std::string o = absl::StrCat(
        c.name(), ":", EnumName(v1::ValueType_descriptor(), c.type()));
    if (!c.enum_type().empty()) absl::StrAppend(&o, "(", c.enum_type(), ")");
    if (c.aggregate() != v1::AGGREGATE_UNSPECIFIED) {
      absl::StrAppend(&o, " ",
                      EnumName(v1::Aggregate_descriptor(), c.aggregate()),
                      " of ", c.column().empty() ? c.name() : c.column());
    }
    outputs.push_back(std::move(o));
  }
  return {
      {"hit_policy", EnumName(v1::HitPolicy_descriptor(), t.hit_policy())},
      {"mode", EnumName(v1::TableMode_descriptor(), t.mode())},
      {"lowers_safety_critical", t.lowers_safety_critical() ? "yes" : "no"},
      {"score", t.score()},
      {"inputs", absl::StrJoin(inputs, ", ")},
      {"outputs", absl::StrJoin(outputs, ", ")},
  };
}

Props RuleSetProps(const v1::RuleSet& rs) {
  std::vector<std::string> order;
  for (int p : rs.pathway_order()) {
    order.push_back(EnumName(v1::Pathway_descriptor(), p));
  }
  std::vector<std::string> targets;
  for (const v1::UrgencyTarget& t : rs.targets()) {
    targets.push_back(
        absl::StrCat(EnumName(v1::Urgency_descriptor(), t.urgency()), "=",
                     t.minutes() < 0 ? "-" : absl::StrCat(t.minutes(), "m")));
  }
  return {
      {"name", rs.name()},
      {"timezone", rs.timezone()},
      {"pathway_order", absl::StrJoin(order, ", ")},
      {"targets", absl::StrJoin(targets, ", ")},
      {"missing_data", OutcomeText(rs.missing_data())},
      {"fallback", OutcomeText(rs.fallback())},
  };
}

// A "changed" entry for the properties that differ; false if none does.
bool DiffProps(const Props& from, const Props& to, v1::RowChange* change) {
  for (size_t i = 0; i < from.size() && i < to.size(); ++i) {
    if (from[i].second == to[i].second) continue;
    change->add_columns(to[i].first);
    change->add_before(from[i].second);
    change->add_after(to[i].second);
  }
  if (change->columns_size() == 0) return false;
  change->set_kind("changed");
  return true;
}

void AddWholeRow(const v1::Table& t, const v1::Row& r, const char* kind,
                 std::vector<v1::RowChange>* out) {
  v1::RowChange& c = out->emplace_back();
  c.set_table(t.id());
  c.set_row(r.id());
  c.set_kind(kind);
  for (const std::string& col : Columns(t)) c.add_columns(col);
  for (const std::string& cell : Cells(r)) {
    if (std::string(kind) == "added") {
      c.add_after(cell);
    } else {
      c.add_before(cell);
    }
  }
}

void DiffTable(const v1::Table& from, const v1::Table& to,
               std::vector<v1::RowChange>* out) {
  {
    v1::RowChange c;
    c.set_table(to.id());
    if (DiffProps(TableProps(from), TableProps(to), &c)) {
      out->push_back(std::move(c));
    }
  }
  std::map<std::string, const v1::Row*> old_rows;
  for (const v1::Row& r : from.rows()) old_rows.emplace(r.id(), &r);
  std::set<std::string> new_ids;
  // Union of the columns: `to`'s, then those only `from` had.
  std::vector<std::string> columns = Columns(to);
  {
    std::set<std::string> seen(columns.begin(), columns.end());
    for (const std::string& col : Columns(from)) {
      if (seen.insert(col).second) columns.push_back(col);
    }
  }
  for (const v1::Row& r : to.rows()) {
    new_ids.insert(r.id());
    auto it = old_rows.find(r.id());
    if (it == old_rows.end()) {
      AddWholeRow(to, r, "added", out);
      continue;
    }
    const v1::Row& old = *it->second;
    std::map<std::string, std::string> before = CellMap(from, old);
    std::map<std::string, std::string> after = CellMap(to, r);
    v1::RowChange c;
    bool differs = false;
    for (const std::string& col : columns) {
      const std::string b = before.count(col) ? before[col] : "";
      const std::string a = after.count(col) ? after[col] : "";
      if (a != b || before.count(col) != after.count(col)) differs = true;
      c.add_columns(col);
      c.add_before(b);
      c.add_after(a);
    }
    auto extra = [&](const char* name, const std::string& b,
                     const std::string& a) {
      if (a == b) return;
      differs = true;
      c.add_columns(name);
      c.add_before(b);
      c.add_after(a);
    };
    extra("safety_critical", old.safety_critical() ? "yes" : "no",
          r.safety_critical() ? "yes" : "no");
    extra("source", old.source(), r.source());
    extra("note", old.note(), r.note());
    if (!differs) continue;
    c.set_table(to.id());
    c.set_row(r.id());
    c.set_kind("changed");
    out->push_back(std::move(c));
  }
  for (const v1::Row& r : from.rows()) {
    if (new_ids.count(r.id()) == 0) AddWholeRow(from, r, "removed", out);
  }
}

}  // namespace

std::vector<v1::RowChange> DiffRows(const v1::RuleSet& from,
                                    const v1::RuleSet& to) {
  std::vector<v1::RowChange> out;
  {
    v1::RowChange c;
    if (DiffProps(RuleSetProps(from), RuleSetProps(to), &c)) {
      out.push_back(std::move(c));
    }
  }
  std::map<std::string, const v1::Table*> old_tables;
  for (const v1::Table& t : from.tables()) old_tables.emplace(t.id(), &t);
  std::set<std::string> new_ids;
  for (const v1::Table& t : to.tables()) {
    new_ids.insert(t.id());
    auto it = old_tables.find(t.id());
    if (it == old_tables.end()) {
      v1::RowChange& c = out.emplace_back();
      c.set_table(t.id());
      c.set_kind("added");
      for (const v1::Row& r : t.rows()) AddWholeRow(t, r, "added", &out);
      continue;
    }
    DiffTable(*it->second, t, &out);
  }
  for (const v1::Table& t : from.tables()) {
    if (new_ids.count(t.id()) != 0) continue;
    v1::RowChange& c = out.emplace_back();
    c.set_table(t.id());
    c.set_kind("removed");
    for (const v1::Row& r : t.rows()) AddWholeRow(t, r, "removed", &out);
  }
  return out;
}

}  // namespace frontdoor::rulesets
