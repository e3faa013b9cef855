#include "services/portal/portal.h"

#include <httplib.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace frontdoor::portal {
namespace {

using ::testing::HasSubstr;

// Tests run with the source tree as the working directory.
std::string ReadSource(const std::string& name) {
  std::ifstream in("services/portal/web/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class PortalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterPortal(server_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }

  httplib::Result Get(const std::string& path) {
    httplib::Client client("127.0.0.1", port_);
    return client.Get(path);
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

struct Served {
  const char* path;
  const char* file;
  const char* content_type;
};

TEST_F(PortalTest, ServesEachFileWithItsTypeAndTheSecurityHeaders) {
  const Served cases[] = {
      {"/", "index.html", "text/html; charset=utf-8"},
      {"/index.html", "index.html", "text/html; charset=utf-8"},
      {"/portal.js", "portal.js", "text/javascript; charset=utf-8"},
      {"/portal.css", "portal.css", "text/css; charset=utf-8"},
  };
  for (const Served& c : cases) {
    SCOPED_TRACE(c.path);
    httplib::Result res = Get(c.path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, ReadSource(c.file));
    EXPECT_EQ(res->get_header_value("Content-Type"), c.content_type);
    const std::string csp = res->get_header_value("Content-Security-Policy");
    EXPECT_THAT(csp, HasSubstr("default-src 'self'"));
    EXPECT_THAT(csp, HasSubstr("frame-ancestors 'none'"));
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(res->get_header_value("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(res->get_header_value("Cache-Control"), "no-cache");
  }
}

TEST_F(PortalTest, OtherPathsAreNotFound) {
  for (const char* path : {"/portal.jsx", "/web/index.html", "/portalXjs",
                           "/../portal.js", "/index.html/x"}) {
    SCOPED_TRACE(path);
    httplib::Result res = Get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404);
  }
}

TEST(PortalRoutesTest, ThePageLoadsOnlyItsOwnScriptAndStyles) {
  // CSP default-src 'self' forbids inline scripts and styles, so the page
  // must reference its script and style sheet, and hold neither inline.
  std::string page;
  for (const PortalRoute& r : PortalRoutes()) {
    if (r.path == "/") page = r.body;
  }
  ASSERT_FALSE(page.empty());
  EXPECT_THAT(page, HasSubstr("<script src=\"/portal.js\""));
  EXPECT_THAT(page, HasSubstr("<link rel=\"stylesheet\" href=\"/portal.css\""));
  EXPECT_THAT(page, ::testing::Not(HasSubstr("<script>")));
  EXPECT_THAT(page, ::testing::Not(HasSubstr("<style")));
  EXPECT_THAT(page, ::testing::Not(HasSubstr(" style=\"")));
  EXPECT_THAT(page, ::testing::Not(HasSubstr("http://")));
  EXPECT_THAT(page, ::testing::Not(HasSubstr("https://")));
}

}  // namespace
}  // namespace frontdoor::portal
