#include "services/auth/authorizer.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "services/auth/auth_service.h"
#include "services/auth/test_identities.h"
#include "services/common/clock.h"
#include "services/common/proto_time.h"
#include "services/common/temp_dir.h"
#include "services/common/test_grpc_server.h"

namespace frontdoor::auth {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// AuthService over real gRPC, with a fake clock for expiry.
class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ids_ = frontdoor::testing::TestIdentities::Create(dir_.path());
    // One identity that expires in an hour of the fake clock.
    absl::StatusOr<v1::IdentityFile> file = ReadIdentityFile(ids_.file());
    ASSERT_TRUE(file.ok());
    absl::StatusOr<NewToken> t = GenerateToken();
    ASSERT_TRUE(t.ok());
    expiring_token_ = t->token;
    v1::Identity* id = file->add_identities();
    id->set_principal("temp-clinician");
    id->set_role(v1::ROLE_CLINICIAN);
    id->set_token_sha256(t->sha256_hex);
    *id->mutable_expires_at() = ToProtoTime(clock_.Now() + absl::Hours(1));
    // And a registered certificate name.
    v1::Identity* cert = file->add_identities();
    cert->set_principal("gp-system");
    cert->set_role(v1::ROLE_CLINICIAN);
    cert->set_certificate_common_name("gp-system.example.nhs.uk");
    ASSERT_TRUE(WriteIdentityFile(ids_.file(), *file).ok());

    absl::StatusOr<std::unique_ptr<IdentityStore>> store =
        IdentityStore::Open(ids_.file());
    ASSERT_TRUE(store.ok());
    store_ = *std::move(store);
    // The gateway's secret (the certificate name it vouches for is above).
    Authorizer::Options options;
    options.gateway_secret = kGatewaySecret;
    authorizer_ = std::make_unique<Authorizer>(store_.get(), &clock_, options);
    service_ = std::make_unique<AuthServiceImpl>(authorizer_.get());
    std::string address;
    server_ = frontdoor::testing::StartLocalServer({service_.get()}, &address);
    ASSERT_NE(server_, nullptr);
    stub_ = v1::AuthService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  // `certificate_cn` and `gateway`, if not empty, are sent as the HTTP
  // gateway sends the name of a verified HTTPS client certificate and its
  // secret.
  grpc::Status WhoAmI(const std::string& authorization, v1::WhoAmIResponse* out,
                      const std::string& certificate_cn = "",
                      const std::string& gateway = "") {
    grpc::ClientContext ctx;
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
    if (!certificate_cn.empty()) {
      ctx.AddMetadata("x-frontdoor-certificate-cn", certificate_cn);
    }
    if (!gateway.empty()) ctx.AddMetadata("x-frontdoor-gateway", gateway);
    return stub_->WhoAmI(&ctx, v1::WhoAmIRequest(), out);
  }

  static constexpr char kGatewaySecret[] = "fd_gateway_secret_for_this_test";

  frontdoor::testing::TempDir dir_;
  frontdoor::testing::TestIdentities ids_;
  FakeClock clock_;
  std::string expiring_token_;
  std::unique_ptr<IdentityStore> store_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<AuthServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::AuthService::Stub> stub_;
};

TEST_F(AuthorizerTest, AValidTokenNamesThePrincipalAndWhatTheyMayDo) {
  v1::WhoAmIResponse me;
  grpc::Status st = WhoAmI("Bearer " + ids_.token(v1::ROLE_REFERRER), &me);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(me.principal(), "test-referrer");
  EXPECT_EQ(me.role(), v1::ROLE_REFERRER);
  EXPECT_EQ(me.authenticated_by(), "token");
  EXPECT_THAT(me.allowed_methods(),
              Contains("/frontdoor.v1.ReferralService/SubmitReferral"));
  EXPECT_THAT(me.allowed_methods(),
              Not(Contains("/frontdoor.v1.ReferralService/GetWorklist")));
  // "bearer" is case-insensitive (RFC 6750 follows RFC 7235).
  EXPECT_TRUE(WhoAmI("bearer " + ids_.token(v1::ROLE_ADMIN), &me).ok());
  EXPECT_EQ(me.role(), v1::ROLE_ADMIN);
}

TEST_F(AuthorizerTest, MissingMalformedWrongAndExpiredTokensAreRefused) {
  v1::WhoAmIResponse me;
  struct Case {
    std::string header;
    std::string want;
  } cases[] = {
      {"", "no credentials"},
      {ids_.token(v1::ROLE_ADMIN), "Bearer <token>"},  // no scheme
      {"Basic dXNlcjpwYXNz", "Bearer <token>"},
      {"Bearer ", "unknown or revoked"},
      {"Bearer fd_not-a-real-token", "unknown or revoked"},
      {"Bearer " + ids_.token(v1::ROLE_ADMIN) + "x", "unknown or revoked"},
      {"Bearer " + std::string(600, 'a'), "Bearer <token>"},
  };
  for (const Case& c : cases) {
    grpc::Status st = WhoAmI(c.header, &me);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << c.header;
    EXPECT_THAT(st.error_message(), HasSubstr(c.want)) << c.header;
  }
  EXPECT_TRUE(WhoAmI("Bearer " + expiring_token_, &me).ok());
  clock_.Advance(absl::Hours(1));
  grpc::Status st = WhoAmI("Bearer " + expiring_token_, &me);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(st.error_message(), HasSubstr("expired"));
}

// Only the gateway's secret makes a certificate name count; a token, when
// there is one, says who is calling; without the secret the name is ignored.
TEST_F(AuthorizerTest, OnlyTheGatewaySecretVouchesForACertificateName) {
  const std::string cn = "gp-system.example.nhs.uk";
  v1::WhoAmIResponse me;
  grpc::Status st = WhoAmI("", &me, cn, kGatewaySecret);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(me.principal(), "gp-system");
  EXPECT_EQ(me.authenticated_by(), "certificate");

  const std::string referrer = "Bearer " + ids_.token(v1::ROLE_REFERRER);
  ASSERT_TRUE(WhoAmI(referrer, &me, cn, kGatewaySecret).ok());
  EXPECT_EQ(me.principal(), "test-referrer");
  ASSERT_TRUE(WhoAmI(referrer, &me, cn).ok());
  EXPECT_EQ(me.principal(), "test-referrer");

  // The name without the secret, or with a wrong one, is no credential.
  EXPECT_EQ(WhoAmI("", &me, cn).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(WhoAmI("", &me, cn, "guess").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // The secret with an unregistered name, or with none.
  st = WhoAmI("", &me, "stranger.example.org", kGatewaySecret);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(st.error_message(), HasSubstr("certificate"));
  EXPECT_EQ(WhoAmI("", &me, "", kGatewaySecret).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthorizerTest, RevokedTokensStopWorkingWithoutARestart) {
  v1::WhoAmIResponse me;
  const std::string header = "Bearer " + ids_.token(v1::ROLE_AUDITOR);
  ASSERT_TRUE(WhoAmI(header, &me).ok());
  absl::StatusOr<v1::IdentityFile> file = ReadIdentityFile(ids_.file());
  ASSERT_TRUE(file.ok());
  for (v1::Identity& id : *file->mutable_identities())
    if (id.role() == v1::ROLE_AUDITOR) id.set_disabled(true);
  ASSERT_TRUE(WriteIdentityFile(ids_.file(), *file).ok());
  // The file is re-checked at most once a second.
  grpc::Status st;
  for (int i = 0; i < 100; ++i) {
    st = WhoAmI(header, &me);
    if (!st.ok()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace frontdoor::auth
