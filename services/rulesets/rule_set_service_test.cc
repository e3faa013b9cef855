#include "services/rulesets/rule_set_service.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "frontdoor/v1/triage_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/auth/client.h"
#include "services/auth/identities.h"
#include "services/common/grpc_status.h"
#include "services/common/metrics.h"
#include "services/common/test_grpc_server.h"
#include "services/common/test_util.h"
#include "services/rulesets/rule_set_test_util.h"
#include "services/triage/engine/loader.h"
#include "services/triage/triage_service.h"
#include "storage/rule_set_store.h"

namespace frontdoor::rulesets {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using testing::TempDir;

// TriageService and RuleSetService over one rule set holder, on a real
// gRPC server (TCP on localhost).
class RuleSetServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_dir_ = tmp_.Sub("rules");
    testing::CopyDefaultRules(rules_dir_);
    rules::Diagnostics diags;
    auto loaded = rules::LoadRuleSet(rules_dir_, rules::LoadOptions(), &diags);
    ASSERT_NE(loaded, nullptr);
    v1_ = loaded->version();
    holder_ = std::make_unique<triage::RuleSetHolder>(loaded);
    storage::RuleSetStore::Options store_options;
    store_options.path = tmp_.Sub("store");
    FRONTDOOR_ASSERT_OK_AND_ASSIGN(store_,
                                   storage::RuleSetStore::Open(store_options));
    ManagerOptions options;
    options.metrics = &metrics_;
    options.on_swap = [this](absl::Duration d) {
      absl::MutexLock lock(&swaps_mu_);
      swaps_.push_back(d);
    };
    manager_ =
        std::make_unique<RuleSetManager>(store_.get(), holder_.get(), options);
    FRONTDOOR_ASSERT_OK(manager_->Start(rules_dir_));
    MakeIdentities();
    triage_ = std::make_unique<triage::TriageServiceImpl>(
        holder_.get(), RealClock::Get(), &metrics_, authorizer_.get());
    RuleSetServiceImpl::Options service_options;
    service_options.triage = triage_.get();
    service_options.replay_source =
        [this](const v1::ReplayRequest&) -> ReplaySource {
      return with_store_ ? RecordsSource(&records_) : nullptr;
    };
    service_options.referral_count = [this] {
      return static_cast<int64_t>(records_.size());
    };
    service_ = std::make_unique<RuleSetServiceImpl>(
        manager_.get(), authorizer_.get(), service_options);

    server_ = frontdoor::testing::StartLocalServer(
        {triage_.get(), service_.get()}, &address_);
    ASSERT_NE(server_, nullptr);
    channel_ = ChannelAs("carol");
    rulesets_ = v1::RuleSetService::NewStub(channel_);
    triage_stub_ = v1::TriageService::NewStub(channel_);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  template <typename Req, typename Resp>
  using Method = grpc::Status (v1::RuleSetService::Stub::*)(
      grpc::ClientContext*, const Req&, Resp*);

  // Callers: alice, bob, carol and dave are safety officers (they may do
  // everything), erin a rule author, frank a clinician.
  void MakeIdentities() {
    v1::IdentityFile file;
    for (const auto& [name, role] :
         std::vector<std::pair<std::string, v1::Role>>{
             {"alice", v1::ROLE_SAFETY_OFFICER},
             {"bob", v1::ROLE_SAFETY_OFFICER},
             {"carol", v1::ROLE_SAFETY_OFFICER},
             {"dave", v1::ROLE_SAFETY_OFFICER},
             {"erin", v1::ROLE_RULE_AUTHOR},
             {"frank", v1::ROLE_CLINICIAN}}) {
      FRONTDOOR_ASSERT_OK_AND_ASSIGN(auth::NewToken t, auth::GenerateToken());
      tokens_[name] = t.token;
      v1::Identity* id = file.add_identities();
      id->set_principal(name);
      id->set_role(role);
      id->set_token_sha256(t.sha256_hex);
    }
    identities_ = auth::IdentityStore::FromProto(file);
    authorizer_ =
        std::make_unique<auth::Authorizer>(identities_.get(), RealClock::Get());
  }
  std::shared_ptr<grpc::Channel> ChannelAs(
      const std::string& name,
      const grpc::ChannelArguments& args = grpc::ChannelArguments()) {
    return auth::CreateChannelWithToken(
        address_, grpc::InsecureChannelCredentials(), args, tokens_.at(name));
  }

