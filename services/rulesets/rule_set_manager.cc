#include "services/rulesets/rule_set_manager.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "services/common/log.h"
#include "services/common/proto_time.h"
#include "services/common/status_macros.h"
#include "services/rulesets/row_diff.h"
#include "services/rulesets/rule_files.h"
#include "services/rulesets/validation.h"
#include "services/triage/engine/diagnostic.h"

namespace frontdoor::rulesets {
namespace {

constexpr int kMaxActorBytes = 256;
constexpr int kMaxTextBytes = 4096;

std::string Short(absl::string_view id) {
  return std::string(id.substr(0, 12));
}

absl::Status CheckText(absl::string_view field, absl::string_view value,
                       bool required, int max = kMaxTextBytes) {
  if (required && absl::StripAsciiWhitespace(value).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": is required"));
  }
  if (static_cast<int>(value.size()) > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": longer than ", max, " bytes"));
  }
  return absl::OkStatus();
}

std::vector<v1::RuleFile> FilesOf(
    const google::protobuf::RepeatedPtrField<v1::RuleFile>& files) {
  return std::vector<v1::RuleFile>(files.begin(), files.end());
}

}  // namespace

bool SamePrincipal(absl::string_view a, absl::string_view b) {
  return absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(a),
                                absl::StripAsciiWhitespace(b));
}

std::string StateName(v1::RuleSetState state) {
  absl::string_view name = v1::RuleSetState_Name(state);
  absl::ConsumePrefix(&name, "RULE_SET_STATE_");
  return std::string(name);
}

RuleSetManager::RuleSetManager(storage::RuleSetStore* store,
                               triage::RuleSetHolder* holder,
                               ManagerOptions options)
    : store_(store),
      holder_(holder),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : RealClock::Get()) {
  if (Metrics* m = options_.metrics; m != nullptr) {
    m->Declare(kReloadTotalMetric, Metrics::Type::kCounter,
               "Changes of the rules directory handled by hot reload, by "
               "result (ok: valid; invalid: rejected, the active set kept).",
               {"result"});
    m->Declare(kReloadLastErrorMetric, Metrics::Type::kGauge,
               "1 when the last change of the rules directory was rejected "
               "(see the log and the INVALID version), 0 otherwise.",
               {});
    m->Declare(kActivationsMetric, Metrics::Type::kCounter,
               "Rule set activations, by action (activated, rolled_back, "
               "reloaded).",
               {"action"});
    m->Declare(kSwapSecondsMetric, Metrics::Type::kHistogram,
               "Time the active rule set pointer swap took.", {});
    m->Set(kReloadLastErrorMetric, {}, 0);
  }
}

v1::RuleSetEvent RuleSetManager::Event(absl::string_view action,
                                       absl::string_view actor,
                                       absl::string_view reason,
                                       absl::string_view from_version) const {
  v1::RuleSetEvent e;
  *e.mutable_at() = ToProtoTime(clock_->Now());
  e.set_action(std::string(action));
  e.set_actor(std::string(actor));
  e.set_reason(std::string(reason));
  e.set_from_version(std::string(from_version));
  return e;
}

void RuleSetManager::CacheCompiled(
    std::shared_ptr<const rules::CompiledRuleSet> compiled) const {
  if (compiled == nullptr) return;
  absl::MutexLock lock(&cache_mu_);
  const std::string id = compiled->version();
  if (cache_.count(id) != 0) return;
  cache_[id] = std::move(compiled);
  cache_order_.push_back(id);
  while (static_cast<int>(cache_order_.size()) >
         std::max(1, options_.compiled_cache_size)) {
    cache_.erase(cache_order_.front());
    cache_order_.pop_front();
  }
}

absl::StatusOr<std::string> RuleSetManager::Resolve(
    absl::string_view version) const {
  if (version.empty()) {
    FRONTDOOR_ASSIGN_OR_RETURN(std::string active, store_->GetActive());
    if (active.empty()) {
      return absl::FailedPreconditionError("no rule set version is active");
    }
    return active;
  }
  return store_->Resolve(version);
}

