// Fuzzes evaluation: the input is parsed as a frontdoor.v1.Referral (wire
// format) and triaged by the default rule set, loaded once from
// triage-rules/community-spa (or FRONTDOOR_RULESET) relative to the working
// directory. The same EvalResult is reused across inputs, as a server thread
// would, and every tenth input also goes through a fresh one; both must give
// the same decision. Any crash or sanitizer report is a bug.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "frontdoor/v1/referral.pb.h"
#include "frontdoor/v1/triage.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/loader.h"

namespace {

using frontdoor::rules::CompiledRuleSet;
using frontdoor::rules::EvalResult;

std::shared_ptr<const CompiledRuleSet>* g_rule_set = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Invalid UTF-8 in string fields is expected here; protobuf would log
  // every instance.
  google::protobuf::SetLogHandler(nullptr);
  const char* env = std::getenv("FRONTDOOR_RULESET");
  const std::string dir =
      env != nullptr && *env != '\0' ? env : "triage-rules/community-spa";
  frontdoor::rules::Diagnostics diags;
  g_rule_set =
      new std::shared_ptr<const CompiledRuleSet>(frontdoor::rules::LoadRuleSet(
          dir, frontdoor::rules::LoadOptions(), &diags));
  if (*g_rule_set == nullptr) {
    for (const auto& d : diags.items()) {
      std::fprintf(stderr, "%s\n",
                   frontdoor::rules::FormatDiagnostic(d).c_str());
    }
    std::fprintf(stderr,
                 "evaluate_fuzz: cannot load %s (run from the source root)\n",
                 dir.c_str());
    std::exit(1);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  frontdoor::v1::Referral referral;
  if (!referral.ParseFromArray(data, static_cast<int>(size))) return 0;
  const CompiledRuleSet& rs = **g_rule_set;
  static EvalResult* reused = new EvalResult();
  static frontdoor::v1::TriageDecision* decision =
      new frontdoor::v1::TriageDecision();
  static uint64_t n = 0;
  rs.Evaluate(referral, reused);
  rs.ToDecision(*reused, decision);
  if (decision->pathway() == frontdoor::v1::PATHWAY_UNSPECIFIED ||
      decision->urgency() == frontdoor::v1::URGENCY_UNSPECIFIED) {
    std::fprintf(stderr, "evaluate_fuzz: a decision without an outcome:\n%s\n",
                 decision->DebugString().c_str());
    std::abort();
  }
  if (++n % 10 == 0) {
    EvalResult fresh;
    frontdoor::v1::TriageDecision d2;
    rs.Evaluate(referral, &fresh);
    rs.ToDecision(fresh, &d2);
    if (!google::protobuf::util::MessageDifferencer::Equals(*decision, d2)) {
      std::fprintf(stderr,
                   "evaluate_fuzz: a reused EvalResult decided "
                   "differently:\n%s\n---\n%s\n",
                   decision->DebugString().c_str(), d2.DebugString().c_str());
      std::abort();
    }
  }
  return 0;
}
