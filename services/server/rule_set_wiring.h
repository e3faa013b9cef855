// The rule set lifecycle in frontdoor-server (triage role): the version
// store in <data_dir>/rulesets, RuleSetService, and the hot reload of the
// rules directory. FrontdoorServer::Start calls StartRuleSets once the rule
// set is loaded; see docs/operations.md ("Rule set lifecycle").

#ifndef FRONTDOOR_SERVICES_SERVER_RULE_SET_WIRING_H_
#define FRONTDOOR_SERVICES_SERVER_RULE_SET_WIRING_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/clock.h"
#include "services/common/metrics.h"
#include "services/server/server.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace frontdoor {
namespace auth {
class Authorizer;
}  // namespace auth
namespace storage {
class ReferralStore;
class RuleSetStore;
}  // namespace storage
namespace triage {
class TriageServiceImpl;
}  // namespace triage
namespace rulesets {
class RuleSetManager;
class RuleSetServiceImpl;
class RulesWatcher;
}  // namespace rulesets

namespace server {

class RuleSetWiring {
 public:
  // What the rule set lifecycle works with. Not owned; all must outlive
  // the RuleSetWiring.
  struct Deps {
    triage::RuleSetHolder* holder = nullptr;      // required
    triage::TriageServiceImpl* triage = nullptr;  // shadow evaluation taps it
    // The referral store when this process holds it (replay reads it); may
    // return null. Called when a replay starts.
    std::function<storage::ReferralStore*()> referral_store;
    Clock* clock = nullptr;
    Metrics* metrics = nullptr;
    const auth::Authorizer* authorizer = nullptr;  // required
  };

  // Opens the version store, reconciles it with the rule set in the holder
  // (loaded from options.rules_dir: recorded as the first version on a
  // first start; otherwise the stored active version is restored), creates
  // the service (replay over the referral store, shadow evaluation of
  // TriageService's traffic) and, with options.watch_rules, starts watching
  // the rules directory.
  static absl::StatusOr<std::unique_ptr<RuleSetWiring>> Start(
      const ServerOptions& options, const Deps& deps);

  RuleSetWiring(const RuleSetWiring&) = delete;
  RuleSetWiring& operator=(const RuleSetWiring&) = delete;
  // Stops the watcher; closes the store. The gRPC server the service is
  // registered on must be gone.
  ~RuleSetWiring();

  grpc::Service* service();
  rulesets::RuleSetManager* manager() { return manager_.get(); }
  // Stops watching the rules directory (shutdown). Idempotent.
  void Stop();

 private:
  RuleSetWiring();

  std::unique_ptr<storage::RuleSetStore> store_;
  std::unique_ptr<rulesets::RuleSetManager> manager_;
  std::unique_ptr<rulesets::RuleSetServiceImpl> service_;
  std::unique_ptr<rulesets::RulesWatcher> watcher_;
};

// What FrontdoorServer::Start runs for the triage role: RuleSetWiring::Start
// into `*out`, and RuleSetService's name added to `service_names` (health).
absl::Status StartRuleSets(const ServerOptions& options,
                           const RuleSetWiring::Deps& deps,
                           std::unique_ptr<RuleSetWiring>* out,
                           std::vector<std::string>* service_names);

}  // namespace server
}  // namespace frontdoor

#endif  // FRONTDOOR_SERVICES_SERVER_RULE_SET_WIRING_H_
