#include "services/rulesets/rule_set_service.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/grpc_status.h"
#include "services/common/log.h"
#include "services/common/proto_time.h"
#include "services/common/status_macros.h"

namespace frontdoor::rulesets {
namespace {

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

RuleSetServiceImpl::RuleSetServiceImpl(RuleSetManager* manager,
                                       const auth::Authorizer* authorizer,
                                       Options options)
    : manager_(manager),
      authorizer_(authorizer),
      options_(std::move(options)) {
  const int n = std::max(1, options_.workers);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { WorkLoop(); });
}

RuleSetServiceImpl::~RuleSetServiceImpl() {
  {
    absl::MutexLock lock(&shadow_mu_);
    if (options_.triage != nullptr && shadow_ != nullptr) {
      options_.triage->SetDecisionTap(nullptr);
    }
    if (shadow_ != nullptr) shadow_->Stop();
    shadow_.reset();
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : workers_) t.join();
  std::list<ReplayJob> replays;
  {
    absl::MutexLock lock(&replay_mu_);
    replays.swap(replays_);
  }
  for (ReplayJob& job : replays) job.thread.join();
}

std::optional<auth::Principal> RuleSetServiceImpl::Admit(
    grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
    absl::string_view method) const {
  return auth::AdmitUnary(
      *authorizer_, ctx, reactor,
      absl::StrCat("/frontdoor.v1.RuleSetService/", method));
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
  if (!Admit(ctx, reactor, "ListVersions")) return reactor;
  FinishWith(reactor, manager_->ListVersions(*request), response);
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::GetVersion(
    grpc::CallbackServerContext* ctx,
    const v1::GetRuleSetVersionRequest* request, v1::RuleSetVersion* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!Admit(ctx, reactor, "GetVersion")) return reactor;
  FinishWith(reactor, manager_->GetVersion(*request), response);
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::GetActive(
    grpc::CallbackServerContext* ctx,
    const v1::GetActiveRuleSetRequest* request, v1::RuleSetVersion* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!Admit(ctx, reactor, "GetActive")) return reactor;
  FinishWith(reactor, manager_->GetActive(), response);
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::Validate(
    grpc::CallbackServerContext* ctx, const v1::ValidateRuleSetRequest* request,
    v1::ValidationReport* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!Admit(ctx, reactor, "Validate")) return reactor;
  Post([this, reactor, request, response] {
    FinishWith(reactor, manager_->Validate(*request), response);
  });
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::Propose(
    grpc::CallbackServerContext* ctx, const v1::ProposeRuleSetRequest* request,
    v1::RuleSetVersion* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  std::optional<auth::Principal> who = Admit(ctx, reactor, "Propose");
  if (!who) return reactor;
  // The authenticated caller is who made the change, whatever the request
  // says.
  Post([this, reactor, request, response, name = who->name] {
    auto req = *request;
    req.set_author(name);
    FinishWith(reactor, manager_->Propose(req), response);
  });
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::Approve(
    grpc::CallbackServerContext* ctx, const v1::ApproveRuleSetRequest* request,
    v1::RuleSetVersion* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  std::optional<auth::Principal> who = Admit(ctx, reactor, "Approve");
  if (!who) return reactor;
  // The authenticated caller is who made the change, whatever the request
  // says.
  Post([this, reactor, request, response, name = who->name] {
    auto req = *request;
    req.set_approver(name);
    FinishWith(reactor, manager_->Approve(req), response);
  });
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::Activate(
    grpc::CallbackServerContext* ctx, const v1::ActivateRuleSetRequest* request,
    v1::RuleSetVersion* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  std::optional<auth::Principal> who = Admit(ctx, reactor, "Activate");
  if (!who) return reactor;
  // The authenticated caller is who made the change, whatever the request
  // says.
  Post([this, reactor, request, response, name = who->name] {
    auto req = *request;
    req.set_actor(name);
    FinishWith(reactor, manager_->Activate(req), response);
  });
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::Rollback(
    grpc::CallbackServerContext* ctx, const v1::RollbackRuleSetRequest* request,
    v1::RuleSetVersion* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  std::optional<auth::Principal> who = Admit(ctx, reactor, "Rollback");
  if (!who) return reactor;
  // The authenticated caller is who made the change, whatever the request
  // says.
  Post([this, reactor, request, response, name = who->name] {
    auto req = *request;
    req.set_actor(name);
    FinishWith(reactor, manager_->Rollback(req), response);
  });
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::Diff(
    grpc::CallbackServerContext* ctx, const v1::DiffRuleSetsRequest* request,
    v1::RuleSetDiff* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!Admit(ctx, reactor, "Diff")) return reactor;
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

// --- Replay ------------------------------------------------------------------

// One Replay call: the reactor, and what the replay thread shares with it.
// Progress is written one message at a time; while a write is in flight only
// the latest progress waits (older ones are dropped), and the report goes
// last, followed by the status. The shared state outlives the reactor
// (deleted by gRPC in OnDone), so the replay thread never touches a deleted
// reactor.
class RuleSetServiceImpl::ReplayCall {
 public:
  class Reactor;

  struct Shared {
    absl::Mutex mu;
    Reactor* reactor ABSL_GUARDED_BY(mu) = nullptr;  // null after OnDone
    bool cancelled ABSL_GUARDED_BY(mu) = false;
    bool writing ABSL_GUARDED_BY(mu) = false;
    bool finished ABSL_GUARDED_BY(mu) = false;  // Finish called
    std::optional<v1::ReplayProgress> pending ABSL_GUARDED_BY(mu);
    std::optional<grpc::Status> finish ABSL_GUARDED_BY(mu);
    v1::ReplayProgress buffer;  // the message being written
  };

  class Reactor final : public grpc::ServerWriteReactor<v1::ReplayProgress> {
   public:
    explicit Reactor(std::shared_ptr<Shared> shared)
        : shared_(std::move(shared)) {
      absl::MutexLock lock(&shared_->mu);
      shared_->reactor = this;
    }
    void OnWriteDone(bool ok) override {
      {
        absl::MutexLock lock(&shared_->mu);
        shared_->writing = false;
        if (!ok) {
          shared_->cancelled = true;
          shared_->pending.reset();
        }
      }
      Pump(shared_);
    }
    void OnCancel() override {
      absl::MutexLock lock(&shared_->mu);
      shared_->cancelled = true;
    }
    void OnDone() override {
      {
        absl::MutexLock lock(&shared_->mu);
        shared_->reactor = nullptr;
      }
      delete this;
    }

   private:
    std::shared_ptr<Shared> shared_;
  };

  // Starts the next write, or finishes, if the call is idle. Operations are
  // started outside the lock; the reactor cannot go away meanwhile (it lives
  // until Finish, which only the caller that set `finished` calls).
  static void Pump(const std::shared_ptr<Shared>& s) {
    Reactor* reactor = nullptr;
    bool write = false;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&s->mu);
      if (s->reactor == nullptr || s->writing || s->finished) return;
      if (s->pending.has_value()) {
        s->buffer = *std::move(s->pending);
        s->pending.reset();
        s->writing = true;
        write = true;
      } else if (s->finish.has_value()) {
        finish = s->finish;
        s->finished = true;
      } else {
        return;
      }
      reactor = s->reactor;
    }
    if (write) {
      reactor->StartWrite(&s->buffer);
    } else {
      reactor->Finish(*finish);
    }
  }

  // Queues `progress` (replacing one not yet written); false once the
  // client has gone.
  static bool Send(const std::shared_ptr<Shared>& s,
                   v1::ReplayProgress progress) {
    {
      absl::MutexLock lock(&s->mu);
      if (s->cancelled || s->reactor == nullptr) return false;
      s->pending = std::move(progress);
    }
    Pump(s);
    return true;
  }

  // The last message (if any) and the status.
  static void Complete(const std::shared_ptr<Shared>& s,
                       std::optional<v1::ReplayProgress> last,
                       const absl::Status& status) {
    {
      absl::MutexLock lock(&s->mu);
      if (last.has_value() && !s->cancelled) s->pending = std::move(last);
      s->finish = ToGrpcStatus(status);
    }
    Pump(s);
  }
};

void RuleSetServiceImpl::ReapReplaysLocked() {
  for (auto it = replays_.begin(); it != replays_.end();) {
    if (it->done) {
      it->thread.join();
      it = replays_.erase(it);
    } else {
      ++it;
    }
  }
}

grpc::ServerWriteReactor<v1::ReplayProgress>* RuleSetServiceImpl::Replay(
    grpc::CallbackServerContext* ctx, const v1::ReplayRequest* request) {
  auto shared = std::make_shared<ReplayCall::Shared>();
  auto* reactor = new ReplayCall::Reactor(shared);
  auto fail = [&](absl::Status s) {
    ReplayCall::Complete(shared, std::nullopt, s);
    return reactor;
  };
  if (absl::Status st =
          authorizer_->Authorize(*ctx, "/frontdoor.v1.RuleSetService/Replay")
              .status;
      !st.ok()) {
    return fail(st);
  }
  if (request->candidate_version().empty()) {
    return fail(absl::InvalidArgumentError("candidate_version: is required"));
  }
  if (request->limit() < 0) {
    return fail(absl::InvalidArgumentError("limit: must not be negative"));
  }
  ReplaySource source =
      options_.replay_source ? options_.replay_source(*request) : nullptr;
  if (source == nullptr) {
    return fail(absl::FailedPreconditionError(
        "replay reads the stored referrals: this server does not hold the "
        "referral store (run it where the referral role runs)"));
  }
  absl::MutexLock lock(&replay_mu_);
  ReapReplaysLocked();
  if (static_cast<int>(replays_.size()) >= std::max(1, options_.max_replays)) {
    return fail(absl::ResourceExhaustedError(
        absl::StrCat("already ", replays_.size(),
                     " replays running; try again when one has finished")));
  }
  ReplayJob& job = replays_.emplace_back();
  ReplayJob* job_ptr = &job;  // std::list: stable until reaped
  const v1::ReplayRequest req = *request;
  job.thread = std::thread([this, shared, req, source, job_ptr] {
    absl::Status status;
    std::optional<v1::ReplayProgress> last;
    absl::StatusOr<std::string> id = manager_->Resolve(req.candidate_version());
    absl::StatusOr<std::shared_ptr<const rules::CompiledRuleSet>> candidate =
        id.ok() ? manager_->Compiled(*id)
                : absl::StatusOr<std::shared_ptr<const rules::CompiledRuleSet>>(
                      id.status());
    if (!candidate.ok()) {
      status = candidate.status();
    } else {
      const std::shared_ptr<const rules::CompiledRuleSet> active =
          manager_->holder()->Get();
      ReplayOptions ro;
      if (req.has_received_after()) {
        ro.received_after = FromProtoTime(req.received_after());
      }
      if (req.has_received_before()) {
        ro.received_before = FromProtoTime(req.received_before());
      }
      ro.pathway = req.pathway();
      ro.limit = req.limit();
      ro.threads = std::max(1, options_.replay_threads);
      ro.expected_total =
          options_.referral_count ? options_.referral_count() : 0;
      ro.progress = [&shared](int64_t done, int64_t total) {
        v1::ReplayProgress p;
        p.set_done(done);
        p.set_total(total);
        return ReplayCall::Send(shared, std::move(p));
      };
      log::Info("replay started",
                {{"candidate", *id}, {"active", active->version()}});
      absl::StatusOr<v1::ReplayReport> report =
          rulesets::Replay(*active, **candidate, source, ro);
      if (!report.ok()) {
        status = report.status();
        log::Warn("replay failed", {{"candidate", *id}, {"error", status}});
      } else {
        log::Info("replay done", {{"candidate", *id},
                                  {"referrals", report->referrals()},
                                  {"changed", report->changed()},
                                  {"downgrades", report->downgrades()},
                                  {"seconds", report->seconds()}});
        if (*id != active->version()) {
          absl::Status recorded = manager_->RecordReplay(
              *id,
              static_cast<int32_t>(
                  std::min<int64_t>(report->downgrades(), INT32_MAX)),
              "replay",
              absl::StrCat(
                  "replayed ", report->referrals(),
                  " stored referrals against ", active->version().substr(0, 12),
                  ": ", report->changed(), " changed, ", report->downgrades(),
                  " downgrades, ", report->upgrades(), " upgrades"));
          if (!recorded.ok()) {
            log::Warn("cannot record the replay", {{"error", recorded}});
          }
        }
        v1::ReplayProgress p;
        p.set_done(report->referrals());
        p.set_total(report->referrals());
        *p.mutable_report() = *std::move(report);
        last = std::move(p);
      }
    }
    ReplayCall::Complete(shared, std::move(last), status);
    absl::MutexLock done_lock(&replay_mu_);
    job_ptr->done = true;
  });
  return reactor;
}

// --- Shadow ------------------------------------------------------------------

absl::StatusOr<v1::ShadowReport> RuleSetServiceImpl::SetShadowNow(
    const v1::SetShadowRequest& request) {
  absl::MutexLock lock(&shadow_mu_);
  std::shared_ptr<ShadowEvaluator> next;
  if (!request.candidate_version().empty()) {
    if (options_.triage == nullptr) {
      return absl::FailedPreconditionError(
          "shadow evaluation watches TriageService: this server does not host "
          "the triage role");
    }
    FRONTDOOR_ASSIGN_OR_RETURN(std::string id,
                               manager_->Resolve(request.candidate_version()));
    FRONTDOOR_ASSIGN_OR_RETURN(std::shared_ptr<const rules::CompiledRuleSet> rs,
                               manager_->Compiled(id));
    next = std::make_shared<ShadowEvaluator>(std::move(rs), options_.shadow);
    next->Start();
  }
  // Swap the tap first, so nothing is offered to a stopped evaluator.
  if (options_.triage != nullptr) {
    if (next != nullptr) {
      std::shared_ptr<ShadowEvaluator> target = next;
      options_.triage->SetDecisionTap(
          std::make_shared<const triage::TriageServiceImpl::DecisionTap>(
              [target](const v1::Referral& referral,
                       const v1::TriageDecision& decision) {
                target->Offer(referral,
                              ShadowEvaluator::Summarize("", decision));
              }));
    } else {
      options_.triage->SetDecisionTap(nullptr);
    }
  }
  std::shared_ptr<ShadowEvaluator> previous = std::exchange(shadow_, next);
  v1::ShadowReport report;
  if (previous != nullptr) {
    previous->Stop();
    report = previous->Report();
    log::Info("shadow evaluation stopped",
              {{"candidate", report.candidate_version()},
               {"actor", request.actor()},
               {"evaluated", report.evaluated()},
               {"differed", report.differed()},
               {"downgrades", report.downgrades()}});
  }
  if (next != nullptr) {
    report = next->Report();
    log::Info("shadow evaluation started",
              {{"candidate", report.candidate_version()},
               {"actor", request.actor()}});
  }
  return report;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::SetShadow(
    grpc::CallbackServerContext* ctx, const v1::SetShadowRequest* request,
    v1::ShadowReport* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  std::optional<auth::Principal> who = Admit(ctx, reactor, "SetShadow");
  if (!who) return reactor;
  // The authenticated caller is who made the change, whatever the request
  // says.
  Post([this, reactor, request, response, name = who->name] {
    auto req = *request;
    req.set_actor(name);
    FinishWith(reactor, SetShadowNow(req), response);
  });
  return reactor;
}

grpc::ServerUnaryReactor* RuleSetServiceImpl::GetShadowReport(
    grpc::CallbackServerContext* ctx, const v1::GetShadowReportRequest* request,
    v1::ShadowReport* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!Admit(ctx, reactor, "GetShadowReport")) return reactor;
  std::shared_ptr<ShadowEvaluator> shadow;
  {
    absl::MutexLock lock(&shadow_mu_);
    shadow = shadow_;
  }
  if (shadow == nullptr) {
    reactor->Finish(ToGrpcStatus(absl::FailedPreconditionError(
        "no candidate is being shadowed; start with SetShadow "
        "(candidate_version)")));
    return reactor;
  }
  *response = shadow->Report();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace frontdoor::rulesets
