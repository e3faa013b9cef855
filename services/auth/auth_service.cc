#include "services/auth/auth_service.h"

#include "services/common/proto_time.h"

namespace frontdoor::auth {

grpc::ServerUnaryReactor* AuthServiceImpl::WhoAmI(
    grpc::CallbackServerContext* ctx, const v1::WhoAmIRequest* request,
    v1::WhoAmIResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  std::optional<Principal> p = AdmitUnary(
      *authorizer_, ctx, reactor, "/frontdoor.v1.AuthService/WhoAmI");
  if (!p) return reactor;
  response->set_principal(p->name);
  response->set_role(p->role);
  response->set_authenticated_by(p->authenticated_by);
  if (p->expires_at) *response->mutable_expires_at() = ToProtoTime(*p->expires_at);
  for (const std::string& method : DeclaredMethods()) {
    std::optional<Permission> perm = PermissionFor(method);
    if (perm && *perm != Permission::kPublic && RoleHas(p->role, *perm))
      response->add_allowed_methods(method);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace frontdoor::auth
