#include "services/common/arena_allocator.h"

#include <string>

#include "frontdoor/v1/referral_service.pb.h"
#include "gtest/gtest.h"

namespace frontdoor {
namespace {

using Allocator = ArenaMessageAllocator<v1::SubmitReferralRequest,
                                        v1::SubmitReferralResponse>;

TEST(ArenaMessageAllocatorTest, RequestAndResponseShareOneArenaPerCall) {
  Allocator allocator;
  grpc::MessageHolder<v1::SubmitReferralRequest, v1::SubmitReferralResponse>*
      first = allocator.AllocateMessages();
  grpc::MessageHolder<v1::SubmitReferralRequest, v1::SubmitReferralResponse>*
      second = allocator.AllocateMessages();
  ASSERT_NE(first->request()->GetArena(), nullptr);
  EXPECT_EQ(first->request()->GetArena(), first->response()->GetArena());
  EXPECT_NE(first->request()->GetArena(), second->request()->GetArena());
  // A tree built on the response, and a copy of it into a message on the
  // heap, which outlives the call.
  v1::ReferralRecord* record = first->response()->mutable_record();
  EXPECT_EQ(record->GetArena(), first->response()->GetArena());
  record->set_id("K3M7-9Q2D-X8A");
  for (int i = 0; i < 50; ++i) {
    record->mutable_decision()->add_fired()->set_table("t" + std::to_string(i));
  }
  v1::ReferralRecord kept = *record;
  first->Release();
  second->Release();
  EXPECT_EQ(kept.id(), "K3M7-9Q2D-X8A");
  ASSERT_EQ(kept.decision().fired_size(), 50);
  EXPECT_EQ(kept.decision().fired(49).table(), "t49");
}

}  // namespace
}  // namespace frontdoor
