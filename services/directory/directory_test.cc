// Matching, capacity and persistence of the Directory, over the default
// directory file (the Kirkbeck SPA) and a small test directory for the
// clock changes, target windows and tie-breaks.

#include "services/directory/directory.h"

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/clock.h"
#include "services/common/proto_time.h"
#include "services/common/test_util.h"
#include "services/directory/schedule.h"

namespace frontdoor::directory {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr char kDefaultFile[] = "triage-rules/directory.yaml";
constexpr int kAdult = 29220;  // 80 years (80 * 365.25 days)
constexpr int kChild = 1830;   // 5 years

absl::Time Utc(int y, int mo, int d, int h, int mi) {
  return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi),
                         absl::UTCTimeZone());
}

// 2026-01-14 is a Wednesday; in January local time is GMT (= UTC).
const absl::Time kWed1000 = Utc(2026, 1, 14, 10, 0);

v1::MatchServiceRequest Req(v1::Pathway pathway, v1::Urgency urgency,
                            int age_days, const std::string& district,
                            absl::Time at) {
  v1::MatchServiceRequest r;
  r.set_pathway(pathway);
  r.set_urgency(urgency);
  r.set_age_days(age_days);
  r.set_postcode_district(district);
  *r.mutable_at() = ToProtoTime(at);
  return r;
}

std::string Dump(const v1::ServiceMatch& m) {
  return absl::StrCat(m.service_id(), "\n", m.explanation(), "\n  ",
                      absl::StrJoin(m.not_chosen(), "\n  "));
}

// A small directory for the clock changes, target windows and tie-breaks.
constexpr char kTestDirectory[] = R"(directory: test
timezone: Europe/London
services:
  - id: night-team
    name: Night team
    pathways: [VIRTUAL_WARD]
    catchment: [LS1-LS9]
    sessions: "Sat 22:00-06:00"
  - id: early-team
    name: Early team
    pathways: [PALLIATIVE]
    catchment: [LS1-LS9]
    sessions: "Sun 01:30-03:00"
  - id: afternoon-clinic
    name: Afternoon clinic
    pathways: [SOCIAL_CARE]
    catchment: [LS1-LS9]
    sessions: "Mon-Fri 13:30-17:00"
  - id: national-line
    name: National line
    pathways: [ADVICE_ONLY]
    catchment: everywhere
    sessions: 24/7
  - id: local-line
    name: Local line
    pathways: [ADVICE_ONLY]
    catchment: [LS1-LS9]
    sessions: 24/7
    rank: 5
  - id: c-green
    name: C green
    pathways: [MENTAL_HEALTH_COMMUNITY]
    catchment: [LS1-LS9]
    sessions: 24/7
  - id: b-amber
    name: B amber
    pathways: [MENTAL_HEALTH_COMMUNITY]
    catchment: [LS1-LS9]
    sessions: 24/7
    capacity: AMBER
  - id: a-green
    name: A green
    pathways: [MENTAL_HEALTH_COMMUNITY]
    catchment: [LS1-LS9]
    sessions: 24/7
  - id: womens-clinic
    name: Women's clinic
    pathways: [MATERNITY]
    catchment: [LS1-LS9]
    sexes: [FEMALE]
    sessions: 24/7
  - id: ed
    name: Test ED
    pathways: [ACUTE]
    catchment: everywhere
    sessions: 24/7
    catch_all: yes
)";

// An in-memory CapacityStore that can be told to fail.
class FakeCapacityStore : public CapacityStore {
 public:
  absl::Status Put(const v1::ServiceState& state) override {
    absl::MutexLock lock(&mu_);
    if (fail_) return absl::UnavailableError("store failed");
    for (auto& s : states_) {
      if (s.service().id() == state.service().id()) {
        s = state;
        return absl::OkStatus();
      }
    }
    states_.push_back(state);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<v1::ServiceState>> List() override {
    absl::MutexLock lock(&mu_);
    if (fail_) return absl::UnavailableError("store failed");
    return states_;
  }
  void set_fail(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_ = fail;
  }
  std::vector<v1::ServiceState> states() {
    absl::MutexLock lock(&mu_);
    return states_;
  }

 private:
  absl::Mutex mu_;
  bool fail_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<v1::ServiceState> states_ ABSL_GUARDED_BY(mu_);
};

class DirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = Directory::Open(kDefaultFile, {&clock_, nullptr});
    ASSERT_THAT(d, IsOk());
    dir_ = *std::move(d);
    rules::Diagnostics diags;
    std::optional<DirectoryFile> f =
        ParseDirectoryFile(kTestDirectory, "test.yaml", &diags);
    ASSERT_TRUE(f.has_value());
    auto t = Directory::Create(*std::move(f), {&clock_, nullptr});
    ASSERT_THAT(t, IsOk());
    test_ = *std::move(t);
  }

  v1::ServiceMatch Match(const Directory& d, const v1::MatchServiceRequest& r) {
    absl::StatusOr<v1::ServiceMatch> m = d.MatchService(r);
    EXPECT_THAT(m, IsOk());
    return m.ok() ? *m : v1::ServiceMatch();
  }
  v1::ServiceMatch Match(const v1::MatchServiceRequest& r) {
    return Match(*dir_, r);
  }

  void SetRed(Directory& d, const std::string& id, int minutes) {
    v1::SetCapacityRequest r;
    r.set_service_id(id);
    r.set_capacity(v1::CAPACITY_RED);
    r.set_expires_after_minutes(minutes);
    r.set_set_by("duty manager");
    ASSERT_THAT(d.SetCapacity(r), IsOk());
  }

  FakeClock clock_{kWed1000};
  std::unique_ptr<Directory> dir_;
  std::unique_ptr<Directory> test_;
};

