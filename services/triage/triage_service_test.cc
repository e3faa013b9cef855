#include "services/triage/triage_service.h"

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "frontdoor/v1/triage_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/auth/test_identities.h"
#include "services/common/clock.h"
#include "services/common/example_referrals.h"
#include "services/common/grpc_status.h"
#include "services/common/metrics.h"
#include "services/common/temp_dir.h"
#include "services/common/test_util.h"
#include "services/triage/engine/explain.h"
#include "services/triage/engine/loader.h"

namespace frontdoor::triage {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kDefaultRules[] = "triage-rules/community-spa";
constexpr char kMiniRules[] = "services/triage/engine/testdata/mini";

RuleSetHolder::RuleSetPtr Load(const std::string& dir) {
  rules::Diagnostics diags;
  return rules::LoadRuleSet(dir, rules::LoadOptions(), &diags);
}

class TriageServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RuleSetHolder::RuleSetPtr rs = Load(kDefaultRules);
    if (rs == nullptr)
      rs = Load(kMiniRules);  // the default set may be mid-edit
    ASSERT_NE(rs, nullptr);
    holder_ = std::make_unique<RuleSetHolder>(rs);
    service_ = std::make_unique<TriageServiceImpl>(
        holder_.get(), &clock_, &metrics_, ids_.authorizer());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    address_ = absl::StrCat("127.0.0.1:", port);
    stub_ =
        v1::TriageService::NewStub(ids_.Channel(address_, v1::ROLE_SERVICE));
    example_ = frontdoor::testing::ReadExampleReferral();
  }
  frontdoor::testing::TempDir ids_dir_;
  frontdoor::testing::TestIdentities ids_ =
      frontdoor::testing::TestIdentities::Create(ids_dir_.path());
  std::string address_;
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  absl::Status Triage(const v1::Referral& r, v1::TriageDecision* d) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    v1::TriageRequest req;
    *req.mutable_referral() = r;
    return FromGrpcStatus(stub_->Triage(&ctx, req, d));
  }
  absl::Status Batch(const v1::TriageBatchRequest& req,
                     v1::TriageBatchResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    return FromGrpcStatus(stub_->TriageBatch(&ctx, req, resp));
  }

  FakeClock clock_{absl::FromUnixSeconds(1798761600)};  // 2027-01-01T00:00:00Z
  Metrics metrics_;
  std::unique_ptr<RuleSetHolder> holder_;
  std::unique_ptr<TriageServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::TriageService::Stub> stub_;
  v1::Referral example_;
};

TEST_F(TriageServiceTest, TriageReturnsTheEngineDecision) {
  v1::TriageDecision got;
  ASSERT_THAT(Triage(example_, &got), IsOk());
  const v1::TriageDecision want = holder_->Get()->Triage(example_);
  EXPECT_TRUE(MessageDifferencer::Equals(got, want)) << got.DebugString();
  EXPECT_EQ(got.rule_set_version(), holder_->Get()->version());
  EXPECT_NE(got.pathway(), v1::PATHWAY_UNSPECIFIED);
  EXPECT_EQ(metrics_.Value("frontdoor_triage_decisions_total",
                           {rules::PathwayName(got.pathway()),
                            rules::UrgencyName(got.urgency())}),
            1);
}

TEST_F(TriageServiceTest, MissingReferralIsInvalidArgument) {
  grpc::ClientContext ctx;
  v1::TriageDecision d;
  grpc::Status s = stub_->Triage(&ctx, v1::TriageRequest(), &d);
  EXPECT_THAT(FromGrpcStatus(s), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s.error_message(), HasSubstr("referral: is required"));
}

TEST_F(TriageServiceTest, InvalidReferralNamesTheField) {
  v1::Referral bad = example_;
  bad.mutable_observations()->set_spo2_percent(140);
  v1::TriageDecision d;
  absl::Status s = Triage(bad, &d);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("referral.observations.spo2_percent"));
}

TEST_F(TriageServiceTest, ReferralWithoutReceivedAtIsTriagedAsReceivedNow) {
  v1::Referral r = example_;
  r.clear_received_at();
  v1::TriageDecision got;
  ASSERT_THAT(Triage(r, &got), IsOk());
  r.mutable_received_at()->set_seconds(absl::ToUnixSeconds(clock_.Now()));
  EXPECT_TRUE(MessageDifferencer::Equals(got, holder_->Get()->Triage(r)));
}

