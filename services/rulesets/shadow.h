// Shadow mode: a candidate rule set evaluated on live traffic, off the
// request path.
//
// The request path only calls Offer: a copy of the referral and a small
// summary of the active decision go into a bounded queue (a mutex held for a
// push; never a wait: when the queue is full the referral is dropped and
// counted). One worker thread takes the queue in batches, evaluates the
// candidate with a reused EvalResult and compares its pathway and urgency
// with the active decision: differences are counted, downgrades (the
// candidate's urgency less urgent) separately, and the latest differences
// kept, downgrades first.
//
// Thread-safe: Offer, Report and Stop may be called from any thread.

#ifndef FRONTDOOR_SERVICES_RULESETS_SHADOW_H_
#define FRONTDOOR_SERVICES_RULESETS_SHADOW_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "frontdoor/v1/referral.pb.h"
#include "frontdoor/v1/rule_set_service.pb.h"
#include "frontdoor/v1/triage.pb.h"
#include "services/common/clock.h"
#include "services/triage/engine/compiled_rule_set.h"

namespace frontdoor::rulesets {

struct ShadowOptions {
  // Default 1024: referrals waiting for the worker; an Offer beyond it is
  // dropped (and counted).
  size_t queue_capacity = 1024;
  // Default 100: latest differences kept for Report() (downgrades first).
  int recent = 100;
  // Called on the worker thread for every difference (e.g. to log it); may
  // be empty. Must not call back into the evaluator.
  std::function<void(const v1::ReplayChange&)> on_difference;
  // Default RealClock::Get(): the time of Start ("since"). Not owned.
  Clock* clock = nullptr;
};

class ShadowEvaluator {
 public:
  // What the request path knows of the active decision.
  struct Active {
    std::string referral_id;
    v1::Pathway pathway = v1::PATHWAY_UNSPECIFIED;
    v1::Urgency urgency = v1::URGENCY_UNSPECIFIED;
    std::string decisive_row;  // TriageDecision.decisive_row
    std::string version;       // TriageDecision.rule_set_version
  };
  static Active Summarize(std::string referral_id,
                          const v1::TriageDecision& decision);

  // `candidate` must not be null.
  explicit ShadowEvaluator(
      std::shared_ptr<const rules::CompiledRuleSet> candidate,
      ShadowOptions options = {});
  // Stop().
  ~ShadowEvaluator();
  ShadowEvaluator(const ShadowEvaluator&) = delete;
  ShadowEvaluator& operator=(const ShadowEvaluator&) = delete;

  // Starts the worker and sets "since". Referrals offered before Start wait
  // in the queue. Idempotent; an evaluator is not restarted after Stop.
  void Start();
  // Stops accepting offers, lets the worker evaluate everything already
  // queued, and joins it. Idempotent. Without Start, queued referrals are
  // discarded unevaluated.
  void Stop();

  // Queues a copy of `referral` with the active decision; never blocks.
  // False (nothing queued) if the queue is full (counted as dropped) or the
  // evaluator is stopped (not counted).
  bool Offer(const v1::Referral& referral, Active active);

  // Counts since Start and the latest differences (downgrades first, then
  // the others, each newest first; at most options.recent in all).
  // active_version is that of the latest referral offered.
  v1::ShadowReport Report() const;

  const rules::CompiledRuleSet& candidate() const { return *candidate_; }

 private:
  struct Item {
    v1::Referral referral;
    Active active;
  };

  void Run();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || stopping_;
  }

  const std::shared_ptr<const rules::CompiledRuleSet> candidate_;
  const ShadowOptions options_;
  Clock* const clock_;

  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Time> since_ ABSL_GUARDED_BY(mu_);
  std::string active_version_ ABSL_GUARDED_BY(mu_);
  int64_t evaluated_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t differed_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t downgrades_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  // Newest at the back.
  std::deque<v1::ReplayChange> recent_downgrades_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::ReplayChange> recent_others_ ABSL_GUARDED_BY(mu_);

  // Start and Stop: the worker thread itself.
  absl::Mutex thread_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::thread worker_ ABSL_GUARDED_BY(thread_mu_);
};

}  // namespace frontdoor::rulesets

#endif  // FRONTDOOR_SERVICES_RULESETS_SHADOW_H_
