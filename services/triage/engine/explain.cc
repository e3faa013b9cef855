#include "services/triage/engine/explain.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/triage/engine/cell.h"

namespace frontdoor::rules {
namespace {

template <typename E>
std::string Name(const google::protobuf::EnumDescriptor* d, E v) {
  const auto* ev = d->FindValueByNumber(static_cast<int>(v));
  return ev == nullptr ? absl::StrCat(static_cast<int>(v)) : ShortEnumName(ev);
}

std::string Target(int minutes) {
  if (minutes < 0) return "no target time";
  if (minutes == 0) return "now";
  if (minutes % (24 * 60) == 0) return absl::StrCat("within ", minutes / (24 * 60), " days");
  if (minutes % 60 == 0) {
    int h = minutes / 60;
    return absl::StrCat("within ", h, h == 1 ? " hour" : " hours");
  }
  return absl::StrCat("within ", minutes, " minutes");
}

std::string RowLine(const v1::FiredRow& f) {
  std::string s = absl::StrCat(f.table(), "/", f.row());
  if (f.pathway() != v1::PATHWAY_UNSPECIFIED) {
    absl::StrAppend(&s, " -> ", PathwayName(f.pathway()), " ", UrgencyName(f.urgency()));
  }
  if (f.flags_size() > 0) {
    std::vector<std::string> flags;
    for (int fl : f.flags()) flags.push_back(FlagName(static_cast<v1::Flag>(fl)));
    absl::StrAppend(&s, " +flags ", absl::StrJoin(flags, ", "));
  }
  if (f.safety_critical()) absl::StrAppend(&s, " [safety-critical]");
  if (!f.note().empty()) absl::StrAppend(&s, "\n        ", f.note());
  absl::StrAppend(&s, "\n        source: ", f.source());
  return s;
}

}  // namespace

std::string PathwayName(v1::Pathway p) { return Name(v1::Pathway_descriptor(), p); }
std::string UrgencyName(v1::Urgency u) { return Name(v1::Urgency_descriptor(), u); }
std::string FlagName(v1::Flag f) { return Name(v1::Flag_descriptor(), f); }

std::string ExplainDecision(const v1::TriageDecision& d) {
  std::string out;
  absl::StrAppend(&out, "Pathway:  ", PathwayName(d.pathway()), "\n");
  absl::StrAppend(&out, "Urgency:  ", UrgencyName(d.urgency()), " (", Target(d.target_minutes()),
                  ")\n");
  const v1::FiredRow* decisive = nullptr;
  for (const auto& f : d.fired()) {
    if (f.decisive()) decisive = &f;
  }
  if (d.could_escalate_size() > 0) {
    absl::StrAppend(&out,
                    "Because:  information is missing that could make this more urgent, so a "
                    "clinician must review it.\n");
  }
  if (decisive != nullptr) {
    absl::StrAppend(&out, d.could_escalate_size() > 0 ? "Without the missing data: " : "Because:  ",
                    RowLine(*decisive), "\n");
  } else if (d.decisive_row() == "fallback") {
    absl::StrAppend(&out, "Because:  no rule gave an outcome; the rule set's fallback applies.\n");
  }
  if (d.has_override()) {
    const auto& o = d.override();
    absl::StrAppend(&out, "Override: ", o.by_row(), " replaced ", PathwayName(o.from_pathway()), " ",
                    UrgencyName(o.from_urgency()), " (", o.from_row(), ")",
                    o.lowered_safety_critical()
                        ? " - a safety-critical outcome was lowered: clinician confirmation required"
                        : "",
                    "\n");
  }
  for (const auto& s : d.scores()) {
    absl::StrAppend(&out, "\n", s.name(), ": ", FormatNumber(s.value()));
    if (!s.complete()) {
      absl::StrAppend(&out, " (incomplete: at least ", FormatNumber(s.value()), ", up to ",
                      FormatNumber(s.highest_possible()), "; not recorded: ",
                      absl::StrJoin(s.missing_inputs(), ", "), ")");
    }
    absl::StrAppend(&out, "\n");
    for (const auto& c : s.components()) {
      std::string points = absl::StrCat(c.points(), c.points() == 1 ? " point" : " points");
      absl::StrAppend(&out, "  ", c.parameter(),
                      std::string(c.parameter().size() < 28 ? 28 - c.parameter().size() : 1, ' '),
                      points, std::string(points.size() < 11 ? 11 - points.size() : 1, ' '), "(",
                      c.row(), ")\n");
    }
  }
  if (d.flags_size() > 0) {
    std::vector<std::string> flags;
    for (int f : d.flags()) flags.push_back(FlagName(static_cast<v1::Flag>(f)));
    absl::StrAppend(&out, "\nFlags: ", absl::StrJoin(flags, ", "), "\n");
  }
  if (d.could_escalate_size() > 0) {
    absl::StrAppend(&out, "\nCould be more urgent if known (missing: ",
                    absl::StrJoin(d.missing_inputs(), ", "), "):\n");
    for (const auto& f : d.could_escalate()) {
      absl::StrAppend(&out, "  ? ", RowLine(f), "\n        needs: ",
                      absl::StrJoin(f.missing_inputs(), ", "), "\n");
    }
  }
  absl::StrAppend(&out, "\nRows that fired:\n");
  for (const auto& f : d.fired()) {
    absl::StrAppend(&out, f.decisive() ? "  * " : f.selected() ? "  + " : "  . ", RowLine(f), "\n");
  }
  absl::StrAppend(&out, "\nRule set: ", d.rule_set_name(), " version ", d.rule_set_version().substr(0, 12),
                  "\n");
  return out;
}

}  // namespace frontdoor::rules
