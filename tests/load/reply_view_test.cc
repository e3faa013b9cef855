// The load tool's reply views must read the same fields as the real replies:
// a real reply, serialized, is parsed as its view.

#include <string>

#include "frontdoor/v1/referral_service.pb.h"
#include "gtest/gtest.h"
#include "tests/bench/corpus.h"
#include "tests/load/reply_view.pb.h"

namespace frontdoor::load {
namespace {

// A record as the server returns it: every part set, so the fields the view
// skips surround the ones it reads.
v1::ReferralRecord FullRecord() {
  v1::ReferralRecord r;
  r.set_id("FD7K2M9Q4X");
  *r.mutable_referral() = bench::GenerateReferral(7);
  r.set_status(v1::REFERRAL_STATUS_ACCEPTED);
  r.mutable_decision()->set_rule_set_version(std::string(64, 'a'));
  r.mutable_decision()->add_fired()->set_row("r30_news2_5_or_more");
  r.set_pathway(v1::PATHWAY_UCR);
  r.mutable_service()->set_service_id("ucr-north");
  r.mutable_received_at()->set_seconds(1795000000);
  r.set_version(4);
  r.set_request_id("req-1");
  r.set_submitted_by("dr-a");
  r.add_linked_referrals("FD0000000A");
  r.set_status_reason("seen today");
  return r;
}

TEST(ReplyViewTest, ARecordIsReadAsItsView) {
  const v1::ReferralRecord record = FullRecord();
  load_view::ReferralRecordView view;
  ASSERT_TRUE(view.ParseFromString(record.SerializeAsString()));
  EXPECT_EQ(view.id(), record.id());
  EXPECT_EQ(view.status(), record.status());
}

TEST(ReplyViewTest, ASubmitReplyIsReadAsItsView) {
  for (bool replayed : {false, true}) {
    v1::SubmitReferralResponse reply;
    *reply.mutable_record() = FullRecord();
    reply.set_replayed(replayed);
    reply.add_warnings("nhs_number: check digit does not match");
    load_view::SubmitReferralResponseView view;
    ASSERT_TRUE(view.ParseFromString(reply.SerializeAsString()));
    EXPECT_EQ(view.record().id(), reply.record().id());
    EXPECT_EQ(view.record().status(), v1::REFERRAL_STATUS_ACCEPTED);
    EXPECT_EQ(view.replayed(), replayed);
  }
}

}  // namespace
}  // namespace frontdoor::load
