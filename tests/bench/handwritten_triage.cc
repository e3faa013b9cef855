// The default rule set (triage-rules/community-spa, as committed in
// 741e75f) written out by hand. Each block below names the table it
// follows; row names are the rule files' row ids, so that an explanation can
// be read beside the engine's.
//
// Three-valued logic: every condition is yes, no, or "cannot tell" (an input
// the rule needs was not recorded). Inputs that the rule files mark
// `on_missing: no_match` count as "no" when not recorded; cells that list
// `missing` accept an unrecorded value. A derived value that depends on a
// "cannot tell" is itself unknown (a number becomes a range).

#include "tests/bench/handwritten_triage.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace frontdoor::bench {
namespace {

using v1::Pathway;
using v1::PresentingProblem;
using v1::Urgency;

// --- Three-valued conditions -------------------------------------------------

enum T : uint8_t { kNo, kYes, kUnknown };

T And(std::initializer_list<T> ts) {
  T r = kYes;
  for (T t : ts) {
    if (t == kNo) return kNo;
    if (t == kUnknown) r = kUnknown;
  }
  return r;
}
T Is(bool b) { return b ? kYes : kNo; }

// What an unrecorded input does to a condition.
enum Missing : uint8_t {
  kUnknownIfMissing,  // the rule cannot tell (the default)
  kNoIfMissing,       // on_missing: no_match
  kYesIfMissing,      // the cell lists `missing`
};
T IfMissing(Missing m) {
  return m == kUnknownIfMissing ? kUnknown : m == kYesIfMissing ? kYes : kNo;
}

// An optional bool finding.
struct Flag {
  bool present = false;
  bool value = false;
};
template <typename M, typename Has, typename Get>
Flag OptBool(const M& m, Has has, Get get) {
  Flag f;
  f.present = (m.*has)();
  f.value = f.present && (m.*get)();
  return f;
}
T Yes(Flag f, Missing m) { return f.present ? Is(f.value) : IfMissing(m); }
T No(Flag f, Missing m) { return f.present ? Is(!f.value) : IfMissing(m); }

// A number, possibly known only to lie in [lo, hi], or not recorded.
struct Num {
  bool present = false;
  double lo = 0, hi = 0;
};
Num Exact(double x) { return {true, x, x}; }
Num Range(double lo, double hi) { return {true, lo, hi}; }

// v >= x, v <= x, ... : yes when every possible value passes, no when none
// does, cannot tell otherwise.
T Ge(Num v, double x, Missing m = kUnknownIfMissing) {
  if (!v.present) return IfMissing(m);
  return v.lo >= x ? kYes : v.hi < x ? kNo : kUnknown;
}
T Gt(Num v, double x, Missing m = kUnknownIfMissing) {
  if (!v.present) return IfMissing(m);
  return v.lo > x ? kYes : v.hi <= x ? kNo : kUnknown;
}
T Le(Num v, double x, Missing m = kUnknownIfMissing) {
  if (!v.present) return IfMissing(m);
  return v.hi <= x ? kYes : v.lo > x ? kNo : kUnknown;
}
T Lt(Num v, double x, Missing m = kUnknownIfMissing) {
  if (!v.present) return IfMissing(m);
  return v.hi < x ? kYes : v.lo >= x ? kNo : kUnknown;
}
// a <= v <= b
T Between(Num v, double a, double b, Missing m = kUnknownIfMissing) {
  if (!v.present) return IfMissing(m);
  if (v.lo >= a && v.hi <= b) return kYes;
  if (v.hi < a || v.lo > b) return kNo;
  return kUnknown;
}
// a <= v < b
T From(Num v, double a, double b, Missing m = kUnknownIfMissing) {
  if (!v.present) return IfMissing(m);
  if (v.lo >= a && v.hi < b) return kYes;
  if (v.hi < a || v.lo >= b) return kNo;
  return kUnknown;
}
T EqNum(Num v, double x, Missing m = kUnknownIfMissing) {
  return Between(v, x, x, m);
}

// Enum values: 0 is "not recorded".
T OneOf(int v, std::initializer_list<int> set, Missing m = kUnknownIfMissing) {
  if (v == 0) return IfMissing(m);
  for (int s : set) {
    if (v == s) return kYes;
  }
  return kNo;
}
// not(...): a recorded value that is none of them.
T NoneOf(int v, std::initializer_list<int> set, Missing m = kUnknownIfMissing) {
  if (v == 0) return m == kUnknownIfMissing ? kUnknown : kNo;
  for (int s : set) {
    if (v == s) return kNo;
  }
  return kYes;
}

// Free text, lower-cased once (ASCII) into a buffer on the stack, so that
// each contains("...") is a plain substring search.
class LowerText {
 public:
  explicit LowerText(absl::string_view text) : original_(text) {
    if (text.size() <= sizeof(buf_)) {
      for (size_t i = 0; i < text.size(); ++i) {
        buf_[i] = absl::ascii_tolower(static_cast<unsigned char>(text[i]));
      }
      lower_ = absl::string_view(buf_, text.size());
    }
  }
  bool empty() const { return original_.empty(); }
  // Whether the text contains `word` (given in lower case), ignoring case.
  bool Contains(absl::string_view word) const {
    if (lower_.size() == original_.size())
      return lower_.find(word) != absl::string_view::npos;
    // Too long for the buffer: compare character by character.
    for (size_t i = 0; i + word.size() <= original_.size(); ++i) {
      size_t j = 0;
      while (j < word.size() && absl::ascii_tolower(static_cast<unsigned char>(
                                    original_[i + j])) == word[j]) {
        ++j;
      }
      if (j == word.size()) return true;
    }
    return false;
  }

 private:
  absl::string_view original_;
  absl::string_view lower_;
  char buf_[1024];
};

// contains("a", "b"): free text is no_match when empty.
T TextMentions(const LowerText& text,
               std::initializer_list<absl::string_view> words) {
  if (text.empty()) return kNo;
  for (absl::string_view w : words) {
    if (text.Contains(w)) return kYes;
  }
  return kNo;
}

// --- Outcomes
// --------------------------------------------------------------------

// Most urgent first; equal urgencies break by ruleset.yaml's pathway_order,
// which lists the pathways in the order of their enum numbers.
int Rank(Pathway p, Urgency u) {
  return static_cast<int>(u) * 64 + static_cast<int>(p);
}

const char* Name(T t) { return t == kYes ? "yes" : "cannot tell"; }

class Outcomes {
 public:
  explicit Outcomes(HandTrace* trace) : trace_(trace) {}

