// The audit trail of the referral store: appending with the writes it
// records, the chain, the indexes and queries, restarts, concurrency, and
// tampering found by VerifyAudit and VerifyAuditOffline.

#include "storage/audit_trail.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "services/common/clock.h"
#include "services/common/proto_time.h"
#include "services/common/test_util.h"
#include "storage/audit_test_util.h"
#include "storage/fault_injection_fs.h"
#include "storage/referral_store.h"
#include "storage/store_test_util.h"

namespace frontdoor::storage {
namespace {

using ::frontdoor::IsOk;
using ::frontdoor::StatusIs;
using ::frontdoor::storage::testing::AuditSpec;
using ::frontdoor::storage::testing::MakeAuditEntry;
using ::frontdoor::storage::testing::MakeRecord;
using ::frontdoor::storage::testing::RawStoreDb;
using ::frontdoor::storage::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kT0 = absl::FromUnixSeconds(1768471200);

std::vector<uint64_t> Seqs(const std::vector<v1::AuditEntry>& entries) {
  std::vector<uint64_t> out;
  for (const v1::AuditEntry& e : entries) out.push_back(e.seq());
  return out;
}

std::vector<uint64_t> Range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> out;
  for (uint64_t s = from; s <= to; ++s) out.push_back(s);
  return out;
}

// What an operator keeps from a verify: its entries and head hash.
v1::VerifyAuditRequest KeptHead(const v1::VerifyAuditResponse& verdict) {
  v1::VerifyAuditRequest known;
  known.set_known_entries(verdict.entries());
  known.set_known_head_hash(verdict.head_hash());
  return known;
}

// A kept head of `entries` entries, from a trail this test never wrote.
v1::VerifyAuditRequest AnotherTrailsHead(uint64_t entries) {
  v1::VerifyAuditRequest known;
  known.set_known_entries(entries);
  known.set_known_head_hash(std::string(32, 'h'));
  return known;
}

class AuditTrailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    Reopen();
  }

  std::string path() const { return dir_.Sub("db"); }

  void Reopen() {
    if (store_ != nullptr) store_->Close();
    ReferralStore::Options options;
    options.path = path();
    options.sync = false;
    options.clock = &clock_;
    absl::StatusOr<std::unique_ptr<ReferralStore>> store =
        ReferralStore::Open(options);
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }

  absl::Status Append(const AuditSpec& spec) {
    return store_->CommitAndWait([entry = MakeAuditEntry(spec)](Txn& txn) {
      txn.AppendAudit(entry);
      return absl::OkStatus();
    });
  }

  // Entries 1..5: two patients, three principals, five referrals, one
  // second apart.
  void AppendFive() {
    const AuditSpec specs[] = {
        {.principal = "dr.jones", .referral_id = "R1", .nhs_number = "111"},
        {.principal = "nurse.ali", .referral_id = "R2", .nhs_number = "222"},
        {.principal = "dr.jones", .referral_id = "R3", .nhs_number = "111"},
        {.principal = "gp.smith", .referral_id = "R4"},
        {.principal = "dr.jones", .referral_id = "R5", .nhs_number = "111"},
    };
    for (const AuditSpec& spec : specs) {
      ASSERT_THAT(Append(spec), IsOk());
      clock_.Advance(absl::Seconds(1));
    }
  }

  std::vector<v1::AuditEntry> All() {
    absl::StatusOr<Page<v1::AuditEntry>> page =
        store_->QueryAudit(AuditFilter(), "", 100000);
    EXPECT_THAT(page, IsOk());
    return page.ok() ? page->items : std::vector<v1::AuditEntry>();
  }

  std::vector<uint64_t> Query(const AuditFilter& filter, int limit = 1000) {
    absl::StatusOr<Page<v1::AuditEntry>> page =
        store_->QueryAudit(filter, "", limit);
    EXPECT_THAT(page, IsOk());
    return page.ok() ? Seqs(page->items) : std::vector<uint64_t>();
  }

  // Closes the store and opens its files directly, to tamper with them.
  std::unique_ptr<RawStoreDb> Tamper() {
    store_->Close();
    store_.reset();
    absl::StatusOr<std::unique_ptr<RawStoreDb>> raw = RawStoreDb::Open(path());
    EXPECT_THAT(raw, IsOk());
    return raw.ok() ? *std::move(raw) : nullptr;
  }

  // Both verifications, offline (the files) and online (a store reopened on
  // them), report `seq` as the first bad entry with a problem matching
  // `problem`.
  // Five entries, and the verdict on them (intact).
  void AppendFiveAndVerify(v1::VerifyAuditResponse* verdict) {
    AppendFive();
    absl::StatusOr<v1::VerifyAuditResponse> v = store_->VerifyAudit({});
    ASSERT_THAT(v, IsOk());
    ASSERT_TRUE(v->ok()) << v->problem();
    *verdict = *std::move(v);
  }

  // Offline and through the store, the same verdict: not ok from `seq`.
  void ExpectFirstBad(uint64_t seq, const std::string& problem,
                      const v1::VerifyAuditRequest& request = {}) {
    absl::StatusOr<v1::VerifyAuditResponse> offline =
        VerifyAuditOffline(path(), request);
    ASSERT_THAT(offline, IsOk());
    EXPECT_FALSE(offline->ok());
    EXPECT_EQ(offline->first_bad_seq(), seq) << offline->problem();
    EXPECT_THAT(offline->problem(), HasSubstr(problem));

    Reopen();
    absl::StatusOr<v1::VerifyAuditResponse> online =
        store_->VerifyAudit(request);
    ASSERT_THAT(online, IsOk());
    EXPECT_EQ(online->SerializeAsString(), offline->SerializeAsString());
  }

  FakeClock clock_{kT0};
  TempDir dir_;
  std::unique_ptr<ReferralStore> store_;
};

