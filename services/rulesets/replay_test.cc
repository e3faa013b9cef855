#include "services/rulesets/replay.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/test_util.h"
#include "services/rulesets/analysis_test_util.h"
#include "storage/referral_store.h"
#include "storage/store_test_util.h"
#include "tests/bench/corpus.h"

namespace frontdoor::rulesets {
namespace {

using ::frontdoor::IsOk;
using ::frontdoor::StatusIs;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using namespace analysis_testing;  // NOLINT

constexpr int kReferrals = 3000;

class ReplayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    active_ =
        new std::shared_ptr<const rules::CompiledRuleSet>(Load(kCommunitySpa));
    dir_ = new ScratchDir();
    candidate_ = new std::shared_ptr<const rules::CompiledRuleSet>(LoadEdited(
        kCommunitySpa, dir_->path(), "candidate", News2FiveBecomesSix()));
    records_ = new std::vector<v1::ReferralRecord>();
    if (*active_ == nullptr) return;
    for (int i = 0; i < kReferrals; ++i) {
      records_->push_back(MakeStoredRecord(
          absl::StrCat("R", 10000 + i), bench::GenerateReferral(i), **active_));
    }
  }
  static void TearDownTestSuite() {
    delete records_;
    delete candidate_;
    delete active_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_NE(*active_, nullptr);
    ASSERT_NE(*candidate_, nullptr);
  }

  const rules::CompiledRuleSet& active() { return **active_; }
  const rules::CompiledRuleSet& candidate() { return **candidate_; }

  static std::shared_ptr<const rules::CompiledRuleSet>* active_;
  static std::shared_ptr<const rules::CompiledRuleSet>* candidate_;
  static std::vector<v1::ReferralRecord>* records_;
  static ScratchDir* dir_;
};

std::shared_ptr<const rules::CompiledRuleSet>* ReplayTest::active_;
std::shared_ptr<const rules::CompiledRuleSet>* ReplayTest::candidate_;
std::vector<v1::ReferralRecord>* ReplayTest::records_;
ScratchDir* ReplayTest::dir_;

// The report with its timing cleared, for comparisons.
std::string Canonical(v1::ReplayReport r) {
  r.clear_seconds();
  return r.SerializeAsString();
}

TEST_F(ReplayTest, IdenticalRuleSetsChangeNothing) {
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ReplayReport report,
      Replay(active(), active(), RecordsSource(records_)));
  EXPECT_EQ(report.referrals(), kReferrals);
  EXPECT_EQ(report.changed(), 0);
  EXPECT_THAT(report.transitions(), IsEmpty());
  EXPECT_THAT(report.changes(), IsEmpty());
  EXPECT_THAT(report.by_row(), IsEmpty());
  EXPECT_EQ(report.active_version(), active().version());
  EXPECT_EQ(report.candidate_version(), active().version());
}

