// Watches a rules directory for changes by polling (every second by
// default): simple, and it works where inotify does not, such as a
// Kubernetes ConfigMap volume, whose update swaps the `..data` symlink that
// every file links through.
//
// Each poll reads the directory's rule files through the symlinks
// (ReadRuleFiles: every *.yaml not starting with '.') and hashes their names
// and contents. A change is acted on only when two consecutive polls agree
// on it, so that a directory caught in the middle of a copy (a file written
// in two steps, half the files replaced) is not taken for the new rule set;
// the files handed on are exactly the ones hashed. Each distinct content is
// handed on once: a broken change is reported once, not every second, and
// the next change is picked up as usual.
//
// Thread-safe. The callback runs on the watcher's thread (or the caller's,
// for PollOnce).

#ifndef FRONTDOOR_SERVICES_RULESETS_RULES_WATCHER_H_
#define FRONTDOOR_SERVICES_RULESETS_RULES_WATCHER_H_

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "frontdoor/v1/rule_set_service.pb.h"

namespace frontdoor::rulesets {

class RulesWatcher {
 public:
  using OnChange = std::function<void(const std::vector<v1::RuleFile>& files)>;

  // Watches `dir`; `on_change` gets the files of each stable change.
  RulesWatcher(std::string dir, absl::Duration poll, OnChange on_change);
  // Stops the thread.
  ~RulesWatcher();

  RulesWatcher(const RulesWatcher&) = delete;
  RulesWatcher& operator=(const RulesWatcher&) = delete;

  // Takes the directory's current content as already handled (what the
  // server loaded at start), so only later changes are handed on.
  void SetBaseline() ABSL_LOCKS_EXCLUDED(mu_);
  // Starts polling on a thread of its own.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops polling and waits for the thread (and a callback in progress).
  // Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // One poll: true if it handed a change to the callback.
  bool PollOnce() ABSL_LOCKS_EXCLUDED(poll_mu_);

  // Polls done so far (for tests).
  int64_t polls() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string dir_;
  const absl::Duration poll_;
  const OnChange on_change_;

  // Held for a whole poll, callback included: polls never overlap.
  absl::Mutex poll_mu_;
  std::string handled_ ABSL_GUARDED_BY(poll_mu_);  // hash last handed on
  std::optional<std::string> pending_ ABSL_GUARDED_BY(poll_mu_);
  std::string last_error_ ABSL_GUARDED_BY(poll_mu_);

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int64_t polls_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace frontdoor::rulesets

#endif  // FRONTDOOR_SERVICES_RULESETS_RULES_WATCHER_H_