  // Calls `method` as `as` (the caller the server records).
  template <typename Req, typename Resp>
  absl::StatusOr<Resp> Call(Method<Req, Resp> method, const Req& req,
                            const std::string& as = "carol") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    Resp resp;
    auto stub = v1::RuleSetService::NewStub(ChannelAs(as));
    grpc::Status s = ((*stub).*method)(&ctx, req, &resp);
    if (!s.ok()) return FromGrpcStatus(s);
    return resp;
  }

  absl::StatusOr<v1::RuleSetVersion> Propose(const std::string& dir,
                                             const std::string& author) {
    v1::ProposeRuleSetRequest req;
    for (const v1::RuleFile& f : testing::FilesIn(dir)) *req.add_files() = f;
    req.set_author(author);
    return Call(&v1::RuleSetService::Stub::Propose, req, author);
  }
  absl::StatusOr<v1::RuleSetVersion> Approve(const std::string& version,
                                             const std::string& approver) {
    v1::ApproveRuleSetRequest req;
    req.set_version(version);
    req.set_approver(approver);
    return Call(&v1::RuleSetService::Stub::Approve, req, approver);
  }
  absl::StatusOr<v1::RuleSetVersion> Activate(const std::string& version) {
    v1::ActivateRuleSetRequest req;
    req.set_version(version);
    req.set_actor("carol");
    req.set_reason("go live");
    return Call(&v1::RuleSetService::Stub::Activate, req);
  }
  absl::StatusOr<v1::RuleSetVersion> Rollback(const std::string& version) {
    v1::RollbackRuleSetRequest req;
    req.set_to_version(version);
    req.set_actor("dave");
    req.set_reason("back");
    return Call(&v1::RuleSetService::Stub::Rollback, req, "dave");
  }

  absl::StatusOr<v1::TriageDecision> Triage(const v1::Referral& referral) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    v1::TriageRequest req;
    *req.mutable_referral() = referral;
    v1::TriageDecision decision;
    grpc::Status s = triage_stub_->Triage(&ctx, req, &decision);
    if (!s.ok()) return FromGrpcStatus(s);
    return decision;
  }

  // A second rule set: medication supply within 1 hour.
  std::string ApprovedV2() {
    const std::string dir = tmp_.Sub("v2");
    testing::CopyDefaultRules(dir);
    testing::MedicationWithin1H(dir);
    absl::StatusOr<v1::RuleSetVersion> v = Propose(dir, "alice");
    EXPECT_THAT(v, IsOk());
    if (!v.ok()) return "";
    EXPECT_THAT(Approve(v->version(), "bob"), IsOk());
    return v->version();
  }

  TempDir tmp_;
  std::string rules_dir_;
  std::string v1_;
  Metrics metrics_;
  std::unique_ptr<triage::RuleSetHolder> holder_;
  std::unique_ptr<storage::RuleSetStore> store_;
  std::unique_ptr<RuleSetManager> manager_;
  std::unique_ptr<triage::TriageServiceImpl> triage_;
  std::unique_ptr<RuleSetServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::map<std::string, std::string> tokens_;  // principal -> bearer token
  std::unique_ptr<auth::IdentityStore> identities_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RuleSetService::Stub> rulesets_;
  std::unique_ptr<v1::TriageService::Stub> triage_stub_;
  absl::Mutex swaps_mu_;
  std::vector<absl::Duration> swaps_ ABSL_GUARDED_BY(swaps_mu_);
  // The "stored referrals" replay reads.
  bool with_store_ = true;
  std::vector<v1::ReferralRecord> records_;
};