// Everything in the report against evaluating both versions one by one.
TEST_F(ReplayTest, MatchesEvaluatingEachReferral) {
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ReplayReport report,
      Replay(active(), candidate(), RecordsSource(records_)));

  int64_t changed = 0, downgrades = 0, upgrades = 0;
  std::map<std::tuple<int, int, int, int>, int64_t> transitions;
  std::map<std::string, std::pair<int64_t, int64_t>> by_row;
  std::vector<std::string> downgraded_ids, other_ids;
  std::set<std::string> hit;
  rules::EvalResult a, c;
  for (const v1::ReferralRecord& rec : *records_) {
    active().Evaluate(rec.referral(), &a);
    candidate().Evaluate(rec.referral(), &c);
    for (const auto& t : candidate().tables()) {
      for (int r = 0; r < t.nrows; ++r) {
        if (c.RowMatched(t, r)) hit.insert(t.rows[r].qualified_id);
      }
    }
    if (a.pathway() == c.pathway() && a.urgency() == c.urgency()) continue;
    ++changed;
    const bool down = c.urgency() > a.urgency();
    downgrades += down;
    upgrades += c.urgency() < a.urgency();
    ++transitions[{a.pathway(), a.urgency(), c.pathway(), c.urgency()}];
    auto& row = by_row[ResponsibleRow(candidate(), c)];
    ++row.first;
    row.second += down;
    (down ? downgraded_ids : other_ids).push_back(rec.id());
  }
  // The threshold moved from 5 to 6: NEWS2 of exactly 5 now goes elsewhere,
  // less urgently.
  ASSERT_GT(changed, 0);
  ASSERT_GT(downgrades, 0);
  EXPECT_EQ(report.referrals(), kReferrals);
  EXPECT_EQ(report.changed(), changed);
  EXPECT_EQ(report.downgrades(), downgrades);
  EXPECT_EQ(report.upgrades(), upgrades);

  int64_t sum = 0;
  int64_t last = INT64_MAX;
  for (const auto& t : report.transitions()) {
    EXPECT_EQ(t.count(), (transitions[{t.from_pathway(), t.from_urgency(),
                                       t.to_pathway(), t.to_urgency()}]));
    EXPECT_FALSE(t.from_pathway() == t.to_pathway() &&
                 t.from_urgency() == t.to_urgency());
    EXPECT_LE(t.count(), last);  // most frequent first
    last = t.count();
    sum += t.count();
  }
  EXPECT_EQ(sum, changed);
  EXPECT_EQ(report.transitions_size(), static_cast<int>(transitions.size()));

  // Every change listed (fewer than 1000), downgrades first, in source order.
  std::vector<std::string> expected = downgraded_ids;
  expected.insert(expected.end(), other_ids.begin(), other_ids.end());
  std::vector<std::string> listed;
  for (const auto& ch : report.changes()) {
    listed.push_back(ch.referral_id());
    EXPECT_EQ(ch.downgrade(), ch.to_urgency() > ch.from_urgency());
    EXPECT_FALSE(ch.from_row().empty());
    EXPECT_FALSE(ch.to_row().empty());
  }
  EXPECT_EQ(listed, expected);
  // A listed downgrade is right about both versions.
  const v1::ReplayChange& first = report.changes(0);
  ASSERT_TRUE(first.downgrade());
  for (const auto& rec : *records_) {
    if (rec.id() != first.referral_id()) continue;
    v1::TriageDecision before = active().Triage(rec.referral());
    v1::TriageDecision after = candidate().Triage(rec.referral());
    EXPECT_EQ(before.pathway(), first.from_pathway());
    EXPECT_EQ(before.urgency(), first.from_urgency());
    EXPECT_EQ(after.pathway(), first.to_pathway());
    EXPECT_EQ(after.urgency(), first.to_urgency());
    if (first.from_row() != "missing_data") {
      EXPECT_EQ(before.decisive_row(), first.from_row());
    }
  }
  bool from_r30 = false;
  for (const auto& ch : report.changes()) {
    from_r30 |=
        ch.downgrade() && ch.from_row() == "news2_response/r30_news2_5_or_more";
  }
  EXPECT_TRUE(from_r30);

  // Grouped by the candidate's row, most downgrades first.
  ASSERT_EQ(report.by_row_size(), static_cast<int>(by_row.size()));
  int64_t row_sum = 0;
  for (int i = 0; i < report.by_row_size(); ++i) {
    const v1::RowImpact& r = report.by_row(i);
    EXPECT_EQ(r.changed(), by_row[r.row()].first) << r.row();
    EXPECT_EQ(r.downgrades(), by_row[r.row()].second) << r.row();
    EXPECT_THAT(r.sample_referrals(),
                SizeIs(std::min<int64_t>(5, r.changed())));
    if (i > 0) {
      EXPECT_LE(r.downgrades(), report.by_row(i - 1).downgrades());
    }
    row_sum += r.changed();
  }
  EXPECT_EQ(row_sum, changed);

  // Rows never hit: exactly the candidate rows no referral matched.
  std::set<std::string> never(report.rows_never_hit().begin(),
                              report.rows_never_hit().end());
  for (const auto& t : candidate().tables()) {
    for (const auto& row : t.rows) {
      EXPECT_EQ(never.count(row.qualified_id),
                hit.count(row.qualified_id) ? 0u : 1u)
          << row.qualified_id;
    }
  }
  EXPECT_FALSE(never.empty());
  EXPECT_LT(never.size(), hit.size());
}

TEST_F(ReplayTest, SameReportWithOneThreadOrFour) {
  ReplayOptions one;
  one.threads = 1;
  ReplayOptions four;
  four.threads = 4;
  four.max_changes = 7;  // a cap makes the choice of listed changes visible
  one.max_changes = 7;
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ReplayReport a,
      Replay(active(), candidate(), RecordsSource(records_), one));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ReplayReport b,
      Replay(active(), candidate(), RecordsSource(records_), four));
  EXPECT_EQ(Canonical(a), Canonical(b));
}

TEST_F(ReplayTest, CapsTheListButCountsEverything) {
  ReplayOptions options;
  options.max_changes = 3;
  options.samples_per_row = 1;
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ReplayReport full,
      Replay(active(), candidate(), RecordsSource(records_)));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ReplayReport capped,
      Replay(active(), candidate(), RecordsSource(records_), options));
  ASSERT_GT(full.downgrades(), 3);
  EXPECT_EQ(capped.changed(), full.changed());
  EXPECT_EQ(capped.downgrades(), full.downgrades());
  ASSERT_EQ(capped.changes_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(capped.changes(i).downgrade());
    EXPECT_EQ(capped.changes(i).referral_id(), full.changes(i).referral_id());
  }
  for (const auto& r : capped.by_row()) {
    EXPECT_THAT(r.sample_referrals(), SizeIs(1));
  }
}

TEST_F(ReplayTest, EmptySourceIsAnEmptyReport) {
  std::vector<v1::ReferralRecord> none;
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ReplayReport report,
      Replay(active(), candidate(), RecordsSource(&none)));
  EXPECT_EQ(report.referrals(), 0);
  EXPECT_EQ(report.changed(), 0);
  EXPECT_THAT(report.rows_never_hit(), IsEmpty());
  EXPECT_EQ(report.candidate_version(), candidate().version());
  EXPECT_GE(report.seconds(), 0);
}

