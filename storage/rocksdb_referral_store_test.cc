#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "services/common/test_util.h"
#include "storage/fault_injection_fs.h"
#include "storage/referral_store.h"
#include "storage/store_keys.h"
#include "storage/store_test_util.h"

namespace frontdoor::storage {
namespace {

using ::frontdoor::IsOk;
using ::frontdoor::StatusIs;
using ::frontdoor::storage::testing::MakeRecord;
using ::frontdoor::storage::testing::PutRecord;
using ::frontdoor::storage::testing::RecordSpec;
using ::frontdoor::storage::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

// Matches an OK absl::StatusOr<T> whose value matches `inner`.
MATCHER_P(IsOkAndHolds, inner, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(inner, *arg, result_listener);
}

std::vector<std::string> Ids(const std::vector<v1::WorklistEntry>& entries) {
  std::vector<std::string> ids;
  for (const auto& e : entries) ids.push_back(e.id());
  return ids;
}

std::vector<std::string> Ids(const std::vector<v1::ReferralRecord>& records) {
  std::vector<std::string> ids;
  for (const auto& r : records) ids.push_back(r.id());
  return ids;
}

class ReferralStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  ReferralStore::Options DefaultOptions() {
    ReferralStore::Options options;
    options.path = dir_.Sub("db");
    return options;
  }

  std::unique_ptr<ReferralStore> OpenStore(ReferralStore::Options options) {
    absl::StatusOr<std::unique_ptr<ReferralStore>> store =
        ReferralStore::Open(options);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }
  std::unique_ptr<ReferralStore> OpenStore() {
    return OpenStore(DefaultOptions());
  }

  std::vector<std::string> Worklist(ReferralStore& store, v1::Pathway pathway,
                                    const std::string& service_id = "") {
    absl::StatusOr<Page<v1::WorklistEntry>> page =
        store.ScanWorklist(pathway, service_id, "", 1000);
    EXPECT_THAT(page, IsOk());
    return page.ok() ? Ids(page->items) : std::vector<std::string>{};
  }

  TempDir dir_;
};

TEST_F(ReferralStoreTest, PutThenGet) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  v1::ReferralRecord record =
      MakeRecord({.id = "R1", .nhs_number = "9990000018"});
  ASSERT_THAT(PutRecord(*store, record), IsOk());

  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::optional<v1::ReferralRecord> got,
                                 store->GetReferral("R1"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->SerializeAsString(), record.SerializeAsString());
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::optional<v1::ReferralRecord> missing,
                                 store->GetReferral("NOPE"));
  EXPECT_FALSE(missing.has_value());
  EXPECT_THAT(store->ApproximateReferralCount(), IsOkAndHolds(1));
  EXPECT_TRUE(store->healthy());
  EXPECT_THAT(store->failure(), IsOk());
}

TEST_F(ReferralStoreTest, RejectsInvalidRecords) {
  auto store = OpenStore();
  v1::ReferralRecord no_id = MakeRecord({.id = ""});
  EXPECT_THAT(PutRecord(*store, no_id),
              StatusIs(absl::StatusCode::kInvalidArgument));
  v1::ReferralRecord no_time = MakeRecord({.id = "R1"});
  no_time.clear_received_at();
  EXPECT_THAT(
      PutRecord(*store, no_time),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("received_at")));
  v1::ReferralRecord nul = MakeRecord({.id = std::string("R\0X", 3)});
  EXPECT_THAT(PutRecord(*store, nul),
              StatusIs(absl::StatusCode::kInvalidArgument));
  v1::ReferralRecord nul_service =
      MakeRecord({.id = "R2", .service_id = std::string("s\0", 2)});
  EXPECT_THAT(PutRecord(*store, nul_service),
              StatusIs(absl::StatusCode::kInvalidArgument));
  v1::ReferralRecord no_status = MakeRecord({.id = "R3"});
  no_status.set_status(v1::REFERRAL_STATUS_UNSPECIFIED);
  EXPECT_THAT(PutRecord(*store, no_status),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->ApproximateReferralCount(), IsOkAndHolds(0));
  EXPECT_TRUE(store->healthy());
}

TEST_F(ReferralStoreTest, EventsComeBackInSequenceOrder) {
  auto store = OpenStore();
  // 300 events: sequences past 255 check the big-endian encoding.
  ASSERT_THAT(store->CommitAndWait([](Txn& txn) {
    txn.PutReferral(MakeRecord({.id = "R1"}));
    for (int seq = 1; seq <= 300; ++seq) {
      v1::ReferralEvent e;
      e.set_referral_id("R1");
      e.set_sequence(seq);
      e.set_reason(absl::StrCat("event ", seq));
      txn.AppendEvent(e);
    }
    return absl::OkStatus();
  }),
              IsOk());
  // Another referral whose id extends R1 must not leak into R1's events.
  ASSERT_THAT(store->CommitAndWait([](Txn& txn) {
    v1::ReferralEvent e;
    e.set_referral_id("R10");
    e.set_sequence(1);
    txn.AppendEvent(e);
    return absl::OkStatus();
  }),
              IsOk());
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::vector<v1::ReferralEvent> events,
                                 store->ListEvents("R1"));
  ASSERT_EQ(events.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(events[i].sequence(), i + 1);
  EXPECT_EQ(events[299].reason(), "event 300");
  EXPECT_THAT(store->ListEvents("R10"), IsOkAndHolds(::testing::SizeIs(1)));
  EXPECT_THAT(store->ListEvents("R"), IsOkAndHolds(IsEmpty()));
}

