#include "tests/bench/corpus.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/common/nhs_number.h"

namespace frontdoor::bench {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr size_t kN = 20000;

const std::vector<v1::Referral>& Corpus() {
  static const auto* corpus = new std::vector<v1::Referral>(GenerateCorpus(kN));
  return *corpus;
}

absl::TimeZone London() {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &tz));
  return tz;
}

TEST(CorpusTest, IsDeterministic) {
  const auto again = GenerateCorpus(500);
  for (size_t i = 0; i < again.size(); ++i) {
    ASSERT_TRUE(MessageDifferencer::Equals(again[i], Corpus()[i])) << i;
    ASSERT_TRUE(MessageDifferencer::Equals(GenerateReferral(i), Corpus()[i]))
        << i;
  }
  CorpusOptions other;
  other.seed = 7;
  int same = 0;
  for (size_t i = 0; i < 500; ++i) {
    same += MessageDifferencer::Equals(GenerateReferral(i, other), Corpus()[i]);
  }
  EXPECT_LT(same, 5);
}

TEST(CorpusTest, TestNhsNumbersAreValidAndInThe999Range) {
  std::set<std::string> distinct;
  for (const auto& r : Corpus()) {
    const std::string& n = r.patient().nhs_number();
    ASSERT_TRUE(IsValidNhsNumber(n)) << n;
    ASSERT_EQ(n.substr(0, 3), "999") << n;
    distinct.insert(n);
  }
  EXPECT_GT(distinct.size(), kN * 9 / 10);
  for (uint64_t k : {0ull, 1ull, 999999ull, 123456789ull}) {
    EXPECT_TRUE(IsValidNhsNumber(TestNhsNumber(k))) << k;
  }
}

TEST(CorpusTest, CoversEveryProblemAndReferrer) {
  std::set<int> problems, referrers;
  for (size_t i = 0; i < 34; ++i) problems.insert(Corpus()[i].problem());
  EXPECT_EQ(problems.size(), 34u);
  for (const auto& r : Corpus()) referrers.insert(r.referrer().type());
  // Every referrer type, and never UNSPECIFIED (the server refuses it).
  EXPECT_EQ(referrers.size(), 10u);
  EXPECT_EQ(referrers.count(v1::REFERRER_TYPE_UNSPECIFIED), 0u);
}

TEST(CorpusTest, CoversAgesAndTimesOfDay) {
  const absl::TimeZone tz = London();
  std::set<int> ages;
  int under_3_months = 0, night = 0, day = 0;
  for (const auto& r : Corpus()) {
    if (!r.patient().has_date_of_birth()) continue;
    const auto& d = r.patient().date_of_birth();
    ASSERT_GE(d.year(), 1900);
    const absl::CivilDay dob(d.year(), d.month(), d.day());
    ASSERT_EQ(dob.month(), d.month()) << "invalid date";
    const absl::CivilSecond local = absl::ToCivilSecond(
        absl::FromUnixSeconds(r.received_at().seconds()), tz);
    const absl::CivilDay today(local);
    ASSERT_LE(dob, today);
    int years = today.year() - dob.year();
    if (today.month() < dob.month() ||
        (today.month() == dob.month() && today.day() < dob.day())) {
      --years;
    }
    ages.insert(years);
    if (today - dob < 90) ++under_3_months;
    if (local.hour() < 8 || local.hour() >= 20) {
      ++night;
    } else {
      ++day;
    }
  }
  for (int a = 0; a <= 100; ++a)
    EXPECT_TRUE(ages.count(a)) << "no patient aged " << a;
  EXPECT_GT(under_3_months, 50);
  EXPECT_GT(night, static_cast<int>(kN / 10));
  EXPECT_GT(day, static_cast<int>(kN / 2));
}

