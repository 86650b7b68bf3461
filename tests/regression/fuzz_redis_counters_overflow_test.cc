// Goal: a cached availability value whose counters would overflow available() is refused
// without computing it. redis_reply_fuzzer found that "0:2:09223372036854775807" made
// DecodeCounters evaluate 0 - 2 - INT64_MAX (signed overflow, undefined behaviour) on a value
// read from Redis. The input is also replayed through the fuzz target (fuzz/redis_reply/).

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "redis/redis_services.h"

namespace fs::redis {
namespace {

TEST(FuzzRedisCountersOverflowTest, CountersBeyondTheTotalAreRefused) {
  const std::string max = std::to_string(std::numeric_limits<std::int64_t>::max());
  for (const std::string& text : std::vector<std::string>{
           "0:2:0" + max, "0:2:" + max, "0:" + max + ":" + max, max + ":" + max + ":1", "5:3:3"}) {
    EXPECT_FALSE(DecodeCounters(text).has_value()) << text;
  }
}

TEST(FuzzRedisCountersOverflowTest, CountersWithinTheTotalStillDecode) {
  const std::string max = std::to_string(std::numeric_limits<std::int64_t>::max());
  for (const std::string& text : std::vector<std::string>{
           "5:3:2", "0:0:0", max + ":" + max + ":0",
           max + ":1:" + std::to_string(std::numeric_limits<std::int64_t>::max() - 1)}) {
    const auto counters = DecodeCounters(text);
    ASSERT_TRUE(counters.has_value()) << text;
    EXPECT_EQ(EncodeCounters(*counters), text);
    EXPECT_GE(counters->available(), 0);
  }
}

}  // namespace
}  // namespace fs::redis
