// Structured logs: one JSON object per line on stderr.
//
//   {"ts":"2026-11-23T14:20:00.123Z","level":"INFO","msg":"listening",
//    "addr":"127.0.0.1:50051","roles":"referral,triage,directory"}
//
// "ts" is RFC 3339 in UTC with milliseconds, "level" one of INFO, WARN,
// ERROR; the key/values follow in the order given. Lines below the minimum
// level (SetMinLevel, the server's --log_level) are dropped. Thread-safe:
// each line is written whole, with one write, under a lock.
//
// NEVER LOG PATIENT IDENTIFIERS OR CLINICAL FREE TEXT. Callers pass the
// referral id, the phone reference, request ids, rule ids, service ids,
// method names and status codes; never NHS numbers, names, dates of birth,
// postcodes, phone numbers, or the text a referrer typed. The logger cannot
// tell a patient identifier from any other string, so this is the caller's
// duty; an error message that may quote a field value (e.g. a validation
// error) must not be logged verbatim either: log its code and field path.
//
//   log::Info("referral stored", {{"referral_id", id}, {"ms", 12.5}});
//   log::Error("store failed", {{"error", status}});

#ifndef FRONTDOOR_SERVICES_COMMON_LOG_H_
#define FRONTDOOR_SERVICES_COMMON_LOG_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace frontdoor::log {

enum class Level { kInfo = 0, kWarn = 1, kError = 2 };

// "INFO", "WARN", "ERROR".
absl::string_view LevelName(Level level);

// Parses "info", "warn"/"warning", "error" (any case). False if unknown.
bool ParseLevel(absl::string_view text, Level* level);

// Lines below `level` are dropped. Default kInfo.
void SetMinLevel(Level level);
Level MinLevel();

// One key/value of a log line. Strings are JSON-escaped; numbers and bools
// are written bare (non-finite numbers as strings); an absl::Status as its
// ToString(); an absl::Duration in seconds.
class Field {
 public:
  Field(absl::string_view key, absl::string_view value);
  Field(absl::string_view key, const char* value);
  Field(absl::string_view key, const std::string& value);
  Field(absl::string_view key, bool value);
  template <typename T,
            typename std::enable_if<std::is_integral<T>::value &&
                                        !std::is_same<T, bool>::value,
                                    int>::type = 0>
  Field(absl::string_view key, T value)
      : Field(key, Int{static_cast<int64_t>(value)}) {}
  Field(absl::string_view key, double value);
  Field(absl::string_view key, const absl::Status& value);
  Field(absl::string_view key, absl::Duration value);

  absl::string_view key() const { return key_; }
  // The JSON text of the value.
  const std::string& json() const { return json_; }

 private:
  struct Int {
    int64_t v;
  };
  Field(absl::string_view key, Int value);

  absl::string_view key_;
  std::string json_;
};

// Writes one line at `level` (if not below the minimum level).
void Log(Level level, absl::string_view msg,
         std::initializer_list<Field> fields = {});

inline void Info(absl::string_view msg,
                 std::initializer_list<Field> fields = {}) {
  Log(Level::kInfo, msg, fields);
}
inline void Warn(absl::string_view msg,
                 std::initializer_list<Field> fields = {}) {
  Log(Level::kWarn, msg, fields);
}
inline void Error(absl::string_view msg,
                  std::initializer_list<Field> fields = {}) {
  Log(Level::kError, msg, fields);
}

// The line Log would write (without the trailing newline), for tests.
std::string FormatLine(absl::Time ts, Level level, absl::string_view msg,
                       std::initializer_list<Field> fields);

// Sends lines to `sink` (each without its newline) instead of stderr, or
// back to stderr when `sink` is empty. For tests; not to be called while
// other threads log.
void SetSinkForTesting(std::function<void(absl::string_view line)> sink);

// Appends `s` to `out` as a JSON string literal (with quotes). Invalid UTF-8
// bytes become U+FFFD.
void AppendJsonString(absl::string_view s, std::string* out);

}  // namespace frontdoor::log

#endif  // FRONTDOOR_SERVICES_COMMON_LOG_H_
