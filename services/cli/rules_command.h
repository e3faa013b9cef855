#ifndef FRONTDOOR_SERVICES_CLI_RULES_COMMAND_H_
#define FRONTDOOR_SERVICES_CLI_RULES_COMMAND_H_

#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace frontdoor::cli {

// Exit codes of the frontdoor command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;  // errors in the rule set, failed
                                         // tests, an invalid referral, ...
inline constexpr int kExitUsage = 2;     // bad arguments, missing directory

// Standard streams for one run, so that tests can capture them.
struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

// Runs `frontdoor ARGS...` (`args` excludes the program name) and returns
// the process exit code. Never throws.
int RunFrontdoor(const std::vector<std::string>& args, const Io& io);

}  // namespace frontdoor::cli

#endif  // FRONTDOOR_SERVICES_CLI_RULES_COMMAND_H_
