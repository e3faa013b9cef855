// DirectoryService over a real gRPC server on 127.0.0.1:0, with the default
// directory file and a fake clock.

#include "services/directory/directory_service.h"

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "frontdoor/v1/directory_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/auth/test_identities.h"
#include "services/common/clock.h"
#include "services/common/grpc_status.h"
#include "services/common/proto_time.h"
#include "services/common/temp_dir.h"
#include "services/common/test_grpc_server.h"
#include "services/common/test_util.h"

namespace frontdoor::directory {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kDefaultFile[] = "triage-rules/directory.yaml";

// Wednesday 14 January 2026, 10:00 GMT.
const absl::Time kWed1000 =
    absl::FromCivil(absl::CivilMinute(2026, 1, 14, 10, 0), absl::UTCTimeZone());

class DirectoryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = Directory::Open(kDefaultFile, {&clock_, nullptr});
    ASSERT_THAT(d, IsOk());
    service_ = NewDirectoryService(std::shared_ptr<Directory>(*std::move(d)),
                                   ids_.authorizer());
    server_ = frontdoor::testing::StartLocalServer({service_.get()}, &address_);
    ASSERT_NE(server_, nullptr);
    // Service managers may read and set capacity.
    stub_ = v1::DirectoryService::NewStub(
        ids_.Channel(address_, v1::ROLE_SERVICE_MANAGER));
  }
  frontdoor::testing::TempDir ids_dir_;
  frontdoor::testing::TestIdentities ids_ =
      frontdoor::testing::TestIdentities::Create(ids_dir_.path());
  std::string address_;
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  static void Deadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(10));
  }
  absl::Status List(v1::Pathway p, v1::ListServicesResponse* out) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::ListServicesRequest req;
    req.set_pathway(p);
    return FromGrpcStatus(stub_->ListServices(&ctx, req, out));
  }
  absl::Status Get(const std::string& id, v1::ServiceState* out) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::GetServiceRequest req;
    req.set_id(id);
    return FromGrpcStatus(stub_->GetService(&ctx, req, out));
  }
  absl::Status Set(const v1::SetCapacityRequest& req, v1::ServiceState* out) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    return FromGrpcStatus(stub_->SetCapacity(&ctx, req, out));
  }
  absl::Status Match(const v1::MatchServiceRequest& req,
                     v1::ServiceMatch* out) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    return FromGrpcStatus(stub_->MatchService(&ctx, req, out));
  }
  static v1::MatchServiceRequest UcrRequest() {
    v1::MatchServiceRequest r;
    r.set_pathway(v1::PATHWAY_UCR);
    r.set_urgency(v1::URGENCY_WITHIN_2H);
    r.set_target_minutes(120);
    r.set_age_days(80 * 365);
    r.set_sex(v1::SEX_FEMALE);
    r.set_postcode_district("LS6 4AP");
    return r;  // `at` unset: the server's clock
  }

  FakeClock clock_{kWed1000};
  std::unique_ptr<DirectoryServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::DirectoryService::Stub> stub_;
};

TEST_F(DirectoryServiceTest, ListServices) {
  v1::ListServicesResponse all;
  ASSERT_THAT(List(v1::PATHWAY_UNSPECIFIED, &all), IsOk());
  EXPECT_THAT(all.services(), SizeIs(19));
  v1::ListServicesResponse ucr;
  ASSERT_THAT(List(v1::PATHWAY_UCR, &ucr), IsOk());
  ASSERT_THAT(ucr.services(), SizeIs(2));  // the UCR team and the hub
  for (const auto& s : ucr.services()) {
    EXPECT_TRUE(s.open_now()) << s.service().id();
    EXPECT_EQ(s.capacity(), v1::CAPACITY_GREEN);
  }
  v1::ListServicesResponse bad;
  EXPECT_THAT(List(static_cast<v1::Pathway>(99), &bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("list_services.pathway")));
}