// Propose -> approve -> activate -> decisions use the new version ->
// rollback -> the old version again; each decision names its version.
TEST_F(RuleSetServiceTest, HappyPathEachDecisionNamesItsVersion) {
  const v1::Referral referral = testing::MedicationReferral();
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::TriageDecision before, Triage(referral));
  EXPECT_EQ(before.rule_set_version(), v1_);
  EXPECT_EQ(before.urgency(), v1::URGENCY_WITHIN_2H);

  const std::string v2 = ApprovedV2();
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::TriageDecision still, Triage(referral));
  EXPECT_EQ(still.rule_set_version(), v1_);  // approved is not active

  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion active, Activate(v2));
  EXPECT_EQ(active.state(), v1::RULE_SET_STATE_ACTIVE);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::TriageDecision after, Triage(referral));
  EXPECT_EQ(after.rule_set_version(), v2);
  EXPECT_EQ(after.urgency(), v1::URGENCY_WITHIN_1H);

  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion got,
                                 Call(&v1::RuleSetService::Stub::GetActive,
                                      v1::GetActiveRuleSetRequest()));
  EXPECT_EQ(got.version(), v2);
  EXPECT_TRUE(got.has_rule_set());

  FRONTDOOR_ASSERT_OK(Rollback(v1_));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::TriageDecision back, Triage(referral));
  EXPECT_EQ(back.rule_set_version(), v1_);
  EXPECT_EQ(back.urgency(), v1::URGENCY_WITHIN_2H);

  v1::ListRuleSetVersionsRequest list_req;
  list_req.set_page_size(1);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ListRuleSetVersionsResponse page,
      Call(&v1::RuleSetService::Stub::ListVersions, list_req));
  ASSERT_THAT(page.versions(), SizeIs(1));
  EXPECT_EQ(page.versions(0).version(), v2);  // newest first
  EXPECT_EQ(page.versions(0).state(), v1::RULE_SET_STATE_SUPERSEDED);
  EXPECT_FALSE(page.next_page_token().empty());

  v1::DiffRuleSetsRequest diff_req;
  diff_req.set_from_version(v1_.substr(0, 8));
  diff_req.set_to_version(v2.substr(0, 8));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::RuleSetDiff diff, Call(&v1::RuleSetService::Stub::Diff, diff_req));
  ASSERT_THAT(diff.rows(), SizeIs(1));
  EXPECT_EQ(diff.rows(0).table(), "primary_care");
}

TEST_F(RuleSetServiceTest, BadInputsGetClearCodes) {
  const std::string dir = tmp_.Sub("v2");
  testing::CopyDefaultRules(dir);
  testing::MedicationWithin1H(dir);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, Propose(dir, "alice"));
  EXPECT_THAT(Approve(v.version(), "alice"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("approval must come from someone other than "
                                 "the proposer")));
  EXPECT_THAT(Activate(v.version()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Rollback(std::string(64, 'e')),
              StatusIs(absl::StatusCode::kNotFound));

  const std::string bad = tmp_.Sub("bad");
  testing::CopyDefaultRules(bad);
  testing::FailingTest(bad);
  EXPECT_THAT(
      Propose(bad, "alice"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("INVALID")));

  v1::ValidateRuleSetRequest validate;
  v1::RuleFile* f = validate.add_files();
  f->set_name("../../etc/cron.d/x.yaml");
  EXPECT_THAT(Call(&v1::RuleSetService::Stub::Validate, validate),
              StatusIs(absl::StatusCode::kInvalidArgument));
  v1::GetRuleSetVersionRequest get;
  get.set_version("abc");
  EXPECT_THAT(
      Call(&v1::RuleSetService::Stub::GetVersion, get),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too short")));
}

TEST_F(RuleSetServiceTest, ValidateReportsWithoutStoring) {
  const std::string bad = tmp_.Sub("bad");
  testing::CopyDefaultRules(bad);
  testing::FailingTest(bad);
  v1::ValidateRuleSetRequest req;
  for (const v1::RuleFile& f : testing::FilesIn(bad)) *req.add_files() = f;
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ValidationReport report,
      Call(&v1::RuleSetService::Stub::Validate, req));
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.tests_failed(), 1);
  EXPECT_THAT(report.test_failures(0), HasSubstr("70-primary-care.test.yaml"));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(int64_t n, store_->Count());
  EXPECT_EQ(n, 1);
}

