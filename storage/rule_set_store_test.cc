#include "storage/rule_set_store.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/test_util.h"
#include "storage/store_test_util.h"

namespace frontdoor::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// A 64-digit hex id from a number: "000...0001".
std::string Id(int n) { return absl::StrFormat("%064x", n); }

v1::RuleSetVersion MakeVersion(int n, const std::string& author = "alice") {
  v1::RuleSetVersion v;
  v.set_version(Id(n));
  v.set_name(absl::StrCat("set-", n));
  v.set_state(v1::RULE_SET_STATE_PROPOSED);
  v.set_author(author);
  v.set_proposed_by(author);
  v.set_comment("first try");
  v.mutable_rule_set()->set_name(absl::StrCat("set-", n));
  v.mutable_rule_set()->add_tables()->set_id("t1");
  v1::RuleFile* f = v.add_files();
  f->set_name("ruleset.yaml");
  f->set_content("ruleset: x\n");
  v.mutable_validation()->set_ok(true);
  v1::RuleSetEvent* e = v.add_history();
  e->set_actor(author);
  e->set_action("proposed");
  return v;
}

v1::RuleSetEvent Event(const std::string& action, const std::string& actor) {
  v1::RuleSetEvent e;
  e.set_action(action);
  e.set_actor(actor);
  e.set_reason("because");
  return e;
}

class RuleSetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    RuleSetStore::Options options;
    options.path = dir_.Sub("rulesets");
    FRONTDOOR_ASSERT_OK_AND_ASSIGN(store_, RuleSetStore::Open(options));
  }

  absl::Status Create(const v1::RuleSetVersion& v) {
    return store_->Write([&](RuleSetTxn& txn) { return txn.Create(v); });
  }

  testing::TempDir dir_;
  std::unique_ptr<RuleSetStore> store_;
};

TEST_F(RuleSetStoreTest, CreateThenGetWholeAndSummary) {
  FRONTDOOR_ASSERT_OK(Create(MakeVersion(1)));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion whole, store_->Get(Id(1)));
  EXPECT_EQ(whole.name(), "set-1");
  EXPECT_EQ(whole.rule_set().tables(0).id(), "t1");
  ASSERT_THAT(whole.files(), SizeIs(1));
  EXPECT_EQ(whole.files(0).content(), "ruleset: x\n");
  ASSERT_THAT(whole.history(), SizeIs(1));
  EXPECT_EQ(whole.history(0).action(), "proposed");

  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion summary,
                                 store_->GetSummary(Id(1)));
  EXPECT_FALSE(summary.has_rule_set());
  EXPECT_THAT(summary.files(), SizeIs(0));
  EXPECT_THAT(summary.history(), SizeIs(1));
  EXPECT_TRUE(summary.validation().ok());
}

TEST_F(RuleSetStoreTest, UnknownVersionIsNotFound) {
  EXPECT_THAT(store_->Get(Id(9)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->GetSummary(Id(9)), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(RuleSetStoreTest, CreateTwiceIsAlreadyExistsAndKeepsTheFirst) {
  FRONTDOOR_ASSERT_OK(Create(MakeVersion(1, "alice")));
  EXPECT_THAT(Create(MakeVersion(1, "bob")),
              StatusIs(absl::StatusCode::kAlreadyExists));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, store_->Get(Id(1)));
  EXPECT_EQ(v.author(), "alice");
}

TEST_F(RuleSetStoreTest, IdMustBeASha256) {
  v1::RuleSetVersion v = MakeVersion(1);
  v.set_version("abc");
  EXPECT_THAT(Create(v), StatusIs(absl::StatusCode::kInvalidArgument));
  v.set_version(std::string(64, 'G'));
  EXPECT_THAT(Create(v), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RuleSetStoreTest, MutableFieldsChangeAndEventsAppend) {
  FRONTDOOR_ASSERT_OK(Create(MakeVersion(1)));
  FRONTDOOR_ASSERT_OK(store_->Write([&](RuleSetTxn& txn) -> absl::Status {
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> h,
                               txn.GetHeader(Id(1)));
    EXPECT_TRUE(h.has_value());
    h->set_state(v1::RULE_SET_STATE_APPROVED);
    h->set_approved_by("bob");
    h->mutable_approved_at()->set_seconds(100);
    h->set_known_downgrades(3);
    FRONTDOOR_RETURN_IF_ERROR(txn.Update(*h));
    return txn.AppendEvent(Id(1), Event("approved", "bob"));
  }));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, store_->Get(Id(1)));
  EXPECT_EQ(v.state(), v1::RULE_SET_STATE_APPROVED);
  EXPECT_EQ(v.approved_by(), "bob");
  EXPECT_EQ(v.known_downgrades(), 3);
  EXPECT_EQ(v.rule_set().tables(0).id(), "t1");  // the body is untouched
  ASSERT_THAT(v.history(), SizeIs(2));
  EXPECT_EQ(v.history(1).action(), "approved");

  // Events keep their order across reopening, and keep appending.
  Reopen();
  FRONTDOOR_ASSERT_OK(store_->Write([&](RuleSetTxn& txn) {
    return txn.AppendEvent(Id(1), Event("activated", "carol"));
  }));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v, store_->Get(Id(1)));
  ASSERT_THAT(v.history(), SizeIs(3));
  EXPECT_EQ(v.history(0).action(), "proposed");
  EXPECT_EQ(v.history(1).action(), "approved");
  EXPECT_EQ(v.history(2).action(), "activated");
}