TEST_F(AuditTrailTest, EntriesAreChainedInCommitOrder) {
  AppendFive();
  // Two entries in one mutation take consecutive seqs in the order given.
  ASSERT_THAT(store_->CommitAndWait([](Txn& txn) {
    txn.AppendAudit(MakeAuditEntry({.request_id = "first"}));
    txn.AppendAudit(MakeAuditEntry({.request_id = "second"}));
    return absl::OkStatus();
  }),
              IsOk());

  std::vector<v1::AuditEntry> entries = All();
  ASSERT_EQ(Seqs(entries), Range(1, 7));
  EXPECT_EQ(entries[5].request_id(), "first");
  EXPECT_EQ(entries[6].request_id(), "second");
  std::string prev(32, '\0');
  for (size_t i = 0; i < entries.size(); ++i) {
    v1::AuditEntry e = entries[i];
    EXPECT_EQ(e.prev_hash(), prev) << e.seq();
    const std::string hash = e.hash();
    EXPECT_EQ(hash.size(), 32u);
    e.clear_hash();
    EXPECT_EQ(audit::EntryHash(e), hash) << e.seq();
    prev = hash;
  }
  EXPECT_EQ(FromProtoTime(entries[0].time()), kT0);
  EXPECT_EQ(FromProtoTime(entries[4].time()), kT0 + absl::Seconds(4));
  EXPECT_EQ(entries[1].principal(), "nurse.ali");
  EXPECT_EQ(entries[1].nhs_number(), "222");

  absl::StatusOr<v1::VerifyAuditResponse> verified = store_->VerifyAudit({});
  ASSERT_THAT(verified, IsOk());
  EXPECT_TRUE(verified->ok()) << verified->problem();
  EXPECT_EQ(verified->entries(), 7u);
  EXPECT_EQ(verified->head_hash(), entries.back().hash());
  EXPECT_EQ(verified->first_bad_seq(), 0u);
}

TEST_F(AuditTrailTest, CallerCannotChooseSeqTimeOrHashes) {
  v1::AuditEntry forged = MakeAuditEntry({});
  forged.set_seq(42);
  *forged.mutable_time() = ToProtoTime(kT0 - absl::Hours(24));
  forged.set_prev_hash("x");
  forged.set_hash("y");
  ASSERT_THAT(store_->CommitAndWait([&](Txn& txn) {
    txn.AppendAudit(forged);
    return absl::OkStatus();
  }),
              IsOk());
  std::vector<v1::AuditEntry> entries = All();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].seq(), 1u);
  EXPECT_EQ(FromProtoTime(entries[0].time()), kT0);
  EXPECT_EQ(entries[0].prev_hash(), std::string(32, '\0'));
  EXPECT_NE(entries[0].hash(), "y");
}