// --- UCR hours -----------------------------------------------------------

TEST_F(DirectoryTest, UcrOpenAtTen) {
  v1::ServiceMatch m = Match(
      Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult, "LS6", kWed1000));
  EXPECT_EQ(m.service_id(), "ucr") << Dump(m);
  EXPECT_FALSE(m.catch_all());
  EXPECT_EQ(m.service_name(), "Urgent community response");
  EXPECT_THAT(
      m.explanation(),
      AllOf(HasSubstr("Urgent community response for UCR in LS6"),
            HasSubstr("covers LS6"), HasSubstr("takes >= 18y (patient 80y)"),
            HasSubstr("open now until 20:00 (2h target: must be open "
                      "now and not closing within 30 minutes)"),
            HasSubstr("capacity GREEN"), HasSubstr("rank 1")));
  EXPECT_THAT(m.not_chosen(),
              ElementsAre("SPA clinical review hub: rank 9; Urgent community "
                          "response has rank 1"));
}

TEST_F(DirectoryTest, UcrClosingWithinThirtyMinutesIsNotChosen) {
  v1::ServiceMatch m = Match(Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult,
                                 "LS6", Utc(2026, 1, 14, 19, 45)));
  EXPECT_EQ(m.service_id(), "clinical-review-hub") << Dump(m);
  EXPECT_FALSE(m.catch_all());
  EXPECT_THAT(m.not_chosen(),
              ElementsAre("Urgent community response: closes 20:00, within 30 "
                          "minutes (opens again tomorrow 08:00)"));
  // Exactly 30 minutes before closing is still acceptable.
  m = Match(Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult, "LS6",
                Utc(2026, 1, 14, 19, 30)));
  EXPECT_EQ(m.service_id(), "ucr") << Dump(m);
}

TEST_F(DirectoryTest, UcrClosedAtNineGoesToTheNextCandidate) {
  v1::ServiceMatch m = Match(Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult,
                                 "LS6", Utc(2026, 1, 14, 21, 0)));
  EXPECT_EQ(m.service_id(), "clinical-review-hub") << Dump(m);
  EXPECT_THAT(m.explanation(), HasSubstr("open now (2h target"));
  EXPECT_THAT(m.not_chosen(), ElementsAre("Urgent community response: closed "
                                          "(opens tomorrow 08:00)"));
}

TEST_F(DirectoryTest, UcrClosedAndHubRedGoesToTheCatchAllForThatSide) {
  clock_.Set(Utc(2026, 1, 14, 21, 0));
  SetRed(*dir_, "clinical-review-hub", 120);
  v1::ServiceMatch m = Match(Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult,
                                 "LS6", Utc(2026, 1, 14, 21, 0)));
  EXPECT_EQ(m.service_id(), "ed-north") << Dump(m);
  EXPECT_TRUE(m.catch_all());
  EXPECT_THAT(m.explanation(),
              AllOf(HasSubstr("No UCR service can take this referral (2h "
                              "target): 2 considered, none fits"),
                    HasSubstr("Catch-all: Kirkbeck General Hospital emergency "
                              "department, the emergency department for LS6")));
  EXPECT_THAT(m.not_chosen(),
              ElementsAre("Urgent community response: closed (opens tomorrow "
                          "08:00)",
                          "SPA clinical review hub: capacity RED until 23:00, "
                          "set by duty manager"));
  // The south side's catch-all for a southern district.
  m = Match(Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult, "LS20",
                Utc(2026, 1, 14, 21, 0)));
  EXPECT_EQ(m.service_id(), "ed-south") << Dump(m);
  EXPECT_TRUE(m.catch_all());
}

// --- Catchment -------------------------------------------------------------

TEST_F(DirectoryTest, OutOfCatchmentGoesToTheCatchAllForThatSide) {
  v1::ServiceMatch m = Match(
      Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult, "WF3", kWed1000));
  EXPECT_EQ(m.service_id(), "ed-south") << Dump(m);
  EXPECT_TRUE(m.catch_all());
  EXPECT_THAT(m.explanation(),
              AllOf(HasSubstr("WF3 is outside the area of every local service"),
                    HasSubstr("the emergency department for WF3")));
  EXPECT_THAT(m.not_chosen(),
              ElementsAre("Urgent community response: not in catchment (WF3)",
                          "SPA clinical review hub: not in catchment (WF3)"));

  m = Match(
      Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult, "hg2 7sx", kWed1000));
  EXPECT_EQ(m.service_id(), "ed-north") << Dump(m);
  EXPECT_THAT(m.explanation(), HasSubstr("the emergency department for HG2"));

  // Covered by no catch-all: the first one (rank 1).
  m = Match(
      Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult, "BD1", kWed1000));
  EXPECT_EQ(m.service_id(), "ed-north") << Dump(m);
  EXPECT_THAT(m.explanation(),
              HasSubstr("the first catch-all (none covers BD1)"));
}

TEST_F(DirectoryTest, UnknownOrUnrecognisedDistrictOnlyMatchesEverywhere) {
  v1::ServiceMatch m = Match(Req(v1::PATHWAY_ADVICE_ONLY,
                                 v1::URGENCY_WITHIN_24H, kAdult, "", kWed1000));
  EXPECT_EQ(m.service_id(), "advice-line") << Dump(m);
  EXPECT_THAT(m.explanation(), HasSubstr("serves every district"));

  m = Match(
      Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult, "12345", kWed1000));
  EXPECT_EQ(m.service_id(), "ed-north") << Dump(m);
  EXPECT_TRUE(m.catch_all());
  EXPECT_THAT(m.not_chosen(),
              Contains("Urgent community response: not in catchment (an "
                       "unrecognised district ('12345'))"));
}

