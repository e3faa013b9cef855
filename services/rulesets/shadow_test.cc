#include "services/rulesets/shadow.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/clock.h"
#include "services/common/proto_time.h"
#include "services/rulesets/analysis_test_util.h"
#include "services/rulesets/replay.h"
#include "tests/bench/corpus.h"

namespace frontdoor::rulesets {
namespace {

using ::testing::SizeIs;
using namespace analysis_testing;  // NOLINT

constexpr int kReferrals = 2000;

class ShadowTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    active_ =
        new std::shared_ptr<const rules::CompiledRuleSet>(Load(kCommunitySpa));
    dir_ = new ScratchDir();
    candidate_ = new std::shared_ptr<const rules::CompiledRuleSet>(LoadEdited(
        kCommunitySpa, dir_->path(), "candidate", News2FiveBecomesSix()));
    corpus_ = new std::vector<v1::Referral>(bench::GenerateCorpus(kReferrals));
    decisions_ = new std::vector<v1::TriageDecision>();
    if (*active_ == nullptr) return;
    for (const auto& r : *corpus_) decisions_->push_back((*active_)->Triage(r));
  }
  static void TearDownTestSuite() {
    delete decisions_;
    delete corpus_;
    delete candidate_;
    delete active_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_NE(*active_, nullptr);
    ASSERT_NE(*candidate_, nullptr);
  }

  static std::string Id(int i) { return absl::StrCat("R", 10000 + i); }
  bool OfferOne(ShadowEvaluator& shadow, int i) {
    return shadow.Offer((*corpus_)[i],
                        ShadowEvaluator::Summarize(Id(i), (*decisions_)[i]));
  }

  static std::shared_ptr<const rules::CompiledRuleSet>* active_;
  static std::shared_ptr<const rules::CompiledRuleSet>* candidate_;
  static std::vector<v1::Referral>* corpus_;
  static std::vector<v1::TriageDecision>* decisions_;
  static ScratchDir* dir_;
};

std::shared_ptr<const rules::CompiledRuleSet>* ShadowTest::active_;
std::shared_ptr<const rules::CompiledRuleSet>* ShadowTest::candidate_;
std::vector<v1::Referral>* ShadowTest::corpus_;
std::vector<v1::TriageDecision>* ShadowTest::decisions_;
ScratchDir* ShadowTest::dir_;

TEST_F(ShadowTest, CountsDifferencesAndDowngradesSeparately) {
  FakeClock clock;
  ShadowOptions options;
  options.queue_capacity = kReferrals;
  options.clock = &clock;
  std::atomic<int> callbacks{0};
  options.on_difference = [&](const v1::ReplayChange&) { ++callbacks; };
  ShadowEvaluator shadow(*candidate_, options);
  shadow.Start();
  for (int i = 0; i < kReferrals; ++i) ASSERT_TRUE(OfferOne(shadow, i));
  shadow.Stop();

  // Expected: the candidate against the active decision, one by one.
  int64_t differed = 0, downgrades = 0;
  std::vector<std::string> downgraded, others;
  for (int i = 0; i < kReferrals; ++i) {
    v1::TriageDecision c = (*candidate_)->Triage((*corpus_)[i]);
    const v1::TriageDecision& a = (*decisions_)[i];
    if (c.pathway() == a.pathway() && c.urgency() == a.urgency()) continue;
    ++differed;
    const bool down = c.urgency() > a.urgency();
    downgrades += down;
    (down ? downgraded : others).push_back(Id(i));
  }
  ASSERT_GT(downgrades, 0);
  ASSERT_GT(differed, downgrades);

  v1::ShadowReport report = shadow.Report();
  EXPECT_EQ(report.candidate_version(), (*candidate_)->version());
  EXPECT_EQ(report.active_version(), (*active_)->version());
  EXPECT_EQ(FromProtoTime(report.since()), clock.Now());
  EXPECT_EQ(report.evaluated(), kReferrals);
  EXPECT_EQ(report.dropped(), 0);
  EXPECT_EQ(report.differed(), differed);
  EXPECT_EQ(report.downgrades(), downgrades);
  EXPECT_EQ(callbacks.load(), differed);

  // Latest first, downgrades before the others, at most 100.
  std::vector<std::string> expected;
  for (auto it = downgraded.rbegin(); it != downgraded.rend(); ++it) {
    expected.push_back(*it);
  }
  for (auto it = others.rbegin(); it != others.rend(); ++it) {
    expected.push_back(*it);
  }
  if (expected.size() > 100) expected.resize(100);
  std::vector<std::string> recent;
  for (const auto& c : report.recent()) {
    recent.push_back(c.referral_id());
    EXPECT_EQ(c.downgrade(), c.to_urgency() > c.from_urgency());
    EXPECT_FALSE(c.to_row().empty());
  }
  EXPECT_EQ(recent, expected);
  // One listed difference, checked against both versions.
  const v1::ReplayChange& first = report.recent(0);
  ASSERT_TRUE(first.downgrade());
  const int i = std::stoi(first.referral_id().substr(1)) - 10000;
  EXPECT_EQ(first.from_pathway(), (*decisions_)[i].pathway());
  EXPECT_EQ(first.from_urgency(), (*decisions_)[i].urgency());
  EXPECT_EQ(first.from_row(), (*decisions_)[i].decisive_row());
  v1::TriageDecision c = (*candidate_)->Triage((*corpus_)[i]);
  EXPECT_EQ(first.to_pathway(), c.pathway());
  EXPECT_EQ(first.to_urgency(), c.urgency());
}