TEST_F(AuditTrailTest, TimeNeverGoesBackwards) {
  ASSERT_THAT(Append({}), IsOk());
  clock_.Set(kT0 - absl::Minutes(5));  // the clock steps back
  ASSERT_THAT(Append({}), IsOk());
  std::vector<v1::AuditEntry> entries = All();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(FromProtoTime(entries[1].time()), kT0);
}

TEST_F(AuditTrailTest, AWriteAndItsEntryCommitTogether) {
  v1::ReferralRecord record = MakeRecord({.id = "R1", .nhs_number = "111"});
  ASSERT_THAT(store_->CommitAndWait([&](Txn& txn) {
    txn.PutReferral(record);
    txn.AppendAudit(MakeAuditEntry(
        {.action = "/frontdoor.v1.ReferralService/SubmitReferral",
         .referral_id = "R1",
         .nhs_number = "111"}));
    return absl::OkStatus();
  }),
              IsOk());
  EXPECT_THAT(store_->GetReferral("R1"), IsOk());
  EXPECT_THAT(Query({.referral_id = "R1"}), ElementsAre(1));
}

TEST_F(AuditTrailTest, AFailedMutationWritesNoEntryAndTheChainStaysGapless) {
  ASSERT_THAT(Append({.request_id = "kept-1"}), IsOk());
  // The mutation fails after appending.
  EXPECT_THAT(store_->CommitAndWait([](Txn& txn) {
    txn.AppendAudit(MakeAuditEntry({.request_id = "dropped-1"}));
    return absl::AbortedError("version changed");
  }),
              StatusIs(absl::StatusCode::kAborted));
  // An invalid write poisons the mutation, entry included.
  EXPECT_THAT(store_->CommitAndWait([](Txn& txn) {
    txn.AppendAudit(MakeAuditEntry({.request_id = "dropped-2"}));
    txn.PutReferral(MakeRecord({.id = ""}));
    return absl::OkStatus();
  }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // An entry that cannot be indexed fails its mutation too.
  EXPECT_THAT(
      Append({.principal = std::string("a\0b", 3), .request_id = "dropped-3"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("principal")));
  ASSERT_THAT(Append({.request_id = "kept-2"}), IsOk());

  std::vector<v1::AuditEntry> entries = All();
  ASSERT_EQ(Seqs(entries), Range(1, 2));
  EXPECT_EQ(entries[0].request_id(), "kept-1");
  EXPECT_EQ(entries[1].request_id(), "kept-2");
  EXPECT_EQ(entries[1].prev_hash(), entries[0].hash());
  absl::StatusOr<v1::VerifyAuditResponse> verified = store_->VerifyAudit({});
  ASSERT_THAT(verified, IsOk());
  EXPECT_TRUE(verified->ok()) << verified->problem();
}

TEST_F(AuditTrailTest, AFailedAuditWriteFailsTheCall) {
  store_->Close();
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  std::unique_ptr<rocksdb::Env> env = NewFaultInjectionEnv(fs);
  ReferralStore::Options options;
  options.path = path();
  options.env = env.get();
  options.clock = &clock_;
  absl::StatusOr<std::unique_ptr<ReferralStore>> store =
      ReferralStore::Open(options);
  ASSERT_THAT(store, IsOk());

  fs->SetFailSyncs(true);
  absl::Notification done;
  absl::Status result;
  (*store)->AppendAudit(MakeAuditEntry({}), [&](absl::Status s) {
    result = s;
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnavailable));
  (*store)->Close();
}

TEST_F(AuditTrailTest, QueriesByPatientPrincipalReferralAndTime) {
  AppendFive();
  EXPECT_THAT(Query({.nhs_number = "111"}), ElementsAre(1, 3, 5));
  EXPECT_THAT(Query({.nhs_number = "222"}), ElementsAre(2));
  EXPECT_THAT(Query({.nhs_number = "999"}), IsEmpty());
  EXPECT_THAT(Query({.principal = "dr.jones"}), ElementsAre(1, 3, 5));
  EXPECT_THAT(Query({.principal = "gp.smith"}), ElementsAre(4));
  EXPECT_THAT(Query({.referral_id = "R4"}), ElementsAre(4));
  EXPECT_THAT(Query({}), ElementsAre(1, 2, 3, 4, 5));

  // Entry n was appended at kT0 + n-1 seconds; from inclusive, to exclusive.
  EXPECT_THAT(Query({.from = kT0 + absl::Seconds(1)}), ElementsAre(2, 3, 4, 5));
  EXPECT_THAT(Query({.to = kT0 + absl::Seconds(2)}), ElementsAre(1, 2));
  EXPECT_THAT(Query({.from = kT0 + absl::Milliseconds(1500),
                     .to = kT0 + absl::Seconds(4)}),
              ElementsAre(3, 4));
  EXPECT_THAT(Query({.nhs_number = "111",
                     .from = kT0 + absl::Seconds(1),
                     .to = kT0 + absl::Seconds(4)}),
              ElementsAre(3));
  EXPECT_THAT(Query({.from = kT0 + absl::Hours(1)}), IsEmpty());
  EXPECT_THAT(Query({.to = kT0}), IsEmpty());
  EXPECT_THAT(Query({.from = kT0 + absl::Seconds(3), .to = kT0}), IsEmpty());
}

// Index keys are placed in the memtable next to the last key of the same
// value (an insert hint per value); values that are prefixes of one another
// ("11" and "111") must still keep separate, complete, seq-ordered indexes,
// in the memtable and after a flush to files.
TEST_F(AuditTrailTest, InterleavedValuesKeepSeparateIndexesInSeqOrder) {
  const std::vector<std::string> patients = {"11", "111", "1111", "2", "12"};
  const std::vector<std::string> principals = {"dr", "dr.a", "dr.ab", "nurse"};
  const std::vector<std::string> referrals = {"R1", "R10", "R100", "R2", "S"};
  std::map<std::string, std::vector<uint64_t>> by_nhs, by_principal,
      by_referral;
  uint64_t seq = 0;
  // 60 commits of 1 to 7 entries each, the values taken in a fixed jumble.
  for (int commit = 0; commit < 60; ++commit) {
    std::vector<AuditSpec> specs;
    for (int i = 0; i <= commit % 7; ++i) {
      const int n = static_cast<int>(seq + specs.size());
      specs.push_back(
          {.principal = principals[(n * 7) % principals.size()],
           .referral_id = referrals[(n * 3 + n / 5) % referrals.size()],
           .nhs_number = patients[(n * 11 + n / 3) % patients.size()]});
    }
    ASSERT_THAT(store_->CommitAndWait([&specs](Txn& txn) {
      for (const AuditSpec& spec : specs) txn.AppendAudit(MakeAuditEntry(spec));
      return absl::OkStatus();
    }),
                IsOk());
    for (const AuditSpec& spec : specs) {
      ++seq;
      by_nhs[spec.nhs_number].push_back(seq);
      by_principal[spec.principal].push_back(seq);
      by_referral[spec.referral_id].push_back(seq);
    }
  }
  auto expect_indexes = [&] {
    for (const auto& [nhs, seqs] : by_nhs) {
      EXPECT_EQ(Query({.nhs_number = nhs}), seqs) << nhs;
    }
    for (const auto& [who, seqs] : by_principal) {
      EXPECT_EQ(Query({.principal = who}), seqs) << who;
    }
    for (const auto& [id, seqs] : by_referral) {
      EXPECT_EQ(Query({.referral_id = id}), seqs) << id;
    }
    absl::StatusOr<v1::VerifyAuditResponse> verified = store_->VerifyAudit({});
    ASSERT_THAT(verified, IsOk());
    EXPECT_TRUE(verified->ok()) << verified->problem();
    EXPECT_EQ(verified->entries(), seq);
  };
  expect_indexes();
  Reopen();  // recovery writes the memtables' contents to table files
  expect_indexes();
}

TEST_F(AuditTrailTest, QueryRejectsBadArguments) {
  AppendFive();
  EXPECT_THAT(
      store_->QueryAudit({.nhs_number = "111", .principal = "x"}, "", 10),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most one")));
  EXPECT_THAT(store_->QueryAudit({}, "", 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->QueryAudit({}, "abc", 10),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->QueryAudit({.nhs_number = std::string("1\0", 2)}, "", 10),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AuditTrailTest, QueriesPageInSeqOrder) {
  AppendFive();
  for (const AuditFilter& filter :
       {AuditFilter{}, AuditFilter{.principal = "dr.jones"},
        AuditFilter{.from = kT0 + absl::Seconds(1)}}) {
    const std::vector<uint64_t> all = Query(filter);
    for (int limit : {1, 2, 3, 5, 6}) {
      std::vector<uint64_t> paged;
      std::string position;
      int pages = 0;
      do {
        absl::StatusOr<Page<v1::AuditEntry>> page =
            store_->QueryAudit(filter, position, limit);
        ASSERT_THAT(page, IsOk());
        ASSERT_LE(page->items.size(), static_cast<size_t>(limit));
        for (uint64_t s : Seqs(page->items)) paged.push_back(s);
        position = page->next_position;
        ASSERT_LT(++pages, 10);
      } while (!position.empty());
      EXPECT_EQ(paged, all) << "limit " << limit;
      // A full last page says there is nothing more: no empty page.
      EXPECT_EQ(pages, (static_cast<int>(all.size()) + limit - 1) / limit)
          << "limit " << limit;
    }
  }
}

TEST_F(AuditTrailTest, ReopeningContinuesTheChain) {
  AppendFive();
  const std::vector<v1::AuditEntry> before = All();
  Reopen();
  ASSERT_THAT(Append({.request_id = "after-restart"}), IsOk());
  std::vector<v1::AuditEntry> entries = All();
  ASSERT_EQ(Seqs(entries), Range(1, 6));
  EXPECT_EQ(entries[5].prev_hash(), before.back().hash());
  EXPECT_GE(FromProtoTime(entries[5].time()),
            FromProtoTime(before.back().time()));
  absl::StatusOr<v1::VerifyAuditResponse> verified = store_->VerifyAudit({});
  ASSERT_THAT(verified, IsOk());
  EXPECT_TRUE(verified->ok()) << verified->problem();
  EXPECT_EQ(verified->entries(), 6u);
}

TEST_F(AuditTrailTest, ConcurrentCommitsGiveOneGaplessChain) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 250;
  std::atomic<int> failed{0};
  absl::Mutex mu;
  int done = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Half are writes with their entry, half audit-only commits.
        const std::string id = absl::StrCat("T", t, "-", i);
        v1::AuditEntry entry = MakeAuditEntry(
            {.principal = absl::StrCat("user", t), .referral_id = id});
        auto count = [&](absl::Status s) {
          if (!s.ok()) failed.fetch_add(1);
          absl::MutexLock lock(&mu);
          ++done;
        };
        if (i % 2 == 0) {
          store_->Commit(
              [id, entry](Txn& txn) {
                txn.PutReferral(MakeRecord({.id = id}));
                txn.AppendAudit(entry);
                return absl::OkStatus();
              },
              count);
        } else {
          store_->AppendAudit(entry, count);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == kThreads * kPerThread; }, &done));
  }
  EXPECT_EQ(failed.load(), 0);
  std::vector<v1::AuditEntry> entries = All();
  EXPECT_EQ(Seqs(entries), Range(1, kThreads * kPerThread));
  // Each thread's entries are in the order it committed them.
  for (int t = 0; t < kThreads; ++t) {
    std::vector<std::string> ids;
    for (const v1::AuditEntry& e : entries) {
      if (e.principal() == absl::StrCat("user", t))
        ids.push_back(e.referral_id());
    }
    std::vector<std::string> want;
    for (int i = 0; i < kPerThread; ++i)
      want.push_back(absl::StrCat("T", t, "-", i));
    EXPECT_EQ(ids, want);
  }
  absl::StatusOr<v1::VerifyAuditResponse> verified = store_->VerifyAudit({});
  ASSERT_THAT(verified, IsOk());
  EXPECT_TRUE(verified->ok()) << verified->problem();
  EXPECT_EQ(verified->entries(), static_cast<uint64_t>(kThreads * kPerThread));
}

// --- Tampering -------------------------------------------------------------

TEST_F(AuditTrailTest, AnAlteredByteIsDetected) {
  AppendFive();
  auto raw = Tamper();
  ASSERT_NE(raw, nullptr);
  std::optional<std::string> bytes = raw->Get("audit", keys::AuditKey(3));
  ASSERT_TRUE(bytes.has_value());
  const size_t at = bytes->find("dr.jones");
  ASSERT_NE(at, std::string::npos);
  (*bytes)[at] = 'D';  // "Dr.jones"
  ASSERT_THAT(raw->Put("audit", keys::AuditKey(3), *bytes), IsOk());
  raw.reset();
  ExpectFirstBad(3, "hash does not match");
}

TEST_F(AuditTrailTest, AnAlteredOutcomeIsDetectedEvenWithItsHashRecomputed) {
  AppendFive();
  auto raw = Tamper();
  ASSERT_NE(raw, nullptr);
  std::optional<v1::AuditEntry> e = raw->Entry(2);
  ASSERT_TRUE(e.has_value());
  e->set_outcome("PERMISSION_DENIED");
  // The intruder recomputes entry 2's hash; entry 3 still links to the old.
  e->clear_hash();
  e->set_hash(audit::EntryHash(*e));
  ASSERT_THAT(raw->PutEntry(*e), IsOk());
  raw.reset();
  ExpectFirstBad(3, "prev_hash is not the hash of entry 2");
}

TEST_F(AuditTrailTest, ADeletedEntryIsDetected) {
  AppendFive();
  auto raw = Tamper();
  ASSERT_NE(raw, nullptr);
  ASSERT_THAT(raw->DeleteEntryAndIndexes(3), IsOk());
  raw.reset();
  ExpectFirstBad(3, "entry 3 is missing");
}

TEST_F(AuditTrailTest, ADeletedEntryWhoseIndexRemainsFailsQueries) {
  AppendFive();
  auto raw = Tamper();
  ASSERT_NE(raw, nullptr);
  ASSERT_THAT(raw->Delete("audit", keys::AuditKey(3)), IsOk());
  raw.reset();
  ExpectFirstBad(3, "entry 3 is missing");
  EXPECT_THAT(store_->QueryAudit({.nhs_number = "111"}, "", 10),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("verify")));
}

TEST_F(AuditTrailTest, SwappedEntriesAreDetected) {
  AppendFive();
  auto raw = Tamper();
  ASSERT_NE(raw, nullptr);
  std::optional<std::string> two = raw->Get("audit", keys::AuditKey(2));
  std::optional<std::string> four = raw->Get("audit", keys::AuditKey(4));
  ASSERT_TRUE(two && four);
  ASSERT_THAT(raw->Put("audit", keys::AuditKey(2), *four), IsOk());
  ASSERT_THAT(raw->Put("audit", keys::AuditKey(4), *two), IsOk());
  raw.reset();
  ExpectFirstBad(2, "entry 2 holds entry 4");
}

TEST_F(AuditTrailTest, SwappedAndRenumberedEntriesAreDetected) {
  AppendFive();
  auto raw = Tamper();
  ASSERT_NE(raw, nullptr);
  std::optional<v1::AuditEntry> two = raw->Entry(2);
  std::optional<v1::AuditEntry> four = raw->Entry(4);
  ASSERT_TRUE(two && four);
  two->set_seq(4);
  four->set_seq(2);
  ASSERT_THAT(raw->PutEntry(*two), IsOk());
  ASSERT_THAT(raw->PutEntry(*four), IsOk());
  raw.reset();
  ExpectFirstBad(2, "entry 2: prev_hash is not the hash of entry 1");
}

TEST_F(AuditTrailTest, ADeletedIndexEntryIsDetected) {
  AppendFive();
  auto raw = Tamper();
  ASSERT_NE(raw, nullptr);
  ASSERT_THAT(raw->Delete("audit_by_nhs", keys::AuditIndexKey("111", 3)),
              IsOk());
  raw.reset();
  ExpectFirstBad(3, "NHS number index is missing");
  // The patient's query no longer shows the access.
  EXPECT_THAT(Query({.nhs_number = "111"}), ElementsAre(1, 5));
}

TEST_F(AuditTrailTest, AStrayIndexEntryIsDetected) {
  AppendFive();
  auto raw = Tamper();
  ASSERT_NE(raw, nullptr);
  // Entry 2 was nurse.ali's; an index entry now claims it was dr.jones's.
  ASSERT_THAT(
      raw->Put("audit_by_principal", keys::AuditIndexKey("dr.jones", 2), ""),
      IsOk());
  raw.reset();
  ExpectFirstBad(2, "principal index has an entry for entry 2");
}

TEST_F(AuditTrailTest, AnIndexEntryForNoEntryIsDetected) {
  AppendFive();
  auto raw = Tamper();
  ASSERT_NE(raw, nullptr);
  ASSERT_THAT(raw->Put("audit_by_referral", keys::AuditIndexKey("R9", 9), ""),
              IsOk());
  raw.reset();
  ExpectFirstBad(9, "names entry 9, which is missing");
}

// The chain's limit: removing entries from its end leaves a valid, shorter
// chain. Only the head hash shows it, to whoever kept the earlier one.
TEST_F(AuditTrailTest, TruncationIsFoundOnlyByAKeptHead) {
  v1::VerifyAuditResponse before;
  ASSERT_NO_FATAL_FAILURE(AppendFiveAndVerify(&before));
  auto raw = Tamper();
  ASSERT_NE(raw, nullptr);
  ASSERT_THAT(raw->DeleteEntryAndIndexes(5), IsOk());
  std::optional<v1::AuditEntry> four = raw->Entry(4);
  ASSERT_TRUE(four.has_value());
  raw.reset();

  absl::StatusOr<v1::VerifyAuditResponse> after = VerifyAuditOffline(path(), {});
  ASSERT_THAT(after, IsOk());
  EXPECT_TRUE(after->ok()) << after->problem();
  EXPECT_EQ(after->entries(), 4u);
  EXPECT_NE(after->head_hash(), before.head_hash());
  EXPECT_EQ(after->head_hash(), four->hash());

  // Against the head kept from the first verify, the truncation shows.
  ExpectFirstBad(5, "ends at entry 4, but an earlier verify counted 5",
                 KeptHead(before));
}

// Writing the whole trail again, every hash and link recomputed, leaves a
// valid chain; only a head kept from before shows it.
TEST_F(AuditTrailTest, ARewrittenTrailIsFoundOnlyByAKeptHead) {
  v1::VerifyAuditResponse before;
  ASSERT_NO_FATAL_FAILURE(AppendFiveAndVerify(&before));
  auto raw = Tamper();
  ASSERT_NE(raw, nullptr);
  std::string prev(32, '\0');
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    std::optional<v1::AuditEntry> e = raw->Entry(seq);
    ASSERT_TRUE(e.has_value());
    if (seq == 2) e->set_outcome("PERMISSION_DENIED");
    e->set_prev_hash(prev);
    e->clear_hash();
    e->set_hash(audit::EntryHash(*e));
    prev = e->hash();
    ASSERT_THAT(raw->PutEntry(*e), IsOk());
  }
  raw.reset();

  absl::StatusOr<v1::VerifyAuditResponse> plain = VerifyAuditOffline(path(), {});
  ASSERT_THAT(plain, IsOk());
  EXPECT_TRUE(plain->ok()) << plain->problem();
  ExpectFirstBad(5, "not the head hash an earlier verify kept",
                 KeptHead(before));
  // The same head, unchanged trail: ok, through the store too.
  Reopen();
  const v1::VerifyAuditRequest known = KeptHead(*plain);
  absl::StatusOr<v1::VerifyAuditResponse> again = store_->VerifyAudit(known);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->ok()) << again->problem();
  // An older head of the same, longer trail is fine as well.
  ASSERT_THAT(Append({}), IsOk());
  again = store_->VerifyAudit(known);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->ok()) << again->problem();
}