TEST_F(DirectoryTest, GpPracticeByCatchment) {
  v1::ServiceMatch m =
      Match(Req(v1::PATHWAY_PRIMARY_CARE, v1::URGENCY_WITHIN_24H, kAdult, "LS6",
                kWed1000));
  EXPECT_EQ(m.service_id(), "gp-kirkgate") << Dump(m);
  EXPECT_THAT(m.not_chosen(),
              ElementsAre("GP out of hours (integrated urgent care): rank 2; "
                          "Kirkgate Medical Practice has rank 1",
                          "Southbank Surgery: not in catchment (LS6)"));
  m = Match(Req(v1::PATHWAY_PRIMARY_CARE, v1::URGENCY_WITHIN_24H, kAdult,
                "LS22", kWed1000));
  EXPECT_EQ(m.service_id(), "gp-southbank") << Dump(m);
}

// --- Age and sex -------------------------------------------------------------

TEST_F(DirectoryTest, ChildGoesToTheChildrensTeam) {
  v1::ServiceMatch m = Match(Req(v1::PATHWAY_PAEDIATRIC, v1::URGENCY_WITHIN_4H,
                                 kChild, "LS6", kWed1000));
  EXPECT_EQ(m.service_id(), "childrens-community") << Dump(m);

  m = Match(Req(v1::PATHWAY_COMMUNITY_NURSING, v1::URGENCY_WITHIN_24H, kChild,
                "LS6", kWed1000));
  EXPECT_EQ(m.service_id(), "childrens-community") << Dump(m);
  EXPECT_THAT(m.explanation(), HasSubstr("takes < 18y (patient 5y)"));
  EXPECT_THAT(m.not_chosen(),
              Contains("District nursing: age 5y (takes >= 18y)"));

  m = Match(Req(v1::PATHWAY_COMMUNITY_NURSING, v1::URGENCY_WITHIN_24H, kAdult,
                "LS6", kWed1000));
  EXPECT_EQ(m.service_id(), "district-nursing") << Dump(m);
  EXPECT_THAT(m.not_chosen(),
              Contains("Children's community nursing team: age 80y (takes < "
                       "18y)"));
}

TEST_F(DirectoryTest, EighteenthBirthdayIsAnAdult) {
  auto at = [&](int days) {
    return Match(Req(v1::PATHWAY_COMMUNITY_NURSING, v1::URGENCY_WITHIN_24H,
                     days, "LS6", kWed1000))
        .service_id();
  };
  EXPECT_EQ(at(6573), "childrens-community");
  EXPECT_EQ(at(6574), "district-nursing");
}

TEST_F(DirectoryTest, UnknownAgeOnlyMatchesServicesWithoutAgeLimits) {
  v1::ServiceMatch m = Match(Req(v1::PATHWAY_COMMUNITY_NURSING,
                                 v1::URGENCY_WITHIN_24H, -1, "LS6", kWed1000));
  EXPECT_EQ(m.service_id(), "clinical-review-hub") << Dump(m);
  EXPECT_THAT(m.not_chosen(),
              AllOf(Contains("District nursing: age not known (takes >= 18y)"),
                    Contains("Children's community nursing team: age not "
                             "known (takes < 18y)")));
}

TEST_F(DirectoryTest, SexLimits) {
  v1::MatchServiceRequest r = Req(v1::PATHWAY_MATERNITY, v1::URGENCY_WITHIN_1H,
                                  30 * 365, "LS2", kWed1000);
  r.set_sex(v1::SEX_FEMALE);
  EXPECT_EQ(Match(*test_, r).service_id(), "womens-clinic");
  r.set_sex(v1::SEX_MALE);
  v1::ServiceMatch m = Match(*test_, r);
  EXPECT_EQ(m.service_id(), "ed") << Dump(m);
  EXPECT_TRUE(m.catch_all());
  EXPECT_THAT(m.not_chosen(),
              ElementsAre("Women's clinic: sex MALE (takes FEMALE)"));
  r.set_sex(v1::SEX_UNSPECIFIED);
  m = Match(*test_, r);
  EXPECT_THAT(m.not_chosen(),
              ElementsAre("Women's clinic: sex not known (takes FEMALE)"));
}

// --- Capacity
// ------------------------------------------------------------------

TEST_F(DirectoryTest, RedCapacitySkipsAServiceAndResetsAfterItsExpiry) {
  SetRed(*dir_, "ucr", 60);
  absl::StatusOr<v1::ServiceState> st = dir_->GetService("ucr");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->capacity(), v1::CAPACITY_RED);
  EXPECT_EQ(FromProtoTime(st->capacity_expires_at()),
            kWed1000 + absl::Hours(1));
  EXPECT_EQ(st->capacity_set_by(), "duty manager");

  v1::MatchServiceRequest r =
      Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult, "LS6", kWed1000);
  r.clear_at();  // the clock's now
  v1::ServiceMatch m = Match(r);
  EXPECT_EQ(m.service_id(), "clinical-review-hub") << Dump(m);
  EXPECT_THAT(m.not_chosen(),
              ElementsAre("Urgent community response: capacity RED until "
                          "11:00, set by duty manager"));

  clock_.Advance(absl::Minutes(59));
  EXPECT_EQ(Match(r).service_id(), "clinical-review-hub");
  clock_.Advance(absl::Minutes(1));  // expires at 11:00 exactly
  EXPECT_EQ(Match(r).service_id(), "ucr");
  st = dir_->GetService("ucr");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->capacity(), v1::CAPACITY_GREEN);
  EXPECT_FALSE(st->has_capacity_expires_at());
  EXPECT_EQ(st->capacity_set_by(), "");
}

