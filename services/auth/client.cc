#include "services/auth/client.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"

namespace frontdoor::auth {
namespace {

class BearerInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      std::multimap<std::string, std::string>* md =
          methods->GetSendInitialMetadata();
      if (md->find("authorization") == md->end())
        md->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;  // owned by the factory, which outlives calls
};

class BearerFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerFactory(const std::string& token)
      : header_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new BearerInterceptor(&header_);
  }

 private:
  const std::string header_;
};

}  // namespace

std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
BearerTokenInterceptors(const std::string& token) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      out;
  if (!token.empty()) out.push_back(std::make_unique<BearerFactory>(token));
  return out;
}

std::shared_ptr<grpc::Channel> CreateChannelWithToken(
    const std::string& target,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& args, const std::string& token) {
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      target, credentials, args, BearerTokenInterceptors(token));
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const ClientTlsFiles& files) {
  const std::string& flag = files.flag_prefix;
  if (files.ca_file.empty()) {
    if (!files.cert_file.empty() || !files.key_file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a client certificate needs ", flag, "ca (the server's CA) too"));
    }
    return grpc::InsecureChannelCredentials();
  }
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, "cert and ", flag, "key go together"));
  }
  // The PEM file named by flag+`name`.
  auto read = [&flag](absl::string_view name,
                      const std::string& path) -> absl::StatusOr<std::string> {
    absl::StatusOr<std::string> pem = ReadSmallFile(path);
    if (!pem.ok()) {
      return absl::Status(pem.status().code(),
                          absl::StrCat(flag, name, ": ", pem.status().message()));
    }
    return pem;
  };
  grpc::SslCredentialsOptions ssl;
  absl::StatusOr<std::string> ca = read("ca", files.ca_file);
  if (!ca.ok()) return ca.status();
  ssl.pem_root_certs = *std::move(ca);
  if (!files.cert_file.empty()) {
    absl::StatusOr<std::string> cert = read("cert", files.cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = read("key", files.key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace frontdoor::auth
