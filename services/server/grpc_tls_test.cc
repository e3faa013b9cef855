// TLS and mTLS on the gRPC listener of a real FrontdoorServer, with
// throwaway certificates: plaintext to a TLS port fails; a client that
// trusts the CA gets through; with a client CA configured, a certificate
// from another CA is refused at the handshake, and a registered
// certificate's common name identifies the caller.

#include <memory>
#include <string>

#include "frontdoor/v1/auth.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/auth/client.h"
#include "services/auth/identities.h"
#include "services/auth/test_identities.h"
#include "services/auth/test_pki.h"
#include "services/common/log.h"
#include "services/common/temp_dir.h"
#include "services/server/server.h"

namespace frontdoor::server {
namespace {

using ::testing::HasSubstr;

class GrpcTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::SetMinLevel(log::Level::kError);
    if (!frontdoor::testing::HaveOpenssl())
      GTEST_SKIP() << "no openssl command to make certificates with";
    ASSERT_TRUE(pki_.Make());
    ids_ = frontdoor::testing::TestIdentities::Create(dir_.path());
    // The client certificate (CN test-client) is registered as a clinician.
    absl::StatusOr<v1::IdentityFile> file = auth::ReadIdentityFile(ids_.file());
    ASSERT_TRUE(file.ok());
    v1::Identity* cert = file->add_identities();
    cert->set_principal("gp-system");
    cert->set_role(v1::ROLE_CLINICIAN);
    cert->set_certificate_common_name("test-client");
    ASSERT_TRUE(auth::WriteIdentityFile(ids_.file(), *file).ok());
  }

  std::unique_ptr<FrontdoorServer> Start(bool require_client_cert) {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.http_listen = "";
    o.data_dir = dir_.Sub("data");
    o.tokens_file = ids_.file();
    o.watch_rules = false;
    o.shutdown_grace = absl::Seconds(1);
    o.tls_cert_file = pki_.Path("server.pem");
    o.tls_key_file = pki_.Path("server.key");
    if (require_client_cert) o.tls_client_ca_file = pki_.Path("ca.pem");
    auto s = FrontdoorServer::Start(o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  // WhoAmI over `credentials`, with `token` ("" for none).
  grpc::Status WhoAmI(const FrontdoorServer& server,
                      std::shared_ptr<grpc::ChannelCredentials> credentials,
                      const std::string& token, v1::WhoAmIResponse* out) {
    grpc::ChannelArguments args;
    // The server certificate is for localhost / 127.0.0.1.
    args.SetSslTargetNameOverride("localhost");
    auto stub = v1::AuthService::NewStub(auth::CreateChannelWithToken(
        server.grpc_address(), credentials, args, token));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(5));
    return stub->WhoAmI(&ctx, v1::WhoAmIRequest(), out);
  }

  std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& client) {
    auth::ClientTlsFiles files;
    files.ca_file = pki_.Path("ca.pem");
    if (!client.empty()) {
      files.cert_file = pki_.Path(client + ".pem");
      files.key_file = pki_.Path(client + ".key");
    }
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> c =
        auth::ClientCredentials(files);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : nullptr;
  }

  frontdoor::testing::TempDir dir_;
  frontdoor::testing::TestPki pki_{dir_.path()};
  frontdoor::testing::TestIdentities ids_;
};

TEST_F(GrpcTlsTest, PlaintextToATlsPortFailsAndTlsWorks) {
  auto server = Start(/*require_client_cert=*/false);
  ASSERT_NE(server, nullptr);
  const std::string token = ids_.token(v1::ROLE_CLINICIAN);
  v1::WhoAmIResponse me;
  grpc::Status plain =
      WhoAmI(*server, grpc::InsecureChannelCredentials(), token, &me);
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::UNAVAILABLE)
      << plain.error_message();
  grpc::Status tls = WhoAmI(*server, Tls(""), token, &me);
  ASSERT_TRUE(tls.ok()) << tls.error_message();
  EXPECT_EQ(me.principal(), "test-clinician");
  EXPECT_EQ(me.authenticated_by(), "token");
  // The start-up line tells operators the port wants TLS.
  EXPECT_THAT(server->Banner(),
              HasSubstr("listening on grpcs://127.0.0.1:"));
  EXPECT_THAT(server->Banner(), HasSubstr("--tls_ca=CA.pem"));
}

TEST_F(GrpcTlsTest, ClientCertificatesFromAnotherCaAreRefused) {
  auto server = Start(/*require_client_cert=*/true);
  ASSERT_NE(server, nullptr);
  const std::string token = ids_.token(v1::ROLE_CLINICIAN);
  v1::WhoAmIResponse me;
  // No certificate, or one signed by another CA: no connection at all, even
  // with a valid token.
  EXPECT_EQ(WhoAmI(*server, Tls(""), token, &me).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(WhoAmI(*server, Tls("stranger"), token, &me).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // The registered certificate identifies the caller by itself...
  grpc::Status by_cert = WhoAmI(*server, Tls("client"), "", &me);
  ASSERT_TRUE(by_cert.ok()) << by_cert.error_message();
  EXPECT_EQ(me.principal(), "gp-system");
  EXPECT_EQ(me.role(), v1::ROLE_CLINICIAN);
  EXPECT_EQ(me.authenticated_by(), "certificate");
  // ...and a token, when sent as well, says who is calling through it.
  ASSERT_TRUE(WhoAmI(*server, Tls("client"),
                     ids_.token(v1::ROLE_AUDITOR), &me).ok());
  EXPECT_EQ(me.principal(), "test-auditor");
}

TEST_F(GrpcTlsTest, AnUnregisteredCertificateIsNotAnIdentity) {
  auto server = Start(/*require_client_cert=*/true);
  ASSERT_NE(server, nullptr);
  absl::StatusOr<v1::IdentityFile> file = auth::ReadIdentityFile(ids_.file());
  ASSERT_TRUE(file.ok());
  for (v1::Identity& id : *file->mutable_identities())
    if (id.principal() == "gp-system") id.set_disabled(true);
  ASSERT_TRUE(auth::WriteIdentityFile(ids_.file(), *file).ok());
  grpc::Status s;
  v1::WhoAmIResponse me;
  for (int i = 0; i < 100; ++i) {  // the file is re-read within a second
    s = WhoAmI(*server, Tls("client"), "", &me);
    if (!s.ok()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("certificate"));
}

}  // namespace
}  // namespace frontdoor::server
