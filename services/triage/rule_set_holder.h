#ifndef FRONTDOOR_SERVICES_TRIAGE_RULE_SET_HOLDER_H_
#define FRONTDOOR_SERVICES_TRIAGE_RULE_SET_HOLDER_H_

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/triage/engine/compiled_rule_set.h"

namespace frontdoor::triage {

// The single place the active rule set lives.
//
// A compiled rule set is immutable, so "changing the rules" means swapping
// which one is active. Get() hands out a shared_ptr copy: a request keeps
// the version it started with to its end, however many swaps happen
// meanwhile, and an old rule set is freed when its last request finishes.
// Swap() replaces the active set atomically: every Get() returns either the
// old or the new set, never a mixture, and a rule set that failed to load
// never gets here (the loader returns null and the caller keeps the old one).
//
// Thread-safe: Get() and Swap() may be called from any thread at any time.
// The lock is held only to copy a pointer, never while evaluating.
class RuleSetHolder {
 public:
  using RuleSetPtr = std::shared_ptr<const rules::CompiledRuleSet>;

  // `initial` must not be null.
  explicit RuleSetHolder(RuleSetPtr initial);

  RuleSetHolder(const RuleSetHolder&) = delete;
  RuleSetHolder& operator=(const RuleSetHolder&) = delete;

  // The active rule set; never null.
  RuleSetPtr Get() const ABSL_LOCKS_EXCLUDED(mu_);

  // Makes `next` the active rule set and returns the previous one. A null
  // `next` is refused: nothing changes and null is returned.
  RuleSetPtr Swap(RuleSetPtr next) ABSL_LOCKS_EXCLUDED(mu_);

  // How many times the active set has been replaced (0 after construction).
  uint64_t generation() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  RuleSetPtr current_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace frontdoor::triage

#endif  // FRONTDOOR_SERVICES_TRIAGE_RULE_SET_HOLDER_H_