TEST_F(DirectoryTest, CapacityIsEvaluatedAtTheTimeOfTheMatch) {
  SetRed(*dir_, "ucr", 60);
  // A match for 11:30 (after the expiry) sees the default again.
  EXPECT_EQ(Match(Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult, "LS6",
                      kWed1000 + absl::Minutes(90)))
                .service_id(),
            "ucr");
}

TEST_F(DirectoryTest, AmberCapacityRanksAfterGreen) {
  v1::ServiceMatch m =
      Match(*test_, Req(v1::PATHWAY_MENTAL_HEALTH_COMMUNITY,
                        v1::URGENCY_WITHIN_2W, kAdult, "LS1", kWed1000));
  EXPECT_EQ(m.service_id(), "a-green") << Dump(m);
  EXPECT_THAT(m.not_chosen(),
              ElementsAre("C green: same rank and capacity as A green, which "
                          "comes first by id",
                          "B amber: capacity AMBER; A green is GREEN"));
  // Live AMBER on a-green: c-green wins.
  v1::SetCapacityRequest r;
  r.set_service_id("a-green");
  r.set_capacity(v1::CAPACITY_AMBER);
  ASSERT_THAT(test_->SetCapacity(r), IsOk());
  m = Match(*test_, Req(v1::PATHWAY_MENTAL_HEALTH_COMMUNITY,
                        v1::URGENCY_WITHIN_2W, kAdult, "LS1", kWed1000));
  EXPECT_EQ(m.service_id(), "c-green") << Dump(m);
  EXPECT_THAT(m.explanation(), HasSubstr("capacity GREEN"));
}

TEST_F(DirectoryTest, SetCapacityValidation) {
  v1::SetCapacityRequest r;
  EXPECT_THAT(dir_->SetCapacity(r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("set_capacity.service_id")));
  r.set_service_id("nope");
  r.set_capacity(v1::CAPACITY_RED);
  EXPECT_THAT(dir_->SetCapacity(r), StatusIs(absl::StatusCode::kNotFound));
  r.set_service_id("ucr");
  r.set_capacity(v1::CAPACITY_UNSPECIFIED);
  EXPECT_THAT(dir_->SetCapacity(r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("set_capacity.capacity")));
  r.set_capacity(static_cast<v1::Capacity>(17));
  EXPECT_THAT(dir_->SetCapacity(r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("set_capacity.capacity")));
  r.set_capacity(v1::CAPACITY_AMBER);
  r.set_expires_after_minutes(1441);
  EXPECT_THAT(dir_->SetCapacity(r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("set_capacity.expires_after_minutes")));
  r.set_expires_after_minutes(-1);
  EXPECT_THAT(dir_->SetCapacity(r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("set_capacity.expires_after_minutes")));
  r.set_expires_after_minutes(1440);
  EXPECT_THAT(dir_->SetCapacity(r), IsOk());
  // 0 means the default, 240 minutes.
  r.set_expires_after_minutes(0);
  absl::StatusOr<v1::ServiceState> st = dir_->SetCapacity(r);
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->capacity(), v1::CAPACITY_AMBER);
  EXPECT_EQ(FromProtoTime(st->capacity_expires_at()),
            kWed1000 + absl::Hours(4));
  // Nothing changed by the failed calls: GetService agrees.
  EXPECT_EQ(dir_->GetService("ucr")->capacity(), v1::CAPACITY_AMBER);
}