absl::StatusOr<std::shared_ptr<const rules::CompiledRuleSet>>
RuleSetManager::Compiled(absl::string_view version) const {
  FRONTDOOR_ASSIGN_OR_RETURN(std::string id, Resolve(version));
  {
    absl::MutexLock lock(&cache_mu_);
    if (auto it = cache_.find(id); it != cache_.end()) return it->second;
  }
  if (auto current = holder_->Get(); current->version() == id) return current;
  FRONTDOOR_ASSIGN_OR_RETURN(v1::RuleSetVersion stored, store_->Get(id));
  if (stored.validation().version().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rule set version ", Short(id), " does not compile (INVALID)"));
  }
  rules::Diagnostics diags;
  std::shared_ptr<const rules::CompiledRuleSet> compiled =
      rules::CompiledRuleSet::Compile(stored.rule_set(), nullptr, &diags);
  if (compiled == nullptr) {
    std::string first;
    for (const rules::Diagnostic& d : diags.items()) {
      if (d.severity == rules::Diagnostic::Severity::kError) {
        first = rules::FormatDiagnostic(d);
        break;
      }
    }
    return absl::InternalError(absl::StrCat(
        "stored rule set version ", Short(id), " no longer compiles: ", first));
  }
  if (compiled->version() != id) {
    return absl::DataLossError(absl::StrCat(
        "stored rule set version ", Short(id), " compiles to version ",
        Short(compiled->version()), "; the stored record is damaged"));
  }
  CacheCompiled(compiled);
  return compiled;
}

// --- Start -----------------------------------------------------------------

absl::Status RuleSetManager::Bootstrap(const std::string& rules_dir) {
  std::shared_ptr<const rules::CompiledRuleSet> current = holder_->Get();
  const std::string id = current->version();
  v1::RuleSetVersion v;
  v.set_version(id);
  v.set_name(current->proto().name());
  *v.mutable_rule_set() = current->proto();
  // The files and the report, from the directory (when it still holds this
  // rule set).
  absl::StatusOr<std::vector<v1::RuleFile>> files = ReadRuleFiles(rules_dir);
  if (files.ok()) {
    absl::StatusOr<ValidatedRuleSet> validated = ValidateRuleFiles(*files);
    if (validated.ok() && validated->id == id) {
      for (v1::RuleFile& f : *files) *v.add_files() = std::move(f);
      *v.mutable_validation() = validated->report;
      if (!validated->report.ok()) {
        log::Warn(
            "the rule set in force does not pass validation",
            {{"version", id}, {"summary", SummariseReport(validated->report)}});
      }
    }
  }
  if (!v.has_validation()) v.mutable_validation()->set_version(id);
  const std::string reason =
      absl::StrCat("first start: the rules directory ", rules_dir,
                   " loaded at start is recorded as the first version");
  const google::protobuf::Timestamp now = ToProtoTime(clock_->Now());
  v.set_author(kBootstrapActor);
  v.set_comment(reason);
  v.set_proposed_by(kBootstrapActor);
  *v.mutable_proposed_at() = now;
  v.set_approved_by(kBootstrapActor);
  *v.mutable_approved_at() = now;
  v.set_activated_by(kBootstrapActor);
  *v.mutable_activated_at() = now;
  v.set_state(v1::RULE_SET_STATE_ACTIVE);
  *v.add_history() = Event("activated", kBootstrapActor, reason);
  CacheCompiled(current);
  return store_->Write([&](storage::RuleSetTxn& txn) -> absl::Status {
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> existing,
                               txn.GetHeader(id));
    if (!existing.has_value()) {
      FRONTDOOR_RETURN_IF_ERROR(txn.Create(v));
    } else {
      // Stored, but nothing is active (an interrupted first start): it is
      // what runs now.
      existing->set_state(v1::RULE_SET_STATE_ACTIVE);
      existing->set_activated_by(kBootstrapActor);
      *existing->mutable_activated_at() = now;
      if (existing->approved_by().empty()) {
        existing->set_approved_by(kBootstrapActor);
        *existing->mutable_approved_at() = now;
      }
      FRONTDOOR_RETURN_IF_ERROR(txn.Update(*existing));
      FRONTDOOR_RETURN_IF_ERROR(txn.AppendEvent(
          id, Event("activated", kBootstrapActor,
                    "no active version was recorded: the rules directory "
                    "loaded at start is in force")));
    }
    return txn.SetActive(id);
  });
}

