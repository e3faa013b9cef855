// RuleSetService on the gRPC callback API: the rule authors' lifecycle
// (rule_set_manager.h) at the RPC edge.
//
// Reads (ListVersions, GetVersion, GetActive) run on the callback thread;
// everything that validates, compiles or writes runs on the service's own
// worker threads, so that TriageService calls sharing the server's callback
// threads are never held up by a validation or an fsync.
//
// Replay, SetShadow and GetShadowReport are delegated to handlers given in
// Options (the replay and shadow engines); without one the call is
// UNIMPLEMENTED. Diff with regions = true likewise needs a regions handler.

#ifndef FRONTDOOR_SERVICES_RULESETS_RULE_SET_SERVICE_H_
#define FRONTDOOR_SERVICES_RULESETS_RULE_SET_SERVICE_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "frontdoor/v1/rule_set_service.grpc.pb.h"
#include "services/rulesets/rule_set_manager.h"

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
  };

  // `manager` must outlive the service.
  RuleSetServiceImpl(RuleSetManager* manager, Options options);
  // Waits for the calls running on the workers.
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
  // Runs `fn` on a worker; it must finish the call.
  void Post(std::function<void()> fn) ABSL_LOCKS_EXCLUDED(mu_);
  void WorkLoop() ABSL_LOCKS_EXCLUDED(mu_);

  RuleSetManager* const manager_;
  const Options options_;

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace frontdoor::rulesets

#endif  // FRONTDOOR_SERVICES_RULESETS_RULE_SET_SERVICE_H_
