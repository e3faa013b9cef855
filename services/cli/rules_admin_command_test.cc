#include "services/cli/rules_admin_command.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/auth/test_identities.h"
#include "services/common/proto_time.h"
#include "services/common/test_util.h"
#include "services/rulesets/rule_set_test_util.h"
#include "services/server/server.h"
#include "services/triage/rule_set_holder.h"

namespace frontdoor::cli {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
namespace rt = rulesets::testing;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class RulesAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_dir_ = tmp_.Sub("rules");
    rt::CopyDefaultRules(rules_dir_);
    v2_dir_ = tmp_.Sub("v2");
    rt::CopyDefaultRules(v2_dir_);
    rt::MedicationWithin1H(v2_dir_);
    server::ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.http_listen = "";
    o.data_dir = tmp_.Sub("data");
    o.rules_dir = rules_dir_;
    o.roles = *server::ParseRoles(roles_);
    o.watch_rules = false;
    o.shutdown_grace = absl::Seconds(1);
    o.tokens_file = frontdoor::testing::TestIdentities::Shared().file();
    FRONTDOOR_ASSERT_OK_AND_ASSIGN(server_, server::FrontdoorServer::Start(o));
    v1_ = server_->rule_set_holder()->Get()->version();
  }

  // Runs `frontdoor rules ARGS... --server=...` as `user`.
  Result Run(std::vector<std::string> args, const std::string& user = "alice",
             bool with_server = true) {
    args.insert(args.begin(), "rules");
    if (with_server) args.push_back("--server=" + server_->grpc_address());
    std::istringstream in;
    std::ostringstream out;
    std::ostringstream err;
    ClientEnv env;
    env.user = user;
    // alice and bob are two safety officers (the server records their
    // principals, test-safety-officer and test-safety-officer-2).
    env.token = frontdoor::testing::TestIdentities::Shared().token(
        v1::ROLE_SAFETY_OFFICER, user == "bob" ? 2 : 1);
    Result r;
    r.code = RunRulesAdmin(args, Io{in, out, err}, env);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  std::string Active() { return server_->rule_set_holder()->Get()->version(); }

  std::string roles_ = "triage";  // before SetUp
  rt::TempDir tmp_;
  std::string rules_dir_;
  std::string v2_dir_;
  std::string v1_;
  std::unique_ptr<server::FrontdoorServer> server_;
};

TEST_F(RulesAdminTest, RecognisesItsVerbsOnly) {
  EXPECT_TRUE(IsRulesAdminCommand({"rules", "versions"}));
  EXPECT_TRUE(IsRulesAdminCommand({"rules", "diff", "a", "b"}));
  EXPECT_FALSE(IsRulesAdminCommand({"rules", "lint", "dir"}));
  EXPECT_FALSE(IsRulesAdminCommand({"rules"}));
  EXPECT_FALSE(IsRulesAdminCommand({"submit", "versions"}));
}

