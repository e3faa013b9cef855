#include "services/common/records.h"

namespace frontdoor {

bool IsActiveReferral(v1::ReferralStatus status) {
  switch (status) {
    case v1::REFERRAL_STATUS_RECEIVED:
    case v1::REFERRAL_STATUS_AWAITING_TRIAGE:
    case v1::REFERRAL_STATUS_TRIAGED:
    case v1::REFERRAL_STATUS_ACCEPTED:
    case v1::REFERRAL_STATUS_REDIRECTED:
      return true;
    default:
      return false;
  }
}

v1::WorklistEntry MakeWorklistEntry(const v1::ReferralRecord& r) {
  v1::WorklistEntry e;
  e.set_id(r.id());
  e.set_status(r.status());
  e.set_pathway(r.pathway());
  e.set_urgency(r.urgency());
  e.set_service_id(r.service().service_id());
  *e.mutable_received_at() = r.received_at();
  if (r.has_due_at()) *e.mutable_due_at() = r.due_at();
  e.set_sla(r.sla());
  e.set_problem(r.referral().problem());
  e.set_version(r.version());
  e.set_missing_data_review(r.decision().could_escalate_size() > 0);
  return e;
}

}  // namespace frontdoor
