// The rule set lifecycle in a whole frontdoor-server started in-process.

#include "services/server/rule_set_wiring.h"

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "frontdoor/v1/referral_service.grpc.pb.h"
#include "frontdoor/v1/rule_set_service.grpc.pb.h"
#include "frontdoor/v1/triage_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/common/grpc_status.h"
#include "services/common/test_util.h"
#include "services/rulesets/rule_set_manager.h"
#include "services/rulesets/rule_set_test_util.h"
#include "services/server/server.h"
#include "services/triage/engine/explain.h"
#include "services/triage/rule_set_holder.h"
#include "services/auth/test_identities.h"

namespace frontdoor::server {
namespace {

using rulesets::testing::TempDir;
using ::testing::HasSubstr;
namespace rt = rulesets::testing;

class RuleSetWiringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_dir_ = tmp_.Sub("rules");
    rt::CopyDefaultRules(rules_dir_);
  }

  ServerOptions Options() {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.http_listen = "";
    o.data_dir = tmp_.Sub("data");
    o.rules_dir = rules_dir_;
    o.roles = *ParseRoles("triage");
    o.rules_poll = absl::Milliseconds(20);
    o.shutdown_grace = absl::Seconds(1);
    o.tokens_file = frontdoor::testing::TestIdentities::Shared().file();
    return o;
  }

  void StartServer(const ServerOptions& options) {
    server_.reset();
    absl::StatusOr<std::unique_ptr<FrontdoorServer>> started =
        FrontdoorServer::Start(options);
    ASSERT_THAT(started, IsOk());
    server_ = *std::move(started);
    // Safety officers may do everything with rule sets (and triage).
    auto channel = frontdoor::testing::TestIdentities::Shared().Channel(
        server_->grpc_address(), v1::ROLE_SAFETY_OFFICER);
    rulesets_ = v1::RuleSetService::NewStub(channel);
    triage_ = v1::TriageService::NewStub(channel);
  }

  std::string Active() { return server_->rule_set_holder()->Get()->version(); }

  // Waits (up to 20 s) until `done` holds.
  bool WaitFor(const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return true;
  }

  template <typename Req, typename Resp>
  absl::Status Call(grpc::Status (v1::RuleSetService::Stub::*method)(
                        grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    return FromGrpcStatus(((*rulesets_).*method)(&ctx, req, resp));
  }

  // Proposes (as alice) the default rules changed by `edit` in a copy under
  // `name`.
  absl::Status ProposeEdited(const std::string& name,
                             void (*edit)(const std::string&),
                             v1::RuleSetVersion* version) {
    const std::string dir = tmp_.Sub(name);
    rt::CopyDefaultRules(dir);
    edit(dir);
    v1::ProposeRuleSetRequest propose;
    for (const v1::RuleFile& f : rt::FilesIn(dir)) *propose.add_files() = f;
    propose.set_author("alice");
    return Call(&v1::RuleSetService::Stub::Propose, propose, version);
  }

  // Submits the medication referral, received now, for one of two patients
  // (by the parity of `i`).
  static absl::Status SubmitMedication(v1::ReferralService::Stub* referrals,
                                       const std::string& request_id, int i,
                                       v1::SubmitReferralResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    v1::SubmitReferralRequest req;
    req.set_request_id(request_id);
    *req.mutable_referral() = rt::MedicationReferral();
    req.mutable_referral()->clear_received_at();
    req.mutable_referral()->mutable_patient()->set_nhs_number(
        i % 2 == 0 ? "9990000034" : "9990000026");
    return FromGrpcStatus(referrals->SubmitReferral(&ctx, req, resp));
  }

  v1::TriageDecision Triage() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    v1::TriageRequest req;
    *req.mutable_referral() = rt::MedicationReferral();
    v1::TriageDecision d;
    EXPECT_TRUE(triage_->Triage(&ctx, req, &d).ok());
    return d;
  }

  TempDir tmp_;
  std::string rules_dir_;
  std::unique_ptr<FrontdoorServer> server_;
  std::unique_ptr<v1::RuleSetService::Stub> rulesets_;
  std::unique_ptr<v1::TriageService::Stub> triage_;
};

