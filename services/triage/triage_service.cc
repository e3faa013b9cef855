#include "services/triage/triage_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/grpc_status.h"
#include "services/referral/validation.h"
#include "services/triage/engine/explain.h"

namespace frontdoor::triage {
namespace {

constexpr char kDecisionsMetric[] = "frontdoor_triage_decisions_total";

grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* ctx,
                                     const absl::Status& s) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace

absl::Status TriageServiceImpl::Authorize(const grpc::ServerContextBase& ctx,
                                          absl::string_view method) const {
  return authorizer_->Authorize(ctx, method).status;
}

TriageServiceImpl::TriageServiceImpl(RuleSetHolder* rules, Clock* clock,
                                     Metrics* metrics,
                                     const auth::Authorizer* authorizer)
    : rules_(rules),
      clock_(clock),
      metrics_(metrics),
      authorizer_(authorizer) {
  if (metrics_ != nullptr) {
    metrics_->Declare(kDecisionsMetric, Metrics::Type::kCounter,
                      "Triage decisions made by TriageService, by outcome.",
                      {"pathway", "urgency"});
  }
}

void TriageServiceImpl::SetDecisionTap(std::shared_ptr<const DecisionTap> tap) {
  absl::MutexLock lock(&tap_mu_);
  has_tap_.store(tap != nullptr, std::memory_order_release);
  tap_ = std::move(tap);
}

std::shared_ptr<const TriageServiceImpl::DecisionTap> TriageServiceImpl::Tap()
    const {
  absl::ReaderMutexLock lock(&tap_mu_);
  return tap_;
}

absl::Status TriageServiceImpl::Prepare(const v1::Referral& referral,
                                        const std::string& prefix,
                                        v1::Referral* scratch,
                                        const v1::Referral** effective) const {
  const absl::Time now = clock_->Now();
  std::vector<std::string>
      warnings;  // never block triage; the rules flag them too
  absl::Status s = referral::ValidateReferral(referral, now, prefix, &warnings);
  if (!s.ok()) return s;
  *effective = WithReceivedAt(referral, now, scratch);
  return absl::OkStatus();
}

const v1::Referral* TriageServiceImpl::WithReceivedAt(const v1::Referral& referral,
                                                      absl::Time now,
                                                      v1::Referral* scratch) {
  if (referral.has_received_at()) return &referral;
  *scratch = referral;
  const absl::Duration since_epoch = now - absl::UnixEpoch();
  scratch->mutable_received_at()->set_seconds(
      absl::ToInt64Seconds(since_epoch));
  scratch->mutable_received_at()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(
          since_epoch - absl::Seconds(absl::ToInt64Seconds(since_epoch)))));
  return scratch;
}

void TriageServiceImpl::Count(const v1::TriageDecision& decision) {
  if (metrics_ == nullptr) return;
  metrics_->Increment(kDecisionsMetric,
                      {rules::PathwayName(decision.pathway()),
                       rules::UrgencyName(decision.urgency())});
}

void TriageServiceImpl::Offer(const v1::Referral& referral,
                              const v1::TriageDecision& decision) const {
  if (has_tap_.load(std::memory_order_acquire)) {
    if (auto tap = Tap()) (*tap)(referral, decision);
  }
}

void TriageServiceImpl::DecideValidated(const v1::Referral& referral,
                                        v1::TriageDecision* decision) {
  v1::Referral scratch;
  const v1::Referral* effective =
      referral.has_received_at() ? &referral
                                 : WithReceivedAt(referral, clock_->Now(), &scratch);
  // Grown once per thread, then reused: Evaluate allocates nothing.
  thread_local rules::EvalResult result;
  const RuleSetHolder::RuleSetPtr rule_set = rules_->Get();
  rule_set->Evaluate(*effective, &result);
  rule_set->ToDecision(result, decision);
  Count(*decision);
  Offer(*effective, *decision);
}

