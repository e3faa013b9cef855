#ifndef FRONTDOOR_SERVICES_REFERRAL_LIFECYCLE_H_
#define FRONTDOOR_SERVICES_REFERRAL_LIFECYCLE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "frontdoor/v1/referral_service.pb.h"

namespace frontdoor::referral {

// The referral state machine and the records and events it produces. Pure
// functions: no I/O, no clock of their own.

// The idempotency fingerprint of a submission: SHA-256 of what the client
// sent, with `submitter` (the authenticated caller) as its submitted_by and
// without its request_id and the server-set received_at. Anything that
// writes submissions directly (bulk loaders) must use this too.
std::string SubmissionFingerprint(const v1::SubmitReferralRequest& request,
                                  absl::string_view submitter);

// Applies a transition request to `record` at `now`: checks the version
// (ABORTED when stale), the transition (FAILED_PRECONDITION naming both
// states), the required reason fields (INVALID_ARGUMENT with the field path),
// and fills `event` (its sequence is the record's next). `redirect_name` is
// the target service's name for a redirect. On success `record` holds the
// new state with its version incremented.
absl::Status ApplyTransition(const v1::TransitionReferralRequest& request, absl::Time now,
                             const std::string& redirect_name, v1::ReferralRecord* record,
                             v1::ReferralEvent* event);

// A clinician's override of the triage outcome. Lowering a safety-critical
// decision's urgency is allowed with a reason but marked in the event
// (safety_critical_lowered) for audit. `target_minutes` is the new urgency's
// target time from the rule set (-1 none).
absl::Status ApplyOverride(const v1::OverrideTriageRequest& request, absl::Time now,
                           int target_minutes, v1::ReferralRecord* record,
                           v1::ReferralEvent* event);

// The SLA state of `record` at `now`, and when it must next be checked
// (unset when nothing is left to check).
void UpdateSla(absl::Time now, v1::ReferralRecord* record);

// Starts an event for `record` (sequence = event_count + 1) and counts it.
v1::ReferralEvent NewEvent(v1::ReferralRecord* record, v1::EventType type, absl::Time now,
                           const std::string& actor);

}  // namespace frontdoor::referral

#endif  // FRONTDOOR_SERVICES_REFERRAL_LIFECYCLE_H_