TEST(CorpusTest, ObservationsSpanTheChartWithinTheSchema) {
  std::set<int> rr, spo2, sbp, pulse, temp;
  int with_obs = 0, rr_missing = 0, scale2_documented = 0,
      scale2_undocumented = 0, on_o2 = 0;
  std::set<int> consciousness;
  for (const auto& r : Corpus()) {
    if (!r.has_observations()) continue;
    ++with_obs;
    const auto& o = r.observations();
    if (o.has_respiratory_rate()) {
      ASSERT_GE(o.respiratory_rate(), 0);
      ASSERT_LE(o.respiratory_rate(), 80);
      rr.insert(o.respiratory_rate());
    } else {
      ++rr_missing;
    }
    if (o.has_spo2_percent()) {
      ASSERT_GE(o.spo2_percent(), 50);
      ASSERT_LE(o.spo2_percent(), 100);
      spo2.insert(o.spo2_percent());
    }
    if (o.has_systolic_bp()) {
      ASSERT_GE(o.systolic_bp(), 40);
      ASSERT_LE(o.systolic_bp(), 300);
      sbp.insert(o.systolic_bp());
    }
    if (o.has_pulse()) {
      ASSERT_GE(o.pulse(), 20);
      ASSERT_LE(o.pulse(), 250);
      pulse.insert(o.pulse());
    }
    if (o.has_temperature_celsius()) {
      const double t = o.temperature_celsius();
      ASSERT_GE(t, 30.0);
      ASSERT_LE(t, 43.0);
      const int tenths = static_cast<int>(std::lround(t * 10));
      ASSERT_NEAR(t * 10, tenths, 1e-6) << "one decimal place";
      temp.insert(tenths);
    }
    if (o.spo2_scale() == v1::SP_O2_SCALE_SCALE_2) {
      if (o.hypercapnic_respiratory_failure() &&
          o.prescribed_spo2_target_88_92()) {
        ++scale2_documented;
      } else {
        ++scale2_undocumented;
      }
    }
    on_o2 += o.on_supplemental_oxygen();
    consciousness.insert(o.consciousness());
  }
  // Every chart edge on both sides.
  for (int v : {8, 9, 11, 12, 20, 21, 24, 25, 0, 80})
    EXPECT_TRUE(rr.count(v)) << "RR " << v;
  for (int v : {83, 84, 85, 86, 87, 88, 91, 92, 93, 94, 95, 96, 97, 100, 50}) {
    EXPECT_TRUE(spo2.count(v)) << "SpO2 " << v;
  }
  for (int v : {90, 91, 100, 101, 110, 111, 219, 220, 40, 300})
    EXPECT_TRUE(sbp.count(v)) << v;
  for (int v : {40, 41, 50, 51, 90, 91, 110, 111, 130, 131, 20, 250}) {
    EXPECT_TRUE(pulse.count(v)) << "pulse " << v;
  }
  for (int v : {350, 351, 360, 361, 380, 381, 390, 391, 300, 430}) {
    EXPECT_TRUE(temp.count(v)) << "temperature " << v / 10.0;
  }
  EXPECT_EQ(consciousness.size(), 6u);  // unspecified + ACVPU
  EXPECT_GT(scale2_documented, 100);
  EXPECT_GT(scale2_undocumented, 100);
  EXPECT_GT(on_o2, static_cast<int>(kN / 20));
  const double missing = static_cast<double>(rr_missing) / with_obs;
  EXPECT_GT(missing, 0.10);
  EXPECT_LT(missing, 0.20);
  EXPECT_GT(with_obs, static_cast<int>(kN * 9 / 10));
}

TEST(CorpusTest, RedFlagsAreRareButPresent) {
  int any = 0, pregnant = 0, severe_mh = 0, safeguarding = 0, frail = 0;
  for (const auto& r : Corpus()) {
    const auto& f = r.findings();
    const bool red = f.cardiac_or_respiratory_arrest() ||
                     f.airway_compromise() || f.not_breathing_normally() ||
                     f.major_haemorrhage() || f.signs_of_shock() ||
                     f.fast_face_droop() || f.fast_arm_weakness() ||
                     f.fast_speech_disturbance() || f.stridor() ||
                     f.facial_or_tongue_swelling() || f.saddle_anaesthesia() ||
                     f.overdose_taken() || f.immediate_danger_from_others() ||
                     f.non_blanching_rash() || f.cyanosis();
    any += red;
    pregnant += f.pregnancy() == v1::PREGNANCY_STATUS_PREGNANT;
    severe_mh += f.mental_health_risk() == v1::MENTAL_HEALTH_RISK_SEVERE_CRISIS;
    safeguarding += f.safeguarding_concern();
    frail += f.clinical_frailty_scale() >= 5;
  }
  std::printf("red flags on %.1f%% of referrals\n", 100.0 * any / kN);
  EXPECT_GT(any, static_cast<int>(kN / 100));
  EXPECT_LT(any, static_cast<int>(kN / 5));
  EXPECT_GT(pregnant, 50);
  EXPECT_GT(severe_mh, 50);
  EXPECT_GT(safeguarding, 100);
  EXPECT_GT(frail, 1000);
}

}  // namespace
}  // namespace frontdoor::bench
