// frontdoor: the command-line tool for Frontdoor's triage rule sets.
// See `frontdoor --help` and services/cli/rules_command.h.

#include <iostream>
#include <string>
#include <vector>

#include "services/cli/rules_command.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const frontdoor::cli::Io io{std::cin, std::cout, std::cerr};
  int code = frontdoor::cli::RunFrontdoor(args, io);
  std::cout.flush();
  return code;
}
