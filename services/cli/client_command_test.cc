#include "services/cli/client_command.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "frontdoor/v1/admin_service.grpc.pb.h"
#include "frontdoor/v1/referral_service.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/admin/admin_service.h"
#include "services/auth/test_identities.h"
#include "services/common/log.h"
#include "services/common/proto_time.h"
#include "services/common/reference.h"
#include "services/common/test_grpc_server.h"
#include "services/common/test_util.h"
#include "services/server/server.h"
#include "storage/referral_store.h"
#include "storage/store_test_util.h"

namespace frontdoor::cli {
namespace {

using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Kind = FlagSpec::Kind;

google::protobuf::Timestamp Ts(absl::Time t) { return ToProtoTime(t); }

absl::Time Utc(int y, int mo, int d, int h, int mi) {
  return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi),
                         absl::UTCTimeZone());
}

// --- ParseFlags -------------------------------------------------------------

const std::vector<FlagSpec> kSpec = {{"--json", Kind::kBool},
                                     {"--pathway", Kind::kValue},
                                     {"--finding", Kind::kRepeated}};

TEST(ParseFlagsTest, ValuesBoolsRepeatsAndPositionals) {
  auto a =
      ParseFlags({"verb", "REF", "--pathway=UCR", "--json", "--finding",
                  "fall=yes", "--finding=lives_alone=no", "-", "--", "--json"},
                 1, kSpec);
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT(a->positional, ElementsAre("REF", "-", "--json"));
  EXPECT_EQ(a->Get("--pathway"), "UCR");
  EXPECT_TRUE(a->Has("--json"));
  EXPECT_THAT(a->All("--finding"), ElementsAre("fall=yes", "lives_alone=no"));
  EXPECT_FALSE(a->help);
  EXPECT_EQ(a->Get("--missing", "fallback"), "fallback");
}

