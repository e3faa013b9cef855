#include "tests/bench/corpus.h"

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/common/nhs_number.h"

namespace frontdoor::bench {
namespace {

using v1::Findings;
using v1::Observations;
using v1::PresentingProblem;
using v1::Referral;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

// Draws from the raw output of std::mt19937_64 (whose sequence the standard
// fixes), never through std::*_distribution (whose results it does not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t Next() { return engine_(); }
  // Uniform in [lo, hi].
  int64_t Int(int64_t lo, int64_t hi) {
    const unsigned __int128 span = static_cast<unsigned __int128>(hi - lo) + 1;
    return lo + static_cast<int64_t>(
                    (static_cast<unsigned __int128>(Next()) * span) >> 64);
  }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
  // Index drawn with the given weights.
  template <size_t N>
  int Weighted(const std::array<double, N>& w) {
    double total = 0;
    for (double x : w) total += x;
    double u = Unit() * total;
    for (size_t i = 0; i < N; ++i) {
      if (u < w[i]) return static_cast<int>(i);
      u -= w[i];
    }
    return static_cast<int>(N - 1);
  }
  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[static_cast<size_t>(Int(0, N - 1))];
  }

 private:
  std::mt19937_64 engine_;
};

// An inclusive integer band of one NEWS2 parameter.
struct Band {
  int lo;
  int hi;
  double weight;
};

// Bands follow the RCP NEWS2 chart edges and run on to the ends of the
// schema's ranges; the normal band carries most of the weight.
constexpr std::array<Band, 6> kRespiratoryRate = {{{0, 8, 4},
                                                   {9, 11, 6},
                                                   {12, 20, 60},
                                                   {21, 24, 12},
                                                   {25, 40, 12},
                                                   {41, 80, 3}}};
// Scale 1 edges 91/92, 93/94, 95/96; scale 2 edges 83/84, 85/86, 87/88, 92/93,
// 94/95, 96/97.
constexpr std::array<Band, 9> kSpo2 = {{{50, 83, 3},
                                        {84, 85, 3},
                                        {86, 87, 4},
                                        {88, 91, 8},
                                        {92, 92, 5},
                                        {93, 94, 10},
                                        {95, 96, 20},
                                        {97, 99, 37},
                                        {100, 100, 6}}};
constexpr std::array<Band, 6> kSystolic = {{{40, 70, 2},
                                            {71, 90, 5},
                                            {91, 100, 8},
                                            {101, 110, 12},
                                            {111, 219, 68},
                                            {220, 300, 5}}};
constexpr std::array<Band, 7> kPulse = {{{20, 40, 3},
                                         {41, 50, 6},
                                         {51, 90, 58},
                                         {91, 110, 18},
                                         {111, 130, 9},
                                         {131, 180, 5},
                                         {181, 250, 1}}};
// Tenths of a degree: edges 35.0/35.1, 36.0/36.1, 38.0/38.1, 39.0/39.1.
constexpr std::array<Band, 6> kTemperatureTenths = {{{300, 340, 2},
                                                     {341, 350, 4},
                                                     {351, 360, 10},
                                                     {361, 380, 62},
                                                     {381, 390, 14},
                                                     {391, 430, 8}}};

// A value from one band: for a physiologically stable patient mostly the
// normal (heaviest) band, otherwise a band drawn by weight.
template <size_t N>
int DrawBand(Rng& rng, const std::array<Band, N>& bands, bool stable) {
  std::array<double, N> w;
  size_t normal = 0;
  for (size_t i = 0; i < N; ++i) {
    w[i] = bands[i].weight;
    if (w[i] > w[normal]) normal = i;
  }
  const size_t pick = stable && rng.Chance(0.85)
                          ? normal
                          : static_cast<size_t>(rng.Weighted(w));
  const Band& b = bands[pick];
  // Band edges are where scoring mistakes hide: take one a third of the time.
  if (rng.Chance(0.33)) return rng.Chance(0.5) ? b.lo : b.hi;
  return static_cast<int>(rng.Int(b.lo, b.hi));
}