TEST_F(ReplayTest, FiltersAndLimit) {
  // Pathway now in force.
  ReplayOptions acute;
  acute.pathway = v1::PATHWAY_ACUTE;
  int64_t on_acute = 0;
  for (const auto& r : *records_) on_acute += r.pathway() == v1::PATHWAY_ACUTE;
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ReplayReport report,
      Replay(active(), candidate(), RecordsSource(records_), acute));
  EXPECT_EQ(report.referrals(), on_acute);
  for (const auto& t : report.transitions()) {
    EXPECT_EQ(t.from_pathway(), v1::PATHWAY_ACUTE);
  }

  // Time window, half open.
  std::vector<absl::Time> times;
  for (const auto& r : *records_) {
    times.push_back(absl::FromUnixSeconds(r.received_at().seconds()) +
                    absl::Nanoseconds(r.received_at().nanos()));
  }
  std::vector<absl::Time> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  ReplayOptions window;
  window.received_after = sorted[1000];
  window.received_before = sorted[2000];
  int64_t in_window = 0;
  for (absl::Time t : times) in_window += t >= sorted[1000] && t < sorted[2000];
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      report, Replay(active(), candidate(), RecordsSource(records_), window));
  EXPECT_EQ(report.referrals(), in_window);

  // Limit: the first N of the source, and the source is told to stop.
  ReplayOptions limited;
  limited.limit = 100;
  int visited = 0;
  ReplaySource counting = [&](const ReplayVisitor& visit) {
    for (const auto& r : *records_) {
      ++visited;
      if (!visit(r)) break;
    }
    return absl::OkStatus();
  };
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      report, Replay(active(), candidate(), counting, limited));
  EXPECT_EQ(report.referrals(), 100);
  EXPECT_EQ(visited, 100);

  limited.limit = -1;
  EXPECT_THAT(Replay(active(), candidate(), counting, limited),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ReplayTest, ProgressAndCancellation) {
  ReplayOptions options;
  options.expected_total = kReferrals;
  options.threads = 1;
  std::vector<int64_t> seen;
  options.progress = [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, kReferrals);
    if (!seen.empty()) {
      EXPECT_GT(done, seen.back());
    }
    seen.push_back(done);
    return true;
  };
  ASSERT_THAT(Replay(active(), candidate(), RecordsSource(records_), options),
              IsOk());
  EXPECT_FALSE(seen.empty());
  EXPECT_LE(seen.size(), 101u);

  // Progress counts records read, so a filtered replay still gets to the
  // end of the estimate.
  seen.clear();
  options.pathway = v1::PATHWAY_ACUTE;
  ASSERT_THAT(Replay(active(), candidate(), RecordsSource(records_), options),
              IsOk());
  ASSERT_FALSE(seen.empty());
  EXPECT_GE(seen.back(), kReferrals * 99 / 100);
  options.pathway = v1::PATHWAY_UNSPECIFIED;

  options.progress = [](int64_t, int64_t) { return false; };
  EXPECT_THAT(Replay(active(), candidate(), RecordsSource(records_), options),
              StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(ReplayTest, SourceErrorsComeBack) {
  ReplaySource broken = [&](const ReplayVisitor& visit) {
    visit((*records_)[0]);
    return absl::DataLossError("unparsable referral X");
  };
  EXPECT_THAT(Replay(active(), candidate(), broken),
              StatusIs(absl::StatusCode::kDataLoss));
}

// Over the RocksDB store through ScanReferrals, the way the service does it.
TEST_F(ReplayTest, OverTheReferralStore) {
  storage::testing::TempDir dir;
  storage::ReferralStore::Options store_options;
  store_options.path = dir.Sub("db");
  store_options.sync = false;
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<storage::ReferralStore> store,
                                 storage::ReferralStore::Open(store_options));
  storage::ReferralFilter filter;
  storage::ReferralStore::ScanOptions scan;
  scan.omit_decision = true;
  ReplaySource source = [&](const ReplayVisitor& visit) {
    return store->ScanReferrals(filter, scan, visit);
  };
  // Empty store: a defined outcome, not an error.
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::ReplayReport empty,
                                 Replay(active(), candidate(), source));
  EXPECT_EQ(empty.referrals(), 0);

  std::vector<v1::ReferralRecord> some(records_->begin(),
                                       records_->begin() + 500);
  for (const auto& r : some) {
    ASSERT_THAT(storage::testing::PutRecord(*store, r), IsOk());
  }
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::ReplayReport from_store,
                                 Replay(active(), candidate(), source));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ReplayReport from_memory,
      Replay(active(), candidate(), RecordsSource(&some)));
  EXPECT_EQ(from_store.referrals(), 500);
  EXPECT_EQ(from_store.changed(), from_memory.changed());
  EXPECT_EQ(from_store.downgrades(), from_memory.downgrades());
  EXPECT_EQ(from_store.transitions_size(), from_memory.transitions_size());
  std::set<std::string> a, b;
  for (const auto& c : from_store.changes()) a.insert(c.referral_id());
  for (const auto& c : from_memory.changes()) b.insert(c.referral_id());
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace frontdoor::rulesets
