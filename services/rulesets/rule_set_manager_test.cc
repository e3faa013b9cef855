#include "services/rulesets/rule_set_manager.h"

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/clock.h"
#include "services/common/metrics.h"
#include "services/common/test_util.h"
#include "services/rulesets/rule_files.h"
#include "services/rulesets/rule_set_test_util.h"
#include "services/rulesets/rules_watcher.h"
#include "services/triage/engine/loader.h"
#include "storage/rule_set_store.h"

namespace frontdoor::rulesets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using testing::TempDir;

std::vector<std::string> Actions(const v1::RuleSetVersion& v) {
  std::vector<std::string> out;
  for (const v1::RuleSetEvent& e : v.history()) out.push_back(e.action());
  return out;
}

class RuleSetManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_dir_ = tmp_.Sub("rules");
    testing::CopyDefaultRules(rules_dir_);
    StartServer();
    v1_ = holder_->Get()->version();
  }

  // What the server does at start: load the directory, open the store,
  // reconcile.
  void StartServer(bool require_approval = false) {
    manager_.reset();
    store_.reset();
    rules::Diagnostics diags;
    auto loaded = rules::LoadRuleSet(rules_dir_, rules::LoadOptions(), &diags);
    ASSERT_NE(loaded, nullptr);
    holder_ = std::make_unique<triage::RuleSetHolder>(loaded);
    storage::RuleSetStore::Options store_options;
    store_options.path = tmp_.Sub("store");
    FRONTDOOR_ASSERT_OK_AND_ASSIGN(store_,
                                   storage::RuleSetStore::Open(store_options));
    ManagerOptions options;
    options.clock = &clock_;
    options.metrics = &metrics_;
    options.require_approval = require_approval;
    manager_ =
        std::make_unique<RuleSetManager>(store_.get(), holder_.get(), options);
    FRONTDOOR_ASSERT_OK(manager_->Start(rules_dir_));
  }

  // Proposes the rule set in `dir` as `author`.
  absl::StatusOr<v1::RuleSetVersion> Propose(const std::string& dir,
                                             const std::string& author) {
    v1::ProposeRuleSetRequest req;
    for (const v1::RuleFile& f : testing::FilesIn(dir)) *req.add_files() = f;
    req.set_author(author);
    req.set_comment("tighten R77");
    req.set_source_commit("abc123");
    return manager_->Propose(req);
  }

  absl::StatusOr<v1::RuleSetVersion> Approve(const std::string& version,
                                             const std::string& approver) {
    v1::ApproveRuleSetRequest req;
    req.set_version(version);
    req.set_approver(approver);
    req.set_comment("reviewed");
    return manager_->Approve(req);
  }

  absl::StatusOr<v1::RuleSetVersion> Activate(const std::string& version,
                                              bool acknowledge = false) {
    v1::ActivateRuleSetRequest req;
    req.set_version(version);
    req.set_actor("carol");
    req.set_reason("go live");
    req.set_acknowledge_downgrades(acknowledge);
    return manager_->Activate(req);
  }

  absl::StatusOr<v1::RuleSetVersion> Rollback(const std::string& version) {
    v1::RollbackRuleSetRequest req;
    req.set_to_version(version);
    req.set_actor("dave");
    req.set_reason("wrong queue");
    return manager_->Rollback(req);
  }

  // A variant of the default rules in a directory of its own.
  std::string Variant(const std::string& name,
                      const std::function<void(const std::string&)>& edit) {
    const std::string dir = tmp_.Sub(name);
    testing::CopyDefaultRules(dir);
    edit(dir);
    return dir;
  }

  // Proposed by alice, approved by bob.
  std::string ApprovedVariant(const std::string& title) {
    const std::string dir = Variant(
        title, [&](const std::string& d) { testing::ChangeTitle(d, title); });
    absl::StatusOr<v1::RuleSetVersion> v = Propose(dir, "alice");
    EXPECT_THAT(v, IsOk());
    if (!v.ok()) return "";
    EXPECT_THAT(Approve(v->version(), "bob"), IsOk());
    return v->version();
  }

  v1::RuleSetVersion Stored(const std::string& id) {
    absl::StatusOr<v1::RuleSetVersion> v = store_->GetSummary(id);
    EXPECT_THAT(v, IsOk());
    return v.ok() ? *v : v1::RuleSetVersion();
  }

  int64_t Count() {
    absl::StatusOr<int64_t> n = store_->Count();
    return n.ok() ? *n : -1;
  }

  TempDir tmp_;
  std::string rules_dir_;
  FakeClock clock_;
  Metrics metrics_;
  std::unique_ptr<triage::RuleSetHolder> holder_;
  std::unique_ptr<storage::RuleSetStore> store_;
  std::unique_ptr<RuleSetManager> manager_;
  std::string v1_;
};

