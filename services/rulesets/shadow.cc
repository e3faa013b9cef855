#include "services/rulesets/shadow.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "services/common/proto_time.h"
#include "services/rulesets/replay.h"

namespace frontdoor::rulesets {

ShadowEvaluator::Active ShadowEvaluator::Summarize(
    std::string referral_id, const v1::TriageDecision& decision) {
  Active a;
  a.referral_id = std::move(referral_id);
  a.pathway = decision.pathway();
  a.urgency = decision.urgency();
  a.decisive_row = decision.decisive_row();
  a.version = decision.rule_set_version();
  return a;
}

ShadowEvaluator::ShadowEvaluator(
    std::shared_ptr<const rules::CompiledRuleSet> candidate,
    ShadowOptions options)
    : candidate_(std::move(candidate)),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : RealClock::Get()) {}

ShadowEvaluator::~ShadowEvaluator() { Stop(); }

void ShadowEvaluator::Start() {
  absl::MutexLock thread_lock(&thread_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopping_) return;
    started_ = true;
    since_ = clock_->Now();
  }
  worker_ = std::thread([this] { Run(); });
}

void ShadowEvaluator::Stop() {
  absl::MutexLock thread_lock(&thread_mu_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (!started_) queue_.clear();
  }
  if (worker_.joinable()) worker_.join();
}

bool ShadowEvaluator::Offer(const v1::Referral& referral, Active active) {
  Item item{referral, std::move(active)};  // the copy, outside the lock
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  if (queue_.size() >= options_.queue_capacity) {
    ++dropped_;
    return false;
  }
  queue_.push_back(std::move(item));
  return true;
}

void ShadowEvaluator::Run() {
  rules::EvalResult result;
  std::deque<Item> batch;
  std::vector<v1::ReplayChange> found;
  std::string active_version;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &ShadowEvaluator::HasWork));
      if (queue_.empty()) return;  // stopping, and drained
      batch.swap(queue_);
    }
    found.clear();
    int64_t downgrades = 0;
    for (Item& item : batch) {
      candidate_->Evaluate(item.referral, &result);
      active_version = item.active.version;
      if (result.pathway() == item.active.pathway &&
          result.urgency() == item.active.urgency) {
        continue;
      }
      v1::ReplayChange& c = found.emplace_back();
      c.set_referral_id(std::move(item.active.referral_id));
      c.set_from_pathway(item.active.pathway);
      c.set_from_urgency(item.active.urgency);
      c.set_to_pathway(result.pathway());
      c.set_to_urgency(result.urgency());
      c.set_downgrade(IsDowngrade(item.active.urgency, result.urgency()));
      c.set_from_row(std::move(item.active.decisive_row));
      c.set_to_row(ResponsibleRow(*candidate_, result));
      downgrades += c.downgrade();
      if (options_.on_difference) options_.on_difference(c);
    }
    const int64_t n = static_cast<int64_t>(batch.size());
    batch.clear();
    absl::MutexLock lock(&mu_);
    evaluated_ += n;
    differed_ += static_cast<int64_t>(found.size());
    downgrades_ += downgrades;
    if (n > 0) active_version_ = active_version;
    const size_t keep = static_cast<size_t>(std::max(0, options_.recent));
    for (v1::ReplayChange& c : found) {
      auto& list = c.downgrade() ? recent_downgrades_ : recent_others_;
      list.push_back(std::move(c));
      if (list.size() > keep) list.pop_front();
    }
  }
}

v1::ShadowReport ShadowEvaluator::Report() const {
  v1::ShadowReport r;
  r.set_candidate_version(candidate_->version());
  absl::MutexLock lock(&mu_);
  r.set_active_version(active_version_);
  if (since_) *r.mutable_since() = ToProtoTime(*since_);
  r.set_evaluated(evaluated_);
  r.set_differed(differed_);
  r.set_downgrades(downgrades_);
  r.set_dropped(dropped_);
  const int keep = std::max(0, options_.recent);
  for (auto it = recent_downgrades_.rbegin();
       it != recent_downgrades_.rend() && r.recent_size() < keep; ++it) {
    *r.add_recent() = *it;
  }
  for (auto it = recent_others_.rbegin();
       it != recent_others_.rend() && r.recent_size() < keep; ++it) {
    *r.add_recent() = *it;
  }
  return r;
}

}  // namespace frontdoor::rulesets
