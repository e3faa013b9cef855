// `frontdoor rules` verbs that manage rule set versions on a running
// frontdoor-server (RuleSetService): versions, show, active, validate,
// propose, approve, activate, rollback, diff, replay (the candidate against
// the referral history) and shadow (the candidate on live traffic).
// `rules diff` of two local directories needs no server. The offline verbs (lint, test, explain, fmt)
// are in rules_command.h; the shared client options (--server, --json,
// --timeout, --actor) in client_command.h.

#ifndef FRONTDOOR_SERVICES_CLI_RULES_ADMIN_COMMAND_H_
#define FRONTDOOR_SERVICES_CLI_RULES_ADMIN_COMMAND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "frontdoor/v1/rule_set_service.pb.h"
#include "services/cli/client_command.h"
#include "services/cli/rules_command.h"

namespace frontdoor::cli {

// Whether `args` (without the program name) is `rules VERB ...` with one of
// the verbs above.
bool IsRulesAdminCommand(const std::vector<std::string>& args);

// Runs `frontdoor rules VERB ...`; returns the exit code (kExitOk;
// kExitFindings for an error from the server, a rule set that fails
// validation, or a refused change; kExitUsage for bad arguments).
int RunRulesAdmin(const std::vector<std::string>& args, const Io& io,
                  const ClientEnv& env);

// --- Formatting (exposed for tests) -----------------------------------------

// "PROPOSED", "ACTIVE", ...
std::string StateText(v1::RuleSetState state);

// `rules versions`: one row per version, newest first.
std::string FormatVersionList(const std::vector<v1::RuleSetVersion>& versions);

// `rules show` / `rules active`: the version, its validation and history.
std::string FormatVersion(const v1::RuleSetVersion& version);

// `rules validate`: "ok"/"FAILED", findings, tests and coverage.
std::string FormatValidation(const v1::ValidationReport& report);

// `rules diff`: the changed rows (only the cells that differ, for changed
// rows), then the decision regions, downgrades marked.
std::string FormatRuleSetDiff(const v1::RuleSetDiff& diff);

// `rules replay` progress: "[#######.....] 58% 580,000/1,000,000" with
// `width` cells; `total` is an estimate (never below `done`).
std::string FormatReplayProgress(int64_t done, int64_t total, int width = 12);

// "1,000,000".
std::string GroupThousands(int64_t n);

// `rules replay`: versions, counts and speed; the downgrades first (each
// with the rows responsible), then the other changes, the transition matrix,
// the changes by candidate row and the rows never hit; ends with the
// --acknowledge-downgrades reminder when there are downgrades.
std::string FormatReplayReport(const v1::ReplayReport& report);

// `rules shadow report` (and start/stop): versions, since, counts, and the
// recent differences, downgrades first.
std::string FormatShadowReport(const v1::ShadowReport& report);

}  // namespace frontdoor::cli

#endif  // FRONTDOOR_SERVICES_CLI_RULES_ADMIN_COMMAND_H_
