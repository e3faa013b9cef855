// The default rule set's NEWS2 score against an independent hand-written
// calculator (tests/bench/news2_reference.h), for every value of every
// parameter across its schema range with the others held normal, and for
// every parameter left unrecorded.

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/loader.h"
#include "tests/bench/news2_reference.h"

namespace frontdoor::rules {
namespace {

namespace news2 = ::frontdoor::bench::news2;
using news2::Parameter;

// The rule set under test: FRONTDOOR_RULESET (as scripts/test.sh) or the
// default.
std::string RuleSetDir() {
  const char* env = std::getenv("FRONTDOOR_RULESET");
  return env != nullptr && *env != '\0' ? env : "triage-rules/community-spa";
}

// Which NEWS2 parameter a score component names. The rule set chooses its
// own labels ("respiration_rate", "spo2_scale_2", ...), so they are matched
// by the words they contain.
bool ParameterOf(const std::string& label, Parameter* p) {
  const std::string s = absl::AsciiStrToLower(label);
  if (absl::StrContains(s, "spo2") || absl::StrContains(s, "saturation") ||
      absl::StrContains(s, "sats")) {
    *p = news2::kSpo2;
  } else if (absl::StrContains(s, "resp")) {
    *p = news2::kRespirationRate;
  } else if (absl::StrContains(s, "air") || absl::StrContains(s, "oxygen") ||
             absl::StrContains(s, "o2")) {
    *p = news2::kAirOrOxygen;
  } else if (absl::StrContains(s, "systolic") || absl::StrContains(s, "bp") ||
             absl::StrContains(s, "blood_pressure")) {
    *p = news2::kSystolicBp;
  } else if (absl::StrContains(s, "pulse") || absl::StrContains(s, "heart")) {
    *p = news2::kPulse;
  } else if (absl::StrContains(s, "conscious") ||
             absl::StrContains(s, "acvpu") || absl::StrContains(s, "avpu")) {
    *p = news2::kConsciousness;
  } else if (absl::StrContains(s, "temp")) {
    *p = news2::kTemperature;
  } else {
    return false;
  }
  return true;
}

// An adult (66 at received_at), not pregnant, with normal observations on
// scale 1 and on air.
v1::Referral NormalAdult() {
  v1::Referral r;
  r.set_problem(v1::PRESENTING_PROBLEM_ACUTE_DETERIORATION);
  r.mutable_received_at()->set_seconds(1768471200);  // 2026-01-15T10:00:00Z
  auto* p = r.mutable_patient();
  p->set_nhs_number("9990000018");
  p->mutable_date_of_birth()->set_year(1960);
  p->mutable_date_of_birth()->set_month(5);
  p->mutable_date_of_birth()->set_day(1);
  p->set_sex(v1::SEX_MALE);
  p->set_contact_phone("07700 900123");
  r.mutable_referrer()->set_type(v1::REFERRER_TYPE_GP);
  r.set_free_text("Generally unwell.");
  auto* o = r.mutable_observations();
  o->set_respiratory_rate(16);
  o->set_spo2_percent(97);
  o->set_spo2_scale(v1::SP_O2_SCALE_SCALE_1);
  o->set_hypercapnic_respiratory_failure(false);
  o->set_prescribed_spo2_target_88_92(false);
  o->set_on_supplemental_oxygen(false);
  o->set_systolic_bp(128);
  o->set_pulse(72);
  o->set_consciousness(v1::CONSCIOUSNESS_ALERT);
  o->set_temperature_celsius(37.0);
  o->mutable_taken_at()->set_seconds(1768470600);
  r.mutable_findings()->set_pregnancy(v1::PREGNANCY_STATUS_NOT_PREGNANT);
  return r;
}

// The same, on scale 2 with hypercapnic failure and an 88-92% target
// documented.
v1::Referral Scale2Adult(bool on_oxygen) {
  v1::Referral r = NormalAdult();
  auto* o = r.mutable_observations();
  o->set_spo2_scale(v1::SP_O2_SCALE_SCALE_2);
  o->set_hypercapnic_respiratory_failure(true);
  o->set_prescribed_spo2_target_88_92(true);
  o->set_spo2_percent(90);
  o->set_on_supplemental_oxygen(on_oxygen);
  return r;
}

std::string Json(const v1::Referral& r) {
  std::string s;
  google::protobuf::util::JsonPrintOptions opts;
  (void)google::protobuf::util::MessageToJsonString(r.observations(), &s, opts);
  return s;
}

class News2ExhaustiveTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Diagnostics diags;
    rule_set_ = new std::shared_ptr<const CompiledRuleSet>(
        LoadRuleSet(RuleSetDir(), LoadOptions(), &diags));
    if (*rule_set_ == nullptr) {
      for (const auto& d : diags.items())
        std::cerr << FormatDiagnostic(d) << "\n";
    }
  }
  void SetUp() override {
    ASSERT_NE(*rule_set_, nullptr) << "cannot load " << RuleSetDir();
  }

