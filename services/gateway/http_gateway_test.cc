#include "services/gateway/http_gateway.h"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "frontdoor/v1/audit.pb.h"
#include "frontdoor/v1/auth.grpc.pb.h"
#include "frontdoor/v1/directory_service.grpc.pb.h"
#include "frontdoor/v1/referral_service.pb.h"
#include "frontdoor/v1/triage_service.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "services/auth/test_identities.h"
#include "services/auth/test_pki.h"
#include "services/common/reference.h"
#include "services/common/temp_dir.h"
#include "services/common/test_util.h"
#include "services/server/server.h"

namespace frontdoor::gateway {
namespace {

using ::frontdoor::testing::TempDir;
using ::frontdoor::testing::TestIdentities;
using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kExample[] =
    "examples/referrals/news2-7-acute-deterioration.json";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// {"requestId": <id>, "referral": <the example, as JSON>}.
std::string SubmitBody(const std::string& request_id) {
  const std::string referral = ReadFile(kExample);
  EXPECT_THAT(referral, Not(IsEmpty())) << kExample;
  return absl::StrCat(R"({"requestId":")", request_id, R"(","referral":)",
                      referral, "}");
}

server::ServerOptions Options(const std::string& data_dir) {
  server::ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.http_listen = "127.0.0.1:0";
  o.data_dir = data_dir;
  o.watch_rules = false;
  o.tokens_file = TestIdentities::Shared().file();
  return o;
}

std::string Bearer(v1::Role role) {
  return absl::StrCat("Bearer ", TestIdentities::Shared().token(role));
}

template <typename M>
M ParseJson(const std::string& json) {
  M m;
  auto s = google::protobuf::util::JsonStringToMessage(json, &m);
  EXPECT_TRUE(s.ok()) << s.ToString() << " in " << json;
  return m;
}

// The fields of an error body; fails the test unless the answer has HTTP
// status `status` and the one shape every error has:
// {"error":{"code":"...","status":N,"message":"..."}} plus an optional
// "field".
struct ApiError {
  std::string code;
  std::string message;
  std::string field;
};

ApiError ExpectError(const httplib::Result& res, int status) {
  ApiError e;
  if (!res) {
    ADD_FAILURE() << "no response: " << httplib::to_string(res.error());
    return e;
  }
  EXPECT_EQ(res->status, status) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"),
            "application/json; charset=utf-8");
  auto body = ParseJson<google::protobuf::Struct>(res->body);
  const auto& top = body.fields();
  EXPECT_EQ(top.size(), 1u) << res->body;
  if (!top.contains("error")) {
    ADD_FAILURE() << "no error object: " << res->body;
    return e;
  }
  const auto& error = top.at("error").struct_value().fields();
  for (const auto& [key, value] : error) {
    EXPECT_TRUE(key == "code" || key == "status" || key == "message" ||
                key == "field")
        << key << " in " << res->body;
  }
  EXPECT_EQ(error.count("status") == 1 ? error.at("status").number_value() : 0,
            res->status)
      << res->body;
  EXPECT_TRUE(error.contains("code") && error.contains("message")) << res->body;
  if (error.contains("code")) e.code = error.at("code").string_value();
  if (error.contains("message")) e.message = error.at("message").string_value();
  if (error.contains("field")) {
    e.field = error.at("field").string_value();
    EXPECT_THAT(e.field, Not(IsEmpty())) << "an empty field is left out";
  }
  return e;
}

class HttpGatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("http_gateway_test");
    absl::StatusOr<std::unique_ptr<server::FrontdoorServer>> s =
        server::FrontdoorServer::Start(Options(dir_->path()));
    ASSERT_THAT(s, IsOk());
    server_ = s->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
  }

  void SetUp() override { ASSERT_NE(server_, nullptr); }

  std::unique_ptr<httplib::Client> Client() {
    auto c = std::make_unique<httplib::Client>(
        absl::StrCat("http://", server_->http_address()));
    c->set_connection_timeout(5, 0);
    c->set_read_timeout(30, 0);
    c->set_write_timeout(30, 0);
    return c;
  }

  httplib::Result Get(const std::string& path,
                      v1::Role role = v1::ROLE_CALL_HANDLER,
                      httplib::Headers headers = {}) {
    if (role != v1::ROLE_UNSPECIFIED)
      headers.emplace("Authorization", Bearer(role));
    return Client()->Get(path.c_str(), headers);
  }

  httplib::Result Post(const std::string& path, const std::string& body,
                       v1::Role role = v1::ROLE_CALL_HANDLER,
                       httplib::Headers headers = {},
                       const std::string& content_type = "application/json") {
    if (role != v1::ROLE_UNSPECIFIED)
      headers.emplace("Authorization", Bearer(role));
    return Client()->Post(path.c_str(), headers, body, content_type.c_str());
  }

  // Submits the example referral; its record.
  v1::ReferralRecord Submit(const std::string& request_id,
                            httplib::Headers headers = {}) {
    httplib::Result res = Post("/api/v1/referrals", SubmitBody(request_id),
                               v1::ROLE_CALL_HANDLER, std::move(headers));
    EXPECT_TRUE(res);
    if (!res) return {};
    EXPECT_EQ(res->status, 200) << res->body;
    return ParseJson<v1::SubmitReferralResponse>(res->body).record();
  }

  static TempDir* dir_;
  static server::FrontdoorServer* server_;
};