TEST_F(DirectoryTest, CapacityIsStoredAndRestored) {
  FakeCapacityStore store;
  auto d = Directory::Open(kDefaultFile, {&clock_, &store});
  ASSERT_THAT(d, IsOk());
  SetRed(**d, "ucr", 60);
  ASSERT_THAT(store.states(), SizeIs(1));
  EXPECT_EQ(store.states()[0].service().id(), "ucr");
  EXPECT_EQ(store.states()[0].capacity(), v1::CAPACITY_RED);
  EXPECT_EQ(FromProtoTime(store.states()[0].capacity_expires_at()),
            kWed1000 + absl::Hours(1));

  // A failing store: an error, and no change in memory.
  store.set_fail(true);
  v1::SetCapacityRequest r;
  r.set_service_id("ucr");
  r.set_capacity(v1::CAPACITY_GREEN);
  EXPECT_THAT((*d)->SetCapacity(r), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ((*d)->GetService("ucr")->capacity(), v1::CAPACITY_RED);
  EXPECT_THAT(Directory::Open(kDefaultFile, {&clock_, &store}),
              StatusIs(absl::StatusCode::kUnavailable));
  store.set_fail(false);

  // Restored on start: live states only, known services only.
  v1::ServiceState expired;
  expired.mutable_service()->set_id("district-nursing");
  expired.set_capacity(v1::CAPACITY_RED);
  *expired.mutable_capacity_expires_at() =
      ToProtoTime(kWed1000 - absl::Minutes(1));
  ASSERT_THAT(store.Put(expired), IsOk());
  v1::ServiceState unknown = store.states()[0];
  unknown.mutable_service()->set_id("gone");
  ASSERT_THAT(store.Put(unknown), IsOk());
  auto restored = Directory::Open(kDefaultFile, {&clock_, &store});
  ASSERT_THAT(restored, IsOk());
  absl::StatusOr<v1::ServiceState> ucr = (*restored)->GetService("ucr");
  ASSERT_THAT(ucr, IsOk());
  EXPECT_EQ(ucr->capacity(), v1::CAPACITY_RED);
  EXPECT_EQ(ucr->capacity_set_by(), "duty manager");
  EXPECT_EQ((*restored)->GetService("district-nursing")->capacity(),
            v1::CAPACITY_GREEN);
}

// --- Sessions across midnight and the week
// ---------------------------------------

TEST_F(DirectoryTest, OvernightOutOfHoursSessions) {
  auto primary = [&](absl::Time at, v1::Urgency u) {
    return Match(Req(v1::PATHWAY_PRIMARY_CARE, u, kAdult, "LS6", at));
  };
  // Tuesday 02:00: inside Monday's 18:30-08:00 session.
  v1::ServiceMatch m = primary(Utc(2026, 1, 13, 2, 0), v1::URGENCY_WITHIN_2H);
  EXPECT_EQ(m.service_id(), "gp-out-of-hours") << Dump(m);
  EXPECT_THAT(m.explanation(), HasSubstr("open now until 08:00"));
  // Friday 23:45: Friday's session to 24:00 runs on into Saturday's.
  m = primary(Utc(2026, 1, 16, 23, 45), v1::URGENCY_WITHIN_2H);
  EXPECT_EQ(m.service_id(), "gp-out-of-hours") << Dump(m);
  EXPECT_THAT(m.explanation(), HasSubstr("open now until Mon 08:00"));
  // Sunday 23:50: Sunday runs on into Monday 00:00-08:00.
  m = primary(Utc(2026, 1, 18, 23, 50), v1::URGENCY_WITHIN_2H);
  EXPECT_EQ(m.service_id(), "gp-out-of-hours") << Dump(m);
  // Monday 07:45: out of hours closes at 08:00 and the practice is not yet
  // open: nothing for a 2-hour target...
  m = primary(Utc(2026, 1, 19, 7, 45), v1::URGENCY_WITHIN_2H);
  EXPECT_EQ(m.service_id(), "ed-north") << Dump(m);
  EXPECT_TRUE(m.catch_all());
  EXPECT_THAT(m.not_chosen(),
              Contains("GP out of hours (integrated urgent care): closes "
                       "08:00, within 30 minutes (opens again 18:30)"));
  EXPECT_THAT(m.not_chosen(),
              Contains("Kirkgate Medical Practice: closed (opens 08:00)"));
  // ...but the practice opens in time for a 4-hour one.
  m = primary(Utc(2026, 1, 19, 7, 45), v1::URGENCY_WITHIN_4H);
  EXPECT_EQ(m.service_id(), "gp-kirkgate") << Dump(m);
  EXPECT_THAT(m.explanation(),
              HasSubstr("opens 08:00 (4h target: must open at least an hour "
                        "before it)"));
}

TEST_F(DirectoryTest, LongerTargetsAcceptAServiceThatOpensInTime) {
  // Saturday 20:00, 24h: reablement opens Sunday 09:00.
  v1::ServiceMatch m =
      Match(Req(v1::PATHWAY_SOCIAL_CARE, v1::URGENCY_WITHIN_24H, kAdult, "LS6",
                Utc(2026, 1, 17, 20, 0)));
  EXPECT_EQ(m.service_id(), "reablement") << Dump(m);
  EXPECT_THAT(m.explanation(), HasSubstr("opens tomorrow 09:00"));
  // Friday 18:00, 4 weeks: the community mental health team on Monday.
  m = Match(Req(v1::PATHWAY_MENTAL_HEALTH_COMMUNITY, v1::URGENCY_WITHIN_4W,
                kAdult, "LS6", Utc(2026, 1, 16, 18, 0)));
  EXPECT_EQ(m.service_id(), "cmht") << Dump(m);
  EXPECT_THAT(m.explanation(), HasSubstr("opens Mon 09:00"));
  // No target at 23:00: the advice line tomorrow.
  v1::MatchServiceRequest r = Req(v1::PATHWAY_ADVICE_ONLY, v1::URGENCY_NONE,
                                  kAdult, "LS6", Utc(2026, 1, 14, 23, 0));
  r.set_target_minutes(-1);
  m = Match(r);
  EXPECT_EQ(m.service_id(), "advice-line") << Dump(m);
  EXPECT_THAT(m.explanation(),
              HasSubstr("opens tomorrow 08:00 (no target time)"));
}

TEST_F(DirectoryTest, LongTargetNeedsTheServiceAnHourBeforeTheTarget) {
  // The clinic opens at 13:30. A 4h target from 10:00 ends at 14:00: the
  // clinic must open by 13:00.
  auto social = [&](absl::Time at, v1::Urgency u) {
    return Match(*test_, Req(v1::PATHWAY_SOCIAL_CARE, u, kAdult, "LS1", at));
  };
  v1::ServiceMatch m = social(kWed1000, v1::URGENCY_WITHIN_4H);
  EXPECT_EQ(m.service_id(), "ed") << Dump(m);
  EXPECT_THAT(m.not_chosen(),
              ElementsAre("Afternoon clinic: closed (opens 13:30, too late for "
                          "the 4h target)"));
  EXPECT_EQ(
      social(kWed1000 + absl::Minutes(30), v1::URGENCY_WITHIN_4H).service_id(),
      "afternoon-clinic");
  EXPECT_EQ(social(kWed1000, v1::URGENCY_WITHIN_12H).service_id(),
            "afternoon-clinic");
  // An explicit target_minutes overrides the urgency's default.
  v1::MatchServiceRequest r = Req(
      v1::PATHWAY_SOCIAL_CARE, v1::URGENCY_WITHIN_12H, kAdult, "LS1", kWed1000);
  r.set_target_minutes(180);
  EXPECT_EQ(Match(*test_, r).service_id(), "ed");
}

// --- Clock changes (Europe/London)
// ------------------------------------------------

TEST_F(DirectoryTest, UcrHoursAreLocalTimeOnBothSidesOfTheClockChanges) {
  auto ucr = [&](absl::Time at) {
    return Match(Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult, "LS6", at))
        .service_id();
  };
  // Saturday 28 March 2026 (GMT): 08:00 local is 08:00 UTC.
  EXPECT_EQ(ucr(Utc(2026, 3, 28, 7, 50)), "clinical-review-hub");
  EXPECT_EQ(ucr(Utc(2026, 3, 28, 8, 10)), "ucr");
  // Sunday 29 March 2026 (BST from 01:00 UTC): 08:00 local is 07:00 UTC.
  EXPECT_EQ(ucr(Utc(2026, 3, 29, 6, 50)), "clinical-review-hub");
  EXPECT_EQ(ucr(Utc(2026, 3, 29, 7, 10)), "ucr");
  EXPECT_EQ(ucr(Utc(2026, 3, 29, 18, 45)), "clinical-review-hub");  // 19:45 BST
  // Saturday 24 October 2026 (BST): 18:45 UTC is 19:45 local, closing.
  EXPECT_EQ(ucr(Utc(2026, 10, 24, 18, 45)), "clinical-review-hub");
  EXPECT_EQ(ucr(Utc(2026, 10, 24, 18, 25)), "ucr");  // 19:25 BST
  // Sunday 25 October 2026 (GMT from 01:00 UTC).
  EXPECT_EQ(ucr(Utc(2026, 10, 25, 7, 50)), "clinical-review-hub");
  EXPECT_EQ(ucr(Utc(2026, 10, 25, 8, 10)), "ucr");
  EXPECT_EQ(ucr(Utc(2026, 10, 25, 19, 25)), "ucr");
  EXPECT_EQ(ucr(Utc(2026, 10, 25, 19, 45)), "clinical-review-hub");
}

