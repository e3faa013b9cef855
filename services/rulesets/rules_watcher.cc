#include "services/rulesets/rules_watcher.h"

#include <utility>

#include "absl/status/statusor.h"
#include "services/common/log.h"
#include "services/rulesets/rule_files.h"

namespace frontdoor::rulesets {

RulesWatcher::RulesWatcher(std::string dir, absl::Duration poll,
                           OnChange on_change)
    : dir_(std::move(dir)), poll_(poll), on_change_(std::move(on_change)) {}

RulesWatcher::~RulesWatcher() { Stop(); }

void RulesWatcher::SetBaseline() {
  absl::StatusOr<std::vector<v1::RuleFile>> files = ReadRuleFiles(dir_);
  absl::MutexLock lock(&poll_mu_);
  handled_ = files.ok() ? HashRuleFiles(*files) : "";
  pending_.reset();
}

void RulesWatcher::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Loop(); });
}

void RulesWatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

int64_t RulesWatcher::polls() const {
  absl::MutexLock lock(&mu_);
  return polls_;
}

void RulesWatcher::Loop() {
  log::Info("watching the rules directory", {{"rules", dir_}, {"poll", poll_}});
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stop_), poll_);
      if (stop_) return;
    }
    PollOnce();
  }
}

bool RulesWatcher::PollOnce() {
  absl::MutexLock lock(&poll_mu_);
  {
    absl::MutexLock count(&mu_);
    ++polls_;
  }
  absl::StatusOr<std::vector<v1::RuleFile>> files = ReadRuleFiles(dir_);
  if (!files.ok()) {
    // E.g. the directory is being replaced; try again at the next poll.
    pending_.reset();
    const std::string error(files.status().message());
    if (error != last_error_) {
      log::Warn("cannot read the rules directory",
                {{"rules", dir_}, {"error", files.status()}});
      last_error_ = error;
    }
    return false;
  }
  last_error_.clear();
  const std::string hash = HashRuleFiles(*files);
  if (hash == handled_) {
    pending_.reset();
    return false;
  }
  if (!pending_.has_value() || *pending_ != hash) {
    // Changed since the last poll: wait for it to settle.
    pending_ = hash;
    return false;
  }
  handled_ = hash;
  pending_.reset();
  log::Info("rules directory changed", {{"rules", dir_}});
  on_change_(*files);
  return true;
}

}  // namespace frontdoor::rulesets