TEST_F(RulesAdminTest, ProposeApproveActivateRollback) {
  Result r = Run({"versions"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr(v1_.substr(0, 12)), HasSubstr("ACTIVE"),
                           HasSubstr("bootstrap")));

  r = Run({"propose", v2_dir_, "--comment=R77 within 1h", "--commit=abc123"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("frontdoor rules approve"));
  // The id, from the JSON of the version.
  r = Run({"versions", "--json", "--limit=1"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const size_t at = r.out.find("\"version\": \"");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string v2 = r.out.substr(at + 12, 64);
  const std::string v2_short = v2.substr(0, 10);

  // The proposer cannot approve.
  r = Run({"approve", v2_short}, "alice");
  EXPECT_EQ(r.code, kExitFindings);
  EXPECT_THAT(r.err, AllOf(HasSubstr("PERMISSION_DENIED"),
                           HasSubstr("someone other than the proposer")));
  // Not approved: cannot be activated.
  r = Run({"activate", v2_short, "--reason=go"}, "carol");
  EXPECT_EQ(r.code, kExitFindings);
  EXPECT_THAT(r.err, HasSubstr("FAILED_PRECONDITION"));

  r = Run({"approve", v2_short, "--comment=reviewed"}, "bob");
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("approved"));

  r = Run({"activate", v2_short}, "carol");
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--reason"));
  r = Run({"activate", v2_short, "--reason=R77 review done"}, "carol");
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Active(), v2);

  r = Run({"active"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(
      r.out,
      AllOf(HasSubstr(v2), HasSubstr("ACTIVE"), HasSubstr("activated   "),
            HasSubstr("by test-safety-officer\n"), HasSubstr("abc123"),
            HasSubstr("R77 review done"), HasSubstr("ok")));

  r = Run({"diff", v1_.substr(0, 8), v2_short});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("primary_care/r77_medication_supply"),
                           HasSubstr("urgency: WITHIN_2H -> WITHIN_1H"),
                           HasSubstr("1 changed, 0 added, 0 removed")));
  r = Run({"diff", v1_.substr(0, 8), v2_short, "--regions"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("decision regions that change"),
                           HasSubstr("PRIMARY_CARE WITHIN_2H -> PRIMARY_CARE "
                                     "WITHIN_1H")));

  r = Run({"rollback", v1_.substr(0, 8), "--reason=queue flooded"}, "dave");
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("rolled back"));
  EXPECT_EQ(Active(), v1_);

  r = Run({"show", v1_.substr(0, 8)});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out,
              AllOf(HasSubstr("rolled_back"), HasSubstr("test-safety-officer"),
                    HasSubstr("queue flooded"), HasSubstr("superseded")));
}

TEST_F(RulesAdminTest, RollbackToAVersionThatNeverExisted) {
  Result r = Run({"rollback", "0123456789abcdef", "--reason=x"}, "dave");
  EXPECT_EQ(r.code, kExitFindings);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  EXPECT_EQ(Active(), v1_);
}

TEST_F(RulesAdminTest, ValidateAndProposeAFailingRuleSet) {
  const std::string bad = tmp_.Sub("bad");
  rt::CopyDefaultRules(bad);
  rt::FailingTest(bad);
  Result r = Run({"validate", bad});
  EXPECT_EQ(r.code, kExitFindings);
  EXPECT_THAT(r.out, AllOf(HasSubstr("test failed: 70-primary-care.test.yaml"),
                           HasSubstr("FAILED validation")));
  r = Run({"validate", v2_dir_});
  EXPECT_EQ(r.code, kExitOk) << r.out;

  r = Run({"propose", bad});
  EXPECT_EQ(r.code, kExitFindings);
  EXPECT_THAT(r.err, HasSubstr("INVALID"));
  EXPECT_THAT(r.out, HasSubstr("test failed"));  // the stored report
  r = Run({"versions"});
  EXPECT_THAT(r.out, HasSubstr("INVALID"));
}

TEST_F(RulesAdminTest, DiffOfTwoLocalDirectoriesNeedsNoServer) {
  Result r = Run({"diff", rules_dir_, v2_dir_, "--server=127.0.0.1:1"}, "alice",
                 /*with_server=*/false);
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("urgency: WITHIN_2H -> WITHIN_1H"));
  r = Run({"diff", rules_dir_, v2_dir_, "--json"}, "alice", false);
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"kind\": \"changed\""));
  // Decision regions are searched locally too: medication supply moves
  // from 2 h to 1 h, an upgrade, with an example referral.
  r = Run({"diff", rules_dir_, v2_dir_, "--regions"}, "alice", false);
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("decision regions that change"));
  EXPECT_THAT(r.out, HasSubstr("WITHIN_2H -> PRIMARY_CARE WITHIN_1H"));
  EXPECT_THAT(r.out, HasSubstr("e.g. {"));
  // A broken directory is reported.
  const std::string broken = tmp_.Sub("broken");
  rt::CopyDefaultRules(broken);
  rt::BreakSyntax(broken);
  r = Run({"diff", rules_dir_, broken}, "alice", false);
  EXPECT_EQ(r.code, kExitFindings);
  EXPECT_THAT(r.err, HasSubstr("does not compile"));
  // A version against a directory: the version is fetched.
  r = Run({"diff", v1_.substr(0, 8), v2_dir_});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1 changed"));
  r = Run({"diff", "active", v2_dir_});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1 changed"));
}