TEST(ParseFlagsTest, Errors) {
  EXPECT_THAT(ParseFlags({"v", "--bogus"}, 1, kSpec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown option '--bogus'")));
  EXPECT_THAT(ParseFlags({"v", "--pathway"}, 1, kSpec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--pathway needs a value")));
  EXPECT_THAT(
      ParseFlags({"v", "--pathway", "--json"}, 1, kSpec),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a value")));
  EXPECT_THAT(ParseFlags({"v", "--json=yes"}, 1, kSpec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("takes no value")));
  EXPECT_THAT(
      ParseFlags({"v", "--pathway=A", "--pathway=B"}, 1, kSpec),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("given twice")));
  EXPECT_THAT(ParseFlags({"v", "-x"}, 1, kSpec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown option '-x'")));
}

TEST(ParseFlagsTest, Help) {
  auto a = ParseFlags({"v", "-h"}, 1, kSpec);
  ASSERT_THAT(a, IsOk());
  EXPECT_TRUE(a->help);
}

TEST(ParseFlagsTest, NegativeNumbersAreValues) {
  auto a = ParseFlags({"v", "--pathway", "-1"}, 1, kSpec);
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->Get("--pathway"), "-1");
}

// --- Common options
// ---------------------------------------------------------------

ParsedArgs Args(std::map<std::string, std::vector<std::string>> flags) {
  ParsedArgs a;
  a.flags = std::move(flags);
  return a;
}

TEST(CommonOptionsTest, DefaultsComeFromTheEnvironment) {
  auto o = ResolveCommonOptions(Args({}), ClientEnv{"", "alice"});
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->server, "127.0.0.1:50051");
  EXPECT_EQ(o->timeout, absl::Seconds(10));
  EXPECT_FALSE(o->json);
  EXPECT_EQ(o->actor, "alice");

  o = ResolveCommonOptions(Args({}),
                           ClientEnv{"frontdoor.internal:6000", "alice"});
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->server, "frontdoor.internal:6000");

  o = ResolveCommonOptions(Args({{"--server", {"10.0.0.1:7000"}},
                                 {"--timeout", {"500ms"}},
                                 {"--json", {""}},
                                 {"--actor", {"bob"}}}),
                           ClientEnv{"frontdoor.internal:6000", "alice"});
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->server, "10.0.0.1:7000");
  EXPECT_EQ(o->timeout, absl::Milliseconds(500));
  EXPECT_TRUE(o->json);
  EXPECT_EQ(o->actor, "bob");
}

TEST(CommonOptionsTest, BadServerOrTimeout) {
  EXPECT_THAT(
      ResolveCommonOptions(Args({{"--server", {"localhost"}}}), ClientEnv{}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not HOST:PORT")));
  EXPECT_THAT(ResolveCommonOptions(Args({}), ClientEnv{"nohost:99999", ""}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("$FRONTDOOR_SERVER")));
  EXPECT_THAT(ResolveCommonOptions(Args({{"--server", {"unix:/run/fd.sock"}}}),
                                   ClientEnv{}),
              IsOk());
  EXPECT_THAT(
      ResolveCommonOptions(Args({{"--timeout", {"soon"}}}), ClientEnv{}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--timeout")));
}

TEST(ParseTimeoutTest, UnitsAndPlainSeconds) {
  EXPECT_EQ(*ParseTimeout("10s"), absl::Seconds(10));
  EXPECT_EQ(*ParseTimeout("1m30s"), absl::Seconds(90));
  EXPECT_EQ(*ParseTimeout("2.5"), absl::Milliseconds(2500));
  EXPECT_THAT(ParseTimeout("0"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseTimeout("-1s"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseTimeout("inf"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// --- Enums
// ------------------------------------------------------------------------

TEST(ParseEnumTest, NamesInAnyForm) {
  const auto* pathway = v1::Pathway_descriptor();
  EXPECT_EQ(*ParseEnum(pathway, "PATHWAY_UCR", "--pathway"), v1::PATHWAY_UCR);
  EXPECT_EQ(*ParseEnum(pathway, "ucr", "--pathway"), v1::PATHWAY_UCR);
  EXPECT_EQ(*ParseEnum(pathway, "clinical-review", "--pathway"),
            v1::PATHWAY_CLINICAL_REVIEW);
  EXPECT_EQ(*ParseEnum(pathway, "Clinical Review", "--pathway"),
            v1::PATHWAY_CLINICAL_REVIEW);
  EXPECT_EQ(*ParseEnum(v1::Urgency_descriptor(), "2h", "--urgency"),
            v1::URGENCY_WITHIN_2H);
  EXPECT_EQ(*ParseEnum(v1::ReferrerType_descriptor(), "111", "--referrer"),
            v1::REFERRER_TYPE_NHS_111);
  EXPECT_EQ(*ParseEnum(v1::Consciousness_descriptor(), "c", "--consciousness",
                       {{"C", "NEW_CONFUSION"}}),
            v1::CONSCIOUSNESS_NEW_CONFUSION);
}

TEST(ParseEnumTest, UnknownAmbiguousAndUnspecified) {
  const auto* pathway = v1::Pathway_descriptor();
  EXPECT_THAT(ParseEnum(pathway, "community", "--pathway"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--pathway"),
                             HasSubstr("COMMUNITY_NURSING or "
                                       "MENTAL_HEALTH_COMMUNITY"))));
  EXPECT_THAT(ParseEnum(pathway, "hospital", "--pathway"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("unknown value 'hospital'"),
                             HasSubstr("ACUTE, "))));
  EXPECT_THAT(ParseEnum(pathway, "UNSPECIFIED", "--pathway"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseEnum(pathway, "", "--pathway"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ShortNameTest, DropsThePrefix) {
  EXPECT_EQ(ShortName(v1::Urgency_descriptor(), v1::URGENCY_WITHIN_2H),
            "WITHIN_2H");
  EXPECT_EQ(ShortName(v1::SpO2Scale_descriptor(), v1::SP_O2_SCALE_SCALE_2),
            "SCALE_2");
  EXPECT_EQ(ShortName(v1::Pathway_descriptor(), 999), "999");
}

// --- Building referrals
// ----------------------------------------------------------

absl::StatusOr<v1::Referral> FromFlags(const std::vector<std::string>& argv) {
  std::vector<std::string> args = {"submit"};
  args.insert(args.end(), argv.begin(), argv.end());
  std::vector<FlagSpec> spec;
  for (const char* f :
       {"--problem", "--nhs", "--dob", "--age", "--sex", "--postcode",
        "--phone", "--referrer", "--text", "--rr", "--spo2", "--o2", "--sbp",
        "--pulse", "--consciousness", "--temp"}) {
    spec.push_back({f, Kind::kValue});
  }
  spec.push_back({"--finding", Kind::kRepeated});
  absl::StatusOr<ParsedArgs> a = ParseFlags(args, 1, spec);
  if (!a.ok()) return a.status();
  EXPECT_TRUE(HasReferralFlags(*a));
  return ReferralFromFlags(*a);
}

TEST(ReferralFromFlagsTest, TheUsefulSet) {
  auto r = FromFlags({"--problem",
                      "FALL",
                      "--nhs",
                      "943 476 5919",
                      "--dob",
                      "1950-03-01",
                      "--sex",
                      "F",
                      "--postcode",
                      "ls1 4ap",
                      "--referrer",
                      "GP",
                      "--text",
                      "Fell at home",
                      "--rr",
                      "18",
                      "--spo2",
                      "96",
                      "--o2",
                      "no",
                      "--sbp",
                      "128",
                      "--pulse",
                      "80",
                      "--consciousness",
                      "A",
                      "--temp",
                      "36.8",
                      "--finding",
                      "fall=yes",
                      "--finding",
                      "on-anticoagulant=no",
                      "--phone",
                      "01632 960000"});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->problem(), v1::PRESENTING_PROBLEM_FALL);
  EXPECT_EQ(r->patient().nhs_number(), "9434765919");
  EXPECT_EQ(r->patient().date_of_birth().year(), 1950);
  EXPECT_EQ(r->patient().date_of_birth().month(), 3);
  EXPECT_EQ(r->patient().date_of_birth().day(), 1);
  EXPECT_EQ(r->patient().sex(), v1::SEX_FEMALE);
  EXPECT_EQ(r->patient().postcode_district(), "LS1");
  EXPECT_EQ(r->patient().contact_phone(), "01632 960000");
  EXPECT_EQ(r->referrer().type(), v1::REFERRER_TYPE_GP);
  EXPECT_EQ(r->free_text(), "Fell at home");
  const v1::Observations& o = r->observations();
  EXPECT_EQ(o.respiratory_rate(), 18);
  EXPECT_EQ(o.spo2_percent(), 96);
  ASSERT_TRUE(o.has_on_supplemental_oxygen());
  EXPECT_FALSE(o.on_supplemental_oxygen());
  EXPECT_EQ(o.systolic_bp(), 128);
  EXPECT_EQ(o.pulse(), 80);
  EXPECT_EQ(o.consciousness(), v1::CONSCIOUSNESS_ALERT);
  EXPECT_DOUBLE_EQ(o.temperature_celsius(), 36.8);
  EXPECT_FALSE(o.has_taken_at());
  ASSERT_TRUE(r->findings().has_fall());
  EXPECT_TRUE(r->findings().fall());
  ASSERT_TRUE(r->findings().has_on_anticoagulant());
  EXPECT_FALSE(r->findings().on_anticoagulant());
  // Nothing else is invented: unrecorded stays unrecorded.
  EXPECT_FALSE(r->findings().has_head_injury());
  EXPECT_FALSE(r->observations().has_hypercapnic_respiratory_failure());
}

TEST(ReferralFromFlagsTest, NoObservationsMessageWithoutObservations) {
  auto r = FromFlags({"--problem", "fall"});
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->has_observations());
}

TEST(ReferralFromFlagsTest, BadValuesNameTheFlag) {
  EXPECT_THAT(
      FromFlags({"--rr", "fast"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--rr: 'fast'")));
  EXPECT_THAT(FromFlags({"--dob", "01/03/1950"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--dob")));
  EXPECT_THAT(FromFlags({"--o2", "maybe"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--o2")));
  EXPECT_THAT(
      FromFlags({"--temp", "hot"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--temp")));
  EXPECT_THAT(
      FromFlags({"--problem", "broken"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--problem")));
  EXPECT_THAT(FromFlags({"--consciousness", "X"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--consciousness")));
}

TEST(SetFindingTest, EveryBoolFindingBothWays) {
  const google::protobuf::Descriptor* d = v1::Findings::descriptor();
  int bools = 0;
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_BOOL)
      continue;
    ++bools;
    for (const bool value : {true, false}) {
      v1::Findings findings;
      ASSERT_THAT(SetFinding(absl::StrCat(f->name(), "=", value ? "yes" : "no"),
                             &findings),
                  IsOk())
          << f->name();
      const auto* r = findings.GetReflection();
      EXPECT_TRUE(r->HasField(findings, f)) << f->name();
      EXPECT_EQ(r->GetBool(findings, f), value) << f->name();
    }
  }
  EXPECT_GT(bools, 40);
}

TEST(SetFindingTest, EnumAndIntegerFindings) {
  v1::Findings f;
  ASSERT_THAT(SetFinding("chest_pain_timing=ongoing", &f), IsOk());
  EXPECT_EQ(f.chest_pain_timing(), v1::CHEST_PAIN_TIMING_ONGOING);
  ASSERT_THAT(SetFinding("mental_health_risk=SEVERE_CRISIS", &f), IsOk());
  EXPECT_EQ(f.mental_health_risk(), v1::MENTAL_HEALTH_RISK_SEVERE_CRISIS);
  ASSERT_THAT(SetFinding("clinical_frailty_scale=6", &f), IsOk());
  EXPECT_EQ(f.clinical_frailty_scale(), 6);
  ASSERT_THAT(SetFinding("Lives-Alone = true", &f), IsOk());
  EXPECT_TRUE(f.lives_alone());
}

TEST(SetFindingTest, Errors) {
  v1::Findings f;
  EXPECT_THAT(
      SetFinding("fall", &f),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NAME=VALUE")));
  EXPECT_THAT(SetFinding("falll=yes", &f),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("did you mean fall")));
  EXPECT_THAT(SetFinding("wobbly=yes", &f),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown finding 'wobbly'")));
  EXPECT_THAT(SetFinding("fall=perhaps", &f),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--finding fall")));
  EXPECT_THAT(SetFinding("clinical_frailty_scale=six", &f),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PostcodeDistrictTest, OutwardCode) {
  EXPECT_EQ(PostcodeDistrict("LS1"), "LS1");
  EXPECT_EQ(PostcodeDistrict(" ls6 "), "LS6");
  EXPECT_EQ(PostcodeDistrict("LS1 4AP"), "LS1");
  EXPECT_EQ(PostcodeDistrict("bd104ap"), "BD10");
  EXPECT_EQ(PostcodeDistrict("BD10"), "BD10");
}

TEST(ParseReferralJsonTest, UnknownFieldsAreErrorsNamingTheField) {
  EXPECT_THAT(ParseReferralJson(R"({"problem": "PRESENTING_PROBLEM_FALL"})"),
              IsOk());
  EXPECT_THAT(ParseReferralJson(R"({"patient": {"nhs": "9434765919"}})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nhs")));
  EXPECT_THAT(ParseReferralJson("{"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(NewRequestIdTest, UuidShapedAndFresh) {
  const std::regex uuid(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewRequestId();
    EXPECT_TRUE(std::regex_match(id, uuid)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

// --- Formatting
// ------------------------------------------------------------------

TEST(FormatTimeToBreachTest, HoursMinutesAndBreaches) {
  EXPECT_EQ(FormatTimeToBreach(3900), "1h05m");
  EXPECT_EQ(FormatTimeToBreach(3959), "1h05m");  // time left rounds down
  EXPECT_EQ(FormatTimeToBreach(0), "0h00m");
  EXPECT_EQ(FormatTimeToBreach(-720), "-0h12m BREACHED");
  EXPECT_EQ(FormatTimeToBreach(-30), "-0h01m BREACHED");  // overdue rounds up
  EXPECT_EQ(FormatTimeToBreach(-(26 * 3600 + 60)), "-26h01m BREACHED");
  EXPECT_EQ(FormatTimeToBreach(3 * 86400 + 4 * 3600 + 59), "3d04h");
}

TEST(FormatLocalTimeTest, EuropeLondonWithGmtAndBst) {
  EXPECT_EQ(FormatLocalTime(Ts(Utc(2026, 11, 23, 14, 20))),
            "Mon 23 Nov 14:20 GMT");
  EXPECT_EQ(FormatLocalTime(Ts(Utc(2026, 7, 3, 14, 20)), true),
            "Fri 3 Jul 2026 15:20 BST");
  EXPECT_EQ(FormatLocalTime(google::protobuf::Timestamp()), "-");
}

TEST(FormatBytesTest, Units) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KB");
  EXPECT_EQ(FormatBytes(12.3 * 1024 * 1024), "12.3 MB");
}

TEST(FormatReferenceBannerTest, BigAndGrouped) {
  EXPECT_EQ(FormatReferenceBanner("K3M7-9Q2D-X8A"),
            "    +-----------------------+\n"
            "    |   K3M7 - 9Q2D - X8A   |\n"
            "    +-----------------------+\n");
}

TEST(FormatTableTest, AlignsColumnsAndTrimsTrailingSpaces) {
  EXPECT_EQ(FormatTable({{"A", "BB", "C"}, {"aaa", "b", ""}}),
            "A    BB  C\n"
            "aaa  b\n");
}

v1::WorklistEntry Entry(const std::string& id, std::optional<absl::Time> due,
                        v1::SlaState sla = v1::SLA_STATE_ON_TRACK) {
  v1::WorklistEntry e;
  e.set_id(id);
  e.set_status(v1::REFERRAL_STATUS_TRIAGED);
  e.set_pathway(v1::PATHWAY_UCR);
  e.set_urgency(v1::URGENCY_WITHIN_2H);
  e.set_problem(v1::PRESENTING_PROBLEM_FALL);
  e.set_sla(sla);
  if (due) *e.mutable_due_at() = Ts(*due);
  return e;
}

TEST(FormatWorklistTest, OrderedByDueWithTimeToBreach) {
  const absl::Time now = Utc(2026, 11, 23, 14, 32);
  v1::WorklistEntry missing = Entry("CCCC-CCCC-CC2", now + absl::Minutes(65));
  missing.set_missing_data_review(true);
  std::string table = FormatWorklist(
      "Worklist UCR",
      {Entry("NONE-NONE-NN0", std::nullopt, v1::SLA_STATE_NO_TARGET), missing,
       Entry("BBBB-BBBB-BB1", now - absl::Minutes(12), v1::SLA_STATE_BREACHED),
       Entry("DDDD-DDDD-DD3", now + absl::Hours(1), v1::SLA_STATE_MET)},
      now);
  EXPECT_THAT(
      table,
      HasSubstr(
          "Worklist UCR: 4 referrals, 1 breached, 1 with missing data\n"));
  EXPECT_THAT(
      table,
      ContainsRegex("REFERENCE +URGENCY +STATUS +DUE +TO BREACH +PROBLEM"));
  const size_t b = table.find("BBBB"), d = table.find("DDDD"),
               c = table.find("CCCC"), n = table.find("NONE");
  ASSERT_NE(b, std::string::npos);
  EXPECT_LT(b, d);
  EXPECT_LT(d, c);
  EXPECT_LT(c, n);
  EXPECT_THAT(
      table,
      ContainsRegex("BBBB-BBBB-BB1 +WITHIN_2H +TRIAGED +Mon 23 Nov 14:20 GMT +"
                    "-0h12m BREACHED +FALL"));
  EXPECT_THAT(table,
              ContainsRegex("CCCC-CCCC-CC2 .* 1h05m +FALL +MISSING DATA"));
  EXPECT_THAT(table, ContainsRegex("DDDD-DDDD-DD3 .* met "));
  EXPECT_THAT(table, ContainsRegex("NONE-NONE-NN0 .* - +no target "));
  EXPECT_EQ(FormatWorklist("Worklist UCR", {}, now),
            "Worklist UCR: no referrals\n");
}

TEST(FormatWorklistUpdateTest, NewChangedRemoved) {
  const absl::Time now = Utc(2026, 11, 23, 14, 32);
  std::set<std::string> known = {"AAAA-AAAA-AA0"};
  v1::WorklistUpdate u;
  u.set_kind(v1::WorklistUpdate::KIND_UPSERT);
  *u.add_entries() = Entry("AAAA-AAAA-AA0", now + absl::Minutes(30));
  *u.add_entries() = Entry("BBBB-BBBB-BB1", now + absl::Minutes(90));
  std::string text = FormatWorklistUpdate(u, now, &known);
  EXPECT_THAT(
      text,
      HasSubstr(
          "14:32:00  changed AAAA-AAAA-AA0  WITHIN_2H  TRIAGED  due Mon 23 "
          "Nov 15:02 GMT (0h30m)  FALL"));
  EXPECT_THAT(text, HasSubstr("new     BBBB-BBBB-BB1"));
  EXPECT_EQ(known.size(), 2u);
  u.set_kind(v1::WorklistUpdate::KIND_REMOVED);
  u.clear_entries();
  v1::WorklistEntry gone = Entry("AAAA-AAAA-AA0", std::nullopt);
  gone.set_status(v1::REFERRAL_STATUS_CLOSED);
  *u.add_entries() = gone;
  EXPECT_THAT(FormatWorklistUpdate(u, now, &known),
              HasSubstr("removed AAAA-AAAA-AA0  CLOSED"));
  EXPECT_EQ(known.count("AAAA-AAAA-AA0"), 0u);
}

v1::TriageDecision Decision() {
  v1::TriageDecision d;
  d.set_pathway(v1::PATHWAY_CLINICAL_REVIEW);
  d.set_urgency(v1::URGENCY_WITHIN_1H);
  d.set_target_minutes(60);
  d.set_rule_set_name("community-spa");
  d.set_rule_set_version("37fa511a96041234567890");
  d.set_decisive_row("primary_care/r76");
  v1::FiredRow* row = d.add_fired();
  row->set_table("primary_care");
  row->set_row("r76");
  row->set_pathway(v1::PATHWAY_PRIMARY_CARE);
  row->set_urgency(v1::URGENCY_WITHIN_12H);
  row->set_decisive(true);
  row->set_source("NHS Pathways Dx07");
  v1::FiredRow* maybe = d.add_could_escalate();
  maybe->set_table("head_injury");
  maybe->set_row("r21_seizure");
  maybe->set_pathway(v1::PATHWAY_ACUTE);
  maybe->set_urgency(v1::URGENCY_IMMEDIATE);
  maybe->set_safety_critical(true);
  maybe->add_missing_inputs("findings.head_injury_seizure");
  d.add_missing_inputs("findings.head_injury_seizure");
  d.add_flags(v1::FLAG_MISSING_DATA_REVIEW);
  v1::Score* news2 = d.add_scores();
  news2->set_name("NEWS2");
  news2->set_value(3);
  news2->set_highest_possible(6);
  news2->add_missing_inputs("observations.pulse");
  return d;
}

TEST(FormatDecisionLinesTest, DecisiveRowAndMissingData) {
  std::string text = FormatDecisionLines(Decision());
  EXPECT_THAT(
      text,
      HasSubstr(
          "Decisive row  primary_care/r76 -> PRIMARY_CARE WITHIN_12H (the "
          "outcome without the missing data)\n"));
  EXPECT_THAT(text, HasSubstr("source: NHS Pathways Dx07"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "Missing data  findings.head_injury_seizure: could make this more "
          "urgent"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "? head_injury/r21_seizure -> ACUTE IMMEDIATE [safety-critical] "
          "(needs findings.head_injury_seizure)"));
  EXPECT_THAT(text, HasSubstr("Flags         MISSING_DATA_REVIEW"));
  EXPECT_THAT(text,
              HasSubstr("NEWS2         at least 3, up to 6 (not recorded: "
                        "observations.pulse)"));
  EXPECT_THAT(text,
              HasSubstr("Rule set      community-spa version 37fa511a9604\n"));

  v1::TriageDecision complete = Decision();
  complete.clear_could_escalate();
  complete.clear_missing_inputs();
  EXPECT_THAT(FormatDecisionLines(complete),
              HasSubstr("Missing data  none that could change the outcome"));
}

TEST(FormatSubmitResultTest, EverythingTheCallHandlerNeeds) {
  const absl::Time now = Utc(2026, 11, 23, 14, 20);
  v1::SubmitReferralResponse response;
  v1::ReferralRecord* r = response.mutable_record();
  r->set_id("K3M7-9Q2D-X8A");
  r->set_status(v1::REFERRAL_STATUS_TRIAGED);
  r->set_pathway(v1::PATHWAY_CLINICAL_REVIEW);
  r->set_urgency(v1::URGENCY_WITHIN_1H);
  *r->mutable_decision() = Decision();
  *r->mutable_due_at() = Ts(now + absl::Hours(1));
  r->mutable_service()->set_service_id("clinical-review-hub");
  r->mutable_service()->set_service_name("SPA clinical review hub");
  r->set_request_id("3f0c9a4e-5b1d-4e7a-9c2f-1a2b3c4d5e6f");
  response.add_warnings("patient.nhs_number: fails its check digit");
  std::string text = FormatSubmitResult(response, now);
  EXPECT_THAT(text, HasSubstr("Referral stored."));
  EXPECT_THAT(text, HasSubstr("|   K3M7 - 9Q2D - X8A   |"));
  EXPECT_THAT(text, HasSubstr("  Pathway     CLINICAL_REVIEW\n"));
  EXPECT_THAT(text, HasSubstr("  Urgency     WITHIN_1H (within 1 hour)\n"));
  EXPECT_THAT(
      text,
      HasSubstr("  Due         Mon 23 Nov 2026 15:20 GMT (1h00m to breach)\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "  Service     clinical-review-hub (SPA clinical review hub)\n"));
  EXPECT_THAT(
      text, HasSubstr("  Request id  3f0c9a4e-5b1d-4e7a-9c2f-1a2b3c4d5e6f\n"));
  EXPECT_THAT(
      text,
      HasSubstr("Warnings:\n  - patient.nhs_number: fails its check digit\n"));
  EXPECT_THAT(text, HasSubstr("Why:\n  Decisive row  primary_care/r76"));
  EXPECT_THAT(text, HasSubstr("Missing data  findings.head_injury_seizure"));

  response.set_replayed(true);
  r->set_status(v1::REFERRAL_STATUS_AWAITING_TRIAGE);
  r->clear_decision();
  text = FormatSubmitResult(response, now);
  EXPECT_THAT(text, HasSubstr("nothing new was stored"));
  EXPECT_THAT(text, HasSubstr("Triage could not run yet"));
}

TEST(FormatEventsTest, OneLinePerEvent) {
  v1::ReferralEvent e;
  e.set_sequence(3);
  *e.mutable_at() = Ts(Utc(2026, 11, 23, 14, 25));
  e.set_type(v1::EVENT_TYPE_REJECTED);
  e.set_from_status(v1::REFERRAL_STATUS_TRIAGED);
  e.set_to_status(v1::REFERRAL_STATUS_REJECTED);
  e.set_actor("bob");
  e.set_reason("not our area");
  EXPECT_THAT(
      FormatEvents({e}),
      ContainsRegex(
          "3 +Mon 23 Nov 2026 14:25 GMT +REJECTED +TRIAGED -> REJECTED +bob +"
          "\"not our area\""));
}

TEST(FormatDirectoryTest, ServicesTable) {
  v1::ListServicesResponse response;
  v1::ServiceState* s = response.add_services();
  s->mutable_service()->set_id("ucr");
  s->mutable_service()->set_name("Urgent community response");
  s->mutable_service()->add_pathways(v1::PATHWAY_UCR);
  s->mutable_service()->add_pathways(v1::PATHWAY_VIRTUAL_WARD);
  s->set_capacity(v1::CAPACITY_RED);
  *s->mutable_capacity_expires_at() = Ts(Utc(2026, 11, 23, 18, 20));
  s->set_open_now(true);
  EXPECT_THAT(
      FormatDirectory(response),
      ContainsRegex(
          "ucr +Urgent community response +UCR,VIRTUAL_WARD +RED until 18:20 "
          "+yes"));
}

// --- The command line without a server
// --------------------------------------------

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

CliResult RunArgs(const std::vector<std::string>& args, const ClientEnv& env,
                  const std::string& in = "") {
  std::istringstream input(in);
  std::ostringstream out, err;
  CliResult r;
  r.code = RunCli(args, Io{input, out, err}, env);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::ostream& operator<<(std::ostream& os, const CliResult& r) {
  return os << "exit " << r.code << "\n--- stdout\n"
            << r.out << "--- stderr\n"
            << r.err;
}

const std::vector<std::string> kVerbs = {
    "submit",   "get",       "events",   "list",   "worklist", "watch",
    "accept",   "reject",    "redirect", "return", "close",    "cancel",
    "override", "directory", "capacity", "match"};

TEST(RunCliTest, HelpListsEveryVerbOnOneLine) {
  CliResult r = RunArgs({"--help"}, ClientEnv{});
  EXPECT_EQ(r.code, kExitOk) << r;
  for (const std::string& verb : kVerbs) {
    EXPECT_THAT(r.out,
                ContainsRegex(absl::StrCat("\n  ", verb, " [^\n]* {2}[a-z]")))
        << verb;
    EXPECT_TRUE(IsClientVerb(verb));
  }
  EXPECT_THAT(r.out,
              AllOf(HasSubstr("\n  admin backup DIR"),
                    HasSubstr("\n  admin restore"), HasSubstr("\n  rules ")));
  EXPECT_FALSE(IsClientVerb("rules"));
}

TEST(RunCliTest, EveryVerbHasHelp) {
  for (const std::string& verb : kVerbs) {
    CliResult r = RunArgs({verb, "--help"}, ClientEnv{});
    EXPECT_EQ(r.code, kExitOk) << verb << r;
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("usage: frontdoor ", verb)))
        << verb;
  }
  CliResult r = RunArgs({"admin", "--help"}, ClientEnv{});
  EXPECT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, HasSubstr("restore BACKUP_DIR DATA_DIR"));
}

TEST(RunCliTest, UsageErrorsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"get"},
      {"get", "NOT-A-REF"},
      {"get", "004C-S0ZQ-99V"},  // wrong check character
      {"get", "004C-S0ZQ-99U", "--bogus"},
      {"get", "004C-S0ZQ-99U", "--server=nohost"},
      {"get", "004C-S0ZQ-99U", "--timeout=soon"},
      {"submit"},
      {"submit", "a.json", "--problem=FALL"},
      {"submit", "--problem=FALL", "--rr=fast"},
      {"list", "--pathway=nowhere"},
      {"list", "--page-size=0"},
      {"worklist"},
      {"worklist", "--pathway=UCR", "--service=ucr"},
      {"watch"},
      {"accept"},
      {"accept", "004C-S0ZQ-99U", "--version=x"},
      {"accept", "004C-S0ZQ-99U", "--reason=no"},  // accept takes no reason
      {"reject", "004C-S0ZQ-99U", "--version=1"},  // --reason is required
      {"redirect", "004C-S0ZQ-99U", "--reason=x"},
      {"return", "004C-S0ZQ-99U"},
      {"cancel", "004C-S0ZQ-99U"},
      {"close", "004C-S0ZQ-99U", "--advice=x"},
      {"override", "004C-S0ZQ-99U", "--pathway=UCR"},
      {"capacity", "ucr"},
      {"capacity", "ucr", "PURPLE"},
      {"match", "--pathway=UCR"},
      {"match", "--pathway=UCR", "--urgency=2h", "--at=tomorrow"},
      {"admin"},
      {"admin", "backup"},
      {"admin", "restore", "only-one"},
      {"admin", "frobnicate"},
  };
  for (const auto& args : cases) {
    CliResult r = RunArgs(args, ClientEnv{"127.0.0.1:1", "alice"});
    EXPECT_EQ(r.code, kExitUsage) << absl::StrJoin(args, " ") << "\n" << r;
    EXPECT_THAT(r.out, IsEmpty()) << absl::StrJoin(args, " ");
    EXPECT_THAT(r.err, HasSubstr("usage: frontdoor"))
        << absl::StrJoin(args, " ");
  }
}

TEST(RunCliTest, MissingReferralFileIsAUsageError) {
  CliResult r = RunArgs({"submit", "no/such/file.json"},
                        ClientEnv{"127.0.0.1:1", "alice"});
  EXPECT_EQ(r.code, kExitUsage) << r;
  EXPECT_THAT(r.err, HasSubstr("cannot read no/such/file.json"));
}

TEST(RunCliTest, InvalidReferralFileExitsOneNamingTheField) {
  CliResult r = RunArgs(
      {"submit", "-"}, ClientEnv{"127.0.0.1:1", "alice"},
      R"({"problem": "PRESENTING_PROBLEM_FALL", "patient": {"nhs": "1"}})");
  EXPECT_EQ(r.code, kExitFindings) << r;
  EXPECT_THAT(r.err,
              AllOf(HasSubstr("<stdin>: invalid referral"), HasSubstr("nhs")));
}

TEST(RunCliTest, UnreachableServer) {
  CliResult r = RunArgs({"get", "004C-S0ZQ-99U", "--timeout=5s"},
                        ClientEnv{"127.0.0.1:1", "alice"});
  EXPECT_EQ(r.code, kExitFindings) << r;
  EXPECT_THAT(
      r.err,
      HasSubstr("frontdoor: UNAVAILABLE: cannot reach frontdoor-server at "
                "127.0.0.1:1 (is it running? start it with scripts/run.sh)"));

  // A failed submit tells how to retry safely.
  r = RunArgs({"submit", "--problem=FALL"}, ClientEnv{"127.0.0.1:1", "alice"});
  EXPECT_EQ(r.code, kExitFindings) << r;
  EXPECT_THAT(r.err, ContainsRegex("--request-id=[0-9a-f-]{36}"));
}

TEST(RunCliTest, RulesStillWork) {
  CliResult r = RunArgs({"rules", "--help"}, ClientEnv{});
  EXPECT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, HasSubstr("lint DIR"));
}

// --- End to end against a real server
// ---------------------------------------------

// An ostream buffer that may be written by one thread while another reads
// what was written.
class LockedBuf : public std::streambuf {
 public:
  std::string str() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    std::lock_guard<std::mutex> lock(mu_);
    text_.push_back(static_cast<char>(c));
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::lock_guard<std::mutex> lock(mu_);
    text_.append(s, static_cast<size_t>(n));
    return n;
  }

 private:
  std::mutex mu_;
  std::string text_;
};

bool WaitFor(LockedBuf& buf, const std::string& needle,
             absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (absl::StrContains(buf.str(), needle)) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

// Runs `frontdoor ARGS` on a thread of its own; stops it with SIGINT (as
// Ctrl-C would) when asked or, failing that, on destruction.
class BackgroundCli {
 public:
  BackgroundCli(std::vector<std::string> args, ClientEnv env)
      : out_(&out_buf_), err_(&err_buf_) {
    thread_ = std::thread([this, args, env] {
      code_ = RunCli(args, Io{in_, out_, err_}, env);
    });
  }
  ~BackgroundCli() { Interrupt(); }

  // Sends SIGINT to the process and waits for the command to end.
  int Interrupt() {
    if (thread_.joinable()) {
      kill(getpid(), SIGINT);
      thread_.join();
    }
    return code_;
  }

  LockedBuf& out() { return out_buf_; }
  LockedBuf& err() { return err_buf_; }

 private:
  LockedBuf out_buf_, err_buf_;
  std::ostream out_, err_;
  std::istringstream in_;
  int code_ = -1;
  std::thread thread_;
};

class ClientEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log::SetMinLevel(log::Level::kError);
    tmp_ = new storage::testing::TempDir();
    server::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.http_listen = "";
    options.data_dir = tmp_->Sub("data");
    options.rules_dir = "triage-rules/community-spa";
    options.directory_file = "triage-rules/directory.yaml";
    options.shutdown_grace = absl::Seconds(1);
    options.tokens_file = frontdoor::testing::TestIdentities::Shared().file();
    auto started = server::FrontdoorServer::Start(options);
    ASSERT_THAT(started, IsOk());
    server_ = started->release();
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete tmp_;
    tmp_ = nullptr;
  }

  // By default a clinician (test-clinician): submits, reads, works and
  // overrides referrals.
  ClientEnv Env(v1::Role role = v1::ROLE_CLINICIAN) const {
    ClientEnv env{server_->grpc_address(), "alice"};
    env.token = frontdoor::testing::TestIdentities::Shared().token(role);
    return env;
  }

  CliResult Cli(std::vector<std::string> args, const std::string& in = "") {
    return RunArgs(args, Env(), in);
  }
  CliResult CliAs(v1::Role role, std::vector<std::string> args) {
    return RunArgs(args, Env(role), "");
  }

  // Submits a fall referral (clinical review: missing head injury data)
  // and returns its reference.
  std::string SubmitFall() {
    CliResult r = Cli({"submit", "--json", "--problem=FALL", "--nhs=9434765919",
                       "--dob=1950-03-01", "--postcode=LS1", "--referrer=GP",
                       "--rr=18", "--spo2=96", "--o2=no", "--sbp=128",
                       "--pulse=80", "--consciousness=A", "--temp=36.8",
                       "--finding=fall=yes", "--phone=01632 960000"});
    EXPECT_EQ(r.code, kExitOk) << r;
    v1::SubmitReferralResponse response;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(r.out, &response).ok())
        << r.out;
    EXPECT_FALSE(response.record().id().empty());
    return response.record().id();
  }

  static storage::testing::TempDir* tmp_;
  static server::FrontdoorServer* server_;
};

storage::testing::TempDir* ClientEndToEndTest::tmp_ = nullptr;
server::FrontdoorServer* ClientEndToEndTest::server_ = nullptr;

TEST_F(ClientEndToEndTest, SubmitGetWorklistAcceptClose) {
  // Readable submit of an example file.
  CliResult r =
      Cli({"submit", "examples/referrals/news2-7-acute-deterioration.json",
           "--request-id=e2e-file-1"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(
      r.out,
      AllOf(HasSubstr("Referral stored."),
            ContainsRegex("\\|   [0-9A-Z]{4} - "
                          "[0-9A-Z]{4} - .{3}   \\|"),
            HasSubstr("Pathway     ACUTE"), HasSubstr("Urgency     IMMEDIATE"),
            ContainsRegex("Due         .* (GMT|BST)"),
            HasSubstr("Service     "), HasSubstr("Decisive row"),
            HasSubstr("Missing data"), HasSubstr("Request id  e2e-file-1")));
  // The same request id again: replayed, nothing new.
  r = Cli({"submit", "examples/referrals/news2-7-acute-deterioration.json",
           "--request-id=e2e-file-1"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, HasSubstr("nothing new was stored"));

  const std::string id = SubmitFall();
  const std::string lower =
      absl::AsciiStrToLower(absl::StrReplaceAll(id, {{"-", ""}}));

  r = Cli({"get", lower});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr(absl::StrCat("Reference   ", id)),
                           HasSubstr("TRIAGED (version 1)"),
                           HasSubstr("Pathway     CLINICAL_REVIEW"),
                           HasSubstr("Submitted   by test-clinician"),
                           HasSubstr("Events (2)"), HasSubstr("SUBMITTED"),
                           HasSubstr("RECEIVED -> TRIAGED")));

  r = Cli({"get", id, "--json"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr("\"record\""), HasSubstr("\"events\""),
                           HasSubstr("\"linked_referrals\"")));

  r = Cli({"worklist", "--pathway=clinical-review"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out,
              AllOf(HasSubstr("Worklist CLINICAL_REVIEW: "),
                    ContainsRegex(absl::StrCat(
                        // Check characters include $ and *.
                        absl::StrReplaceAll(id, {{"$", "\\$"}, {"*", "\\*"}}),
                        " +WITHIN_1H +TRIAGED +.* (GMT|BST) +"
                        "[0-9]h[0-9]{2}m +FALL +MISSING DATA"))));

  // Accept with --version.
  r = Cli({"accept", id, "--version=1"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(id, ": now ACCEPTED (version 2)")));
  EXPECT_THAT(r.err, IsEmpty());

  // A stale version.
  r = Cli({"close", id, "--version=1", "--note=done"});
  EXPECT_EQ(r.code, kExitFindings) << r;
  EXPECT_THAT(r.err, HasSubstr("frontdoor: ABORTED: expected_version"));

  r = Cli({"close", id, "--version=2", "--note=done"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(id, ": now CLOSED (version 3)")));

  // Accept without --version: the current one is fetched, and said so.
  const std::string second = SubmitFall();
  // --actor is not who the server records: the token is.
  r = CliAs(v1::ROLE_CALL_HANDLER, {"accept", second, "--actor=bob"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(
                         "no --version given: using the current version 1 of ",
                         second, " (TRIAGED)")));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(
                         second, ": TRIAGED -> ACCEPTED (version 2)")));
  // ... and a second accept at the old version is stale.
  r = Cli({"accept", second, "--version=1"});
  EXPECT_EQ(r.code, kExitFindings) << r;
  EXPECT_THAT(r.err, HasSubstr("frontdoor: ABORTED:"));

  r = Cli({"events", second});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(
      r.out,
      ContainsRegex("3 +.* +ACCEPTED +TRIAGED -> ACCEPTED +test-call-handler"));

  // An unknown reference.
  r = Cli({"get", FormatReference(123456789)});
  EXPECT_EQ(r.code, kExitFindings) << r;
  EXPECT_THAT(r.err, HasSubstr("frontdoor: NOT_FOUND: "));
  r = Cli({"accept", FormatReference(123456789)});
  EXPECT_EQ(r.code, kExitFindings) << r;
  EXPECT_THAT(r.err, HasSubstr("frontdoor: NOT_FOUND: "));

  // Lists: every page with --all.
  r = Cli({"list", "--all", "--page-size=1"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out,
              AllOf(HasSubstr(id), HasSubstr(second), Not(HasSubstr("more:"))));
  r = Cli({"list", "--page-size=1"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out,
              HasSubstr("more: run again with --all, or with --page-token="));
  r = Cli({"list", "--status=closed", "--json"});
  ASSERT_EQ(r.code, kExitOk) << r;
  v1::ListReferralsResponse closed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &closed).ok())
      << r.out;
  ASSERT_EQ(closed.referrals_size(), 1);
  EXPECT_EQ(closed.referrals(0).id(), id);
}

TEST_F(ClientEndToEndTest, OverrideRejectRedirectReturnCancel) {
  std::string id = SubmitFall();
  CliResult r = Cli({"override", id, "--pathway=UCR", "--urgency=2h",
                     "--reason=seen by the nurse", "--clinician=Dr B"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(
      r.out,
      HasSubstr(
          "triage overridden by Dr B: UCR WITHIN_2H, TRIAGED (version 2)"));
  r = Cli({"redirect", id, "--service=district-nursing", "--reason=wound care",
           "--version=2"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr("now REDIRECTED (version 3)"),
                           HasSubstr("service  district-nursing")));
  r = Cli({"return", id, "--advice=call the GP", "--version=3"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, HasSubstr("now RETURNED_WITH_ADVICE"));

  id = SubmitFall();
  r = Cli({"reject", id, "--reason=out of area", "--json"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, HasSubstr("\"status\": \"REFERRAL_STATUS_REJECTED\""));

  id = SubmitFall();
  r = Cli({"cancel", id, "--reason=entered twice"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, HasSubstr("TRIAGED -> CANCELLED"));
  // Not allowed from CANCELLED: the server's message comes through.
  r = Cli({"accept", id});
  EXPECT_EQ(r.code, kExitFindings) << r;
  EXPECT_THAT(
      r.err,
      HasSubstr("frontdoor: FAILED_PRECONDITION: cannot move a referral"));
}

TEST_F(ClientEndToEndTest, DirectoryCapacityMatch) {
  CliResult r = Cli({"directory", "--pathway=UCR"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr("ID "), HasSubstr("OPEN NOW"),
                           ContainsRegex("\nucr +")));
  r = Cli({"capacity", "ucr", "amber", "--minutes=30"});
  EXPECT_EQ(r.code, kExitFindings) << r;  // a clinician may not
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED"));
  r = CliAs(v1::ROLE_SERVICE_MANAGER,
            {"capacity", "ucr", "amber", "--minutes=30"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr("capacity AMBER until"),
                           HasSubstr("set by test-service-manager")));
  r = CliAs(v1::ROLE_SERVICE_MANAGER, {"capacity", "no-such-service", "RED"});
  EXPECT_EQ(r.code, kExitFindings) << r;
  EXPECT_THAT(r.err, HasSubstr("frontdoor: NOT_FOUND: "));
  r = Cli({"match", "--pathway=acute", "--urgency=immediate", "--postcode=LS6",
           "--at=2026-11-23T14:20:00Z"});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr("Service     "), HasSubstr("Why ")));
}

TEST_F(ClientEndToEndTest, WatchPrintsTheSnapshotThenChangesUntilCtrlC) {
  const std::string before = SubmitFall();
  BackgroundCli watch({"watch", "--pathway=CLINICAL_REVIEW"}, Env());
  ASSERT_TRUE(WaitFor(watch.out(), "Watching for changes", absl::Seconds(20)))
      << watch.out().str() << watch.err().str();
  EXPECT_THAT(watch.out().str(), AllOf(HasSubstr("Worklist CLINICAL_REVIEW: "),
                                       HasSubstr(before)));

  const std::string added = SubmitFall();
  EXPECT_TRUE(
      WaitFor(watch.out(), absl::StrCat("new     ", added), absl::Seconds(20)))
      << watch.out().str();
  // (No --version: linking the later referral as a duplicate changed it.)
  CliResult accepted = Cli({"accept", before});
  ASSERT_EQ(accepted.code, kExitOk) << accepted;
  EXPECT_TRUE(WaitFor(watch.out(),
                      absl::StrCat("changed ", before, "  WITHIN_1H  ACCEPTED"),
                      absl::Seconds(20)))
      << watch.out().str();

  // Ctrl-C: the handler cancels the call and the command ends cleanly.
  EXPECT_EQ(watch.Interrupt(), kExitOk);
  EXPECT_THAT(watch.err().str(), HasSubstr("stopped"));
}

TEST_F(ClientEndToEndTest, WatchJsonLines) {
  BackgroundCli watch({"watch", "--service=clinical-review-hub", "--json"},
                      Env());
  ASSERT_TRUE(WaitFor(watch.out(), "KIND_SNAPSHOT", absl::Seconds(20)))
      << watch.out().str();
  const std::string added = SubmitFall();
  ASSERT_TRUE(WaitFor(watch.out(), added, absl::Seconds(20)))
      << watch.out().str();
  EXPECT_EQ(watch.Interrupt(), kExitOk);
  int lines = 0;
  for (absl::string_view line :
       absl::StrSplit(watch.out().str(), '\n', absl::SkipEmpty())) {
    v1::WorklistUpdate update;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(std::string(line), &update)
            .ok())
        << line;
    ++lines;
  }
  EXPECT_GE(lines, 2);
}

TEST_F(ClientEndToEndTest, AdminBackupThroughTheRunningServer) {
  SubmitFall();
  const std::string backups = tmp_->Sub("backups");
  CliResult r = CliAs(v1::ROLE_ADMIN, {"admin", "backup", backups});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("written to ", backups)));
  // The server has the store open: going around it is refused.
  r = Cli(
      {"admin", "backup", tmp_->Sub("around"), "--data", tmp_->Sub("data")});
  EXPECT_EQ(r.code, kExitFindings) << r;
  // The backup restores (offline) into a store that opens and holds them.
  r = Cli({"admin", "restore", backups, tmp_->Sub("restored")});
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, ContainsRegex("referrals: [1-9][0-9]* referrals?\n"));
}

// --- admin backup and restore
// ---------------------------------------------------------

TEST(AdminCommandTest, BackupThroughTheServerThenRestoreOffline) {
  log::SetMinLevel(log::Level::kError);
  storage::testing::TempDir tmp;
  const std::string data = tmp.Sub("data");
  std::filesystem::create_directories(data);
  storage::ReferralStore::Options options;
  options.path = data + "/referrals";
  auto store = storage::ReferralStore::Open(options);
  ASSERT_THAT(store, IsOk());
  for (const std::string& id : {FormatReference(1), FormatReference(2)}) {
    storage::testing::RecordSpec spec;
    spec.id = id;
    v1::ReferralRecord record = storage::testing::MakeRecord(spec);
    ASSERT_THAT((*store)->CommitAndWait([&](storage::Txn& txn) {
      txn.PutReferral(record);
      return absl::OkStatus();
    }),
                IsOk());
  }
  frontdoor::testing::TestIdentities ids =
      frontdoor::testing::TestIdentities::Shared();
  admin::AdminServiceImpl service(store->get(), ids.authorizer());
  ClientEnv env{"", "alice"};
  std::unique_ptr<grpc::Server> server =
      frontdoor::testing::StartLocalServer({&service}, &env.server);
  ASSERT_NE(server, nullptr);
  env.token = ids.token(v1::ROLE_ADMIN);

  const std::string backups = tmp.Sub("backups");
  CliResult r = RunArgs({"admin", "backup", backups}, env);
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out,
              AllOf(HasSubstr(absl::StrCat("backup 1 written to ", backups)),
                    HasSubstr("frontdoor admin restore")));
  r = RunArgs({"admin", "backup", backups, "--json"}, env);
  ASSERT_EQ(r.code, kExitOk) << r;
  v1::BackupResponse second;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &second).ok())
      << r.out;
  EXPECT_EQ(second.backup_id(), 2);
  EXPECT_GT(second.bytes(), 0);

  // The store is open here (as in a running server): --data refuses.
  r = RunArgs({"admin", "backup", tmp.Sub("offline"), "--data", data}, env);
  EXPECT_EQ(r.code, kExitFindings) << r;

  server->Shutdown();
  (*store)->Close();

  // Offline, with the store closed, --data works.
  r = RunArgs({"admin", "backup", tmp.Sub("offline"), "--data", data}, env);
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, HasSubstr("backup 1 written to"));

  // Restore into a new data directory, then refuse to overwrite it without
  // --force.
  const std::string restored = tmp.Sub("restored");
  r = RunArgs({"admin", "restore", backups, restored}, env);
  ASSERT_EQ(r.code, kExitOk) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr("restored backup 2"),
                           HasSubstr(restored + "/referrals: 2 referrals")));
  r = RunArgs({"admin", "restore", backups, restored}, env);
  EXPECT_EQ(r.code, kExitFindings) << r;
  EXPECT_THAT(r.err, HasSubstr("--force"));
  r = RunArgs({"admin", "restore", backups, restored, "--force"}, env);
  EXPECT_EQ(r.code, kExitOk) << r;

  options.path = restored + "/referrals";
  auto reopened = storage::ReferralStore::Open(options);
  ASSERT_THAT(reopened, IsOk());
  auto got = (*reopened)->GetReferral(FormatReference(2));
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->has_value());
  (*reopened)->Close();

  r = RunArgs({"admin", "restore", tmp.Sub("no-backups"), tmp.Sub("x")}, env);
  EXPECT_EQ(r.code, kExitFindings) << r;
  EXPECT_THAT(r.err, HasSubstr("no backup in"));
}

TEST(AdminCommandTest, ServerWithoutAdminService) {
  // A server that has not registered AdminService: the command says what to do.
  ClientEnv env{"", "alice"};
  std::unique_ptr<grpc::Server> server =
      frontdoor::testing::StartLocalServer({}, &env.server);
  ASSERT_NE(server, nullptr);
  CliResult r = RunArgs({"admin", "backup", "/tmp/frontdoor-never"}, env);
  EXPECT_EQ(r.code, kExitFindings) << r;
  EXPECT_THAT(r.err, AllOf(HasSubstr("frontdoor: UNIMPLEMENTED: "),
                           HasSubstr("--data=DATA_DIR")));
  server->Shutdown();
}

}  // namespace
}  // namespace frontdoor::cli
