// The files of a rule set directory as RuleFile messages: reading them from
// a directory (following symlinks, as in a Kubernetes ConfigMap mount),
// checking the names and sizes a caller sent, writing them to a directory,
// and hashing them.

#ifndef FRONTDOOR_SERVICES_RULESETS_RULE_FILES_H_
#define FRONTDOOR_SERVICES_RULESETS_RULE_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "frontdoor/v1/rule_set_service.pb.h"

namespace frontdoor::rulesets {

// Limits on the files of one submitted rule set.
inline constexpr int kMaxRuleFiles = 1000;
inline constexpr int kMaxRuleFileNameBytes = 255;
inline constexpr int64_t kMaxRuleFileBytes = 4 << 20;  // one file
inline constexpr int64_t kMaxRuleSetBytes = 16 << 20;  // all of them

// Checks one file name: not empty, at most kMaxRuleFileNameBytes, no '/',
// '\\' or NUL, not "." or "..", not starting with '.', and ending in
// ".yaml". INVALID_ARGUMENT naming the file and the rule broken.
absl::Status CheckRuleFileName(absl::string_view name);

// Checks a whole submission: at least one file, every name valid and
// distinct, each file and the total within the limits above.
// INVALID_ARGUMENT naming the first problem.
absl::Status CheckRuleFiles(const std::vector<v1::RuleFile>& files);

// The rule set files of `dir`: every entry that is (or links to) a regular
// file, whose name ends in ".yaml" and does not start with '.', sorted by
// name. Symlinks are followed, so a Kubernetes ConfigMap volume (files that
// link through the `..data` symlink) reads as the files it shows. Other
// entries (directories, hidden files, editor backups) are skipped.
// NOT_FOUND when `dir` is not a directory; INVALID_ARGUMENT when the limits
// above are exceeded; UNAVAILABLE on a read error (e.g. a file removed while
// being read).
absl::StatusOr<std::vector<v1::RuleFile>> ReadRuleFiles(const std::string& dir);

// Writes `files` into the existing directory `dir` (names already checked).
absl::Status WriteRuleFiles(const std::vector<v1::RuleFile>& files,
                            const std::string& dir);

// SHA-256 (64 lower-case hex digits) of the names and contents of `files`,
// in the order given: equal for equal file sets read in name order.
std::string HashRuleFiles(const std::vector<v1::RuleFile>& files);

// SHA-256 of `data`, 64 lower-case hex digits.
std::string Sha256Hex(absl::string_view data);

}  // namespace frontdoor::rulesets

#endif  // FRONTDOOR_SERVICES_RULESETS_RULE_FILES_H_