constexpr int kProblemCount =
    34;  // PRESENTING_PROBLEM_ACUTE_DETERIORATION..OTHER

// Relative frequency of each presenting problem (index = enum value - 1),
// loosely after a community single point of access.
constexpr std::array<double, kProblemCount> kProblemWeights = {
    8,  // ACUTE_DETERIORATION
    3,  // COLLAPSE
    3,  // CHEST_PAIN
    2,  // STROKE_SYMPTOMS
    4,  // BREATHING_DIFFICULTY
    4,  // RESPIRATORY_INFECTION
    3,  // COPD_EXACERBATION
    4,  // SUSPECTED_INFECTION
    3,  // FEVER
    7,  // FALL
    2,  // HEAD_INJURY
    1,  // ALLERGIC_REACTION
    1,  // BLEEDING
    2,  // BACK_PAIN
    4,  // CONFUSION
    4,  // FRAILTY_DECLINE
    3,  // REDUCED_MOBILITY
    2,  // END_OF_LIFE_CARE
    2,  // EQUIPMENT_NEED
    3,  // CATHETER_PROBLEM
    2,  // DIABETES
    2,  // CARER_BREAKDOWN
    4,  // WOUND_CARE
    3,  // POST_DISCHARGE_NURSING
    3,  // ROUTINE_NURSING
    2,  // MEDICATION_SUPPLY
    2,  // CHRONIC_CONDITION_REVIEW
    3,  // MENTAL_HEALTH
    1,  // SELF_HARM
    1,  // SAFEGUARDING
    2,  // SOCIAL_CARE_NEED
    1,  // PREGNANCY_PROBLEM
    1,  // INFORMATION_REQUEST
    2,  // OTHER
};

constexpr std::array<const char*, 24> kPostcodeDistricts = {
    "LS1",  "LS2",  "LS6",  "LS7",  "LS8",  "LS9",  "LS11", "LS12",
    "LS14", "LS15", "LS16", "LS17", "LS18", "LS25", "LS27", "LS28",
    "BD10", "BD3",  "WF3",  "WF10", "HG1",  "YO1",  "M1",   "S1"};

constexpr std::array<const char*, 12> kGeneralTexts = {
    "No chest pain.",
    "Denies chest pain, no breathlessness at rest.",
    "Eating and drinking.",
    "Lives with partner, usually independent.",
    "Known to district nurses.",
    "Family present and worried.",
    "Takes apixaban for atrial fibrillation.",
    "Daughter thinks speech was slurred speech this morning, now back to "
    "normal.",
    "Has said she wants to end my life, per carer.",
    "Possible overdose of paracetamol two days ago, unsure.",
    "On WARFARIN, INR unknown.",
    "Mentioned suicidal thoughts last month."};

// What the referrer said, by problem. Some mention things that the structured
// fields may contradict, as real referrals do.
std::string FreeText(Rng& rng, PresentingProblem p) {
  switch (p) {
    case v1::PRESENTING_PROBLEM_ACUTE_DETERIORATION: {
      constexpr std::array<const char*, 4> t = {
          "Generally unwell for two days, more tired than usual.",
          "Off legs since yesterday, not eating, family concerned.",
          "Worsening over the week, drowsy this afternoon.",
          "Carer reports patient not themselves today."};
      return rng.Pick(t);
    }
    case v1::PRESENTING_PROBLEM_CHEST_PAIN: {
      constexpr std::array<const char*, 4> t = {
          "Central chest pain radiating to left arm, sweaty.",
          "Chest tightness on exertion, settled with rest.",
          "Sharp pain on breathing in, worse on movement.",
          "Crushing chest pain earlier this morning, now settled."};
      return rng.Pick(t);
    }
    case v1::PRESENTING_PROBLEM_FALL: {
      constexpr std::array<const char*, 4> t = {
          "Found on floor by carer, unable to get up unaided.",
          "Slipped in bathroom, needs help up, no obvious injury.",
          "Fall overnight, hit head on door frame.",
          "Tripped on rug, pain in right hip on standing."};
      return rng.Pick(t);
    }
    case v1::PRESENTING_PROBLEM_MENTAL_HEALTH:
    case v1::PRESENTING_PROBLEM_SELF_HARM: {
      constexpr std::array<const char*, 4> t = {
          "Low mood for weeks, not sleeping.",
          "Says they cannot go on, has thought about how.",
          "Took extra tablets last night, unsure how many.",
          "Anxious, requesting support."};
      return rng.Pick(t);
    }
    default:
      break;
  }
  // Now and then words that the structured answers may not match.
  if (rng.Chance(0.1)) return rng.Pick(kGeneralTexts);
  return kGeneralTexts[static_cast<size_t>(rng.Int(0, 5))];
}

