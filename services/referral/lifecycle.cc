#include "services/referral/lifecycle.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "services/common/proto_hash.h"
#include "services/common/proto_time.h"
#include "services/common/records.h"

namespace frontdoor::referral {
namespace {

std::string StatusName(v1::ReferralStatus s) {
  const auto* ev = v1::ReferralStatus_descriptor()->FindValueByNumber(s);
  std::string n = ev ? ev->name() : "UNKNOWN";
  const std::string prefix = "REFERRAL_STATUS_";
  return n.rfind(prefix, 0) == 0 ? n.substr(prefix.size()) : n;
}

absl::Status Require(const std::string& value, const std::string& field) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": is required"));
  if (value.size() > 4000) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": is longer than 4000 characters"));
  }
  return absl::OkStatus();
}

bool Responded(v1::ReferralStatus s) {
  // A redirect is not a response: the new service must still respond within
  // the original target.
  return s == v1::REFERRAL_STATUS_ACCEPTED || s == v1::REFERRAL_STATUS_REJECTED ||
         s == v1::REFERRAL_STATUS_RETURNED_WITH_ADVICE;
}

}  // namespace

std::string SubmissionFingerprint(const v1::SubmitReferralRequest& request,
                                  absl::string_view submitter) {
  v1::SubmitReferralRequest hashed = request;
  hashed.set_submitted_by(std::string(submitter));
  hashed.clear_request_id();
  hashed.mutable_referral()->clear_received_at();
  return Sha256(DeterministicBytes(hashed));
}

v1::ReferralEvent NewEvent(v1::ReferralRecord* record, v1::EventType type, absl::Time now,
                           const std::string& actor) {
  v1::ReferralEvent e;
  e.set_referral_id(record->id());
  e.set_sequence(record->event_count() + 1);
  *e.mutable_at() = ToProtoTime(now);
  e.set_actor(actor);
  e.set_type(type);
  e.set_from_status(record->status());
  e.set_to_status(record->status());
  record->set_event_count(record->event_count() + 1);
  return e;
}

absl::Status ApplyTransition(const v1::TransitionReferralRequest& req, absl::Time now,
                             const std::string& redirect_name, v1::ReferralRecord* record,
                             v1::ReferralEvent* event) {
  if (req.expected_version() != record->version()) {
    return absl::AbortedError(absl::StrCat("expected_version: the referral is at version ",
                                           record->version(), ", not ", req.expected_version(),
                                           "; reload it and try again"));
  }
  const v1::ReferralStatus from = record->status();
  v1::ReferralStatus to;
  v1::EventType type;
  std::string reason;
  absl::Status st;
  auto allowed = [&](std::initializer_list<v1::ReferralStatus> froms) {
    for (auto f : froms) {
      if (f == from) return true;
    }
    return false;
  };
  bool ok = false;
  switch (req.action_case()) {
    case v1::TransitionReferralRequest::kAccept:
      to = v1::REFERRAL_STATUS_ACCEPTED;
      type = v1::EVENT_TYPE_ACCEPTED;
      ok = allowed({v1::REFERRAL_STATUS_TRIAGED, v1::REFERRAL_STATUS_REDIRECTED});
      break;
    case v1::TransitionReferralRequest::kReject:
      to = v1::REFERRAL_STATUS_REJECTED;
      type = v1::EVENT_TYPE_REJECTED;
      st = Require(req.reject().reason(), "reject.reason");
      reason = req.reject().reason();
      ok = allowed({v1::REFERRAL_STATUS_TRIAGED, v1::REFERRAL_STATUS_REDIRECTED});
      break;
    case v1::TransitionReferralRequest::kRedirect:
      to = v1::REFERRAL_STATUS_REDIRECTED;
      type = v1::EVENT_TYPE_REDIRECTED;
      st = Require(req.redirect().service_id(), "redirect.service_id");
      if (st.ok()) st = Require(req.redirect().reason(), "redirect.reason");
      if (st.ok() && req.redirect().service_id() == record->service().service_id()) {
        st = absl::InvalidArgumentError(
            "redirect.service_id: the referral is already with that service");
      }
      reason = req.redirect().reason();
      ok = allowed({v1::REFERRAL_STATUS_TRIAGED, v1::REFERRAL_STATUS_REDIRECTED,
                    v1::REFERRAL_STATUS_ACCEPTED, v1::REFERRAL_STATUS_AWAITING_TRIAGE});
      break;
    case v1::TransitionReferralRequest::kReturnWithAdvice:
      to = v1::REFERRAL_STATUS_RETURNED_WITH_ADVICE;
      type = v1::EVENT_TYPE_RETURNED_WITH_ADVICE;
      st = Require(req.return_with_advice().advice(), "return_with_advice.advice");
      reason = req.return_with_advice().advice();
      ok = allowed({v1::REFERRAL_STATUS_TRIAGED, v1::REFERRAL_STATUS_REDIRECTED});
      break;
    case v1::TransitionReferralRequest::kClose:
      to = v1::REFERRAL_STATUS_CLOSED;
      type = v1::EVENT_TYPE_CLOSED;
      reason = req.close().note();
      ok = allowed({v1::REFERRAL_STATUS_ACCEPTED, v1::REFERRAL_STATUS_REJECTED,
                    v1::REFERRAL_STATUS_RETURNED_WITH_ADVICE});
      break;
    case v1::TransitionReferralRequest::kCancel:
      to = v1::REFERRAL_STATUS_CANCELLED;
      type = v1::EVENT_TYPE_CANCELLED;
      st = Require(req.cancel().reason(), "cancel.reason");
      reason = req.cancel().reason();
      ok = IsActiveReferral(from);
      break;
    default:
      return absl::InvalidArgumentError(
          "action: one of accept, reject, redirect, return_with_advice, close, cancel is required");
  }
  if (!st.ok()) return st;
  if (!ok) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot move a referral from ", StatusName(from), " to ", StatusName(to)));
  }
  *event = NewEvent(record, type, now, req.actor());
  event->set_to_status(to);
  event->set_reason(reason);
  record->set_status(to);
  record->set_status_reason(reason);
  if (type == v1::EVENT_TYPE_REDIRECTED) {
    auto* svc = record->mutable_service();
    svc->set_service_id(req.redirect().service_id());
    svc->set_service_name(redirect_name);
    svc->set_catch_all(false);
    svc->set_explanation(absl::StrCat("redirected by ", req.actor().empty() ? "a user" : req.actor(),
                                      ": ", reason));
    svc->clear_not_chosen();
    event->set_service_id(req.redirect().service_id());
  }
  if (Responded(to) && !record->has_responded_at()) *record->mutable_responded_at() = ToProtoTime(now);
  record->set_version(record->version() + 1);
  *record->mutable_updated_at() = ToProtoTime(now);
  UpdateSla(now, record);
  return absl::OkStatus();
}

