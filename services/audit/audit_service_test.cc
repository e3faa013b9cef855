#include "services/audit/audit_service.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "frontdoor/v1/audit.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/auth/test_identities.h"
#include "services/common/clock.h"
#include "services/common/proto_time.h"
#include "services/common/reference.h"
#include "services/common/test_grpc_server.h"
#include "services/common/test_util.h"
#include "storage/audit_test_util.h"
#include "storage/referral_store.h"
#include "storage/store_keys.h"
#include "storage/store_test_util.h"

namespace frontdoor::audit {
namespace {

using storage::testing::MakeAuditEntry;
using storage::testing::RawStoreDb;
using storage::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1768471200);

class AuditServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    Start();
  }

  void TearDown() override { Stop(); }

  void Start() {
    storage::ReferralStore::Options options;
    options.path = tmp_.Sub("db");
    options.sync = false;
    options.clock = &clock_;
    auto store = storage::ReferralStore::Open(options);
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    service_ = std::make_unique<AuditServiceImpl>(
        store_.get(),
        frontdoor::testing::TestIdentities::Shared().authorizer());
    server_ = frontdoor::testing::StartLocalServer({service_.get()}, &address_);
    ASSERT_NE(server_, nullptr);
    stub_ = v1::AuditService::NewStub(
        frontdoor::testing::TestIdentities::Shared().Channel(address_,
                                                             v1::ROLE_AUDITOR));
  }

  void Stop() {
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
    service_.reset();
    if (store_ != nullptr) store_->Close();
    store_.reset();
  }

  void Append(int n) {
    ASSERT_THAT(storage::testing::AppendAlternatingEntries(*store_, clock_, n,
                                                           absl::Seconds(1)),
                IsOk());
  }

  grpc::Status Query(const v1::QueryAuditRequest& request,
                     v1::QueryAuditResponse* response) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    return stub_->Query(&ctx, request, response);
  }

  grpc::Status Verify(v1::VerifyAuditResponse* response,
                      const v1::VerifyAuditRequest& request = {}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    return stub_->Verify(&ctx, request, response);
  }

  // Every page of `request`, followed by next_page_token.
  std::vector<std::string> AllRequestIds(v1::QueryAuditRequest request,
                                         int* pages) {
    std::vector<std::string> ids;
    *pages = 0;
    do {
      v1::QueryAuditResponse response;
      grpc::Status s = Query(request, &response);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      ++*pages;
      for (const v1::AuditEntry& e : response.entries()) {
        ids.push_back(e.request_id());
      }
      request.set_page_token(response.next_page_token());
    } while (!request.page_token().empty() && *pages < 100);
    return ids;
  }

  FakeClock clock_{kT0};
  TempDir tmp_;
  std::unique_ptr<storage::ReferralStore> store_;
  std::string address_;
  std::unique_ptr<AuditServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::AuditService::Stub> stub_;
};