// Sets an optional bool: true with p_true, otherwise false unless it is left
// unrecorded (p_unset).
template <typename Setter>
void TriBool(Rng& rng, double p_true, double p_unset, Setter set) {
  double u = rng.Unit();
  if (u < p_true) {
    set(true);
  } else if (u < p_true + p_unset) {
    // not recorded
  } else {
    set(false);
  }
}

struct Context {
  PresentingProblem problem;
  int age_years;
  bool female;
  double unset;  // probability that a finding is not recorded
  bool stable;   // observations mostly in the normal band
};

bool Is(const Context& c, std::initializer_list<PresentingProblem> ps) {
  for (PresentingProblem p : ps) {
    if (c.problem == p) return true;
  }
  return false;
}

void FillObservations(Rng& rng, const Context& c, const CorpusOptions& o,
                      absl::Time received, Observations* obs) {
  const double miss = o.observation_missing;
  if (!rng.Chance(miss))
    obs->set_respiratory_rate(DrawBand(rng, kRespiratoryRate, c.stable));
  const bool copd = c.problem == v1::PRESENTING_PROBLEM_COPD_EXACERBATION ||
                    c.problem == v1::PRESENTING_PROBLEM_BREATHING_DIFFICULTY;
  if (!rng.Chance(miss)) obs->set_spo2_percent(DrawBand(rng, kSpo2, c.stable));
  // Scale: mostly 1; scale 2 more often for COPD; sometimes not stated.
  const double p_scale2 = copd ? 0.35 : 0.06;
  double u = rng.Unit();
  if (u < p_scale2) {
    obs->set_spo2_scale(v1::SP_O2_SCALE_SCALE_2);
    // Documented (both) about 60% of the time; otherwise one or both are
    // false or not recorded.
    if (rng.Chance(0.6)) {
      obs->set_hypercapnic_respiratory_failure(true);
      obs->set_prescribed_spo2_target_88_92(true);
    } else {
      TriBool(rng, 0.5, 0.25,
              [&](bool b) { obs->set_hypercapnic_respiratory_failure(b); });
      TriBool(rng, 0.3, 0.35,
              [&](bool b) { obs->set_prescribed_spo2_target_88_92(b); });
    }
  } else {
    if (u < p_scale2 + miss) {
      // Scale not stated.
    } else {
      obs->set_spo2_scale(v1::SP_O2_SCALE_SCALE_1);
    }
    // Now and then documented, even where the referrer used scale 1.
    if (copd && rng.Chance(0.2)) obs->set_hypercapnic_respiratory_failure(true);
    if (copd && rng.Chance(0.1)) obs->set_prescribed_spo2_target_88_92(true);
    if (!copd && rng.Chance(0.3))
      obs->set_hypercapnic_respiratory_failure(false);
  }
  // Oxygen: on air mostly, on oxygen 15%, not recorded per `miss`.
  TriBool(rng, copd ? 0.3 : 0.12, miss,
          [&](bool b) { obs->set_on_supplemental_oxygen(b); });
  if (!rng.Chance(miss))
    obs->set_systolic_bp(DrawBand(rng, kSystolic, c.stable));
  if (!rng.Chance(miss)) obs->set_pulse(DrawBand(rng, kPulse, c.stable));
  if (!rng.Chance(miss)) {
    const bool confusion = c.problem == v1::PRESENTING_PROBLEM_CONFUSION;
    const std::array<double, 5> w = {confusion ? 50.0 : 86.0,
                                     confusion ? 40.0 : 7.0, 3, 2.5, 1.5};
    obs->set_consciousness(static_cast<v1::Consciousness>(1 + rng.Weighted(w)));
  }
  if (!rng.Chance(miss))
    obs->set_temperature_celsius(DrawBand(rng, kTemperatureTenths, c.stable) /
                                 10.0);
  if (rng.Chance(0.85)) {
    const int64_t secs = absl::ToUnixSeconds(received) - rng.Int(0, 180) * 60;
    obs->mutable_taken_at()->set_seconds(secs);
  }
}