TEST_F(DirectoryServiceTest, GetService) {
  v1::ServiceState s;
  ASSERT_THAT(Get("ed-south", &s), IsOk());
  EXPECT_EQ(s.service().name(), "St Hild's Hospital emergency department");
  EXPECT_TRUE(s.service().catch_all());
  EXPECT_TRUE(s.open_now());
  EXPECT_THAT(Get("", &s), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("get_service.id")));
  EXPECT_THAT(Get("nope", &s), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(DirectoryServiceTest, SetCapacityChangesTheMatchUntilItExpires) {
  v1::ServiceMatch m;
  ASSERT_THAT(Match(UcrRequest(), &m), IsOk());
  EXPECT_EQ(m.service_id(), "ucr");

  v1::SetCapacityRequest req;
  req.set_service_id("ucr");
  req.set_capacity(v1::CAPACITY_RED);
  req.set_expires_after_minutes(30);
  req.set_set_by("ucr coordinator");
  v1::ServiceState st;
  ASSERT_THAT(Set(req, &st), IsOk());
  EXPECT_EQ(st.capacity(), v1::CAPACITY_RED);
  EXPECT_EQ(FromProtoTime(st.capacity_expires_at()),
            kWed1000 + absl::Minutes(30));
  EXPECT_EQ(st.capacity_set_by(), "test-service-manager");

  ASSERT_THAT(Match(UcrRequest(), &m), IsOk());
  EXPECT_EQ(m.service_id(), "clinical-review-hub");
  ASSERT_THAT(m.not_chosen(), SizeIs(1));
  EXPECT_THAT(m.not_chosen(0), HasSubstr("capacity RED until 10:30"));

  clock_.Advance(absl::Minutes(31));
  ASSERT_THAT(Match(UcrRequest(), &m), IsOk());
  EXPECT_EQ(m.service_id(), "ucr");
  ASSERT_THAT(Get("ucr", &st), IsOk());
  EXPECT_EQ(st.capacity(), v1::CAPACITY_GREEN);
}

TEST_F(DirectoryServiceTest, SetCapacityValidation) {
  v1::ServiceState st;
  v1::SetCapacityRequest req;
  req.set_service_id("ucr");
  EXPECT_THAT(Set(req, &st), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("set_capacity.capacity")));
  req.set_capacity(v1::CAPACITY_AMBER);
  req.set_expires_after_minutes(5000);
  EXPECT_THAT(Set(req, &st),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("set_capacity.expires_after_minutes")));
  req.set_expires_after_minutes(0);
  req.set_service_id("no-such-service");
  EXPECT_THAT(Set(req, &st), StatusIs(absl::StatusCode::kNotFound));
  req.set_service_id("");
  EXPECT_THAT(Set(req, &st), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("set_capacity.service_id")));
}

TEST_F(DirectoryServiceTest, MatchServiceAtAGivenTime) {
  v1::MatchServiceRequest r = UcrRequest();
  *r.mutable_at() = ToProtoTime(kWed1000 + absl::Hours(11));  // 21:00
  v1::ServiceMatch m;
  ASSERT_THAT(Match(r, &m), IsOk());
  EXPECT_EQ(m.service_id(), "clinical-review-hub");
  EXPECT_FALSE(m.catch_all());
  EXPECT_THAT(m.not_chosen(0), HasSubstr("closed (opens tomorrow 08:00)"));

  r.set_postcode_district("WF3");
  ASSERT_THAT(Match(r, &m), IsOk());
  EXPECT_EQ(m.service_id(), "ed-south");
  EXPECT_TRUE(m.catch_all());
  EXPECT_EQ(m.service_name(), "St Hild's Hospital emergency department");

  r.set_pathway(v1::PATHWAY_UNSPECIFIED);
  EXPECT_THAT(Match(r, &m), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("match_service.pathway")));
}

}  // namespace
}  // namespace frontdoor::directory
