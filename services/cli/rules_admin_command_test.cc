#include "services/cli/rules_admin_command.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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
    o.roles = *server::ParseRoles("triage");
    o.watch_rules = false;
    o.shutdown_grace = absl::Seconds(1);
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
    Result r;
    r.code = RunRulesAdmin(args, Io{in, out, err}, env);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  std::string Active() { return server_->rule_set_holder()->Get()->version(); }

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
  EXPECT_THAT(r.out, AllOf(HasSubstr(v2), HasSubstr("ACTIVE"),
                           HasSubstr("by carol"), HasSubstr("abc123"),
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
              AllOf(HasSubstr("rolled_back"), HasSubstr("dave"),
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