absl::Status RuleSetManager::Start(const std::string& rules_dir) {
  FRONTDOOR_ASSIGN_OR_RETURN(std::string active, store_->GetActive());
  std::shared_ptr<const rules::CompiledRuleSet> current = holder_->Get();
  if (active.empty()) {
    FRONTDOOR_RETURN_IF_ERROR(Bootstrap(rules_dir));
    log::Info("rule set recorded as the first version",
              {{"version", current->version()}, {"rules", rules_dir}});
    return absl::OkStatus();
  }
  CacheCompiled(current);
  if (active == current->version()) {
    log::Info("rule set in force is the stored active version",
              {{"version", active}});
    return absl::OkStatus();
  }
  // The stored active version runs, whatever the directory holds now.
  FRONTDOOR_ASSIGN_OR_RETURN(
      std::shared_ptr<const rules::CompiledRuleSet> stored, Compiled(active));
  holder_->Swap(stored);
  absl::StatusOr<v1::RuleSetVersion> known =
      store_->GetSummary(current->version());
  if (known.ok()) {
    log::Info(
        "stored active rule set version restored; the rules directory "
        "holds a known version, not re-activated",
        {{"version", active},
         {"directory_version", current->version()},
         {"directory_version_state", StateName(known->state())}});
    return absl::OkStatus();
  }
  if (!absl::IsNotFound(known.status())) return known.status();
  log::Info(
      "stored active rule set version restored; the rules directory "
      "holds a new rule set, handled as a hot reload",
      {{"version", active}, {"directory_version", current->version()}});
  absl::StatusOr<std::vector<v1::RuleFile>> files = ReadRuleFiles(rules_dir);
  if (!files.ok()) {
    log::Error("cannot read the rules directory",
               {{"rules", rules_dir}, {"error", files.status()}});
    return absl::OkStatus();
  }
  Reload(*files, rules_dir);
  return absl::OkStatus();
}

// --- Reads -----------------------------------------------------------------

absl::StatusOr<v1::ListRuleSetVersionsResponse> RuleSetManager::ListVersions(
    const v1::ListRuleSetVersionsRequest& request) const {
  FRONTDOOR_ASSIGN_OR_RETURN(
      storage::RuleSetStore::ListPage page,
      store_->List(request.page_size(), request.page_token()));
  v1::ListRuleSetVersionsResponse response;
  for (v1::RuleSetVersion& v : page.versions) {
    *response.add_versions() = std::move(v);
  }
  response.set_next_page_token(page.next_page_token);
  return response;
}

absl::StatusOr<v1::RuleSetVersion> RuleSetManager::GetVersion(
    const v1::GetRuleSetVersionRequest& request) const {
  if (request.version().empty()) {
    return absl::InvalidArgumentError("version: is required");
  }
  FRONTDOOR_ASSIGN_OR_RETURN(std::string id,
                             store_->Resolve(request.version()));
  return store_->Get(id);
}

absl::StatusOr<v1::RuleSetVersion> RuleSetManager::GetActive() const {
  FRONTDOOR_ASSIGN_OR_RETURN(std::string id, Resolve(""));
  return store_->Get(id);
}

absl::StatusOr<v1::ValidationReport> RuleSetManager::Validate(
    const v1::ValidateRuleSetRequest& request) const {
  FRONTDOOR_ASSIGN_OR_RETURN(ValidatedRuleSet validated,
                             ValidateRuleFiles(FilesOf(request.files())));
  return validated.report;
}

// --- Propose and approve ---------------------------------------------------