TEST_F(ReferralStoreTest, EventsMustBeAppendedInOrderAndNeverOverwritten) {
  auto store = OpenStore();
  auto append = [&](int64_t seq) {
    return store->CommitAndWait([seq](Txn& txn) {
      v1::ReferralEvent e;
      e.set_referral_id("R1");
      e.set_sequence(seq);
      txn.AppendEvent(e);
      return absl::OkStatus();
    });
  };
  EXPECT_THAT(append(2), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(append(0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(append(1), IsOk());
  EXPECT_THAT(append(1), StatusIs(absl::StatusCode::kFailedPrecondition,
                                  HasSubstr("exists")));
  EXPECT_THAT(append(3), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(append(2), IsOk());
  EXPECT_THAT(store->ListEvents("R1"), IsOkAndHolds(::testing::SizeIs(2)));
}

TEST_F(ReferralStoreTest, WorklistIsOrderedByDueTimeWithNoTargetLast) {
  auto store = OpenStore();
  const v1::Pathway ucr = v1::PATHWAY_UCR;
  ASSERT_THAT(PutRecord(*store, MakeRecord({.id = "LATE",
                                            .pathway = ucr,
                                            .due = kT0 + absl::Hours(4)})),
              IsOk());
  ASSERT_THAT(PutRecord(*store, MakeRecord({.id = "NONE", .pathway = ucr})),
              IsOk());
  ASSERT_THAT(PutRecord(*store, MakeRecord({.id = "SOON",
                                            .pathway = ucr,
                                            .due = kT0 + absl::Minutes(30)})),
              IsOk());
  ASSERT_THAT(PutRecord(*store, MakeRecord({.id = "MID",
                                            .pathway = ucr,
                                            .due = kT0 + absl::Hours(2)})),
              IsOk());
  ASSERT_THAT(PutRecord(*store, MakeRecord({.id = "OTHER",
                                            .pathway = v1::PATHWAY_ACUTE,
                                            .due = kT0})),
              IsOk());
  EXPECT_THAT(Worklist(*store, ucr),
              ElementsAre("SOON", "MID", "LATE", "NONE"));
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_ACUTE), ElementsAre("OTHER"));
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_MATERNITY), IsEmpty());

  // Entries carry what the worklist shows.
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(Page<v1::WorklistEntry> page,
                                 store->ScanWorklist(ucr, "", "", 1));
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].id(), "SOON");
  EXPECT_EQ(page.items[0].due_at().seconds(),
            absl::ToUnixSeconds(kT0 + absl::Minutes(30)));
  EXPECT_EQ(page.items[0].status(), v1::REFERRAL_STATUS_TRIAGED);
  EXPECT_EQ(page.items[0].urgency(), v1::URGENCY_WITHIN_2H);
  EXPECT_EQ(page.items[0].version(), 1);
  EXPECT_FALSE(page.items[0].missing_data_review());
}

TEST_F(ReferralStoreTest, WorklistPagesByPosition) {
  auto store = OpenStore();
  std::vector<std::string> want;
  for (int i = 0; i < 25; ++i) {
    std::string id = absl::StrCat("R", 100 + i);
    want.push_back(id);
    ASSERT_THAT(PutRecord(*store, MakeRecord({.id = id,
                                              .due = kT0 + absl::Minutes(i)})),
                IsOk());
  }
  std::vector<std::string> got;
  std::string position;
  int pages = 0;
  do {
    FRONTDOOR_ASSERT_OK_AND_ASSIGN(
        Page<v1::WorklistEntry> page,
        store->ScanWorklist(v1::PATHWAY_UCR, "", position, 10));
    for (const auto& e : page.items) got.push_back(e.id());
    position = page.next_position;
    ++pages;
  } while (!position.empty() && pages < 10);
  EXPECT_EQ(got, want);
  EXPECT_EQ(pages, 3);

  // A page that ends exactly at the end has no next position.
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      Page<v1::WorklistEntry> all,
      store->ScanWorklist(v1::PATHWAY_UCR, "", "", 25));
  EXPECT_EQ(all.items.size(), 25u);
  EXPECT_EQ(all.next_position, "");

  // A position from another worklist is refused.
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      Page<v1::WorklistEntry> first,
      store->ScanWorklist(v1::PATHWAY_UCR, "", "", 1));
  EXPECT_THAT(
      store->ScanWorklist(v1::PATHWAY_ACUTE, "", first.next_position, 10),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->ScanWorklist(v1::PATHWAY_UCR, "", "", 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ReferralStoreTest, IndexesFollowStatusPathwayAndServiceChanges) {
  auto store = OpenStore();
  RecordSpec spec{.id = "R1",
                  .status = v1::REFERRAL_STATUS_AWAITING_TRIAGE,
                  .pathway = v1::PATHWAY_CLINICAL_REVIEW,
                  .service_id = "",
                  .due = kT0 + absl::Hours(1),
                  .next_sla_check = kT0 + absl::Minutes(42)};
  ASSERT_THAT(PutRecord(*store, MakeRecord(spec)), IsOk());
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_CLINICAL_REVIEW), ElementsAre("R1"));
  EXPECT_THAT(store->AwaitingTriage(10), IsOkAndHolds(ElementsAre("R1")));
  EXPECT_THAT(store->DueForSlaCheck(kT0 + absl::Hours(1), 10),
              IsOkAndHolds(ElementsAre("R1")));

  // Triaged to UCR at service S1: off clinical review and awaiting triage.
  spec.status = v1::REFERRAL_STATUS_TRIAGED;
  spec.pathway = v1::PATHWAY_UCR;
  spec.service_id = "S1";
  spec.version = 2;
  ASSERT_THAT(PutRecord(*store, MakeRecord(spec)), IsOk());
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_CLINICAL_REVIEW), IsEmpty());
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UCR), ElementsAre("R1"));
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UNSPECIFIED, "S1"),
              ElementsAre("R1"));
  EXPECT_THAT(store->AwaitingTriage(10), IsOkAndHolds(IsEmpty()));

  // The worklist entry is rewritten with the record (version, due time).
  spec.due = kT0 + absl::Minutes(10);
  spec.version = 3;
  ASSERT_THAT(PutRecord(*store, MakeRecord(spec)), IsOk());
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      Page<v1::WorklistEntry> page,
      store->ScanWorklist(v1::PATHWAY_UCR, "", "", 10));
  ASSERT_EQ(page.items.size(), 1u);  // the old due-time key is gone
  EXPECT_EQ(page.items[0].version(), 3);

  // Redirected to S2: leaves S1's worklist, joins S2's.
  spec.status = v1::REFERRAL_STATUS_REDIRECTED;
  spec.service_id = "S2";
  spec.version = 4;
  ASSERT_THAT(PutRecord(*store, MakeRecord(spec)), IsOk());
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UNSPECIFIED, "S1"), IsEmpty());
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UNSPECIFIED, "S2"),
              ElementsAre("R1"));
  // The SLA check moved with the record.
  spec.next_sla_check = kT0 + absl::Hours(3);
  spec.version = 5;
  ASSERT_THAT(PutRecord(*store, MakeRecord(spec)), IsOk());
  EXPECT_THAT(store->DueForSlaCheck(kT0 + absl::Hours(1), 10),
              IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(store->DueForSlaCheck(kT0 + absl::Hours(3), 10),
              IsOkAndHolds(ElementsAre("R1")));

  // Closed: on no worklist and no SLA check, but still listed and counted.
  spec.status = v1::REFERRAL_STATUS_CLOSED;
  spec.version = 6;
  ASSERT_THAT(PutRecord(*store, MakeRecord(spec)), IsOk());
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UCR), IsEmpty());
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UNSPECIFIED, "S2"), IsEmpty());
  EXPECT_THAT(store->DueForSlaCheck(absl::InfiniteFuture(), 10),
              IsOkAndHolds(IsEmpty()));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(Page<v1::ReferralRecord> listed,
                                 store->ListReferrals({}, "", 10, 100));
  EXPECT_THAT(Ids(listed.items), ElementsAre("R1"));
  EXPECT_THAT(store->ApproximateReferralCount(), IsOkAndHolds(1));
}

