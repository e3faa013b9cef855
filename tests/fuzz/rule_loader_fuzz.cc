// Fuzzes the rule loader: the input is written, in turn, as a *.rules.yaml
// file beside a valid ruleset.yaml, as the ruleset.yaml beside a valid rules
// file, and as a *.test.yaml beside both, in a private temporary directory
// (the loader reads directories only). Whatever loads is compiled and
// analysed, its own test cases are run, and it triages two referrals. Any
// crash, sanitizer report or leak is a bug; errors are expected.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "frontdoor/v1/referral.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "services/triage/engine/analysis.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/loader.h"
#include "services/triage/engine/test_runner.h"

namespace {

namespace fs = std::filesystem;
using frontdoor::rules::CompiledRuleSet;
using frontdoor::rules::Diagnostics;
using frontdoor::rules::EvalResult;
using frontdoor::rules::LoadOptions;
using frontdoor::rules::SourceMap;

constexpr char kRuleSetYaml[] = R"(ruleset: fuzz
title: Fuzz
owner: Fuzz
timezone: Europe/London
pathway_order: [EMERGENCY_SERVICES, ACUTE, CLINICAL_REVIEW, MATERNITY, PAEDIATRIC, MENTAL_HEALTH_CRISIS, PALLIATIVE, UCR, VIRTUAL_WARD, COMMUNITY_NURSING, PRIMARY_CARE, MENTAL_HEALTH_COMMUNITY, SOCIAL_CARE, ADVICE_ONLY]
targets:
  IMMEDIATE: 0m
  WITHIN_1H: 1h
  WITHIN_2H: 2h
  WITHIN_4H: 4h
  WITHIN_12H: 12h
  WITHIN_24H: 24h
  WITHIN_48H: 48h
  WITHIN_72H: 72h
  WITHIN_2W: 14d
  WITHIN_4W: 28d
  NONE: "-"
missing_data: {pathway: CLINICAL_REVIEW, urgency: WITHIN_1H}
fallback: {pathway: CLINICAL_REVIEW, urgency: WITHIN_4H}
)";

constexpr char kRulesYaml[] = R"(tables:
  - id: age
    title: Age
    hit_policy: first
    inputs:
      dob: patient.date_of_birth
      stated: {ref: patient.stated_age_years, on_missing: no_match}
    outputs:
      age_years: number
    rows: |
      | id       | dob     | stated  | age_years                                                          | source |
      | from_dob | present | -       | = floor(days_between(patient.date_of_birth, received_at) / 365.25) | DoS    |
      | stated   | missing | present | = stated                                                           | local  |
  - id: points
    title: Score
    hit_policy: collect
    score: MINI
    inputs:
      rr: observations.respiratory_rate
      hr: observations.pulse
    outputs:
      parameter: text
      points: number
    aggregates:
      total: sum(points)
      highest: max(points)
    rows: |
      | id    | rr      | hr       | parameter | points | source |
      | rr_lo | <= 8    | -        | rr        | 3      | chart  |
      | rr_ok | [9..20] | -        | rr        | 0      | chart  |
      | rr_hi | > 20    | -        | rr        | 2      | chart  |
      | hr_lo | -       | <= 40    | hr        | 3      | chart  |
      | hr_ok | -       | (40..90] | hr        | 0      | chart  |
      | hr_hi | -       | > 90     | hr        | 1      | chart  |
  - id: response
    title: Response
    hit_policy: priority
    inputs:
      total: total
      highest: highest
      age: age_years
    outputs:
      pathway: decision
      urgency: decision
    rows: |
      | id      | total  | highest | age   | pathway         | urgency    | source | sc  |
      | high    | >= 5   | -       | >= 16 | ACUTE           | IMMEDIATE  | chart  | yes |
      | single3 | < 5    | 3       | >= 16 | CLINICAL_REVIEW | WITHIN_1H  | chart  | yes |
      | child   | -      | -       | < 16  | PAEDIATRIC      | WITHIN_24H | local  | -   |
      | low     | [0..4] | <= 2    | >= 16 | PRIMARY_CARE    | WITHIN_24H | chart  | -   |
)";

fs::path g_dir;

void WriteFile(const fs::path& p, const char* data, size_t size) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data, static_cast<std::streamsize>(size));
}

// A fresh directory holding exactly `files`.
void Reset(
    std::initializer_list<std::pair<const char*, std::string_view>> files) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(g_dir, ec))
    fs::remove(e.path(), ec);
  for (const auto& [name, text] : files)
    WriteFile(g_dir / name, text.data(), text.size());
}

frontdoor::v1::Referral Referral(int which) {
  frontdoor::v1::Referral r;
  r.mutable_received_at()->set_seconds(1768471200);
  auto* dob = r.mutable_patient()->mutable_date_of_birth();
  dob->set_year(which == 0 ? 1950 : 2024);
  dob->set_month(3);
  dob->set_day(1);
  if (which == 0) {
    r.mutable_observations()->set_respiratory_rate(26);
    r.set_free_text("Chest pain since this morning");
  } else {
    r.mutable_observations()->set_pulse(150);
    r.mutable_findings()->set_fall(true);
  }
  return r;
}

void LoadAndUse() {
  LoadOptions options;
  options.max_file_bytes = 1 << 20;
  options.max_rows = 5000;
  Diagnostics diags;
  frontdoor::v1::RuleSet proto;
  SourceMap sources;
  if (!frontdoor::rules::ReadRuleSetFiles(g_dir.string(), options, &proto,
                                          &sources, &diags)) {
    return;
  }
  auto rs = CompiledRuleSet::Compile(std::move(proto), &sources, &diags);
  if (rs == nullptr) return;
  frontdoor::rules::Analyse(*rs, &diags);
  for (const auto& d : diags.items())
    (void)frontdoor::rules::FormatDiagnostic(d);
  auto report = frontdoor::rules::RunTests(*rs);
  (void)frontdoor::rules::FormatTestReport(report, true);
  EvalResult result;
  frontdoor::v1::TriageDecision decision;
  for (int i = 0; i < 2; ++i) {
    rs->Evaluate(Referral(i), &result);
    rs->ToDecision(result, &decision);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Invalid UTF-8 in string fields is expected here; protobuf would log
  // every instance.
  google::protobuf::SetLogHandler(nullptr);
  g_dir = fs::temp_directory_path() /
          absl::StrCat("frontdoor_rule_loader_fuzz_", getpid());
  fs::create_directories(g_dir);
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(g_dir, ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // As a rules file.
  Reset({{"ruleset.yaml", kRuleSetYaml}, {"50-fuzz.rules.yaml", input}});
  LoadAndUse();
  // As ruleset.yaml.
  Reset({{"ruleset.yaml", input}, {"10-mini.rules.yaml", kRulesYaml}});
  LoadAndUse();
  // As a test file.
  Reset({{"ruleset.yaml", kRuleSetYaml},
         {"10-mini.rules.yaml", kRulesYaml},
         {"mini.test.yaml", input}});
  LoadAndUse();
  return 0;
}