absl::StatusOr<v1::RuleSetVersion> RuleSetManager::Propose(
    const v1::ProposeRuleSetRequest& request) {
  FRONTDOOR_RETURN_IF_ERROR(
      CheckText("author", request.author(), true, kMaxActorBytes));
  FRONTDOOR_RETURN_IF_ERROR(
      CheckText("source_commit", request.source_commit(), false, 256));
  FRONTDOOR_RETURN_IF_ERROR(CheckText("comment", request.comment(), false));
  FRONTDOOR_ASSIGN_OR_RETURN(ValidatedRuleSet validated,
                             ValidateRuleFiles(FilesOf(request.files())));
  const bool ok = validated.report.ok();
  v1::RuleSetVersion v;
  v.set_version(validated.id);
  v.set_name(validated.report.name());
  v.set_state(ok ? v1::RULE_SET_STATE_PROPOSED : v1::RULE_SET_STATE_INVALID);
  *v.mutable_rule_set() = validated.rule_set;
  *v.mutable_files() = request.files();
  *v.mutable_validation() = validated.report;
  v.set_author(request.author());
  v.set_source_commit(request.source_commit());
  v.set_comment(request.comment());
  *v.mutable_proposed_at() = ToProtoTime(clock_->Now());
  v.set_proposed_by(request.author());
  *v.add_history() = Event("proposed", request.author(), request.comment());
  const std::string summary = SummariseReport(validated.report);
  if (!ok) *v.add_history() = Event("rejected", request.author(), summary);

  absl::Status s =
      store_->Write([&](storage::RuleSetTxn& txn) { return txn.Create(v); });
  if (absl::IsAlreadyExists(s)) {
    absl::StatusOr<v1::RuleSetVersion> existing =
        store_->GetSummary(validated.id);
    return absl::AlreadyExistsError(absl::StrCat(
        "this rule set is already stored as version ", Short(validated.id),
        existing.ok() ? absl::StrCat(" (", StateName(existing->state()), ")")
                      : ""));
  }
  FRONTDOOR_RETURN_IF_ERROR(s);
  log::Info(ok ? "rule set proposed" : "rule set proposal failed validation",
            {{"version", validated.id},
             {"author", request.author()},
             {"summary", summary}});
  if (!ok) {
    return absl::FailedPreconditionError(
        absl::StrCat("the rule set failed validation (", summary,
                     "); recorded as INVALID version ", validated.id,
                     "; see 'frontdoor rules show ", Short(validated.id), "'"));
  }
  if (validated.compiled != nullptr) CacheCompiled(validated.compiled);
  return store_->GetSummary(validated.id);
}

absl::StatusOr<v1::RuleSetVersion> RuleSetManager::Approve(
    const v1::ApproveRuleSetRequest& request) {
  FRONTDOOR_RETURN_IF_ERROR(
      CheckText("approver", request.approver(), true, kMaxActorBytes));
  FRONTDOOR_RETURN_IF_ERROR(CheckText("comment", request.comment(), false));
  if (request.version().empty()) {
    return absl::InvalidArgumentError("version: is required");
  }
  FRONTDOOR_ASSIGN_OR_RETURN(std::string id,
                             store_->Resolve(request.version()));
  FRONTDOOR_RETURN_IF_ERROR(
      store_->Write([&](storage::RuleSetTxn& txn) -> absl::Status {
        FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> v,
                                   txn.GetHeader(id));
        if (!v.has_value()) {
          return absl::NotFoundError(absl::StrCat("no rule set version ", id));
        }
        if (SamePrincipal(v->proposed_by(), request.approver())) {
          return absl::PermissionDeniedError(absl::StrCat(
              "approval must come from someone other than the proposer (",
              v->proposed_by(), " proposed version ", Short(id), ")"));
        }
        if (v->state() != v1::RULE_SET_STATE_PROPOSED) {
          return absl::FailedPreconditionError(
              absl::StrCat("only a PROPOSED version can be approved; version ",
                           Short(id), " is ", StateName(v->state())));
        }
        v->set_state(v1::RULE_SET_STATE_APPROVED);
        v->set_approved_by(request.approver());
        *v->mutable_approved_at() = ToProtoTime(clock_->Now());
        FRONTDOOR_RETURN_IF_ERROR(txn.Update(*v));
        return txn.AppendEvent(
            id, Event("approved", request.approver(), request.comment()));
      }));
  log::Info("rule set approved",
            {{"version", id}, {"approver", request.approver()}});
  return store_->GetSummary(id);
}