void FillFindings(Rng& rng, const Context& c, Findings* f) {
  const double un = c.unset;
  // Red flags: rare in general (about 1 in 1000 each), commoner where the
  // presenting problem makes them plausible.
  auto red = [&](bool relevant, double p_relevant, auto set) {
    TriBool(rng, relevant ? p_relevant : 0.001, un, set);
  };
  const bool collapse = Is(c, {v1::PRESENTING_PROBLEM_COLLAPSE});
  const bool breathing = Is(c, {v1::PRESENTING_PROBLEM_BREATHING_DIFFICULTY,
                                v1::PRESENTING_PROBLEM_RESPIRATORY_INFECTION,
                                v1::PRESENTING_PROBLEM_COPD_EXACERBATION});
  const bool infection = Is(c, {v1::PRESENTING_PROBLEM_SUSPECTED_INFECTION,
                                v1::PRESENTING_PROBLEM_FEVER,
                                v1::PRESENTING_PROBLEM_RESPIRATORY_INFECTION});
  const bool bleeding = Is(c, {v1::PRESENTING_PROBLEM_BLEEDING});
  const bool allergy = Is(c, {v1::PRESENTING_PROBLEM_ALLERGIC_REACTION});
  const bool fall = Is(c, {v1::PRESENTING_PROBLEM_FALL});
  const bool head = Is(c, {v1::PRESENTING_PROBLEM_HEAD_INJURY});
  const bool mh = Is(c, {v1::PRESENTING_PROBLEM_MENTAL_HEALTH,
                         v1::PRESENTING_PROBLEM_SELF_HARM});

  red(collapse, 0.02, [&](bool b) { f->set_cardiac_or_respiratory_arrest(b); });
  red(collapse || breathing || allergy, 0.03,
      [&](bool b) { f->set_airway_compromise(b); });
  red(collapse || breathing, 0.05,
      [&](bool b) { f->set_not_breathing_normally(b); });
  red(bleeding, 0.08, [&](bool b) { f->set_major_haemorrhage(b); });
  red(bleeding || collapse || infection, 0.04,
      [&](bool b) { f->set_signs_of_shock(b); });

  const bool stroke = Is(c, {v1::PRESENTING_PROBLEM_STROKE_SYMPTOMS});
  red(stroke, 0.25, [&](bool b) { f->set_fast_face_droop(b); });
  red(stroke, 0.25, [&](bool b) { f->set_fast_arm_weakness(b); });
  red(stroke, 0.25, [&](bool b) { f->set_fast_speech_disturbance(b); });

  const bool chest = Is(c, {v1::PRESENTING_PROBLEM_CHEST_PAIN});
  red(chest, 0.45, [&](bool b) { f->set_suspected_acs(b); });
  if (chest ? !rng.Chance(0.1) : rng.Chance(0.02)) {
    f->set_chest_pain_timing(static_cast<v1::ChestPainTiming>(rng.Int(1, 4)));
  }
  if (chest ? !rng.Chance(0.2) : rng.Chance(0.02)) {
    const std::array<double, 3> w = {50, 20, 30};
    f->set_ecg(static_cast<v1::EcgResult>(1 + rng.Weighted(w)));
  }
  red(chest, 0.1, [&](bool b) { f->set_chest_pain_complications(b); });

  // Head injury and falls.
  TriBool(rng,
          head   ? 0.95
          : fall ? 0.2
                 : 0.01,
          un, [&](bool b) { f->set_head_injury(b); });
  TriBool(rng, c.age_years >= 65 ? 0.2 : 0.04, un,
          [&](bool b) { f->set_on_anticoagulant(b); });
  red(head || fall, 0.05,
      [&](bool b) { f->set_head_injury_loss_of_consciousness(b); });
  red(head, 0.05,
      [&](bool b) { f->set_head_injury_vomiting_more_than_once(b); });
  red(head, 0.03, [&](bool b) { f->set_head_injury_seizure(b); });
  TriBool(rng, fall ? 0.95 : 0.03, un, [&](bool b) { f->set_fall(b); });
  red(fall, 0.08, [&](bool b) { f->set_suspected_fracture(b); });

  // Infection and NG51 high-risk criteria.
  TriBool(rng, infection ? 0.8 : 0.06, un,
          [&](bool b) { f->set_suspected_infection(b); });
  red(infection, 0.04, [&](bool b) { f->set_new_altered_mental_state(b); });
  red(infection || breathing, 0.04, [&](bool b) { f->set_new_oxygen_need(b); });
  red(infection, 0.03, [&](bool b) { f->set_no_urine_18h(b); });
  red(infection, 0.03, [&](bool b) { f->set_mottled_or_ashen(b); });
  red(infection || breathing, 0.03, [&](bool b) { f->set_cyanosis(b); });
  red(infection, 0.03, [&](bool b) { f->set_non_blanching_rash(b); });

  // Anaphylaxis.
  red(allergy, 0.15, [&](bool b) { f->set_facial_or_tongue_swelling(b); });
  red(allergy, 0.05, [&](bool b) { f->set_stridor(b); });
  red(allergy || breathing, 0.05,
      [&](bool b) { f->set_unable_to_speak_in_sentences(b); });

  // Cauda equina.
  const bool back = Is(c, {v1::PRESENTING_PROBLEM_BACK_PAIN});
  red(back, 0.06,
      [&](bool b) { f->set_new_urinary_retention_or_incontinence(b); });
  red(back, 0.05, [&](bool b) { f->set_saddle_anaesthesia(b); });

  // Mental health and self-harm.
  const bool self_harm = c.problem == v1::PRESENTING_PROBLEM_SELF_HARM;
  red(self_harm, 0.15, [&](bool b) { f->set_overdose_taken(b); });
  red(self_harm, 0.2, [&](bool b) { f->set_self_harm_with_injury(b); });
  if (mh) {
    const std::array<double, 5> w = {8, 10, 35, 32,
                                     15};  // unset, NONE..SEVERE_CRISIS
    f->set_mental_health_risk(
        static_cast<v1::MentalHealthRisk>(rng.Weighted(w)));
  } else if (!rng.Chance(un + 0.3)) {
    const std::array<double, 4> w = {94, 4, 1.5, 0.5};
    f->set_mental_health_risk(
        static_cast<v1::MentalHealthRisk>(1 + rng.Weighted(w)));
  }

  // Safeguarding.
  const bool sg = Is(c, {v1::PRESENTING_PROBLEM_SAFEGUARDING});
  red(sg, 0.08, [&](bool b) { f->set_immediate_danger_from_others(b); });
  TriBool(rng, sg ? 0.85 : 0.03, un,
          [&](bool b) { f->set_safeguarding_concern(b); });

  // Pregnancy: women 16-50 only (and the pregnancy problem).
  if (c.female && c.age_years >= 16 && c.age_years <= 50) {
    if (c.problem == v1::PRESENTING_PROBLEM_PREGNANCY_PROBLEM) {
      f->set_pregnancy(rng.Chance(0.8)
                           ? v1::PREGNANCY_STATUS_PREGNANT
                           : v1::PREGNANCY_STATUS_POSTPARTUM_6_WEEKS);
    } else {
      const std::array<double, 4> w = {15, 74, 8,
                                       3};  // unset, NOT, PREGNANT, POSTPARTUM
      f->set_pregnancy(static_cast<v1::PregnancyStatus>(rng.Weighted(w)));
    }
  } else if (rng.Chance(0.5)) {
    f->set_pregnancy(v1::PREGNANCY_STATUS_NOT_PREGNANT);
  }
  // Fever traffic light: children under 5.
  if (c.age_years < 5 && !rng.Chance(0.15)) {
    const std::array<double, 4> w = {55, 30, 12, 3};
    f->set_fever_traffic_light(
        static_cast<v1::FeverTrafficLight>(1 + rng.Weighted(w)));
  }

  // Frailty, function and circumstances.
  const bool old = c.age_years >= 65;
  const bool frail_problem =
      Is(c, {v1::PRESENTING_PROBLEM_FRAILTY_DECLINE,
             v1::PRESENTING_PROBLEM_REDUCED_MOBILITY,
             v1::PRESENTING_PROBLEM_CONFUSION, v1::PRESENTING_PROBLEM_FALL});
  if (c.age_years >= 18 && rng.Chance(old ? 0.75 : 0.2)) {
    int lo = old ? 3 : 1, hi = old ? 9 : 5;
    if (frail_problem && old) lo = 4;
    f->set_clinical_frailty_scale(static_cast<int32_t>(rng.Int(lo, hi)));
  }
  TriBool(rng, frail_problem ? 0.6 : 0.08, un,
          [&](bool b) { f->set_acute_functional_decline(b); });
  TriBool(
      rng,
      old ? (c.problem == v1::PRESENTING_PROBLEM_CONFUSION ? 0.5 : 0.12) : 0.0,
      un, [&](bool b) { f->set_baseline_dementia(b); });
  TriBool(rng, old ? 0.35 : 0.05, un, [&](bool b) { f->set_housebound(b); });
  TriBool(rng, old ? 0.35 : 0.15, un, [&](bool b) { f->set_lives_alone(b); });
  TriBool(rng, 0.25, un, [&](bool b) { f->set_at_risk_of_admission_24h(b); });
  const bool eol = c.problem == v1::PRESENTING_PROBLEM_END_OF_LIFE_CARE;
  TriBool(rng,
          eol   ? 0.3
          : old ? 0.04
                : 0.005,
          un, [&](bool b) { f->set_advance_care_plan_declines_hospital(b); });
  TriBool(rng,
          eol   ? 0.9
          : old ? 0.02
                : 0.002,
          un, [&](bool b) { f->set_end_of_life(b); });
  TriBool(rng, 0.6, un + 0.2,
          [&](bool b) { f->set_core_palliative_services_available(b); });
  TriBool(rng, breathing || infection ? 0.3 : 0.1, un,
          [&](bool b) { f->set_needs_acute_monitoring(b); });
  TriBool(rng, 0.5, un + 0.2,
          [&](bool b) { f->set_consents_to_virtual_ward(b); });
  red(c.problem == v1::PRESENTING_PROBLEM_DIABETES, 0.06,
      [&](bool b) { f->set_diabetes_reduced_consciousness(b); });
  TriBool(rng,
          c.problem == v1::PRESENTING_PROBLEM_CATHETER_PROBLEM ? 0.6 : 0.005,
          un, [&](bool b) { f->set_catheter_blocked_or_bypassing(b); });
  TriBool(rng, c.problem == v1::PRESENTING_PROBLEM_CARER_BREAKDOWN ? 0.8 : 0.01,
          un, [&](bool b) { f->set_carer_unable_to_continue(b); });
  const bool social = Is(c, {v1::PRESENTING_PROBLEM_SOCIAL_CARE_NEED,
                             v1::PRESENTING_PROBLEM_CARER_BREAKDOWN});
  // health_need false = social care need only.
  TriBool(rng, social ? 0.35 : 0.93, un,
          [&](bool b) { f->set_health_need(b); });
}