TEST_F(ShadowTest, IdenticalCandidateFindsNothing) {
  ShadowEvaluator shadow(*active_);
  shadow.Start();
  for (int i = 0; i < 500; ++i) OfferOne(shadow, i);
  shadow.Stop();
  v1::ShadowReport report = shadow.Report();
  EXPECT_EQ(report.evaluated() + report.dropped(), 500);
  EXPECT_EQ(report.differed(), 0);
  EXPECT_THAT(report.recent(), SizeIs(0));
}

TEST_F(ShadowTest, FullQueueDropsAndCounts) {
  ShadowOptions options;
  options.queue_capacity = 4;
  ShadowEvaluator shadow(*candidate_, options);
  // Not started: nothing is taken off the queue.
  int queued = 0;
  for (int i = 0; i < 10; ++i) queued += OfferOne(shadow, i);
  EXPECT_EQ(queued, 4);
  EXPECT_EQ(shadow.Report().dropped(), 6);
  EXPECT_EQ(shadow.Report().evaluated(), 0);
  shadow.Start();
  shadow.Stop();
  v1::ShadowReport report = shadow.Report();
  EXPECT_EQ(report.evaluated(), 4);
  EXPECT_EQ(report.dropped(), 6);
}

TEST_F(ShadowTest, StopDrainsTheQueueAndThenRefuses) {
  ShadowOptions options;
  options.queue_capacity = 1000;
  ShadowEvaluator shadow(*candidate_, options);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(OfferOne(shadow, i));
  shadow.Start();
  shadow.Stop();  // right away: the worker still evaluates all 1000
  EXPECT_EQ(shadow.Report().evaluated(), 1000);
  EXPECT_FALSE(OfferOne(shadow, 0));
  EXPECT_EQ(shadow.Report().dropped(), 0);  // refused, not dropped
  shadow.Stop();                            // idempotent
  shadow.Start();                           // no restart
  EXPECT_FALSE(OfferOne(shadow, 1));
}

TEST_F(ShadowTest, RecentIsCappedWithDowngradesFirst) {
  ShadowOptions options;
  options.queue_capacity = kReferrals;
  options.recent = 3;
  ShadowEvaluator shadow(*candidate_, options);
  shadow.Start();
  for (int i = 0; i < kReferrals; ++i) OfferOne(shadow, i);
  shadow.Stop();
  v1::ShadowReport report = shadow.Report();
  ASSERT_THAT(report.recent(), SizeIs(3));
  ASSERT_GE(report.downgrades(), 3);
  for (const auto& c : report.recent()) EXPECT_TRUE(c.downgrade());
}

TEST_F(ShadowTest, ConcurrentOffersAreAllAccountedFor) {
  ShadowOptions options;
  options.queue_capacity = 64;
  ShadowEvaluator shadow(*candidate_, options);
  shadow.Start();
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int i = t; i < kReferrals; i += 4) {
        OfferOne(shadow, i);
        if (i % 97 == 0) shadow.Report();
      }
    });
  }
  for (auto& c : callers) c.join();
  shadow.Stop();
  v1::ShadowReport report = shadow.Report();
  EXPECT_EQ(report.evaluated() + report.dropped(), kReferrals);
  EXPECT_LE(report.differed(), report.evaluated());
}

}  // namespace
}  // namespace frontdoor::rulesets