TEST_F(DirectoryTest, OvernightSessionAcrossTheSpringClockChange) {
  // Saturday 22:00 GMT to Sunday 06:00 BST (05:00 UTC): 7 real hours.
  auto vw = [&](absl::Time at) {
    return Match(*test_, Req(v1::PATHWAY_VIRTUAL_WARD, v1::URGENCY_WITHIN_2H,
                             kAdult, "LS1", at));
  };
  v1::ServiceMatch m = vw(Utc(2026, 3, 29, 4, 20));  // 05:20 BST, 40 min left
  EXPECT_EQ(m.service_id(), "night-team") << Dump(m);
  EXPECT_THAT(m.explanation(), HasSubstr("open now until 06:00"));
  m = vw(Utc(2026, 3, 29, 4, 40));  // 05:40 BST, 20 min left
  EXPECT_EQ(m.service_id(), "ed") << Dump(m);
  EXPECT_THAT(m.not_chosen(),
              ElementsAre("Night team: closes 06:00, within 30 minutes (opens "
                          "again Sat 22:00)"));
  EXPECT_EQ(vw(Utc(2026, 3, 28, 21, 50)).service_id(), "ed");  // 21:50 GMT
  EXPECT_EQ(vw(Utc(2026, 3, 28, 22, 10)).service_id(), "night-team");
}

TEST_F(DirectoryTest, OvernightSessionAcrossTheAutumnClockChange) {
  // Saturday 22:00 BST (21:00 UTC) to Sunday 06:00 GMT (06:00 UTC): 9 hours.
  auto vw = [&](absl::Time at) {
    return Match(*test_, Req(v1::PATHWAY_VIRTUAL_WARD, v1::URGENCY_WITHIN_2H,
                             kAdult, "LS1", at))
        .service_id();
  };
  EXPECT_EQ(vw(Utc(2026, 10, 24, 20, 50)), "ed");          // 21:50 BST
  EXPECT_EQ(vw(Utc(2026, 10, 24, 21, 10)), "night-team");  // 22:10 BST
  EXPECT_EQ(vw(Utc(2026, 10, 25, 5, 20)), "night-team");   // 05:20 GMT
  EXPECT_EQ(vw(Utc(2026, 10, 25, 5, 40)), "ed");           // 05:40 GMT
}

TEST_F(DirectoryTest, SessionOpeningInTheSkippedHourOpensAtTheChange) {
  // "Sun 01:30-03:00" on 29 March 2026: 01:30 does not exist (01:00 GMT
  // becomes 02:00 BST), so it opens at the change, 01:00 UTC, and closes at
  // 03:00 BST, 02:00 UTC.
  auto pal = [&](absl::Time at) {
    return Match(*test_, Req(v1::PATHWAY_PALLIATIVE, v1::URGENCY_WITHIN_1H,
                             kAdult, "LS1", at));
  };
  v1::ServiceMatch m = pal(Utc(2026, 3, 29, 0, 50));
  EXPECT_EQ(m.service_id(), "ed") << Dump(m);
  EXPECT_THAT(m.not_chosen(), ElementsAre("Early team: closed (opens 02:00)"));
  m = pal(Utc(2026, 3, 29, 1, 10));  // 02:10 BST
  EXPECT_EQ(m.service_id(), "early-team") << Dump(m);
  EXPECT_THAT(m.explanation(), HasSubstr("open now until 03:00"));
  EXPECT_EQ(pal(Utc(2026, 3, 29, 1, 40)).service_id(), "ed");  // 02:40 BST
}

