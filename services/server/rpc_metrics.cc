#include "services/server/rpc_metrics.h"

#include <chrono>
#include <string>

#include "absl/status/status.h"

namespace frontdoor::server {
namespace {

constexpr char kRequests[] = "frontdoor_rpc_requests_total";
constexpr char kLatency[] = "frontdoor_rpc_latency_seconds";

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(Metrics* metrics, const char* method)
      : metrics_(metrics),
        method_(method != nullptr ? method : "unknown"),
        start_(std::chrono::steady_clock::now()) {}

  ~RpcMetricsInterceptor() override {
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS) &&
        !recorded_) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
            .count();
    metrics_->Increment(kRequests,
                        {method_, absl::StatusCodeToString(
                                      static_cast<absl::StatusCode>(code))});
    metrics_->Observe(kLatency, {method_}, seconds);
  }

  Metrics* const metrics_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;  // hooks of one call never run concurrently
};

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(Metrics* metrics) : metrics_(metrics) {
    metrics_->Declare(kRequests, Metrics::Type::kCounter,
                      "RPCs handled, by method and status code.",
                      {"method", "code"});
    metrics_->Declare(
        kLatency, Metrics::Type::kHistogram,
        "RPC latency in seconds, from the call's start to its status.",
        {"method"});
  }

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(metrics_, info->method());
  }

 private:
  Metrics* const metrics_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRpcMetricsInterceptorFactory(Metrics* metrics) {
  return std::make_unique<RpcMetricsInterceptorFactory>(metrics);
}

}  // namespace frontdoor::server
