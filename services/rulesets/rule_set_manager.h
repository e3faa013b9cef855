// The rule set lifecycle: validate, propose, approve, activate, roll back,
// hot reload and diff, over the version store (storage/rule_set_store.h)
// and the RuleSetHolder that TriageService reads.
//
// States (frontdoor.v1.RuleSetState):
//
//   Propose ──► PROPOSED ──Approve──► APPROVED ──Activate──► ACTIVE
//      │                                  ▲                   │ another
//      └─(fails validation)─► INVALID     └──Activate/Rollback─ SUPERSEDED
//
// - Every rule set ever proposed, loaded or activated is stored as an
//   immutable version (id: SHA-256 of the canonical RuleSet; a submission
//   that does not compile is identified by the SHA-256 of its files).
//   Proposing a rule set that is already stored is ALREADY_EXISTS.
// - A proposal that fails validation is still stored, as INVALID, with its
//   report, so that the attempt is on record; it can never be activated.
// - Approval must come from a principal other than the proposer (compared
//   case-insensitively, ignoring surrounding spaces): PERMISSION_DENIED.
// - Activation takes an APPROVED or SUPERSEDED version; it requires
//   acknowledge_downgrades when a replay found downgrades
//   (known_downgrades > 0). The version is recorded ACTIVE first (one synced
//   write: the new version ACTIVE, the previous one SUPERSEDED, the active
//   pointer, an event on each), then swapped into the holder; requests
//   already running finish on the set they started with. Activating the
//   version that is already active changes and records nothing.
// - Rollback returns to a SUPERSEDED version (one that was once approved
//   and active) in one call, with a reason; no downgrade acknowledgement is
//   needed (it was in force before).
// - Activations (Activate, Rollback, hot reload) are serialised by one
//   mutex: concurrent calls run one after the other, each is recorded with
//   its own events, and the last to run wins.
// - Every step is a RuleSetEvent with who, when and why: proposed,
//   approved, activated, superseded, rolled_back, reloaded (activated by
//   hot reload), rejected (failed validation).
//
// Start: the rules directory the server loaded is reconciled with the
// store. With no stored versions it is recorded as the first version
// (author "bootstrap", ACTIVE). Otherwise the stored active version is what
// runs (a rollback survives a restart): the directory's rule set is used
// only if it is new to the store and passes validation (as a hot reload).
//
// Hot reload (Reload, called by the RulesWatcher with the directory's
// files): a rule set that fails validation is stored INVALID ("rejected"),
// logged and counted, and never replaces the active one. A valid new rule
// set is proposed by "hot-reload"; unless the server requires approval it
// is approved by "hot-reload" too (the directory is the reviewed source)
// and activated ("reloaded"). With require_approval it waits, PROPOSED, for
// an Approve and an Activate. A directory that goes back to a stored
// version re-activates it only if it is APPROVED or SUPERSEDED (or PROPOSED,
// approved then) and approval is not required.
//
// Thread-safe.

#ifndef FRONTDOOR_SERVICES_RULESETS_RULE_SET_MANAGER_H_
#define FRONTDOOR_SERVICES_RULESETS_RULE_SET_MANAGER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "frontdoor/v1/rule_set_service.pb.h"
#include "services/common/clock.h"
#include "services/common/metrics.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/rule_set_holder.h"
#include "storage/rule_set_store.h"

namespace frontdoor::rulesets {

// The actors the server itself acts as.
inline constexpr char kBootstrapActor[] = "bootstrap";
inline constexpr char kHotReloadActor[] = "hot-reload";

// Metrics (declared by the manager when it has a registry).
inline constexpr char kReloadTotalMetric[] = "frontdoor_rule_reload_total";
inline constexpr char kReloadLastErrorMetric[] =
    "frontdoor_rule_reload_last_error";
inline constexpr char kActivationsMetric[] =
    "frontdoor_rule_set_activations_total";
inline constexpr char kSwapSecondsMetric[] = "frontdoor_rule_set_swap_seconds";

struct ManagerOptions {
  // Hot reload only proposes; an Approve and an Activate must follow.
  bool require_approval = false;
  // Source of event times; null: the real clock. Not owned.
  Clock* clock = nullptr;
  // Registry for the reload and activation metrics; may be null. Not owned.
  Metrics* metrics = nullptr;
  // Compiled rule sets kept for quick activation (the active one is always
  // kept by the holder as well).
  int compiled_cache_size = 8;
  // Called after each swap of the holder with how long the swap took (for
  // tests and benchmarks); may be empty.
  std::function<void(absl::Duration)> on_swap;
};

// What a hot reload did.
struct ReloadResult {
  enum class Outcome {
    kUnchanged,  // the directory holds the active version
    kActivated,  // a valid change is now active
    kWaiting,    // valid, stored, waiting for approval or activation
    kInvalid,    // rejected: failed validation (stored INVALID)
    kError,      // could not be processed (I/O, store); nothing changed
  };
  Outcome outcome = Outcome::kUnchanged;
  std::string version;  // the directory's version id, when known
  std::string message;  // what happened, in words
};

class RuleSetManager {
 public:
  // `store` and `holder` must outlive the manager.
  RuleSetManager(storage::RuleSetStore* store, triage::RuleSetHolder* holder,
                 ManagerOptions options);

