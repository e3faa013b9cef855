// The client side of authentication: channels whose every call carries the
// caller's bearer token, and channel credentials for TLS and mTLS. Used by
// the CLI, the load tool, tests, and the server's roles calling each other.

#ifndef FRONTDOOR_SERVICES_AUTH_CLIENT_H_
#define FRONTDOOR_SERVICES_AUTH_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/client_interceptor.h"

namespace frontdoor::auth {

// Interceptors that add "authorization: Bearer <token>" to every call that
// does not already carry an authorization header. Empty token: none.
std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
BearerTokenInterceptors(const std::string& token);

// grpc::CreateCustomChannel plus BearerTokenInterceptors(token).
std::shared_ptr<grpc::Channel> CreateChannelWithToken(
    const std::string& target,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& args, const std::string& token);

// Where a client's TLS material lives (PEM files). All empty: plaintext.
struct ClientTlsFiles {
  std::string ca_file;    // roots to verify the server; required for TLS
  std::string cert_file;  // client certificate (mTLS), with key_file
  std::string key_file;
  // How the flags that name these files start, for error messages
  // ("--tls_" names --tls_ca, --tls_cert and --tls_key).
  std::string flag_prefix = "--tls_";
};
// Insecure credentials when `files.ca_file` is empty; otherwise TLS (with a
// client certificate when cert and key are given). Errors name the flag and
// the file.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const ClientTlsFiles& files);

// The whole content of `path`, for PEM files and token files. NOT_FOUND
// naming the path when it cannot be read.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

}  // namespace frontdoor::auth

#endif  // FRONTDOOR_SERVICES_AUTH_CLIENT_H_