TEST_F(RulesAdminTest, UsageErrors) {
  EXPECT_EQ(Run({"show"}).code, kExitUsage);
  EXPECT_EQ(Run({"versions", "--limit=0"}).code, kExitUsage);
  EXPECT_EQ(Run({"approve", "abc", "--bogus"}).code, kExitUsage);
  EXPECT_EQ(Run({"validate", tmp_.Sub("missing")}).code, kExitUsage);
  Result r = Run({"activate", "--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("--acknowledge-downgrades"));
}

// Removes the test named `name` (its whole entry) from dir/file.
void RemoveTest(const std::string& dir, const std::string& file,
                const std::string& name) {
  const std::string path = dir + "/" + file;
  std::string out;
  bool skipping = false;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(rt::ReadText(path), '\n')) {
    if (absl::StartsWith(line, "  - name: ")) {
      absl::string_view title = absl::StripPrefix(line, "  - name: ");
      skipping = title == name || title == absl::StrCat("\"", name, "\"");
      found = found || skipping;
    }
    if (!skipping) absl::StrAppend(&out, line, "\n");
  }
  ASSERT_TRUE(found) << name << " not in " << path;
  rt::WriteText(path, out);
}

// NEWS2 7 no longer an emergency (r11 from 7 to 8 or more): a downgrade
// from ACUTE IMMEDIATE to ACUTE WITHIN_1H; the tests at exactly 7 removed.
void News2EmergencyFrom8(const std::string& dir) {
  rt::Edit(dir, "20-news2.rules.yaml",
           "| r11_news2_7_plus             | yes        | >= 1     | >= 7   |",
           "| r11_news2_7_plus             | yes        | >= 1     | >= 8   |");
  RemoveTest(dir, "20-news2.test.yaml", "NEWS2 of exactly 7 goes to acute now");
  RemoveTest(dir, "20-news2.test.yaml",
             "upper side: RR 9, SpO2 92, SBP 91, pulse 41, temp 35.1");
  RemoveTest(dir, "70-primary-care.test.yaml",
             "information request, but the observations show NEWS2 7: acute "
             "now");
  RemoveTest(dir, "80-safeguarding-social.test.yaml",
             "plan declines hospital and NEWS2 is 7: palliative response "
             "within 1 hour, clinician must confirm");
  RemoveTest(dir, "80-safeguarding-social.test.yaml",
             "no documented plan, NEWS2 7 goes to acute as usual");
}

// Replay and shadow need the referral store: the whole server.
class RulesReplayTest : public RulesAdminTest {
 protected:
  RulesReplayTest() { roles_ = "all"; }

  // Submits a referral scoring NEWS2 7 (ACUTE IMMEDIATE under the default
  // rules) through `frontdoor submit`; returns its reference.
  std::string SubmitNews2Of7() {
    std::istringstream in;
    std::ostringstream out;
    std::ostringstream err;
    ClientEnv env{server_->grpc_address(), "alice"};
    env.token =
        frontdoor::testing::TestIdentities::Shared().token(v1::ROLE_CLINICIAN);
    const int code =
        RunCli({"submit", "--json", "--problem=ACUTE_DETERIORATION",
                "--nhs=9434765919", "--dob=1950-03-01", "--postcode=LS1",
                "--referrer=GP", "--rr=22", "--spo2=95", "--o2=no", "--sbp=105",
                "--pulse=115", "--consciousness=A", "--temp=38.5",
                "--phone=01632 960000"},
               Io{in, out, err}, env);
    EXPECT_EQ(code, kExitOk) << err.str();
    v1::SubmitReferralResponse response;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(out.str(), &response).ok())
        << out.str();
    EXPECT_EQ(response.record().decision().urgency(), v1::URGENCY_IMMEDIATE);
    return response.record().id();
  }

  // Proposes `dir` (as alice) and approves it (as bob); the version id.
  std::string ProposeAndApprove(const std::string& dir) {
    Result r = Run({"propose", dir});
    EXPECT_EQ(r.code, kExitOk) << r.err << r.out;
    const size_t at = r.out.find(" version ");
    if (at == std::string::npos) return "";
    const std::string id = r.out.substr(at + 9, 64);
    r = Run({"approve", id.substr(0, 12)}, "bob");
    EXPECT_EQ(r.code, kExitOk) << r.err;
    return id;
  }
};

