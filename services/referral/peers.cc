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

// One call in flight: its context and request live until the reply, when
// `done` gets the outcome and the call is freed.
template <typename Request>
struct Call {
  Call(absl::Duration deadline, Request r, PeerDone d)
      : request(std::move(r)), done(std::move(d)) {
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  }

  grpc::ClientContext ctx;
  Request request;
  PeerDone done;
};

// A peer service in another process: its stub, made from the provider's
// channel on first use, and the deadline of every call.
template <typename Service>
class GrpcPeer {
 protected:
  GrpcPeer(ChannelProvider channel, absl::Duration deadline, const char* unreachable)
      : channel_(std::move(channel)), deadline_(deadline), unreachable_(unreachable) {}

  // Starts one call with `request`: `issue(async, ctx, request, reply)`
  // calls the method on the stub's async() interface. UNAVAILABLE while
  // there is no channel.
  template <typename Request, typename Issue>
  void Start(Request request, PeerDone done, Issue issue) {
    typename Service::Stub* stub = Stub();
    if (stub == nullptr) return done(absl::UnavailableError(unreachable_));
    auto* call = new Call<Request>(deadline_, std::move(request), std::move(done));
    issue(stub->async(), &call->ctx, &call->request, [call](grpc::Status s) {
      std::unique_ptr<Call<Request>> owned(call);
      owned->done(FromGrpcStatus(s));
    });
  }

 private:
  typename Service::Stub* Stub() {
    absl::MutexLock lock(&mu_);
    if (stub_ == nullptr) {
      std::shared_ptr<grpc::Channel> channel = channel_();
      if (channel == nullptr) return nullptr;
      stub_ = Service::NewStub(channel);
    }
    return stub_.get();
  }

  const ChannelProvider channel_;
  const absl::Duration deadline_;
  const char* const unreachable_;
  absl::Mutex mu_;
  std::unique_ptr<typename Service::Stub> stub_ ABSL_GUARDED_BY(mu_);
};

class GrpcTriageClient final : public TriageClient, private GrpcPeer<v1::TriageService> {
 public:
  GrpcTriageClient(ChannelProvider channel, absl::Duration deadline)
      : GrpcPeer(std::move(channel), deadline, "triage is not reachable") {}

  void Triage(const v1::Referral& referral, v1::TriageDecision* decision,
              PeerDone done) override {
    v1::TriageRequest request;
    *request.mutable_referral() = referral;
    Start(std::move(request), std::move(done),
          [decision](auto* async, auto* ctx, auto* req, auto reply) {
            async->Triage(ctx, req, decision, std::move(reply));
          });
  }

  void GetRuleSetInfo(v1::RuleSetInfo* info, PeerDone done) override {
    Start(v1::GetRuleSetInfoRequest(), std::move(done),
          [info](auto* async, auto* ctx, auto* req, auto reply) {
            async->GetRuleSetInfo(ctx, req, info, std::move(reply));
          });
  }
};

class GrpcDirectoryClient final : public DirectoryClient,
                                  private GrpcPeer<v1::DirectoryService> {
 public:
  GrpcDirectoryClient(ChannelProvider channel, absl::Duration deadline)
      : GrpcPeer(std::move(channel), deadline, "the service directory is not reachable") {}

  void MatchService(const v1::MatchServiceRequest& request, v1::ServiceMatch* match,
                    PeerDone done) override {
    Start(request, std::move(done), [match](auto* async, auto* ctx, auto* req, auto reply) {
      async->MatchService(ctx, req, match, std::move(reply));
    });
  }

  void GetService(const std::string& id, v1::ServiceState* state, PeerDone done) override {
    v1::GetServiceRequest request;
    request.set_id(id);
    Start(std::move(request), std::move(done),
          [state](auto* async, auto* ctx, auto* req, auto reply) {
            async->GetService(ctx, req, state, std::move(reply));
          });
  }
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
