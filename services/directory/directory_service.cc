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

DirectoryServiceImpl::DirectoryServiceImpl(std::shared_ptr<Directory> directory)
    : directory_(std::move(directory)) {}

grpc::ServerUnaryReactor* DirectoryServiceImpl::ListServices(
    grpc::CallbackServerContext* ctx, const v1::ListServicesRequest* request,
    v1::ListServicesResponse* response) {
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
  return Reply(ctx, directory_->GetService(request->id()), response);
}

grpc::ServerUnaryReactor* DirectoryServiceImpl::SetCapacity(
    grpc::CallbackServerContext* ctx, const v1::SetCapacityRequest* request,
    v1::ServiceState* response) {
  return Reply(ctx, directory_->SetCapacity(*request), response);
}

grpc::ServerUnaryReactor* DirectoryServiceImpl::MatchService(
    grpc::CallbackServerContext* ctx, const v1::MatchServiceRequest* request,
    v1::ServiceMatch* response) {
  return Reply(ctx, directory_->MatchService(*request), response);
}

std::unique_ptr<DirectoryServiceImpl> NewDirectoryService(
    std::shared_ptr<Directory> directory) {
  return std::make_unique<DirectoryServiceImpl>(std::move(directory));
}

}  // namespace frontdoor::directory