// Disabled: the server's Replay reads no referrals from the store (0
// replayed) although three were submitted; the shadow half passes.
TEST_F(RulesReplayTest, ReplayNamesTheDowngradeAndShadowCounts) {
  const std::string first = SubmitNews2Of7();
  SubmitNews2Of7();
  SubmitNews2Of7();
  const std::string dir = tmp_.Sub("news2_8");
  rt::CopyDefaultRules(dir);
  News2EmergencyFrom8(dir);
  const std::string v2 = ProposeAndApprove(dir);
  ASSERT_EQ(v2.size(), 64u);

  Result r = Run({"replay", v2.substr(0, 12)});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(
      r.out,
      AllOf(HasSubstr(absl::StrCat("candidate ", v2.substr(0, 12),
                                   " against active ", v1_.substr(0, 12))),
            HasSubstr("referrals replayed  3"),
            HasSubstr("3 (3 downgrades, 0 upgrades)"),
            HasSubstr("DOWNGRADES (3)"), HasSubstr(first),
            HasSubstr("ACUTE IMMEDIATE  ->  ACUTE WITHIN_1H"),
            HasSubstr("news2_response/r11_news2_7_plus -> "
                      "news2_response/r30_news2_5_or_more"),
            HasSubstr("TRANSITIONS"), HasSubstr("ROWS NEVER HIT"),
            HasSubstr("will need --acknowledge-downgrades")));
  EXPECT_LT(r.out.find("DOWNGRADES (3)"), r.out.find("TRANSITIONS"));
  // Not a terminal: plain progress lines, none redrawn.
  EXPECT_THAT(r.err, Not(HasSubstr("\r")));

  r = Run({"replay", v2.substr(0, 12), "--json", "--pathway=ACUTE",
           "--after=2000-01-01T00:00:00Z", "--limit=2"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  v1::ReplayReport report;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &report).ok())
      << r.out;
  EXPECT_EQ(report.referrals(), 2);
  EXPECT_EQ(report.downgrades(), 2);
  EXPECT_THAT(r.out, HasSubstr("\"rows_never_hit\""));  // proto field names

  EXPECT_EQ(Run({"replay", v2, "--after=yesterday"}).code, kExitUsage);
  EXPECT_EQ(Run({"replay", v2, "--limit=0"}).code, kExitUsage);
  r = Run({"replay", std::string(64, 'f')});
  EXPECT_EQ(r.code, kExitFindings);
  EXPECT_THAT(r.err, HasSubstr("frontdoor: NOT_FOUND: "));

  // Shadow: live referrals are also decided by the candidate.
  r = Run({"shadow", "start", v2.substr(0, 12)});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("shadowing candidate"));
  SubmitNews2Of7();
  v1::ShadowReport shadow;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    r = Run({"shadow", "report", "--json"});
    ASSERT_EQ(r.code, kExitOk) << r.err;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(r.out, &shadow).ok());
  } while (shadow.evaluated() < 1 && absl::Now() < deadline &&
           (absl::SleepFor(absl::Milliseconds(10)), true));
  EXPECT_GE(shadow.evaluated(), 1);
  r = Run({"shadow", "report"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out,
              AllOf(HasSubstr("evaluated   1"), HasSubstr("downgrades  1"),
                    HasSubstr("RECENT DIFFERENCES"), HasSubstr("DOWNGRADE ")));
  r = Run({"shadow", "stop"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("stopped shadowing"));
  r = Run({"shadow", "report"});
  EXPECT_EQ(r.code, kExitFindings);
  EXPECT_THAT(r.err, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_EQ(Run({"shadow", "start"}).code, kExitUsage);
  EXPECT_EQ(Run({"shadow", "pause"}).code, kExitUsage);
}

v1::ReplayChange Change(const std::string& id, v1::Urgency from, v1::Urgency to,
                        bool downgrade) {
  v1::ReplayChange c;
  c.set_referral_id(id);
  c.set_from_pathway(v1::PATHWAY_ACUTE);
  c.set_from_urgency(from);
  c.set_to_pathway(v1::PATHWAY_ACUTE);
  c.set_to_urgency(to);
  c.set_downgrade(downgrade);
  c.set_from_row("news2_response/r11_news2_7_plus");
  c.set_to_row("news2_response/r30_news2_5_or_more");
  return c;
}

TEST(RulesAdminFormatTest, ReplayReportListsDowngradesBeforeUpgrades) {
  v1::ReplayReport report;
  report.set_active_version(std::string(64, 'a'));
  report.set_candidate_version(std::string(64, 'b'));
  report.set_referrals(1000000);
  report.set_changed(2);
  report.set_downgrades(1);
  report.set_upgrades(1);
  report.set_seconds(2.0);
  // Given upgrade first: the report still puts the downgrade first.
  *report.add_changes() =
      Change("UP-1", v1::URGENCY_WITHIN_1H, v1::URGENCY_IMMEDIATE, false);
  *report.add_changes() =
      Change("DOWN-1", v1::URGENCY_IMMEDIATE, v1::URGENCY_WITHIN_1H, true);
  v1::RowImpact* row = report.add_by_row();
  row->set_row("news2_response/r30_news2_5_or_more");
  row->set_changed(2);
  row->set_downgrades(1);
  row->add_sample_referrals("DOWN-1");
  report.add_rows_never_hit("primary_care/r77_medication_supply");
  const std::string text = FormatReplayReport(report);
  EXPECT_THAT(text, AllOf(HasSubstr("candidate bbbbbbbbbbbb against active "
                                    "aaaaaaaaaaaa"),
                          HasSubstr("referrals replayed  1,000,000"),
                          HasSubstr("2.0 s, 500,000 referrals/s"),
                          HasSubstr("news2_response/r11_news2_7_plus -> "
                                    "news2_response/r30_news2_5_or_more"),
                          HasSubstr("primary_care/r77_medication_supply"),
                          HasSubstr("will need --acknowledge-downgrades")));
  const size_t downgrades = text.find("DOWNGRADES (1)");
  const size_t down = text.find("DOWN-1");
  const size_t upgrades = text.find("UPGRADES AND OTHER CHANGES (1)");
  const size_t up = text.find("UP-1");
  ASSERT_NE(downgrades, std::string::npos) << text;
  ASSERT_NE(upgrades, std::string::npos) << text;
  EXPECT_LT(downgrades, down);
  EXPECT_LT(down, upgrades);
  EXPECT_LT(upgrades, up);

  report.set_downgrades(0);
  report.mutable_changes()->DeleteSubrange(1, 1);
  EXPECT_THAT(FormatReplayReport(report),
              Not(HasSubstr("acknowledge-downgrades")));
}

TEST(RulesAdminFormatTest, TransitionMatrixAligns) {
  v1::ReplayReport report;
  report.set_changed(12346);
  struct {
    v1::Pathway from_p;
    v1::Urgency from_u;
    v1::Pathway to_p;
    v1::Urgency to_u;
    int64_t count;
  } const rows[] = {
      {v1::PATHWAY_ACUTE, v1::URGENCY_IMMEDIATE, v1::PATHWAY_ACUTE,
       v1::URGENCY_WITHIN_1H, 12345},
      {v1::PATHWAY_PRIMARY_CARE, v1::URGENCY_WITHIN_2H,
       v1::PATHWAY_CLINICAL_REVIEW, v1::URGENCY_WITHIN_1H, 1},
  };
  for (const auto& t : rows) {
    v1::TransitionCount* c = report.add_transitions();
    c->set_from_pathway(t.from_p);
    c->set_from_urgency(t.from_u);
    c->set_to_pathway(t.to_p);
    c->set_to_urgency(t.to_u);
    c->set_count(t.count);
  }
  const std::string text = FormatReplayReport(report);
  const size_t at = text.find("TRANSITIONS\n");
  ASSERT_NE(at, std::string::npos) << text;
  std::vector<std::string> lines =
      absl::StrSplit(text.substr(at), '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 4u) << text;
  // Header and rows: "->" and the counts' last digits in the same columns.
  const std::string& header = lines[1];
  const std::string& first = lines[2];
  const std::string& second = lines[3];
  EXPECT_THAT(first, HasSubstr("ACUTE IMMEDIATE"));
  EXPECT_THAT(first, HasSubstr("12,345  DOWNGRADE"));
  EXPECT_THAT(second, Not(HasSubstr("DOWNGRADE")));
  EXPECT_EQ(first.find("->"), second.find("->"));
  const size_t count_end = header.find("COUNT") + 5;
  EXPECT_EQ(first.find("12,345") + 6, count_end) << text;
  EXPECT_EQ(second.find(" 1") + 2, count_end) << text;
  EXPECT_EQ(first.find("ACUTE WITHIN_1H"), second.find("CLINICAL_REVIEW"));
}

TEST(RulesAdminFormatTest, ReplayProgressBar) {
  EXPECT_EQ(FormatReplayProgress(0, 1000000), "[............] 0% 0/1,000,000");
  EXPECT_EQ(FormatReplayProgress(580000, 1000000),
            "[#######.....] 58% 580,000/1,000,000");
  EXPECT_EQ(FormatReplayProgress(1000000, 1000000),
            "[############] 100% 1,000,000/1,000,000");
  // An estimate below what is done, and no estimate at all.
  EXPECT_EQ(FormatReplayProgress(7, 5), "[############] 100% 7/7");
  EXPECT_EQ(FormatReplayProgress(0, 0), "[............] 0% 0/0");
  EXPECT_EQ(GroupThousands(999), "999");
  EXPECT_EQ(GroupThousands(-1234567), "-1,234,567");
}

TEST(RulesAdminFormatTest, ShadowReportDowngradesFirst) {
  v1::ShadowReport report;
  report.set_candidate_version(std::string(64, 'b'));
  report.set_active_version(std::string(64, 'a'));
  report.set_evaluated(40);
  report.set_differed(2);
  report.set_downgrades(1);
  *report.add_recent() =
      Change("UP-1", v1::URGENCY_WITHIN_1H, v1::URGENCY_IMMEDIATE, false);
  *report.add_recent() =
      Change("DOWN-1", v1::URGENCY_IMMEDIATE, v1::URGENCY_WITHIN_1H, true);
  const std::string text = FormatShadowReport(report);
  EXPECT_THAT(
      text, AllOf(HasSubstr("evaluated   40"), HasSubstr("differed    2"),
                  HasSubstr("downgrades  1"), HasSubstr("dropped     0"),
                  HasSubstr("since       -"), HasSubstr("DOWNGRADE  DOWN-1")));
  EXPECT_LT(text.find("DOWN-1"), text.find("UP-1"));
  report.clear_recent();
  EXPECT_THAT(FormatShadowReport(report), HasSubstr("no differences so far"));
}

TEST(RulesAdminFormatTest, VersionListAndValidation) {
  v1::RuleSetVersion v;
  v.set_version(std::string(64, 'a'));
  v.set_name("community-spa");
  v.set_state(v1::RULE_SET_STATE_PROPOSED);
  v.set_proposed_by("alice");
  *v.mutable_proposed_at() = ToProtoTime(absl::FromUnixSeconds(1795000000));
  v1::RuleSetEvent* e = v.add_history();
  e->set_action("proposed");
  e->set_actor("alice");
  std::string list = FormatVersionList({v});
  EXPECT_THAT(list, AllOf(HasSubstr("aaaaaaaaaaaa "), HasSubstr("PROPOSED"),
                          HasSubstr("proposed by alice"),
                          Not(HasSubstr(std::string(13, 'a')))));
  EXPECT_EQ(FormatVersionList({}), "no rule set versions\n");

  v1::ValidationReport report;
  v1::Finding* f = report.add_findings();
  f->set_severity("error");
  f->set_file("20-news2.rules.yaml");
  f->set_line(12);
  f->set_column(3);
  f->set_code("overlap");
  f->set_message("rows r1 and r2 overlap");
  f->set_example("{\"age\": 3}");
  EXPECT_THAT(FormatValidation(report),
              AllOf(HasSubstr("20-news2.rules.yaml:12:3: error: rows r1 and "
                              "r2 overlap [overlap]"),
                    HasSubstr("e.g. {\"age\": 3}"),
                    HasSubstr("1 error, 0 "
                              "warnings"),
                    HasSubstr("FAILED validation")));
}

}  // namespace
}  // namespace frontdoor::cli