TEST_F(RuleSetManagerTest, TheFirstStartRecordsTheLoadedRulesAsActive) {
  EXPECT_EQ(Count(), 1);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion active,
                                 manager_->GetActive());
  EXPECT_EQ(active.version(), v1_);
  EXPECT_EQ(active.state(), v1::RULE_SET_STATE_ACTIVE);
  EXPECT_EQ(active.author(), "bootstrap");
  EXPECT_EQ(active.activated_by(), "bootstrap");
  EXPECT_EQ(active.name(), "community-spa");
  EXPECT_TRUE(active.validation().ok());
  EXPECT_GT(active.files_size(), 10);
  EXPECT_EQ(active.rule_set().name(), "community-spa");
  ASSERT_THAT(active.history(), SizeIs(1));
  EXPECT_EQ(active.history(0).action(), "activated");
  EXPECT_EQ(active.history(0).actor(), "bootstrap");
  EXPECT_THAT(active.history(0).reason(), HasSubstr(rules_dir_));

  // A second start with the same directory records nothing new.
  StartServer();
  EXPECT_EQ(Count(), 1);
  EXPECT_EQ(holder_->Get()->version(), v1_);
}

TEST_F(RuleSetManagerTest, ProposeApproveActivateRollback) {
  const std::string dir = Variant("v2", testing::MedicationWithin1H);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion proposed,
                                 Propose(dir, "alice"));
  const std::string v2 = proposed.version();
  EXPECT_NE(v2, v1_);
  EXPECT_EQ(proposed.state(), v1::RULE_SET_STATE_PROPOSED);
  EXPECT_EQ(proposed.author(), "alice");
  EXPECT_EQ(proposed.proposed_by(), "alice");
  EXPECT_EQ(proposed.source_commit(), "abc123");
  EXPECT_TRUE(proposed.validation().ok());
  EXPECT_EQ(holder_->Get()->version(), v1_);  // proposing changes nothing

  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion approved,
                                 Approve(v2.substr(0, 10), "bob"));
  EXPECT_EQ(approved.state(), v1::RULE_SET_STATE_APPROVED);
  EXPECT_EQ(approved.approved_by(), "bob");
  EXPECT_EQ(holder_->Get()->version(), v1_);

  clock_.Advance(absl::Minutes(5));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion active, Activate(v2));
  EXPECT_EQ(active.state(), v1::RULE_SET_STATE_ACTIVE);
  EXPECT_EQ(active.activated_by(), "carol");
  EXPECT_EQ(holder_->Get()->version(), v2);
  EXPECT_EQ(Stored(v1_).state(), v1::RULE_SET_STATE_SUPERSEDED);
  EXPECT_THAT(Actions(active),
              ElementsAre("proposed", "approved", "activated"));
  const v1::RuleSetEvent& e = active.history(2);
  EXPECT_EQ(e.actor(), "carol");
  EXPECT_EQ(e.reason(), "go live");
  EXPECT_EQ(e.from_version(), v1_);
  EXPECT_EQ(e.at().seconds(), absl::ToUnixSeconds(clock_.Now()));
  EXPECT_THAT(Actions(Stored(v1_)), ElementsAre("activated", "superseded"));
  EXPECT_EQ(metrics_.Value(kActivationsMetric, {"activated"}), 1);

  // A referral for a medication supply now gets 1 hour.
  const v1::Referral referral = testing::MedicationReferral();
  EXPECT_EQ(holder_->Get()->Triage(referral).urgency(), v1::URGENCY_WITHIN_1H);

  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion back, Rollback(v1_));
  EXPECT_EQ(back.version(), v1_);
  EXPECT_EQ(back.state(), v1::RULE_SET_STATE_ACTIVE);
  EXPECT_EQ(holder_->Get()->version(), v1_);
  EXPECT_EQ(holder_->Get()->Triage(referral).urgency(), v1::URGENCY_WITHIN_2H);
  EXPECT_EQ(Stored(v2).state(), v1::RULE_SET_STATE_SUPERSEDED);
  EXPECT_THAT(Actions(back),
              ElementsAre("activated", "superseded", "rolled_back"));
  EXPECT_EQ(back.history(2).actor(), "dave");
  EXPECT_EQ(back.history(2).reason(), "wrong queue");
  EXPECT_EQ(back.history(2).from_version(), v2);

  // The rollback survives a restart, although the directory still holds
  // the first version... and a directory holding v2 does not bring it back.
  testing::CopyDefaultRules(rules_dir_);
  testing::MedicationWithin1H(rules_dir_);
  StartServer();
  EXPECT_EQ(holder_->Get()->version(), v1_);
  EXPECT_EQ(Count(), 2);

  // And forward again: a superseded version may be activated once more.
  FRONTDOOR_ASSERT_OK(Activate(v2));
  EXPECT_EQ(holder_->Get()->version(), v2);
}

