#include "services/rulesets/region_diff.h"

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/rulesets/analysis_test_util.h"
#include "services/rulesets/replay.h"
#include "tests/bench/corpus.h"

namespace frontdoor::rulesets {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using namespace analysis_testing;  // NOLINT

// The example evaluates to the region's outcomes under both versions, and
// they differ. Returns the example.
v1::Referral CheckRegion(const rules::CompiledRuleSet& from,
                         const rules::CompiledRuleSet& to,
                         const v1::DecisionRegion& region) {
  v1::Referral example;
  EXPECT_TRUE(
      google::protobuf::util::JsonStringToMessage(region.example(), &example)
          .ok())
      << region.example();
  v1::TriageDecision a = from.Triage(example);
  v1::TriageDecision b = to.Triage(example);
  EXPECT_EQ(a.pathway(), region.from_pathway()) << region.description();
  EXPECT_EQ(a.urgency(), region.from_urgency()) << region.description();
  EXPECT_EQ(b.pathway(), region.to_pathway()) << region.description();
  EXPECT_EQ(b.urgency(), region.to_urgency()) << region.description();
  EXPECT_TRUE(a.pathway() != b.pathway() || a.urgency() != b.urgency());
  EXPECT_EQ(region.downgrade(), IsDowngrade(a.urgency(), b.urgency()));
  return example;
}

void CheckAll(const rules::CompiledRuleSet& from,
              const rules::CompiledRuleSet& to, const RegionDiffResult& r) {
  bool seen_other = false;
  for (const auto& region : r.regions) {
    CheckRegion(from, to, region);
    if (!region.downgrade()) seen_other = true;
    EXPECT_FALSE(seen_other && region.downgrade())
        << "a downgrade after another change: " << region.description();
  }
}

// Every "FIELD in [a..b]" / "FIELD = n" / "FIELD <= n" range in the
// descriptions, as text.
std::vector<std::string> RangesOf(const RegionDiffResult& r,
                                  const std::string& field) {
  std::vector<std::string> out;
  const std::regex re(field +
                      R"(( in [\[(][^;,]*[\])]| = [^;,]*| [<>]=? [^;,]*))");
  for (const auto& region : r.regions) {
    const std::string& d = region.description();
    for (auto it = std::sregex_iterator(d.begin(), d.end(), re);
         it != std::sregex_iterator(); ++it) {
      out.push_back((*it)[1]);
    }
  }
  return out;
}

class RegionDiffTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    spa_ =
        new std::shared_ptr<const rules::CompiledRuleSet>(Load(kCommunitySpa));
    mini_ = new std::shared_ptr<const rules::CompiledRuleSet>(Load(kMini));
  }
  static void TearDownTestSuite() {
    delete spa_;
    delete mini_;
  }
  void SetUp() override {
    ASSERT_NE(*spa_, nullptr);
    ASSERT_NE(*mini_, nullptr);
  }
  const rules::CompiledRuleSet& spa() { return **spa_; }
  const rules::CompiledRuleSet& mini() { return **mini_; }

  // No time limit that a slow machine could reach, so that the results do
  // not depend on its speed: a cap on evaluations instead (deterministic),
  // and the 40 most relevant base referrals.
  static RegionDiffOptions Unhurried() {
    RegionDiffOptions o;
    o.time_limit = absl::Seconds(600);
    o.max_evaluations = 50000;
    o.max_bases = 40;
    return o;
  }

  ScratchDir dir_;
  static std::shared_ptr<const rules::CompiledRuleSet>* spa_;
  static std::shared_ptr<const rules::CompiledRuleSet>* mini_;
};

std::shared_ptr<const rules::CompiledRuleSet>* RegionDiffTest::spa_;
std::shared_ptr<const rules::CompiledRuleSet>* RegionDiffTest::mini_;

