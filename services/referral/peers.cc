#include "services/referral/peers.h"

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "frontdoor/v1/directory_service.grpc.pb.h"
#include "frontdoor/v1/triage_service.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "services/common/grpc_status.h"

namespace frontdoor::referral {
namespace {

// A stub made from the provider's channel on first use.
template <typename Service>
class LazyStub {
 public:
  explicit LazyStub(ChannelProvider channel) : channel_(std::move(channel)) {}

  typename Service::Stub* Get() {
    absl::MutexLock lock(&mu_);
    if (stub_ == nullptr) {
      std::shared_ptr<grpc::Channel> channel = channel_();
      if (channel == nullptr) return nullptr;
      stub_ = Service::NewStub(channel);
    }
    return stub_.get();
  }

 private:
  const ChannelProvider channel_;
  absl::Mutex mu_;
  std::unique_ptr<typename Service::Stub> stub_ ABSL_GUARDED_BY(mu_);
};

// One call in flight: its context and request live until the reply, when
// `done` gets the outcome and the call is freed.
template <typename Request>
struct Call {
  Call(absl::Duration deadline, PeerDone d) : done(std::move(d)) {
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  }
  // The reactor for the stub's async() method.
  static std::function<void(grpc::Status)> Reply(Call* call) {
    return [call](grpc::Status s) {
      std::unique_ptr<Call> owned(call);
      owned->done(FromGrpcStatus(s));
    };
  }

  grpc::ClientContext ctx;
  Request request;
  PeerDone done;
};

class GrpcTriageClient final : public TriageClient {
 public:
  GrpcTriageClient(ChannelProvider channel, absl::Duration deadline)
      : stub_(std::move(channel)), deadline_(deadline) {}

  void Triage(const v1::Referral& referral, v1::TriageDecision* decision,
              PeerDone done) override {
    v1::TriageService::Stub* stub = stub_.Get();
    if (stub == nullptr) return done(Unreachable());
    auto* call = new Call<v1::TriageRequest>(deadline_, std::move(done));
    *call->request.mutable_referral() = referral;
    stub->async()->Triage(&call->ctx, &call->request, decision, Call<v1::TriageRequest>::Reply(call));
  }

  void GetRuleSetInfo(v1::RuleSetInfo* info, PeerDone done) override {
    v1::TriageService::Stub* stub = stub_.Get();
    if (stub == nullptr) return done(Unreachable());
    auto* call = new Call<v1::GetRuleSetInfoRequest>(deadline_, std::move(done));
    stub->async()->GetRuleSetInfo(&call->ctx, &call->request, info,
                                  Call<v1::GetRuleSetInfoRequest>::Reply(call));
  }

 private:
  static absl::Status Unreachable() { return absl::UnavailableError("triage is not reachable"); }

  LazyStub<v1::TriageService> stub_;
  const absl::Duration deadline_;
};

class GrpcDirectoryClient final : public DirectoryClient {
 public:
  GrpcDirectoryClient(ChannelProvider channel, absl::Duration deadline)
      : stub_(std::move(channel)), deadline_(deadline) {}

  void MatchService(const v1::MatchServiceRequest& request, v1::ServiceMatch* match,
                    PeerDone done) override {
    v1::DirectoryService::Stub* stub = stub_.Get();
    if (stub == nullptr) return done(Unreachable());
    auto* call = new Call<v1::MatchServiceRequest>(deadline_, std::move(done));
    call->request = request;
    stub->async()->MatchService(&call->ctx, &call->request, match,
                                Call<v1::MatchServiceRequest>::Reply(call));
  }

  void GetService(const std::string& id, v1::ServiceState* state, PeerDone done) override {
    v1::DirectoryService::Stub* stub = stub_.Get();
    if (stub == nullptr) return done(Unreachable());
    auto* call = new Call<v1::GetServiceRequest>(deadline_, std::move(done));
    call->request.set_id(id);
    stub->async()->GetService(&call->ctx, &call->request, state,
                              Call<v1::GetServiceRequest>::Reply(call));
  }

 private:
  static absl::Status Unreachable() {
    return absl::UnavailableError("the service directory is not reachable");
  }

  LazyStub<v1::DirectoryService> stub_;
  const absl::Duration deadline_;
};

}  // namespace

std::unique_ptr<TriageClient> NewGrpcTriageClient(ChannelProvider channel,
                                                  absl::Duration deadline) {
  return std::make_unique<GrpcTriageClient>(std::move(channel), deadline);
}

std::unique_ptr<DirectoryClient> NewGrpcDirectoryClient(ChannelProvider channel,
                                                        absl::Duration deadline) {
  return std::make_unique<GrpcDirectoryClient>(std::move(channel), deadline);
}

absl::Status WaitFor(const std::function<void(PeerDone)>& start) {
  absl::Notification done;
  absl::Status result;
  start([&](absl::Status s) {
    result = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

}  // namespace frontdoor::referral