TEST_F(RuleSetStoreTest, ImmutableFieldsCannotChange) {
  FRONTDOOR_ASSERT_OK(Create(MakeVersion(1)));
  for (const std::string& field :
       {std::string("author"), std::string("name"), std::string("comment"),
        std::string("validation"), std::string("proposed_by")}) {
    absl::Status s = store_->Write([&](RuleSetTxn& txn) -> absl::Status {
      FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> h,
                                 txn.GetHeader(Id(1)));
      h->set_state(v1::RULE_SET_STATE_APPROVED);  // allowed, but not alone
      if (field == "author") h->set_author("mallory");
      if (field == "name") h->set_name("other");
      if (field == "comment") h->set_comment("rewritten");
      if (field == "validation") h->mutable_validation()->set_ok(false);
      if (field == "proposed_by") h->set_proposed_by("mallory");
      return txn.Update(*h);
    });
    EXPECT_THAT(
        s, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(field)));
  }
  // Nothing of the refused writes was stored.
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, store_->Get(Id(1)));
  EXPECT_EQ(v.state(), v1::RULE_SET_STATE_PROPOSED);
  EXPECT_EQ(v.author(), "alice");
}

TEST_F(RuleSetStoreTest, AFailedWriteStoresNothing) {
  absl::Status s = store_->Write([&](RuleSetTxn& txn) -> absl::Status {
    FRONTDOOR_RETURN_IF_ERROR(txn.Create(MakeVersion(1)));
    FRONTDOOR_RETURN_IF_ERROR(txn.SetActive(Id(1)));
    return absl::AbortedError("changed my mind");
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(store_->Get(Id(1)), StatusIs(absl::StatusCode::kNotFound));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::string active, store_->GetActive());
  EXPECT_EQ(active, "");
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(int64_t n, store_->Count());
  EXPECT_EQ(n, 0);
}

TEST_F(RuleSetStoreTest, ActivePointerSurvivesReopen) {
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::string active, store_->GetActive());
  EXPECT_EQ(active, "");
  FRONTDOOR_ASSERT_OK(Create(MakeVersion(1)));
  FRONTDOOR_ASSERT_OK(Create(MakeVersion(2)));
  FRONTDOOR_ASSERT_OK(
      store_->Write([&](RuleSetTxn& txn) { return txn.SetActive(Id(2)); }));
  EXPECT_THAT(
      store_->Write([&](RuleSetTxn& txn) { return txn.SetActive(Id(7)); }),
      StatusIs(absl::StatusCode::kNotFound));
  Reopen();
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(active, store_->GetActive());
  EXPECT_EQ(active, Id(2));
}