absl::Status ApplyOverride(const v1::OverrideTriageRequest& req, absl::Time now,
                           int target_minutes, v1::ReferralRecord* record,
                           v1::ReferralEvent* event) {
  if (req.expected_version() != record->version()) {
    return absl::AbortedError(absl::StrCat("expected_version: the referral is at version ",
                                           record->version(), ", not ", req.expected_version(),
                                           "; reload it and try again"));
  }
  absl::Status st = Require(req.clinician(), "clinician");
  if (st.ok()) st = Require(req.reason(), "reason");
  if (!st.ok()) return st;
  if (req.pathway() == v1::PATHWAY_UNSPECIFIED || !v1::Pathway_IsValid(req.pathway())) {
    return absl::InvalidArgumentError("pathway: is required");
  }
  if (req.urgency() == v1::URGENCY_UNSPECIFIED || !v1::Urgency_IsValid(req.urgency())) {
    return absl::InvalidArgumentError("urgency: is required");
  }
  if (!IsActiveReferral(record->status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot override the triage of a referral that is ", StatusName(record->status())));
  }
  // Larger Urgency numbers are less urgent.
  const bool lowers = req.urgency() > record->urgency();
  const bool safety_critical = record->decision().safety_critical();
  *event = NewEvent(record, v1::EVENT_TYPE_OVERRIDDEN, now, req.clinician());
  event->set_reason(req.reason());
  event->set_pathway(req.pathway());
  event->set_urgency(req.urgency());
  event->set_safety_critical_lowered(lowers && safety_critical);
  record->set_pathway(req.pathway());
  record->set_urgency(req.urgency());
  record->set_overridden(true);
  if (record->status() == v1::REFERRAL_STATUS_AWAITING_TRIAGE) {
    record->set_status(v1::REFERRAL_STATUS_TRIAGED);
    event->set_to_status(v1::REFERRAL_STATUS_TRIAGED);
  }
  if (target_minutes >= 0) {
    *record->mutable_due_at() = ToProtoTime(FromProtoTime(record->received_at()) + absl::Minutes(target_minutes));
  } else {
    record->clear_due_at();
  }
  record->set_version(record->version() + 1);
  *record->mutable_updated_at() = ToProtoTime(now);
  UpdateSla(now, record);
  return absl::OkStatus();
}

}  // namespace frontdoor::referral