TempDir* HttpGatewayTest::dir_ = nullptr;
server::FrontdoorServer* HttpGatewayTest::server_ = nullptr;

TEST_F(HttpGatewayTest, SubmitThenGetById) {
  httplib::Result res = Post("/api/v1/referrals", SubmitBody("gw-submit-get"));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"),
            "application/json; charset=utf-8");
  // lowerCamel names, no default-valued fields.
  EXPECT_THAT(res->body, HasSubstr("\"receivedAt\""));
  EXPECT_THAT(res->body, Not(HasSubstr("received_at")));
  EXPECT_THAT(res->body, Not(HasSubstr("\"replayed\"")));
  const auto submitted = ParseJson<v1::SubmitReferralResponse>(res->body);
  const std::string id = submitted.record().id();
  ASSERT_THAT(id, Not(IsEmpty()));
  EXPECT_EQ(submitted.record().submitted_by(),
            TestIdentities::PrincipalFor(v1::ROLE_CALL_HANDLER));

  res = Get(absl::StrCat("/api/v1/referrals/", id));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto got = ParseJson<v1::ReferralRecord>(res->body);
  EXPECT_EQ(got.id(), id);
  EXPECT_EQ(got.referral().patient().nhs_number(),
            submitted.record().referral().patient().nhs_number());

  res = Get(absl::StrCat("/api/v1/referrals/", id, "/events"));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto events = ParseJson<v1::ListReferralEventsResponse>(res->body);
  ASSERT_GE(events.events_size(), 1);
  EXPECT_EQ(events.events(0).type(), v1::EVENT_TYPE_SUBMITTED);
}

// The audit trail records calls that came in over HTTP as such (the
// gateway's secret says so; a gRPC caller cannot).
TEST_F(HttpGatewayTest, HttpCallsAreAuditedAsHttp) {
  const v1::ReferralRecord rec = Submit("gw-audit-channel");
  ASSERT_THAT(rec.id(), Not(IsEmpty()));
  httplib::Result res = Post(
      "/api/v1/rpc/frontdoor.v1.AuditService/Query",
      absl::StrCat("{\"referralId\":\"", rec.id(), "\"}"), v1::ROLE_AUDITOR);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto trail = ParseJson<v1::QueryAuditResponse>(res->body);
  ASSERT_GE(trail.entries_size(), 1);
  for (const v1::AuditEntry& e : trail.entries()) {
    EXPECT_EQ(e.channel(), "http") << e.ShortDebugString();
  }
}

TEST_F(HttpGatewayTest, ListReferralsTakesQueryParametersByEitherName) {
  const std::string id = Submit("gw-list").id();
  for (const std::string query :
       {"?pageSize=500", "?page_size=500&breachedOnly=false"}) {
    httplib::Result res = Get(absl::StrCat("/api/v1/referrals", query));
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << query << ": " << res->body;
    const auto page = ParseJson<v1::ListReferralsResponse>(res->body);
    bool found = false;
    for (const auto& r : page.referrals()) found = found || r.id() == id;
    EXPECT_TRUE(found) << query << ": " << res->body;
  }
}

TEST_F(HttpGatewayTest, BadQueryParametersAreNamed) {
  struct Case {
    std::string query;
    std::string field;
  };
  for (const Case& c :
       {Case{"?colour=red", "colour"}, Case{"?pageSize=lots", "pageSize"},
        Case{"?breachedOnly=yes", "breachedOnly"},
        Case{"?status=NOT_A_STATUS", "status"},
        Case{"?pageSize=1&pageSize=2", "pageSize"}}) {
    httplib::Result res = Get(absl::StrCat("/api/v1/referrals", c.query));
    SCOPED_TRACE(c.query);
    const ApiError e = ExpectError(res, 400);
    EXPECT_EQ(e.code, "INVALID_ARGUMENT");
    EXPECT_EQ(e.field, c.field);
  }
}