  // EXPECTs agreement for `r`; false once a test has failed kMaxFailures
  // times (the rest of a sweep would only repeat the same finding).
  static constexpr int kMaxFailures = 10;
  bool Check(const v1::Referral& r, const std::string& what) {
    ::testing::AssertionResult ok = Agrees(r);
    EXPECT_TRUE(ok) << what;
    if (!ok && ++failures_ >= kMaxFailures) {
      ADD_FAILURE() << "stopping this sweep after " << kMaxFailures
                    << " disagreements";
      return false;
    }
    return true;
  }

  const v1::Score* News2Score(const v1::Referral& r) {
    (*rule_set_)->Evaluate(r, &result_);
    (*rule_set_)->ToDecision(result_, &decision_);
    for (const auto& s : decision_.scores()) {
      if (s.name() == "NEWS2") return &s;
    }
    return nullptr;
  }

  // The decision's NEWS2 score for `r` agrees with the reference: value,
  // completeness, and the points of every component.
  ::testing::AssertionResult Agrees(const v1::Referral& r) {
    const news2::Score want = news2::Compute(r.observations());
    const v1::Score* got = News2Score(r);
    if (got == nullptr) {
      return ::testing::AssertionFailure() << "no NEWS2 score for " << Json(r);
    }
    auto fail = [&]() {
      auto f = ::testing::AssertionFailure();
      f << "observations " << Json(r)
        << "\n  engine: " << got->ShortDebugString() << "\n  reference: total "
        << want.total << (want.complete ? "" : " (incomplete)");
      for (int p = 0; p < news2::kParameterCount; ++p) {
        f << ", " << news2::ParameterName(static_cast<Parameter>(p)) << " "
          << want.points[p];
      }
      return f;
    };
    if (got->complete() != want.complete)
      return fail() << "\n  complete differs";
    if (got->value() != want.total) return fail() << "\n  value differs";
    std::map<Parameter, int> seen;
    for (const auto& c : got->components()) {
      Parameter p;
      if (!ParameterOf(c.parameter(), &p)) {
        return fail() << "\n  unknown parameter '" << c.parameter() << "'";
      }
      if (seen.count(p))
        return fail() << "\n  two components for " << news2::ParameterName(p);
      seen[p] = c.points();
      if (want.points[p] < 0) {
        return fail() << "\n  component for unrecorded "
                      << news2::ParameterName(p);
      }
      if (c.points() != want.points[p]) {
        return fail() << "\n  " << news2::ParameterName(p) << " scores "
                      << c.points();
      }
    }
    // A parameter may have no component only if it scores 0 (a rule set need
    // not write rows for 0 points).
    for (int p = 0; p < news2::kParameterCount; ++p) {
      if (want.points[p] > 0 && !seen.count(static_cast<Parameter>(p))) {
        return fail() << "\n  no component for "
                      << news2::ParameterName(static_cast<Parameter>(p));
      }
    }
    return ::testing::AssertionSuccess();
  }

  static std::shared_ptr<const CompiledRuleSet>* rule_set_;
  EvalResult result_;
  v1::TriageDecision decision_;
  int failures_ = 0;
};

std::shared_ptr<const CompiledRuleSet>* News2ExhaustiveTest::rule_set_ =
    nullptr;

