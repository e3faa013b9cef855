#include "services/referral/page_token.h"

#include "frontdoor/v1/referral_service.pb.h"
#include "gtest/gtest.h"

namespace frontdoor::referral {
namespace {

TEST(PageToken, RoundTripsForTheSameQuery) {
  v1::ListReferralsRequest q;
  q.set_pathway(v1::PATHWAY_UCR);
  std::string token = EncodePageToken(q, std::string("pos\0ition", 9));
  auto pos = DecodePageToken(q, token);
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(*pos, std::string("pos\0ition", 9));
  EXPECT_EQ(EncodePageToken(q, ""), "");
  EXPECT_EQ(*DecodePageToken(q, ""), "");
}

TEST(PageToken, RefusesAnotherQuerysToken) {
  v1::ListReferralsRequest a, b;
  a.set_pathway(v1::PATHWAY_UCR);
  b.set_pathway(v1::PATHWAY_ACUTE);
  std::string token = EncodePageToken(a, "key1");
  EXPECT_EQ(DecodePageToken(b, token).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PageToken, RefusesForgedTokens) {
  v1::ListReferralsRequest q;
  EXPECT_EQ(DecodePageToken(q, "not base64 !!").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken(q, "AAAA").status().code(), absl::StatusCode::kInvalidArgument);
  std::string token = EncodePageToken(q, "key1");
  token[token.size() - 2] = token[token.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(DecodePageToken(q, token).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace frontdoor::referral
