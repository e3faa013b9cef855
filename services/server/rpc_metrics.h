#ifndef FRONTDOOR_SERVICES_SERVER_RPC_METRICS_H_
#define FRONTDOOR_SERVICES_SERVER_RPC_METRICS_H_

#include <memory>

#include "grpcpp/support/server_interceptor.h"
#include "services/common/metrics.h"

namespace frontdoor::server {

// A server interceptor factory that records, for every RPC the server
// handles (including in-process calls between roles, health and
// reflection):
//   frontdoor_rpc_requests_total{method,code}  counter
//   frontdoor_rpc_latency_seconds{method}      histogram, from the call's
//                                              start to its status being sent
// `method` is the full name ("/frontdoor.v1.TriageService/Triage"), `code`
// the canonical name ("OK", "INVALID_ARGUMENT"). A call that ends without
// sending a status (the client went away) counts as CANCELLED.
// `metrics` must outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRpcMetricsInterceptorFactory(Metrics* metrics);

}  // namespace frontdoor::server

#endif  // FRONTDOOR_SERVICES_SERVER_RPC_METRICS_H_
