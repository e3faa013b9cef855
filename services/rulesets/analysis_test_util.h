// Test helpers for replay, shadow and region diff: rule sets copied from the
// source tree into a temporary directory with rows edited, and stored
// records made from bench corpus referrals. Test code only.

#ifndef FRONTDOOR_SERVICES_RULESETS_ANALYSIS_TEST_UTIL_H_
#define FRONTDOOR_SERVICES_RULESETS_ANALYSIS_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "frontdoor/v1/referral_service.pb.h"
#include "gtest/gtest.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/loader.h"

namespace frontdoor::rulesets::analysis_testing {

inline constexpr char kCommunitySpa[] = "triage-rules/community-spa";
inline constexpr char kMini[] = "services/triage/engine/testdata/mini";

// A fresh directory, removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string templ =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
        "/frontdoor_rulesets_analysis_XXXXXX";
    if (char* made = ::mkdtemp(templ.data()); made != nullptr) path_ = made;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// In `file`, on the line that contains `line_has`, replace the first
// occurrence of `from` with `to`.
struct RowEdit {
  std::string file;
  std::string line_has;
  std::string from;
  std::string to;
};

// Copies the rule set directory `source` into `dir`/`name`, applies `edits`
// (each must apply to exactly one line) and loads it with analysis. Fails
// the test (and returns null) if an edit does not apply or the result does
// not load.
inline std::shared_ptr<const rules::CompiledRuleSet> LoadEdited(
    const std::string& source, const std::string& dir, const std::string& name,
    const std::vector<RowEdit>& edits) {
  namespace fs = std::filesystem;
  const fs::path target = fs::path(dir) / name;
  std::error_code ec;
  fs::create_directories(target, ec);
  for (const auto& entry : fs::directory_iterator(source)) {
    fs::copy_file(entry.path(), target / entry.path().filename(),
                  fs::copy_options::overwrite_existing, ec);
    EXPECT_FALSE(ec) << ec.message();
  }
  for (const RowEdit& e : edits) {
    const fs::path path = target / e.file;
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::vector<std::string> lines = absl::StrSplit(ss.str(), '\n');
    int applied = 0;
    for (std::string& line : lines) {
      if (line.find(e.line_has) == std::string::npos) continue;
      const size_t at = line.find(e.from);
      if (at == std::string::npos) continue;
      line.replace(at, e.from.size(), e.to);
      ++applied;
    }
    EXPECT_EQ(applied, 1) << e.file << ": '" << e.line_has << "' / '" << e.from
                          << "'";
    if (applied != 1) return nullptr;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (size_t i = 0; i < lines.size(); ++i) {
      out << lines[i] << (i + 1 < lines.size() ? "\n" : "");
    }
  }
  rules::Diagnostics diags;
  auto rs = rules::LoadRuleSet(target.string(), rules::LoadOptions(), &diags);
  EXPECT_NE(rs, nullptr) << diags.error_count() << " error(s) in "
                         << target.string();
  return rs;
}

inline std::shared_ptr<const rules::CompiledRuleSet> Load(
    const std::string& dir) {
  rules::Diagnostics diags;
  auto rs = rules::LoadRuleSet(dir, rules::LoadOptions(), &diags);
  EXPECT_NE(rs, nullptr) << diags.error_count() << " error(s) in " << dir;
  return rs;
}

// A stored record of `referral` as the server keeps it: id, received_at,
// the active decision's pathway and urgency.
inline v1::ReferralRecord MakeStoredRecord(const std::string& id,
                                           const v1::Referral& referral,
                                           const rules::CompiledRuleSet& rs) {
  v1::ReferralRecord rec;
  rec.set_id(id);
  *rec.mutable_referral() = referral;
  *rec.mutable_received_at() = referral.received_at();
  *rec.mutable_decision() = rs.Triage(referral);
  rec.set_pathway(rec.decision().pathway());
  rec.set_urgency(rec.decision().urgency());
  rec.set_status(v1::REFERRAL_STATUS_TRIAGED);
  return rec;
}

// The NEWS2 response threshold "5 or more" moved to 6: a NEWS2 of exactly 5
// no longer sends to acute within the hour (a downgrade for most).
inline std::vector<RowEdit> News2FiveBecomesSix() {
  return {{"20-news2.rules.yaml", "| r30_news2_5_or_more", ">= 5", ">= 6"}};
}

// The NEWS2 pulse band 111-130 (2 points) starts at 116: pulse 111-115
// scores 1 instead of 2.
inline std::vector<RowEdit> PulseBandMoved() {
  return {{"20-news2.rules.yaml", "| r37_pulse_91_to_110", "[91..110]",
           "[91..115]"},
          {"20-news2.rules.yaml", "| r37_pulse_111_to_130", "[111..130]",
           "[116..130]"}};
}

}  // namespace frontdoor::rulesets::analysis_testing

#endif  // FRONTDOOR_SERVICES_RULESETS_ANALYSIS_TEST_UTIL_H_
