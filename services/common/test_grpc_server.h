// Test support: a real gRPC server on a free loopback port hosting the
// services under test, the way every service test starts one.

#ifndef FRONTDOOR_SERVICES_COMMON_TEST_GRPC_SERVER_H_
#define FRONTDOOR_SERVICES_COMMON_TEST_GRPC_SERVER_H_

#include <initializer_list>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace frontdoor::testing {

// Starts a server on 127.0.0.1 (plaintext, a port the kernel picks) with
// `services` registered (not owned; they must outlive the server). Sets
// `*address` to "127.0.0.1:PORT". Null if it could not start.
inline std::unique_ptr<grpc::Server> StartLocalServer(
    std::initializer_list<grpc::Service*> services, std::string* address) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  for (grpc::Service* s : services) builder.RegisterService(s);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return nullptr;
  *address = absl::StrCat("127.0.0.1:", port);
  return server;
}

}  // namespace frontdoor::testing

#endif  // FRONTDOOR_SERVICES_COMMON_TEST_GRPC_SERVER_H_