// Issue 4: 100 activations under 64 concurrent callers: zero failed calls,
// each swap well under a millisecond (times are printed, not asserted).
TEST_F(RuleSetServiceTest, ActivationsUnderLoadFailNoCall) {
  const std::string v2 = ApprovedV2();
  constexpr int kCallers = 64;
  constexpr int kActivations = 100;
  const v1::Referral referral = testing::MedicationReferral();

  // A few channels, so the callers are not all on one HTTP/2 connection.
  std::vector<std::unique_ptr<v1::TriageService::Stub>> stubs;
  for (int i = 0; i < 8; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", i);  // distinct channels
    stubs.push_back(v1::TriageService::NewStub(ChannelAs("carol", args)));
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> wrong{0};  // a decision that does not fit its version
  std::atomic<int64_t> on_v2{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < kCallers; ++t) {
    callers.emplace_back([&, t] {
      v1::TriageService::Stub* stub = stubs[t % stubs.size()].get();
      v1::TriageRequest req;
      *req.mutable_referral() = referral;
      while (!stop.load()) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
        v1::TriageDecision d;
        grpc::Status s = stub->Triage(&ctx, req, &d);
        ++calls;
        if (!s.ok()) {
          ++failed;
          continue;
        }
        // Each decision is whole: made by one version, and that version's.
        const bool is_v2 = d.rule_set_version() == v2;
        if (is_v2) ++on_v2;
        const v1::Urgency expected =
            is_v2 ? v1::URGENCY_WITHIN_1H : v1::URGENCY_WITHIN_2H;
        if (d.urgency() != expected ||
            (!is_v2 && d.rule_set_version() != v1_)) {
          ++wrong;
        }
      }
    });
  }
  // Let the callers get going.
  while (calls.load() < 500) absl::SleepFor(absl::Milliseconds(5));

  std::vector<absl::Duration> rpc;
  int activation_failures = 0;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kActivations; ++i) {
    const absl::Time t0 = absl::Now();
    if (!Activate(i % 2 == 0 ? v2 : v1_).ok()) ++activation_failures;
    rpc.push_back(absl::Now() - t0);
  }
  const absl::Duration took = absl::Now() - start;
  stop.store(true);
  for (std::thread& t : callers) t.join();

  EXPECT_EQ(activation_failures, 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(on_v2.load(), 0);
  EXPECT_EQ(holder_->generation(), static_cast<uint64_t>(kActivations));

  std::vector<absl::Duration> swaps;
  {
    absl::MutexLock lock(&swaps_mu_);
    swaps = swaps_;
  }
  ASSERT_EQ(swaps.size(), static_cast<size_t>(kActivations));
  std::sort(swaps.begin(), swaps.end());
  std::sort(rpc.begin(), rpc.end());
  std::printf(
      "[ swaps    ] %d activations under %d callers in %.2f s: swap p50 "
      "%.1f us, max %.1f us; Activate RPC p50 %.2f ms, max %.2f ms\n"
      "[ callers  ] %lld Triage calls, %lld failed, %lld on the second "
      "version\n",
      kActivations, kCallers, absl::ToDoubleSeconds(took),
      absl::ToDoubleMicroseconds(swaps[swaps.size() / 2]),
      absl::ToDoubleMicroseconds(swaps.back()),
      absl::ToDoubleMilliseconds(rpc[rpc.size() / 2]),
      absl::ToDoubleMilliseconds(rpc.back()),
      static_cast<long long>(calls.load()),
      static_cast<long long>(failed.load()),
      static_cast<long long>(on_v2.load()));
}

// Replay streams progress and then its report; the downgrades it finds are
// recorded on the candidate, whose activation then needs acknowledgement.
TEST_F(RuleSetServiceTest, ReplayReportsAndRecordsDowngrades) {
  for (int i = 0; i < 300; ++i) {
    v1::ReferralRecord& r = records_.emplace_back();
    r.set_id(absl::StrCat("ref-", i));
    *r.mutable_referral() = testing::MedicationReferral();
    *r.mutable_received_at() = r.referral().received_at();
    r.set_pathway(v1::PATHWAY_PRIMARY_CARE);
  }
  const std::string dir = tmp_.Sub("slower");
  testing::CopyDefaultRules(dir);
  testing::MedicationWithin4H(dir);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, Propose(dir, "alice"));
  FRONTDOOR_ASSERT_OK(Approve(v.version(), "bob"));

  grpc::ClientContext ctx;
  v1::ReplayRequest req;
  req.set_candidate_version(v.version().substr(0, 8));
  std::unique_ptr<grpc::ClientReader<v1::ReplayProgress>> reader =
      rulesets_->Replay(&ctx, req);
  v1::ReplayProgress progress;
  int messages = 0;
  v1::ReplayReport report;
  while (reader->Read(&progress)) {
    ++messages;
    EXPECT_LE(progress.done(), 300);
    if (progress.has_report()) report = progress.report();
  }
  ASSERT_THAT(FromGrpcStatus(reader->Finish()), IsOk());
  EXPECT_GE(messages, 1);
  EXPECT_EQ(report.referrals(), 300);
  EXPECT_EQ(report.downgrades(), 300);
  EXPECT_EQ(report.candidate_version(), v.version());
  EXPECT_EQ(report.active_version(), v1_);

  FRONTDOOR_ASSERT_OK_AND_ASSIGN(int64_t n, store_->Count());
  EXPECT_EQ(n, 2);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion stored,
                                 store_->GetSummary(v.version()));
  EXPECT_EQ(stored.known_downgrades(), 300);
  EXPECT_EQ(stored.history(stored.history_size() - 1).action(), "replayed");
  EXPECT_THAT(Activate(v.version()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("acknowledge")));
  v1::ActivateRuleSetRequest ack;
  ack.set_version(v.version());
  ack.set_actor("carol");
  ack.set_reason("the 4 hours are agreed with primary care");
  ack.set_acknowledge_downgrades(true);
  FRONTDOOR_ASSERT_OK(Call(&v1::RuleSetService::Stub::Activate, ack));
}