// The in-process path ReferralService takes: the same decision as the
// Triage RPC, counted in the same metric and shown to the same tap, with no
// RPC at all; evaluation state reused across a rule set swap.
TEST_F(TriageServiceTest, DecideValidatedIsTriageWithoutTheRpc) {
  std::vector<std::pair<v1::Referral, v1::TriageDecision>> tapped;
  absl::Mutex mu;
  service_->SetDecisionTap(std::make_shared<const TriageServiceImpl::DecisionTap>(
      [&](const v1::Referral& r, const v1::TriageDecision& d) {
        absl::MutexLock lock(&mu);
        tapped.emplace_back(r, d);
      }));
  v1::TriageDecision direct;
  service_->DecideValidated(example_, &direct);
  const v1::TriageDecision want = holder_->Get()->Triage(example_);
  EXPECT_TRUE(MessageDifferencer::Equals(direct, want)) << direct.DebugString();
  v1::TriageDecision over_rpc;
  ASSERT_THAT(Triage(example_, &over_rpc), IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(over_rpc, direct));
  EXPECT_EQ(metrics_.Value("frontdoor_triage_decisions_total",
                           {rules::PathwayName(want.pathway()),
                            rules::UrgencyName(want.urgency())}),
            2);
  {
    absl::MutexLock lock(&mu);
    ASSERT_THAT(tapped, SizeIs(2));
    EXPECT_TRUE(MessageDifferencer::Equals(tapped[0].first, example_));
    EXPECT_TRUE(MessageDifferencer::Equals(tapped[0].second, want));
  }

  // Without received_at: received at the clock's now, as over the RPC.
  v1::Referral undated = example_;
  undated.clear_received_at();
  service_->DecideValidated(undated, &direct);
  undated.mutable_received_at()->set_seconds(absl::ToUnixSeconds(clock_.Now()));
  EXPECT_TRUE(MessageDifferencer::Equals(direct, holder_->Get()->Triage(undated)));
  {
    absl::MutexLock lock(&mu);
    ASSERT_THAT(tapped, SizeIs(3));
    EXPECT_TRUE(MessageDifferencer::Equals(tapped[2].first, undated));
  }

  // Another rule set on the same thread: its own decision, not the last one's.
  RuleSetHolder::RuleSetPtr mini = Load(kMiniRules);
  ASSERT_NE(mini, nullptr);
  holder_->Swap(mini);
  service_->DecideValidated(example_, &direct);
  EXPECT_TRUE(MessageDifferencer::Equals(direct, mini->Triage(example_)));
  EXPECT_EQ(direct.rule_set_version(), mini->version());
  service_->SetDecisionTap(nullptr);

  v1::RuleSetInfo info;
  service_->FillRuleSetInfo(&info);
  EXPECT_EQ(info.version(), mini->version());
  EXPECT_EQ(info.name(), mini->proto().name());
}

TEST_F(TriageServiceTest, BatchKeepsRequestOrder) {
  v1::TriageBatchRequest req;
  for (const char* f : {"examples/referrals/child-fever.json",
                        frontdoor::testing::kExampleReferral,
                        "examples/referrals/ucr-fall-morning.json",
                        "examples/referrals/missing-observations.json"}) {
    *req.add_referrals() = frontdoor::testing::ReadExampleReferral(f);
  }
  v1::TriageBatchResponse resp;
  ASSERT_THAT(Batch(req, &resp), IsOk());
  ASSERT_THAT(resp.decisions(), SizeIs(4));
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(
        resp.decisions(i), holder_->Get()->Triage(req.referrals(i))))
        << i;
  }
}

TEST_F(TriageServiceTest, BatchOfAThousandIsAcceptedAndMoreIsRefused) {
  v1::TriageBatchRequest req;
  for (int i = 0; i < kMaxBatchReferrals; ++i) *req.add_referrals() = example_;
  v1::TriageBatchResponse resp;
  ASSERT_THAT(Batch(req, &resp), IsOk());
  EXPECT_THAT(resp.decisions(), SizeIs(kMaxBatchReferrals));

  *req.add_referrals() = example_;
  resp.Clear();
  absl::Status s = Batch(req, &resp);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(s.message(), "referrals: at most 1000");
  EXPECT_THAT(resp.decisions(), IsEmpty());
}

TEST_F(TriageServiceTest, BatchWithOneInvalidReferralNamesItAndReturnsNothing) {
  v1::TriageBatchRequest req;
  *req.add_referrals() = example_;
  v1::Referral bad = example_;
  bad.clear_referrer();
  *req.add_referrals() = bad;
  v1::TriageBatchResponse resp;
  absl::Status s = Batch(req, &resp);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(s.message()), HasSubstr("referrals[1].referrer"));
  EXPECT_THAT(resp.decisions(), IsEmpty());
}

