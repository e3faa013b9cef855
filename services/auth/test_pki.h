// Test support: throwaway certificates made with the openssl command, for
// tests of TLS and mTLS on the gRPC and HTTP listeners.

#ifndef FRONTDOOR_SERVICES_AUTH_TEST_PKI_H_
#define FRONTDOOR_SERVICES_AUTH_TEST_PKI_H_

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace frontdoor::testing {

// Whether the openssl command is there (tests skip without it).
inline bool HaveOpenssl() {
  return std::system("openssl version >/dev/null 2>&1") == 0;
}

// Files: ca.pem/.key, other-ca.pem/.key, server.pem/.key (CN localhost,
// SAN 127.0.0.1), client.pem/.key (CN test-client, signed by ca) and
// stranger.pem/.key (CN test-stranger, signed by other-ca).
// A throwaway CA with a server certificate for 127.0.0.1 and a client
// certificate, and a second CA with a client certificate of its own.
class TestPki {
 public:
  explicit TestPki(const std::string& dir) : dir_(dir) {}

  bool Make() {
    const std::string ext = Path("server.ext");
    std::ofstream(ext) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    return Ca("ca") && Ca("other-ca") &&
           Leaf("server", "ca", "localhost", ext) &&
           Leaf("client", "ca", "test-client", "") &&
           Leaf("stranger", "other-ca", "test-stranger", "");
  }

  std::string Path(const std::string& name) const {
    return absl::StrCat(dir_, "/", name);
  }

 private:
  bool Run(const std::string& command) {
    const std::string line = absl::StrCat(command, " 2>>", Path("openssl.log"));
    if (std::system(line.c_str()) == 0) return true;
    ADD_FAILURE() << line << "\n" << ReadLog();
    return false;
  }
  bool Ca(const std::string& name) {
    return Run(absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -days 2 -subj /CN=",
        name, " -keyout ", Path(name + ".key"), " -out ", Path(name + ".pem")));
  }
  bool Leaf(const std::string& name, const std::string& ca,
            const std::string& cn, const std::string& ext) {
    return Run(absl::StrCat(
               "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
               "-nodes -subj /CN=",
               cn, " -keyout ", Path(name + ".key"), " -out ",
               Path(name + ".csr"))) &&
           Run(absl::StrCat("openssl x509 -req -days 2 -in ",
                            Path(name + ".csr"), " -CA ", Path(ca + ".pem"),
                            " -CAkey ", Path(ca + ".key"),
                            " -CAcreateserial -out ", Path(name + ".pem"),
                            ext.empty() ? "" : " -extfile " + ext));
  }

  std::string ReadLog() const {
    std::ifstream in(Path("openssl.log"));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
};


}  // namespace frontdoor::testing

#endif  // FRONTDOOR_SERVICES_AUTH_TEST_PKI_H_
