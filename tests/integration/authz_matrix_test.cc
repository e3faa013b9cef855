// The authorisation matrix, enforced: every RPC of every hosted service,
// called by every role (and with no, a malformed, an unknown and an expired
// token), over gRPC and over the HTTP API, against one real server. The
// expected answer comes from the declared policy (services/auth/
// permissions.cc, itself checked against an independent table in
// permissions_test); this test proves every handler enforces it.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "frontdoor/v1/referral_service.grpc.pb.h"
#include "frontdoor/v1/rule_set_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "services/auth/identities.h"
#include "services/auth/permissions.h"
#include "services/auth/test_identities.h"
#include "services/common/log.h"
#include "services/common/proto_time.h"
#include "services/common/temp_dir.h"
#include "services/server/server.h"

namespace frontdoor {
namespace {

using testing::TempDir;
using testing::TestIdentities;

// A caller: a role's token, or a bad credential.
struct Caller {
  std::string name;
  std::string authorization;             // the header value; "" sends none
  v1::Role role = v1::ROLE_UNSPECIFIED;  // UNSPECIFIED: not authenticated
};

class AuthzMatrixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log::SetMinLevel(log::Level::kError);
    dir_ = new TempDir();
    ids_ = new TestIdentities(TestIdentities::Create(dir_->path()));
    // One more identity, expired an hour ago.
    absl::StatusOr<v1::IdentityFile> file =
        auth::ReadIdentityFile(ids_->file());
    ASSERT_TRUE(file.ok());
    absl::StatusOr<auth::NewToken> t = auth::GenerateToken();
    ASSERT_TRUE(t.ok());
    expired_token_ = new std::string(t->token);
    v1::Identity* id = file->add_identities();
    id->set_principal("expired-clinician");
    id->set_role(v1::ROLE_CLINICIAN);
    id->set_token_sha256(t->sha256_hex);
    *id->mutable_expires_at() = ToProtoTime(absl::Now() - absl::Hours(1));
    ASSERT_TRUE(auth::WriteIdentityFile(ids_->file(), *file).ok());

    server::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.data_dir = dir_->Sub("data");
    options.tokens_file = ids_->file();
    options.watch_rules = false;
    options.shutdown_grace = absl::Seconds(1);
    auto started = server::FrontdoorServer::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete ids_;
    delete expired_token_;
    delete dir_;
  }

  static std::vector<Caller> Callers() {
    std::vector<Caller> out;
    for (int r = v1::Role_MIN + 1; r <= v1::Role_MAX; ++r) {
      const auto role = static_cast<v1::Role>(r);
      out.push_back({v1::Role_Name(role),
                     absl::StrCat("Bearer ", ids_->token(role)), role});
    }
    out.push_back({"no token", "", v1::ROLE_UNSPECIFIED});
    out.push_back({"malformed", "Token abc", v1::ROLE_UNSPECIFIED});
    out.push_back({"unknown token", "Bearer fd_unknown", v1::ROLE_UNSPECIFIED});
    out.push_back({"expired token", absl::StrCat("Bearer ", *expired_token_),
                   v1::ROLE_UNSPECIFIED});
    return out;
  }

  // The methods of every service the server hosts (health and reflection
  // are public and covered by the server tests).
  static std::vector<const google::protobuf::MethodDescriptor*> Methods() {
    std::vector<const google::protobuf::MethodDescriptor*> out;
    const auto* pool = google::protobuf::DescriptorPool::generated_pool();
    for (const std::string& method : auth::DeclaredMethods()) {
      std::vector<std::string> parts = absl::StrSplit(method, '/');
      const auto* service = pool->FindServiceByName(parts[1]);
      if (service == nullptr || parts[1].rfind("frontdoor.v1.", 0) != 0)
        continue;
      out.push_back(service->FindMethodByName(parts[2]));
    }
    return out;
  }

  static std::string FullName(const google::protobuf::MethodDescriptor* m) {
    return absl::StrCat("/", m->service()->full_name(), "/", m->name());
  }

  // Reads a server stream to its status, cancelling once a message arrives.
  template <typename Message>
  static grpc::Status Drain(
      grpc::ClientContext* ctx,
      std::unique_ptr<grpc::ClientReader<Message>> reader) {
    Message m;
    while (reader->Read(&m)) ctx->TryCancel();
    return reader->Finish();
  }