TEST_F(RegionDiffTest, IdenticalRuleSetsHaveNoRegions) {
  auto copy = LoadEdited(kCommunitySpa, dir_.path(), "copy", {});
  ASSERT_NE(copy, nullptr);
  RegionDiffResult r = DiffRegions(spa(), *copy);
  EXPECT_THAT(r.regions, IsEmpty());
  EXPECT_THAT(r.changes, IsEmpty());
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.incomplete_reason, "");

  v1::RuleSetDiff diff;
  ASSERT_TRUE(FillRegions(spa(), *copy, &diff).ok());
  EXPECT_EQ(diff.regions_size(), 0);
  EXPECT_TRUE(diff.regions_complete());
}

// One NEWS2 band edge moved: pulse 111-115 scores 1 instead of 2. The
// regions are exactly that band.
TEST_F(RegionDiffTest, MovedNews2BandIsFoundExactly) {
  auto moved =
      LoadEdited(kCommunitySpa, dir_.path(), "moved", PulseBandMoved());
  ASSERT_NE(moved, nullptr);
  RegionDiffResult r = DiffRegions(spa(), *moved, Unhurried());
  EXPECT_THAT(r.changes, Contains("news2_chart/r37_pulse_91_to_110 (changed)"));
  EXPECT_THAT(r.changes,
              Contains("news2_chart/r37_pulse_111_to_130 (changed)"));
  ASSERT_FALSE(r.regions.empty());
  CheckAll(spa(), *moved, r);

  // Every example has its pulse in the moved band.
  for (const auto& region : r.regions) {
    v1::Referral example = CheckRegion(spa(), *moved, region);
    ASSERT_TRUE(example.observations().has_pulse()) << region.description();
    EXPECT_GE(example.observations().pulse(), 111) << region.description();
    EXPECT_LE(example.observations().pulse(), 115) << region.description();
  }
  // The band itself is a region, and no other pulse range is claimed.
  std::vector<std::string> ranges = RangesOf(r, "observations.pulse");
  EXPECT_THAT(ranges, Contains(" in [111..115]"));
  for (const std::string& range : ranges) {
    if (absl::StartsWith(range, " in ")) {
      EXPECT_EQ(range, " in [111..115]");
    } else {
      int v = 0;
      ASSERT_TRUE(absl::StartsWith(range, " = ") &&
                  absl::SimpleAtoi(range.substr(3), &v))
          << range;
      EXPECT_TRUE(v >= 111 && v <= 115) << range;
    }
  }
  // NEWS2 7 becomes 6: acute now becomes acute within the hour, a downgrade,
  // listed first.
  const v1::DecisionRegion& first = r.regions[0];
  EXPECT_TRUE(first.downgrade());
  EXPECT_EQ(first.from_urgency(), v1::URGENCY_IMMEDIATE);
  EXPECT_FALSE(r.complete);
  EXPECT_THAT(r.incomplete_reason, HasSubstr("variables"));
}

// The response threshold "5 or more" moved to 6: a change to a table that
// reads the NEWS2 total (a variable), found by varying the observations.
TEST_F(RegionDiffTest, ThresholdOnAVariableIsFoundThroughItsFields) {
  auto six =
      LoadEdited(kCommunitySpa, dir_.path(), "six", News2FiveBecomesSix());
  ASSERT_NE(six, nullptr);
  RegionDiffResult r = DiffRegions(spa(), *six, Unhurried());
  ASSERT_FALSE(r.regions.empty());
  CheckAll(spa(), *six, r);
  EXPECT_TRUE(r.regions[0].downgrade());
  EXPECT_EQ(r.regions[0].from_pathway(), v1::PATHWAY_ACUTE);
  EXPECT_EQ(r.regions[0].from_urgency(), v1::URGENCY_WITHIN_1H);
  // The description names the variable the changed row reads.
  EXPECT_THAT(r.regions[0].description(), HasSubstr("news2_total 5"));
  EXPECT_FALSE(r.complete);
}

