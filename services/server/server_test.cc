#include "services/server/server.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "frontdoor/v1/admin_service.grpc.pb.h"
#include "frontdoor/v1/directory_service.grpc.pb.h"
#include "frontdoor/v1/referral_service.grpc.pb.h"
#include "frontdoor/v1/triage_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "rocksdb/env.h"
#include "services/auth/test_identities.h"
#include "services/common/example_referrals.h"
#include "services/common/grpc_status.h"
#include "services/common/test_util.h"
#include "services/triage/engine/explain.h"
#include "services/triage/engine/loader.h"
#include "services/triage/rule_set_holder.h"
#include "storage/fault_injection_fs.h"

namespace frontdoor::server {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;

constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "frontdoor_server_test.XXXXXX";
  char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  return pattern;
}

ServerOptions TestOptions(const std::string& data_dir) {
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.http_listen = "127.0.0.1:0";
  o.data_dir = data_dir;
  o.shutdown_grace = absl::Seconds(10);
  o.tokens_file = frontdoor::testing::TestIdentities::Shared().file();
  return o;
}

// Clinicians may triage, submit, read and work referrals.
std::shared_ptr<grpc::Channel> Connect(const std::string& address) {
  return frontdoor::testing::TestIdentities::Shared().Channel(
      address, v1::ROLE_CLINICIAN);
}

template <typename Context>
void SetDeadline(Context* ctx, absl::Duration d = absl::Seconds(10)) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(d));
}

// grpc.health.v1 Check; the status code of the call in `*code`.
HealthCheckResponse::ServingStatus Check(const std::string& address,
                                         const std::string& service,
                                         grpc::StatusCode* code = nullptr) {
  auto stub = Health::NewStub(Connect(address));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  HealthCheckRequest req;
  req.set_service(service);
  HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  if (code != nullptr) *code = s.error_code();
  return s.ok() ? resp.status() : HealthCheckResponse::UNKNOWN;
}

// A grpc.reflection.v1alpha stream driven through GenericStub with
// hand-encoded messages: the reflection proto is not shipped (its generated
// code lives inside libgrpc++_reflection).
class ReflectionStream {
 public:
  explicit ReflectionStream(const std::string& address)
      : stub_(Connect(address)) {
    SetDeadline(&ctx_, absl::Seconds(30));
    call_ = stub_.PrepareCall(&ctx_, kReflectionMethod, &cq_);
    call_->StartCall(Tag(1));
    ok_ = Next(1);
  }
  ~ReflectionStream() {
    if (!finished_) {
      ctx_.TryCancel();
      Finish();
    }
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  bool ok() const { return ok_; }

  // ServerReflectionRequest with list_services (field 7) = "".
  bool ListServices(std::vector<std::string>* names) {
    std::string response;
    if (!RoundTrip(std::string("\x3a\x00", 2), &response)) return false;
    google::protobuf::UnknownFieldSet top;
    if (!top.ParseFromString(response)) return false;
    for (int i = 0; i < top.field_count(); ++i) {
      const auto& f = top.field(i);
      if (f.number() != 6 ||
          f.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
        continue;
      }
      google::protobuf::UnknownFieldSet list;  // ListServiceResponse
      if (!list.ParseFromString(f.length_delimited())) return false;
      for (int j = 0; j < list.field_count(); ++j) {
        google::protobuf::UnknownFieldSet service;  // ServiceResponse
        if (list.field(j).number() != 1 ||
            !service.ParseFromString(list.field(j).length_delimited())) {
          continue;
        }
        for (int k = 0; k < service.field_count(); ++k) {
          if (service.field(k).number() == 1)
            names->push_back(service.field(k).length_delimited());
        }
      }
      return true;
    }
    return false;
  }

  // ServerReflectionRequest with file_containing_symbol (field 4); true if
  // the answer is a file_descriptor_response (field 4).
  bool DescribeSymbol(const std::string& symbol) {
    std::string req;
    req.push_back('\x22');
    req.push_back(
        static_cast<char>(symbol.size()));  // symbols here are < 128 bytes
    req += symbol;
    std::string response;
    if (!RoundTrip(req, &response)) return false;
    google::protobuf::UnknownFieldSet top;
    if (!top.ParseFromString(response)) return false;
    for (int i = 0; i < top.field_count(); ++i) {
      if (top.field(i).number() == 4) return true;
    }
    return false;
  }

  grpc::Status Finish() {
    grpc::Status status;
    call_->WritesDone(Tag(4));
    Next(4);
    call_->Finish(&status, Tag(5));
    Next(5);
    finished_ = true;
    return status;
  }

 private:
  static void* Tag(intptr_t t) { return reinterpret_cast<void*>(t); }
  bool Next(intptr_t want) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq_.Next(&tag, &ok)) return false;
    EXPECT_EQ(tag, Tag(want));
    return ok;
  }
  bool RoundTrip(const std::string& request, std::string* response) {
    grpc::Slice slice(request);
    grpc::ByteBuffer out(&slice, 1);
    call_->Write(out, Tag(2));
    if (!Next(2)) return false;
    grpc::ByteBuffer in;
    call_->Read(&in, Tag(3));
    if (!Next(3)) return false;
    std::vector<grpc::Slice> slices;
    if (!in.Dump(&slices).ok()) return false;
    response->clear();
    for (const grpc::Slice& s : slices) {
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return true;
  }

  grpc::GenericStub stub_;
  grpc::ClientContext ctx_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool ok_ = false;
  bool finished_ = false;
};

