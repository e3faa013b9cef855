#include "tests/bench/news2_reference.h"

#include <cmath>

namespace frontdoor::bench::news2 {

const char* ParameterName(Parameter p) {
  switch (p) {
    case kRespirationRate:
      return "respiration rate";
    case kSpo2:
      return "SpO2";
    case kAirOrOxygen:
      return "air or oxygen";
    case kSystolicBp:
      return "systolic BP";
    case kPulse:
      return "pulse";
    case kConsciousness:
      return "consciousness";
    case kTemperature:
      return "temperature";
    default:
      return "?";
  }
}

int MaxPoints(Parameter p) { return p == kAirOrOxygen ? 2 : 3; }

int RespirationRatePoints(int rr) {
  if (rr <= 8) return 3;
  if (rr <= 11) return 1;
  if (rr <= 20) return 0;
  if (rr <= 24) return 2;
  return 3;
}

int Spo2Scale1Points(int s) {
  if (s <= 91) return 3;
  if (s <= 93) return 2;
  if (s <= 95) return 1;
  return 0;
}

int Spo2Scale2Points(int s, bool on_oxygen) {
  if (s <= 83) return 3;
  if (s <= 85) return 2;
  if (s <= 87) return 1;
  if (s <= 92) return 0;
  if (!on_oxygen) return 0;  // 93 or more on air
  if (s <= 94) return 1;
  if (s <= 96) return 2;
  return 3;
}

int AirOrOxygenPoints(bool on_oxygen) { return on_oxygen ? 2 : 0; }

int SystolicBpPoints(int sbp) {
  if (sbp <= 90) return 3;
  if (sbp <= 100) return 2;
  if (sbp <= 110) return 1;
  if (sbp <= 219) return 0;
  return 3;
}

int PulsePoints(int hr) {
  if (hr <= 40) return 3;
  if (hr <= 50) return 1;
  if (hr <= 90) return 0;
  if (hr <= 110) return 1;
  if (hr <= 130) return 2;
  return 3;
}

int ConsciousnessPoints(v1::Consciousness c) {
  return c == v1::CONSCIOUSNESS_ALERT ? 0 : 3;
}

int TemperaturePoints(double celsius) {
  // Whole tenths of a degree, so that 36.0 and 36.1 fall either side of the
  // edge whatever their binary representation.
  const long tenths = std::lround(celsius * 10);
  if (tenths <= 350) return 3;
  if (tenths <= 360) return 1;
  if (tenths <= 380) return 0;
  if (tenths <= 390) return 1;
  return 2;
}

bool UsesScale2(const v1::Observations& obs) {
  return obs.has_hypercapnic_respiratory_failure() &&
         obs.hypercapnic_respiratory_failure() &&
         obs.has_prescribed_spo2_target_88_92() &&
         obs.prescribed_spo2_target_88_92();
}

Score Compute(const v1::Observations& obs) {
  Score s;
  s.points.fill(-1);
  if (obs.has_respiratory_rate()) {
    s.points[kRespirationRate] = RespirationRatePoints(obs.respiratory_rate());
  }
  if (obs.has_spo2_percent()) {
    if (!UsesScale2(obs)) {
      s.points[kSpo2] = Spo2Scale1Points(obs.spo2_percent());
    } else if (obs.has_on_supplemental_oxygen()) {
      s.points[kSpo2] =
          Spo2Scale2Points(obs.spo2_percent(), obs.on_supplemental_oxygen());
    } else if (obs.spo2_percent() <= 92) {
      s.points[kSpo2] =
          Spo2Scale2Points(obs.spo2_percent(), false);  // air or O2 alike
    }
  }
  if (obs.has_on_supplemental_oxygen()) {
    s.points[kAirOrOxygen] = AirOrOxygenPoints(obs.on_supplemental_oxygen());
  }
  if (obs.has_systolic_bp())
    s.points[kSystolicBp] = SystolicBpPoints(obs.systolic_bp());
  if (obs.has_pulse()) s.points[kPulse] = PulsePoints(obs.pulse());
  if (obs.consciousness() != v1::CONSCIOUSNESS_UNSPECIFIED) {
    s.points[kConsciousness] = ConsciousnessPoints(obs.consciousness());
  }
  if (obs.has_temperature_celsius()) {
    s.points[kTemperature] = TemperaturePoints(obs.temperature_celsius());
  }
  for (int p = 0; p < kParameterCount; ++p) {
    if (s.points[p] >= 0) {
      s.total += s.points[p];
      s.highest_possible += s.points[p];
    } else {
      s.complete = false;
      s.highest_possible += MaxPoints(static_cast<Parameter>(p));
    }
  }
  return s;
}

}  // namespace frontdoor::bench::news2
