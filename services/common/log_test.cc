#include "services/common/log.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace frontdoor::log {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

const absl::Time kTs =
    absl::FromUnixMillis(1795443600123);  // 2026-11-23T14:20:00.123Z

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetSinkForTesting([this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
  }
  void TearDown() override {
    SetSinkForTesting(nullptr);
    SetMinLevel(Level::kInfo);
  }
  std::vector<std::string> lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

TEST(LogFormat, TimestampLevelMessageAndFieldsInOrder) {
  EXPECT_EQ(
      FormatLine(
          kTs, Level::kWarn, "store unhealthy",
          {{"referral_id", "R-1"}, {"count", 3}, {"ok", false}, {"s", 0.25}}),
      "{\"ts\":\"2026-11-23T14:20:00.123Z\",\"level\":\"WARN\",\"msg\":\"store "
      "unhealthy\",\"referral_id\":\"R-1\",\"count\":3,\"ok\":false,\"s\":0."
      "25}");
}

TEST(LogFormat, EscapesStringsAsJson) {
  const std::string line =
      FormatLine(kTs, Level::kInfo, "a \"quoted\"\nline\t\\",
                 {{"k", std::string("\x01\x7f")}});
  EXPECT_THAT(line, HasSubstr("\"msg\":\"a \\\"quoted\\\"\\nline\\t\\\\\""));
  EXPECT_THAT(line, HasSubstr("\"k\":\"\\u0001\\u007f\""));
}

TEST(LogFormat, KeepsValidUtf8AndReplacesInvalidBytes) {
  const std::string line =
      FormatLine(kTs, Level::kInfo, "caf\xc3\xa9 \xff\xc3", {});
  EXPECT_THAT(line, HasSubstr("\"msg\":\"caf\xc3\xa9 \\ufffd\\ufffd\""));
}

TEST(LogFormat, StatusDurationAndNonFiniteNumbers) {
  const std::string line =
      FormatLine(kTs, Level::kError, "x",
                 {{"error", absl::UnavailableError("closed")},
                  {"grace", absl::Milliseconds(1500)},
                  {"nan", std::nan("")}});
  EXPECT_THAT(line, HasSubstr("\"error\":\"UNAVAILABLE: closed\""));
  EXPECT_THAT(line, HasSubstr("\"grace\":1.5"));
  EXPECT_THAT(line, HasSubstr("\"nan\":\"nan\""));
}

TEST(LogLevel, Parses) {
  Level l = Level::kInfo;
  EXPECT_TRUE(ParseLevel("WARNING", &l));
  EXPECT_EQ(l, Level::kWarn);
  EXPECT_TRUE(ParseLevel("error", &l));
  EXPECT_EQ(l, Level::kError);
  EXPECT_TRUE(ParseLevel("Info", &l));
  EXPECT_EQ(l, Level::kInfo);
  EXPECT_FALSE(ParseLevel("debug", &l));
}

TEST_F(LogTest, DropsLinesBelowTheMinimumLevel) {
  SetMinLevel(Level::kWarn);
  Info("hidden");
  Warn("shown", {{"n", 1}});
  Error("also shown");
  const auto got = lines();
  ASSERT_THAT(got, SizeIs(2));
  EXPECT_THAT(got[0],
              HasSubstr("\"level\":\"WARN\",\"msg\":\"shown\",\"n\":1}"));
  EXPECT_THAT(got[1], HasSubstr("\"level\":\"ERROR\""));
}

TEST_F(LogTest, ConcurrentLinesAreWholeAndNotInterleaved) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) Info("tick", {{"thread", t}, {"i", i}});
    });
  }
  for (auto& th : threads) th.join();
  const auto got = lines();
  ASSERT_THAT(got, SizeIs(800));
  for (const auto& line : got) {
    EXPECT_TRUE(absl::StartsWith(line, "{\"ts\":\"")) << line;
    EXPECT_TRUE(absl::EndsWith(line, "}")) << line;
  }
}

}  // namespace
}  // namespace frontdoor::log
