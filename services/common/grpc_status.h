#ifndef FRONTDOOR_SERVICES_COMMON_GRPC_STATUS_H_
#define FRONTDOOR_SERVICES_COMMON_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace frontdoor {

// absl::Status -> grpc::Status at the RPC edge. The canonical codes have the
// same numbers in both.
inline grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace frontdoor

#endif  // FRONTDOOR_SERVICES_COMMON_GRPC_STATUS_H_
