// TLS and mTLS on the gRPC listener of a real FrontdoorServer, with
// throwaway certificates: plaintext to a TLS port fails; a client that
// trusts the CA gets through; with a client CA configured, a certificate
// from another CA is refused at the handshake, and a registered
// certificate's common name identifies the caller.

#include <memory>
#include <string>

#include "frontdoor/v1/auth.grpc.pb.h"
#include "frontdoor/v1/referral_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/auth/client.h"
#include "services/auth/identities.h"
#include "services/auth/test_identities.h"
#include "services/auth/test_pki.h"
#include "services/common/example_referrals.h"
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

  // A plaintext server of `roles` on its own data directory.
  ServerOptions Options(const std::string& roles, const std::string& data) {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.http_listen = "";
    o.data_dir = dir_.Sub(data);
    o.tokens_file = ids_.file();
    o.watch_rules = false;
    o.shutdown_grace = absl::Seconds(1);
    o.roles = *ParseRoles(roles);
    return o;
  }

  std::unique_ptr<FrontdoorServer> Start(bool require_client_cert,
                                         const std::string& roles = "all") {
    ServerOptions o = Options(roles, "data");
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

  // Trusting `ca` ("" for no TLS), presenting `client`'s certificate.
  auth::ClientTlsFiles TlsFiles(const std::string& client,
                                const std::string& ca = "ca") {
    auth::ClientTlsFiles files;
    if (!ca.empty()) files.ca_file = pki_.Path(ca + ".pem");
    if (!client.empty()) {
      files.cert_file = pki_.Path(client + ".pem");
      files.key_file = pki_.Path(client + ".key");
    }
    return files;
  }

  std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& client) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> c =
        auth::ClientCredentials(TlsFiles(client));
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

// Roles in separate processes: the referral role reaches triage and the
// directory over TLS when given their CA (and, for a peer that requires
// one, a client certificate); a front end that would talk plaintext, trusts
// another CA or has no certificate cannot reach them, and its referrals are
// stored to wait for triage rather than lost.
TEST_F(GrpcTlsTest, SeparateRolesCallEachOtherOverTls) {
  auto back = Start(/*require_client_cert=*/true, "triage,directory");
  ASSERT_NE(back, nullptr);
  struct Case {
    std::string name;
    auth::ClientTlsFiles remote;
    v1::ReferralStatus want;
  };
  const Case cases[] = {
      {"tls", TlsFiles("client"), v1::REFERRAL_STATUS_TRIAGED},
      {"plaintext", TlsFiles("", ""), v1::REFERRAL_STATUS_AWAITING_TRIAGE},
      {"no-certificate", TlsFiles(""), v1::REFERRAL_STATUS_AWAITING_TRIAGE},
      {"other-ca", TlsFiles("client", "other-ca"),
       v1::REFERRAL_STATUS_AWAITING_TRIAGE},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ServerOptions o = Options("referral", "front-" + c.name);
    o.triage_target = o.directory_target = back->grpc_address();
    o.service_token = ids_.token(v1::ROLE_SERVICE);
    o.remote_tls = c.remote;
    auto front = FrontdoorServer::Start(o);
    ASSERT_TRUE(front.ok()) << front.status();
    if (!c.remote.ca_file.empty()) {
      EXPECT_THAT((*front)->Banner(), HasSubstr("rules=remote(grpcs://"));
    }
    auto stub = v1::ReferralService::NewStub(
        ids_.Channel((*front)->grpc_address(), v1::ROLE_CLINICIAN));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(20));
    v1::SubmitReferralRequest req;
    req.set_request_id("split-" + c.name);
    *req.mutable_referral() = frontdoor::testing::ReadExampleReferral();
    v1::SubmitReferralResponse resp;
    grpc::Status s = stub->SubmitReferral(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.record().status(), c.want);
  }
}

TEST_F(GrpcTlsTest, AnUnreadableRemoteCaStopsTheStart) {
  ServerOptions o = Options("referral", "front");
  o.triage_target = o.directory_target = "127.0.0.1:1";
  o.remote_tls.ca_file = dir_.Sub("no-such-ca.pem");
  absl::StatusOr<std::unique_ptr<FrontdoorServer>> front =
      FrontdoorServer::Start(o);
  EXPECT_EQ(front.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(front.status().message(), HasSubstr("--remote_tls_ca"));
  EXPECT_THAT(front.status().message(), HasSubstr("no-such-ca.pem"));
  o.remote_tls = TlsFiles("client", "");  // a certificate without a CA
  front = FrontdoorServer::Start(o);
  EXPECT_EQ(front.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(front.status().message(), HasSubstr("--remote_tls_ca"));
}

}  // namespace
}  // namespace frontdoor::server
