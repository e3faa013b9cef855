#include "services/referral/lifecycle.h"

#include "services/common/records.h"

#include "gtest/gtest.h"
#include "services/common/proto_time.h"

namespace frontdoor::referral {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1768471200);

v1::ReferralRecord Triaged(int target_minutes = 120) {
  v1::ReferralRecord r;
  r.set_id("0000-0000-000");
  r.set_status(v1::REFERRAL_STATUS_TRIAGED);
  r.set_version(3);
  r.set_event_count(2);
  r.set_pathway(v1::PATHWAY_UCR);
  r.set_urgency(v1::URGENCY_WITHIN_2H);
  *r.mutable_received_at() = ToProtoTime(kT0);
  *r.mutable_due_at() = ToProtoTime(kT0 + absl::Minutes(target_minutes));
  r.mutable_service()->set_service_id("ucr-north");
  return r;
}

v1::TransitionReferralRequest Accept(int64_t version) {
  v1::TransitionReferralRequest t;
  t.set_expected_version(version);
  t.set_actor("handler1");
  t.mutable_accept();
  return t;
}

TEST(Lifecycle, AcceptThenClose) {
  v1::ReferralRecord r = Triaged();
  v1::ReferralEvent e;
  ASSERT_TRUE(ApplyTransition(Accept(3), kT0 + absl::Minutes(10), "", &r, &e).ok());
  EXPECT_EQ(r.status(), v1::REFERRAL_STATUS_ACCEPTED);
  EXPECT_EQ(r.version(), 4);
  EXPECT_EQ(e.sequence(), 3);
  EXPECT_EQ(e.from_status(), v1::REFERRAL_STATUS_TRIAGED);
  EXPECT_EQ(e.to_status(), v1::REFERRAL_STATUS_ACCEPTED);
  EXPECT_EQ(e.actor(), "handler1");
  EXPECT_EQ(r.sla(), v1::SLA_STATE_MET);
  v1::TransitionReferralRequest close;
  close.set_expected_version(4);
  close.mutable_close()->set_note("seen at home");
  ASSERT_TRUE(ApplyTransition(close, kT0 + absl::Hours(5), "", &r, &e).ok());
  EXPECT_EQ(r.status(), v1::REFERRAL_STATUS_CLOSED);
  EXPECT_FALSE(IsActiveReferral(r.status()));
}

TEST(Lifecycle, StaleVersionIsAborted) {
  v1::ReferralRecord r = Triaged();
  v1::ReferralEvent e;
  absl::Status st = ApplyTransition(Accept(2), kT0, "", &r, &e);
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(r.version(), 3);
  EXPECT_EQ(r.status(), v1::REFERRAL_STATUS_TRIAGED);
}

TEST(Lifecycle, IllegalTransitionsAreFailedPrecondition) {
  v1::ReferralRecord r = Triaged();
  r.set_status(v1::REFERRAL_STATUS_CLOSED);
  v1::ReferralEvent e;
  absl::Status st = ApplyTransition(Accept(3), kT0, "", &r, &e);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("CLOSED"), std::string::npos);
  v1::TransitionReferralRequest close;
  close.set_expected_version(3);
  close.mutable_close();
  v1::ReferralRecord t = Triaged();
  EXPECT_EQ(ApplyTransition(close, kT0, "", &t, &e).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Lifecycle, ReasonsAreRequired) {
  v1::ReferralRecord r = Triaged();
  v1::ReferralEvent e;
  v1::TransitionReferralRequest reject;
  reject.set_expected_version(3);
  reject.mutable_reject();
  absl::Status st = ApplyTransition(reject, kT0, "", &r, &e);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message().substr(0, 13), "reject.reason");
  v1::TransitionReferralRequest none;
  none.set_expected_version(3);
  EXPECT_EQ(ApplyTransition(none, kT0, "", &r, &e).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Lifecycle, RedirectChangesServiceButNotTheClock) {
  v1::ReferralRecord r = Triaged();
  v1::ReferralEvent e;
  v1::TransitionReferralRequest t;
  t.set_expected_version(3);
  t.mutable_redirect()->set_service_id("dn-south");
  t.mutable_redirect()->set_reason("housebound; wound care");
  ASSERT_TRUE(ApplyTransition(t, kT0 + absl::Minutes(30), "District nursing south", &r, &e).ok());
  EXPECT_EQ(r.status(), v1::REFERRAL_STATUS_REDIRECTED);
  EXPECT_EQ(r.service().service_id(), "dn-south");
  EXPECT_FALSE(r.has_responded_at());
  EXPECT_EQ(e.service_id(), "dn-south");
  t.set_expected_version(4);
  EXPECT_EQ(ApplyTransition(t, kT0, "", &r, &e).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Lifecycle, SlaWarningsAndBreach) {
  v1::ReferralRecord r = Triaged(100);
  UpdateSla(kT0 + absl::Minutes(10), &r);
  EXPECT_EQ(r.sla(), v1::SLA_STATE_ON_TRACK);
  EXPECT_EQ(FromProtoTime(r.next_sla_check()), kT0 + absl::Minutes(70));
  UpdateSla(kT0 + absl::Minutes(70), &r);
  EXPECT_EQ(r.sla(), v1::SLA_STATE_WARNING_70);
  EXPECT_EQ(FromProtoTime(r.next_sla_check()), kT0 + absl::Minutes(90));
  UpdateSla(kT0 + absl::Minutes(95), &r);
  EXPECT_EQ(r.sla(), v1::SLA_STATE_WARNING_90);
  UpdateSla(kT0 + absl::Minutes(100), &r);
  EXPECT_EQ(r.sla(), v1::SLA_STATE_BREACHED);
  EXPECT_FALSE(r.has_next_sla_check());
  // Accepted late: still breached.
  v1::ReferralEvent e;
  ASSERT_TRUE(ApplyTransition(Accept(3), kT0 + absl::Minutes(130), "", &r, &e).ok());
  EXPECT_EQ(r.sla(), v1::SLA_STATE_BREACHED);
}

TEST(Lifecycle, OverrideNeedsReasonAndMarksSafetyCriticalLowering) {
  v1::ReferralRecord r = Triaged();
  r.set_pathway(v1::PATHWAY_ACUTE);
  r.set_urgency(v1::URGENCY_IMMEDIATE);
  r.mutable_decision()->set_safety_critical(true);
  v1::OverrideTriageRequest o;
  o.set_expected_version(3);
  o.set_clinician("dr.a");
  o.set_pathway(v1::PATHWAY_UCR);
  o.set_urgency(v1::URGENCY_WITHIN_2H);
  v1::ReferralEvent e;
  EXPECT_EQ(ApplyOverride(o, kT0, 120, &r, &e).code(), absl::StatusCode::kInvalidArgument);
  o.set_reason("seen by paramedic on scene; stable");
  ASSERT_TRUE(ApplyOverride(o, kT0, 120, &r, &e).ok());
  EXPECT_TRUE(e.safety_critical_lowered());
  EXPECT_TRUE(r.overridden());
  EXPECT_EQ(r.urgency(), v1::URGENCY_WITHIN_2H);
  EXPECT_EQ(FromProtoTime(r.due_at()), kT0 + absl::Minutes(120));
  // Raising urgency is not a lowering.
  o.set_expected_version(4);
  o.set_urgency(v1::URGENCY_WITHIN_1H);
  ASSERT_TRUE(ApplyOverride(o, kT0, 60, &r, &e).ok());
  EXPECT_FALSE(e.safety_critical_lowered());
}

}  // namespace
}  // namespace frontdoor::referral