TEST_F(AuditTrailTest, AMalformedKeptHeadIsRefused) {
  AppendFive();
  v1::VerifyAuditRequest no_hash;
  no_hash.set_known_entries(3);
  EXPECT_THAT(store_->VerifyAudit(no_hash),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("known_head_hash")));
  v1::VerifyAuditRequest short_hash;
  short_hash.set_known_entries(3);
  short_hash.set_known_head_hash("abc");
  EXPECT_THAT(store_->VerifyAudit(short_hash),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("known_head_hash: 3 bytes")));
  v1::VerifyAuditRequest no_count;
  no_count.set_known_head_hash(std::string(32, 'x'));
  EXPECT_THAT(store_->VerifyAudit(no_count),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("known_entries")));
}

TEST_F(AuditTrailTest, AnUnparsableHeadDoesNotStopTheTrail) {
  AppendFive();
  auto raw = Tamper();
  ASSERT_NE(raw, nullptr);
  ASSERT_THAT(raw->Put("audit", keys::AuditKey(5), "\xff\xff garbage"), IsOk());
  raw.reset();
  Reopen();
  ASSERT_THAT(Append({}), IsOk());
  absl::StatusOr<v1::VerifyAuditResponse> verified = store_->VerifyAudit({});
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ(verified->first_bad_seq(), 5u);
  EXPECT_THAT(verified->problem(), HasSubstr("does not parse"));
  EXPECT_EQ(verified->entries(), 4u);
}

