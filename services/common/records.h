#ifndef FRONTDOOR_SERVICES_COMMON_RECORDS_H_
#define FRONTDOOR_SERVICES_COMMON_RECORDS_H_

#include "frontdoor/v1/referral_service.pb.h"

namespace frontdoor {

// Facts about stored referral records shared by the store (which indexes
// them) and the referral service (which changes them).

// Whether a referral in `status` is still waiting for or receiving care and
// so belongs on worklists: RECEIVED, AWAITING_TRIAGE, TRIAGED, ACCEPTED,
// REDIRECTED.
bool IsActiveReferral(v1::ReferralStatus status);

// The worklist entry for `record` as of its last write (time to breach and
// the live SLA state are the reader's to compute).
v1::WorklistEntry MakeWorklistEntry(const v1::ReferralRecord& record);

}  // namespace frontdoor

#endif  // FRONTDOOR_SERVICES_COMMON_RECORDS_H_