TEST_F(RuleSetManagerTest, ApprovalByTheProposerIsRefused) {
  const std::string dir = Variant("v2", testing::MedicationWithin1H);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, Propose(dir, "alice"));
  EXPECT_THAT(Approve(v.version(), "alice"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("approval must come from someone other than "
                                 "the proposer")));
  EXPECT_THAT(Approve(v.version(), "  ALICE "),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(Stored(v.version()).state(), v1::RULE_SET_STATE_PROPOSED);
  EXPECT_THAT(Actions(Stored(v.version())), ElementsAre("proposed"));
  EXPECT_THAT(Approve(v.version(), ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Someone else may; only once.
  FRONTDOOR_EXPECT_OK(Approve(v.version(), "bob"));
  EXPECT_THAT(Approve(v.version(), "carol"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("only a PROPOSED version")));
  // The active version was never proposed by anyone here.
  EXPECT_THAT(Approve(v1_, "bob"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(RuleSetManagerTest, ActivatingAnUnapprovedVersionIsRefused) {
  const std::string dir = Variant("v2", testing::MedicationWithin1H);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, Propose(dir, "alice"));
  EXPECT_THAT(Activate(v.version()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("must be approved")));
  EXPECT_EQ(holder_->Get()->version(), v1_);
  EXPECT_EQ(Stored(v.version()).state(), v1::RULE_SET_STATE_PROPOSED);
  // Rollback cannot be used to skip approval either.
  EXPECT_THAT(Rollback(v.version()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(holder_->Get()->version(), v1_);
}

TEST_F(RuleSetManagerTest, AFailingRuleSetIsStoredInvalidAndNeverActivated) {
  const std::string dir = Variant("bad", testing::FailingTest);
  absl::StatusOr<v1::RuleSetVersion> v = Propose(dir, "alice");
  EXPECT_THAT(v, StatusIs(absl::StatusCode::kFailedPrecondition,
                          HasSubstr("1 test failing")));
  EXPECT_THAT(v, StatusIs(absl::StatusCode::kFailedPrecondition,
                          HasSubstr("recorded as INVALID version")));
  // Recorded, with its report and a "rejected" event.
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ListRuleSetVersionsResponse list,
      manager_->ListVersions(v1::ListRuleSetVersionsRequest()));
  ASSERT_THAT(list.versions(), SizeIs(2));
  const v1::RuleSetVersion& invalid = list.versions(0);  // newest first
  EXPECT_EQ(invalid.state(), v1::RULE_SET_STATE_INVALID);
  EXPECT_FALSE(invalid.validation().ok());
  EXPECT_EQ(invalid.validation().tests_failed(), 1);
  EXPECT_THAT(Actions(invalid), ElementsAre("proposed", "rejected"));
  EXPECT_FALSE(invalid.has_rule_set());  // lists omit the rule set

  EXPECT_THAT(Approve(invalid.version(), "bob"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Activate(invalid.version(), true),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("can never be activated")));
  EXPECT_THAT(Rollback(invalid.version()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(holder_->Get()->version(), v1_);

  // One that does not even compile is stored under the hash of its files.
  const std::string broken = Variant("broken", testing::BreakSyntax);
  EXPECT_THAT(Propose(broken, "alice"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("does not compile")));
  EXPECT_EQ(Count(), 3);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      list, manager_->ListVersions(v1::ListRuleSetVersionsRequest()));
  EXPECT_EQ(list.versions(0).version(),
            HashRuleFiles(testing::FilesIn(broken)));
  EXPECT_THAT(Activate(list.versions(0).version()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(RuleSetManagerTest, RollingBackToAVersionThatNeverExisted) {
  EXPECT_THAT(Rollback(std::string(64, 'a')),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Rollback("deadbeef"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Rollback("nothex!!"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Rollback(""), StatusIs(absl::StatusCode::kInvalidArgument));
  // To an approved version that was never active: not a rollback.
  const std::string v2 = ApprovedVariant("Second");
  EXPECT_THAT(Rollback(v2), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     HasSubstr("never active")));
  // A reason is required.
  FRONTDOOR_ASSERT_OK(Activate(v2));
  v1::RollbackRuleSetRequest req;
  req.set_to_version(v1_);
  req.set_actor("dave");
  EXPECT_THAT(
      manager_->Rollback(req),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  EXPECT_EQ(holder_->Get()->version(), v2);
}

TEST_F(RuleSetManagerTest, DowngradesFoundByAReplayNeedAcknowledgement) {
  const std::string v2 = ApprovedVariant("Second");
  FRONTDOOR_ASSERT_OK(
      manager_->RecordReplay(v2, 3, "alice", "3 referrals would go down"));
  EXPECT_THAT(Activate(v2), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     HasSubstr("acknowledge")));
  EXPECT_EQ(holder_->Get()->version(), v1_);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, Activate(v2, true));
  EXPECT_EQ(v.known_downgrades(), 3);
  EXPECT_THAT(Actions(v),
              ElementsAre("proposed", "approved", "replayed", "activated"));
  EXPECT_EQ(holder_->Get()->version(), v2);
}

TEST_F(RuleSetManagerTest, ActivatingTheActiveVersionChangesNothing) {
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, Activate(v1_));
  EXPECT_EQ(v.state(), v1::RULE_SET_STATE_ACTIVE);
  EXPECT_THAT(Actions(v), ElementsAre("activated"));
  EXPECT_EQ(holder_->generation(), 0u);
}

TEST_F(RuleSetManagerTest, ValidateStoresNothingAndProposingTwiceIsRefused) {
  const std::string dir = Variant("v2", testing::MedicationWithin1H);
  v1::ValidateRuleSetRequest req;
  for (const v1::RuleFile& f : testing::FilesIn(dir)) *req.add_files() = f;
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::ValidationReport report,
                                 manager_->Validate(req));
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(Count(), 1);
  v1::RuleFile* bad = req.add_files();
  bad->set_name("../escape.yaml");
  EXPECT_THAT(manager_->Validate(req),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("..")));

  FRONTDOOR_ASSERT_OK(Propose(dir, "alice"));
  EXPECT_THAT(Propose(dir, "bob"), StatusIs(absl::StatusCode::kAlreadyExists,
                                            HasSubstr("PROPOSED")));
  EXPECT_THAT(Propose(rules_dir_, "bob"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("ACTIVE")));
  v1::ProposeRuleSetRequest anonymous;
  *anonymous.mutable_files() = req.files();
  EXPECT_THAT(
      manager_->Propose(anonymous),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("author")));
}

TEST_F(RuleSetManagerTest, GetVersionByPrefix) {
  v1::GetRuleSetVersionRequest req;
  req.set_version(v1_.substr(0, 8));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v,
                                 manager_->GetVersion(req));
  EXPECT_EQ(v.version(), v1_);
  EXPECT_TRUE(v.has_rule_set());
  req.set_version(v1_.substr(0, 7));
  EXPECT_THAT(manager_->GetVersion(req),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RuleSetManagerTest, DiffRowsAgainstTheActiveVersion) {
  const std::string dir = Variant("v2", testing::MedicationWithin1H);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, Propose(dir, "alice"));
  v1::DiffRuleSetsRequest req;
  req.set_to_version(v.version().substr(0, 12));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetDiff diff, manager_->DiffRows(req));
  EXPECT_EQ(diff.from_version(), v1_);
  EXPECT_EQ(diff.to_version(), v.version());
  ASSERT_THAT(diff.rows(), SizeIs(1));
  EXPECT_EQ(diff.rows(0).row(), "r77_medication_supply");
}

// Concurrent activations: serialised, each recorded, the last one wins.
TEST_F(RuleSetManagerTest, ConcurrentActivationsAreSerialisedAndRecorded) {
  std::vector<std::string> versions = {v1_, ApprovedVariant("Two"),
                                       ApprovedVariant("Three"),
                                       ApprovedVariant("Four")};
  constexpr int kThreads = 8;
  constexpr int kEach = 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string& id = versions[(t + i) % versions.size()];
        if (!Activate(id).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);

  // Exactly one ACTIVE version: the one in the store's pointer and in the
  // holder.
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::string active, store_->GetActive());
  EXPECT_EQ(holder_->Get()->version(), active);
  int active_count = 0;
  int activated = 0;
  int superseded = 0;
  for (const std::string& id : versions) {
    v1::RuleSetVersion v = Stored(id);
    if (v.state() == v1::RULE_SET_STATE_ACTIVE) {
      ++active_count;
      EXPECT_EQ(id, active);
    } else {
      EXPECT_EQ(v.state(), v1::RULE_SET_STATE_SUPERSEDED);
    }
    // Each version's own history alternates activated / superseded.
    std::string last;
    for (const v1::RuleSetEvent& e : v.history()) {
      if (e.action() != "activated" && e.action() != "superseded") continue;
      EXPECT_NE(e.action(), last) << id;
      last = e.action();
      (e.action() == "activated" ? activated : superseded)++;
    }
  }
  EXPECT_EQ(active_count, 1);
  // Every activation that changed something superseded the one before.
  EXPECT_EQ(activated, superseded + 1);
  EXPECT_EQ(static_cast<uint64_t>(superseded), holder_->generation());
}

// --- Hot reload ---------------------------------------------------------

TEST_F(RuleSetManagerTest, HotReloadActivatesACleanChange) {
  testing::MedicationWithin1H(rules_dir_);
  ReloadResult r = manager_->Reload(testing::FilesIn(rules_dir_), rules_dir_);
  EXPECT_EQ(r.outcome, ReloadResult::Outcome::kActivated) << r.message;
  EXPECT_EQ(holder_->Get()->version(), r.version);
  v1::RuleSetVersion v = Stored(r.version);
  EXPECT_EQ(v.state(), v1::RULE_SET_STATE_ACTIVE);
  EXPECT_EQ(v.author(), "hot-reload");
  EXPECT_THAT(Actions(v), ElementsAre("proposed", "approved", "reloaded"));
  EXPECT_EQ(metrics_.Value(kReloadTotalMetric, {"ok"}), 1);
  EXPECT_EQ(metrics_.Value(kReloadLastErrorMetric, {}), 0);

  // The same content again changes nothing.
  r = manager_->Reload(testing::FilesIn(rules_dir_), rules_dir_);
  EXPECT_EQ(r.outcome, ReloadResult::Outcome::kUnchanged);
  EXPECT_EQ(holder_->generation(), 1u);
}

TEST_F(RuleSetManagerTest, HotReloadNeverReplacesTheGoodSetWithABrokenOne) {
  testing::FailingTest(rules_dir_);
  ReloadResult r = manager_->Reload(testing::FilesIn(rules_dir_), rules_dir_);
  EXPECT_EQ(r.outcome, ReloadResult::Outcome::kInvalid);
  EXPECT_THAT(r.message, HasSubstr("test failing"));
  EXPECT_EQ(holder_->Get()->version(), v1_);
  v1::RuleSetVersion v = Stored(r.version);
  EXPECT_EQ(v.state(), v1::RULE_SET_STATE_INVALID);
  EXPECT_THAT(Actions(v), ElementsAre("proposed", "rejected"));
  EXPECT_EQ(metrics_.Value(kReloadTotalMetric, {"invalid"}), 1);
  EXPECT_EQ(metrics_.Value(kReloadLastErrorMetric, {}), 1);

  // Fixed: the next change goes live and clears the error.
  testing::Edit(rules_dir_, "70-primary-care.test.yaml",
                "urgency: WITHIN_2H, fired: [primary_care/r77",
                "urgency: WITHIN_1H, fired: [primary_care/r77");
  r = manager_->Reload(testing::FilesIn(rules_dir_), rules_dir_);
  EXPECT_EQ(r.outcome, ReloadResult::Outcome::kActivated) << r.message;
  EXPECT_EQ(metrics_.Value(kReloadLastErrorMetric, {}), 0);
}

TEST_F(RuleSetManagerTest, WithRequireApprovalHotReloadOnlyProposes) {
  StartServer(/*require_approval=*/true);
  testing::MedicationWithin1H(rules_dir_);
  ReloadResult r = manager_->Reload(testing::FilesIn(rules_dir_), rules_dir_);
  EXPECT_EQ(r.outcome, ReloadResult::Outcome::kWaiting) << r.message;
  EXPECT_EQ(holder_->Get()->version(), v1_);
  EXPECT_EQ(Stored(r.version).state(), v1::RULE_SET_STATE_PROPOSED);
  EXPECT_EQ(Stored(r.version).proposed_by(), "hot-reload");
  // A person approves, another (or the same) activates.
  FRONTDOOR_ASSERT_OK(Approve(r.version, "safety-officer"));
  FRONTDOOR_ASSERT_OK(Activate(r.version));
  EXPECT_EQ(holder_->Get()->version(), r.version);
}

TEST_F(RuleSetManagerTest, ARestartWithANewDirectoryIsAHotReload) {
  const std::string v2 = ApprovedVariant("Second");
  FRONTDOOR_ASSERT_OK(Activate(v2));
  // Down, the directory is replaced by a new rule set: it goes live at start.
  testing::MedicationWithin1H(rules_dir_);
  StartServer();
  const std::string v3 = holder_->Get()->version();
  EXPECT_NE(v3, v2);
  EXPECT_NE(v3, v1_);
  EXPECT_EQ(Stored(v3).state(), v1::RULE_SET_STATE_ACTIVE);
  EXPECT_EQ(Stored(v2).state(), v1::RULE_SET_STATE_SUPERSEDED);
  // A broken one does not: the stored active version runs.
  testing::CopyDefaultRules(rules_dir_);
  testing::FailingTest(rules_dir_);
  StartServer();
  EXPECT_EQ(holder_->Get()->version(), v3);
}

// --- The watcher: a rules directory changed mid-write --------------------

class RulesWatcherTest : public RuleSetManagerTest {
 protected:
  void SetUp() override {
    RuleSetManagerTest::SetUp();
    watcher_ = std::make_unique<RulesWatcher>(
        rules_dir_, absl::Milliseconds(20),
        [this](const std::vector<v1::RuleFile>& files) {
          last_ = manager_->Reload(files, rules_dir_);
          ++reloads_;
        });
    watcher_->SetBaseline();
  }
  void TearDown() override { watcher_.reset(); }

  std::unique_ptr<RulesWatcher> watcher_;
  ReloadResult last_;
  std::atomic<int> reloads_{0};
};

TEST_F(RulesWatcherTest, NothingHappensWithoutAChange) {
  EXPECT_FALSE(watcher_->PollOnce());
  EXPECT_FALSE(watcher_->PollOnce());
  EXPECT_EQ(reloads_.load(), 0);
}

TEST_F(RulesWatcherTest, AChangeIsTakenOnlyOnceTwoPollsAgree) {
  const std::string path = rules_dir_ + "/70-primary-care.rules.yaml";
  const std::string before = testing::ReadText(path);
  testing::MedicationWithin1H(rules_dir_);
  const std::string after = testing::ReadText(path);
  // The file is written in two steps, with a poll in between: the first
  // half is seen once, then the whole file, and only the whole file is
  // handed on.
  testing::WriteText(path, after.substr(0, after.size() / 2));
  EXPECT_FALSE(watcher_->PollOnce());  // half a file: pending
  testing::WriteText(path, after);
  EXPECT_FALSE(watcher_->PollOnce());  // changed again: pending
  EXPECT_TRUE(watcher_->PollOnce());   // stable
  EXPECT_EQ(reloads_.load(), 1);
  EXPECT_EQ(last_.outcome, ReloadResult::Outcome::kActivated) << last_.message;
  EXPECT_NE(holder_->Get()->version(), v1_);
  EXPECT_EQ(Count(), 2);  // the half-written file was never recorded
  EXPECT_FALSE(watcher_->PollOnce());
  EXPECT_EQ(reloads_.load(), 1);
}

TEST_F(RulesWatcherTest,
       AHalfWrittenFileThatStaysIsRejectedAndTheGoodSetStays) {
  const std::string path = rules_dir_ + "/70-primary-care.rules.yaml";
  const std::string whole = testing::ReadText(path);
  // The writer stalls half way for longer than two polls.
  testing::WriteText(path, whole.substr(0, whole.size() / 2));
  EXPECT_FALSE(watcher_->PollOnce());
  EXPECT_TRUE(watcher_->PollOnce());
  EXPECT_EQ(last_.outcome, ReloadResult::Outcome::kInvalid);
  EXPECT_EQ(holder_->Get()->version(), v1_);
  EXPECT_EQ(metrics_.Value(kReloadLastErrorMetric, {}), 1);
  // Reported once, not at every poll.
  EXPECT_FALSE(watcher_->PollOnce());
  EXPECT_FALSE(watcher_->PollOnce());
  EXPECT_EQ(reloads_.load(), 1);
  // The writer finishes (with a real change): it goes live.
  testing::WriteText(path, whole);
  testing::MedicationWithin1H(rules_dir_);
  EXPECT_FALSE(watcher_->PollOnce());
  EXPECT_TRUE(watcher_->PollOnce());
  EXPECT_EQ(last_.outcome, ReloadResult::Outcome::kActivated) << last_.message;
  EXPECT_EQ(metrics_.Value(kReloadLastErrorMetric, {}), 0);
  // Back to the original content: a known version, activated again.
  testing::WriteText(path, whole);
  testing::CopyDefaultRules(rules_dir_);
  EXPECT_FALSE(watcher_->PollOnce());
  EXPECT_TRUE(watcher_->PollOnce());
  EXPECT_EQ(last_.outcome, ReloadResult::Outcome::kActivated) << last_.message;
  EXPECT_EQ(holder_->Get()->version(), v1_);
}

// A ConfigMap update, with the watcher on its own thread: the files link
// through ..data, and the update swaps ..data to a new directory at once.
TEST_F(RulesWatcherTest, AConfigMapSymlinkSwapIsPickedUp) {
  watcher_.reset();
  const std::string mount = tmp_.Sub("configmap");
  testing::CopyDefaultRules(mount + "/..2024_01_01");
  std::filesystem::create_directory_symlink("..2024_01_01", mount + "/..data");
  for (const auto& e : std::filesystem::directory_iterator(mount + "/..data")) {
    const std::string name = e.path().filename().string();
    std::filesystem::create_symlink("..data/" + name, mount + "/" + name);
  }
  watcher_ = std::make_unique<RulesWatcher>(
      mount, absl::Milliseconds(20),
      [this, mount](const std::vector<v1::RuleFile>& files) {
        last_ = manager_->Reload(files, mount);
        ++reloads_;
      });
  watcher_->SetBaseline();
  watcher_->Start();

  // Kubernetes writes the new files into a fresh directory, then renames a
  // new symlink over ..data.
  const std::string next = mount + "/..2024_01_02";
  testing::CopyDefaultRules(next);
  testing::MedicationWithin1H(next);
  std::filesystem::create_directory_symlink("..2024_01_02",
                                            mount + "/..data_tmp");
  std::filesystem::rename(mount + "/..data_tmp", mount + "/..data");

  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (reloads_.load() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  watcher_->Stop();
  ASSERT_EQ(reloads_.load(), 1);
  EXPECT_EQ(last_.outcome, ReloadResult::Outcome::kActivated) << last_.message;
  EXPECT_NE(holder_->Get()->version(), v1_);
  EXPECT_GE(watcher_->polls(), 2);
}

}  // namespace
}  // namespace frontdoor::rulesets