  // A row with an outcome: it gives it when `t` is yes, and could have when
  // `t` is cannot tell.
  void Row(const char* id, T t, Pathway p, Urgency u) {
    if (t == kNo) return;
    const int rank = Rank(p, u);
    if (trace_ != nullptr) {
      trace_->lines.push_back(absl::StrCat(id, ": ", Name(t), " -> ",
                                           v1::Pathway_Name(p), " ",
                                           v1::Urgency_Name(u)));
    }
    if (t == kYes) {
      if (rank < best_rank_) {
        best_rank_ = rank;
        pathway_ = p;
        urgency_ = u;
      }
    } else {
      unknown_rank_ = std::min(unknown_rank_, rank);
    }
  }

  bool any() const { return best_rank_ != INT_MAX; }
  Pathway pathway() const { return pathway_; }
  Urgency urgency() const { return urgency_; }
  void Set(Pathway p, Urgency u) {
    pathway_ = p;
    urgency_ = u;
    best_rank_ = Rank(p, u);
  }
  int rank() const { return best_rank_; }
  int unknown_rank() const { return unknown_rank_; }
  HandTrace* trace() const { return trace_; }

 private:
  HandTrace* trace_;
  int best_rank_ = INT_MAX;
  int unknown_rank_ = INT_MAX;
  Pathway pathway_ = v1::PATHWAY_UNSPECIFIED;
  Urgency urgency_ = v1::URGENCY_UNSPECIFIED;
};

// Shorter names for the vocabulary.
constexpr Pathway kAcute = v1::PATHWAY_ACUTE;
constexpr Pathway kReview = v1::PATHWAY_CLINICAL_REVIEW;
constexpr Pathway kPrimary = v1::PATHWAY_PRIMARY_CARE;
constexpr Urgency kNow = v1::URGENCY_IMMEDIATE;
constexpr Urgency k1h = v1::URGENCY_WITHIN_1H;
constexpr Urgency k2h = v1::URGENCY_WITHIN_2H;
constexpr Urgency k4h = v1::URGENCY_WITHIN_4H;
constexpr Urgency k12h = v1::URGENCY_WITHIN_12H;
constexpr Urgency k24h = v1::URGENCY_WITHIN_24H;
constexpr Urgency k48h = v1::URGENCY_WITHIN_48H;
constexpr Urgency k2w = v1::URGENCY_WITHIN_2W;
constexpr Urgency k4w = v1::URGENCY_WITHIN_4W;

#define P(x) v1::PRESENTING_PROBLEM_##x

// --- NEWS2 (20-news2.rules.yaml)
// -----------------------------------------------

// One parameter's part of the score: the points when recorded, or the
// least and most it could score when not.
struct Part {
  bool scored = false;
  int points = 0;
  int least = 0, most = 0;
};
Part Scored(int points) { return {true, points, points, points}; }
Part Unscored(int least, int most) { return {false, 0, least, most}; }

int RespirationPoints(int v) {
  if (v <= 8) return 3;
  if (v <= 11) return 1;
  if (v <= 20) return 0;
  if (v <= 24) return 2;
  return 3;
}
int Spo2Scale1Points(int v) {
  if (v <= 91) return 3;
  if (v <= 93) return 2;
  if (v <= 95) return 1;
  return 0;
}
int SystolicPoints(int v) {
  if (v <= 90) return 3;
  if (v <= 100) return 2;
  if (v <= 110) return 1;
  if (v <= 219) return 0;
  return 3;
}
int PulsePoints(int v) {
  if (v <= 40) return 3;
  if (v <= 50) return 1;
  if (v <= 90) return 0;
  if (v <= 110) return 1;
  if (v <= 130) return 2;
  return 3;
}
int TemperaturePoints(double t) {
  if (t <= 35.0) return 3;
  if (t <= 36.0) return 1;
  if (t <= 38.0) return 0;
  if (t <= 39.0) return 1;
  return 2;
}

struct News2 {
  Num total;    // sum of the points (a range when incomplete)
  Num highest;  // the highest single parameter (a range when incomplete)
  int recorded = 0;
};

News2 ScoreNews2(const v1::Observations& o, bool applicable, bool scale2) {
  News2 n;
  n.recorded = o.has_respiratory_rate() + o.has_spo2_percent() +
               o.has_on_supplemental_oxygen() + o.has_systolic_bp() +
               o.has_pulse() +
               (o.consciousness() != v1::CONSCIOUSNESS_UNSPECIFIED) +
               o.has_temperature_celsius();
  if (!applicable) {
    // No row of the chart applies: a total of 0 and no highest parameter.
    n.total = Exact(0);
    return n;
  }
  Part parts[7];
  parts[0] = o.has_respiratory_rate()
                 ? Scored(RespirationPoints(o.respiratory_rate()))
                 : Unscored(0, 3);
  if (!o.has_spo2_percent()) {
    parts[1] = Unscored(0, 3);
  } else if (!scale2) {
    parts[1] = Scored(Spo2Scale1Points(o.spo2_percent()));
  } else {
    const int s = o.spo2_percent();
    if (s <= 83) {
      parts[1] = Scored(3);
    } else if (s <= 85) {
      parts[1] = Scored(2);
    } else if (s <= 87) {
      parts[1] = Scored(1);
    } else if (s <= 92) {
      parts[1] = Scored(0);
    } else {
      // 93 or more: 0 on air; on oxygen 1, 2 or 3.
      const int on_o2 = s <= 94 ? 1 : s <= 96 ? 2 : 3;
      if (!o.has_on_supplemental_oxygen()) {
        parts[1] = Unscored(0, on_o2);
      } else {
        parts[1] = Scored(o.on_supplemental_oxygen() ? on_o2 : 0);
      }
    }
  }
  parts[2] = o.has_on_supplemental_oxygen()
                 ? Scored(o.on_supplemental_oxygen() ? 2 : 0)
                 : Unscored(0, 2);
  parts[3] = o.has_systolic_bp() ? Scored(SystolicPoints(o.systolic_bp()))
                                 : Unscored(0, 3);
  parts[4] = o.has_pulse() ? Scored(PulsePoints(o.pulse())) : Unscored(0, 3);
  if (o.consciousness() == v1::CONSCIOUSNESS_UNSPECIFIED) {
    parts[5] = Unscored(0, 3);
  } else {
    parts[5] = Scored(o.consciousness() == v1::CONSCIOUSNESS_ALERT ? 0 : 3);
  }
  parts[6] = o.has_temperature_celsius()
                 ? Scored(TemperaturePoints(o.temperature_celsius()))
                 : Unscored(0, 3);
  int lo = 0, hi = 0;
  int scored_max = -1, unscored_least = INT_MAX, unscored_most = -1;
  for (const Part& p : parts) {
    if (p.scored) {
      lo += p.points;
      hi += p.points;
      scored_max = std::max(scored_max, p.points);
    } else {
      hi += p.most;
      unscored_least = std::min(unscored_least, p.least);
      unscored_most = std::max(unscored_most, p.most);
    }
  }
  n.total = Range(lo, hi);
  if (scored_max >= 0) {
    n.highest = Range(scored_max, std::max(scored_max, unscored_most));
  } else {
    n.highest = Range(unscored_least, unscored_most);
  }
  return n;
}

}  // namespace

