// frontdoor: the command-line tool for Frontdoor: submit and follow
// referrals, work the worklists, manage services and back up the store
// (services/cli/client_command.h), and lint, test, explain and format triage
// rule sets (services/cli/rules_command.h), and query and verify the audit
// trail (services/cli/audit_command.h). See `frontdoor --help`.

#include <iostream>
#include <string>
#include <vector>

#include "services/cli/audit_command.h"
#include "services/cli/client_command.h"
#include "services/cli/rules_admin_command.h"
#include "services/cli/rules_command.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const frontdoor::cli::Io io{std::cin, std::cout, std::cerr};
  if (frontdoor::cli::IsAuditCommand(args)) {
    return frontdoor::cli::RunAudit(args, io,
                                    frontdoor::cli::ClientEnv::FromProcess());
  }
  if (frontdoor::cli::IsRulesAdminCommand(args)) {
    return frontdoor::cli::RunRulesAdmin(
        args, io, frontdoor::cli::ClientEnv::FromProcess());
  }
  int code = frontdoor::cli::RunCli(args, io,
                                    frontdoor::cli::ClientEnv::FromProcess());
  std::cout.flush();
  return code;
}