// --- Activation ------------------------------------------------------------

absl::StatusOr<v1::RuleSetVersion> RuleSetManager::ActivateVersion(
    const std::string& id, const std::string& actor, const std::string& reason,
    ActivationKind kind, bool acknowledge_downgrades) {
  const char* action = kind == ActivationKind::kRollback ? "rolled_back"
                       : kind == ActivationKind::kReload ? "reloaded"
                                                         : "activated";
  absl::MutexLock lock(&activate_mu_);
  // Compile (or find) first: the swap itself must only move a pointer.
  FRONTDOOR_ASSIGN_OR_RETURN(v1::RuleSetVersion summary,
                             store_->GetSummary(id));
  if (summary.state() == v1::RULE_SET_STATE_INVALID) {
    return absl::FailedPreconditionError(absl::StrCat(
        "version ", Short(id),
        " failed validation (INVALID) and can never be activated"));
  }
  FRONTDOOR_ASSIGN_OR_RETURN(std::shared_ptr<const rules::CompiledRuleSet> next,
                             Compiled(id));

  std::string previous;
  bool unchanged = false;
  const google::protobuf::Timestamp now = ToProtoTime(clock_->Now());
  FRONTDOOR_RETURN_IF_ERROR(
      store_->Write([&](storage::RuleSetTxn& txn) -> absl::Status {
        FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> v,
                                   txn.GetHeader(id));
        if (!v.has_value()) {
          return absl::NotFoundError(absl::StrCat("no rule set version ", id));
        }
        FRONTDOOR_ASSIGN_OR_RETURN(previous, txn.GetActive());
        if (previous == id) {
          unchanged = true;
          return absl::OkStatus();
        }
        const v1::RuleSetState state = v->state();
        if (kind == ActivationKind::kRollback) {
          if (state != v1::RULE_SET_STATE_SUPERSEDED ||
              v->approved_by().empty()) {
            return absl::FailedPreconditionError(absl::StrCat(
                "rollback returns to an earlier active version; version ",
                Short(id), " is ", StateName(state),
                state == v1::RULE_SET_STATE_APPROVED
                    ? " and was never active: activate it instead"
                    : ""));
          }
        } else if (state == v1::RULE_SET_STATE_PROPOSED) {
          return absl::FailedPreconditionError(absl::StrCat(
              "version ", Short(id),
              " is PROPOSED: it must be approved (by someone other than the "
              "proposer) before it can be activated"));
        } else if (state != v1::RULE_SET_STATE_APPROVED &&
                   state != v1::RULE_SET_STATE_SUPERSEDED) {
          return absl::FailedPreconditionError(
              absl::StrCat("version ", Short(id), " is ", StateName(state),
                           " and cannot be activated"));
        }
        if (kind != ActivationKind::kRollback && v->known_downgrades() > 0 &&
            !acknowledge_downgrades) {
          return absl::FailedPreconditionError(absl::StrCat(
              "a replay found ", v->known_downgrades(),
              " referral(s) whose urgency version ", Short(id),
              " would lower; review them and activate with "
              "acknowledge_downgrades (--acknowledge-downgrades)"));
        }
        v->set_state(v1::RULE_SET_STATE_ACTIVE);
        v->set_activated_by(actor);
        *v->mutable_activated_at() = now;
        FRONTDOOR_RETURN_IF_ERROR(txn.Update(*v));
        FRONTDOOR_RETURN_IF_ERROR(
            txn.AppendEvent(id, Event(action, actor, reason, previous)));
        if (!previous.empty()) {
          FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> old,
                                     txn.GetHeader(previous));
          if (old.has_value()) {
            old->set_state(v1::RULE_SET_STATE_SUPERSEDED);
            FRONTDOOR_RETURN_IF_ERROR(txn.Update(*old));
            FRONTDOOR_RETURN_IF_ERROR(txn.AppendEvent(
                previous, Event("superseded", actor,
                                absl::StrCat("replaced by ", Short(id), " (",
                                             action, "): ", reason),
                                previous)));
          }
        }
        return txn.SetActive(id);
      }));
  if (unchanged) {
    // Already active in the store; make sure the holder agrees.
    if (holder_->Get()->version() != id) holder_->Swap(next);
    return store_->GetSummary(id);
  }
  const absl::Time start = absl::Now();
  holder_->Swap(next);
  const absl::Duration took = absl::Now() - start;
  if (options_.on_swap) options_.on_swap(took);
  if (Metrics* m = options_.metrics; m != nullptr) {
    m->Increment(kActivationsMetric, {action});
    m->Observe(kSwapSecondsMetric, {}, absl::ToDoubleSeconds(took));
  }
  log::Info("rule set activated",
            {{"version", id},
             {"action", action},
             {"actor", actor},
             {"previous", previous},
             {"swap_us", absl::ToDoubleMicroseconds(took)}});
  return store_->GetSummary(id);
}

