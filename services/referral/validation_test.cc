#include "services/referral/validation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace frontdoor::referral {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1768471200);

v1::SubmitReferralRequest Valid() {
  v1::SubmitReferralRequest r;
  r.set_request_id("req-1");
  auto* ref = r.mutable_referral();
  ref->mutable_patient()->set_nhs_number("9434765919");
  ref->mutable_patient()->mutable_date_of_birth()->set_year(1950);
  ref->mutable_patient()->mutable_date_of_birth()->set_month(3);
  ref->mutable_patient()->mutable_date_of_birth()->set_day(1);
  ref->mutable_referrer()->set_type(v1::REFERRER_TYPE_GP);
  ref->set_problem(v1::PRESENTING_PROBLEM_FALL);
  ref->mutable_observations()->set_pulse(80);
  return r;
}

absl::Status Check(const v1::SubmitReferralRequest& r, std::vector<std::string>* w = nullptr) {
  std::vector<std::string> local;
  return ValidateSubmission(r, kNow, w ? w : &local);
}

TEST(Validation, AcceptsAValidReferral) { EXPECT_TRUE(Check(Valid()).ok()); }

struct Bad {
  const char* name;
  std::function<void(v1::SubmitReferralRequest*)> mutate;
  const char* field;
};

class ValidationBad : public ::testing::TestWithParam<Bad> {};

TEST_P(ValidationBad, NamesTheField) {
  v1::SubmitReferralRequest r = Valid();
  GetParam().mutate(&r);
  absl::Status st = Check(r);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(std::string(st.message()), StartsWith(GetParam().field)) << st;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidationBad,
    ::testing::Values(
        Bad{"NoRequestId", [](auto* r) { r->clear_request_id(); }, "request_id"},
        Bad{"LongRequestId", [](auto* r) { r->set_request_id(std::string(200, 'x')); }, "request_id"},
        Bad{"NoReferral", [](auto* r) { r->clear_referral(); }, "referral"},
        Bad{"NoPatient", [](auto* r) { r->mutable_referral()->clear_patient(); }, "referral.patient"},
        Bad{"UnspecifiedProblem",
            [](auto* r) { r->mutable_referral()->set_problem(v1::PRESENTING_PROBLEM_UNSPECIFIED); },
            "referral.problem"},
        Bad{"UnknownEnumNumber",
            [](auto* r) { r->mutable_referral()->set_problem(static_cast<v1::PresentingProblem>(999)); },
            "referral.problem"},
        Bad{"NoReferrerType", [](auto* r) { r->mutable_referral()->mutable_referrer()->clear_type(); },
            "referral.referrer.type"},
        Bad{"SpO2Of140",
            [](auto* r) { r->mutable_referral()->mutable_observations()->set_spo2_percent(140); },
            "referral.observations.spo2_percent"},
        Bad{"NegativePulse",
            [](auto* r) { r->mutable_referral()->mutable_observations()->set_pulse(-5); },
            "referral.observations.pulse"},
        Bad{"Fahrenheit",
            [](auto* r) { r->mutable_referral()->mutable_observations()->set_temperature_celsius(98.6); },
            "referral.observations.temperature_celsius"},
        Bad{"TwoDecimals",
            [](auto* r) { r->mutable_referral()->mutable_observations()->set_temperature_celsius(37.25); },
            "referral.observations.temperature_celsius"},
        Bad{"FrailtyTen",
            [](auto* r) { r->mutable_referral()->mutable_findings()->set_clinical_frailty_scale(10); },
            "referral.findings.clinical_frailty_scale"},
        Bad{"NhsNumberWithSpaces",
            [](auto* r) { r->mutable_referral()->mutable_patient()->set_nhs_number("943 476 5919"); },
            "referral.patient.nhs_number"},
        Bad{"FutureBirth",
            [](auto* r) { r->mutable_referral()->mutable_patient()->mutable_date_of_birth()->set_year(2030); },
            "referral.patient.date_of_birth"},
        Bad{"February30",
            [](auto* r) {
              auto* d = r->mutable_referral()->mutable_patient()->mutable_date_of_birth();
              d->set_month(2);
              d->set_day(30);
            },
            "referral.patient.date_of_birth"},
        Bad{"HugeFreeText", [](auto* r) { r->mutable_referral()->set_free_text(std::string(30000, 'a')); },
            "referral.free_text"},
        Bad{"BadUtf8", [](auto* r) { r->mutable_referral()->set_free_text("ok \xff\xfe"); },
            "referral.free_text"},
        Bad{"LongPostcode",
            [](auto* r) { r->mutable_referral()->mutable_patient()->set_postcode_district("LS1 4AP"); },
            "referral.patient.postcode_district"}),
    [](const ::testing::TestParamInfo<Bad>& info) { return info.param.name; });

TEST(Validation, BadCheckDigitWarnsButNeverBlocks) {
  v1::SubmitReferralRequest r = Valid();
  r.mutable_referral()->mutable_patient()->set_nhs_number("9434765918");
  std::vector<std::string> warnings;
  EXPECT_TRUE(Check(r, &warnings).ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("Modulus 11"));
}

TEST(Validation, AbsentObservationsAreFine) {
  v1::SubmitReferralRequest r = Valid();
  r.mutable_referral()->clear_observations();
  r.mutable_referral()->mutable_patient()->clear_date_of_birth();
  EXPECT_TRUE(Check(r).ok());
}

}  // namespace
}  // namespace frontdoor::referral