TEST_F(ReferralStoreTest, EveryActiveStatusIsOnTheWorklistAndNoTerminalOne) {
  auto store = OpenStore();
  const v1::ReferralStatus active[] = {
      v1::REFERRAL_STATUS_RECEIVED, v1::REFERRAL_STATUS_AWAITING_TRIAGE,
      v1::REFERRAL_STATUS_TRIAGED, v1::REFERRAL_STATUS_ACCEPTED,
      v1::REFERRAL_STATUS_REDIRECTED};
  const v1::ReferralStatus terminal[] = {
      v1::REFERRAL_STATUS_REJECTED, v1::REFERRAL_STATUS_RETURNED_WITH_ADVICE,
      v1::REFERRAL_STATUS_CLOSED, v1::REFERRAL_STATUS_CANCELLED};
  std::vector<std::string> want;
  for (v1::ReferralStatus s : active) {
    std::string id = absl::StrCat("A", static_cast<int>(s));
    want.push_back(id);
    ASSERT_THAT(
        PutRecord(*store,
                  MakeRecord({.id = id, .status = s, .service_id = "S"})),
        IsOk());
  }
  for (v1::ReferralStatus s : terminal) {
    ASSERT_THAT(
        PutRecord(*store,
                  MakeRecord({.id = absl::StrCat("T", static_cast<int>(s)),
                              .status = s,
                              .service_id = "S"})),
        IsOk());
  }
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UCR),
              UnorderedElementsAreArray(want));
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UNSPECIFIED, "S"),
              UnorderedElementsAreArray(want));
}

TEST_F(ReferralStoreTest, MissingDataReviewComesFromTheDecision) {
  auto store = OpenStore();
  v1::ReferralRecord r = MakeRecord({.id = "R1"});
  r.mutable_decision()->add_could_escalate()->set_row("sepsis/3");
  ASSERT_THAT(PutRecord(*store, r), IsOk());
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      Page<v1::WorklistEntry> page,
      store->ScanWorklist(v1::PATHWAY_UCR, "", "", 10));
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_TRUE(page.items[0].missing_data_review());
}

