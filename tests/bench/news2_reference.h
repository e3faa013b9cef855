// An independent NEWS2 calculator, written by hand from the Royal College of
// Physicians NEWS2 chart (2017), for testing the rule engine's NEWS2 table
// against. It shares no code or data with the rule set.
//
// Points (RCP chart 1):
//   respiration rate  3: <=8      1: 9-11     0: 12-20    2: 21-24  3: >=25
//   SpO2 scale 1      3: <=91     2: 92-93    1: 94-95    0: >=96
//   SpO2 scale 2      3: <=83     2: 84-85    1: 86-87    0: 88-92
//                     0: >=93 on air;  on oxygen 1: 93-94  2: 95-96  3: >=97
//   air or oxygen     2: oxygen   0: air
//   systolic BP       3: <=90     2: 91-100   1: 101-110  0: 111-219 3: >=220
//   pulse             3: <=40     1: 41-50    0: 51-90    1: 91-110
//                     2: 111-130  3: >=131
//   consciousness     0: alert    3: new confusion, voice, pain, unresponsive
//   temperature       3: <=35.0   1: 35.1-36.0  0: 36.1-38.0  1: 38.1-39.0
//                     2: >=39.1
//
// Scale 2 is used only when hypercapnic respiratory failure and a prescribed
// 88-92% target are both documented, whatever scale the referrer wrote down;
// scale 1 for everyone else. Temperature is read to one decimal place.
// A parameter that is not recorded scores nothing: the total is then a lower
// bound and the highest possible total adds that parameter's worst points.

#ifndef FRONTDOOR_TESTS_BENCH_NEWS2_REFERENCE_H_
#define FRONTDOOR_TESTS_BENCH_NEWS2_REFERENCE_H_

#include <array>
#include <string>

#include "frontdoor/v1/referral.pb.h"

namespace frontdoor::bench::news2 {

enum Parameter {
  kRespirationRate,
  kSpo2,
  kAirOrOxygen,
  kSystolicBp,
  kPulse,
  kConsciousness,
  kTemperature,
  kParameterCount
};

// A short English name ("respiration rate"), for messages.
const char* ParameterName(Parameter p);

// The most points one parameter can score (3, or 2 for air or oxygen).
int MaxPoints(Parameter p);

// Points of one parameter.
int RespirationRatePoints(int breaths_per_minute);
int Spo2Scale1Points(int spo2_percent);
int Spo2Scale2Points(int spo2_percent, bool on_oxygen);
int AirOrOxygenPoints(bool on_oxygen);
int SystolicBpPoints(int mmhg);
int PulsePoints(int beats_per_minute);
int ConsciousnessPoints(v1::Consciousness c);  // c must not be UNSPECIFIED
int TemperaturePoints(double celsius);

// Whether scale 2 applies to these observations (see above).
bool UsesScale2(const v1::Observations& obs);

struct Score {
  // Points per parameter; -1 when the parameter could not be scored.
  std::array<int, kParameterCount> points;
  int total = 0;             // sum of the parameters that could be scored
  int highest_possible = 0;  // total + MaxPoints of each one that could not
  bool complete = true;
};

// Scores `obs`. SpO2 on scale 2 at 93% or more needs to know air or oxygen:
// if that is not recorded, SpO2 is unscored too (it could be 0 to 3).
Score Compute(const v1::Observations& obs);

}  // namespace frontdoor::bench::news2

#endif  // FRONTDOOR_TESTS_BENCH_NEWS2_REFERENCE_H_
