// The HTTP/JSON API of frontdoor-server (docs/api.md): every route is a
// thin translation onto one unary gRPC method, called through a channel to
// the server itself, so authentication, authorisation and auditing happen
// only in the gRPC layer and each route's permission is its RPC's.

#ifndef FRONTDOOR_SERVICES_GATEWAY_HTTP_GATEWAY_H_
#define FRONTDOOR_SERVICES_GATEWAY_HTTP_GATEWAY_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"

namespace httplib {
class ContentReader;
struct Request;
struct Response;
class Server;
}  // namespace httplib

namespace frontdoor::gateway {

struct HttpGatewayOptions {
  // Deadline of each forwarded call.
  absl::Duration deadline = absl::Seconds(10);
  // Largest request body accepted (larger: 413).
  size_t max_body_bytes = size_t{1} << 20;
  // Full names of the services the channel serves
  // ("frontdoor.v1.ReferralService"); the generic route answers 404 for
  // any other. Empty: every service of package frontdoor.v1.
  std::vector<std::string> services;
  // The server's gateway secret (auth::Authorizer::Options::gateway_secret),
  // or empty: sent with every call as "x-frontdoor-gateway". With it, an
  // HTTPS request without an Authorization header whose client certificate
  // the handshake verified is forwarded with the certificate's common name
  // in "x-frontdoor-certificate-cn".
  std::string gateway_secret;
};

// Translates HTTP/JSON requests into unary gRPC calls and their results back
// into JSON (protobuf's JSON mapping, lowerCamel field names).
//
// The caller's Authorization header goes with the call as "authorization"
// metadata, verbatim; without one, a verified HTTPS client certificate
// stands for the caller (HttpGatewayOptions::gateway_secret). The gateway
// adds no credentials of its own, so the channel must not either (no
// token-adding interceptors). X-Request-Id is
// forwarded (or made up) and echoed on every response. Errors are
// {"error":{"code","status","message","field"}}.
//
// The channel comes from `channel_getter`, asked on each call until it
// returns non-null (the server's in-process channel exists only once its
// gRPC server has started; calls before then get 503), then kept.
//
// Thread-safe. Must outlive every httplib::Server it is registered on.
class HttpGateway {
 public:
  using ChannelGetter = std::function<std::shared_ptr<grpc::Channel>()>;

  HttpGateway(ChannelGetter channel_getter, HttpGatewayOptions options);
  HttpGateway(std::shared_ptr<grpc::Channel> channel,
              HttpGatewayOptions options);

  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;

  // Adds the routes under /api/ (including a JSON 404 for any other /api/
  // path, so register other /api/ routes before this) and bounds every
  // request body on `server` to max_body_bytes: httplib would otherwise
  // buffer a body of any size before a handler sees it.
  void Register(httplib::Server& server);

 private:
  struct Route;
  struct Failure;

  void Serve(const Route& route, const httplib::Request& req,
             httplib::Response& res, const httplib::ContentReader* reader);
  std::optional<Failure> BuildRequest(const Route& route,
                                      const httplib::Request& req,
                                      const httplib::ContentReader* reader,
                                      google::protobuf::Message* request,
                                      httplib::Response& res) const;
  absl::Status Call(const google::protobuf::MethodDescriptor& method,
                    const google::protobuf::Message& request,
                    const httplib::Request& req, absl::string_view request_id,
                    google::protobuf::Message* response);
  std::shared_ptr<grpc::Channel> Channel();

  const ChannelGetter channel_getter_;
  const HttpGatewayOptions options_;
  absl::Mutex mu_;
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
};

// The HTTP status for a gRPC status code (docs/api.md: OK 200,
// INVALID_ARGUMENT 400, NOT_FOUND 404, ... CANCELLED 499, others 500).
int HttpStatusFor(absl::StatusCode code);

// The field an error message is about, as a lowerCamel JSON path from
// `request`, or "" if it names none. Understands the services' validation
// messages ("referral.patient.nhs_number: must be 10 digits") and
// protobuf's JSON parse errors ("(referral.patient) nhsNumbr: Cannot find
// field.", "(referral.problem): invalid value ...").
std::string ErrorField(const google::protobuf::Descriptor& request,
                       absl::string_view message);

}  // namespace frontdoor::gateway

#endif  // FRONTDOOR_SERVICES_GATEWAY_HTTP_GATEWAY_H_
