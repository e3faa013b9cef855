#include "services/cli/audit_command.h"

#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/audit/audit_service.h"
#include "services/auth/test_identities.h"
#include "services/common/clock.h"
#include "services/common/proto_time.h"
#include "services/common/test_grpc_server.h"
#include "services/common/test_util.h"
#include "storage/audit_test_util.h"
#include "storage/referral_store.h"
#include "storage/store_test_util.h"

namespace frontdoor::cli {
namespace {

using storage::testing::RawStoreDb;
using storage::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1768471200);  // 10:00:00Z

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

// Opens the store in data directory `data_dir` (DATA/referrals, as the
// server keeps it) with `clock`.
std::unique_ptr<storage::ReferralStore> OpenStore(const std::string& data_dir,
                                                  Clock* clock) {
  storage::ReferralStore::Options options;
  options.path = data_dir + "/referrals";
  options.sync = false;
  options.clock = clock;
  auto store = storage::ReferralStore::Open(options);
  EXPECT_THAT(store, IsOk());
  return store.ok() ? *std::move(store) : nullptr;
}

CliRun RunArgs(const std::vector<std::string>& args,
               const ClientEnv& env = {}) {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  CliRun run;
  run.code = RunAudit(args, Io{in, out, err}, env);
  run.out = out.str();
  run.err = err.str();
  return run;
}

TEST(AuditVerifyDataDirTest, CleanStoreExitsZeroTamperedOneMissingOne) {
  TempDir tmp;
  FakeClock clock(kT0);
  {
    auto store = OpenStore(tmp.path(), &clock);
    ASSERT_NE(store, nullptr);
    ASSERT_THAT(storage::testing::AppendAlternatingEntries(*store, clock, 4,
                                                           absl::Minutes(1)),
                IsOk());
    store->Close();
  }
  CliRun clean = RunArgs({"audit", "verify", "--data_dir", tmp.path()});
  EXPECT_EQ(clean.code, kExitOk) << clean.err;
  EXPECT_THAT(clean.out, HasSubstr("audit trail intact"));
  EXPECT_THAT(clean.out, HasSubstr("entries checked: 4"));
  {
    auto raw = RawStoreDb::Open(tmp.Sub("referrals"));
    ASSERT_THAT(raw, IsOk());
    std::optional<v1::AuditEntry> four = (*raw)->Entry(4);
    ASSERT_TRUE(four.has_value());
    EXPECT_THAT(clean.out,
                HasSubstr(absl::StrCat("head hash: ",
                                       absl::BytesToHexString(four->hash()))));
    std::optional<v1::AuditEntry> two = (*raw)->Entry(2);
    ASSERT_TRUE(two.has_value());
    two->set_principal("someone.else");
    ASSERT_THAT((*raw)->PutEntry(*two), IsOk());
  }
  CliRun tampered = RunArgs({"audit", "verify", "--data_dir=" + tmp.path()});
  EXPECT_EQ(tampered.code, kExitFindings) << tampered.err;
  EXPECT_THAT(tampered.out, HasSubstr("TAMPERED"));
  EXPECT_THAT(tampered.out, HasSubstr("first bad entry: 2"));
  EXPECT_THAT(tampered.out, HasSubstr("entries checked: 1"));

  CliRun json =
      RunArgs({"audit", "verify", "--json", "--data_dir", tmp.path()});
  EXPECT_EQ(json.code, kExitFindings);
  EXPECT_THAT(json.out, HasSubstr("\"first_bad_seq\":\"2\""));

  CliRun missing = RunArgs({"audit", "verify", "--data_dir", tmp.Sub("none")});
  EXPECT_EQ(missing.code, kExitFindings);
  EXPECT_THAT(missing.err, HasSubstr("NOT_FOUND"));
}

TEST(AuditVerifyDataDirTest, RefusesAStoreInUse) {
  TempDir tmp;
  FakeClock clock(kT0);
  auto store = OpenStore(tmp.path(), &clock);
  ASSERT_NE(store, nullptr);
  CliRun run = RunArgs({"audit", "verify", "--data_dir", tmp.path()});
  EXPECT_EQ(run.code, kExitFindings);
  EXPECT_THAT(run.err, HasSubstr("open in another process"));
}

TEST(AuditCommandTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunArgs({"audit"}).code, kExitUsage);
  EXPECT_EQ(RunArgs({"audit", "erase"}).code, kExitUsage);
  EXPECT_EQ(RunArgs({"audit", "verify", "extra"}).code, kExitUsage);
  CliRun two = RunArgs({"audit", "query", "--nhs_number=111", "--principal=x"});
  EXPECT_EQ(two.code, kExitUsage);
  EXPECT_THAT(two.err, HasSubstr("at most one"));
  CliRun bad_time = RunArgs({"audit", "query", "--from=yesterday"});
  EXPECT_EQ(bad_time.code, kExitUsage);
  EXPECT_THAT(bad_time.err, HasSubstr("--from"));
  EXPECT_EQ(RunArgs({"audit", "query", "--limit=0"}).code, kExitUsage);
  CliRun help = RunArgs({"audit", "--help"});
  EXPECT_EQ(help.code, kExitOk);
  EXPECT_THAT(help.out, HasSubstr("head hash"));
}