TEST(Schedule, IntervalsAreMergedAcrossMidnight) {
  absl::TimeZone london;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  google::protobuf::RepeatedPtrField<v1::Session> sessions;
  for (int day : {5, 6}) {  // Fri 18:30-24:00, Sat 00:00-24:00
    v1::Session* s = sessions.Add();
    s->set_day(static_cast<v1::Weekday>(day));
    s->set_open_minute(day == 5 ? 18 * 60 + 30 : 0);
    s->set_close_minute(1440);
  }
  const absl::Time from = Utc(2026, 1, 16, 12, 0);  // Friday
  std::vector<OpenInterval> iv =
      OpenIntervals(sessions, london, from, from + absl::Hours(24));
  ASSERT_THAT(iv, SizeIs(1));
  EXPECT_EQ(iv[0].open, Utc(2026, 1, 16, 18, 30));
  EXPECT_EQ(iv[0].close, Utc(2026, 1, 18, 0, 0));
  Availability a = AvailabilityAt(iv, Utc(2026, 1, 16, 23, 45),
                                  from + absl::Hours(48), absl::Minutes(30));
  EXPECT_TRUE(a.open_now);
  EXPECT_EQ(a.closes_at, Utc(2026, 1, 18, 0, 0));
  EXPECT_EQ(a.usable_from, Utc(2026, 1, 16, 23, 45));
}

// --- Explanations and the catch-all
// -------------------------------------------------

TEST_F(DirectoryTest, ExplanationsListEveryNotChosenCandidate) {
  const auto* pathways = v1::Pathway_descriptor();
  for (int i = 1; i < pathways->value_count(); ++i) {
    const auto p = static_cast<v1::Pathway>(pathways->value(i)->number());
    SCOPED_TRACE(pathways->value(i)->name());
    absl::StatusOr<std::vector<v1::ServiceState>> offering =
        dir_->ListServices(p);
    ASSERT_THAT(offering, IsOk());
    for (absl::Time at : {kWed1000, Utc(2026, 1, 14, 23, 0)}) {
      v1::ServiceMatch m =
          Match(Req(p, v1::URGENCY_WITHIN_2H, kAdult, "LS6", at));
      ASSERT_FALSE(m.service_id().empty());
      std::multiset<std::string> named;
      for (const std::string& n : m.not_chosen()) {
        bool known = false;
        for (const auto& s : *offering) {
          if (absl::StartsWith(n, s.service().name() + ": ")) {
            named.insert(s.service().id());
            known = true;
          }
        }
        EXPECT_TRUE(known) << n;
      }
      std::multiset<std::string> expected;
      for (const auto& s : *offering) {
        if (m.catch_all() || s.service().id() != m.service_id()) {
          expected.insert(s.service().id());
        }
      }
      EXPECT_EQ(named, expected) << Dump(m);
    }
  }
}

TEST_F(DirectoryTest, AcuteGoesToTheEmergencyDepartmentFirst) {
  v1::ServiceMatch m = Match(
      Req(v1::PATHWAY_ACUTE, v1::URGENCY_IMMEDIATE, kAdult, "LS6", kWed1000));
  EXPECT_EQ(m.service_id(), "ed-north") << Dump(m);
  EXPECT_FALSE(m.catch_all());  // chosen on its merits
  EXPECT_THAT(m.explanation(), HasSubstr("immediate target"));
  EXPECT_THAT(
      m.not_chosen(),
      ElementsAre("Kirkbeck General same day emergency care (SDEC): rank 3; "
                  "Kirkbeck General Hospital emergency department has rank 1",
                  "St Hild's Hospital emergency department: not in catchment "
                  "(LS6)"));
  // A catch-all's RED capacity is ignored when it is the fallback.
  clock_.Set(Utc(2026, 1, 14, 23, 0));
  SetRed(*dir_, "ed-north", 120);
  m = Match(Req(v1::PATHWAY_ACUTE, v1::URGENCY_IMMEDIATE, kAdult, "LS6",
                Utc(2026, 1, 14, 23, 0)));
  EXPECT_EQ(m.service_id(), "ed-north") << Dump(m);
  EXPECT_TRUE(m.catch_all());
}

TEST_F(DirectoryTest, NeverWithoutAService) {
  const auto* pathways = v1::Pathway_descriptor();
  struct Patient {
    int age;
    const char* district;
  };
  const Patient patients[] = {
      {kAdult, "LS6"}, {kChild, "LS20"}, {-1, ""}, {kAdult, "WF3"}};
  const v1::Urgency urgencies[] = {v1::URGENCY_IMMEDIATE, v1::URGENCY_WITHIN_2H,
                                   v1::URGENCY_WITHIN_24H, v1::URGENCY_NONE};
  const absl::Time monday = Utc(2026, 1, 12, 0, 0);
  int matches = 0;
  for (int h = 0; h < 7 * 24; h += 1) {
    for (int i = 1; i < pathways->value_count(); ++i) {
      for (const Patient& p : patients) {
        for (v1::Urgency u : urgencies) {
          absl::StatusOr<v1::ServiceMatch> m = dir_->MatchService(Req(
              static_cast<v1::Pathway>(pathways->value(i)->number()), u, p.age,
              p.district, monday + absl::Hours(h) + absl::Minutes(7)));
          ASSERT_THAT(m, IsOk());
          ASSERT_FALSE(m->service_id().empty());
          ASSERT_FALSE(m->explanation().empty());
          ++matches;
        }
      }
    }
  }
  EXPECT_EQ(matches, 7 * 24 * 14 * 4 * 4);
}