namespace {

// The checks an activation and a rollback share: who and why are required,
// and `version` (the request's `field`) must name a stored version.
absl::StatusOr<std::string> ResolveSwitch(storage::RuleSetStore& store,
                                          const std::string& actor,
                                          const std::string& reason,
                                          const std::string& version,
                                          absl::string_view field) {
  FRONTDOOR_RETURN_IF_ERROR(CheckText("actor", actor, true, kMaxActorBytes));
  FRONTDOOR_RETURN_IF_ERROR(CheckText("reason", reason, true));
  if (version.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": is required"));
  }
  return store.Resolve(version);
}

}  // namespace

absl::StatusOr<v1::RuleSetVersion> RuleSetManager::Activate(
    const v1::ActivateRuleSetRequest& request) {
  FRONTDOOR_ASSIGN_OR_RETURN(
      std::string id, ResolveSwitch(*store_, request.actor(), request.reason(),
                                    request.version(), "version"));
  return ActivateVersion(id, request.actor(), request.reason(),
                         ActivationKind::kActivate,
                         request.acknowledge_downgrades());
}

absl::StatusOr<v1::RuleSetVersion> RuleSetManager::Rollback(
    const v1::RollbackRuleSetRequest& request) {
  FRONTDOOR_ASSIGN_OR_RETURN(
      std::string id, ResolveSwitch(*store_, request.actor(), request.reason(),
                                    request.to_version(), "to_version"));
  return ActivateVersion(id, request.actor(), request.reason(),
                         ActivationKind::kRollback,
                         /*acknowledge_downgrades=*/true);
}

absl::Status RuleSetManager::RecordReplay(absl::string_view version,
                                          int32_t downgrades,
                                          absl::string_view actor,
                                          absl::string_view summary) {
  FRONTDOOR_ASSIGN_OR_RETURN(std::string id, store_->Resolve(version));
  return store_->Write([&](storage::RuleSetTxn& txn) -> absl::Status {
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> v,
                               txn.GetHeader(id));
    if (!v.has_value()) {
      return absl::NotFoundError(absl::StrCat("no rule set version ", id));
    }
    v->set_known_downgrades(std::max(v->known_downgrades(), downgrades));
    FRONTDOOR_RETURN_IF_ERROR(txn.Update(*v));
    return txn.AppendEvent(id, Event("replayed", actor, summary));
  });
}

// --- Diff ------------------------------------------------------------------