  RuleSetManager(const RuleSetManager&) = delete;
  RuleSetManager& operator=(const RuleSetManager&) = delete;

  // Reconciles the store with the rule set in the holder, which the server
  // loaded from `rules_dir` (see the file comment). Call once, before
  // serving. The holder may be swapped to the stored active version.
  absl::Status Start(const std::string& rules_dir);

  // --- The RPCs (rule_set_service.proto) ----------------------------------
  absl::StatusOr<v1::ListRuleSetVersionsResponse> ListVersions(
      const v1::ListRuleSetVersionsRequest& request) const;
  // The whole version (rule_set, files and history).
  absl::StatusOr<v1::RuleSetVersion> GetVersion(
      const v1::GetRuleSetVersionRequest& request) const;
  absl::StatusOr<v1::RuleSetVersion> GetActive() const;
  absl::StatusOr<v1::ValidationReport> Validate(
      const v1::ValidateRuleSetRequest& request) const;
  // The stored version (PROPOSED). A rule set failing validation is stored
  // INVALID and the call is FAILED_PRECONDITION with the summary and id.
  absl::StatusOr<v1::RuleSetVersion> Propose(
      const v1::ProposeRuleSetRequest& request);
  absl::StatusOr<v1::RuleSetVersion> Approve(
      const v1::ApproveRuleSetRequest& request);
  absl::StatusOr<v1::RuleSetVersion> Activate(
      const v1::ActivateRuleSetRequest& request);
  absl::StatusOr<v1::RuleSetVersion> Rollback(
      const v1::RollbackRuleSetRequest& request);
  // Rows only; regions are the caller's (region_diff) business.
  absl::StatusOr<v1::RuleSetDiff> DiffRows(
      const v1::DiffRuleSetsRequest& request) const;

  // --- Hot reload ---------------------------------------------------------
  // Handles the files read from the rules directory `dir` (see above).
  ReloadResult Reload(const std::vector<v1::RuleFile>& files,
                      absl::string_view dir);

  // --- For replay, shadow and diff ----------------------------------------
  // The full id of a stored version (full id or unique prefix of at least 8
  // hex digits; "" means the active version).
  absl::StatusOr<std::string> Resolve(absl::string_view version) const;
  // The compiled rule set of a stored version that compiles (INVALID ones
  // that did not compile: FAILED_PRECONDITION), from the cache or compiled
  // from its stored canonical RuleSet.
  absl::StatusOr<std::shared_ptr<const rules::CompiledRuleSet>> Compiled(
      absl::string_view version) const;
  // Records what a replay found: raises known_downgrades of `version` to
  // `downgrades` (never lowers it: a later, narrower replay does not clear
  // an earlier finding), so activating it then needs
  // acknowledge_downgrades, and adds an event ("replayed", with `summary`
  // as its reason).
  absl::Status RecordReplay(absl::string_view version, int32_t downgrades,
                            absl::string_view actor, absl::string_view summary);

  storage::RuleSetStore* store() const { return store_; }
  triage::RuleSetHolder* holder() const { return holder_; }

 private:
  enum class ActivationKind { kActivate, kRollback, kReload };

  absl::StatusOr<v1::RuleSetVersion> ActivateVersion(
      const std::string& id, const std::string& actor,
      const std::string& reason, ActivationKind kind,
      bool acknowledge_downgrades) ABSL_LOCKS_EXCLUDED(activate_mu_);
  void CacheCompiled(std::shared_ptr<const rules::CompiledRuleSet> compiled)
      const ABSL_LOCKS_EXCLUDED(cache_mu_);
  absl::Status Bootstrap(const std::string& rules_dir);
  v1::RuleSetEvent Event(absl::string_view action, absl::string_view actor,
                         absl::string_view reason,
                         absl::string_view from_version = "") const;
  void CountReload(bool ok, absl::string_view reason);

  storage::RuleSetStore* const store_;
  triage::RuleSetHolder* const holder_;
  const ManagerOptions options_;
  Clock* const clock_;

  // Serialises activations, so the store's active pointer and the holder
  // change in the same order.
  absl::Mutex activate_mu_;

  mutable absl::Mutex cache_mu_;
  mutable std::map<std::string, std::shared_ptr<const rules::CompiledRuleSet>>
      cache_ ABSL_GUARDED_BY(cache_mu_);
  mutable std::deque<std::string> cache_order_ ABSL_GUARDED_BY(cache_mu_);
};

// Whether two principals are the same person: equal ignoring case and
// surrounding spaces.
bool SamePrincipal(absl::string_view a, absl::string_view b);

// "PROPOSED", "APPROVED", ... (the state's name without its prefix).
std::string StateName(v1::RuleSetState state);

}  // namespace frontdoor::rulesets

#endif  // FRONTDOOR_SERVICES_RULESETS_RULE_SET_MANAGER_H_