absl::TimeZone London() {
  absl::TimeZone tz;
  if (!absl::LoadTimeZone("Europe/London", &tz)) tz = absl::UTCTimeZone();
  return tz;
}

}  // namespace

std::string TestNhsNumber(uint64_t k) {
  for (uint64_t j = 0;; ++j) {
    const uint64_t six = (k + j) % 1000000;
    std::string n = absl::StrFormat("999%06d", six);
    int sum = 0;
    for (int i = 0; i < 9; ++i) sum += (n[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    if (check == 10) continue;
    n.push_back(static_cast<char>('0' + check));
    if (IsValidNhsNumber(n)) return n;
  }
}

v1::Referral GenerateReferral(uint64_t index, const CorpusOptions& options) {
  static const absl::TimeZone kLondon = London();
  Rng rng(SplitMix64(options.seed ^ SplitMix64(index)));
  Referral r;

  // Problem: the first 34 referrals take every problem in turn; later about
  // 1 in 200 is not coded at all.
  PresentingProblem problem;
  if (index < kProblemCount) {
    problem = static_cast<PresentingProblem>(1 + index);
  } else {
    problem = static_cast<PresentingProblem>(1 + rng.Weighted(kProblemWeights));
    if (rng.Chance(0.005)) problem = v1::PRESENTING_PROBLEM_UNSPECIFIED;
  }
  r.set_problem(problem);

  // When it arrived: a day in 2025-2026 and a local minute of the day,
  // mostly in the daytime, a quarter at night, some on the UCR hour edges.
  const absl::CivilDay day = absl::CivilDay(2025, 1, 1) + rng.Int(0, 729);
  int minute;
  const int when = rng.Weighted(std::array<double, 3>{68, 26, 6});
  if (when == 0) {
    minute = static_cast<int>(rng.Int(8 * 60, 20 * 60 - 1));
  } else if (when == 1) {
    minute = static_cast<int>(rng.Int(20 * 60, 32 * 60 - 1)) % (24 * 60);
  } else {
    constexpr std::array<int, 6> edges = {7 * 60 + 59,  8 * 60,  8 * 60 + 1,
                                          19 * 60 + 59, 20 * 60, 0};
    minute = rng.Pick(edges);
  }
  const absl::CivilSecond local(day.year(), day.month(), day.day(), minute / 60,
                                minute % 60, static_cast<int>(rng.Int(0, 59)));
  const absl::Time received = absl::FromCivil(local, kLondon);
  r.mutable_received_at()->set_seconds(absl::ToUnixSeconds(received));

  // Age: all of 0..100, weighted towards the old, with infants, children and
  // 16-17 year olds on purpose.
  int age_years;
  const int band = rng.Weighted(std::array<double, 7>{4, 5, 7, 3, 22, 30, 29});
  switch (band) {
    case 0:
      age_years = 0;
      break;
    case 1:
      age_years = static_cast<int>(rng.Int(1, 4));
      break;
    case 2:
      age_years = static_cast<int>(rng.Int(5, 15));
      break;
    case 3:
      age_years = static_cast<int>(rng.Int(16, 17));
      break;
    case 4:
      age_years = static_cast<int>(rng.Int(18, 64));
      break;
    case 5:
      age_years = static_cast<int>(rng.Int(65, 84));
      break;
    default:
      age_years = static_cast<int>(rng.Int(85, 100));
      break;
  }
  const absl::CivilDay received_day = absl::ToCivilDay(received, kLondon);
  // A birthday `age_years` years back, then up to a year earlier; infants
  // under 3 months a third of the time; birthdays on the day now and then.
  absl::CivilDay dob(received_day.year() - age_years, received_day.month(),
                     received_day.day());
  int extra_days;
  if (age_years == 0) {
    extra_days = rng.Chance(0.35) ? static_cast<int>(rng.Int(0, 89))
                                  : static_cast<int>(rng.Int(90, 364));
  } else {
    extra_days = rng.Chance(0.03) ? 0 : static_cast<int>(rng.Int(1, 364));
  }
  dob -= extra_days;
  // The age as of received_at (a 29 February birthday rolled to 1 March by
  // CivilDay normalisation may make this one less than age_years).
  int exact_years = received_day.year() - dob.year();
  if (received_day.month() < dob.month() ||
      (received_day.month() == dob.month() && received_day.day() < dob.day())) {
    --exact_years;
  }

  v1::Patient* pt = r.mutable_patient();
  pt->set_nhs_number(TestNhsNumber(rng.Next()));
  // Date of birth missing on a few (stated age usually given then).
  const bool dob_known = !rng.Chance(0.02);
  if (dob_known) {
    pt->mutable_date_of_birth()->set_year(static_cast<int32_t>(dob.year()));
    pt->mutable_date_of_birth()->set_month(dob.month());
    pt->mutable_date_of_birth()->set_day(dob.day());
  }
  if (!dob_known ? rng.Chance(0.8) : rng.Chance(0.5)) {
    int stated = exact_years;
    if (rng.Chance(0.04))
      stated += static_cast<int>(rng.Int(1, 10)) * (rng.Chance(0.5) ? 1 : -1);
    pt->set_stated_age_years(stated < 0 ? 0 : stated);
  }
  bool female;
  if (problem == v1::PRESENTING_PROBLEM_PREGNANCY_PROBLEM) {
    female = true;
    pt->set_sex(v1::SEX_FEMALE);
  } else {
    const int s = rng.Weighted(std::array<double, 5>{3, 50, 45, 0.5, 1.5});
    pt->set_sex(static_cast<v1::Sex>(s));
    female = s == v1::SEX_FEMALE;
  }
  if (problem == v1::PRESENTING_PROBLEM_PREGNANCY_PROBLEM &&
      (age_years < 16 || age_years > 45)) {
    // Re-age to a plausible pregnancy, keeping the draw sequence fixed.
    age_years = 16 + static_cast<int>(rng.Next() % 30);
    dob = absl::CivilDay(received_day.year() - age_years, received_day.month(),
                         received_day.day()) -
          static_cast<int>(rng.Next() % 365);
    if (pt->has_date_of_birth()) {
      pt->mutable_date_of_birth()->set_year(static_cast<int32_t>(dob.year()));
      pt->mutable_date_of_birth()->set_month(dob.month());
      pt->mutable_date_of_birth()->set_day(dob.day());
    }
    exact_years = received_day.year() - dob.year();
    if (received_day.month() < dob.month() ||
        (received_day.month() == dob.month() &&
         received_day.day() < dob.day())) {
      --exact_years;
    }
    if (pt->has_stated_age_years()) pt->set_stated_age_years(exact_years);
  }
  if (!rng.Chance(0.05))
    pt->set_postcode_district(rng.Pick(kPostcodeDistricts));
  // Contact route missing on a few.
  if (!rng.Chance(0.03)) {
    pt->set_contact_phone(
        absl::StrFormat("07700 900%03d", static_cast<int>(rng.Int(0, 999))));
  }

  v1::Referrer* ref = r.mutable_referrer();
  // Every submission names its referrer type (validation requires it).
  ref->set_type(static_cast<v1::ReferrerType>(rng.Int(1, 10)));
  if (ref->type() == v1::REFERRER_TYPE_GP) {
    ref->set_organisation_code(
        absl::StrFormat("B86%03d", static_cast<int>(rng.Int(0, 999))));
  }
  if (!rng.Chance(0.1)) ref->set_name("Referring clinician");
  if (!rng.Chance(0.2)) {
    ref->set_contact_phone(
        absl::StrFormat("0113 496 0%03d", static_cast<int>(rng.Int(0, 999))));
  }
  if (!rng.Chance(0.1)) r.set_free_text(FreeText(rng, problem));

  Context c{problem, exact_years, female, 0.0, false};
  // Most referred patients are physiologically stable.
  c.stable = rng.Chance(0.6);
  // A third of referrers leave many questions unanswered.
  c.unset = rng.Chance(0.33) ? 0.3 : 0.02;
  if (!rng.Chance(options.no_observations)) {
    FillObservations(rng, c, options, received, r.mutable_observations());
  }
  if (!rng.Chance(0.02)) FillFindings(rng, c, r.mutable_findings());
  return r;
}

std::vector<v1::Referral> GenerateCorpus(size_t n,
                                         const CorpusOptions& options) {
  std::vector<v1::Referral> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(GenerateReferral(i, options));
  return out;
}

}  // namespace frontdoor::bench