TEST_F(TriageServiceTest, ExplainGivesTheDecisionAndItsText) {
  grpc::ClientContext ctx;
  v1::TriageRequest req;
  *req.mutable_referral() = example_;
  v1::ExplainResponse resp;
  ASSERT_THAT(FromGrpcStatus(stub_->Explain(&ctx, req, &resp)), IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(resp.decision(),
                                         holder_->Get()->Triage(example_)));
  EXPECT_EQ(resp.text(), rules::ExplainDecision(resp.decision()));
  EXPECT_THAT(resp.text(), Not(IsEmpty()));
}

TEST_F(TriageServiceTest, RuleSetInfoDescribesTheActiveSet) {
  grpc::ClientContext ctx;
  v1::RuleSetInfo info;
  ASSERT_THAT(FromGrpcStatus(stub_->GetRuleSetInfo(
                  &ctx, v1::GetRuleSetInfoRequest(), &info)),
              IsOk());
  const auto rs = holder_->Get();
  EXPECT_EQ(info.name(), rs->proto().name());
  EXPECT_EQ(info.version(), rs->version());
  EXPECT_EQ(info.tables(), rs->proto().tables_size());
  int rows = 0;
  for (const auto& t : rs->proto().tables()) rows += t.rows_size();
  EXPECT_EQ(info.rows(), rows);
  EXPECT_GT(info.rows(), 0);
  EXPECT_EQ(info.targets_size(), rs->proto().targets_size());
  EXPECT_GT(info.targets_size(), 0);
  EXPECT_TRUE(
      MessageDifferencer::Equals(info.missing_data(), rs->missing_data()));
}

TEST_F(TriageServiceTest, SwappedRuleSetServesNewCalls) {
  RuleSetHolder::RuleSetPtr mini = Load(kMiniRules);
  ASSERT_NE(mini, nullptr);
  RuleSetHolder::RuleSetPtr before = holder_->Get();
  EXPECT_EQ(holder_->Swap(mini), before);
  EXPECT_EQ(holder_->generation(), 1u);

  grpc::ClientContext ctx;
  v1::RuleSetInfo info;
  ASSERT_THAT(FromGrpcStatus(stub_->GetRuleSetInfo(
                  &ctx, v1::GetRuleSetInfoRequest(), &info)),
              IsOk());
  EXPECT_EQ(info.version(), mini->version());
  v1::TriageDecision d;
  ASSERT_THAT(Triage(example_, &d), IsOk());
  EXPECT_EQ(d.rule_set_version(), mini->version());
}

TEST(RuleSetHolder, RefusesNullAndKeepsTheActiveSet) {
  RuleSetHolder::RuleSetPtr mini = Load(kMiniRules);
  ASSERT_NE(mini, nullptr);
  RuleSetHolder holder(mini);
  EXPECT_EQ(holder.Swap(nullptr), nullptr);
  EXPECT_EQ(holder.Get(), mini);
  EXPECT_EQ(holder.generation(), 0u);
}

TEST(RuleSetHolder, ConcurrentGetsSeeOldOrNewNeverNull) {
  RuleSetHolder::RuleSetPtr a = Load(kMiniRules);
  RuleSetHolder::RuleSetPtr b = Load(kMiniRules);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  RuleSetHolder holder(a);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto rs = holder.Get();
        if (rs != a && rs != b) bad.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) holder.Swap(i % 2 == 0 ? b : a);
  stop.store(true);
  for (auto& th : readers) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(holder.generation(), 2000u);
}


TEST_F(TriageServiceTest, CallersMustBeAuthenticatedAndAllowed) {
  v1::TriageRequest req;
  *req.mutable_referral() = example_;
  v1::TriageDecision d;
  auto anonymous = v1::TriageService::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  grpc::ClientContext c1;
  EXPECT_EQ(anonymous->Triage(&c1, req, &d).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Referrers submit referrals; they do not run the rules themselves.
  auto referrer = v1::TriageService::NewStub(
      ids_.Channel(address_, v1::ROLE_REFERRER));
  grpc::ClientContext c2;
  EXPECT_EQ(referrer->Triage(&c2, req, &d).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext c3;
  v1::RuleSetInfo info;
  EXPECT_EQ(referrer->GetRuleSetInfo(&c3, v1::GetRuleSetInfoRequest(), &info)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto clinician = v1::TriageService::NewStub(
      ids_.Channel(address_, v1::ROLE_CLINICIAN));
  grpc::ClientContext c4;
  EXPECT_TRUE(clinician->Triage(&c4, req, &d).ok());
}

}  // namespace
}  // namespace frontdoor::triage