HandWrittenTriage::HandWrittenTriage() {
  if (!absl::LoadTimeZone("Europe/London", &tz_)) tz_ = absl::UTCTimeZone();
}

HandDecision HandWrittenTriage::Triage(const v1::Referral& r,
                                       HandTrace* trace) const {
  const v1::Patient& pt = r.patient();
  const v1::Observations& o = r.observations();
  const v1::Findings& f = r.findings();
  const int problem = r.problem();
  Outcomes out(trace);

  // Findings as optional bools.
#define FINDING(name) OptBool(f, &v1::Findings::has_##name, &v1::Findings::name)
  const Flag f_fall = FINDING(fall);
  const Flag f_head = FINDING(head_injury);
  const Flag f_acs = FINDING(suspected_acs);
  const Flag f_infection = FINDING(suspected_infection);

  // --- 10-derived.rules.yaml -------------------------------------------------

  // age: whole calendar years and months from the date of birth to the UK
  // local date of receipt, as birthdays count; or else the stated age.
  Num age, months;
  const v1::Date& d = pt.date_of_birth();
  const bool dob = pt.has_date_of_birth() && d.year() != 0 && d.month() >= 1 &&
                   d.month() <= 12 && d.day() >= 1 && d.day() <= 31;
  const bool received = r.has_received_at();
  const double received_s = static_cast<double>(r.received_at().seconds()) +
                            r.received_at().nanos() * 1e-9;
  const absl::CivilSecond local = absl::ToCivilSecond(
      absl::FromUnixSeconds(static_cast<int64_t>(std::floor(received_s))), tz_);
  if (dob && received) {
    // Not yet had this year's birthday (or this month's "monthday"): one less.
    const int64_t years =
        local.year() - d.year() -
        ((local.month() < d.month() ||
          (local.month() == d.month() && local.day() < d.day()))
             ? 1
             : 0);
    const int64_t whole_months = (local.year() - d.year()) * 12 +
                                 (local.month() - d.month()) -
                                 (local.day() < d.day() ? 1 : 0);
    age = Exact(static_cast<double>(years));
    months = Exact(static_cast<double>(whole_months));
  } else if (!dob && pt.has_stated_age_years() && pt.stated_age_years() == 0) {
    age = Exact(0);  // months unknown
  } else if (!dob && pt.has_stated_age_years() && pt.stated_age_years() >= 1) {
    age = Exact(pt.stated_age_years());
    months = Exact(pt.stated_age_years() * 12.0);
  }

  // ucr_hours: 08:00 to 20:00 UK time.
  Flag ucr_open;
  if (received) {
    const int minute = local.hour() * 60 + local.minute();
    ucr_open = {true, minute >= 480 && minute < 1200};
  }

  // spo2_scale: scale 2 only with hypercapnic failure and an 88-92% target
  // both documented.
  const bool scale2 = o.has_hypercapnic_respiratory_failure() &&
                      o.hypercapnic_respiratory_failure() &&
                      o.has_prescribed_spo2_target_88_92() &&
                      o.prescribed_spo2_target_88_92();

  // news2_applicable: 16 and over (or age unknown), not pregnant or postpartum.
  const bool pregnant =
      f.pregnancy() == v1::PREGNANCY_STATUS_PREGNANT ||
      f.pregnancy() == v1::PREGNANCY_STATUS_POSTPARTUM_6_WEEKS;
  const bool applicable = !(age.present && age.lo < 16) && !pregnant;

  // acs_suspected: ticked, or a chest pain referral with the box unanswered.
  // With neither problem nor box it cannot be told.
  Flag acs;
  if (f_acs.present && f_acs.value) {
    acs = {true, true};
  } else if (!f_acs.present) {
    if (problem == P(CHEST_PAIN)) {
      acs = {true, true};
    } else if (problem != 0) {
      acs = {true, false};
    }  // else unknown
  } else {
    acs = {true, false};
  }

  // infection_suspected: ticked, or an infection problem.
  Flag infection;
  if (f_infection.present && f_infection.value) {
    infection = {true, true};
  } else if (problem != 0) {
    infection = {true, problem == P(SUSPECTED_INFECTION) ||
                           problem == P(FEVER) ||
                           problem == P(RESPIRATORY_INFECTION)};
  }

  // fall_reported: ticked, or the problem is a fall.
  Flag fall;
  if (f_fall.present && f_fall.value) {
    fall = {true, true};
  } else if (problem != 0) {
    fall = {true, problem == P(FALL)};
  }

  // head_injury_reported: ticked, or the problem; after a fall the head must
  // have been asked about (unknown otherwise).
  Flag head;
  if (f_head.present && f_head.value) {
    head = {true, true};
  } else if (problem == P(HEAD_INJURY)) {
    head = {true, true};
  } else if (problem == 0) {
    // unknown: could be a head injury problem
  } else if (f_head.present) {
    head = {true, false};
  } else if (fall.present && fall.value) {
    // a fall and the head not asked about: unknown
  } else {
    head = {true, false};
  }

  // --- 20-news2.rules.yaml
  // ------------------------------------------------------

  const News2 news2 = ScoreNews2(o, applicable, scale2);
  const Num rr = o.has_respiratory_rate() ? Exact(o.respiratory_rate()) : Num();
  const Num spo2 = o.has_spo2_percent() ? Exact(o.spo2_percent()) : Num();
  const Num sbp = o.has_systolic_bp() ? Exact(o.systolic_bp()) : Num();
  const Num pulse = o.has_pulse() ? Exact(o.pulse()) : Num();
  const Num temp =
      o.has_temperature_celsius() ? Exact(o.temperature_celsius()) : Num();
  const Num recorded = Exact(news2.recorded);
  {
    const T base = And({Is(applicable), Ge(recorded, 1)});
    out.Row("news2_response/r11_news2_7_plus", And({base, Ge(news2.total, 7)}),
            kAcute, kNow);
    out.Row("news2_response/r30_news2_5_or_more",
            And({base, Ge(news2.total, 5)}), kAcute, k1h);
    out.Row("news2_response/r31_news2_single_parameter_3",
            And({base, Ge(news2.highest, 3)}), kReview, k1h);
  }

  // --- 30-life-threats.rules.yaml
  // ---------------------------------------------------

  const Missing no = kNoIfMissing;
  const int acvpu = o.consciousness();
  const std::initializer_list<int> kNotAlert = {
      v1::CONSCIOUSNESS_NEW_CONFUSION, v1::CONSCIOUSNESS_VOICE,
      v1::CONSCIOUSNESS_PAIN, v1::CONSCIOUSNESS_UNRESPONSIVE};
  out.Row("immediate_life_threat/r10_cardiac_or_respiratory_arrest",
          Yes(FINDING(cardiac_or_respiratory_arrest), no), kAcute, kNow);
  out.Row("immediate_life_threat/r10_airway_compromise",
          Yes(FINDING(airway_compromise), no), kAcute, kNow);
  out.Row("immediate_life_threat/r10_not_breathing_normally",
          Yes(FINDING(not_breathing_normally), no), kAcute, kNow);
  out.Row(
      "immediate_life_threat/r10_unresponsive",
      And({Ge(recorded, 1), OneOf(acvpu, {v1::CONSCIOUSNESS_UNRESPONSIVE})}),
      kAcute, kNow);
  out.Row("immediate_life_threat/r16_major_haemorrhage",
          Yes(FINDING(major_haemorrhage), no), kAcute, kNow);
  out.Row("immediate_life_threat/r16_signs_of_shock",
          Yes(FINDING(signs_of_shock), no), kAcute, kNow);
  out.Row("immediate_life_threat/r57_diabetes_reduced_consciousness",
          Yes(FINDING(diabetes_reduced_consciousness), no), kAcute, kNow);

  out.Row("stroke_fast/r12_fast_face_droop", Yes(FINDING(fast_face_droop), no),
          kAcute, kNow);
  out.Row("stroke_fast/r12_fast_arm_weakness",
          Yes(FINDING(fast_arm_weakness), no), kAcute, kNow);
  out.Row("stroke_fast/r12_fast_speech_disturbance",
          Yes(FINDING(fast_speech_disturbance), no), kAcute, kNow);
  out.Row("stroke_fast/r12_stroke_symptoms_reported",
          OneOf(problem, {P(STROKE_SYMPTOMS)}), kAcute, kNow);

  out.Row("anaphylaxis/r15_facial_or_tongue_swelling",
          Yes(FINDING(facial_or_tongue_swelling), no), kAcute, kNow);
  out.Row("anaphylaxis/r15_stridor", Yes(FINDING(stridor), no), kAcute, kNow);
  out.Row("anaphylaxis/r15_unable_to_speak_in_sentences",
          Yes(FINDING(unable_to_speak_in_sentences), no), kAcute, kNow);

  out.Row("cauda_equina/r17_saddle_anaesthesia",
          Yes(FINDING(saddle_anaesthesia), no), kAcute, k1h);
  out.Row("cauda_equina/r17_back_pain_with_bladder_change",
          And({OneOf(problem, {P(BACK_PAIN)}),
               Yes(FINDING(new_urinary_retention_or_incontinence), no)}),
          kAcute, k1h);

  out.Row("self_harm_physical_risk/r18_overdose_taken",
          Yes(FINDING(overdose_taken), no), kAcute, kNow);
  out.Row("self_harm_physical_risk/r18_self_harm_with_injury",
          Yes(FINDING(self_harm_with_injury), no), kAcute, kNow);

  out.Row("danger_from_others/r19_immediate_danger_from_others",
          Yes(FINDING(immediate_danger_from_others), no),
          v1::PATHWAY_EMERGENCY_SERVICES, kNow);

  {
    // sepsis_high_risk: suspected infection and any NG51 high-risk criterion
    // (12 and over, or age unknown, for the physiological ones).
    const T inf = Yes(infection, kUnknownIfMissing);
    const T twelve_plus = Ge(age, 12, kYesIfMissing);
    out.Row("sepsis_high_risk/r14_altered_mental_state",
            And({inf, Yes(FINDING(new_altered_mental_state), no)}), kAcute,
            kNow);
    out.Row("sepsis_high_risk/r14_acvpu_not_alert",
            And({inf, OneOf(acvpu, kNotAlert)}), kAcute, kNow);
    out.Row("sepsis_high_risk/r14_rr_25_or_more",
            And({inf, twelve_plus, Ge(rr, 25)}), kAcute, kNow);
    out.Row("sepsis_high_risk/r14_new_oxygen_need",
            And({inf, twelve_plus, Yes(FINDING(new_oxygen_need), no)}), kAcute,
            kNow);
    out.Row("sepsis_high_risk/r14_pulse_over_130",
            And({inf, twelve_plus, Gt(pulse, 130)}), kAcute, kNow);
    out.Row("sepsis_high_risk/r14_sbp_90_or_less",
            And({inf, twelve_plus, Le(sbp, 90)}), kAcute, kNow);
    out.Row("sepsis_high_risk/r14_no_urine_18h",
            And({inf, twelve_plus, Yes(FINDING(no_urine_18h), no)}), kAcute,
            kNow);
    out.Row("sepsis_high_risk/r14_mottled_or_ashen",
            And({inf, Yes(FINDING(mottled_or_ashen), no)}), kAcute, kNow);
    out.Row("sepsis_high_risk/r14_cyanosis",
            And({inf, Yes(FINDING(cyanosis), no)}), kAcute, kNow);
    out.Row("sepsis_high_risk/r14_non_blanching_rash",
            And({inf, Yes(FINDING(non_blanching_rash), no)}), kAcute, kNow);
  }

  // --- 40-urgent-acute.rules.yaml
  // ------------------------------------------------------

  {
    // chest_pain: NICE CG95 for suspected ACS.
    const T a = Yes(acs, kUnknownIfMissing);
    const int timing = f.chest_pain_timing();
    const int ecg = f.ecg();
    const Flag complications = FINDING(chest_pain_complications);
    out.Row("chest_pain/r13_acs_pain_now",
            And({a, OneOf(timing, {v1::CHEST_PAIN_TIMING_ONGOING})}), kAcute,
            kNow);
    out.Row(
        "chest_pain/r13_acs_pain_12h_ecg_not_normal",
        And({a, OneOf(timing, {v1::CHEST_PAIN_TIMING_WITHIN_12H}),
             OneOf(ecg, {v1::ECG_RESULT_ABNORMAL, v1::ECG_RESULT_NOT_AVAILABLE},
                   kYesIfMissing)}),
        kAcute, kNow);
    out.Row("chest_pain/r40_acs_pain_12h_ecg_normal",
            And({a, OneOf(timing, {v1::CHEST_PAIN_TIMING_WITHIN_12H}),
                 OneOf(ecg, {v1::ECG_RESULT_NORMAL})}),
            kAcute, k12h);
    out.Row("chest_pain/r40_acs_pain_12_to_72h",
            And({a, OneOf(timing, {v1::CHEST_PAIN_TIMING_12_TO_72H})}), kAcute,
            k12h);
    out.Row("chest_pain/r40_acs_resolved_with_complications",
            And({a,
                 OneOf(timing, {v1::CHEST_PAIN_TIMING_WITHIN_12H,
                                v1::CHEST_PAIN_TIMING_12_TO_72H,
                                v1::CHEST_PAIN_TIMING_OVER_72H}),
                 Yes(complications, kUnknownIfMissing)}),
            kAcute, k1h);
    out.Row("chest_pain/r41_acs_over_72h_no_complications",
            And({a, OneOf(timing, {v1::CHEST_PAIN_TIMING_OVER_72H}),
                 No(complications, kUnknownIfMissing)}),
            kPrimary, k24h);
  }
  {
    // head_injury_and_falls: NICE NG232.
    const T h = Yes(head, kUnknownIfMissing);
    const Missing u = kUnknownIfMissing;
    out.Row("head_injury_and_falls/r20_head_injury_on_anticoagulant",
            And({h, Yes(FINDING(on_anticoagulant), u)}), kAcute, k1h);
    out.Row("head_injury_and_falls/r21_head_injury_seizure",
            And({h, Yes(FINDING(head_injury_seizure), u)}), kAcute, kNow);
    out.Row("head_injury_and_falls/r21_head_injury_not_fully_conscious",
            And({h, OneOf(acvpu, kNotAlert)}), kAcute, kNow);
    out.Row("head_injury_and_falls/r21_head_injury_loss_of_consciousness",
            And({h, Yes(FINDING(head_injury_loss_of_consciousness), u)}),
            kAcute, k1h);
    out.Row("head_injury_and_falls/r21_head_injury_vomiting",
            And({h, Yes(FINDING(head_injury_vomiting_more_than_once), u)}),
            kAcute, k1h);
    out.Row("head_injury_and_falls/r21_head_injury_clinician_check", h, kReview,
            k1h);
    out.Row("head_injury_and_falls/r21_fall_suspected_fracture",
            And({Yes(fall, u), Yes(FINDING(suspected_fracture), u)}), kAcute,
            k1h);
  }

  // --- 50-age-pregnancy.rules.yaml
  // -----------------------------------------------------

  {
    // children_fever: NICE NG143 traffic light, babies under 3 months, other
    // children.
    const int tl = f.fever_traffic_light();
    out.Row("children_fever/r22_traffic_light_life_threatening",
            OneOf(tl, {v1::FEVER_TRAFFIC_LIGHT_LIFE_THREATENING}, no), kAcute,
            kNow);
    out.Row("children_fever/r22_traffic_light_red",
            OneOf(tl, {v1::FEVER_TRAFFIC_LIGHT_RED}, no),
            v1::PATHWAY_PAEDIATRIC, k2h);
    out.Row("children_fever/r22_traffic_light_amber",
            OneOf(tl, {v1::FEVER_TRAFFIC_LIGHT_AMBER}, no),
            v1::PATHWAY_PAEDIATRIC, k4h);
    out.Row("children_fever/r22_under_3_months_temperature_38",
            And({Lt(months, 3), Ge(temp, 38.0)}), kAcute, kNow);
    out.Row(
        "children_fever/r22_under_5_fever_no_traffic_light",
        And({Lt(age, 5),
             OneOf(problem,
                   {P(FEVER), P(SUSPECTED_INFECTION), P(RESPIRATORY_INFECTION),
                    P(ACUTE_DETERIORATION), P(BREATHING_DIFFICULTY)}),
             Is(tl == 0)}),
        kReview, k1h);
    out.Row("children_fever/r22_child_default",
            And({Lt(age, 16),
                 NoneOf(problem, {P(INFORMATION_REQUEST), P(MENTAL_HEALTH),
                                  P(SELF_HARM), P(SAFEGUARDING),
                                  P(SOCIAL_CARE_NEED), P(PREGNANCY_PROBLEM)})}),
            v1::PATHWAY_PAEDIATRIC, k24h);
  }
  {
    // children_sepsis: NICE NG51 thresholds by age, under 12.
    const T inf = Yes(infection, kUnknownIfMissing);
    struct Band {
      const char* rr_row;
      const char* pulse_row;
      double from, to;  // age in [from, to)
      int rr_min, pulse_min;
    };
    static constexpr Band kBands[] = {
        {"children_sepsis/r22_sepsis_under_1_rr_60",
         "children_sepsis/r22_sepsis_under_1_pulse_160", -1e9, 1, 60, 160},
        {"children_sepsis/r22_sepsis_1_to_2_rr_50",
         "children_sepsis/r22_sepsis_1_to_2_pulse_150", 1, 3, 50, 150},
        {"children_sepsis/r22_sepsis_3_to_4_rr_40",
         "children_sepsis/r22_sepsis_3_to_4_pulse_140", 3, 5, 40, 140},
        {"children_sepsis/r22_sepsis_5_rr_29",
         "children_sepsis/r22_sepsis_5_pulse_130", 5, 6, 29, 130},
        {"children_sepsis/r22_sepsis_6_to_7_rr_27",
         "children_sepsis/r22_sepsis_6_to_7_pulse_120", 6, 8, 27, 120},
        {"children_sepsis/r22_sepsis_8_to_11_rr_25",
         "children_sepsis/r22_sepsis_8_to_11_pulse_115", 8, 12, 25, 115},
    };
    for (const Band& b : kBands) {
      // "5" is the whole number 5; ages are whole years, so [5, 6) is the same.
      const T in_band = b.from < 0           ? Lt(age, b.to)
                        : b.to - b.from == 1 ? EqNum(age, b.from)
                                             : From(age, b.from, b.to);
      out.Row(b.rr_row, And({inf, in_band, Ge(rr, b.rr_min)}), kAcute, kNow);
      out.Row(b.pulse_row, And({inf, in_band, Ge(pulse, b.pulse_min)}), kAcute,
              kNow);
    }
    out.Row("children_sepsis/r22_sepsis_child_pulse_under_60",
            And({inf, Lt(age, 12), Lt(pulse, 60)}), kAcute, kNow);
    out.Row("children_sepsis/r22_sepsis_child_spo2_under_90",
            And({inf, Lt(age, 12), Lt(spo2, 90)}), kAcute, kNow);
  }
  {
    // pregnancy: maternity triage within the hour.
    const T preg = OneOf(f.pregnancy(),
                         {v1::PREGNANCY_STATUS_PREGNANT,
                          v1::PREGNANCY_STATUS_POSTPARTUM_6_WEEKS},
                         no);
    out.Row("pregnancy/r23_pregnant_unwell",
            And({preg,
                 OneOf(problem,
                       {P(ACUTE_DETERIORATION), P(COLLAPSE), P(CHEST_PAIN),
                        P(STROKE_SYMPTOMS), P(BREATHING_DIFFICULTY),
                        P(RESPIRATORY_INFECTION), P(COPD_EXACERBATION),
                        P(SUSPECTED_INFECTION), P(FEVER), P(ALLERGIC_REACTION),
                        P(BLEEDING), P(CONFUSION), P(FALL), P(HEAD_INJURY),
                        P(BACK_PAIN), P(PREGNANCY_PROBLEM)})}),
            v1::PATHWAY_MATERNITY, k1h);
    out.Row("pregnancy/r23_pregnant_observations_taken",
            And({preg, Ge(recorded, 1)}), v1::PATHWAY_MATERNITY, k1h);
    out.Row("pregnancy/r23_pregnancy_problem",
            OneOf(problem, {P(PREGNANCY_PROBLEM)}), v1::PATHWAY_MATERNITY, k1h);
  }

  // --- 60-community.rules.yaml
  // ----------------------------------------------------------

  const Num cfs = f.has_clinical_frailty_scale()
                      ? Exact(f.clinical_frailty_scale())
                      : Num();
  const Flag decline = FINDING(acute_functional_decline);
  const Flag palliative = FINDING(core_palliative_services_available);
  const Flag catheter = FINDING(catheter_blocked_or_bypassing);
  const Flag health_need = FINDING(health_need);
  const Flag at_risk = FINDING(at_risk_of_admission_24h);
  const int mh_risk = f.mental_health_risk();
  {
    // ucr_conditions: how many of the nine UCR conditions are met (a range
    // when some cannot be told).
    const T conditions[] = {
        And({Yes(fall, kUnknownIfMissing), No(head, kUnknownIfMissing),
             No(FINDING(suspected_fracture), kUnknownIfMissing)}),
        OneOf(problem, {P(FRAILTY_DECLINE)}),
        And({Ge(cfs, 5), Yes(decline, no)}),
        OneOf(problem, {P(REDUCED_MOBILITY)}),
        Yes(decline, no),
        And({OneOf(problem, {P(END_OF_LIFE_CARE)}),
             No(palliative, kYesIfMissing)}),
        OneOf(problem, {P(EQUIPMENT_NEED)}),
        OneOf(problem, {P(CONFUSION)}),
        Yes(catheter, no),
        And({OneOf(problem, {P(CATHETER_PROBLEM)}), Is(!catheter.present)}),
        And({OneOf(problem, {P(DIABETES)}),
             No(FINDING(diabetes_reduced_consciousness), kYesIfMissing)}),
        And({OneOf(problem, {P(CARER_BREAKDOWN)}),
             Yes(health_need, kYesIfMissing)}),
        And({Yes(FINDING(carer_unable_to_continue), no),
             Yes(health_need, kYesIfMissing)}),
    };
    int met = 0, maybe = 0;
    for (T t : conditions) {
      met += t == kYes;
      maybe += t == kUnknown;
    }
    const Num ucr_conditions = Range(met, met + maybe);

    // ucr_routing: adults in hours to UCR; out of hours to primary care in 2
    // hours; 16-17 to primary care.
    const T common = And(
        {Ge(ucr_conditions, 1), Yes(at_risk, kYesIfMissing),
         OneOf(mh_risk,
               {v1::MENTAL_HEALTH_RISK_NONE, v1::MENTAL_HEALTH_RISK_NON_URGENT,
                v1::MENTAL_HEALTH_RISK_DETERIORATING},
               kYesIfMissing),
         No(acs, kUnknownIfMissing)});
    out.Row("ucr_routing/r59_ucr_two_hour_response",
            And({common, Ge(age, 18), Yes(ucr_open, kUnknownIfMissing)}),
            v1::PATHWAY_UCR, k2h);
    out.Row("ucr_routing/r60_ucr_closed",
            And({common, Ge(age, 18), No(ucr_open, kUnknownIfMissing)}),
            kPrimary, k2h);
    out.Row("ucr_routing/r24_ucr_need_age_16_to_17",
            And({common, From(age, 16, 18)}), kPrimary, k2h);
  }
  {
    // virtual_ward: stable ARI/COPD, or frailty, with consent.
    const Flag monitoring = FINDING(needs_acute_monitoring);
    const Flag consent = FINDING(consents_to_virtual_ward);
    out.Row(
        "virtual_ward/r65_ari_virtual_ward",
        And({OneOf(problem, {P(RESPIRATORY_INFECTION), P(COPD_EXACERBATION)}),
             Is(applicable), Ge(recorded, 1), Le(news2.total, 4),
             Le(news2.highest, 2), Yes(monitoring, no), Yes(consent, no),
             Yes(at_risk, no)}),
        v1::PATHWAY_VIRTUAL_WARD, k4h);
    out.Row(
        "virtual_ward/r66_frailty_virtual_ward",
        And({Ge(age, 65), Ge(cfs, 5), Yes(monitoring, no), Yes(consent, no)}),
        v1::PATHWAY_VIRTUAL_WARD, k4h);
  }
  {
    // community_nursing: housebound adults; practice nurse otherwise; 16-17.
    const Flag housebound = FINDING(housebound);
    const Pathway kNursing = v1::PATHWAY_COMMUNITY_NURSING;
    const T wound = OneOf(problem, {P(WOUND_CARE), P(POST_DISCHARGE_NURSING)});
    const T cath = OneOf(problem, {P(CATHETER_PROBLEM)});
    const T routine = OneOf(problem, {P(ROUTINE_NURSING)});
    const T eol = OneOf(problem, {P(END_OF_LIFE_CARE)});
    const T adult = Ge(age, 18);
    const T sixteen = Ge(age, 16);
    const T young = From(age, 16, 18);
    const T hb = Yes(housebound, kYesIfMissing);
    const T not_hb = No(housebound, no);
    const T cath_not_urgent = No(catheter, no);
    out.Row("community_nursing/r70_end_of_life_symptom_control",
            And({adult, eol, Yes(palliative, no)}), kNursing, k4h);
    out.Row("community_nursing/r71_wound_or_post_discharge",
            And({adult, wound, hb}), kNursing, k48h);
    out.Row("community_nursing/r71_catheter_not_urgent",
            And({adult, cath, hb, cath_not_urgent}), kNursing, k48h);
    out.Row("community_nursing/r72_routine_nursing", And({adult, routine, hb}),
            kNursing, k2w);
    out.Row("community_nursing/r73_wound_not_housebound",
            And({sixteen, wound, not_hb}), kPrimary, k48h);
    out.Row("community_nursing/r73_catheter_not_housebound",
            And({sixteen, cath, not_hb, cath_not_urgent}), kPrimary, k48h);
    out.Row("community_nursing/r73_routine_not_housebound",
            And({sixteen, routine, not_hb}), kPrimary, k2w);
    out.Row("community_nursing/r24_nursing_age_16_to_17",
            And({young,
                 OneOf(problem, {P(WOUND_CARE), P(POST_DISCHARGE_NURSING),
                                 P(CATHETER_PROBLEM)}),
                 No(catheter, kYesIfMissing)}),
            kPrimary, k48h);
    out.Row("community_nursing/r24_routine_nursing_age_16_to_17",
            And({young, routine}), kPrimary, k2w);
    out.Row("community_nursing/r24_end_of_life_age_16_to_17", And({young, eol}),
            v1::PATHWAY_PALLIATIVE, k4h);
  }

  // --- 70-primary-care.rules.yaml
  // ----------------------------------------------------------

  {
    const T chronic = OneOf(problem, {P(CHRONIC_CONDITION_REVIEW)});
    const T sixteen = Ge(age, 16);
    out.Row("primary_care/r75_chronic_review_no_obs",
            And({chronic, sixteen, EqNum(recorded, 0)}), kPrimary, k2w);
    out.Row("primary_care/r75_chronic_review_news2_0_to_2",
            And({chronic, sixteen, Is(applicable), Ge(recorded, 1),
                 Le(news2.total, 2)}),
            kPrimary, k2w);
    out.Row("primary_care/r76_chronic_review_news2_3_to_4",
            And({chronic, sixteen, Is(applicable), Ge(recorded, 1),
                 Between(news2.total, 3, 4)}),
            kPrimary, k12h);
    out.Row("primary_care/r76_new_acute_problem",
            And({OneOf(problem,
                       {P(ACUTE_DETERIORATION), P(COLLAPSE),
                        P(BREATHING_DIFFICULTY), P(RESPIRATORY_INFECTION),
                        P(COPD_EXACERBATION), P(SUSPECTED_INFECTION), P(FEVER),
                        P(ALLERGIC_REACTION), P(BLEEDING), P(BACK_PAIN),
                        P(CONFUSION), P(FRAILTY_DECLINE), P(DIABETES), P(FALL),
                        P(REDUCED_MOBILITY), P(HEAD_INJURY)}),
                 sixteen}),
            kPrimary, k12h);
    out.Row("primary_care/r76_chest_pain_not_cardiac",
            And({OneOf(problem, {P(CHEST_PAIN)}), sixteen,
                 No(acs, kUnknownIfMissing)}),
            kPrimary, k12h);
    out.Row("primary_care/r77_medication_supply",
            OneOf(problem, {P(MEDICATION_SUPPLY)}), kPrimary, k2h);
    out.Row("primary_care/r78_information_only",
            OneOf(problem, {P(INFORMATION_REQUEST)}), v1::PATHWAY_ADVICE_ONLY,
            v1::URGENCY_NONE);
  }

  // --- 75-mental-health.rules.yaml
  // -----------------------------------------------------------

  {
    const Pathway kCrisis = v1::PATHWAY_MENTAL_HEALTH_CRISIS;
    const Pathway kCommunity = v1::PATHWAY_MENTAL_HEALTH_COMMUNITY;
    out.Row("mental_health/r80_severe_crisis",
            OneOf(mh_risk, {v1::MENTAL_HEALTH_RISK_SEVERE_CRISIS}, no), kCrisis,
            k4h);
    out.Row("mental_health/r80_risk_not_assessed",
            And({OneOf(problem, {P(MENTAL_HEALTH), P(SELF_HARM)}),
                 Is(mh_risk == 0)}),
            kReview, k1h);
    out.Row("mental_health/r81_deteriorating",
            OneOf(mh_risk, {v1::MENTAL_HEALTH_RISK_DETERIORATING}, no), kCrisis,
            k24h);
    out.Row("mental_health/r81_self_harm", OneOf(problem, {P(SELF_HARM)}),
            kCrisis, k24h);
    out.Row("mental_health/r82_non_urgent",
            OneOf(mh_risk, {v1::MENTAL_HEALTH_RISK_NON_URGENT}, no), kCommunity,
            k4w);
    out.Row("mental_health/r82_mental_health_no_current_risk",
            And({OneOf(problem, {P(MENTAL_HEALTH)}),
                 OneOf(mh_risk, {v1::MENTAL_HEALTH_RISK_NONE}, no)}),
            kCommunity, k4w);
  }

  // --- 80-safeguarding-social.rules.yaml
  // ------------------------------------------------------

  out.Row("safeguarding_social/r86_social_care_only", No(health_need, no),
          v1::PATHWAY_SOCIAL_CARE, k48h);
  out.Row("safeguarding_social/r86_social_care_problem",
          And({OneOf(problem, {P(SOCIAL_CARE_NEED)}),
               No(health_need, kYesIfMissing)}),
          v1::PATHWAY_SOCIAL_CARE, k48h);

  // --- 90-data-quality.rules.yaml
  // ---------------------------------------------------------------

  out.Row("data_quality/r01_age_unknown", Is(!age.present), kReview, k1h);
  out.Row(
      "data_quality/r01_contact_route_missing",
      Is(pt.contact_phone().empty() && r.referrer().contact_phone().empty()),
      kReview, k1h);
  out.Row("data_quality/r01_problem_missing", Is(problem == 0), kReview, k1h);
  out.Row("data_quality/r03_acute_problem_without_observations",
          And({OneOf(problem,
                     {P(ACUTE_DETERIORATION), P(COLLAPSE), P(CHEST_PAIN),
                      P(STROKE_SYMPTOMS), P(BREATHING_DIFFICULTY),
                      P(RESPIRATORY_INFECTION), P(COPD_EXACERBATION),
                      P(SUSPECTED_INFECTION), P(FEVER), P(ALLERGIC_REACTION),
                      P(BLEEDING), P(CONFUSION), P(FRAILTY_DECLINE)}),
               EqNum(recorded, 0)}),
          kReview, k1h);
  // R07: a recorded value outside what validation accepts.
  auto outside = [](Num v, double lo, double hi) {
    return Is(v.present && (v.lo < lo || v.lo > hi));
  };
  out.Row("data_quality/r07_rr_impossible", outside(rr, 0, 80), kReview, k1h);
  out.Row("data_quality/r07_spo2_impossible", outside(spo2, 50, 100), kReview,
          k1h);
  out.Row("data_quality/r07_sbp_impossible", outside(sbp, 40, 300), kReview,
          k1h);
  out.Row("data_quality/r07_pulse_impossible", outside(pulse, 20, 250), kReview,
          k1h);
  out.Row("data_quality/r07_temperature_impossible", outside(temp, 30.0, 43.0),
          kReview, k1h);

  {
    // free_text_conflicts: the words mention what the answers do not. The
    // text is searched only when the other conditions leave it mattering.
    const LowerText text(r.free_text());
    auto text_row = [&](const char* id, T others,
                        std::initializer_list<absl::string_view> words) {
      if (others == kNo || text.empty()) return;
      out.Row(id, And({others, TextMentions(text, words)}), kReview, k1h);
    };
    text_row("free_text_conflicts/r04_text_mentions_chest_pain",
             And({NoneOf(problem, {P(CHEST_PAIN)}), No(f_acs, kYesIfMissing)}),
             {"chest pain", "chest tightness", "crushing"});
    text_row("free_text_conflicts/r04_text_mentions_stroke_signs",
             And({NoneOf(problem, {P(STROKE_SYMPTOMS)}),
                  No(FINDING(fast_face_droop), kYesIfMissing),
                  No(FINDING(fast_arm_weakness), kYesIfMissing),
                  No(FINDING(fast_speech_disturbance), kYesIfMissing)}),
             {"face droop", "facial droop", "slurred speech", "arm weakness",
              "fast positive"});
    text_row("free_text_conflicts/r04_text_mentions_anticoagulant",
             No(FINDING(on_anticoagulant), no),
             {"warfarin", "apixaban", "rivaroxaban", "edoxaban", "dabigatran",
              "anticoagul", "blood thinner"});
    text_row("free_text_conflicts/r04_text_mentions_overdose",
             No(FINDING(overdose_taken), kYesIfMissing),
             {"overdose", "took tablets", "taken tablets", "too many tablets"});
    text_row(
        "free_text_conflicts/r04_text_mentions_suicidal",
        OneOf(mh_risk,
              {v1::MENTAL_HEALTH_RISK_NONE, v1::MENTAL_HEALTH_RISK_NON_URGENT},
              kYesIfMissing),
        {"suicid", "kill myself", "end my life", "take my own life"});
  }

  // --- The decision
  // --------------------------------------------------------------------------

  // No outcome: the fallback, clinical review within 4 hours.
  if (!out.any()) out.Set(kReview, k4h);

  // advance_care_plan (override): a plan declining hospital turns an acute
  // outcome into a palliative response within the hour, unless arrest,
  // airway, breathing or stridor is reported.
  const bool acp = f.has_advance_care_plan_declines_hospital() &&
                   f.advance_care_plan_declines_hospital();
  bool overridden = false;
  const int before_override = out.rank();
  if (acp && !f.cardiac_or_respiratory_arrest() && !f.airway_compromise() &&
      !f.not_breathing_normally() && !f.stridor() && out.pathway() == kAcute) {
    if (trace != nullptr) {
      trace->lines.push_back(absl::StrCat(
          "advance_care_plan/r92_acp_declines_hospital: ",
          v1::Pathway_Name(out.pathway()), " ", v1::Urgency_Name(out.urgency()),
          " -> PATHWAY_PALLIATIVE URGENCY_WITHIN_1H"));
    }
    out.Set(v1::PATHWAY_PALLIATIVE, k1h);
    overridden = true;
  }

  HandDecision decision;
  decision.pathway = out.pathway();
  decision.urgency = out.urgency();
  // Missing data: a rule that could not be decided and would have been more
  // urgent than the outcome (than the one an override replaced, after an
  // override) asks for a review. The outcome becomes clinical review within
  // the hour (or sooner) only if that is more urgent than what was decided,
  // and never after an override, which a clinician confirms anyway.
  if (out.unknown_rank() < (overridden ? before_override : out.rank())) {
    decision.missing_data_review = true;
    const Urgency u = std::min(decision.urgency, k1h);
    if (!overridden && Rank(kReview, u) < out.rank()) {
      decision.pathway = kReview;
      decision.urgency = u;
    }
    if (trace != nullptr) {
      trace->lines.push_back(absl::StrCat(
          "missing data: review, outcome ", v1::Pathway_Name(decision.pathway),
          " ", v1::Urgency_Name(decision.urgency)));
    }
  }
  return decision;
}

#undef FINDING
#undef P

}  // namespace frontdoor::bench
