// Goal: one line per key per interval, the lines held back counted and reported with the next
// line, and keys independent of each other.
#include "base/log_throttle.h"

#include <gtest/gtest.h>

namespace fs::base {
namespace {

TEST(LogThrottleTest, OneLinePerKeyPerIntervalWithTheCountHeldBack) {
  LogThrottle throttle(std::chrono::seconds(1));
  const LogThrottle::TimePoint start{};
  EXPECT_EQ(throttle.Admit(7, start), std::optional<std::uint64_t>(0));
  for (int i = 1; i <= 999; ++i) {
    EXPECT_FALSE(throttle.Admit(7, start + std::chrono::milliseconds(i)).has_value());
  }
  // Another kind is not held back by the first.
  EXPECT_EQ(throttle.Admit(9, start + std::chrono::milliseconds(10)),
            std::optional<std::uint64_t>(0));
  EXPECT_EQ(throttle.Admit(7, start + std::chrono::seconds(1)), std::optional<std::uint64_t>(999));
  EXPECT_FALSE(throttle.Admit(7, start + std::chrono::milliseconds(1500)).has_value());
  EXPECT_EQ(throttle.Admit(7, start + std::chrono::seconds(5)), std::optional<std::uint64_t>(1));
}

}  // namespace
}  // namespace fs::base