TEST_F(ReferralStoreTest, ListReferralsNewestFirstWithFiltersAndPaging) {
  auto store = OpenStore();
  // 30 referrals a minute apart; every third for one patient, odd ones on
  // ACUTE.
  for (int i = 0; i < 30; ++i) {
    RecordSpec spec{.id = absl::StrCat("R", 100 + i),
                    .pathway = i % 2 ? v1::PATHWAY_ACUTE : v1::PATHWAY_UCR,
                    .nhs_number = i % 3 == 0 ? "9990000018" : "9990000026",
                    .received = kT0 + absl::Minutes(i)};
    ASSERT_THAT(PutRecord(*store, MakeRecord(spec)), IsOk());
  }
  auto list_all = [&](const ReferralFilter& filter, int limit, int max_scan,
                      int* calls) {
    std::vector<std::string> ids;
    std::string position;
    *calls = 0;
    do {
      absl::StatusOr<Page<v1::ReferralRecord>> page =
          store->ListReferrals(filter, position, limit, max_scan);
      EXPECT_THAT(page, IsOk());
      if (!page.ok()) break;
      for (const auto& r : page->items) ids.push_back(r.id());
      position = page->next_position;
      ++*calls;
    } while (!position.empty() && *calls < 100);
    return ids;
  };
  int calls = 0;
  std::vector<std::string> all = list_all({}, 7, 1000, &calls);
  ASSERT_EQ(all.size(), 30u);
  EXPECT_EQ(all.front(), "R129");
  EXPECT_EQ(all.back(), "R100");
  EXPECT_EQ(calls, 5);

  // NHS number: through the by_nhs index, newest first.
  ReferralFilter patient;
  patient.nhs_number = "9990000018";
  std::vector<std::string> for_patient = list_all(patient, 3, 1000, &calls);
  EXPECT_THAT(for_patient, ElementsAre("R127", "R124", "R121", "R118", "R115",
                                       "R112", "R109", "R106", "R103", "R100"));

  // Time window: [T0+10m, T0+20m).
  ReferralFilter window;
  window.received_after = kT0 + absl::Minutes(10);
  window.received_before = kT0 + absl::Minutes(20);
  std::vector<std::string> in_window = list_all(window, 100, 1000, &calls);
  ASSERT_EQ(in_window.size(), 10u);
  EXPECT_EQ(in_window.front(), "R119");
  EXPECT_EQ(in_window.back(), "R110");

  // Patient and window and pathway together.
  ReferralFilter combined = window;
  combined.nhs_number = "9990000018";
  combined.pathway = v1::PATHWAY_UCR;
  EXPECT_THAT(list_all(combined, 100, 1000, &calls),
              ElementsAre("R118", "R112"));

  // max_scan bounds the work per call: pages may be short but nothing is lost.
  ReferralFilter acute;
  acute.pathway = v1::PATHWAY_ACUTE;
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(Page<v1::ReferralRecord> short_page,
                                 store->ListReferrals(acute, "", 100, 4));
  EXPECT_EQ(short_page.items.size(), 2u);
  EXPECT_FALSE(short_page.next_position.empty());
  std::vector<std::string> acute_ids = list_all(acute, 100, 4, &calls);
  EXPECT_EQ(acute_ids.size(), 15u);
  EXPECT_EQ(calls, 8);

  // Breached only.
  v1::ReferralRecord breached =
      MakeRecord({.id = "B1", .received = kT0 - absl::Hours(1)});
  breached.set_sla(v1::SLA_STATE_BREACHED);
  ASSERT_THAT(PutRecord(*store, breached), IsOk());
  ReferralFilter only_breached;
  only_breached.breached_only = true;
  EXPECT_THAT(list_all(only_breached, 10, 1000, &calls), ElementsAre("B1"));

  // A position from the time index does not fit the NHS number index.
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(Page<v1::ReferralRecord> first,
                                 store->ListReferrals({}, "", 1, 10));
  EXPECT_THAT(store->ListReferrals(patient, first.next_position, 1, 10),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->ListReferrals({}, "", 0, 10),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ReferralStoreTest, ScanReferralsVisitsEachMatchingRecordOnce) {
  auto store = OpenStore();
  // An empty store: no visit, no error.
  int visits = 0;
  ASSERT_THAT(store->ScanReferrals({},
                                   [&](const v1::ReferralRecord&) {
                                     ++visits;
                                     return true;
                                   }),
              IsOk());
  EXPECT_EQ(visits, 0);

  std::vector<std::string> all_ids, acute_in_window;
  for (int i = 0; i < 40; ++i) {
    RecordSpec spec{.id = absl::StrCat("S", 100 + i),
                    .pathway = i % 2 ? v1::PATHWAY_ACUTE : v1::PATHWAY_UCR,
                    .received = kT0 + absl::Minutes(i)};
    ASSERT_THAT(PutRecord(*store, MakeRecord(spec)), IsOk());
    all_ids.push_back(spec.id);
    if (i % 2 == 1 && i >= 10 && i < 20) acute_in_window.push_back(spec.id);
  }
  // A later version replaces the first: still one visit, the new version.
  v1::ReferralRecord updated = MakeRecord({.id = "S100", .received = kT0});
  updated.set_version(2);
  ASSERT_THAT(PutRecord(*store, updated), IsOk());

  auto scan = [&](const ReferralFilter& filter) {
    std::vector<std::string> ids;
    EXPECT_THAT(store->ScanReferrals(filter,
                                     [&](const v1::ReferralRecord& r) {
                                       ids.push_back(r.id());
                                       if (r.id() == "S100") {
                                         EXPECT_EQ(r.version(), 2);
                                       }
                                       return true;
                                     }),
                IsOk());
    return ids;
  };
  EXPECT_THAT(scan({}), UnorderedElementsAreArray(all_ids));
  ReferralFilter filter;
  filter.pathway = v1::PATHWAY_ACUTE;
  filter.received_after = kT0 + absl::Minutes(10);
  filter.received_before = kT0 + absl::Minutes(20);
  EXPECT_THAT(scan(filter), UnorderedElementsAreArray(acute_in_window));

  // The visitor stops the scan.
  visits = 0;
  ASSERT_THAT(store->ScanReferrals(
                  {}, [&](const v1::ReferralRecord&) { return ++visits < 5; }),
              IsOk());
  EXPECT_EQ(visits, 5);

  // Writes during a scan are not seen by it (one snapshot).
  std::vector<std::string> seen;
  ASSERT_THAT(store->ScanReferrals(
                  {},
                  [&](const v1::ReferralRecord& r) {
                    if (seen.empty()) {
                      EXPECT_THAT(PutRecord(*store, MakeRecord({.id = "S000"})),
                                  IsOk());
                    }
                    seen.push_back(r.id());
                    return true;
                  }),
              IsOk());
  EXPECT_THAT(seen, UnorderedElementsAreArray(all_ids));
  EXPECT_EQ(scan({}).size(), all_ids.size() + 1);

  // omit_decision: the same records without their decisions.
  v1::ReferralRecord decided = MakeRecord({.id = "S200", .received = kT0});
  decided.mutable_decision()->set_pathway(v1::PATHWAY_ACUTE);
  decided.mutable_decision()->set_decisive_row("news2_response/r11");
  decided.mutable_decision()->add_fired()->set_table("news2_response");
  ASSERT_THAT(PutRecord(*store, decided), IsOk());
  ReferralStore::ScanOptions omit;
  omit.omit_decision = true;
  int decided_seen = 0;
  ASSERT_THAT(store->ScanReferrals({}, omit,
                                   [&](const v1::ReferralRecord& r) {
                                     EXPECT_FALSE(r.has_decision());
                                     if (r.id() == "S200") {
                                       ++decided_seen;
                                       v1::ReferralRecord expected = decided;
                                       expected.clear_decision();
                                       EXPECT_EQ(r.SerializeAsString(),
                                                 expected.SerializeAsString());
                                     }
                                     return true;
                                   }),
              IsOk());
  EXPECT_EQ(decided_seen, 1);
  ASSERT_THAT(store->ScanReferrals({},
                                   [&](const v1::ReferralRecord& r) {
                                     if (r.id() == "S200") {
                                       EXPECT_EQ(r.decision().decisive_row(),
                                                 "news2_response/r11");
                                     }
                                     return true;
                                   }),
              IsOk());

  store->Close();
  EXPECT_THAT(
      store->ScanReferrals({}, [](const v1::ReferralRecord&) { return true; }),
      StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(ReferralStoreTest, IdempotencyEntriesRoundTrip) {
  auto store = OpenStore();
  const std::string hash(32, '\xab');
  ASSERT_THAT(store->CommitAndWait([&](Txn& txn) -> absl::Status {
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<IdempotencyEntry> before,
                               txn.GetIdempotency("req-1"));
    EXPECT_FALSE(before.has_value());
    txn.PutIdempotency("req-1", {hash, "R1"});
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<IdempotencyEntry> after,
                               txn.GetIdempotency("req-1"));
    EXPECT_TRUE(after.has_value());
    return absl::OkStatus();
  }),
              IsOk());
  std::optional<IdempotencyEntry> seen;
  ASSERT_THAT(store->CommitAndWait([&](Txn& txn) -> absl::Status {
    FRONTDOOR_ASSIGN_OR_RETURN(seen, txn.GetIdempotency("req-1"));
    return absl::OkStatus();
  }),
              IsOk());
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->payload_hash, hash);
  EXPECT_EQ(seen->referral_id, "R1");
}

TEST_F(ReferralStoreTest, FindByNhsNumberSeesTheGroupAndTheWindow) {
  auto store = OpenStore();
  ASSERT_THAT(
      PutRecord(*store, MakeRecord({.id = "OLD",
                                    .nhs_number = "9990000018",
                                    .received = kT0 - absl::Hours(30)})),
      IsOk());
  ASSERT_THAT(PutRecord(*store, MakeRecord({.id = "R1",
                                            .nhs_number = "9990000018",
                                            .received = kT0 - absl::Hours(2)})),
              IsOk());
  ASSERT_THAT(
      PutRecord(
          *store,
          MakeRecord({.id = "X", .nhs_number = "9990000026", .received = kT0})),
      IsOk());
  std::vector<std::string> found;
  ASSERT_THAT(store->CommitAndWait([&](Txn& txn) -> absl::Status {
    txn.PutReferral(
        MakeRecord({.id = "R2", .nhs_number = "9990000018", .received = kT0}));
    FRONTDOOR_ASSIGN_OR_RETURN(
        std::vector<v1::ReferralRecord> records,
        txn.FindByNhsNumber("9990000018", kT0 - absl::Hours(24)));
    found = Ids(records);
    return absl::OkStatus();
  }),
              IsOk());
  EXPECT_THAT(found, ElementsAre("R2", "R1"));
}

