// Turns an EvalResult into the TriageDecision proto with its explanation.
// Off the allocation-free path: it builds strings and repeated fields.

#include "absl/strings/str_cat.h"
#include "services/triage/engine/compiled_rule_set.h"

namespace frontdoor::rules {
namespace {

void AddMissing(const CompiledRuleSet& rs, const MissingMask& mask,
                google::protobuf::RepeatedPtrField<std::string>* out) {
  if (mask.none()) return;
  for (const Slot& s : rs.slots()) {
    if (s.missing_bit >= 0 && mask.test(s.missing_bit)) *out->Add() = s.name;
  }
}

void FillRow(const CompiledRuleSet& rs, int ti, int ri, v1::FiredRow* f) {
  const CompiledTable& t = rs.tables()[ti];
  const CompiledRow& row = t.rows[ri];
  const v1::Row& proto_row = rs.proto().tables(ti).rows(ri);
  f->set_table(t.id);
  f->set_row(row.id);
  f->set_source(proto_row.source());
  f->set_note(proto_row.note());
  f->set_safety_critical(row.safety_critical);
  if (row.has_outcome) {
    f->set_pathway(row.pathway);
    f->set_urgency(row.urgency);
  }
  for (int b = 1; b < 64; ++b) {
    if (row.flags >> b & 1) f->add_flags(static_cast<v1::Flag>(b));
  }
}

}  // namespace

void CompiledRuleSet::ToDecision(const EvalResult& r, v1::TriageDecision* d) const {
  d->Clear();
  d->set_pathway(r.pathway_);
  d->set_urgency(r.urgency_);
  d->set_target_minutes(TargetMinutes(r.urgency_));
  d->set_rule_set_name(proto_.name());
  d->set_rule_set_version(version_);
  if (r.decisive_table_ >= 0) {
    d->set_decisive_row(tables_[r.decisive_table_].rows[r.decisive_row_].qualified_id);
    d->set_safety_critical(tables_[r.decisive_table_].rows[r.decisive_row_].safety_critical);
  } else {
    d->set_decisive_row("fallback");
  }
  for (int ti : order_) {
    const CompiledTable& t = tables_[ti];
    const uint64_t* matched = r.matched_.data() + t.scratch_offset;
    const uint64_t* undet = r.undetermined_.data() + t.scratch_offset;
    bool collect = t.hit_policy == v1::HIT_POLICY_COLLECT;
    for (int ri = 0; ri < t.nrows; ++ri) {
      if (!(matched[ri / 64] >> (ri % 64) & 1)) continue;
      v1::FiredRow* f = d->add_fired();
      FillRow(*this, ti, ri, f);
      f->set_selected(collect || r.tables_[ti].selected == ri);
      f->set_decisive(ti == r.decisive_table_ && ri == r.decisive_row_);
    }
    if (!t.score.empty() && !t.aggregates.empty() && t.aggregates[0].slot >= 0) {
      const Value& total = r.slots_[t.aggregates[0].slot];
      v1::Score* s = d->add_scores();
      s->set_name(t.score);
      s->set_value(total.lo);
      s->set_highest_possible(total.hi);
      bool any_undet = false;
      for (int w = 0; w < t.words; ++w) any_undet = any_undet || undet[w] != 0;
      s->set_complete(total.exact() && !any_undet);
      for (int ri = 0; ri < t.nrows; ++ri) {
        if (!(matched[ri / 64] >> (ri % 64) & 1)) continue;
        auto* c = s->add_components();
        const OutputCell& label = t.outputs[t.score_label].cells[ri];
        c->set_parameter(label.kind == OutputCell::Kind::kLiteral ? label.text : t.rows[ri].id);
        const OutputCell& pts = t.outputs[t.score_points].cells[ri];
        if (pts.kind == OutputCell::Kind::kLiteral) c->set_points(static_cast<int>(pts.literal.lo));
        c->set_row(t.rows[ri].qualified_id);
      }
      AddMissing(*this, total.missing, s->mutable_missing_inputs());
    }
  }
  for (int b = 1; b < 64; ++b) {
    if (r.flags_ >> b & 1) d->add_flags(static_cast<v1::Flag>(b));
  }
  for (const auto& ref : r.could_escalate_) {
    v1::FiredRow* f = d->add_could_escalate();
    FillRow(*this, ref.table, ref.row, f);
    AddMissing(*this, ref.missing, f->mutable_missing_inputs());
  }
  AddMissing(*this, r.missing_, d->mutable_missing_inputs());
  if (r.overridden_) {
    v1::Override* o = d->mutable_override();
    o->set_from_pathway(r.from_pathway_);
    o->set_from_urgency(r.from_urgency_);
    if (r.from_table_ >= 0) o->set_from_row(tables_[r.from_table_].rows[r.from_row_].qualified_id);
    o->set_by_row(tables_[r.override_table_].rows[r.override_row_].qualified_id);
    o->set_lowered_safety_critical(r.lowered_safety_critical_);
  }
}

v1::TriageDecision CompiledRuleSet::Triage(const v1::Referral& referral) const {
  EvalResult r;
  Evaluate(referral, &r);
  v1::TriageDecision d;
  ToDecision(r, &d);
  return d;
}

}  // namespace frontdoor::rules
