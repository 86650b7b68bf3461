// Goal: FormatRfc3339's hand-written fast path writes exactly what the general snprintf format
// writes, for every millisecond, date and boundary (leap days, ends of months and years), and
// round-trips through ParseRfc3339.
#include "base/time_format.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

#include "base/clock.h"

namespace fs::base {
namespace {

// The reference: civil date from the parse of the formatted text, re-rendered with snprintf.
std::string Reference(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

TEST(TimeFormatTest, FastPathMatchesTheCalendarForRandomInstants) {
  std::mt19937_64 rng(20261124);
  // 1970 .. 9999-12-31.
  std::uniform_int_distribution<std::int64_t> dist(0, 253'402'300'799'999);
  for (int i = 0; i < 20'000; ++i) {
    const std::int64_t ms = dist(rng);
    const std::string text = FormatRfc3339(TimeFromMillis(ms));
    ASSERT_EQ(text, Reference(ms)) << ms;
    const auto parsed = ParseRfc3339(text);
    ASSERT_TRUE(parsed.has_value()) << text;
    ASSERT_EQ(ToMillis(*parsed), ms) << text;
  }
}

TEST(TimeFormatTest, Boundaries) {
  EXPECT_EQ(FormatRfc3339(TimeFromMillis(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(TimeFromMillis(951'782'399'999)), "2000-02-28T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(TimeFromMillis(951'782'400'000)), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(TimeFromMillis(1'798'761'599'001)), "2026-12-31T23:59:59.001Z");
  EXPECT_EQ(FormatRfc3339(TimeFromMillis(253'402'300'799'999)), "9999-12-31T23:59:59.999Z");
  // Before the epoch the general path still answers.
  EXPECT_EQ(FormatRfc3339(TimeFromMillis(-1)), "1969-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace fs::base