TEST_F(ReferralStoreTest, ConcurrentReadModifyWriteLosesNoUpdate) {
  ReferralStore::Options options = DefaultOptions();
  options.sync = false;  // the point is the overlay, not the disk
  auto store = OpenStore(options);
  ASSERT_THAT(PutRecord(*store, MakeRecord({.id = "C", .version = 0})), IsOk());

  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  absl::Mutex mu;
  std::vector<int64_t> written_versions;
  std::atomic<int> aborted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Blind increments: each mutation reads the version through the Txn,
        // which must see earlier mutations of its group.
        int64_t wrote = -1;
        absl::Status s = store->CommitAndWait([&](Txn& txn) -> absl::Status {
          FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::ReferralRecord> r,
                                     txn.GetReferral("C"));
          if (!r) return absl::NotFoundError("C");
          r->set_version(r->version() + 1);
          r->set_status_reason(absl::StrCat("thread ", t, " step ", i));
          txn.PutReferral(*r);
          v1::ReferralEvent e;
          e.set_referral_id("C");
          e.set_sequence(r->version());
          txn.AppendEvent(e);
          wrote = r->version();
          return absl::OkStatus();
        });
        ASSERT_THAT(s, IsOk());
        absl::MutexLock lock(&mu);
        written_versions.push_back(wrote);
      }
    });
  }
  // Optimistic updates with a version check, as the service does them: read
  // outside, check inside; a stale version is ABORTED and retried.
  std::atomic<int> optimistic_ok{0};
  std::thread optimistic([&] {
    for (int i = 0; i < 200; ++i) {
      for (;;) {
        absl::StatusOr<std::optional<v1::ReferralRecord>> seen =
            store->GetReferral("C");
        ASSERT_THAT(seen, IsOk());
        const int64_t expected = (*seen)->version();
        int64_t wrote = -1;
        absl::Status s = store->CommitAndWait([&](Txn& txn) -> absl::Status {
          FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::ReferralRecord> r,
                                     txn.GetReferral("C"));
          if (r->version() != expected)
            return absl::AbortedError("stale version");
          r->set_version(expected + 1);
          txn.PutReferral(*r);
          v1::ReferralEvent e;
          e.set_referral_id("C");
          e.set_sequence(r->version());
          txn.AppendEvent(e);
          wrote = r->version();
          return absl::OkStatus();
        });
        if (s.code() == absl::StatusCode::kAborted) {
          aborted.fetch_add(1);
          continue;
        }
        ASSERT_THAT(s, IsOk());
        optimistic_ok.fetch_add(1);
        absl::MutexLock lock(&mu);
        written_versions.push_back(wrote);
        break;
      }
    }
  });
  for (auto& th : threads) th.join();
  optimistic.join();

  const int64_t total = kThreads * kPerThread + optimistic_ok.load();
  EXPECT_EQ(optimistic_ok.load(), 200);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::optional<v1::ReferralRecord> final_record,
                                 store->GetReferral("C"));
  EXPECT_EQ(final_record->version(), total);
  std::set<int64_t> distinct(written_versions.begin(), written_versions.end());
  EXPECT_EQ(distinct.size(), written_versions.size())
      << "two commits wrote the same version";
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::vector<v1::ReferralEvent> events,
                                 store->ListEvents("C"));
  EXPECT_EQ(static_cast<int64_t>(events.size()), total);
  EXPECT_THAT(store->ApproximateReferralCount(), IsOkAndHolds(1));
  // Only one worklist entry for C, however many times it was rewritten.
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UCR), ElementsAre("C"));
}

TEST_F(ReferralStoreTest,
       FailedMutationWritesNothingAndDoesNotDisturbItsGroup) {
  auto store = OpenStore();
  // Block the writer so that the next three mutations form one group.
  absl::Notification started, release;
  store->Commit(
      [&](Txn&) {
        started.Notify();
        release.WaitForNotification();
        return absl::OkStatus();
      },
      nullptr);
  started.WaitForNotification();
  absl::Notification d1, d2, d3;
  absl::Status s1, s2, s3;
  store->Commit(
      [](Txn& txn) {
        txn.PutReferral(MakeRecord({.id = "A", .nhs_number = "9990000018"}));
        return absl::OkStatus();
      },
      [&](absl::Status s) {
        s1 = s;
        d1.Notify();
      });
  store->Commit(
      [](Txn& txn) -> absl::Status {
        // Sees A, overwrites it, writes B and an event, then fails.
        FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::ReferralRecord> a,
                                   txn.GetReferral("A"));
        if (!a) return absl::InternalError("A not visible");
        a->set_pathway(v1::PATHWAY_ACUTE);
        txn.PutReferral(*a);
        txn.PutReferral(MakeRecord({.id = "B"}));
        txn.PutIdempotency("req-B", {"h", "B"});
        return absl::FailedPreconditionError("changed my mind");
      },
      [&](absl::Status s) {
        s2 = s;
        d2.Notify();
      });
  store->Commit(
      [](Txn& txn) -> absl::Status {
        // Sees A unchanged and no B.
        FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::ReferralRecord> a,
                                   txn.GetReferral("A"));
        FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::ReferralRecord> b,
                                   txn.GetReferral("B"));
        if (!a || a->pathway() != v1::PATHWAY_UCR)
          return absl::InternalError("A changed");
        if (b) return absl::InternalError("B visible");
        txn.PutReferral(MakeRecord({.id = "C"}));
        return absl::OkStatus();
      },
      [&](absl::Status s) {
        s3 = s;
        d3.Notify();
      });
  release.Notify();
  d1.WaitForNotification();
  d2.WaitForNotification();
  d3.WaitForNotification();
  EXPECT_THAT(s1, IsOk());
  EXPECT_THAT(s2, StatusIs(absl::StatusCode::kFailedPrecondition,
                           HasSubstr("changed my mind")));
  EXPECT_THAT(s3, IsOk());

  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UCR),
              UnorderedElementsAreArray({"A", "C"}));
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_ACUTE), IsEmpty());
  EXPECT_THAT(store->GetReferral("B"),
              IsOkAndHolds(::testing::Eq(std::nullopt)));
  EXPECT_THAT(store->ApproximateReferralCount(), IsOkAndHolds(2));
  std::optional<IdempotencyEntry> idem;
  ASSERT_THAT(store->CommitAndWait([&](Txn& txn) -> absl::Status {
    FRONTDOOR_ASSIGN_OR_RETURN(idem, txn.GetIdempotency("req-B"));
    return absl::OkStatus();
  }),
              IsOk());
  EXPECT_FALSE(idem.has_value());
}

