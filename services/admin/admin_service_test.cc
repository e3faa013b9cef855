#include "services/admin/admin_service.h"

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "frontdoor/v1/admin_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/auth/test_identities.h"
#include "services/common/test_grpc_server.h"
#include "services/common/test_util.h"
#include "storage/referral_store.h"
#include "storage/store_test_util.h"

namespace frontdoor::admin {
namespace {

using storage::testing::MakeRecord;
using storage::testing::RecordSpec;
using storage::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kIds[][14] = {"AAAA-AAAA-AA0", "BBBB-BBBB-BB1", "CCCC-CCCC-CC2"};

class AdminServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    storage::ReferralStore::Options options;
    options.path = tmp_.Sub("db");
    options.sync = false;
    auto store = storage::ReferralStore::Open(options);
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    for (const char* id : kIds) {
      RecordSpec spec;
      spec.id = id;
      v1::ReferralRecord record = MakeRecord(spec);
      ASSERT_THAT(store_->CommitAndWait([&](storage::Txn& txn) {
        txn.PutReferral(record);
        return absl::OkStatus();
      }),
                  IsOk());
    }
    service_ =
        std::make_unique<AdminServiceImpl>(store_.get(), ids_.authorizer());
    server_ = frontdoor::testing::StartLocalServer({service_.get()}, &address_);
    ASSERT_NE(server_, nullptr);
    stub_ = v1::AdminService::NewStub(ids_.Channel(address_, v1::ROLE_ADMIN));
  }

  frontdoor::testing::TempDir ids_dir_;
  frontdoor::testing::TestIdentities ids_ =
      frontdoor::testing::TestIdentities::Create(ids_dir_.path());
  std::string address_;

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    service_.reset();
    if (store_ != nullptr) store_->Close();
  }

  grpc::Status Backup(const std::string& dir, v1::BackupResponse* response) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    v1::BackupRequest request;
    request.set_dir(dir);
    return stub_->Backup(&ctx, request, response);
  }

  TempDir tmp_;
  std::unique_ptr<storage::ReferralStore> store_;
  std::unique_ptr<AdminServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::AdminService::Stub> stub_;
};

TEST_F(AdminServiceTest, DirMustBeAbsolute) {
  v1::BackupResponse response;
  grpc::Status s = Backup("", &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("dir: is required"));
  s = Backup("backups/today", &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("not an absolute path"));
}

TEST_F(AdminServiceTest, BackupThenRestoreOffline) {
  const std::string dir = tmp_.Sub("backup");
  v1::BackupResponse first;
  ASSERT_TRUE(Backup(dir, &first).ok());
  EXPECT_EQ(first.dir(), dir);
  EXPECT_EQ(first.backup_id(), 1);
  EXPECT_GT(first.bytes(), 0);

  v1::BackupResponse second;
  ASSERT_TRUE(Backup(dir, &second).ok());
  EXPECT_EQ(second.backup_id(), 2);

  auto described = DescribeLatestBackup(dir);
  ASSERT_THAT(described, IsOk());
  EXPECT_EQ(described->backup_id(), 2);

  const std::string restored = tmp_.Sub("restored");
  ASSERT_THAT(storage::RestoreReferralStore(dir, restored), IsOk());
  storage::ReferralStore::Options options;
  options.path = restored;
  auto store = storage::ReferralStore::Open(options);
  ASSERT_THAT(store, IsOk());
  for (const char* id : kIds) {
    auto record = (*store)->GetReferral(id);
    ASSERT_THAT(record, IsOk());
    EXPECT_TRUE(record->has_value()) << id;
  }
  (*store)->Close();
}

TEST_F(AdminServiceTest, ConcurrentBackupsAllSucceed) {
  const std::string dir = tmp_.Sub("backup");
  constexpr int kCalls = 4;
  std::vector<v1::BackupResponse> responses(kCalls);
  std::vector<grpc::Status> statuses(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] { statuses[i] = Backup(dir, &responses[i]); });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kCalls; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_GE(responses[i].backup_id(), 1);
  }
  auto described = DescribeLatestBackup(dir);
  ASSERT_THAT(described, IsOk());
  EXPECT_EQ(described->backup_id(), kCalls);
}

TEST(DescribeLatestBackupTest, EmptyDirIsNotFound) {
  TempDir tmp;
  EXPECT_THAT(DescribeLatestBackup(tmp.Sub("none")),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(AdminServiceTest, OnlyAdminsMayBackUp) {
  v1::BackupRequest req;
  req.set_dir(tmp_.path() + "/denied");
  for (v1::Role role : {v1::ROLE_CLINICIAN, v1::ROLE_AUDITOR, v1::ROLE_REFERRER,
                        v1::ROLE_SERVICE}) {
    auto stub = v1::AdminService::NewStub(ids_.Channel(address_, role));
    grpc::ClientContext ctx;
    v1::BackupResponse resp;
    EXPECT_EQ(stub->Backup(&ctx, req, &resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << v1::Role_Name(role);
  }
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() + "/denied"));
}

}  // namespace
}  // namespace frontdoor::admin