TEST_F(RuleSetStoreTest, ReadsInsideAWriteSeeItsOwnChanges) {
  FRONTDOOR_ASSERT_OK(store_->Write([&](RuleSetTxn& txn) -> absl::Status {
    FRONTDOOR_RETURN_IF_ERROR(txn.Create(MakeVersion(1)));
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> h,
                               txn.GetHeader(Id(1)));
    EXPECT_TRUE(h.has_value());
    FRONTDOOR_RETURN_IF_ERROR(txn.SetActive(Id(1)));
    FRONTDOOR_ASSIGN_OR_RETURN(std::string active, txn.GetActive());
    EXPECT_EQ(active, Id(1));
    return txn.AppendEvent(Id(1), Event("activated", "x"));
  }));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, store_->Get(Id(1)));
  ASSERT_THAT(v.history(), SizeIs(2));
  EXPECT_EQ(v.history(1).action(), "activated");
}

TEST_F(RuleSetStoreTest, ResolveByPrefix) {
  v1::RuleSetVersion a = MakeVersion(1);
  a.set_version("abcdef0011" + std::string(54, '0'));
  v1::RuleSetVersion b = MakeVersion(2);
  b.set_version("abcdef0022" + std::string(54, '0'));
  FRONTDOOR_ASSERT_OK(Create(a));
  FRONTDOOR_ASSERT_OK(Create(b));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(std::string id, store_->Resolve("abcdef001"));
  EXPECT_EQ(id, a.version());
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(id, store_->Resolve("ABCDEF0022"));
  EXPECT_EQ(id, b.version());
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(id, store_->Resolve(a.version()));
  EXPECT_EQ(id, a.version());
  EXPECT_THAT(
      store_->Resolve("abcdef00"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ambiguous")));
  EXPECT_THAT(store_->Resolve("abcdef0"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("short")));
  EXPECT_THAT(store_->Resolve("not-hex-at-all"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Resolve(""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Resolve("12345678"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(RuleSetStoreTest, ListIsNewestFirstAndPaged) {
  for (int i = 1; i <= 7; ++i) FRONTDOOR_ASSERT_OK(Create(MakeVersion(i)));
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    FRONTDOOR_ASSERT_OK_AND_ASSIGN(RuleSetStore::ListPage page,
                                   store_->List(3, token));
    for (const v1::RuleSetVersion& v : page.versions) {
      EXPECT_FALSE(v.has_rule_set());
      EXPECT_THAT(v.files(), SizeIs(0));
      EXPECT_THAT(v.history(), SizeIs(1));
      seen.push_back(v.name());
    }
    token = page.next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen, ElementsAre("set-7", "set-6", "set-5", "set-4", "set-3",
                                "set-2", "set-1"));
  // The order continues after reopening.
  Reopen();
  FRONTDOOR_ASSERT_OK(Create(MakeVersion(8)));
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(RuleSetStore::ListPage page,
                                 store_->List(2, ""));
  EXPECT_EQ(page.versions[0].name(), "set-8");
  EXPECT_EQ(page.versions[1].name(), "set-7");
  EXPECT_THAT(store_->List(2, "garbage"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->List(5000, ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RuleSetStoreTest, ConcurrentWritersAreSerialised) {
  FRONTDOOR_ASSERT_OK(Create(MakeVersion(1)));
  constexpr int kThreads = 8;
  constexpr int kEach = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        absl::Status s = store_->Write([&](RuleSetTxn& txn) {
          return txn.AppendEvent(Id(1), Event("activated", absl::StrCat(t)));
        });
        EXPECT_TRUE(s.ok()) << s;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  FRONTDOOR_ASSERT_OK_AND_ASSIGN(v1::RuleSetVersion v, store_->Get(Id(1)));
  EXPECT_THAT(v.history(), SizeIs(1 + kThreads * kEach));
}

TEST(OnlyMutableFieldsDifferTest, NamesTheField) {
  v1::RuleSetVersion a = MakeVersion(1);
  v1::RuleSetVersion b = a;
  b.set_state(v1::RULE_SET_STATE_ACTIVE);
  b.set_activated_by("x");
  b.clear_files();  // kept apart, ignored
  std::string field;
  EXPECT_TRUE(OnlyMutableFieldsDiffer(a, b, &field));
  b.set_source_commit("deadbeef");
  EXPECT_FALSE(OnlyMutableFieldsDiffer(a, b, &field));
  EXPECT_EQ(field, "source_commit");
}

}  // namespace
}  // namespace frontdoor::storage
