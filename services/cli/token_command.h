// `frontdoor admin token ...`: the identities file (--tokens_file) that
// frontdoor-server authenticates callers with. Works on the file directly;
// the server picks up changes within a second.

#ifndef FRONTDOOR_SERVICES_CLI_TOKEN_COMMAND_H_
#define FRONTDOOR_SERVICES_CLI_TOKEN_COMMAND_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/cli/rules_command.h"

namespace frontdoor::cli {

// `args` is the whole command line after the program name ("admin",
// "token", VERB, ...). create prints the new token alone on stdout (details
// go to stderr), so `TOKEN=$(frontdoor admin token create ...)` works.
// Returns kExitOk, kExitFindings (the file cannot be read or written) or
// kExitUsage.
int RunTokenCommand(const std::vector<std::string>& args, const Io& io,
                    absl::Time now);

}  // namespace frontdoor::cli

#endif  // FRONTDOOR_SERVICES_CLI_TOKEN_COMMAND_H_