httplib::Result HttpGet(const std::string& address, const std::string& path) {
  httplib::Client client(absl::StrCat("http://", address));
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(5, 0);
  return client.Get(path.c_str());
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = MakeTempDir();
    absl::StatusOr<std::unique_ptr<FrontdoorServer>> s =
        FrontdoorServer::Start(TestOptions(data_dir_));
    ASSERT_THAT(s, IsOk());
    server_ = *std::move(s);
    address_ = server_->grpc_address();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  std::string data_dir_;
  std::unique_ptr<FrontdoorServer> server_;
  std::string address_;
};

TEST(ParseRoles, AllAndLists) {
  ASSERT_THAT(ParseRoles("all"), IsOk());
  EXPECT_EQ(ParseRoles("all")->ToString(), "referral,triage,directory");
  ASSERT_THAT(ParseRoles(" triage , directory,triage"), IsOk());
  EXPECT_EQ(ParseRoles(" triage , directory,triage")->ToString(),
            "triage,directory");
  EXPECT_THAT(
      ParseRoles("triage,portal"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'portal'")));
  EXPECT_THAT(ParseRoles(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ServerTest, HealthIsServingForTheServerAndEveryService) {
  EXPECT_TRUE(server_->serving());
  for (const std::string& service :
       {std::string(""), std::string(v1::ReferralService::service_full_name()),
        std::string(v1::TriageService::service_full_name()),
        std::string(v1::DirectoryService::service_full_name()),
        std::string(v1::AdminService::service_full_name())}) {
    EXPECT_EQ(Check(address_, service), HealthCheckResponse::SERVING)
        << "'" << service << "'";
  }
  grpc::StatusCode code;
  Check(address_, "frontdoor.v1.NoSuchService", &code);
  EXPECT_EQ(code, grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, ReflectionListsAndDescribesTheServices) {
  ReflectionStream stream(address_);
  ASSERT_TRUE(stream.ok());
  std::vector<std::string> names;
  ASSERT_TRUE(stream.ListServices(&names));
  EXPECT_THAT(
      names, IsSupersetOf({"frontdoor.v1.ReferralService",
                           "frontdoor.v1.TriageService",
                           "frontdoor.v1.DirectoryService",
                           "frontdoor.v1.AdminService", "grpc.health.v1.Health",
                           "grpc.reflection.v1alpha.ServerReflection"}));
  EXPECT_TRUE(stream.DescribeSymbol("frontdoor.v1.TriageService"));
  EXPECT_TRUE(stream.DescribeSymbol("frontdoor.v1.Referral"));
  EXPECT_THAT(FromGrpcStatus(stream.Finish()), IsOk());
}

TEST_F(ServerTest, TriageAnswersWithTheActiveRuleSet) {
  auto stub = v1::TriageService::NewStub(Connect(address_));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::TriageRequest req;
  *req.mutable_referral() = frontdoor::testing::ReadExampleReferral();
  v1::TriageDecision decision;
  ASSERT_THAT(FromGrpcStatus(stub->Triage(&ctx, req, &decision)), IsOk());
  EXPECT_EQ(decision.rule_set_version(),
            server_->rule_set_holder()->Get()->version());
  EXPECT_NE(decision.pathway(), v1::PATHWAY_UNSPECIFIED);
}

TEST_F(ServerTest, SubmitReferralIsTriagedAndMatchedInProcess) {
  auto stub = v1::ReferralService::NewStub(Connect(address_));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::SubmitReferralRequest req;
  req.set_request_id("server-test-1");
  *req.mutable_referral() = frontdoor::testing::ReadExampleReferral();
  v1::SubmitReferralResponse resp;
  ASSERT_THAT(FromGrpcStatus(stub->SubmitReferral(&ctx, req, &resp)), IsOk());
  const v1::ReferralRecord& record = resp.record();
  EXPECT_EQ(record.status(), v1::REFERRAL_STATUS_TRIAGED);
  // The active rule set's full decision, as TriageService gives it.
  auto rule_set = server_->rule_set_holder()->Get();
  EXPECT_EQ(record.decision().rule_set_version(), rule_set->version());
  EXPECT_EQ(record.decision().SerializeAsString(),
            rule_set->Triage(record.referral()).SerializeAsString());
  EXPECT_EQ(record.pathway(), record.decision().pathway());
  EXPECT_FALSE(record.service().service_id().empty());
  // Triaged and matched by direct calls: no TriageService or
  // DirectoryService RPC in this process, yet the decision is counted.
  Metrics* metrics = server_->metrics();
  const std::string rendered = metrics->Render();
  EXPECT_THAT(rendered, Not(HasSubstr("/frontdoor.v1.TriageService/")));
  EXPECT_THAT(rendered, Not(HasSubstr("/frontdoor.v1.DirectoryService/")));
  EXPECT_THAT(rendered, HasSubstr("/frontdoor.v1.ReferralService/SubmitReferral"));
  EXPECT_EQ(metrics->Value("frontdoor_rpc_requests_total",
                           {"/frontdoor.v1.TriageService/Triage", "OK"}),
            0);
  EXPECT_EQ(metrics->Value("frontdoor_triage_decisions_total",
                           {rules::PathwayName(record.decision().pathway()),
                            rules::UrgencyName(record.decision().urgency())}),
            1);
  EXPECT_EQ(metrics->Value("frontdoor_referrals_submitted_total",
                           {v1::Pathway_Name(record.pathway()),
                            v1::ReferralStatus_Name(record.status())}),
            1);
}

TEST_F(ServerTest, MetricsCountCallsAndHealthzFollowsHealth) {
  auto stub = v1::TriageService::NewStub(Connect(address_));
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::RuleSetInfo info;
    ASSERT_TRUE(
        stub->GetRuleSetInfo(&ctx, v1::GetRuleSetInfoRequest(), &info).ok());
  }
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::TriageDecision d;
    EXPECT_EQ(stub->Triage(&ctx, v1::TriageRequest(), &d).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  auto metrics = HttpGet(server_->http_address(), "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"),
            "text/plain; version=0.0.4");
  EXPECT_THAT(
      metrics->body,
      HasSubstr(
          "frontdoor_rpc_requests_total{method=\"/frontdoor.v1.TriageService/"
          "GetRuleSetInfo\",code=\"OK\"} 1\n"));
  EXPECT_THAT(
      metrics->body,
      HasSubstr(
          "frontdoor_rpc_requests_total{method=\"/frontdoor.v1.TriageService/"
          "Triage\",code=\"INVALID_ARGUMENT\"} 1\n"));
  EXPECT_THAT(
      metrics->body,
      HasSubstr("frontdoor_rpc_latency_seconds_count{method=\"/frontdoor.v1."
                "TriageService/GetRuleSetInfo\"} 1\n"));
  EXPECT_THAT(metrics->body,
              HasSubstr(absl::StrCat(
                  "frontdoor_rule_set_info{name=\"community-spa\",version=\"",
                  server_->rule_set_holder()->Get()->version(), "\"} 1\n")));
  EXPECT_THAT(metrics->body, HasSubstr("frontdoor_store_healthy 1\n"));

  auto healthz = HttpGet(server_->http_address(), "/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  EXPECT_EQ(healthz->body, "SERVING\n");
}

TEST_F(ServerTest, RuleSetInfoMetricFollowsASwap) {
  triage::RuleSetHolder* holder = server_->rule_set_holder();
  const std::string old_version = holder->Get()->version();
  rules::Diagnostics diags;
  auto mini = rules::LoadRuleSet("services/triage/engine/testdata/mini",
                                 rules::LoadOptions(), &diags);
  ASSERT_NE(mini, nullptr);
  server_->metrics()->Render();
  holder->Swap(mini);
  const std::string text = server_->metrics()->Render();
  EXPECT_THAT(text,
              HasSubstr(absl::StrCat("version=\"", old_version, "\"} 0\n")));
  EXPECT_THAT(
      text, HasSubstr(absl::StrCat("version=\"", mini->version(), "\"} 1\n")));
}

TEST_F(ServerTest, MessagesOverFourMegabytesAreResourceExhausted) {
  auto stub = v1::TriageService::NewStub(Connect(address_));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::TriageRequest req;
  *req.mutable_referral() = frontdoor::testing::ReadExampleReferral();
  req.mutable_referral()->set_free_text(std::string(10 << 20, 'x'));
  v1::TriageDecision d;
  EXPECT_EQ(stub->Triage(&ctx, req, &d).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(ServerTest, ShutdownLetsInFlightCallsFinish) {
  // A reflection stream is in flight once it has had its first answer.
  ReflectionStream stream(address_);
  ASSERT_TRUE(stream.ok());
  std::vector<std::string> names;
  ASSERT_TRUE(stream.ListServices(&names));

  absl::Notification stopped;
  std::thread stopper([&] {
    server_->Shutdown();
    stopped.Notify();
  });
  // Draining: health goes NOT_SERVING at once, but the call goes on.
  absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (server_->serving() && absl::Now() < give_up)
    absl::SleepFor(absl::Milliseconds(5));
  EXPECT_FALSE(server_->serving());
  EXPECT_FALSE(stopped.HasBeenNotified());
  names.clear();
  EXPECT_TRUE(stream.ListServices(&names));
  EXPECT_THAT(names, Contains("frontdoor.v1.TriageService"));
  EXPECT_THAT(FromGrpcStatus(stream.Finish()), IsOk());
  // With its last call done, shutdown completes well before the grace.
  EXPECT_TRUE(stopped.WaitForNotificationWithTimeout(absl::Seconds(5)));
  stopper.join();

  // New calls are refused.
  auto stub = v1::TriageService::NewStub(Connect(address_));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, absl::Seconds(2));
  v1::RuleSetInfo info;
  EXPECT_FALSE(
      stub->GetRuleSetInfo(&ctx, v1::GetRuleSetInfoRequest(), &info).ok());
}

TEST(ServerShutdown, CancelsCallsStillRunningAfterTheGrace) {
  const std::string dir = MakeTempDir();
  ServerOptions options = TestOptions(dir);
  options.roles = *ParseRoles("triage");
  options.shutdown_grace = absl::Milliseconds(300);
  auto server = FrontdoorServer::Start(options);
  ASSERT_THAT(server, IsOk());
  ReflectionStream stream((*server)->grpc_address());
  std::vector<std::string> names;
  ASSERT_TRUE(stream.ListServices(&names));

  const absl::Time start = absl::Now();
  (*server)->Shutdown();  // the stream never ends by itself
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_FALSE(stream.Finish().ok());
  std::filesystem::remove_all(dir);
}

// A server whose store writes through a fault-injecting file system.
struct FaultyServer {
  explicit FaultyServer(
      absl::Duration health_poll = ServerOptions().health_poll)
      : fs(std::make_shared<storage::FaultInjectionFileSystem>()) {
    env = storage::NewFaultInjectionEnv(fs);
    dir = MakeTempDir();
    ServerOptions options = TestOptions(dir);
    options.store_env = env.get();
    options.health_poll = health_poll;
    auto started = FrontdoorServer::Start(options);
    EXPECT_THAT(started, IsOk());
    if (started.ok()) server = *std::move(started);
  }
  // Starts a WatchWorklist of the UCR pathway as a clinician.
  std::unique_ptr<grpc::ClientReader<v1::WorklistUpdate>> WatchUcr(
      grpc::ClientContext* ctx) {
    if (stub == nullptr)
      stub = v1::ReferralService::NewStub(Connect(server->grpc_address()));
    SetDeadline(ctx);
    v1::WatchWorklistRequest req;
    req.set_pathway(v1::PATHWAY_UCR);
    return stub->WatchWorklist(ctx, req);
  }
  ~FaultyServer() {
    fs->HoldSyncs(false);
    server.reset();  // closes the store before its Env goes
    std::filesystem::remove_all(dir);
  }
  std::shared_ptr<storage::FaultInjectionFileSystem> fs;
  std::unique_ptr<rocksdb::Env> env;
  std::string dir;
  std::unique_ptr<FrontdoorServer> server;
  std::unique_ptr<v1::ReferralService::Stub> stub;
};

TEST(ServerStoreHealth, AFailedStoreTurnsHealthNotServing) {
  FaultyServer f(absl::Milliseconds(20));
  ASSERT_NE(f.server, nullptr);
  FrontdoorServer& server = *f.server;
  const std::string address = server.grpc_address();
  ASSERT_EQ(Check(address, ""), HealthCheckResponse::SERVING);

  f.fs->SetFailSyncs(true);
  auto stub = v1::ReferralService::NewStub(Connect(address));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::SubmitReferralRequest req;
  req.set_request_id("fails-to-sync");
  *req.mutable_referral() = frontdoor::testing::ReadExampleReferral();
  v1::SubmitReferralResponse resp;
  EXPECT_FALSE(stub->SubmitReferral(&ctx, req, &resp).ok());

  absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (server.serving() && absl::Now() < give_up)
    absl::SleepFor(absl::Milliseconds(10));
  EXPECT_FALSE(server.serving());
  for (const std::string& service :
       {std::string(""), std::string(v1::ReferralService::service_full_name()),
        std::string(v1::TriageService::service_full_name())}) {
    EXPECT_EQ(Check(address, service), HealthCheckResponse::NOT_SERVING)
        << service;
  }
  auto healthz = HttpGet(server.http_address(), "/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 503);
  auto metrics = HttpGet(server.http_address(), "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("frontdoor_store_healthy 0\n"));
}

// Like a unary read, a watch shows nothing until its audit entry is on disk.
TEST(ServerAudit, AWatchShowsNothingUntilItsAuditEntryIsSynced) {
  FaultyServer f;
  ASSERT_NE(f.server, nullptr);
  f.fs->HoldSyncs(true);
  grpc::ClientContext ctx;
  auto reader = f.WatchUcr(&ctx);
  absl::Notification got_first;
  v1::WorklistUpdate first;
  bool read_ok = false;
  std::thread read([&] {
    read_ok = reader->Read(&first);
    got_first.Notify();
  });
  while (f.fs->held() == 0) absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(got_first.HasBeenNotified())
      << "streamed before its audit entry was synced";

  f.fs->HoldSyncs(false);
  got_first.WaitForNotification();
  read.join();
  ASSERT_TRUE(read_ok);
  EXPECT_EQ(first.kind(), v1::WorklistUpdate::KIND_SNAPSHOT);
  ctx.TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// If the watch's audit entry cannot be written, the watch fails and shows
// nothing, as a unary read does.
TEST(ServerAudit, AWatchWhoseAuditEntryFailsShowsNothing) {
  FaultyServer f;
  ASSERT_NE(f.server, nullptr);
  f.fs->SetFailSyncs(true);
  grpc::ClientContext ctx;
  auto reader = f.WatchUcr(&ctx);
  v1::WorklistUpdate update;
  EXPECT_FALSE(reader->Read(&update));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(),
              HasSubstr("audit trail could not be written"));
}

TEST(ServerRoles, ATriageOnlyServerHostsOnlyTriage) {
  const std::string dir = MakeTempDir();
  ServerOptions options = TestOptions(dir);
  options.roles = *ParseRoles("triage");
  options.http_listen = "";
  auto server = FrontdoorServer::Start(options);
  ASSERT_THAT(server, IsOk());
  const std::string address = (*server)->grpc_address();
  EXPECT_EQ((*server)->http_address(), "");
  EXPECT_EQ(Check(address, v1::TriageService::service_full_name()),
            HealthCheckResponse::SERVING);
  grpc::StatusCode code;
  Check(address, v1::ReferralService::service_full_name(), &code);
  EXPECT_EQ(code, grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT((*server)->Banner(),
              HasSubstr("roles=triage rules=community-spa@"));
  EXPECT_THAT((*server)->Banner(), HasSubstr("data=none"));
  // No store for this role.
  EXPECT_FALSE(
      std::filesystem::exists(std::filesystem::path(dir) / "referrals"));
  std::filesystem::remove_all(dir);
}

TEST(ServerRoles, SeparateRolesTalkOverTheNetwork) {
  const std::string back_dir = MakeTempDir();
  ServerOptions back_options = TestOptions(back_dir);
  back_options.roles = *ParseRoles("triage,directory");
  auto back = FrontdoorServer::Start(back_options);
  ASSERT_THAT(back, IsOk());

  const std::string front_dir = MakeTempDir();
  ServerOptions front_options = TestOptions(front_dir);
  front_options.roles = *ParseRoles("referral");
  front_options.triage_target = (*back)->grpc_address();
  front_options.directory_target = (*back)->grpc_address();
  // The roles authenticate to each other with a service identity that both
  // tokens files know.
  front_options.service_token =
      frontdoor::testing::TestIdentities::Shared().token(v1::ROLE_SERVICE);
  auto front = FrontdoorServer::Start(front_options);
  ASSERT_THAT(front, IsOk());
  EXPECT_THAT((*front)->Banner(), HasSubstr("roles=referral rules=remote("));

  auto stub = v1::ReferralService::NewStub(Connect((*front)->grpc_address()));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::SubmitReferralRequest req;
  req.set_request_id("split-roles-1");
  *req.mutable_referral() = frontdoor::testing::ReadExampleReferral();
  v1::SubmitReferralResponse resp;
  ASSERT_THAT(FromGrpcStatus(stub->SubmitReferral(&ctx, req, &resp)), IsOk());
  EXPECT_EQ(resp.record().status(), v1::REFERRAL_STATUS_TRIAGED);
  EXPECT_EQ(resp.record().decision().rule_set_version(),
            (*back)->rule_set_holder()->Get()->version());
  EXPECT_EQ(
      (*back)->metrics()->Value("frontdoor_rpc_requests_total",
                                {"/frontdoor.v1.TriageService/Triage", "OK"}),
      1);

  front->reset();
  back->reset();
  std::filesystem::remove_all(front_dir);
  std::filesystem::remove_all(back_dir);
}

TEST(ServerStart, ReferralWithoutItsPeersNeedsTargets) {
  ServerOptions options = TestOptions("unused");
  options.roles = *ParseRoles("referral,directory");
  EXPECT_THAT(FrontdoorServer::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--triage_target")));
  options.roles = *ParseRoles("referral,triage");
  EXPECT_THAT(FrontdoorServer::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--directory_target")));
  EXPECT_FALSE(std::filesystem::exists("unused"));
}

TEST(ServerStart, ABrokenRuleSetStopsTheStart) {
  const std::string dir = MakeTempDir();
  ServerOptions options = TestOptions(dir);
  options.roles = *ParseRoles("triage");
  options.rules_dir = absl::StrCat(dir, "/no-such-rules");
  EXPECT_THAT(FrontdoorServer::Start(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no-such-rules")));
  std::filesystem::remove_all(dir);
}

TEST(ServerStart, AnAddressInUseStopsTheStartAndFreesTheStore) {
  const std::string dir = MakeTempDir();
  auto first = FrontdoorServer::Start(TestOptions(dir));
  ASSERT_THAT(first, IsOk());
  const std::string other_dir = MakeTempDir();
  ServerOptions options = TestOptions(other_dir);
  options.listen = (*first)->grpc_address();
  EXPECT_THAT(FrontdoorServer::Start(options),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("--listen")));
  // The failed start closed its store: it can be opened again.
  options.listen = "127.0.0.1:0";
  EXPECT_THAT(FrontdoorServer::Start(options), IsOk());
  first->reset();
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(other_dir);
}

}  // namespace
}  // namespace frontdoor::server
