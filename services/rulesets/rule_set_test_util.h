// Test helpers for the rule set lifecycle: temporary directories and
// variants of the default rule set. Test code only.

#ifndef FRONTDOOR_SERVICES_RULESETS_RULE_SET_TEST_UTIL_H_
#define FRONTDOOR_SERVICES_RULESETS_RULE_SET_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "services/common/temp_dir.h"
#include "absl/strings/str_replace.h"
#include "frontdoor/v1/rule_set_service.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/rulesets/rule_files.h"

namespace frontdoor::rulesets::testing {

// The default rule set, read by tests from the source tree.
inline constexpr char kDefaultRules[] = "triage-rules/community-spa";

// A fresh directory, removed with its contents on destruction.
class TempDir : public frontdoor::testing::TempDir {
 public:
  TempDir() : frontdoor::testing::TempDir("frontdoor_rulesets_test") {}
};

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// Copies the default rule set into `dir` (created).
inline void CopyDefaultRules(const std::string& dir) {
  std::filesystem::create_directories(dir);
  for (const auto& e : std::filesystem::directory_iterator(kDefaultRules)) {
    std::filesystem::copy_file(
        e.path(), std::filesystem::path(dir) / e.path().filename(),
        std::filesystem::copy_options::overwrite_existing);
  }
}

// Replaces `from` (which must occur) with `to` in dir/file.
inline void Edit(const std::string& dir, const std::string& file,
                 const std::string& from, const std::string& to) {
  const std::string path = dir + "/" + file;
  std::string text = ReadText(path);
  ASSERT_NE(text.find(from), std::string::npos) << from << " not in " << path;
  WriteText(path, absl::StrReplaceAll(text, {{from, to}}));
}

// A new version with the same decisions: another title.
inline void ChangeTitle(const std::string& dir, const std::string& title) {
  Edit(dir, "ruleset.yaml", "title: Community SPA default triage rules",
       "title: " + title);
}

// Medication supply (R77) within 1 hour instead of 2, test updated.
inline void MedicationWithin1H(const std::string& dir) {
  Edit(dir, "70-primary-care.rules.yaml",
       "| PRIMARY_CARE | WITHIN_2H  | NHS Pathways Dx05/Dx12",
       "| PRIMARY_CARE | WITHIN_1H  | NHS Pathways Dx05/Dx12");
  Edit(dir, "70-primary-care.test.yaml",
       "{pathway: PRIMARY_CARE, urgency: WITHIN_2H, fired: "
       "[primary_care/r77_medication_supply]",
       "{pathway: PRIMARY_CARE, urgency: WITHIN_1H, fired: "
       "[primary_care/r77_medication_supply]");
}

// Medication supply (R77) within 4 hours instead of 2 (a downgrade), test
// updated.
inline void MedicationWithin4H(const std::string& dir) {
  Edit(dir, "70-primary-care.rules.yaml",
       "| PRIMARY_CARE | WITHIN_2H  | NHS Pathways Dx05/Dx12",
       "| PRIMARY_CARE | WITHIN_4H  | NHS Pathways Dx05/Dx12");
  Edit(dir, "70-primary-care.test.yaml",
       "{pathway: PRIMARY_CARE, urgency: WITHIN_2H, fired: "
       "[primary_care/r77_medication_supply]",
       "{pathway: PRIMARY_CARE, urgency: WITHIN_4H, fired: "
       "[primary_care/r77_medication_supply]");
}

// Compiles, but a test fails: R77 changed without its test.
inline void FailingTest(const std::string& dir) {
  Edit(dir, "70-primary-care.rules.yaml",
       "| PRIMARY_CARE | WITHIN_2H  | NHS Pathways Dx05/Dx12",
       "| PRIMARY_CARE | WITHIN_1H  | NHS Pathways Dx05/Dx12");
}

// Does not load: a YAML syntax error.
inline void BreakSyntax(const std::string& dir) {
  Edit(dir, "ruleset.yaml", "timezone: Europe/London",
       "timezone: [Europe/London");
}

// A referral for a repeat prescription (R77: primary care within 2 hours
// under the default rules), from the fall example without its findings.
inline v1::Referral MedicationReferral() {
  v1::Referral r;
  auto s = google::protobuf::util::JsonStringToMessage(
      ReadText("examples/referrals/ucr-fall-morning.json"), &r);
  EXPECT_TRUE(s.ok()) << s;
  r.set_problem(v1::PRESENTING_PROBLEM_MEDICATION_SUPPLY);
  r.clear_findings();
  r.set_free_text("Needs a repeat prescription today.");
  return r;
}

inline std::vector<v1::RuleFile> FilesIn(const std::string& dir) {
  absl::StatusOr<std::vector<v1::RuleFile>> files = ReadRuleFiles(dir);
  EXPECT_TRUE(files.ok()) << files.status();
  return files.ok() ? *files : std::vector<v1::RuleFile>();
}

}  // namespace frontdoor::rulesets::testing

#endif  // FRONTDOOR_SERVICES_RULESETS_RULE_SET_TEST_UTIL_H_
