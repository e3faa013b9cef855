#ifndef FRONTDOOR_SERVICES_REFERRAL_VALIDATION_H_
#define FRONTDOOR_SERVICES_REFERRAL_VALIDATION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "frontdoor/v1/referral_service.pb.h"

namespace frontdoor::referral {

// Checks a submission before anything is stored. Returns INVALID_ARGUMENT
// naming the first bad field by its path ("referral.observations.spo2_percent:
// 140 is outside 50..100"). Problems that must never block routing (an NHS
// number whose check digit fails) are appended to `warnings` instead.
absl::Status ValidateSubmission(const v1::SubmitReferralRequest& request, absl::Time now,
                                std::vector<std::string>* warnings);

// Checks the referral itself; `prefix` is prepended to field paths.
absl::Status ValidateReferral(const v1::Referral& referral, absl::Time now,
                              const std::string& prefix, std::vector<std::string>* warnings);

// A request id or actor name: 1..128 printable ASCII characters.
absl::Status ValidateToken(const std::string& value, const std::string& field);

// Free text fields: at most `max` bytes of valid UTF-8.
absl::Status ValidateText(const std::string& value, const std::string& field, size_t max);

}  // namespace frontdoor::referral

#endif  // FRONTDOOR_SERVICES_REFERRAL_VALIDATION_H_
