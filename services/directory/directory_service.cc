#include "services/directory/directory_service.h"

#include <utility>

#include "services/common/grpc_status.h"

namespace frontdoor::directory {
namespace {

// Finishes the call with `result`'s error, or with OK after moving its
// value into `*response`.
template <typename T, typename R>
grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx,
                                absl::StatusOr<T> result, R* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!result.ok()) {
    reactor->Finish(ToGrpcStatus(result.status()));
    return reactor;
  }
  *response = *std::move(result);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace

DirectoryServiceImpl::DirectoryServiceImpl(std::shared_ptr<Directory> directory,
                                           const auth::Authorizer* authorizer)
    : directory_(std::move(directory)), authorizer_(authorizer) {}

grpc::ServerUnaryReactor* DirectoryServiceImpl::ListServices(
    grpc::CallbackServerContext* ctx, const v1::ListServicesRequest* request,
    v1::ListServicesResponse* response) {
  if (absl::Status st = Authorize(*ctx, "/frontdoor.v1.DirectoryService/ListServices");
      !st.ok()) {
    return Reply(ctx, absl::StatusOr<v1::ListServicesResponse>(st), response);
  }
  absl::StatusOr<std::vector<v1::ServiceState>> states =
      directory_->ListServices(request->pathway());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!states.ok()) {
    reactor->Finish(ToGrpcStatus(states.status()));
    return reactor;
  }
  for (v1::ServiceState& s : *states) {
    *response->add_services() = std::move(s);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* DirectoryServiceImpl::GetService(
    grpc::CallbackServerContext* ctx, const v1::GetServiceRequest* request,
    v1::ServiceState* response) {
  if (absl::Status st = Authorize(*ctx, "/frontdoor.v1.DirectoryService/GetService");
      !st.ok()) {
    return Reply(ctx, absl::StatusOr<v1::ServiceState>(st), response);
  }
  return Reply(ctx, directory_->GetService(request->id()), response);
}

grpc::ServerUnaryReactor* DirectoryServiceImpl::SetCapacity(
    grpc::CallbackServerContext* ctx, const v1::SetCapacityRequest* request,
    v1::ServiceState* response) {
  auth::AuthResult who =
      authorizer_->Authorize(*ctx, "/frontdoor.v1.DirectoryService/SetCapacity");
  if (!who.ok()) {
    return Reply(ctx, absl::StatusOr<v1::ServiceState>(who.status), response);
  }
  // Recorded as set by the authenticated caller, whatever the request says.
  v1::SetCapacityRequest mine = *request;
  mine.set_set_by(who.principal.name);
  return Reply(ctx, directory_->SetCapacity(mine), response);
}

grpc::ServerUnaryReactor* DirectoryServiceImpl::MatchService(
    grpc::CallbackServerContext* ctx, const v1::MatchServiceRequest* request,
    v1::ServiceMatch* response) {
  if (absl::Status st = Authorize(*ctx, "/frontdoor.v1.DirectoryService/MatchService");
      !st.ok()) {
    return Reply(ctx, absl::StatusOr<v1::ServiceMatch>(st), response);
  }
  return Reply(ctx, directory_->MatchService(*request), response);
}

std::unique_ptr<DirectoryServiceImpl> NewDirectoryService(
    std::shared_ptr<Directory> directory, const auth::Authorizer* authorizer) {
  return std::make_unique<DirectoryServiceImpl>(std::move(directory),
                                                authorizer);
}

}  // namespace frontdoor::directory