TEST_F(RuleSetWiringTest, TheTriageRoleHostsRuleSetServiceWithTheFirstVersion) {
  StartServer(Options());
  v1::RuleSetVersion active;
  ASSERT_THAT(Call(&v1::RuleSetService::Stub::GetActive,
                   v1::GetActiveRuleSetRequest(), &active),
              IsOk());
  EXPECT_EQ(active.version(), Active());
  EXPECT_EQ(active.author(), "bootstrap");
  EXPECT_TRUE(std::filesystem::exists(tmp_.Sub("data/rulesets")));

  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(v1::RuleSetService::service_full_name());
  grpc::health::v1::HealthCheckResponse resp;
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      server_->grpc_address(), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(RuleSetWiringTest, HotReloadActivatesCleanChangesAndKeepsTheGoodSet) {
  StartServer(Options());
  const std::string v1 = Active();
  EXPECT_EQ(Triage().urgency(), v1::URGENCY_WITHIN_2H);

  // A broken change: reported, never active; the service keeps serving.
  rt::FailingTest(rules_dir_);
  ASSERT_TRUE(WaitFor([&] {
    return server_->metrics()->Value(rulesets::kReloadLastErrorMetric, {}) == 1;
  }));
  EXPECT_EQ(Active(), v1);
  EXPECT_EQ(Triage().rule_set_version(), v1);
  EXPECT_TRUE(server_->serving());
  v1::ListRuleSetVersionsResponse list;
  ASSERT_THAT(Call(&v1::RuleSetService::Stub::ListVersions,
                   v1::ListRuleSetVersionsRequest(), &list),
              IsOk());
  ASSERT_EQ(list.versions_size(), 2);
  EXPECT_EQ(list.versions(0).state(), v1::RULE_SET_STATE_INVALID);
  EXPECT_EQ(list.versions(0).history(1).action(), "rejected");

  // Fixed: live within a few polls, and every decision names it.
  rt::Edit(rules_dir_, "70-primary-care.test.yaml",
           "urgency: WITHIN_2H, fired: [primary_care/r77",
           "urgency: WITHIN_1H, fired: [primary_care/r77");
  ASSERT_TRUE(WaitFor([&] { return Active() != v1; }));
  v1::TriageDecision d = Triage();
  EXPECT_EQ(d.rule_set_version(), Active());
  EXPECT_EQ(d.urgency(), v1::URGENCY_WITHIN_1H);
  EXPECT_EQ(server_->metrics()->Value(rulesets::kReloadLastErrorMetric, {}), 0);
  EXPECT_EQ(server_->metrics()->Value(rulesets::kReloadTotalMetric, {"ok"}), 1);
}

TEST_F(RuleSetWiringTest, RequireApprovalOnlyProposes) {
  ServerOptions options = Options();
  options.require_approval = true;
  StartServer(options);
  const std::string v1 = Active();
  rt::MedicationWithin1H(rules_dir_);
  v1::ListRuleSetVersionsResponse list;
  ASSERT_TRUE(WaitFor([&] {
    return Call(&v1::RuleSetService::Stub::ListVersions,
                v1::ListRuleSetVersionsRequest(), &list)
               .ok() &&
           list.versions_size() == 2;
  }));
  const v1::RuleSetVersion& proposed = list.versions(0);
  EXPECT_EQ(proposed.state(), v1::RULE_SET_STATE_PROPOSED);
  EXPECT_EQ(proposed.proposed_by(), "hot-reload");
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(Active(), v1);

  v1::ApproveRuleSetRequest approve;
  approve.set_version(proposed.version());
  approve.set_approver("safety-officer");
  v1::RuleSetVersion v;
  ASSERT_THAT(Call(&v1::RuleSetService::Stub::Approve, approve, &v), IsOk());
  v1::ActivateRuleSetRequest activate;
  activate.set_version(proposed.version());
  activate.set_actor("safety-officer");
  activate.set_reason("R77 reviewed");
  ASSERT_THAT(Call(&v1::RuleSetService::Stub::Activate, activate, &v), IsOk());
  EXPECT_EQ(Active(), proposed.version());
  EXPECT_EQ(Triage().rule_set_version(), proposed.version());
}

TEST_F(RuleSetWiringTest, ARollbackSurvivesARestart) {
  StartServer(Options());
  const std::string v1 = Active();
  rt::MedicationWithin1H(rules_dir_);
  ASSERT_TRUE(WaitFor([&] { return Active() != v1; }));
  const std::string v2 = Active();

  v1::RollbackRuleSetRequest rollback;
  rollback.set_to_version(v1.substr(0, 12));
  rollback.set_actor("on-call");
  rollback.set_reason("R77 floods the primary care queue");
  v1::RuleSetVersion v;
  ASSERT_THAT(Call(&v1::RuleSetService::Stub::Rollback, rollback, &v), IsOk());
  EXPECT_EQ(Active(), v1);

  // Restart with the directory still holding v2: v1 stays in force.
  StartServer(Options());
  EXPECT_EQ(Active(), v1);
  EXPECT_EQ(Triage().rule_set_version(), v1);
  EXPECT_THAT(server_->Banner(), HasSubstr(v1.substr(0, 12)));
}

TEST_F(RuleSetWiringTest, WithoutWatchingNothingReloads) {
  ServerOptions options = Options();
  options.watch_rules = false;
  StartServer(options);
  const std::string v1 = Active();
  rt::MedicationWithin1H(rules_dir_);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Active(), v1);
}

