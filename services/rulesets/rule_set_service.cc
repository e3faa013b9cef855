#include "services/rulesets/rule_set_service.h"

#include <utility>

#include "services/common/grpc_status.h"

namespace frontdoor::rulesets {
namespace {

// A server-streaming call finished at once with `status`.
class FinishedWriter final
    : public grpc::ServerWriteReactor<v1::ReplayProgress> {
 public:
  explicit FinishedWriter(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

template <typename T>
void FinishWith(grpc::ServerUnaryReactor* reactor, absl::StatusOr<T> result,
                T* response) {
  if (result.ok()) {
    *response = *std::move(result);
    reactor->Finish(grpc::Status::OK);
  } else {
    reactor->Finish(ToGrpcStatus(result.status()));
  }
}

}  // namespace

RuleSetServiceImpl::RuleSetServiceImpl(RuleSetManager* manager, Options options)
    : manager_(manager), options_(std::move(options)) {
  const int n = std::max(1, options_.workers);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { WorkLoop(); });
}

RuleSetServiceImpl::~RuleSetServiceImpl() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : workers_) t.join();
}

void RuleSetServiceImpl::Post(std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(fn));
}

void RuleSetServiceImpl::WorkLoop() {
  while (true) {
    std::function<void()> fn;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      // Calls already queued are still answered when stopping.
      if (queue_.empty()) return;
      fn = std::move(queue_.front());
      queue_.pop_front();
    }
    fn();
  }
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::ListVersions(
    grpc::CallbackServerContext* ctx,
    const v1::ListRuleSetVersionsRequest* request,
    v1::ListRuleSetVersionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  FinishWith(reactor, manager_->ListVersions(*request), response);
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::GetVersion(
    grpc::CallbackServerContext* ctx,
    const v1::GetRuleSetVersionRequest* request, v1::RuleSetVersion* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  FinishWith(reactor, manager_->GetVersion(*request), response);
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::GetActive(
    grpc::CallbackServerContext* ctx,
    const v1::GetActiveRuleSetRequest* request, v1::RuleSetVersion* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  FinishWith(reactor, manager_->GetActive(), response);
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::Validate(
    grpc::CallbackServerContext* ctx, const v1::ValidateRuleSetRequest* request,
    v1::ValidationReport* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Post([this, reactor, request, response] {
    FinishWith(reactor, manager_->Validate(*request), response);
  });
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::Propose(
    grpc::CallbackServerContext* ctx, const v1::ProposeRuleSetRequest* request,
    v1::RuleSetVersion* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Post([this, reactor, request, response] {
    FinishWith(reactor, manager_->Propose(*request), response);
  });
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::Approve(
    grpc::CallbackServerContext* ctx, const v1::ApproveRuleSetRequest* request,
    v1::RuleSetVersion* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Post([this, reactor, request, response] {
    FinishWith(reactor, manager_->Approve(*request), response);
  });
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::Activate(
    grpc::CallbackServerContext* ctx, const v1::ActivateRuleSetRequest* request,
    v1::RuleSetVersion* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Post([this, reactor, request, response] {
    FinishWith(reactor, manager_->Activate(*request), response);
  });
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::Rollback(
    grpc::CallbackServerContext* ctx, const v1::RollbackRuleSetRequest* request,
    v1::RuleSetVersion* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Post([this, reactor, request, response] {
    FinishWith(reactor, manager_->Rollback(*request), response);
  });
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::Diff(
    grpc::CallbackServerContext* ctx, const v1::DiffRuleSetsRequest* request,
    v1::RuleSetDiff* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (request->regions() && !options_.regions) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::UNIMPLEMENTED,
        "decision regions are not available in this server yet; ask for the "
        "row diff (without regions)"));
    return reactor;
  }
  Post([this, reactor, request, response] {
    absl::StatusOr<v1::RuleSetDiff> diff = manager_->DiffRows(*request);
    if (diff.ok() && request->regions()) {
      absl::StatusOr<std::shared_ptr<const rules::CompiledRuleSet>> from =
          manager_->Compiled(diff->from_version());
      absl::StatusOr<std::shared_ptr<const rules::CompiledRuleSet>> to =
          manager_->Compiled(diff->to_version());
      absl::Status s = !from.ok() ? from.status() : to.status();
      if (s.ok()) s = options_.regions(**from, **to, &*diff);
      if (!s.ok()) diff = s;
    }
    FinishWith(reactor, std::move(diff), response);
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::ReplayProgress>* RuleSetServiceImpl::Replay(
    grpc::CallbackServerContext* ctx, const v1::ReplayRequest* request) {
  return new FinishedWriter(
      grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                   "replay is not available in this server yet"));
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::SetShadow(
    grpc::CallbackServerContext* ctx, const v1::SetShadowRequest* request,
    v1::ShadowReport* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(
      grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                   "shadow evaluation is not available in this server yet"));
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::GetShadowReport(
    grpc::CallbackServerContext* ctx, const v1::GetShadowReportRequest* request,
    v1::ShadowReport* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(
      grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                   "shadow evaluation is not available in this server yet"));
  return reactor;
}

}  // namespace frontdoor::rulesets