grpc::ServerUnaryReactor* TriageServiceImpl::Triage(
    grpc::CallbackServerContext* ctx, const v1::TriageRequest* request,
    v1::TriageDecision* response) {
  if (absl::Status st = Authorize(*ctx, "/frontdoor.v1.TriageService/Triage");
      !st.ok()) {
    return FinishWith(ctx, st);
  }
  if (!request->has_referral()) {
    return FinishWith(ctx, absl::InvalidArgumentError("referral: is required"));
  }
  v1::Referral scratch;
  const v1::Referral* referral = nullptr;
  absl::Status s =
      Prepare(request->referral(), "referral.", &scratch, &referral);
  if (!s.ok()) return FinishWith(ctx, s);
  DecideValidated(*referral, response);
  return FinishWith(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* TriageServiceImpl::TriageBatch(
    grpc::CallbackServerContext* ctx, const v1::TriageBatchRequest* request,
    v1::TriageBatchResponse* response) {
  if (absl::Status st = Authorize(*ctx, "/frontdoor.v1.TriageService/TriageBatch");
      !st.ok()) {
    return FinishWith(ctx, st);
  }
  if (request->referrals_size() > kMaxBatchReferrals) {
    return FinishWith(ctx, absl::InvalidArgumentError(absl::StrCat(
                               "referrals: at most ", kMaxBatchReferrals)));
  }
  // Validate everything before evaluating anything: an invalid batch costs
  // no evaluation and returns no partial result.
  std::vector<v1::Referral> filled(request->referrals_size());
  std::vector<const v1::Referral*> effective(request->referrals_size(),
                                             nullptr);
  for (int i = 0; i < request->referrals_size(); ++i) {
    absl::Status s =
        Prepare(request->referrals(i), absl::StrCat("referrals[", i, "]."),
                &filled[i], &effective[i]);
    if (!s.ok()) return FinishWith(ctx, s);
  }
  const RuleSetHolder::RuleSetPtr rule_set = rules_->Get();
  rules::EvalResult
      result;  // reused: no allocation once its buffers have grown
  response->mutable_decisions()->Reserve(request->referrals_size());
  for (const v1::Referral* referral : effective) {
    rule_set->Evaluate(*referral, &result);
    v1::TriageDecision* decision = response->add_decisions();
    rule_set->ToDecision(result, decision);
    Count(*decision);
  }
  if (has_tap_.load(std::memory_order_acquire)) {
    if (auto tap = Tap()) {
      for (size_t i = 0; i < effective.size(); ++i) {
        (*tap)(*effective[i], response->decisions(static_cast<int>(i)));
      }
    }
  }
  return FinishWith(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* TriageServiceImpl::Explain(
    grpc::CallbackServerContext* ctx, const v1::TriageRequest* request,
    v1::ExplainResponse* response) {
  if (absl::Status st = Authorize(*ctx, "/frontdoor.v1.TriageService/Explain");
      !st.ok()) {
    return FinishWith(ctx, st);
  }
  if (!request->has_referral()) {
    return FinishWith(ctx, absl::InvalidArgumentError("referral: is required"));
  }
  v1::Referral scratch;
  const v1::Referral* referral = nullptr;
  absl::Status s =
      Prepare(request->referral(), "referral.", &scratch, &referral);
  if (!s.ok()) return FinishWith(ctx, s);
  const RuleSetHolder::RuleSetPtr rule_set = rules_->Get();
  *response->mutable_decision() = rule_set->Triage(*referral);
  response->set_text(rules::ExplainDecision(response->decision()));
  Count(response->decision());
  return FinishWith(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* TriageServiceImpl::GetRuleSetInfo(
    grpc::CallbackServerContext* ctx, const v1::GetRuleSetInfoRequest* request,
    v1::RuleSetInfo* response) {
  if (absl::Status st = Authorize(*ctx, "/frontdoor.v1.TriageService/GetRuleSetInfo");
      !st.ok()) {
    return FinishWith(ctx, st);
  }
  FillRuleSetInfo(response);
  return FinishWith(ctx, absl::OkStatus());
}

void TriageServiceImpl::FillRuleSetInfo(v1::RuleSetInfo* info) const {
  const RuleSetHolder::RuleSetPtr rule_set = rules_->Get();
  const v1::RuleSet& proto = rule_set->proto();
  info->set_name(proto.name());
  info->set_version(rule_set->version());
  info->set_tables(proto.tables_size());
  int rows = 0;
  for (const v1::Table& table : proto.tables()) rows += table.rows_size();
  info->set_rows(rows);
  *info->mutable_targets() = proto.targets();
  *info->mutable_missing_data() = proto.missing_data();
}

}  // namespace frontdoor::triage
