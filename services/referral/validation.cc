#include "services/referral/validation.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/descriptor.h"
#include "services/common/nhs_number.h"
#include "services/common/utf8.h"

namespace frontdoor::referral {
namespace {

absl::Status Bad(const std::string& field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

template <typename E>
absl::Status CheckEnum(const std::string& field, E value,
                       const google::protobuf::EnumDescriptor* d, bool required) {
  if (d->FindValueByNumber(static_cast<int>(value)) == nullptr) {
    return Bad(field, absl::StrCat(static_cast<int>(value), " is not a value of ", d->name()));
  }
  if (required && static_cast<int>(value) == 0) {
    return Bad(field, absl::StrCat("is required (", d->name(), " must not be UNSPECIFIED)"));
  }
  return absl::OkStatus();
}

absl::Status CheckRange(const std::string& field, bool has, double v, double lo, double hi,
                        absl::string_view unit) {
  if (!has) return absl::OkStatus();
  if (!std::isfinite(v) || v < lo || v > hi) {
    return Bad(field, absl::StrCat(v, " is outside ", lo, "..", hi, " ", unit));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateToken(const std::string& value, const std::string& field) {
  if (value.empty()) return Bad(field, "is required");
  if (value.size() > 128) return Bad(field, "is longer than 128 characters");
  for (char c : value) {
    if (c < 0x21 || c > 0x7e) return Bad(field, "must be printable ASCII without spaces");
  }
  return absl::OkStatus();
}

absl::Status ValidateText(const std::string& value, const std::string& field, size_t max) {
  if (value.size() > max) {
    return Bad(field, absl::StrCat("is ", value.size(), " bytes; the limit is ", max));
  }
  if (FindInvalidUtf8(value) != absl::string_view::npos) return Bad(field, "is not valid UTF-8");
  return absl::OkStatus();
}

absl::Status ValidateReferral(const v1::Referral& r, absl::Time now, const std::string& prefix,
                              std::vector<std::string>* warnings) {
  auto path = [&](absl::string_view p) { return absl::StrCat(prefix, p); };
  absl::Status st;
#define FD_CHECK(expr)         \
  do {                         \
    st = (expr);               \
    if (!st.ok()) return st;   \
  } while (0)

  // Patient.
  if (!r.has_patient()) return Bad(path("patient"), "is required");
  const v1::Patient& p = r.patient();
  if (!p.nhs_number().empty()) {
    bool digits = p.nhs_number().size() == 10;
    for (char c : p.nhs_number()) digits = digits && absl::ascii_isdigit(c);
    if (!digits) {
      return Bad(path("patient.nhs_number"), "must be 10 digits without spaces");
    }
    if (!IsValidNhsNumber(p.nhs_number())) {
      warnings->push_back(absl::StrCat(path("patient.nhs_number"),
                                       ": fails the Modulus 11 check; trace on PDS (routing is not delayed)"));
    }
  }
  if (p.has_date_of_birth()) {
    const v1::Date& d = p.date_of_birth();
    absl::CivilDay day(d.year(), d.month(), d.day());
    if (d.year() < 1900 || d.year() > 2100 || day.year() != d.year() || day.month() != d.month() ||
        day.day() != d.day()) {
      return Bad(path("patient.date_of_birth"),
                 absl::StrCat(d.year(), "-", d.month(), "-", d.day(), " is not a valid date"));
    }
    if (absl::FromCivil(day, absl::UTCTimeZone()) > now + absl::Hours(24)) {
      return Bad(path("patient.date_of_birth"), "is in the future");
    }
  }
  FD_CHECK(CheckRange(path("patient.stated_age_years"), p.has_stated_age_years(),
                      p.stated_age_years(), 0, 130, "years"));
  FD_CHECK(CheckEnum(path("patient.sex"), p.sex(), v1::Sex_descriptor(), false));
  if (p.postcode_district().size() > 4) {
    return Bad(path("patient.postcode_district"), "is the outward code only, e.g. LS1 (at most 4 characters)");
  }
  for (char c : p.postcode_district()) {
    if (!absl::ascii_isalnum(c)) return Bad(path("patient.postcode_district"), "must be letters and digits, e.g. LS1");
  }
  FD_CHECK(ValidateText(p.contact_phone(), path("patient.contact_phone"), 32));

  // Referrer.
  if (!r.has_referrer()) return Bad(path("referrer"), "is required");
  FD_CHECK(CheckEnum(path("referrer.type"), r.referrer().type(), v1::ReferrerType_descriptor(), true));
  FD_CHECK(ValidateText(r.referrer().organisation_code(), path("referrer.organisation_code"), 16));
  FD_CHECK(ValidateText(r.referrer().name(), path("referrer.name"), 200));
  FD_CHECK(ValidateText(r.referrer().contact_phone(), path("referrer.contact_phone"), 32));

  FD_CHECK(CheckEnum(path("problem"), r.problem(), v1::PresentingProblem_descriptor(), true));
  FD_CHECK(ValidateText(r.free_text(), path("free_text"), 20000));

  // Observations: physiologically possible values only; absent is fine.
  const v1::Observations& o = r.observations();
  FD_CHECK(CheckRange(path("observations.respiratory_rate"), o.has_respiratory_rate(),
                      o.respiratory_rate(), 0, 80, "breaths/min"));
  FD_CHECK(CheckRange(path("observations.spo2_percent"), o.has_spo2_percent(), o.spo2_percent(),
                      50, 100, "%"));
  FD_CHECK(CheckEnum(path("observations.spo2_scale"), o.spo2_scale(), v1::SpO2Scale_descriptor(), false));
  FD_CHECK(CheckRange(path("observations.systolic_bp"), o.has_systolic_bp(), o.systolic_bp(), 40,
                      300, "mmHg"));
  FD_CHECK(CheckRange(path("observations.pulse"), o.has_pulse(), o.pulse(), 20, 250, "beats/min"));
  FD_CHECK(CheckEnum(path("observations.consciousness"), o.consciousness(),
                     v1::Consciousness_descriptor(), false));
  if (o.has_temperature_celsius()) {
    double t = o.temperature_celsius();
    if (std::isfinite(t) && t >= 86 && t <= 110) {
      return Bad(path("observations.temperature_celsius"),
                 absl::StrCat(t, " looks like Fahrenheit; give degrees Celsius (30.0..43.0)"));
    }
    FD_CHECK(CheckRange(path("observations.temperature_celsius"), true, t, 30, 43, "degrees C"));
    if (std::fabs(t * 10 - std::round(t * 10)) > 1e-6) {
      return Bad(path("observations.temperature_celsius"),
                 absl::StrCat(t, " has more than one decimal place (NEWS2 uses one)"));
    }
  }
  if (o.has_taken_at() && absl::FromUnixSeconds(o.taken_at().seconds()) > now + absl::Minutes(5)) {
    return Bad(path("observations.taken_at"), "is in the future");
  }

  // Findings.
  const v1::Findings& f = r.findings();
  FD_CHECK(CheckEnum(path("findings.chest_pain_timing"), f.chest_pain_timing(),
                     v1::ChestPainTiming_descriptor(), false));
  FD_CHECK(CheckEnum(path("findings.ecg"), f.ecg(), v1::EcgResult_descriptor(), false));
  FD_CHECK(CheckEnum(path("findings.mental_health_risk"), f.mental_health_risk(),
                     v1::MentalHealthRisk_descriptor(), false));
  FD_CHECK(CheckEnum(path("findings.pregnancy"), f.pregnancy(), v1::PregnancyStatus_descriptor(), false));
  FD_CHECK(CheckEnum(path("findings.fever_traffic_light"), f.fever_traffic_light(),
                     v1::FeverTrafficLight_descriptor(), false));
  FD_CHECK(CheckRange(path("findings.clinical_frailty_scale"), f.has_clinical_frailty_scale(),
                      f.clinical_frailty_scale(), 1, 9, "(Rockwood CFS)"));
  if (f.pregnancy() == v1::PREGNANCY_STATUS_PREGNANT || f.pregnancy() == v1::PREGNANCY_STATUS_POSTPARTUM_6_WEEKS) {
    if (p.sex() == v1::SEX_MALE) {
      warnings->push_back(absl::StrCat(path("findings.pregnancy"), ": recorded for a patient recorded as male; check both"));
    }
  }
#undef FD_CHECK
  return absl::OkStatus();
}

absl::Status ValidateSubmission(const v1::SubmitReferralRequest& request, absl::Time now,
                                std::vector<std::string>* warnings) {
  absl::Status st = ValidateToken(request.request_id(), "request_id");
  if (!st.ok()) return st;
  if (!request.has_referral()) return Bad("referral", "is required");
  if (!request.submitted_by().empty()) {
    st = ValidateText(request.submitted_by(), "submitted_by", 200);
    if (!st.ok()) return st;
  }
  return ValidateReferral(request.referral(), now, "referral.", warnings);
}

}  // namespace frontdoor::referral
