#ifndef FRONTDOOR_SERVICES_TRIAGE_TRIAGE_SERVICE_H_
#define FRONTDOOR_SERVICES_TRIAGE_TRIAGE_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "frontdoor/v1/triage_service.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/common/clock.h"
#include "services/common/metrics.h"
#include "services/triage/rule_set_holder.h"

namespace frontdoor::triage {

// The most referrals one TriageBatch call may carry.
inline constexpr int kMaxBatchReferrals = 1000;

// TriageService on the gRPC callback API: triages referrals with the rule
// set active in a RuleSetHolder. Stateless apart from the holder; every call
// takes the active rule set once at its start and uses that version to its
// end (a batch is triaged wholly by one version).
//
// Each handler validates (services/referral/validation.h: INVALID_ARGUMENT
// with the field path; nothing is evaluated), evaluates and finishes on the
// callback thread: evaluation is CPU-only, with no I/O or locks held.
// A referral without received_at is triaged as received at the clock's now.
//
// Every call is authorised first (services/auth/permissions.cc).
//
// Thread-safe. The holder, clock, metrics (may be null) and authorizer must
// outlive the service.
class TriageServiceImpl final : public v1::TriageService::CallbackService {
 public:
  TriageServiceImpl(RuleSetHolder* rules, Clock* clock, Metrics* metrics,
                    const auth::Authorizer* authorizer);

  grpc::ServerUnaryReactor* Triage(grpc::CallbackServerContext* ctx,
                                   const v1::TriageRequest* request,
                                   v1::TriageDecision* response) override;
  // At most kMaxBatchReferrals referrals; decisions in request order. One
  // invalid referral fails the whole call, naming it ("referrals[3].…").
  grpc::ServerUnaryReactor* TriageBatch(
      grpc::CallbackServerContext* ctx, const v1::TriageBatchRequest* request,
      v1::TriageBatchResponse* response) override;
  // The decision and its explanation in words (rules::ExplainDecision).
  grpc::ServerUnaryReactor* Explain(grpc::CallbackServerContext* ctx,
                                    const v1::TriageRequest* request,
                                    v1::ExplainResponse* response) override;
  // Name, version, size, targets and missing-data outcome of the active set.
  grpc::ServerUnaryReactor* GetRuleSetInfo(
      grpc::CallbackServerContext* ctx,
      const v1::GetRuleSetInfoRequest* request,
      v1::RuleSetInfo* response) override;

  // Triage without gRPC, for ReferralService in the same process: decides
  // a referral that the caller has already validated
  // (referral::ValidateReferral) exactly as Triage does after its own
  // validation (the active rule set, the decisions metric, the decision
  // tap), into `*decision`. No authorisation: the caller is this process.
  // A referral without received_at is triaged as received at the clock's
  // now. Evaluation state is kept per thread, so a warm thread allocates
  // only the decision's own fields.
  void DecideValidated(const v1::Referral& referral, v1::TriageDecision* decision);
  // What GetRuleSetInfo answers, without gRPC.
  void FillRuleSetInfo(v1::RuleSetInfo* info) const;

  // Sees each referral that Triage, TriageBatch and DecideValidated decide,
  // with its decision, on the request path once the decision is made: it
  // must be quick and never block (shadow evaluation queues a copy). Null
  // removes it; without one the request path pays a single atomic load.
  using DecisionTap =
      std::function<void(const v1::Referral&, const v1::TriageDecision&)>;
  void SetDecisionTap(std::shared_ptr<const DecisionTap> tap)
      ABSL_LOCKS_EXCLUDED(tap_mu_);

 private:
  absl::Status Authorize(const grpc::ServerContextBase& ctx,
                         absl::string_view method) const;
  // Validates `referral` (field paths prefixed with `prefix`) and returns
  // the referral to evaluate in `*effective` (see WithReceivedAt).
  absl::Status Prepare(const v1::Referral& referral, const std::string& prefix,
                       v1::Referral* scratch,
                       const v1::Referral** effective) const;
  // `referral` itself, or a copy in `*scratch` with received_at set to
  // `now` when it has none.
  static const v1::Referral* WithReceivedAt(const v1::Referral& referral, absl::Time now,
                                            v1::Referral* scratch);
  void Count(const v1::TriageDecision& decision);
  // Shows a decided referral to the tap, if there is one.
  void Offer(const v1::Referral& referral, const v1::TriageDecision& decision) const;

  RuleSetHolder* const rules_;
  Clock* const clock_;
  Metrics* const metrics_;
  const auth::Authorizer* const authorizer_;

  std::shared_ptr<const DecisionTap> Tap() const ABSL_LOCKS_EXCLUDED(tap_mu_);
  std::atomic<bool> has_tap_{false};
  mutable absl::Mutex tap_mu_;
  std::shared_ptr<const DecisionTap> tap_ ABSL_GUARDED_BY(tap_mu_);
};

}  // namespace frontdoor::triage

#endif  // FRONTDOOR_SERVICES_TRIAGE_TRIAGE_SERVICE_H_