TEST_F(News2ExhaustiveTest, NormalAdultScoresZero) {
  const v1::Score* s = News2Score(NormalAdult());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->value(), 0);
  EXPECT_TRUE(s->complete());
  EXPECT_TRUE(Agrees(NormalAdult()));
}

TEST_F(News2ExhaustiveTest, RespirationRate0To80) {
  for (int v = 0; v <= 80; ++v) {
    v1::Referral r = NormalAdult();
    r.mutable_observations()->set_respiratory_rate(v);
    if (!Check(r, absl::StrCat("RR ", v))) return;
  }
}

TEST_F(News2ExhaustiveTest, Spo2Scale1OnAirAndOnOxygen50To100) {
  for (bool o2 : {false, true}) {
    for (int v = 50; v <= 100; ++v) {
      v1::Referral r = NormalAdult();
      r.mutable_observations()->set_on_supplemental_oxygen(o2);
      r.mutable_observations()->set_spo2_percent(v);
      if (!Check(r, absl::StrCat("SpO2 ", v, " scale 1, oxygen ", o2))) return;
    }
  }
}

TEST_F(News2ExhaustiveTest, Spo2Scale2OnAirAndOnOxygen50To100) {
  for (bool o2 : {false, true}) {
    for (int v = 50; v <= 100; ++v) {
      v1::Referral r = Scale2Adult(o2);
      r.mutable_observations()->set_spo2_percent(v);
      if (!Check(r, absl::StrCat("SpO2 ", v, " scale 2, oxygen ", o2))) return;
    }
  }
}

TEST_F(News2ExhaustiveTest, SystolicBp40To300) {
  for (int v = 40; v <= 300; ++v) {
    v1::Referral r = NormalAdult();
    r.mutable_observations()->set_systolic_bp(v);
    if (!Check(r, absl::StrCat("SBP ", v))) return;
  }
}

TEST_F(News2ExhaustiveTest, Pulse20To250) {
  for (int v = 20; v <= 250; ++v) {
    v1::Referral r = NormalAdult();
    r.mutable_observations()->set_pulse(v);
    if (!Check(r, absl::StrCat("pulse ", v))) return;
  }
}

TEST_F(News2ExhaustiveTest, Temperature30To43ByTenths) {
  for (int tenths = 300; tenths <= 430; ++tenths) {
    v1::Referral r = NormalAdult();
    r.mutable_observations()->set_temperature_celsius(tenths / 10.0);
    if (!Check(r, absl::StrCat("temperature ", tenths / 10.0))) return;
  }
}

TEST_F(News2ExhaustiveTest, EachConsciousnessLevel) {
  for (auto c : {v1::CONSCIOUSNESS_ALERT, v1::CONSCIOUSNESS_NEW_CONFUSION,
                 v1::CONSCIOUSNESS_VOICE, v1::CONSCIOUSNESS_PAIN,
                 v1::CONSCIOUSNESS_UNRESPONSIVE}) {
    v1::Referral r = NormalAdult();
    r.mutable_observations()->set_consciousness(c);
    if (!Check(r, v1::Consciousness_Name(c))) return;
  }
}

TEST_F(News2ExhaustiveTest, AirOrOxygen) {
  for (bool o2 : {false, true}) {
    v1::Referral r = NormalAdult();
    r.mutable_observations()->set_on_supplemental_oxygen(o2);
    if (!Check(r, absl::StrCat("oxygen ", o2))) return;
    v1::Referral s = Scale2Adult(o2);
    if (!Check(s, absl::StrCat("scale 2, oxygen ", o2))) return;
  }
}

