#ifndef FRONTDOOR_SERVICES_DIRECTORY_DIRECTORY_SERVICE_H_
#define FRONTDOOR_SERVICES_DIRECTORY_DIRECTORY_SERVICE_H_

#include <memory>

#include "frontdoor/v1/directory_service.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/directory/directory.h"

namespace frontdoor::directory {

// DirectoryService on the gRPC callback API over a Directory. Every handler
// validates, calls the Directory and finishes on the callback thread;
// validation errors are INVALID_ARGUMENT with the field path
// ("set_capacity.capacity"), unknown services NOT_FOUND. MatchService and
// the reads are CPU-only; SetCapacity waits for the capacity store's write
// when there is one (a rare call by service managers).
//
// Every call is authorised first (services/auth/permissions.cc).
//
// Thread-safe. The authorizer must outlive the service.
class DirectoryServiceImpl final
    : public v1::DirectoryService::CallbackService {
 public:
  DirectoryServiceImpl(std::shared_ptr<Directory> directory,
                       const auth::Authorizer* authorizer);

  grpc::ServerUnaryReactor* ListServices(
      grpc::CallbackServerContext* ctx, const v1::ListServicesRequest* request,
      v1::ListServicesResponse* response) override;
  grpc::ServerUnaryReactor* GetService(grpc::CallbackServerContext* ctx,
                                       const v1::GetServiceRequest* request,
                                       v1::ServiceState* response) override;
  grpc::ServerUnaryReactor* SetCapacity(grpc::CallbackServerContext* ctx,
                                        const v1::SetCapacityRequest* request,
                                        v1::ServiceState* response) override;
  grpc::ServerUnaryReactor* MatchService(grpc::CallbackServerContext* ctx,
                                         const v1::MatchServiceRequest* request,
                                         v1::ServiceMatch* response) override;

 private:
  absl::Status Authorize(const grpc::ServerContextBase& ctx,
                         absl::string_view method) const {
    return authorizer_->Authorize(ctx, method).status;
  }

  const std::shared_ptr<Directory> directory_;
  const auth::Authorizer* const authorizer_;
};

// The service to register with a grpc::ServerBuilder.
std::unique_ptr<DirectoryServiceImpl> NewDirectoryService(
    std::shared_ptr<Directory> directory, const auth::Authorizer* authorizer);

}  // namespace frontdoor::directory

#endif  // FRONTDOOR_SERVICES_DIRECTORY_DIRECTORY_SERVICE_H_