TEST_F(HttpGatewayTest, InvalidReferralNamesTheField) {
  std::string body = SubmitBody("gw-bad-nhs");
  const std::string good = "9990000026";
  ASSERT_THAT(body, HasSubstr(good));
  body.replace(body.find(good), good.size(), "12345");
  httplib::Result res = Post("/api/v1/referrals", body);
  const ApiError e = ExpectError(res, 400);
  EXPECT_EQ(e.code, "INVALID_ARGUMENT");
  EXPECT_EQ(e.field, "referral.patient.nhsNumber");
  EXPECT_THAT(e.message, HasSubstr("10 digits"));
}

TEST_F(HttpGatewayTest, UnknownJsonFieldIsNamed) {
  httplib::Result res = Post(
      "/api/v1/referrals",
      R"({"requestId":"gw-unknown","referral":{"patient":{"nhsNumbr":"1"}}})");
  const ApiError e = ExpectError(res, 400);
  EXPECT_EQ(e.code, "INVALID_ARGUMENT");
  EXPECT_EQ(e.field, "referral.patient.nhsNumbr");
  EXPECT_THAT(e.message, HasSubstr("nhsNumbr"));

  res = Post("/api/v1/referrals", R"({"requestID":"x"})");
  EXPECT_EQ(ExpectError(res, 400).field, "requestID");
}

TEST_F(HttpGatewayTest, BadValueTypeIsNamed) {
  httplib::Result res =
      Post("/api/v1/referrals",
           R"({"referral":{"observations":{"respiratoryRate":"fast"}}})");
  EXPECT_EQ(ExpectError(res, 400).field,
            "referral.observations.respiratoryRate");
}

TEST_F(HttpGatewayTest, MalformedJsonIs400) {
  for (const std::string body : {R"({"requestId":)", "[1,2]", "not json"}) {
    httplib::Result res = Post("/api/v1/referrals", body);
    SCOPED_TRACE(body);
    EXPECT_EQ(ExpectError(res, 400).code, "INVALID_ARGUMENT");
  }
}