// The verbs against AuditService over gRPC.
class AuditCommandServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(tmp_.path(), &clock_);
    ASSERT_NE(store_, nullptr);
    ASSERT_THAT(storage::testing::AppendAlternatingEntries(*store_, clock_, 5,
                                                           absl::Minutes(1)),
                IsOk());
    service_ = std::make_unique<audit::AuditServiceImpl>(
        store_.get(),
        frontdoor::testing::TestIdentities::Shared().authorizer());
    server_ =
        frontdoor::testing::StartLocalServer({service_.get()}, &env_.server);
    ASSERT_NE(server_, nullptr);
    env_.token =
        frontdoor::testing::TestIdentities::Shared().token(v1::ROLE_AUDITOR);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    service_.reset();
    if (store_ != nullptr) store_->Close();
  }

  FakeClock clock_{kT0};
  TempDir tmp_;
  std::unique_ptr<storage::ReferralStore> store_;
  std::unique_ptr<audit::AuditServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  ClientEnv env_;
};

TEST_F(AuditCommandServerTest, VerifyThroughTheServer) {
  CliRun run = RunArgs({"audit", "verify"}, env_);
  EXPECT_EQ(run.code, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("entries checked: 5"));
}

// The "keep:" line of one verify is the --expect_head of a later one: fine
// while the trail still holds it, a finding once it does not.
TEST_F(AuditCommandServerTest, AKeptHeadIsCheckedByALaterVerify) {
  CliRun first = RunArgs({"audit", "verify"}, env_);
  ASSERT_EQ(first.code, kExitOk) << first.err;
  const size_t at = first.out.find("keep: --expect_head=");
  ASSERT_NE(at, std::string::npos) << first.out;
  const std::string keep = first.out.substr(
      at + 6, first.out.find('\n', at) - at - 6);  // "--expect_head=5:..."
  EXPECT_THAT(keep, ::testing::StartsWith("--expect_head=5:"));

  ASSERT_THAT(storage::testing::AppendAlternatingEntries(*store_, clock_, 1,
                                                         absl::Minutes(1)),
              IsOk());
  CliRun later = RunArgs({"audit", "verify", keep}, env_);
  EXPECT_EQ(later.code, kExitOk) << later.err << later.out;
  EXPECT_THAT(later.out, HasSubstr("entries checked: 6"));

  // A head this trail never had: entry 5 has another hash.
  std::string other = keep;
  other.back() = other.back() == '0' ? '1' : '0';
  CliRun rewritten = RunArgs({"audit", "verify", other}, env_);
  EXPECT_EQ(rewritten.code, kExitFindings) << rewritten.err;
  EXPECT_THAT(rewritten.out, HasSubstr("first bad entry: 5"));
  EXPECT_THAT(rewritten.out, HasSubstr("rewritten"));

  // More entries than the trail holds: some were removed from its end.
  CliRun truncated = RunArgs(
      {"audit", "verify",
       "--expect_head=9:" + keep.substr(keep.find(':') + 1)},
      env_);
  EXPECT_EQ(truncated.code, kExitFindings) << truncated.err;
  EXPECT_THAT(truncated.out, HasSubstr("removed from its end"));

  CliRun malformed =
      RunArgs({"audit", "verify", "--expect_head=5:nothex"}, env_);
  EXPECT_EQ(malformed.code, kExitUsage);
  EXPECT_THAT(malformed.err, HasSubstr("ENTRIES:HASH"));
}