// Replay over the referral store of a whole server (all roles): the
// referrals submitted are replayed against a candidate.
TEST_F(RuleSetWiringTest, ReplayReadsTheReferralStore) {
  ServerOptions options = Options();
  options.roles = Roles::All();
  options.directory_file = "triage-rules/directory.yaml";
  StartServer(options);
  auto channel = frontdoor::testing::TestIdentities::Shared().Channel(
      server_->grpc_address(), v1::ROLE_CLINICIAN);
  auto referrals = v1::ReferralService::NewStub(channel);
  // An empty store first: a report of nothing.
  const std::string v1 = Active();
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
  ASSERT_THAT(replay(v1, &report), IsOk());
  EXPECT_EQ(report.referrals(), 0);

  for (int i = 0; i < 5; ++i) {
    v1::SubmitReferralResponse resp;
    ASSERT_THAT(SubmitMedication(referrals.get(), absl::StrCat("replay-", i), i,
                                 &resp),
                IsOk());
  }
  v1::RuleSetVersion v2;
  ASSERT_THAT(ProposeEdited("v2", &rt::MedicationWithin1H, &v2), IsOk());
  ASSERT_THAT(replay(v2.version(), &report), IsOk());
  EXPECT_EQ(report.referrals(), 5);
  EXPECT_EQ(report.changed(), 5);
  EXPECT_EQ(report.upgrades(), 5);
  EXPECT_EQ(report.downgrades(), 0);

  // The formal diff finds the region whose decision changes.
  v1::DiffRuleSetsRequest diff_req;
  diff_req.set_to_version(v2.version());
  diff_req.set_regions(true);
  v1::RuleSetDiff diff;
  ASSERT_THAT(Call(&v1::RuleSetService::Stub::Diff, diff_req, &diff), IsOk());
  EXPECT_EQ(diff.rows_size(), 1);
  ASSERT_GT(diff.regions_size(), 0);
  EXPECT_EQ(diff.regions(0).to_urgency(), v1::URGENCY_WITHIN_1H);
  EXPECT_FALSE(diff.regions(0).downgrade());
}

// With every role in one process, ReferralService triages by a direct
// call, not through TriageService's RPC: shadow evaluation must still see
// each submission, and the decisions metric count it.
TEST_F(RuleSetWiringTest, ShadowSeesSubmissionsTriagedInProcess) {
  ServerOptions options = Options();
  options.roles = Roles::All();
  options.directory_file = "triage-rules/directory.yaml";
  StartServer(options);
  const std::string active = Active();
  v1::RuleSetVersion candidate;
  ASSERT_THAT(ProposeEdited("slower", &rt::MedicationWithin4H, &candidate),
              IsOk());
  v1::SetShadowRequest set;
  set.set_candidate_version(candidate.version());
  set.set_actor("alice");
  v1::ShadowReport report;
  ASSERT_THAT(Call(&v1::RuleSetService::Stub::SetShadow, set, &report),
              IsOk());

  auto referrals = v1::ReferralService::NewStub(
      frontdoor::testing::TestIdentities::Shared().Channel(
          server_->grpc_address(), v1::ROLE_CLINICIAN));
  constexpr int kSubmissions = 3;
  v1::SubmitReferralResponse resp;
  for (int i = 0; i < kSubmissions; ++i) {
    ASSERT_THAT(SubmitMedication(referrals.get(), absl::StrCat("shadowed-", i),
                                 i, &resp),
                IsOk());
    EXPECT_EQ(resp.record().status(), v1::REFERRAL_STATUS_TRIAGED);
    EXPECT_EQ(resp.record().decision().rule_set_version(), active);
  }
  // The shadow worker evaluates asynchronously.
  ASSERT_TRUE(WaitFor([&] {
    return Call(&v1::RuleSetService::Stub::GetShadowReport,
                v1::GetShadowReportRequest(), &report)
               .ok() &&
           report.evaluated() >= kSubmissions;
  }));
  EXPECT_EQ(report.evaluated(), kSubmissions);
  EXPECT_EQ(report.differed(), kSubmissions);
  EXPECT_EQ(report.downgrades(), kSubmissions);
  EXPECT_EQ(report.active_version(), active);

  Metrics* metrics = server_->metrics();
  EXPECT_EQ(metrics->Value("frontdoor_rpc_requests_total",
                           {"/frontdoor.v1.TriageService/Triage", "OK"}),
            0);
  const v1::TriageDecision& d = resp.record().decision();
  EXPECT_EQ(metrics->Value("frontdoor_triage_decisions_total",
                           {rules::PathwayName(d.pathway()),
                            rules::UrgencyName(d.urgency())}),
            kSubmissions);
  set.set_candidate_version("");
  EXPECT_THAT(Call(&v1::RuleSetService::Stub::SetShadow, set, &report),
              IsOk());
}

TEST_F(RuleSetWiringTest, ATriageOnlyServerCannotReplay) {
  StartServer(Options());
  grpc::ClientContext ctx;
  v1::ReplayRequest req;
  req.set_candidate_version(Active());
  auto reader = rulesets_->Replay(&ctx, req);
  v1::ReplayProgress p;
  while (reader->Read(&p)) {
  }
  EXPECT_EQ(reader->Finish().error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace frontdoor::server
