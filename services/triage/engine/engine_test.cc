#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/loader.h"

namespace frontdoor::rules {
namespace {

TEST(EngineSmoke, LoadsDefaultRuleSet) {
  Diagnostics diags;
  auto rs = LoadRuleSet("triage-rules/community-spa", LoadOptions(), &diags);
  for (const auto& d : diags.items()) std::cerr << FormatDiagnostic(d) << "\n";
  ASSERT_NE(rs, nullptr);
}

}  // namespace
}  // namespace frontdoor::rules
