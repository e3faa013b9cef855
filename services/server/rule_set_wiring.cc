#include "services/server/rule_set_wiring.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "frontdoor/v1/rule_set_service.grpc.pb.h"
#include "services/common/log.h"
#include "services/common/proto_time.h"
#include "services/common/status_macros.h"
#include "services/rulesets/region_diff.h"
#include "services/rulesets/rule_set_manager.h"
#include "services/rulesets/rule_set_service.h"
#include "services/rulesets/rules_watcher.h"
#include "storage/referral_store.h"
#include "storage/rule_set_store.h"

namespace frontdoor::server {

RuleSetWiring::RuleSetWiring() = default;

RuleSetWiring::~RuleSetWiring() {
  Stop();
  service_.reset();
  manager_.reset();
  store_.reset();
}

grpc::Service* RuleSetWiring::service() { return service_.get(); }

void RuleSetWiring::Stop() {
  if (watcher_ != nullptr) watcher_->Stop();
}

absl::StatusOr<std::unique_ptr<RuleSetWiring>> RuleSetWiring::Start(
    const ServerOptions& options, const Deps& deps) {
  std::unique_ptr<RuleSetWiring> w(new RuleSetWiring());
  const std::string path =
      (std::filesystem::path(options.data_dir) / "rulesets").string();
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("--data_dir ", options.data_dir, ": cannot create ", path,
                     ": ", ec.message()));
  }
  storage::RuleSetStore::Options store_options;
  store_options.path = path;
  absl::StatusOr<std::unique_ptr<storage::RuleSetStore>> store =
      storage::RuleSetStore::Open(store_options);
  if (!store.ok()) {
    return absl::Status(
        store.status().code(),
        absl::StrCat("rule set store ", path, ": ", store.status().message()));
  }
  w->store_ = *std::move(store);

  rulesets::ManagerOptions manager_options;
  manager_options.require_approval = options.require_approval;
  manager_options.clock = deps.clock;
  manager_options.metrics = deps.metrics;
  w->manager_ = std::make_unique<rulesets::RuleSetManager>(
      w->store_.get(), deps.holder, manager_options);
  FRONTDOOR_RETURN_IF_ERROR(w->manager_->Start(options.rules_dir));

  rulesets::RuleSetServiceImpl::Options service_options;
  service_options.regions = rulesets::FillRegions;
  service_options.triage = deps.triage;
  service_options.shadow.clock = deps.clock;
  if (deps.referral_store) {
    std::function<storage::ReferralStore*()> store = deps.referral_store;
    service_options.replay_source =
        [store](const v1::ReplayRequest& req) -> rulesets::ReplaySource {
      storage::ReferralStore* s = store();
      if (s == nullptr) return nullptr;
      storage::ReferralFilter filter;
      filter.pathway = req.pathway();
      if (req.has_received_after()) {
        filter.received_after = FromProtoTime(req.received_after());
      }
      if (req.has_received_before()) {
        filter.received_before = FromProtoTime(req.received_before());
      }
      return [s, filter](const rulesets::ReplayVisitor& visit) {
        storage::ReferralStore::ScanOptions scan;
        scan.omit_decision = true;  // replay evaluates the referral again
        return s->ScanReferrals(filter, scan, visit);
      };
    };
    service_options.referral_count = [store]() -> int64_t {
      storage::ReferralStore* s = store();
      if (s == nullptr) return 0;
      absl::StatusOr<int64_t> n = s->ApproximateReferralCount();
      return n.ok() ? *n : 0;
    };
  }
  w->service_ = std::make_unique<rulesets::RuleSetServiceImpl>(
      w->manager_.get(), deps.authorizer, service_options);

  if (options.watch_rules) {
    rulesets::RuleSetManager* manager = w->manager_.get();
    const std::string dir = options.rules_dir;
    w->watcher_ = std::make_unique<rulesets::RulesWatcher>(
        dir, options.rules_poll,
        [manager, dir](const std::vector<v1::RuleFile>& files) {
          manager->Reload(files, dir);
        });
    w->watcher_->SetBaseline();
    w->watcher_->Start();
  }
  log::Info("rule set lifecycle ready",
            {{"store", path},
             {"watch_rules", options.watch_rules},
             {"require_approval", options.require_approval}});
  return w;
}

absl::Status StartRuleSets(const ServerOptions& options,
                           const RuleSetWiring::Deps& deps,
                           std::unique_ptr<RuleSetWiring>* out,
                           std::vector<std::string>* service_names) {
  FRONTDOOR_ASSIGN_OR_RETURN(*out, RuleSetWiring::Start(options, deps));
  service_names->push_back(v1::RuleSetService::service_full_name());
  return absl::OkStatus();
}

}  // namespace frontdoor::server
