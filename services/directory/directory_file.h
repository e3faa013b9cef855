// The directory file (triage-rules/directory.yaml): the services a referral
// can be sent to, their catchments, age limits and opening sessions, written
// by service managers in the project's strict YAML subset. The format is
// described in triage-rules/README-directory.md.
//
// Everything here is a pure function of its input; thread-compatible.

#ifndef FRONTDOOR_SERVICES_DIRECTORY_DIRECTORY_FILE_H_
#define FRONTDOOR_SERVICES_DIRECTORY_DIRECTORY_FILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "frontdoor/v1/directory_service.pb.h"
#include "services/triage/engine/diagnostic.h"

namespace frontdoor::directory {

// Age units in days, as in the NHS Directory of Services: a month is
// 30.4375 days and a year 365.25 days; a bound of N units is
// floor(N * unit) days.
inline constexpr double kDaysPerWeek = 7;
inline constexpr double kDaysPerMonth = 30.4375;
inline constexpr double kDaysPerYear = 365.25;

// Limits, so that a broken or hostile file cannot exhaust the process.
struct DirectoryLoadOptions {
  int64_t max_file_bytes = 4 << 20;  // 4 MiB
  int max_services = 5000;
  int max_range_districts = 100;  // districts one range ("LS1-LS29") expands to
};

// A directory file after loading: every service as the protobuf message the
// DirectoryService serves.
struct DirectoryFile {
  std::string name;      // `directory:`, e.g. "kirkbeck-community-spa"
  std::string title;     // optional
  std::string owner;     // optional
  std::string timezone;  // IANA name, e.g. "Europe/London"
  // In file order. Each has an id, a name, at least one pathway, sessions
  // that do not overlap (empty = 24/7), a default capacity of GREEN or
  // AMBER and a rank >= 1. At least one is a catch-all, open 24/7 with no
  // age or sex limits.
  std::vector<v1::Service> services;
};

// Parses `text` as a directory file named `file` (used in diagnostics).
// Reports every problem to `diags` as file:line:col (all of them, not just
// the first); returns nullopt if any of them is an error. Warnings (e.g. a
// pathway no service offers) do not stop loading. Never throws.
std::optional<DirectoryFile> ParseDirectoryFile(
    absl::string_view text, absl::string_view file, rules::Diagnostics* diags,
    const DirectoryLoadOptions& options = {});

// Reads and parses the file at `path`; diagnostics name the file `path`.
std::optional<DirectoryFile> ReadDirectoryFile(
    const std::string& path, rules::Diagnostics* diags,
    const DirectoryLoadOptions& options = {});

// ReadDirectoryFile for callers that only want a status: on any error,
// INVALID_ARGUMENT (NOT_FOUND if the file cannot be read) whose message lists
// every diagnostic, one "file:line:col: error: ..." per line.
absl::StatusOr<DirectoryFile> LoadDirectoryFile(
    const std::string& path, const DirectoryLoadOptions& options = {});

// The outward code of a postcode ("ls6 4ap" -> "LS6", " LS6 " -> "LS6"), or
// "" if `postcode` does not start with a well-formed district (1-2 letters,
// 1-2 digits, an optional letter: "LS6", "BD10", "EC1A").
std::string NormalizeDistrict(absl::string_view postcode);

// The age limits of a service in the file's notation: "any age", ">= 18y",
// "< 18y", "[16y..65y)". `max_age_days` is inclusive; 0 means no limit.
std::string FormatAgeLimits(int min_age_days, int max_age_days);

// An age in days as people say it: "80y", "7m", "12d".
std::string FormatAge(int age_days);

}  // namespace frontdoor::directory

#endif  // FRONTDOOR_SERVICES_DIRECTORY_DIRECTORY_FILE_H_