TEST_F(HttpGatewayTest, OversizeBodyIs413AndTheConnectionStaysUsable) {
  const std::string big(2 << 20, ' ');
  auto client = Client();
  httplib::Headers auth = {{"Authorization", Bearer(v1::ROLE_CALL_HANDLER)}};
  httplib::Result res =
      client->Post("/api/v1/referrals", auth, big, "application/json");
  EXPECT_EQ(ExpectError(res, 413).code, "RESOURCE_EXHAUSTED");

  // Chunked, so no Content-Length to refuse it by.
  size_t sent = 0;
  res = client->Post(
      "/api/v1/referrals", auth,
      [&](size_t, httplib::DataSink& sink) {
        if (sent < big.size()) {
          const size_t n = std::min<size_t>(64 << 10, big.size() - sent);
          sink.write(big.data() + sent, n);
          sent += n;
        } else {
          sink.done();
        }
        return true;
      },
      "application/json");
  EXPECT_EQ(ExpectError(res, 413).code, "RESOURCE_EXHAUSTED");

  res = client->Get("/api/v1/whoami", auth);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(HttpGatewayTest, NonJsonContentTypeIs415) {
  httplib::Result res = Post("/api/v1/referrals", SubmitBody("gw-415"),
                             v1::ROLE_CALL_HANDLER, {}, "text/plain");
  ExpectError(res, 415);
}

TEST_F(HttpGatewayTest, UnknownRouteIs404) {
  for (const std::string path :
       {"/api/v1/nothing", "/api/v2/referrals", "/api/v1/referrals/a/b/c"}) {
    httplib::Result res = Get(path);
    SCOPED_TRACE(path);
    EXPECT_EQ(ExpectError(res, 404).code, "NOT_FOUND");
  }
  httplib::Result res = Client()->Delete("/api/v1/referrals");
  EXPECT_EQ(ExpectError(res, 404).code, "NOT_FOUND");
}

TEST_F(HttpGatewayTest, UnknownRpcIs404) {
  for (const std::string path :
       {"/api/v1/rpc/frontdoor.v1.ReferralService/Nothing",
        "/api/v1/rpc/frontdoor.v1.NoSuchService/Get",
        // Outside the API's package, though hosted.
        "/api/v1/rpc/grpc.health.v1.Health/Check"}) {
    httplib::Result res = Post(path, "{}");
    SCOPED_TRACE(path);
    EXPECT_EQ(ExpectError(res, 404).code, "NOT_FOUND");
  }
}

TEST_F(HttpGatewayTest, StreamingRpcIs501) {
  httplib::Result res =
      Post("/api/v1/rpc/frontdoor.v1.ReferralService/WatchWorklist",
           R"({"pathway":"PATHWAY_ACUTE"})");
  EXPECT_EQ(ExpectError(res, 501).code, "UNIMPLEMENTED");
}

TEST_F(HttpGatewayTest, GenericRouteCallsAnyUnaryRpc) {
  const std::string id = Submit("gw-generic").id();
  httplib::Result res =
      Post("/api/v1/rpc/frontdoor.v1.ReferralService/GetReferral",
           absl::StrCat(R"({"id":")", id, R"("})"));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(ParseJson<v1::ReferralRecord>(res->body).id(), id);

  // An empty body is the empty request.
  res = Client()->Post("/api/v1/rpc/frontdoor.v1.AuthService/WhoAmI",
                       {{"Authorization", Bearer(v1::ROLE_CLINICIAN)}}, "",
                       "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(ParseJson<v1::WhoAmIResponse>(res->body).role(),
            v1::ROLE_CLINICIAN);
}

TEST_F(HttpGatewayTest, UnknownReferralIs404) {
  httplib::Result res =
      Get(absl::StrCat("/api/v1/referrals/", FormatReference(12345)));
  EXPECT_EQ(ExpectError(res, 404).code, "NOT_FOUND");
}

TEST_F(HttpGatewayTest, TransitionTakesTheIdFromThePath) {
  const v1::ReferralRecord record = Submit("gw-transition");
  const std::string path =
      absl::StrCat("/api/v1/referrals/", record.id(), "/transition");
  httplib::Result res = Post(
      path,
      absl::StrCat(R"({"id":")", FormatReference(777), R"(","accept":{}})"));
  EXPECT_EQ(ExpectError(res, 400).field, "id");

  // A stale version reaches the service, which refuses it.
  res = Post(path, absl::StrCat(R"({"expectedVersion":")",
                                record.version() + 100, R"(","accept":{}})"));
  EXPECT_EQ(ExpectError(res, 409).code, "ABORTED");
}

TEST_F(HttpGatewayTest, WorklistByPathwayName) {
  for (const std::string pathway :
       {"acute", "PATHWAY_ACUTE", "community-nursing"}) {
    httplib::Result res =
        Get(absl::StrCat("/api/v1/worklists/", pathway, "?pageSize=10"));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << pathway << ": " << res->body;
  }
  httplib::Result res = Get("/api/v1/worklists/nowhere");
  EXPECT_EQ(ExpectError(res, 400).field, "pathway");
}

TEST_F(HttpGatewayTest, ExplainAndDirectory) {
  httplib::Result res =
      Post("/api/v1/triage/explain",
           absl::StrCat(R"({"referral":)", ReadFile(kExample), "}"));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(ParseJson<v1::ExplainResponse>(res->body).text(), Not(IsEmpty()));

  res = Get("/api/v1/directory/services");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_GT(ParseJson<v1::ListServicesResponse>(res->body).services_size(), 0);
}

TEST_F(HttpGatewayTest, WhoAmI) {
  httplib::Result res = Get("/api/v1/whoami", v1::ROLE_REFERRER);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto me = ParseJson<v1::WhoAmIResponse>(res->body);
  EXPECT_EQ(me.principal(), TestIdentities::PrincipalFor(v1::ROLE_REFERRER));
  EXPECT_EQ(me.role(), v1::ROLE_REFERRER);
  EXPECT_THAT(res->body, HasSubstr("\"allowedMethods\""));
}