  // Calls `m` with an empty request over gRPC; streaming methods read until
  // the first message or the status.
  static grpc::Status CallGrpc(const google::protobuf::MethodDescriptor* m,
                               const Caller& caller) {
    auto channel = grpc::CreateChannel(server_->grpc_address(),
                                       grpc::InsecureChannelCredentials());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    if (!caller.authorization.empty())
      ctx.AddMetadata("authorization", caller.authorization);
    if (m->server_streaming()) {
      // Invalid requests (they name no worklist, no candidate): allowed
      // callers get INVALID_ARGUMENT, refused ones their refusal.
      if (m->name() == "WatchWorklist") {
        return Drain(&ctx, v1::ReferralService::NewStub(channel)->WatchWorklist(
                               &ctx, v1::WatchWorklistRequest()));
      }
      if (m->name() == "Replay") {
        return Drain(&ctx, v1::RuleSetService::NewStub(channel)->Replay(
                               &ctx, v1::ReplayRequest()));
      }
      ADD_FAILURE() << "no call for streaming " << FullName(m);
      return grpc::Status(grpc::StatusCode::INTERNAL, "untested");
    }
    grpc::GenericStub stub(channel);
    grpc::ByteBuffer request;  // an empty message
    {
      grpc::Slice empty("", 0);
      request = grpc::ByteBuffer(&empty, 1);
    }
    grpc::ByteBuffer response;
    absl::Notification done;
    grpc::Status status;
    stub.UnaryCall(&ctx, FullName(m), grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    return status;
  }

  static TempDir* dir_;
  static TestIdentities* ids_;
  static std::string* expired_token_;
  static server::FrontdoorServer* server_;
};

TempDir* AuthzMatrixTest::dir_ = nullptr;
TestIdentities* AuthzMatrixTest::ids_ = nullptr;
std::string* AuthzMatrixTest::expired_token_ = nullptr;
server::FrontdoorServer* AuthzMatrixTest::server_ = nullptr;

TEST_F(AuthzMatrixTest, EveryRpcForEveryCallerOverGrpc) {
  const auto methods = Methods();
  ASSERT_GE(methods.size(), 30u);
  int allowed = 0, denied = 0;
  for (const auto* m : methods) {
    const std::string name = FullName(m);
    const auth::Permission permission = *auth::PermissionFor(name);
    for (const Caller& caller : Callers()) {
      const grpc::Status s = CallGrpc(m, caller);
      SCOPED_TRACE(absl::StrCat(name, " as ", caller.name, ": ", s.error_code(),
                                " ", s.error_message()));
      if (caller.role == v1::ROLE_UNSPECIFIED) {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
      } else if (auth::RoleHas(caller.role, permission)) {
        ++allowed;
        EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
        EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
      } else {
        ++denied;
        EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      }
    }
  }
  // Both sides of the matrix are exercised.
  EXPECT_GT(allowed, 50);
  EXPECT_GT(denied, 100);
}

TEST_F(AuthzMatrixTest, EveryUnaryRpcForEveryCallerOverHttp) {
  httplib::Client http(absl::StrCat("http://", server_->http_address()));
  http.set_read_timeout(10, 0);
  for (const auto* m : Methods()) {
    if (m->server_streaming() || m->client_streaming()) continue;
    const std::string name = FullName(m);
    const auth::Permission permission = *auth::PermissionFor(name);
    const std::string path =
        absl::StrCat("/api/v1/rpc/", m->service()->full_name(), "/", m->name());
    for (const Caller& caller : Callers()) {
      httplib::Headers headers;
      if (!caller.authorization.empty())
        headers.emplace("Authorization", caller.authorization);
      httplib::Result r =
          http.Post(path.c_str(), headers, "{}", "application/json");
      ASSERT_TRUE(r) << path;
      SCOPED_TRACE(absl::StrCat("POST ", path, " as ", caller.name, ": ",
                                r->status, " ", r->body));
      if (caller.role == v1::ROLE_UNSPECIFIED) {
        EXPECT_EQ(r->status, 401);
      } else if (auth::RoleHas(caller.role, permission)) {
        EXPECT_NE(r->status, 401);
        EXPECT_NE(r->status, 403);
      } else {
        EXPECT_EQ(r->status, 403);
      }
    }
  }
}

// The portal's REST routes reach the same RPCs, so the same check.
TEST_F(AuthzMatrixTest, RestRoutesAreGuardedLikeTheirRpcs) {
  httplib::Client http(absl::StrCat("http://", server_->http_address()));
  httplib::Headers referrer = {
      {"Authorization",
       absl::StrCat("Bearer ", ids_->token(v1::ROLE_REFERRER))}};
  httplib::Headers admin = {
      {"Authorization", absl::StrCat("Bearer ", ids_->token(v1::ROLE_ADMIN))}};
  // Worklists are for staff.
  EXPECT_EQ(http.Get("/api/v1/worklists/acute", referrer)->status, 403);
  // Admins run the system; they do not read patients' referrals.
  EXPECT_EQ(http.Get("/api/v1/referrals", admin)->status, 403);
  EXPECT_EQ(http.Get("/api/v1/referrals/0000-0000-000", admin)->status, 403);
  EXPECT_EQ(http.Get("/api/v1/referrals")->status, 401);
  EXPECT_EQ(http.Get("/api/v1/whoami", referrer)->status, 200);
}

}  // namespace
}  // namespace frontdoor
