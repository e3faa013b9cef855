#include "services/common/log.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace frontdoor::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

struct Output {
  absl::Mutex mu;
  std::function<void(absl::string_view)> sink ABSL_GUARDED_BY(mu);
};

Output& GetOutput() {
  static Output* output = new Output();
  return *output;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
    return 0;
  }
  return n;
}

std::string JsonString(absl::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

}  // namespace

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kError:
      return "ERROR";
  }
  return "INFO";
}

bool ParseLevel(absl::string_view text, Level* level) {
  const std::string t = absl::AsciiStrToLower(text);
  if (t == "info") {
    *level = Level::kInfo;
  } else if (t == "warn" || t == "warning") {
    *level = Level::kWarn;
  } else if (t == "error") {
    *level = Level::kError;
  } else {
    return false;
  }
  return true;
}

void SetMinLevel(Level level) { g_min_level.store(static_cast<int>(level)); }

Level MinLevel() { return static_cast<Level>(g_min_level.load()); }

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out->append("\\\"");
        ++i;
        continue;
      case '\\':
        out->append("\\\\");
        ++i;
        continue;
      case '\n':
        out->append("\\n");
        ++i;
        continue;
      case '\r':
        out->append("\\r");
        ++i;
        continue;
      case '\t':
        out->append("\\t");
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7F) {
      absl::StrAppendFormat(out, "\\u%04x", c);
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out->append("\\ufffd");
      ++i;
      continue;
    }
    out->append(s.data() + i, n);
    i += n;
  }
  out->push_back('"');
}

Field::Field(absl::string_view key, absl::string_view value)
    : key_(key), json_(JsonString(value)) {}
Field::Field(absl::string_view key, const char* value)
    : Field(key, absl::string_view(value == nullptr ? "" : value)) {}
Field::Field(absl::string_view key, const std::string& value)
    : Field(key, absl::string_view(value)) {}
Field::Field(absl::string_view key, bool value)
    : key_(key), json_(value ? "true" : "false") {}
Field::Field(absl::string_view key, Int value)
    : key_(key), json_(absl::StrCat(value.v)) {}
Field::Field(absl::string_view key, double value) : key_(key) {
  if (std::isfinite(value)) {
    json_ = absl::StrCat(value);
  } else {
    json_ = JsonString(absl::StrCat(value));
  }
}
Field::Field(absl::string_view key, const absl::Status& value)
    : Field(key, absl::string_view(value.ToString())) {}
Field::Field(absl::string_view key, absl::Duration value)
    : Field(key, absl::ToDoubleSeconds(value)) {}

std::string FormatLine(absl::Time ts, Level level, absl::string_view msg,
                       std::initializer_list<Field> fields) {
  std::string line = "{\"ts\":\"";
  line.append(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", ts, absl::UTCTimeZone()));
  absl::StrAppend(&line, "\",\"level\":\"", LevelName(level), "\",\"msg\":");
  AppendJsonString(msg, &line);
  for (const Field& f : fields) {
    line.push_back(',');
    AppendJsonString(f.key(), &line);
    line.push_back(':');
    line.append(f.json());
  }
  line.push_back('}');
  return line;
}

void Log(Level level, absl::string_view msg,
         std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed))
    return;
  std::string line = FormatLine(absl::Now(), level, msg, fields);
  Output& out = GetOutput();
  absl::MutexLock lock(&out.mu);
  if (out.sink) {
    out.sink(line);
    return;
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void SetSinkForTesting(std::function<void(absl::string_view line)> sink) {
  Output& out = GetOutput();
  absl::MutexLock lock(&out.mu);
  out.sink = std::move(sink);
}

}  // namespace frontdoor::log