TEST_F(ReferralStoreTest, PoisonedTxnFailsEvenIfTheMutationReturnsOk) {
  auto store = OpenStore();
  absl::Status s = store->CommitAndWait([](Txn& txn) {
    txn.PutReferral(MakeRecord({.id = "GOOD"}));
    txn.PutReferral(MakeRecord({.id = ""}));  // invalid
    return absl::OkStatus();
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->GetReferral("GOOD"),
              IsOkAndHolds(::testing::Eq(std::nullopt)));
}

TEST_F(ReferralStoreTest, FullQueueAnswersResourceExhausted) {
  ReferralStore::Options options = DefaultOptions();
  options.max_pending = 4;
  auto store = OpenStore(options);
  absl::Notification started, release;
  store->Commit(
      [&](Txn&) {
        started.Notify();
        release.WaitForNotification();
        return absl::OkStatus();
      },
      nullptr);
  started.WaitForNotification();  // the writer holds it: the queue is empty

  std::atomic<int> ok{0};
  absl::Mutex mu;
  int finished = 0;
  for (int i = 0; i < 4; ++i) {
    store->Commit(
        [i](Txn& txn) {
          txn.PutReferral(MakeRecord({.id = absl::StrCat("Q", i)}));
          return absl::OkStatus();
        },
        [&](absl::Status s) {
          if (s.ok()) ok.fetch_add(1);
          absl::MutexLock lock(&mu);
          ++finished;
        });
  }
  absl::Status rejected;
  bool called_inline = false;
  store->Commit([](Txn&) { return absl::OkStatus(); },
                [&](absl::Status s) {
                  rejected = s;
                  called_inline = true;
                });
  EXPECT_TRUE(called_inline);  // before Commit returned
  EXPECT_THAT(rejected, StatusIs(absl::StatusCode::kResourceExhausted));
  release.Notify();
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == 4; }, &finished));
  }
  EXPECT_EQ(ok.load(), 4);
  EXPECT_TRUE(store->healthy());
}

TEST_F(ReferralStoreTest, FailedSyncLatchesTheStore) {
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  std::unique_ptr<rocksdb::Env> env = NewFaultInjectionEnv(fs);
  ReferralStore::Options options = DefaultOptions();
  options.env = env.get();
  auto store = OpenStore(options);
  ASSERT_THAT(PutRecord(*store, MakeRecord({.id = "BEFORE"})), IsOk());

  fs->SetFailSyncs(true);
  absl::Status s = PutRecord(*store, MakeRecord({.id = "DURING"}));
  EXPECT_THAT(
      s, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected fault")));
  EXPECT_GT(fs->injected(), 0);
  EXPECT_FALSE(store->healthy());
  EXPECT_THAT(store->failure(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("sync")));

  // The disk is fine again, but the store stays failed: it never pretends.
  fs->SetFailSyncs(false);
  EXPECT_THAT(PutRecord(*store, MakeRecord({.id = "AFTER"})),
              StatusIs(absl::StatusCode::kUnavailable));
  bool inline_call = false;
  store->Commit([](Txn&) { return absl::OkStatus(); },
                [&](absl::Status st) {
                  inline_call = true;
                  EXPECT_THAT(st, StatusIs(absl::StatusCode::kUnavailable));
                });
  EXPECT_TRUE(inline_call);
  // Reads still work, and show what was acknowledged: not DURING, which
  // was written but never synced.
  EXPECT_THAT(store->GetReferral("BEFORE"),
              IsOkAndHolds(::testing::Ne(std::nullopt)));
  EXPECT_THAT(store->GetReferral("DURING"),
              IsOkAndHolds(::testing::Eq(std::nullopt)));
  EXPECT_THAT(store->GetReferral("AFTER"),
              IsOkAndHolds(::testing::Eq(std::nullopt)));
  store->Close();

  // A restart (here: a reopen in the same process) recovers.
  store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->healthy());
  EXPECT_THAT(store->GetReferral("BEFORE"),
              IsOkAndHolds(::testing::Ne(std::nullopt)));
  EXPECT_THAT(PutRecord(*store, MakeRecord({.id = "LATER"})), IsOk());
}

// A write is acknowledged, and shown to readers, only once its WAL sync has
// finished: until then a power cut could still take it back. Held here on a
// disk whose syncs do not finish until released.
TEST_F(ReferralStoreTest, ReadersSeeAWriteOnlyOnceItIsSynced) {
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  std::unique_ptr<rocksdb::Env> env = NewFaultInjectionEnv(fs);
  ReferralStore::Options options = DefaultOptions();
  options.env = env.get();
  auto store = OpenStore(options);
  ASSERT_THAT(PutRecord(*store, MakeRecord({.id = "EARLIER"})), IsOk());

  fs->HoldSyncs(true);
  absl::Notification first_done, second_done;
  absl::Status first, second;
  store->Commit(
      [](Txn& txn) {
        txn.PutReferral(MakeRecord({.id = "HELD"}));
        return absl::OkStatus();
      },
      [&](absl::Status s) {
        first = s;
        first_done.Notify();
      });
  bool writer_saw_it = false;
  store->Commit(
      [&](Txn& txn) {
        absl::StatusOr<std::optional<v1::ReferralRecord>> held =
            txn.GetReferral("HELD");
        writer_saw_it = held.ok() && held->has_value();
        return absl::OkStatus();
      },
      [&](absl::Status s) {
        second = s;
        second_done.Notify();
      });
  // Wait until the sync thread is stuck in the held sync.
  while (fs->held() == 0) absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(first_done.HasBeenNotified());
  EXPECT_THAT(store->GetReferral("HELD"),
              IsOkAndHolds(::testing::Eq(std::nullopt)));
  EXPECT_THAT(store->GetReferral("EARLIER"),
              IsOkAndHolds(::testing::Ne(std::nullopt)));
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UCR),
              ::testing::Not(::testing::Contains("HELD")));

  fs->HoldSyncs(false);
  first_done.WaitForNotification();
  second_done.WaitForNotification();
  EXPECT_THAT(first, IsOk());
  EXPECT_THAT(second, IsOk());
  EXPECT_TRUE(writer_saw_it);
  EXPECT_THAT(store->GetReferral("HELD"),
              IsOkAndHolds(::testing::Ne(std::nullopt)));
}