TEST_F(HttpGatewayTest, MissingOrUnknownTokenIs401) {
  // In particular, a call without credentials must not be sent with the
  // server's own.
  for (const auto& headers :
       {httplib::Headers{},
        httplib::Headers{{"Authorization", "Bearer not-a-known-token"}},
        httplib::Headers{{"Authorization", "Basic dXNlcjpwYXNz"}}}) {
    auto res = Client()->Get("/api/v1/whoami", headers);
    EXPECT_EQ(ExpectError(res, 401).code, "UNAUTHENTICATED");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer");
  }
  auto res = Client()->Post("/api/v1/referrals", SubmitBody("gw-anon"),
                            "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << res->body;
}

TEST_F(HttpGatewayTest, ReferrerCallingAnAdminRpcIs403) {
  httplib::Result res = Post("/api/v1/rpc/frontdoor.v1.AdminService/Backup",
                             "{}", v1::ROLE_REFERRER);
  EXPECT_EQ(ExpectError(res, 403).code, "PERMISSION_DENIED");
}

TEST_F(HttpGatewayTest, RequestIdIsEchoed) {
  httplib::Result res =
      Get("/api/v1/whoami", v1::ROLE_CALL_HANDLER, {{"X-Request-Id", "r-1"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("X-Request-Id"), "r-1");
  // On errors too; and one is made up when none (or an unusable one) is
  // given.
  res =
      Get("/api/v1/nothing", v1::ROLE_CALL_HANDLER, {{"X-Request-Id", "r-2"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->get_header_value("X-Request-Id"), "r-2");
  res = Get("/api/v1/whoami");
  ASSERT_TRUE(res);
  const std::string made = res->get_header_value("X-Request-Id");
  EXPECT_THAT(made, Not(IsEmpty()));
  res = Get("/api/v1/whoami", v1::ROLE_CALL_HANDLER,
            {{"X-Request-Id", "has spaces in it"}});
  ASSERT_TRUE(res);
  EXPECT_THAT(res->get_header_value("X-Request-Id"),
              Not(AnyOf(IsEmpty(), Eq(made), Eq("has spaces in it"))));
}

TEST_F(HttpGatewayTest, SecurityHeadersOnEveryResponse) {
  for (const std::string path :
       {"/api/v1/whoami", "/api/v1/nothing", "/api/v1/referrals?x=1"}) {
    httplib::Result res = Get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff")
        << path;
    EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store") << path;
    EXPECT_EQ(res->get_header_value("Referrer-Policy"), "no-referrer") << path;
    EXPECT_EQ(res->get_header_value("X-Frame-Options"), "DENY") << path;
    EXPECT_FALSE(res->has_header("Access-Control-Allow-Origin")) << path;
  }
}

TEST_F(HttpGatewayTest, OtherRoutesAreNotShadowed) {
  for (const std::string path : {"/", "/healthz", "/metrics"}) {
    httplib::Result res = Client()->Get(path.c_str());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_THAT(res->get_header_value("Content-Type"),
                Not(HasSubstr("application/json")))
        << path;
  }
}

// --- Forwarding, against fake services -----------------------------------

// WhoAmI answers with the metadata it was called with, one "key=value" per
// allowed_methods entry.
class MetadataEchoService final : public v1::AuthService::CallbackService {
  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* ctx,
                                   const v1::WhoAmIRequest*,
                                   v1::WhoAmIResponse* response) override {
    for (const auto& [key, value] : ctx->client_metadata()) {
      response->add_allowed_methods(
          absl::StrCat(absl::string_view(key.data(), key.size()), "=",
                       absl::string_view(value.data(), value.size())));
    }
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// ListServices never answers; the call ends when the caller gives up.
class SilentDirectoryService final
    : public v1::DirectoryService::CallbackService {
  class Reactor final : public grpc::ServerUnaryReactor {
    void OnCancel() override { Finish(grpc::Status::CANCELLED); }
    void OnDone() override { delete this; }
  };
  grpc::ServerUnaryReactor* ListServices(grpc::CallbackServerContext*,
                                         const v1::ListServicesRequest*,
                                         v1::ListServicesResponse*) override {
    return new Reactor();
  }
};

// An HttpGateway on its own httplib server, over an in-process channel to
// a gRPC server hosting the fakes.
class HttpGatewayForwardingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&echo_);
    builder.RegisterService(&silent_);
    grpc_ = builder.BuildAndStart();
    ASSERT_NE(grpc_, nullptr);
  }
  void TearDown() override {
    if (http_.is_running()) {
      http_.stop();
      http_thread_.join();
    }
    grpc_->Shutdown();
  }

  void Serve(std::shared_ptr<grpc::Channel> channel,
             HttpGatewayOptions options) {
    Serve(
        std::make_unique<HttpGateway>(std::move(channel), std::move(options)));
  }
  void Serve(HttpGateway::ChannelGetter channel, HttpGatewayOptions options) {
    Serve(
        std::make_unique<HttpGateway>(std::move(channel), std::move(options)));
  }
  void Serve(std::unique_ptr<HttpGateway> gateway) {
    gateway_ = std::move(gateway);
    gateway_->Register(http_);
    port_ = http_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    http_thread_ = std::thread([this] { http_.listen_after_bind(); });
    while (!http_.is_running()) std::this_thread::yield();
  }

  std::shared_ptr<grpc::Channel> InProcess() {
    return grpc_->InProcessChannel(grpc::ChannelArguments());
  }

  httplib::Result Get(const std::string& path, httplib::Headers headers = {}) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    return c.Get(path.c_str(), headers);
  }

  MetadataEchoService echo_;
  SilentDirectoryService silent_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<HttpGateway> gateway_;
  httplib::Server http_;
  std::thread http_thread_;
  int port_ = 0;
};

TEST_F(HttpGatewayForwardingTest, SendsTheCallersHeadersAndNothingElse) {
  HttpGatewayOptions options;
  options.gateway_secret = "s3cret";
  Serve(InProcess(), options);
  httplib::Result res =
      Get("/api/v1/whoami", {{"Authorization", "Bearer abc.def"},
                             {"X-Request-Id", "trace-7"},
                             {"X-Frontdoor-Reason", "callback"},
                             {"X-Forwarded-For", "10.9.9.9"},
                             {"Cookie", "session=1"}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto metadata = ParseJson<v1::WhoAmIResponse>(res->body);
  EXPECT_THAT(metadata.allowed_methods(),
              Contains("authorization=Bearer abc.def"));
  EXPECT_THAT(metadata.allowed_methods(), Contains("x-request-id=trace-7"));
  EXPECT_THAT(metadata.allowed_methods(),
              Contains("x-frontdoor-gateway=s3cret"));
  EXPECT_THAT(metadata.allowed_methods(),
              Contains("x-frontdoor-reason=callback"));
  // The address the connection came from, not what the caller claims.
  EXPECT_THAT(metadata.allowed_methods(),
              Contains("x-forwarded-for=127.0.0.1"));
  EXPECT_THAT(metadata.allowed_methods(), Not(Contains(HasSubstr("cookie"))));

  res = Get("/api/v1/whoami");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(ParseJson<v1::WhoAmIResponse>(res->body).allowed_methods(),
              Not(Contains(HasSubstr("authorization="))));
}

TEST_F(HttpGatewayForwardingTest, UnsendableAuthorizationIs401) {
  Serve(InProcess(), HttpGatewayOptions());
  httplib::Result res =
      Get("/api/v1/whoami", {{"Authorization", "Bearer caf\xc3\xa9"}});
  EXPECT_EQ(ExpectError(res, 401).code, "UNAUTHENTICATED");
}

TEST_F(HttpGatewayForwardingTest, NoChannelYetIs503ThenTheChannelIsUsed) {
  std::atomic<bool> ready{false};
  std::atomic<int> asked{0};
  Serve(HttpGateway::ChannelGetter([&]() -> std::shared_ptr<grpc::Channel> {
          ++asked;
          return ready ? InProcess() : nullptr;
        }),
        HttpGatewayOptions());
  httplib::Result res = Get("/api/v1/whoami");
  EXPECT_EQ(ExpectError(res, 503).code, "UNAVAILABLE");

  ready = true;
  for (int i = 0; i < 2; ++i) {
    res = Get("/api/v1/whoami");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
  }
  EXPECT_EQ(asked, 2) << "the channel is kept once made";
}

TEST_F(HttpGatewayForwardingTest, ExpiredDeadlineIs504) {
  HttpGatewayOptions options;
  options.deadline = absl::Milliseconds(50);
  Serve(InProcess(), options);
  httplib::Result res = Get("/api/v1/directory/services");
  EXPECT_EQ(ExpectError(res, 504).code, "DEADLINE_EXCEEDED");
}

TEST_F(HttpGatewayForwardingTest, OnlyTheListedServices) {
  HttpGatewayOptions options;
  options.services = {"frontdoor.v1.AuthService"};
  Serve(InProcess(), options);
  httplib::Result res = Get("/api/v1/whoami");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  res = Get("/api/v1/directory/services");
  EXPECT_EQ(ExpectError(res, 404).code, "NOT_FOUND");
}

// --- Pure functions ------------------------------------------------------

TEST(GatewayHttpStatusTest, Mapping) {
  using C = absl::StatusCode;
  EXPECT_EQ(HttpStatusFor(C::kOk), 200);
  EXPECT_EQ(HttpStatusFor(C::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(C::kFailedPrecondition), 400);
  EXPECT_EQ(HttpStatusFor(C::kOutOfRange), 400);
  EXPECT_EQ(HttpStatusFor(C::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(C::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(C::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(C::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(C::kAborted), 409);
  EXPECT_EQ(HttpStatusFor(C::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(C::kCancelled), 499);
  EXPECT_EQ(HttpStatusFor(C::kUnimplemented), 501);
  EXPECT_EQ(HttpStatusFor(C::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(C::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusFor(C::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(C::kUnknown), 500);
  EXPECT_EQ(HttpStatusFor(C::kDataLoss), 500);
}

TEST(GatewayErrorFieldTest, ValidationMessages) {
  const auto& submit = *v1::SubmitReferralRequest::descriptor();
  EXPECT_EQ(ErrorField(submit,
                       "referral.patient.nhs_number: must be 10 "
                       "digits without spaces"),
            "referral.patient.nhsNumber");
  EXPECT_EQ(ErrorField(submit, "request_id: is required"), "requestId");
  const auto& transition = *v1::TransitionReferralRequest::descriptor();
  EXPECT_EQ(ErrorField(transition, "redirect.service_id: is required"),
            "redirect.serviceId");
  // Not a path of the request, or not a path at all.
  EXPECT_EQ(ErrorField(submit, "referral AB12 not found"), "");
  EXPECT_EQ(ErrorField(submit, "store: disk full"), "");
  EXPECT_EQ(ErrorField(*v1::GetWorklistRequest::descriptor(),
                       "pathway, service_id: give exactly one of them"),
            "");
}

TEST(GatewayErrorFieldTest, JsonParseMessages) {
  const auto& submit = *v1::SubmitReferralRequest::descriptor();
  EXPECT_EQ(ErrorField(submit,
                       "(referral.patient) nhsNumbr: Cannot find "
                       "field."),
            "referral.patient.nhsNumbr");
  EXPECT_EQ(ErrorField(submit, "requestID: Cannot find field."), "requestID");
  EXPECT_EQ(ErrorField(submit,
                       "(referral.observations.respiratory_rate): "
                       "invalid value \"x\" for type TYPE_INT32"),
            "referral.observations.respiratoryRate");
  EXPECT_EQ(ErrorField(submit,
                       "Unexpected end of string. Expected a value."
                       "\n{\"a\": \n^"),
            "");
}

// --- TLS -------------------------------------------------------------------

class HttpGatewayTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!frontdoor::testing::HaveOpenssl())
      GTEST_SKIP() << "no openssl command to make certificates with";
    ASSERT_TRUE(pki_.Make());
  }

  std::unique_ptr<server::FrontdoorServer> Start(
      bool require_client_cert, const std::string& tokens_file = "") {
    server::ServerOptions o = Options(data_.path());
    if (!tokens_file.empty()) o.tokens_file = tokens_file;
    o.tls_cert_file = pki_.Path("server.pem");
    o.tls_key_file = pki_.Path("server.key");
    if (require_client_cert) o.tls_client_ca_file = pki_.Path("ca.pem");
    absl::StatusOr<std::unique_ptr<server::FrontdoorServer>> s =
        server::FrontdoorServer::Start(o);
    EXPECT_THAT(s, IsOk());
    return s.ok() ? *std::move(s) : nullptr;
  }

  // GET /api/v1/whoami over HTTPS, trusting the test CA, with the named
  // client certificate ("" for none) and `authorization` ("" for none).
  httplib::Result WhoAmI(
      const server::FrontdoorServer& server, const std::string& client,
      const std::string& authorization = Bearer(v1::ROLE_CALL_HANDLER)) {
    const std::string& address = server.http_address();
    const int port = std::stoi(address.substr(address.rfind(':') + 1));
    std::unique_ptr<httplib::SSLClient> c =
        client.empty() ? std::make_unique<httplib::SSLClient>("127.0.0.1", port)
                       : std::make_unique<httplib::SSLClient>(
                             "127.0.0.1", port, pki_.Path(client + ".pem"),
                             pki_.Path(client + ".key"));
    c->set_ca_cert_path(pki_.Path("ca.pem").c_str());
    c->enable_server_certificate_verification(true);
    c->set_connection_timeout(5, 0);
    c->set_read_timeout(10, 0);
    httplib::Headers headers;
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    return c->Get("/api/v1/whoami", headers);
  }

  TempDir dir_{"http_gateway_tls"};
  TempDir data_{"http_gateway_tls_data"};
  TempDir ids_dir_{"http_gateway_tls_ids"};
  frontdoor::testing::TestPki pki_{dir_.path()};
};

TEST_F(HttpGatewayTlsTest, HttpsOnlyWhenCertificatesAreGiven) {
  std::unique_ptr<server::FrontdoorServer> server = Start(false);
  ASSERT_NE(server, nullptr);

  httplib::Result res = WhoAmI(*server, "");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(ParseJson<v1::WhoAmIResponse>(res->body).role(),
            v1::ROLE_CALL_HANDLER);

  httplib::Client plain(absl::StrCat("http://", server->http_address()));
  plain.set_connection_timeout(5, 0);
  plain.set_read_timeout(5, 0);
  httplib::Result cleartext = plain.Get("/healthz");
  EXPECT_FALSE(cleartext && cleartext->status == 200)
      << "plain HTTP was answered: " << cleartext->status;
}

TEST_F(HttpGatewayTlsTest, ClientCaRequiresACertificateItSigned) {
  std::unique_ptr<server::FrontdoorServer> server = Start(true);
  ASSERT_NE(server, nullptr);

  httplib::Result res = WhoAmI(*server, "client");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;

  httplib::Result none = WhoAmI(*server, "");
  EXPECT_FALSE(none) << "answered without a client certificate: "
                     << none->status;
  httplib::Result stranger = WhoAmI(*server, "stranger");
  EXPECT_FALSE(stranger) << "answered a certificate from another CA: "
                         << stranger->status;
}

// Over HTTPS, as over gRPC, a registered client certificate identifies the
// caller by itself; a token sent as well takes precedence; an unregistered
// certificate is no identity.
TEST_F(HttpGatewayTlsTest, ARegisteredClientCertificateIdentifiesTheCaller) {
  TestIdentities ids = TestIdentities::Create(ids_dir_.path());
  absl::StatusOr<v1::IdentityFile> file = auth::ReadIdentityFile(ids.file());
  ASSERT_TRUE(file.ok());
  v1::Identity* cert = file->add_identities();
  cert->set_principal("gp-system");
  cert->set_role(v1::ROLE_CLINICIAN);
  cert->set_certificate_common_name("test-client");  // client.pem's name
  ASSERT_TRUE(auth::WriteIdentityFile(ids.file(), *file).ok());
  std::unique_ptr<server::FrontdoorServer> server = Start(true, ids.file());
  ASSERT_NE(server, nullptr);

  httplib::Result by_cert = WhoAmI(*server, "client", "");
  ASSERT_TRUE(by_cert) << httplib::to_string(by_cert.error());
  ASSERT_EQ(by_cert->status, 200) << by_cert->body;
  v1::WhoAmIResponse me = ParseJson<v1::WhoAmIResponse>(by_cert->body);
  EXPECT_EQ(me.principal(), "gp-system");
  EXPECT_EQ(me.role(), v1::ROLE_CLINICIAN);
  EXPECT_EQ(me.authenticated_by(), "certificate");

  httplib::Result by_token = WhoAmI(
      *server, "client", absl::StrCat("Bearer ", ids.token(v1::ROLE_AUDITOR)));
  ASSERT_TRUE(by_token);
  ASSERT_EQ(by_token->status, 200) << by_token->body;
  EXPECT_EQ(ParseJson<v1::WhoAmIResponse>(by_token->body).principal(),
            "test-auditor");
  server.reset();

  // The same certificate where its name is not registered.
  std::unique_ptr<server::FrontdoorServer> other = Start(true);
  ASSERT_NE(other, nullptr);
  httplib::Result unknown = WhoAmI(*other, "client", "");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 401) << unknown->body;
  EXPECT_THAT(unknown->body, HasSubstr("certificate"));
}

TEST_F(HttpGatewayTlsTest, UnreadableCertificateFailsTheStart) {
  server::ServerOptions o = Options(data_.path());
  o.tls_cert_file = pki_.Path("missing.pem");
  o.tls_key_file = pki_.Path("server.key");
  EXPECT_FALSE(server::FrontdoorServer::Start(o).ok());
}

}  // namespace
}  // namespace frontdoor::gateway