absl::StatusOr<v1::RuleSetDiff> RuleSetManager::DiffRows(
    const v1::DiffRuleSetsRequest& request) const {
  if (request.to_version().empty()) {
    return absl::InvalidArgumentError("to_version: is required");
  }
  FRONTDOOR_ASSIGN_OR_RETURN(std::string from, Resolve(request.from_version()));
  FRONTDOOR_ASSIGN_OR_RETURN(std::string to, Resolve(request.to_version()));
  FRONTDOOR_ASSIGN_OR_RETURN(v1::RuleSetVersion a, store_->Get(from));
  FRONTDOOR_ASSIGN_OR_RETURN(v1::RuleSetVersion b, store_->Get(to));
  for (const v1::RuleSetVersion* v : {&a, &b}) {
    if (v->validation().version().empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("version ", Short(v->version()),
                       " does not compile (INVALID): nothing to compare"));
    }
  }
  v1::RuleSetDiff diff;
  diff.set_from_version(from);
  diff.set_to_version(to);
  for (v1::RowChange& c : rulesets::DiffRows(a.rule_set(), b.rule_set())) {
    *diff.add_rows() = std::move(c);
  }
  return diff;
}

// --- Hot reload ------------------------------------------------------------

void RuleSetManager::CountReload(bool ok, absl::string_view reason) {
  if (Metrics* m = options_.metrics; m != nullptr) {
    m->Increment(kReloadTotalMetric, {ok ? "ok" : "invalid"});
    m->Set(kReloadLastErrorMetric, {}, ok ? 0 : 1);
  }
}