// A change to a table that reads Referral fields only: the whole product of
// its fields' segments is evaluated, so the result is complete, and the
// downgrade comes first.
TEST_F(RegionDiffTest, FieldsOnlyTableGivesACompleteAnswer) {
  auto wider =
      LoadEdited(kMini, dir_.path(), "wider",
                 {{"10-derived.rules.yaml", "| rr_ok", "[9..20]", "[9..22]"},
                  {"10-derived.rules.yaml", "| rr_hi", "> 20", "> 22"}});
  ASSERT_NE(wider, nullptr);
  RegionDiffResult r = DiffRegions(mini(), *wider, Unhurried());
  ASSERT_FALSE(r.regions.empty());
  CheckAll(mini(), *wider, r);
  EXPECT_TRUE(r.complete) << r.incomplete_reason;
  // Respiratory rate 21-22 now scores 0 instead of 2: with a pulse of 40 or
  // less (3 points) the score falls from 5 (acute now) to 3 (a single 3:
  // clinical review within the hour).
  const v1::DecisionRegion& first = r.regions[0];
  EXPECT_TRUE(first.downgrade());
  EXPECT_EQ(first.from_pathway(), v1::PATHWAY_ACUTE);
  EXPECT_EQ(first.from_urgency(), v1::URGENCY_IMMEDIATE);
  EXPECT_EQ(first.to_pathway(), v1::PATHWAY_CLINICAL_REVIEW);
  EXPECT_EQ(first.to_urgency(), v1::URGENCY_WITHIN_1H);
  EXPECT_THAT(first.description(),
              HasSubstr("observations.respiratory_rate in [21..22], "
                        "observations.pulse <= 40"));
  for (const std::string& range :
       RangesOf(r, "observations.respiratory_rate")) {
    EXPECT_TRUE(range == " in [21..22]" || range == " = 21" || range == " = 22")
        << range;
  }
}

// A removed row: adults who fell are no longer sent to UCR.
TEST_F(RegionDiffTest, RemovedRow) {
  v1::RuleSet proto = mini().proto();
  for (v1::Table& t : *proto.mutable_tables()) {
    if (t.id() != "response") continue;
    for (int i = 0; i < t.rows_size(); ++i) {
      if (t.rows(i).id() == "fall") t.mutable_rows()->DeleteSubrange(i, 1);
    }
  }
  rules::Diagnostics diags;
  auto without = rules::CompiledRuleSet::Compile(proto, nullptr, &diags);
  ASSERT_NE(without, nullptr);
  RegionDiffResult r = DiffRegions(mini(), *without, Unhurried());
  EXPECT_THAT(r.changes, Contains("response/fall (removed)"));
  ASSERT_FALSE(r.regions.empty());
  CheckAll(mini(), *without, r);
  bool fall_to_primary = false;
  for (const auto& region : r.regions) {
    fall_to_primary |=
        region.from_pathway() == v1::PATHWAY_UCR && region.downgrade() &&
        absl::StrContains(region.description(), "findings.fall = yes");
  }
  EXPECT_TRUE(fall_to_primary);
}

// Corpus referrals as extra bases; a tiny budget is honoured and reported.
TEST_F(RegionDiffTest, LimitsAreHonouredAndReported) {
  auto moved =
      LoadEdited(kCommunitySpa, dir_.path(), "moved", PulseBandMoved());
  ASSERT_NE(moved, nullptr);
  RegionDiffOptions tiny;
  tiny.max_evaluations = 300;
  tiny.bases = bench::GenerateCorpus(50);
  RegionDiffResult r = DiffRegions(spa(), *moved, tiny);
  EXPECT_LE(r.evaluations, 300);
  EXPECT_FALSE(r.complete);
  EXPECT_THAT(r.incomplete_reason, HasSubstr("limit"));
  CheckAll(spa(), *moved, r);

  RegionDiffOptions few = Unhurried();
  few.max_regions = 1;
  RegionDiffResult one = DiffRegions(spa(), *moved, few);
  ASSERT_EQ(one.regions.size(), 1u);
  EXPECT_GT(one.regions_found, 1);
  EXPECT_TRUE(one.regions[0].downgrade());
  EXPECT_THAT(one.incomplete_reason, HasSubstr("not every region is listed"));
  EXPECT_THAT(one.incomplete_reason, HasSubstr("not every base referral"));
}

}  // namespace
}  // namespace frontdoor::rulesets