TEST_F(DirectoryTest, MatchValidation) {
  v1::MatchServiceRequest r =
      Req(v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult, "LS6", kWed1000);
  auto expect_invalid = [&](const v1::MatchServiceRequest& bad,
                            const std::string& field) {
    EXPECT_THAT(dir_->MatchService(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(field)));
  };
  v1::MatchServiceRequest bad = r;
  bad.set_pathway(v1::PATHWAY_UNSPECIFIED);
  expect_invalid(bad, "match_service.pathway");
  bad = r;
  bad.set_pathway(static_cast<v1::Pathway>(99));
  expect_invalid(bad, "match_service.pathway");
  bad = r;
  bad.set_urgency(v1::URGENCY_UNSPECIFIED);
  expect_invalid(bad, "match_service.urgency");
  bad = r;
  bad.set_age_days(-2);
  expect_invalid(bad, "match_service.age_days");
  bad = r;
  bad.set_target_minutes(-5);
  expect_invalid(bad, "match_service.target_minutes");
  bad = r;
  bad.set_sex(static_cast<v1::Sex>(42));
  expect_invalid(bad, "match_service.sex");
  bad = r;
  bad.mutable_at()->set_nanos(-1);
  expect_invalid(bad, "match_service.at");
  bad = r;
  bad.set_postcode_district(std::string(100, 'L'));
  expect_invalid(bad, "match_service.postcode_district");
}

TEST_F(DirectoryTest, ListAndGetServices) {
  absl::StatusOr<std::vector<v1::ServiceState>> all =
      dir_->ListServices(v1::PATHWAY_UNSPECIFIED);
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(*all, SizeIs(19));
  EXPECT_EQ((*all)[0].service().id(), "clinical-review-hub");  // file order
  absl::StatusOr<std::vector<v1::ServiceState>> acute =
      dir_->ListServices(v1::PATHWAY_ACUTE);
  ASSERT_THAT(acute, IsOk());
  std::vector<std::string> ids;
  for (const auto& s : *acute) ids.push_back(s.service().id());
  EXPECT_THAT(ids, ElementsAre("ed-north", "ed-south", "sdec"));
  EXPECT_THAT(dir_->ListServices(static_cast<v1::Pathway>(99)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("list_services.pathway")));

  absl::StatusOr<v1::ServiceState> ucr = dir_->GetService("ucr");
  ASSERT_THAT(ucr, IsOk());
  EXPECT_TRUE(ucr->open_now());
  EXPECT_EQ(ucr->capacity(), v1::CAPACITY_GREEN);
  clock_.Set(Utc(2026, 1, 14, 21, 0));
  EXPECT_FALSE(dir_->GetService("ucr")->open_now());
  EXPECT_TRUE(dir_->GetService("ed-north")->open_now());
  EXPECT_THAT(dir_->GetService(""), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("get_service.id")));
  EXPECT_THAT(dir_->GetService("nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(DirectoryCreate, RejectsInconsistentServices) {
  DirectoryFile f;
  f.name = "x";
  f.timezone = "Europe/London";
  v1::Service s;
  s.set_id("a");
  s.add_pathways(v1::PATHWAY_ACUTE);
  f.services.push_back(s);
  EXPECT_THAT(
      Directory::Create(f, {}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("catch-all")));
  f.services[0].set_catch_all(true);
  EXPECT_THAT(Directory::Create(f, {}), IsOk());
  f.services.push_back(f.services[0]);
  EXPECT_THAT(
      Directory::Create(f, {}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duplicate")));
  f.services.pop_back();
  f.timezone = "Mars/Olympus";
  EXPECT_THAT(
      Directory::Create(f, {}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("time zone")));
  f.timezone = "Europe/London";
  v1::Session* bad = f.services[0].add_sessions();
  bad->set_day(v1::WEEKDAY_MONDAY);
  bad->set_open_minute(0);
  bad->set_close_minute(2000);
  EXPECT_THAT(
      Directory::Create(f, {}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("session")));
}

TEST_F(DirectoryTest, ConcurrentCapacityChangesAndMatches) {
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        v1::SetCapacityRequest r;
        r.set_service_id(t == 0 ? "ucr" : "clinical-review-hub");
        r.set_capacity(i % 2 ? v1::CAPACITY_RED : v1::CAPACITY_GREEN);
        r.set_expires_after_minutes(1 + i % 60);
        if (!dir_->SetCapacity(r).ok()) failed = true;
      }
    });
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        absl::StatusOr<v1::ServiceMatch> m = dir_->MatchService(Req(
            v1::PATHWAY_UCR, v1::URGENCY_WITHIN_2H, kAdult, "LS6", kWed1000));
        if (!m.ok() || m->service_id().empty()) failed = true;
        if (!dir_->ListServices(v1::PATHWAY_UNSPECIFIED).ok()) failed = true;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(failed);
}

TEST(DefaultTargetMinutes, Ladder) {
  EXPECT_EQ(DefaultTargetMinutes(v1::URGENCY_IMMEDIATE), 0);
  EXPECT_EQ(DefaultTargetMinutes(v1::URGENCY_WITHIN_2H), 120);
  EXPECT_EQ(DefaultTargetMinutes(v1::URGENCY_WITHIN_72H), 4320);
  EXPECT_EQ(DefaultTargetMinutes(v1::URGENCY_WITHIN_4W), 40320);
  EXPECT_EQ(DefaultTargetMinutes(v1::URGENCY_NONE), -1);
}

}  // namespace
}  // namespace frontdoor::directory
