#ifndef FRONTDOOR_SERVICES_REFERRAL_LIFECYCLE_H_
#define FRONTDOOR_SERVICES_REFERRAL_LIFECYCLE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "frontdoor/v1/referral_service.pb.h"
#include "services/common/proto_time.h"
#include "services/common/records.h"

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
// (unset when nothing is left to check). Writes those two fields (sla,
// next_sla_check) and no other: GetReferral relies on it. Record is
// v1::ReferralRecord or internal::ReferralRecordView
// (protos/frontdoor/internal/record_view.proto), which has every field this
// reads and writes, under the same names.
template <typename Record>
void UpdateSla(absl::Time now, Record* record) {
  if (!record->has_due_at()) {
    record->set_sla(v1::SLA_STATE_NO_TARGET);
    record->clear_next_sla_check();
    return;
  }
  const absl::Time received = FromProtoTime(record->received_at());
  const absl::Time due = FromProtoTime(record->due_at());
  if (record->has_responded_at()) {
    // Once a service has responded the target is met or it was breached.
    record->set_sla(FromProtoTime(record->responded_at()) <= due
                        ? v1::SLA_STATE_MET
                        : v1::SLA_STATE_BREACHED);
    record->clear_next_sla_check();
    return;
  }
  if (!IsActiveReferral(record->status())) {
    record->clear_next_sla_check();
    return;
  }
  const absl::Duration target = due - received;
  const absl::Time warn70 = received + target * 0.7;
  const absl::Time warn90 = received + target * 0.9;
  if (now >= due) {
    record->set_sla(v1::SLA_STATE_BREACHED);
    record->clear_next_sla_check();
  } else if (now >= warn90) {
    record->set_sla(v1::SLA_STATE_WARNING_90);
    *record->mutable_next_sla_check() = ToProtoTime(due);
  } else if (now >= warn70) {
    record->set_sla(v1::SLA_STATE_WARNING_70);
    *record->mutable_next_sla_check() = ToProtoTime(warn90);
  } else {
    record->set_sla(v1::SLA_STATE_ON_TRACK);
    *record->mutable_next_sla_check() = ToProtoTime(warn70);
  }
}

// Starts an event for `record` (sequence = event_count + 1) and counts it.
v1::ReferralEvent NewEvent(v1::ReferralRecord* record, v1::EventType type, absl::Time now,
                           const std::string& actor);

}  // namespace frontdoor::referral

#endif  // FRONTDOOR_SERVICES_REFERRAL_LIFECYCLE_H_
