// `frontdoor audit verify|query`: the audit trail of patient data access.
// Both talk to a running frontdoor-server (AuditService); `audit verify
// --data_dir=DIR` instead reads the store of a stopped server, or a backup
// restored elsewhere, directly. The shared client options (--server,
// --timeout, --json) are as in client_command.h.

#ifndef FRONTDOOR_SERVICES_CLI_AUDIT_COMMAND_H_
#define FRONTDOOR_SERVICES_CLI_AUDIT_COMMAND_H_

#include <string>
#include <vector>

#include "frontdoor/v1/audit.pb.h"
#include "services/cli/client_command.h"
#include "services/cli/rules_command.h"

namespace frontdoor::cli {

// Whether `args` (without the program name) is `audit ...`.
bool IsAuditCommand(const std::vector<std::string>& args);

// Runs `frontdoor audit VERB ...`. Exit codes: kExitOk (verify: the trail
// is intact); kExitFindings (verify: tampering found; or an error, printed);
// kExitUsage for bad arguments.
int RunAudit(const std::vector<std::string>& args, const Io& io,
             const ClientEnv& env);

// --- Formatting (exposed for tests) -----------------------------------------

// `audit verify`: the verdict, entries checked, the head hash in hex and,
// when tampered with, the first bad entry and its problem.
std::string FormatVerifyResult(const v1::VerifyAuditResponse& result);

// `audit query`: a table, one line per entry: seq, time (RFC 3339, UTC),
// principal, role, action, referral, outcome and request id.
std::string FormatAuditEntries(const std::vector<v1::AuditEntry>& entries);

}  // namespace frontdoor::cli

#endif  // FRONTDOOR_SERVICES_CLI_AUDIT_COMMAND_H_
