#include "services/triage/rule_set_holder.h"

#include <utility>

namespace frontdoor::triage {

RuleSetHolder::RuleSetHolder(RuleSetPtr initial)
    : current_(std::move(initial)) {}

RuleSetHolder::RuleSetPtr RuleSetHolder::Get() const {
  absl::ReaderMutexLock lock(&mu_);
  return current_;
}

RuleSetHolder::RuleSetPtr RuleSetHolder::Swap(RuleSetPtr next) {
  if (next == nullptr) return nullptr;
  RuleSetPtr previous;
  {
    absl::WriterMutexLock lock(&mu_);
    previous = std::exchange(current_, std::move(next));
    ++generation_;
  }
  // `previous` may be the last reference: it is released by the caller,
  // outside the lock.
  return previous;
}

uint64_t RuleSetHolder::generation() const {
  absl::ReaderMutexLock lock(&mu_);
  return generation_;
}

}  // namespace frontdoor::triage