// The scale follows the documentation, not the box the referrer ticked: scale
// 2 with both criteria documented, scale 1 if either is missing or false.
TEST_F(News2ExhaustiveTest, ScaleFollowsDocumentedCriteria) {
  for (auto recorded : {v1::SP_O2_SCALE_SCALE_1, v1::SP_O2_SCALE_SCALE_2,
                        v1::SP_O2_SCALE_UNSPECIFIED}) {
    for (int hyp = 0; hyp < 3; ++hyp) {  // false, true, not recorded
      for (int target = 0; target < 3; ++target) {
        for (bool o2 : {false, true}) {
          for (int spo2 : {85, 89, 93, 95, 97}) {
            v1::Referral r = NormalAdult();
            auto* o = r.mutable_observations();
            o->set_spo2_scale(recorded);
            o->clear_hypercapnic_respiratory_failure();
            o->clear_prescribed_spo2_target_88_92();
            if (hyp < 2) o->set_hypercapnic_respiratory_failure(hyp == 1);
            if (target < 2) o->set_prescribed_spo2_target_88_92(target == 1);
            o->set_on_supplemental_oxygen(o2);
            o->set_spo2_percent(spo2);
            if (!Check(r,
                       absl::StrCat("recorded ", v1::SpO2Scale_Name(recorded),
                                    ", hypercapnic ", hyp, ", target ", target,
                                    ", oxygen ", o2, ", SpO2 ", spo2))) {
              return;
            }
          }
        }
      }
    }
  }
}

// Clears one parameter's field(s).
void Unrecord(Parameter p, v1::Observations* o) {
  switch (p) {
    case news2::kRespirationRate:
      o->clear_respiratory_rate();
      break;
    case news2::kSpo2:
      o->clear_spo2_percent();
      break;
    case news2::kAirOrOxygen:
      o->clear_on_supplemental_oxygen();
      break;
    case news2::kSystolicBp:
      o->clear_systolic_bp();
      break;
    case news2::kPulse:
      o->clear_pulse();
      break;
    case news2::kConsciousness:
      o->clear_consciousness();
      break;
    case news2::kTemperature:
      o->clear_temperature_celsius();
      break;
    default:
      break;
  }
}

// A missing parameter makes the score incomplete and never counts as 0: the
// value is a lower bound and the highest possible leaves room for that
// parameter's worst points.
TEST_F(News2ExhaustiveTest, MissingParameterIsNeverZero) {
  // Others normal, and others abnormal (so that the lower bound is not 0).
  for (bool abnormal_others : {false, true}) {
    for (int pi = 0; pi < news2::kParameterCount; ++pi) {
      const Parameter p = static_cast<Parameter>(pi);
      v1::Referral r = NormalAdult();
      if (abnormal_others) {
        auto* o = r.mutable_observations();
        o->set_respiratory_rate(22);       // 2
        o->set_spo2_percent(95);           // 1
        o->set_systolic_bp(105);           // 1
        o->set_pulse(95);                  // 1
        o->set_temperature_celsius(38.5);  // 1
      }
      Unrecord(p, r.mutable_observations());
      const std::string what =
          absl::StrCat(news2::ParameterName(p), " unrecorded, others ",
                       abnormal_others ? "abnormal" : "normal");
      const news2::Score want = news2::Compute(r.observations());
      ASSERT_FALSE(want.complete);
      const v1::Score* got = News2Score(r);
      ASSERT_NE(got, nullptr) << what;
      EXPECT_FALSE(got->complete()) << what;
      EXPECT_EQ(got->value(), want.total)
          << what << ": the value is the recorded points";
      EXPECT_GE(got->highest_possible(), got->value() + news2::MaxPoints(p))
          << what;
      for (const auto& c : got->components()) {
        Parameter q;
        if (ParameterOf(c.parameter(), &q)) {
          EXPECT_NE(q, p) << what
                          << ": a component for the unrecorded parameter";
        }
      }
      EXPECT_GT(got->missing_inputs_size(), 0) << what;
      if (!Check(r, what)) return;
    }
  }
}

// With every parameter unrecorded the score is 0 at least and anything up to
// the chart's maximum.
TEST_F(News2ExhaustiveTest, NothingRecorded) {
  v1::Referral r = NormalAdult();
  r.mutable_observations()->Clear();
  const v1::Score* got = News2Score(r);
  ASSERT_NE(got, nullptr);
  EXPECT_FALSE(got->complete());
  EXPECT_EQ(got->value(), 0);
  EXPECT_GE(got->highest_possible(), 20);
}

}  // namespace
}  // namespace frontdoor::rules