TEST_F(AuditTrailTest, VerifyAuditOfflineNeedsAStoppedStore) {
  AppendFive();
  EXPECT_THAT(VerifyAuditOffline(path(), {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("open in another process")));
  EXPECT_THAT(VerifyAuditOffline(dir_.Sub("nothing-here"), {}),
              StatusIs(absl::StatusCode::kNotFound));
  store_->Close();
  absl::StatusOr<v1::VerifyAuditResponse> verified = VerifyAuditOffline(path(), {});
  ASSERT_THAT(verified, IsOk());
  EXPECT_TRUE(verified->ok());
  EXPECT_EQ(verified->entries(), 5u);
}

TEST_F(AuditTrailTest, AnEmptyTrailVerifies) {
  absl::StatusOr<v1::VerifyAuditResponse> online = store_->VerifyAudit({});
  ASSERT_THAT(online, IsOk());
  EXPECT_TRUE(online->ok());
  EXPECT_EQ(online->entries(), 0u);
  EXPECT_THAT(online->head_hash(), IsEmpty());
  store_->Close();
  absl::StatusOr<v1::VerifyAuditResponse> offline = VerifyAuditOffline(path(), {});
  ASSERT_THAT(offline, IsOk());
  EXPECT_TRUE(offline->ok());
  EXPECT_EQ(offline->entries(), 0u);
  // A head kept from a trail this store no longer has: every entry gone.
  ExpectFirstBad(1, "ends at entry 0, but an earlier verify counted 3",
                 AnotherTrailsHead(3));
}

// A store written before the audit trail existed has none of its column
// families: it verifies as empty, and so fails against a kept head.
TEST_F(AuditTrailTest, AStoreFromBeforeTheTrailVerifiesAsEmpty) {
  store_->Close();
  const std::string old_store = dir_.Sub("old");
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, old_store, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
    ASSERT_TRUE(db->Close().ok());
  }
  absl::StatusOr<v1::VerifyAuditResponse> plain =
      VerifyAuditOffline(old_store, {});
  ASSERT_THAT(plain, IsOk());
  EXPECT_TRUE(plain->ok());
  EXPECT_EQ(plain->entries(), 0u);
  absl::StatusOr<v1::VerifyAuditResponse> kept =
      VerifyAuditOffline(old_store, AnotherTrailsHead(2));
  ASSERT_THAT(kept, IsOk());
  EXPECT_FALSE(kept->ok());
  EXPECT_EQ(kept->first_bad_seq(), 1u);
  EXPECT_THAT(kept->problem(),
              HasSubstr("ends at entry 0, but an earlier verify counted 2"));
}

}  // namespace
}  // namespace frontdoor::storage