TEST_F(RuleSetServiceTest, ReplayOnAnEmptyStoreAndWithoutOne) {
  auto replay = [&](const std::string& candidate, v1::ReplayReport* report) {
    grpc::ClientContext ctx;
    v1::ReplayRequest req;
    req.set_candidate_version(candidate);
    auto reader = rulesets_->Replay(&ctx, req);
    v1::ReplayProgress p;
    while (reader->Read(&p)) {
      if (p.has_report()) *report = p.report();
    }
    return FromGrpcStatus(reader->Finish());
  };
  v1::ReplayReport report;
  // An empty store: a report of nothing, not an error.
  FRONTDOOR_ASSERT_OK(replay(v1_, &report));
  EXPECT_EQ(report.referrals(), 0);
  EXPECT_EQ(report.changed(), 0);
  EXPECT_THAT(replay("", &report),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(replay(std::string(64, 'f'), &report),
              StatusIs(absl::StatusCode::kNotFound));
  with_store_ = false;
  EXPECT_THAT(replay(v1_, &report),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("referral store")));
}

// Shadow evaluation of a candidate on live Triage traffic.
TEST_F(RuleSetServiceTest, ShadowCountsDifferencesOnLiveTraffic) {
  EXPECT_THAT(Call(&v1::RuleSetService::Stub::GetShadowReport,
                   v1::GetShadowReportRequest()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  const std::string dir = tmp_.Sub("slower");
  testing::CopyDefaultRules(dir);
  testing::MedicationWithin4H(dir);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, Propose(dir, "alice"));

  v1::SetShadowRequest set;
  set.set_candidate_version(v.version());
  set.set_actor("alice");
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ShadowReport started,
      Call(&v1::RuleSetService::Stub::SetShadow, set));
  EXPECT_EQ(started.candidate_version(), v.version());
  for (int i = 0; i < 20; ++i) {
    FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::TriageDecision d,
                                   Triage(testing::MedicationReferral()));
    EXPECT_EQ(d.rule_set_version(), v1_);  // the active set decides
  }
  v1::ShadowReport report;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    FRONTDOOR_ASSERT_OK_AND_ASSIGN(
        report, Call(&v1::RuleSetService::Stub::GetShadowReport,
                     v1::GetShadowReportRequest()));
  } while (report.evaluated() < 20 && absl::Now() < deadline &&
           (absl::SleepFor(absl::Milliseconds(10)), true));
  EXPECT_EQ(report.evaluated(), 20);
  EXPECT_EQ(report.differed(), 20);
  EXPECT_EQ(report.downgrades(), 20);
  EXPECT_EQ(report.active_version(), v1_);

  set.set_candidate_version("");
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::ShadowReport stopped,
      Call(&v1::RuleSetService::Stub::SetShadow, set));
  EXPECT_EQ(stopped.evaluated(), 20);
  FRONTDOOR_ASSERT_OK(Triage(testing::MedicationReferral()));
  EXPECT_THAT(Call(&v1::RuleSetService::Stub::GetShadowReport,
                   v1::GetShadowReportRequest()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(RuleSetServiceTest, RolesAndTheRecordedCallerComeFromTheToken) {
  const std::string dir = tmp_.Sub("v2");
  testing::CopyDefaultRules(dir);
  testing::MedicationWithin1H(dir);
  v1::ProposeRuleSetRequest propose;
  for (const v1::RuleFile& f : testing::FilesIn(dir)) *propose.add_files() = f;
  propose.set_author("someone-else");  // the token decides, not this
  EXPECT_EQ(Call(&v1::RuleSetService::Stub::Propose, propose, "frank")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::RuleSetVersion v,
      Call(&v1::RuleSetService::Stub::Propose, propose, "erin"));
  EXPECT_EQ(v.proposed_by(), "erin");
  v1::ApproveRuleSetRequest approve;
  approve.set_version(v.version());
  approve.set_approver("bob");
  // A rule author cannot approve, even someone else's proposal.
  EXPECT_EQ(
      Call(&v1::RuleSetService::Stub::Approve, approve, "erin").status().code(),
      absl::StatusCode::kPermissionDenied);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      v1::RuleSetVersion approved,
      Call(&v1::RuleSetService::Stub::Approve, approve, "alice"));
  EXPECT_EQ(approved.approved_by(), "alice");
}

}  // namespace
}  // namespace frontdoor::rulesets