TEST_F(AuditServiceTest, QueryRefusesBadRequestsNamingTheField) {
  v1::QueryAuditResponse response;
  v1::QueryAuditRequest two;
  two.set_nhs_number("111");
  two.set_principal("dr.jones");
  grpc::Status s = Query(two, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("at most one"));

  for (int size : {-1, 1001}) {
    v1::QueryAuditRequest request;
    request.set_page_size(size);
    s = Query(request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << size;
    EXPECT_THAT(s.error_message(), HasSubstr("page_size")) << size;
  }

  v1::QueryAuditRequest backwards;
  *backwards.mutable_from() = ToProtoTime(kT0);
  *backwards.mutable_to() = ToProtoTime(kT0 - absl::Seconds(1));
  s = Query(backwards, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("to:"));

  v1::QueryAuditRequest bad_nanos;
  bad_nanos.mutable_from()->set_nanos(-5);
  s = Query(bad_nanos, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("from:"));
}

TEST_F(AuditServiceTest, QueriesByPatientAndPrincipalPageWithTokens) {
  Append(9);
  v1::QueryAuditRequest by_patient;
  by_patient.set_nhs_number("111");
  by_patient.set_page_size(2);
  int pages = 0;
  EXPECT_THAT(
      AllRequestIds(by_patient, &pages),
      ::testing::ElementsAre("req-1", "req-3", "req-5", "req-7", "req-9"));
  EXPECT_EQ(pages, 3);

  v1::QueryAuditRequest by_principal;
  by_principal.set_principal("nurse.ali");
  *by_principal.mutable_from() = ToProtoTime(kT0 + absl::Seconds(3));
  EXPECT_THAT(AllRequestIds(by_principal, &pages),
              ::testing::ElementsAre("req-4", "req-6", "req-8"));
  EXPECT_EQ(pages, 1);
}

TEST_F(AuditServiceTest, PageTokensAreBoundToTheirQuery) {
  Append(4);
  v1::QueryAuditRequest first;
  first.set_nhs_number("111");
  first.set_page_size(1);
  v1::QueryAuditResponse page;
  ASSERT_TRUE(Query(first, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());

  v1::QueryAuditRequest other;
  other.set_nhs_number("222");
  other.set_page_token(page.next_page_token());
  v1::QueryAuditResponse response;
  grpc::Status s = Query(other, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token"));

  other.set_page_token("forged");
  s = Query(other, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The page size may change between pages.
  first.set_page_size(10);
  first.set_page_token(page.next_page_token());
  ASSERT_TRUE(Query(first, &response).ok());
  ASSERT_THAT(response.entries(), SizeIs(1));
  EXPECT_EQ(response.entries(0).request_id(), "req-3");
  EXPECT_THAT(response.next_page_token(), IsEmpty());
}

TEST_F(AuditServiceTest, DefaultPageSizeIsOneHundred) {
  Append(130);
  v1::QueryAuditResponse response;
  ASSERT_TRUE(Query(v1::QueryAuditRequest(), &response).ok());
  EXPECT_THAT(response.entries(), SizeIs(100));
  EXPECT_FALSE(response.next_page_token().empty());
  EXPECT_EQ(response.entries(0).seq(), 1u);
  EXPECT_EQ(response.entries(99).seq(), 100u);
}

TEST_F(AuditServiceTest, AReferralIsFoundByItsReferenceInAnyForm) {
  const std::string reference = FormatReference(0x2468ACE13579BDull);
  for (int i = 0; i < 2; ++i) {
    ASSERT_THAT(store_->CommitAndWait([&](storage::Txn& txn) {
      txn.AppendAudit(MakeAuditEntry({.referral_id = reference}));
      return absl::OkStatus();
    }),
                IsOk());
  }
  std::string typed = reference;
  typed.erase(std::remove(typed.begin(), typed.end(), '-'), typed.end());
  for (char& c : typed) c = static_cast<char>(std::tolower(c));
  v1::QueryAuditRequest request;
  request.set_referral_id(typed);
  v1::QueryAuditResponse response;
  ASSERT_TRUE(Query(request, &response).ok());
  ASSERT_THAT(response.entries(), SizeIs(2));
  EXPECT_EQ(response.entries(0).referral_id(), reference);
}

TEST_F(AuditServiceTest, VerifyReportsACleanTrail) {
  Append(5);
  v1::VerifyAuditResponse response;
  grpc::Status s = Verify(&response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(response.ok());
  EXPECT_EQ(response.entries(), 5u);
  EXPECT_EQ(response.head_hash().size(), 32u);
  EXPECT_EQ(response.first_bad_seq(), 0u);
}

TEST_F(AuditServiceTest, VerifyFindsATamperedEntry) {
  Append(5);
  Stop();
  {
    auto raw = RawStoreDb::Open(tmp_.Sub("db"));
    ASSERT_THAT(raw, IsOk());
    std::optional<v1::AuditEntry> e = (*raw)->Entry(2);
    ASSERT_TRUE(e.has_value());
    e->set_outcome("PERMISSION_DENIED");
    ASSERT_THAT((*raw)->PutEntry(*e), IsOk());
  }
  Start();
  v1::VerifyAuditResponse response;
  grpc::Status s = Verify(&response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(response.ok());
  EXPECT_EQ(response.first_bad_seq(), 2u);
  EXPECT_THAT(response.problem(), HasSubstr("altered"));
  EXPECT_EQ(response.entries(), 1u);
}

TEST_F(AuditServiceTest, ConcurrentVerifiesAllGetTheVerdict) {
  Append(50);
  constexpr int kCalls = 8;
  std::vector<v1::VerifyAuditResponse> responses(kCalls);
  std::vector<grpc::Status> statuses(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] { statuses[i] = Verify(&responses[i]); });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_TRUE(responses[i].ok());
    EXPECT_EQ(responses[i].entries(), 50u);
    EXPECT_EQ(responses[i].head_hash(), responses[0].head_hash());
  }
}

// Callers at the same time with different kept heads each get the verdict
// against their own; a malformed one is refused, naming the field.
TEST_F(AuditServiceTest, EachCallerIsAnsweredAgainstItsOwnKeptHead) {
  Append(20);
  v1::VerifyAuditResponse head;
  ASSERT_TRUE(Verify(&head).ok());
  v1::VerifyAuditRequest kept;
  kept.set_known_entries(head.entries());
  kept.set_known_head_hash(head.head_hash());
  v1::VerifyAuditRequest beyond = kept;
  beyond.set_known_entries(head.entries() + 1);  // a head it never had
  constexpr int kCalls = 6;
  std::vector<v1::VerifyAuditResponse> responses(kCalls);
  std::vector<grpc::Status> statuses(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      statuses[i] = Verify(&responses[i], i % 2 == 0 ? kept : beyond);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_EQ(responses[i].ok(), i % 2 == 0) << responses[i].problem();
  }

  v1::VerifyAuditRequest malformed;
  malformed.set_known_entries(3);
  v1::VerifyAuditResponse refused;
  grpc::Status s = Verify(&refused, malformed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("known_head_hash"));
}

TEST(AuditFilterForTest, KeepsAnIdThatIsNotAReference) {
  v1::QueryAuditRequest request;
  request.set_referral_id("not-a-reference");
  absl::StatusOr<storage::AuditFilter> filter = AuditFilterFor(request);
  ASSERT_THAT(filter, IsOk());
  EXPECT_EQ(filter->referral_id, "not-a-reference");
}

TEST_F(AuditServiceTest, OnlyAuditorsMayReadTheTrail) {
  for (v1::Role role : {v1::ROLE_CLINICIAN, v1::ROLE_ADMIN, v1::ROLE_REFERRER,
                        v1::ROLE_SAFETY_OFFICER}) {
    auto stub = v1::AuditService::NewStub(
        frontdoor::testing::TestIdentities::Shared().Channel(address_, role));
    grpc::ClientContext q;
    v1::QueryAuditResponse entries;
    EXPECT_EQ(stub->Query(&q, v1::QueryAuditRequest(), &entries).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << v1::Role_Name(role);
    grpc::ClientContext v;
    v1::VerifyAuditResponse verdict;
    EXPECT_EQ(stub->Verify(&v, v1::VerifyAuditRequest(), &verdict).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << v1::Role_Name(role);
  }
}

}  // namespace
}  // namespace frontdoor::audit