TEST_F(AuditCommandServerTest, QueryPrintsOneLinePerEntry) {
  CliRun run = RunArgs({"audit", "query", "--nhs_number", "111"}, env_);
  ASSERT_EQ(run.code, kExitOk) << run.err;
  std::vector<std::string> lines =
      absl::StrSplit(run.out, '\n', absl::SkipEmpty());
  ASSERT_THAT(lines, SizeIs(4));  // a header and entries 1, 3, 5
  EXPECT_THAT(lines[0], HasSubstr("REQUEST ID"));
  EXPECT_THAT(lines[1], HasSubstr("2026-01-15T10:00:00.000Z"));
  EXPECT_THAT(lines[1], HasSubstr("dr.jones"));
  EXPECT_THAT(lines[1], HasSubstr("CLINICIAN"));
  EXPECT_THAT(lines[1], HasSubstr("ReferralService/GetReferral"));
  EXPECT_THAT(lines[1], HasSubstr("R1"));
  EXPECT_THAT(lines[1], HasSubstr("req-1"));
  EXPECT_THAT(lines[3], HasSubstr("req-5"));

  CliRun window =
      RunArgs({"audit", "query", "--principal=nurse.ali",
               "--from=2026-01-15T10:02:00Z", "--to=2026-01-15T11:04:00+01:00"},
              env_);
  ASSERT_EQ(window.code, kExitOk) << window.err;
  EXPECT_THAT(window.out, HasSubstr("req-4"));
  EXPECT_THAT(window.out, Not(HasSubstr("req-2")));

  CliRun none = RunArgs({"audit", "query", "--referral=R99"}, env_);
  EXPECT_EQ(none.code, kExitOk);
  EXPECT_EQ(none.out, "no audit entries\n");
}

TEST_F(AuditCommandServerTest, QueryJsonIsOneObjectPerLineUpToTheLimit) {
  CliRun run = RunArgs({"audit", "query", "--json", "--limit=3"}, env_);
  ASSERT_EQ(run.code, kExitOk) << run.err;
  std::vector<std::string> lines =
      absl::StrSplit(run.out, '\n', absl::SkipEmpty());
  ASSERT_THAT(lines, SizeIs(3));
  EXPECT_THAT(lines[0], HasSubstr("\"seq\":\"1\""));
  EXPECT_THAT(lines[2], HasSubstr("\"request_id\":\"req-3\""));
  EXPECT_THAT(run.err, HasSubstr("more"));
}

TEST(AuditCommandTest, UnreachableServerExitsOne) {
  ClientEnv env;
  env.server = "127.0.0.1:1";
  CliRun run = RunArgs({"audit", "query", "--timeout=2s"}, env);
  EXPECT_EQ(run.code, kExitFindings);
  EXPECT_THAT(run.err, HasSubstr("UNAVAILABLE"));
}

TEST(FormatVerifyResultTest, NamesTheFirstBadEntry) {
  v1::VerifyAuditResponse bad;
  bad.set_entries(6);
  bad.set_first_bad_seq(7);
  bad.set_problem("entry 7 is missing (the next stored entry is 8)");
  bad.set_head_hash(std::string(32, '\x01'));
  const std::string text = FormatVerifyResult(bad);
  EXPECT_THAT(text, HasSubstr("first bad entry: 7"));
  EXPECT_THAT(text, HasSubstr("entry 7 is missing"));
  EXPECT_THAT(text, HasSubstr(std::string("head hash: 0101")));
  v1::VerifyAuditResponse empty;
  empty.set_ok(true);
  EXPECT_THAT(FormatVerifyResult(empty), HasSubstr("no entries"));
  EXPECT_THAT(FormatAuditEntries({}), HasSubstr("no audit entries"));
}

}  // namespace
}  // namespace frontdoor::cli