ReloadResult RuleSetManager::Reload(const std::vector<v1::RuleFile>& files,
                                    absl::string_view dir) {
  ReloadResult result;
  const std::string comment =
      absl::StrCat("hot reload: the rules directory ", dir, " changed");
  absl::StatusOr<ValidatedRuleSet> validated = ValidateRuleFiles(files);
  if (!validated.ok()) {
    // Not a rule set at all (e.g. no files, or over the limits).
    result.outcome = ReloadResult::Outcome::kInvalid;
    result.message = std::string(validated.status().message());
    CountReload(false, result.message);
    log::Error("rules directory change rejected; the active rule set stays",
               {{"rules", dir}, {"error", validated.status()}});
    return result;
  }
  result.version = validated->id;
  const std::string summary = SummariseReport(validated->report);
  absl::StatusOr<v1::RuleSetVersion> existing =
      store_->GetSummary(validated->id);
  if (!existing.ok() && !absl::IsNotFound(existing.status())) {
    result.outcome = ReloadResult::Outcome::kError;
    result.message = std::string(existing.status().message());
    log::Error("hot reload failed",
               {{"rules", dir}, {"error", existing.status()}});
    return result;
  }

  if (!validated->report.ok()) {
    result.outcome = ReloadResult::Outcome::kInvalid;
    result.message = absl::StrCat("rejected: ", summary);
    // Recorded first, so that whoever sees the metric or the log finds the
    // INVALID version.
    if (!existing.ok()) {
      v1::RuleSetVersion v;
      v.set_version(validated->id);
      v.set_name(validated->report.name());
      v.set_state(v1::RULE_SET_STATE_INVALID);
      *v.mutable_rule_set() = validated->rule_set;
      for (const v1::RuleFile& f : files) *v.add_files() = f;
      *v.mutable_validation() = validated->report;
      v.set_author(kHotReloadActor);
      v.set_comment(comment);
      v.set_proposed_by(kHotReloadActor);
      *v.mutable_proposed_at() = ToProtoTime(clock_->Now());
      *v.add_history() = Event("proposed", kHotReloadActor, comment);
      *v.add_history() = Event("rejected", kHotReloadActor, summary);
      absl::Status s = store_->Write(
          [&](storage::RuleSetTxn& txn) { return txn.Create(v); });
      if (!s.ok() && !absl::IsAlreadyExists(s)) {
        log::Error("cannot record the rejected rule set", {{"error", s}});
      }
    }
    CountReload(false, summary);
    log::Error("rules directory change rejected; the active rule set stays",
               {{"rules", dir},
                {"version", validated->id},
                {"active", holder_->Get()->version()},
                {"summary", summary}});
    return result;
  }

  CountReload(true, "");
  if (validated->compiled != nullptr) CacheCompiled(validated->compiled);
  const std::string id = validated->id;
  v1::RuleSetState state = v1::RULE_SET_STATE_UNSPECIFIED;
  if (existing.ok()) {
    state = existing->state();
  } else {
    // New: proposed, and approved at once unless approval is required.
    v1::RuleSetVersion v;
    v.set_version(id);
    v.set_name(validated->report.name());
    *v.mutable_rule_set() = validated->rule_set;
    for (const v1::RuleFile& f : files) *v.add_files() = f;
    *v.mutable_validation() = validated->report;
    v.set_author(kHotReloadActor);
    v.set_comment(comment);
    v.set_proposed_by(kHotReloadActor);
    *v.mutable_proposed_at() = ToProtoTime(clock_->Now());
    *v.add_history() = Event("proposed", kHotReloadActor, comment);
    state = v1::RULE_SET_STATE_PROPOSED;
    if (!options_.require_approval) {
      state = v1::RULE_SET_STATE_APPROVED;
      v.set_approved_by(kHotReloadActor);
      *v.mutable_approved_at() = v.proposed_at();
      *v.add_history() =
          Event("approved", kHotReloadActor,
                "automatic: the server runs without --require_approval");
    }
    v.set_state(state);
    absl::Status s =
        store_->Write([&](storage::RuleSetTxn& txn) { return txn.Create(v); });
    if (!s.ok() && !absl::IsAlreadyExists(s)) {
      result.outcome = ReloadResult::Outcome::kError;
      result.message = std::string(s.message());
      log::Error("hot reload failed", {{"rules", dir}, {"error", s}});
      return result;
    }
  }

  if (state == v1::RULE_SET_STATE_ACTIVE) {
    result.outcome = ReloadResult::Outcome::kUnchanged;
    result.message = "the rules directory holds the active version";
    log::Info("rules directory holds the active rule set", {{"version", id}});
    return result;
  }
  if (options_.require_approval) {
    result.outcome = ReloadResult::Outcome::kWaiting;
    result.message = absl::StrCat(
        "version ", Short(id), " is ", StateName(state),
        "; the server requires approval: waiting for ",
        state == v1::RULE_SET_STATE_PROPOSED ? "an approval and " : "",
        "an activation");
    log::Info("rules directory change stored; waiting for approval",
              {{"version", id}, {"state", StateName(state)}});
    return result;
  }
  if (state == v1::RULE_SET_STATE_PROPOSED) {
    // Proposed earlier (by a person); approval is not required here.
    absl::Status s =
        store_->Write([&](storage::RuleSetTxn& txn) -> absl::Status {
          FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> v,
                                     txn.GetHeader(id));
          if (!v.has_value() || v->state() != v1::RULE_SET_STATE_PROPOSED) {
            return absl::OkStatus();
          }
          v->set_state(v1::RULE_SET_STATE_APPROVED);
          v->set_approved_by(kHotReloadActor);
          *v->mutable_approved_at() = ToProtoTime(clock_->Now());
          FRONTDOOR_RETURN_IF_ERROR(txn.Update(*v));
          return txn.AppendEvent(id, Event("approved", kHotReloadActor,
                                           "automatic: the server runs without "
                                           "--require_approval"));
        });
    if (!s.ok()) {
      result.outcome = ReloadResult::Outcome::kError;
      result.message = std::string(s.message());
      log::Error("hot reload failed", {{"rules", dir}, {"error", s}});
      return result;
    }
  }
  absl::StatusOr<v1::RuleSetVersion> activated =
      ActivateVersion(id, kHotReloadActor, comment, ActivationKind::kReload,
                      /*acknowledge_downgrades=*/false);
  if (!activated.ok()) {
    result.outcome = ReloadResult::Outcome::kWaiting;
    result.message = std::string(activated.status().message());
    log::Warn("rules directory change stored but not activated",
              {{"version", id}, {"error", activated.status()}});
    return result;
  }
  result.outcome = ReloadResult::Outcome::kActivated;
  result.message = absl::StrCat("version ", Short(id), " activated");
  return result;
}

}  // namespace frontdoor::rulesets
