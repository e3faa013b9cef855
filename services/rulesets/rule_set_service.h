// RuleSetService on the gRPC callback API: the rule authors' lifecycle
// (rule_set_manager.h) at the RPC edge.
//
// Reads (ListVersions, GetVersion, GetActive) run on the callback thread;
// everything that validates, compiles or writes runs on the service's own
// worker threads, so that TriageService calls sharing the server's callback
// threads are never held up by a validation or an fsync.
//
// Replay (replay.h) evaluates a stored candidate and the active rule set
// over the stored referrals that Options::replay_source gives, on a thread
// of its own per call (at most Options::max_replays at once, else
// RESOURCE_EXHAUSTED), streaming progress about every 1% and the report
// last. Without a source (no referral store in this process) it is
// FAILED_PRECONDITION. The downgrades it finds are recorded on the
// candidate (RuleSetManager::RecordReplay): activating it then needs
// acknowledge_downgrades.
//
// SetShadow starts shadow evaluation (shadow.h) of a stored candidate on
// the live traffic of Options::triage (its DecisionTap: a copy of each
// referral is queued, never waited for), replacing any earlier one; an
// empty candidate stops it. GetShadowReport reports on the one running
// (FAILED_PRECONDITION when none). Differences seen by TriageService carry
// no referral id (TriageService is not told it).
//
// Diff with regions = true needs Options::regions (the formal diff);
// without it, UNIMPLEMENTED.

#ifndef FRONTDOOR_SERVICES_RULESETS_RULE_SET_SERVICE_H_
#define FRONTDOOR_SERVICES_RULESETS_RULE_SET_SERVICE_H_

#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "frontdoor/v1/rule_set_service.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/rulesets/replay.h"
#include "services/rulesets/rule_set_manager.h"
#include "services/rulesets/shadow.h"
#include "services/triage/triage_service.h"

namespace frontdoor::rulesets {

class RuleSetServiceImpl final : public v1::RuleSetService::CallbackService {
 public:
  struct Options {
    // Worker threads for validation, compilation and writes.
    int workers = 2;
    // Fills diff->regions (and regions_complete) for the two versions'
    // rule sets; null: Diff with regions is UNIMPLEMENTED.
    std::function<absl::Status(const rules::CompiledRuleSet& from,
                               const rules::CompiledRuleSet& to,
                               v1::RuleSetDiff* diff)>
        regions;
    // The stored referrals for a replay request (its pathway and time range
    // may be applied by the source; Replay applies them anyway); null, or a
    // null result: no referral store here.
    std::function<ReplaySource(const v1::ReplayRequest&)> replay_source;
    // Estimated number of stored referrals, for progress; may be null.
    std::function<int64_t()> referral_count;
    // Evaluation threads per replay, and replays at once.
    int replay_threads = 2;
    int max_replays = 2;
    // The TriageService whose traffic SetShadow evaluates; null: SetShadow
    // is FAILED_PRECONDITION. Not owned; must outlive the service.
    triage::TriageServiceImpl* triage = nullptr;
    // Shadow evaluation: queue size and differences kept.
    ShadowOptions shadow;
  };

  // Every call is authorised first (services/auth/permissions.cc); for
  // changes, the authenticated caller is recorded as author, approver or
  // actor. `manager` and `authorizer` must outlive the service.
  RuleSetServiceImpl(RuleSetManager* manager,
                     const auth::Authorizer* authorizer, Options options);
  // Stops shadow evaluation; waits for the calls running on the workers
  // and for replays (cancelled once the server has shut down).
  ~RuleSetServiceImpl() override;

  grpc::ServerUnaryReactor* ListVersions(
      grpc::CallbackServerContext* ctx,
      const v1::ListRuleSetVersionsRequest* request,
      v1::ListRuleSetVersionsResponse* response) override;
  grpc::ServerUnaryReactor* GetVersion(
      grpc::CallbackServerContext* ctx,
      const v1::GetRuleSetVersionRequest* request,
      v1::RuleSetVersion* response) override;
  grpc::ServerUnaryReactor* GetActive(
      grpc::CallbackServerContext* ctx,
      const v1::GetActiveRuleSetRequest* request,
      v1::RuleSetVersion* response) override;
  grpc::ServerUnaryReactor* Validate(grpc::CallbackServerContext* ctx,
                                     const v1::ValidateRuleSetRequest* request,
                                     v1::ValidationReport* response) override;
  grpc::ServerUnaryReactor* Propose(grpc::CallbackServerContext* ctx,
                                    const v1::ProposeRuleSetRequest* request,
                                    v1::RuleSetVersion* response) override;
  grpc::ServerUnaryReactor* Approve(grpc::CallbackServerContext* ctx,
                                    const v1::ApproveRuleSetRequest* request,
                                    v1::RuleSetVersion* response) override;
  grpc::ServerUnaryReactor* Activate(grpc::CallbackServerContext* ctx,
                                     const v1::ActivateRuleSetRequest* request,
                                     v1::RuleSetVersion* response) override;
  grpc::ServerUnaryReactor* Rollback(grpc::CallbackServerContext* ctx,
                                     const v1::RollbackRuleSetRequest* request,
                                     v1::RuleSetVersion* response) override;
  grpc::ServerUnaryReactor* Diff(grpc::CallbackServerContext* ctx,
                                 const v1::DiffRuleSetsRequest* request,
                                 v1::RuleSetDiff* response) override;
  grpc::ServerWriteReactor<v1::ReplayProgress>* Replay(
      grpc::CallbackServerContext* ctx,
      const v1::ReplayRequest* request) override;
  grpc::ServerUnaryReactor* SetShadow(grpc::CallbackServerContext* ctx,
                                      const v1::SetShadowRequest* request,
                                      v1::ShadowReport* response) override;
  grpc::ServerUnaryReactor* GetShadowReport(
      grpc::CallbackServerContext* ctx,
      const v1::GetShadowReportRequest* request,
      v1::ShadowReport* response) override;

 private:
  // Authorises a unary call to `method` (its name within the service); on
  // refusal finishes `reactor` and returns nullopt.
  std::optional<auth::Principal> Admit(grpc::CallbackServerContext* ctx,
                                       grpc::ServerUnaryReactor* reactor,
                                       absl::string_view method) const;
  class ReplayCall;

  // Runs `fn` on a worker; it must finish the call.
  void Post(std::function<void()> fn) ABSL_LOCKS_EXCLUDED(mu_);
  void WorkLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Starts (or, with an empty version, stops) shadow evaluation.
  absl::StatusOr<v1::ShadowReport> SetShadowNow(
      const v1::SetShadowRequest& request) ABSL_LOCKS_EXCLUDED(shadow_mu_);
  // Joins finished replay threads.
  void ReapReplaysLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(replay_mu_);

  RuleSetManager* const manager_;
  const auth::Authorizer* const authorizer_;
  const Options options_;

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;

  struct ReplayJob {
    std::thread thread;
    bool done = false;
  };
  absl::Mutex replay_mu_;
  std::list<ReplayJob> replays_ ABSL_GUARDED_BY(replay_mu_);

  // Serialises SetShadow; the evaluator itself is thread-safe.
  absl::Mutex shadow_mu_;
  std::shared_ptr<ShadowEvaluator> shadow_ ABSL_GUARDED_BY(shadow_mu_);
};

}  // namespace frontdoor::rulesets

#endif  // FRONTDOOR_SERVICES_RULESETS_RULE_SET_SERVICE_H_