// Nice values of this process's threads named `name`, as the kernel has them.
std::vector<int> NiceOfThreadsNamed(const std::string& name) {
  std::vector<int> out;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir("/proc/self/task"), closedir);
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir.get())) {
    if (e->d_name[0] == '.') continue;
    const std::string task = absl::StrCat("/proc/self/task/", e->d_name);
    std::ifstream comm(task + "/comm");
    std::string comm_name;
    std::getline(comm, comm_name);
    if (comm_name != name) continue;
    std::ifstream stat(task + "/stat");
    std::string line;
    std::getline(stat, line);
    // Fields after the ")" that ends the name: state is field 3, nice 19.
    std::vector<std::string> fields =
        absl::StrSplit(line.substr(line.rfind(')') + 2), ' ');
    if (fields.size() > 16) out.push_back(std::stoi(fields[16]));
  }
  return out;
}

// Flushes take the cores' spare time, not the writer thread's.
TEST_F(ReferralStoreTest, FlushesRunAtTheLowestCpuPriority) {
  auto store = OpenStore();
  ASSERT_THAT(PutRecord(*store, MakeRecord({.id = "FLUSHED"})), IsOk());
  store->Close();  // flushes the memtables
  std::vector<int> nice = NiceOfThreadsNamed("rocksdb:high");
  ASSERT_FALSE(nice.empty());
  EXPECT_THAT(nice, ::testing::Each(19));
}

TEST_F(ReferralStoreTest, QueuedCommitsFailWhenTheStoreFails) {
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  std::unique_ptr<rocksdb::Env> env = NewFaultInjectionEnv(fs);
  ReferralStore::Options options = DefaultOptions();
  options.env = env.get();
  options.max_group =
      1;  // one group per commit, so later ones are still queued
  auto store = OpenStore(options);

  absl::Notification started, release;
  store->Commit(
      [&](Txn& txn) {
        started.Notify();
        release.WaitForNotification();
        txn.PutReferral(MakeRecord({.id = "FIRST"}));
        return absl::OkStatus();
      },
      nullptr);
  started.WaitForNotification();
  absl::Mutex mu;
  std::vector<absl::Status> results;
  for (int i = 0; i < 5; ++i) {
    store->Commit(
        [i](Txn& txn) {
          txn.PutReferral(MakeRecord({.id = absl::StrCat("Q", i)}));
          return absl::OkStatus();
        },
        [&](absl::Status s) {
          absl::MutexLock lock(&mu);
          results.push_back(s);
        });
  }
  fs->SetFailSyncs(true);
  release.Notify();
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<absl::Status>* r) { return r->size() == 5; },
        &results));
  }
  for (const absl::Status& s : results)
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(store->healthy());
}

TEST_F(ReferralStoreTest, CapacityRoundTrips) {
  auto store = OpenStore();
  v1::ServiceState a;
  a.mutable_service()->set_id("ucr-leeds");
  a.set_capacity(v1::CAPACITY_AMBER);
  v1::ServiceState b;
  b.mutable_service()->set_id("dn-north");
  b.set_capacity(v1::CAPACITY_GREEN);
  ASSERT_THAT(store->PutCapacity(a), IsOk());
  ASSERT_THAT(store->PutCapacity(b), IsOk());
  a.set_capacity(v1::CAPACITY_RED);
  ASSERT_THAT(store->PutCapacity(a), IsOk());
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::vector<v1::ServiceState> states,
                                 store->ListCapacity());
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].service().id(), "dn-north");
  EXPECT_EQ(states[1].service().id(), "ucr-leeds");
  EXPECT_EQ(states[1].capacity(), v1::CAPACITY_RED);
  EXPECT_THAT(store->PutCapacity(v1::ServiceState()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ReferralStoreTest, ReopenAfterCloseKeepsEverything) {
  {
    auto store = OpenStore();
    for (int i = 0; i < 50; ++i) {
      ASSERT_THAT(store->CommitAndWait([i](Txn& txn) {
        const std::string id = absl::StrCat("R", 100 + i);
        txn.PutReferral(MakeRecord(
            {.id = id,
             .status = i % 5 == 0 ? v1::REFERRAL_STATUS_AWAITING_TRIAGE
                                  : v1::REFERRAL_STATUS_TRIAGED,
             .service_id = "S1",
             .nhs_number = "9990000018",
             .received = kT0 + absl::Seconds(i),
             .due = kT0 + absl::Hours(2) - absl::Seconds(i)}));
        v1::ReferralEvent e;
        e.set_referral_id(id);
        e.set_sequence(1);
        txn.AppendEvent(e);
        txn.PutIdempotency("req-" + id, {"hash", id});
        return absl::OkStatus();
      }),
                  IsOk());
    }
    v1::ServiceState st;
    st.mutable_service()->set_id("S1");
    ASSERT_THAT(store->PutCapacity(st), IsOk());
    store->Close();
    store->Close();  // idempotent
    EXPECT_THAT(store->GetReferral("R100"),
                StatusIs(absl::StatusCode::kUnavailable));
    EXPECT_THAT(PutRecord(*store, MakeRecord({.id = "X"})),
                StatusIs(absl::StatusCode::kUnavailable));
  }
  auto store = OpenStore();
  EXPECT_THAT(store->ApproximateReferralCount(), IsOkAndHolds(50));
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UCR), ::testing::SizeIs(50));
  EXPECT_EQ(Worklist(*store, v1::PATHWAY_UCR).front(), "R149");  // due soonest
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UNSPECIFIED, "S1"),
              ::testing::SizeIs(50));
  EXPECT_THAT(store->AwaitingTriage(100), IsOkAndHolds(::testing::SizeIs(10)));
  EXPECT_THAT(store->ListEvents("R120"), IsOkAndHolds(::testing::SizeIs(1)));
  EXPECT_THAT(store->ListCapacity(), IsOkAndHolds(::testing::SizeIs(1)));
  ReferralFilter patient;
  patient.nhs_number = "9990000018";
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(Page<v1::ReferralRecord> page,
                                 store->ListReferrals(patient, "", 100, 1000));
  EXPECT_EQ(page.items.size(), 50u);
}

