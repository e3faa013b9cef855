#ifndef FRONTDOOR_SERVICES_AUTH_AUTH_SERVICE_H_
#define FRONTDOOR_SERVICES_AUTH_AUTH_SERVICE_H_

#include "frontdoor/v1/auth.grpc.pb.h"
#include "services/auth/authorizer.h"

namespace frontdoor::auth {

// AuthService.WhoAmI: the caller as the server sees them, and the RPCs their
// role allows (the portal shows only what the signed-in role may use).
// Thread-safe; the authorizer must outlive the service.
class AuthServiceImpl final : public v1::AuthService::CallbackService {
 public:
  explicit AuthServiceImpl(const Authorizer* authorizer)
      : authorizer_(authorizer) {}

  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* ctx,
                                   const v1::WhoAmIRequest* request,
                                   v1::WhoAmIResponse* response) override;

 private:
  const Authorizer* const authorizer_;
};

}  // namespace frontdoor::auth

#endif  // FRONTDOOR_SERVICES_AUTH_AUTH_SERVICE_H_