TEST_F(ReferralStoreTest, CloseDrainsQueuedCommits) {
  auto store = OpenStore();
  std::atomic<int> ok{0};
  for (int i = 0; i < 200; ++i) {
    store->Commit(
        [i](Txn& txn) {
          txn.PutReferral(MakeRecord({.id = absl::StrCat("D", i)}));
          return absl::OkStatus();
        },
        [&](absl::Status s) {
          if (s.ok()) ok.fetch_add(1);
        });
  }
  store->Close();
  EXPECT_EQ(ok.load(), 200);
  store = OpenStore();
  EXPECT_THAT(store->ApproximateReferralCount(), IsOkAndHolds(200));
}

TEST_F(ReferralStoreTest, BackupAndRestoreGiveExactlyTheBackedUpState) {
  const std::string backup_dir = dir_.Sub("backup");
  {
    auto store = OpenStore();
    for (int i = 0; i < 20; ++i) {
      ASSERT_THAT(
          PutRecord(*store, MakeRecord({.id = absl::StrCat("B", 100 + i),
                                        .received = kT0 + absl::Seconds(i)})),
          IsOk());
    }
    ASSERT_THAT(store->Backup(backup_dir), IsOk());
    // After the backup: a new record, and a change to a backed-up one.
    ASSERT_THAT(
        PutRecord(*store,
                  MakeRecord({.id = "NEW", .received = kT0 + absl::Hours(1)})),
        IsOk());
    ASSERT_THAT(
        PutRecord(*store, MakeRecord({.id = "B100",
                                      .status = v1::REFERRAL_STATUS_CLOSED,
                                      .received = kT0,
                                      .version = 2})),
        IsOk());
    EXPECT_THAT(store->ApproximateReferralCount(), IsOkAndHolds(21));
  }
  const std::string restored = dir_.Sub("restored");
  ASSERT_THAT(RestoreReferralStore(backup_dir, restored), IsOk());
  ReferralStore::Options options = DefaultOptions();
  options.path = restored;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->ApproximateReferralCount(), IsOkAndHolds(20));
  EXPECT_THAT(store->GetReferral("NEW"),
              IsOkAndHolds(::testing::Eq(std::nullopt)));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::optional<v1::ReferralRecord> b100,
                                 store->GetReferral("B100"));
  ASSERT_TRUE(b100.has_value());
  EXPECT_EQ(b100->version(), 1);
  EXPECT_THAT(Worklist(*store, v1::PATHWAY_UCR), ::testing::SizeIs(20));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(Page<v1::ReferralRecord> all,
                                 store->ListReferrals({}, "", 100, 100));
  EXPECT_EQ(all.items.size(), 20u);
  EXPECT_THAT(RestoreReferralStore(dir_.Sub("no-such-backup"), dir_.Sub("x")),
              ::testing::Not(IsOk()));
}

TEST_F(ReferralStoreTest, BackupDuringCommitsIsConsistent) {
  const std::string backup_dir = dir_.Sub("backup");
  ReferralStore::Options options = DefaultOptions();
  options.sync = false;
  {
    auto store = OpenStore(options);
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      for (int i = 0; !stop.load(); ++i) {
        ASSERT_THAT(
            PutRecord(*store, MakeRecord({.id = absl::StrCat("W", 100000 + i),
                                          .received = kT0 + absl::Seconds(i),
                                          .due = kT0 + absl::Seconds(i)})),
            IsOk());
      }
    });
    absl::SleepFor(absl::Milliseconds(100));
    ASSERT_THAT(store->Backup(backup_dir), IsOk());
    stop = true;
    writer.join();
  }
  ASSERT_THAT(RestoreReferralStore(backup_dir, dir_.Sub("restored")), IsOk());
  options.path = dir_.Sub("restored");
  auto store = OpenStore(options);
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(int64_t count,
                                 store->ApproximateReferralCount());
  EXPECT_GT(count, 0);
  // The counter, the records, the time index and the worklist agree.
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(
      Page<v1::ReferralRecord> all,
      store->ListReferrals({}, "", 1000000, 1000000));
  EXPECT_EQ(static_cast<int64_t>(all.items.size()), count);
  EXPECT_EQ(static_cast<int64_t>(Worklist(*store, v1::PATHWAY_UCR).size()),
            std::min<int64_t>(count, 1000));
  // A prefix: W100000 .. W(100000 + count - 1), nothing missing in between.
  for (int64_t i = 0; i < count; ++i) {
    ASSERT_THAT(store->GetReferral(absl::StrCat("W", 100000 + i)),
                IsOkAndHolds(::testing::Ne(std::nullopt)))
        << i;
  }
}

TEST_F(ReferralStoreTest, OpenRejectsBadOptions) {
  ReferralStore::Options options;
  EXPECT_THAT(ReferralStore::Open(options),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options.path = dir_.Sub("db");
  options.max_group = 0;
  EXPECT_THAT(ReferralStore::Open(options),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(StoreKeysTest, OrderingsAreNumeric) {
  EXPECT_LT(keys::WorklistKey(keys::PathwayScope(v1::PATHWAY_UCR), 255, "Z"),
            keys::WorklistKey(keys::PathwayScope(v1::PATHWAY_UCR), 256, "A"));
  EXPECT_LT(
      keys::WorklistKey(keys::PathwayScope(v1::PATHWAY_UCR), 1ull << 40, "Z"),
      keys::WorklistKey(keys::PathwayScope(v1::PATHWAY_UCR), keys::kMaxU64,
                        "A"));
  // Newer first.
  EXPECT_LT(keys::TimeKey(2000000, "Z"), keys::TimeKey(1000000, "A"));
  EXPECT_LT(keys::NhsKey("9990000018", 2000000, "Z"),
            keys::NhsKey("9990000018", 1000000, "A"));
  // A service's scope is not a prefix of a longer service id's.
  EXPECT_FALSE(
      absl::StartsWith(keys::WorklistKey(keys::ServiceScope("S10"), 0, "A"),
                       keys::ServiceScope("S1")));
  EXPECT_EQ(keys::PrefixEnd("ab\xff"), "ac");
  EXPECT_EQ(keys::PrefixEnd("\xff\xff"), "");
  std::string hash, id;
  ASSERT_TRUE(keys::DecodeIdempotency(
      keys::EncodeIdempotency(std::string("h\0h", 3), "R1"), &hash, &id));
  EXPECT_EQ(hash, std::string("h\0h", 3));
  EXPECT_EQ(id, "R1");
  EXPECT_FALSE(keys::DecodeIdempotency("\x02xx", &hash, &id));
  google::protobuf::Timestamp before_epoch;
  before_epoch.set_seconds(-5);
  EXPECT_EQ(keys::Micros(before_epoch), 0u);
}

}  // namespace
}  // namespace frontdoor::storage
