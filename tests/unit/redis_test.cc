// Goal: the pure parts of the Redis module (src/redis) without a server: --redis URL parsing
// (valid forms and every refused one), RESP reply decoding and interpretation (NOSCRIPT,
// integer arrays, the rate-limit script's reply with its range checks), the shape of a
// rate-limit call, the cached availability encoding, RateLimiter::Record (a decision made by
// the shared buckets gives the same numbers, counters and events as a local one), and the
// --redis flags of `flashsale serve`.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "app/config.h"
#include "base/clock.h"
#include "ratelimit/rate_limiter.h"
#include "redis/rate_limit_script.h"
#include "redis/redis_services.h"
#include "redis/redis_url.h"
#include "redis/reply.h"

namespace fs::redis {
namespace {

TEST(RedisUrlTest, ParsesHostPortAndDatabase) {
  struct Case {
    const char* text;
    const char* host;
    std::uint16_t port;
    std::int64_t database;
  };
  const Case cases[] = {
      {"redis://localhost", "localhost", 6379, 0},
      {"redis://127.0.0.1:6380", "127.0.0.1", 6380, 0},
      {"redis://cache-1.internal:7000/3", "cache-1.internal", 7000, 3},
      {"redis://[::1]:6390/1", "::1", 6390, 1},
      {"redis://[::1]", "::1", 6379, 0},
      {"redis://h/", "h", 6379, 0},
  };
  for (const Case& c : cases) {
    const auto url = ParseRedisUrl(c.text);
    ASSERT_TRUE(url) << c.text << ": " << url.error().message();
    EXPECT_EQ(url->host, c.host) << c.text;
    EXPECT_EQ(url->port, c.port) << c.text;
    EXPECT_EQ(url->database, c.database) << c.text;
  }
  EXPECT_EQ(ParseRedisUrl("redis://[::1]:6390/1")->ToString(), "redis://[::1]:6390/1");
  EXPECT_EQ(ParseRedisUrl("redis://h")->ToString(), "redis://h:6379/0");
}

TEST(RedisUrlTest, CredentialsAreDecodedAndNeverShown) {
  const auto url = ParseRedisUrl("redis://:s3cr%40t%3A1@cache:6380/2");
  ASSERT_TRUE(url) << url.error().message();
  EXPECT_EQ(url->username, "");
  EXPECT_EQ(url->password, "s3cr@t:1");
  EXPECT_EQ(url->host, "cache");
  EXPECT_EQ(url->database, 2);
  EXPECT_EQ(url->ToString(), "redis://***@cache:6380/2");
  const auto acl = ParseRedisUrl("redis://app:pw@[::1]");
  ASSERT_TRUE(acl) << acl.error().message();
  EXPECT_EQ(acl->username, "app");
  EXPECT_EQ(acl->password, "pw");
  // A refused URL's message does not repeat the password.
  const auto bad = ParseRedisUrl("redis://:hunter2@h:0");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message().find("hunter2"), std::string::npos) << bad.error().message();
}

TEST(RedisUrlTest, RefusesEverythingElse) {
  for (const char* text : {"",
                           "localhost:6379",
                           "http://h:6379",
                           "rediss://h",
                           "redis://",
                           "redis://:6379",
                           "redis://h:",
                           "redis://h:0",
                           "redis://h:65536",
                           "redis://h:63a",
                           "redis://h:6379:1",
                           "redis://user@h",
                           "redis://:@h",
                           "redis://:%zz@h",
                           "redis://:%4@h",
                           "redis://:pw@",
                           "redis://h?db=1",
                           "redis://h#x",
                           "redis://h/x",
                           "redis://h/-1",
                           "redis://h/1000001",
                           "redis://[::1",
                           "redis://[]",
                           "redis://[::1]x",
                           "redis://h h",
                           "redis://[zz]:1"}) {
    const auto url = ParseRedisUrl(text);
    EXPECT_FALSE(url) << text;
    if (!url) {
      EXPECT_EQ(url.error().code(), base::StatusCode::kInvalidArgument) << text;
    }
  }
}

TEST(RedisReplyTest, DecodesEveryReplyType) {
  const auto replies = ParseReplies(
      "+OK\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n$1\r\nx\r\n-NOSCRIPT No matching script\r\n");
  ASSERT_TRUE(replies) << replies.error().message();
  ASSERT_EQ(replies->size(), 6U);
  EXPECT_EQ((*replies)[0].type, Reply::Type::kStatus);
  EXPECT_EQ((*replies)[0].text, "OK");
  EXPECT_EQ((*replies)[1].integer, 42);
  EXPECT_EQ((*replies)[2].text, "abc");
  EXPECT_TRUE((*replies)[3].is_nil());
  ASSERT_EQ((*replies)[4].elements.size(), 2U);
  EXPECT_EQ((*replies)[4].elements[1].text, "x");
  EXPECT_TRUE(IsNoScriptError((*replies)[5]));
  EXPECT_FALSE(IsNoScriptError(Reply::Error("ERR something")));
  EXPECT_FALSE(IsNoScriptError(Reply::String("NOSCRIPT")));
}

TEST(RedisReplyTest, LeavesAnIncompleteTailAndRefusesGarbage) {
  const auto partial = ParseReplies("+OK\r\n$5\r\nab");
  ASSERT_TRUE(partial);
  EXPECT_EQ(partial->size(), 1U);
  EXPECT_FALSE(ParseReplies("!nonsense\r\n"));
  std::string deep;
  for (int i = 0; i < 12; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  EXPECT_FALSE(ParseReplies(deep));
}

TEST(RedisReplyTest, IntegerArrayNeedsExactlyThatManyIntegers) {
  const Reply three = Reply::Array({Reply::Integer(1), Reply::Integer(2), Reply::Integer(3)});
  ASSERT_TRUE(IntegerArray(three, 3));
  EXPECT_EQ((*IntegerArray(three, 3))[2], 3);
  EXPECT_FALSE(IntegerArray(three, 2));
  EXPECT_FALSE(IntegerArray(Reply::Array({Reply::Integer(1), Reply::String("2")}), 2));
  EXPECT_FALSE(IntegerArray(Reply::Integer(1), 1));
}

Reply ScriptReply(std::vector<std::int64_t> values) {
  std::vector<Reply> elements;
  for (std::int64_t value : values) elements.push_back(Reply::Integer(value));
  return Reply::Array(std::move(elements));
}

TEST(RateLimitScriptTest, ReadsTheScriptReply) {
  const auto outcome = ParseRateLimitReply(ScriptReply({0, 0, 3, 2, 30'000, 120'000, 0, 1}));
  ASSERT_TRUE(outcome) << outcome.error().message();
  EXPECT_FALSE(outcome->allowed);
  EXPECT_EQ(outcome->tier, ratelimit::Tier::kBot);
  EXPECT_EQ(outcome->tier_reason, ratelimit::TierReason::kBotFingerprintUsers);
  EXPECT_EQ(outcome->tightest, ratelimit::ThrottleReason::kFingerprintLimit);
  EXPECT_EQ(outcome->tightest_units, 30'000);
  EXPECT_EQ(outcome->capacity_units, 120'000);
  EXPECT_FALSE(outcome->detected[static_cast<std::size_t>(ratelimit::TierReason::kBotIpRate)]);
  EXPECT_TRUE(
      outcome->detected[static_cast<std::size_t>(ratelimit::TierReason::kBotFingerprintUsers)]);
}

TEST(RateLimitScriptTest, RefusesErrorsAndOutOfRangeReplies) {
  const std::vector<std::vector<std::int64_t>> bad = {
      {2, 2, 0, 0, 0, 60'000, 0, 0},        // allowed not 0/1
      {1, 4, 0, 0, 0, 60'000, 0, 0},        // no such tier
      {1, 2, 4, 0, 0, 60'000, 0, 0},        // no such tier reason
      {1, 2, 0, 3, 0, 60'000, 0, 0},        // no such bucket
      {1, 2, 0, 0, -1, 60'000, 0, 0},       // negative units
      {1, 2, 0, 0, 120'000, 60'000, 0, 0},  // more than the capacity
      {1, 2, 0, 0, 0, 59'999, 0, 0},        // capacity below one request
      {1, 2, 0, 0, 0, 60'000, 2, 0},        // detection not 0/1
      {1, 2, 0, 0, 0, 60'000, 0},           // too short
  };
  for (const auto& values : bad) EXPECT_FALSE(ParseRateLimitReply(ScriptReply(values)));
  EXPECT_FALSE(ParseRateLimitReply(Reply::Error("ERR user_script:1: boom")));
  EXPECT_FALSE(ParseRateLimitReply(Reply::Nil()));
}

TEST(RateLimitScriptTest, CallNamesEveryBucketAndPassesTheOptions) {
  ratelimit::LimiterOptions options;
  options.suspicious_cidrs = *ratelimit::CidrList::Parse("10.0.0.0/8", "test");
  ratelimit::RequestIdentity identity;
  identity.user_id = "alice";
  identity.client_ip = *ratelimit::IpAddress::Parse("10.1.2.3");
  identity.fingerprint = "fp";
  identity.claimed_tier = ratelimit::Tier::kPremium;
  const ScriptCall call = BuildRateLimitCall(identity, options, 1234);
  ASSERT_EQ(call.keys.size(), 8U);
  EXPECT_EQ(call.keys[0], "fs:rl:b:u:alice");
  EXPECT_EQ(call.keys[1], "fs:rl:b:i:10.1.2.3");
  EXPECT_EQ(call.keys[2], "fs:rl:b:f:fp");
  EXPECT_EQ(call.keys[3], "fs:rl:flag:u:alice");
  ASSERT_EQ(call.args.size(), 19U);
  EXPECT_EQ(call.args[0], "1234");
  EXPECT_EQ(call.args[1], "3");   // premium
  EXPECT_EQ(call.args[2], "1");   // in a suspicious range
  EXPECT_EQ(call.args[4], "10");  // bot requests per minute
  EXPECT_EQ(call.args[16], "alice");
  EXPECT_EQ(call.args[17], "1");
  EXPECT_EQ(call.args[18], "fs:rl:flag:u:");
  identity.fingerprint.clear();
  identity.client_ip = *ratelimit::IpAddress::Parse("192.0.2.1");
  const ScriptCall plain = BuildRateLimitCall(identity, options, 1234);
  EXPECT_EQ(plain.args[2], "0");
  EXPECT_EQ(plain.args[17], "0");
}

TEST(AvailabilityCacheTest, CountersRoundTripAndGarbageIsAMiss) {
  const core::StockCounters counters{100, 7, 3};
  EXPECT_EQ(EncodeCounters(counters), "100:7:3");
  const auto decoded = DecodeCounters("100:7:3");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->available(), 90);
  for (const char* bad : {"", "1:2", "1:2:3:4", "a:b:c", "-1:0:0", "1:1:1", "1:2:3 ", "1::3"}) {
    EXPECT_FALSE(DecodeCounters(bad)) << bad;
  }
}

TEST(RateLimiterRecordTest, SharedDecisionHasTheLocalNumbersCountersAndEvents) {
  base::ManualClock clock(base::TimeFromMillis(1'790'000'000'000));
  std::vector<std::string> events;
  ratelimit::RateLimiter limiter({}, clock, [&events](const ratelimit::LimiterEvent& event) {
    events.push_back(std::string(event.reason));
  });
  ratelimit::RequestIdentity identity;
  identity.user_id = "u";
  identity.client_ip = *ratelimit::IpAddress::Parse("192.0.2.1");
  identity.fingerprint = "f";

  ratelimit::CheckOutcome allowed;
  allowed.allowed = true;
  allowed.tier = ratelimit::Tier::kNormal;
  allowed.tightest_units = 19 * ratelimit::kUnitsPerRequest;
  allowed.capacity_units = 20 * ratelimit::kUnitsPerRequest;
  const ratelimit::Decision ok = limiter.Record(identity, allowed);
  EXPECT_TRUE(ok.allowed);
  EXPECT_EQ(ok.limit.requests_per_minute, 100);
  EXPECT_EQ(ok.remaining, 19);
  EXPECT_EQ(ok.reset_seconds, 1);  // one request at 100/min refills in 600 ms
  EXPECT_TRUE(events.empty());

  ratelimit::CheckOutcome refused;
  refused.allowed = false;
  refused.tier = ratelimit::Tier::kBot;
  refused.tier_reason = ratelimit::TierReason::kBotIpRate;
  refused.tightest = ratelimit::ThrottleReason::kIpLimit;
  refused.tightest_units = 0;
  refused.capacity_units = 2 * ratelimit::kUnitsPerRequest;
  refused.detected[static_cast<std::size_t>(ratelimit::TierReason::kBotIpRate)] = true;
  const ratelimit::Decision no = limiter.Record(identity, refused);
  EXPECT_FALSE(no.allowed);
  EXPECT_EQ(no.reason, ratelimit::ThrottleReason::kIpLimit);
  EXPECT_EQ(no.limit.requests_per_minute, 10);
  EXPECT_EQ(no.retry_after_seconds, 6);  // one request at 10/min
  EXPECT_EQ(no.reset_seconds, 12);
  const ratelimit::LimiterSnapshot snapshot = limiter.Snapshot();
  EXPECT_EQ(snapshot.throttled[static_cast<std::size_t>(ratelimit::ThrottleReason::kIpLimit)]
                              [static_cast<std::size_t>(ratelimit::Tier::kBot)],
            1U);
  EXPECT_EQ(snapshot.detections[static_cast<std::size_t>(ratelimit::TierReason::kBotIpRate)], 1U);
  EXPECT_EQ(snapshot.tracked_identities, 0U) << "no local bucket touched";
  EXPECT_EQ(events, (std::vector<std::string>{"bot_ip_rate", "ip_limit"}));
}

class RedisConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { Clear(); }
  void TearDown() override { Clear(); }
  static void Clear() {
    for (const char* name :
         {"FLASHSALE_REDIS", "FLASHSALE_REDIS_CACHE", "FLASHSALE_REDIS_TIMEOUT_MS"}) {
      unsetenv(name);
    }
  }
  static app::CommandLine Serve(std::vector<std::string> args) {
    std::vector<std::string> full = {"flashsale",     "serve",
                                     "--jwt-secret",  "test-jwt-secret-0123456789abcdef0",
                                     "--admin-token", "test-admin-token-0123456789abcdef"};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const std::string& arg : full) argv.push_back(arg.c_str());
    return app::ParseCommandLine(static_cast<int>(argv.size()), argv.data());
  }
};

TEST_F(RedisConfigTest, OffByDefault) {
  const app::CommandLine parsed = Serve({});
  ASSERT_EQ(parsed.action, app::CommandLine::Action::kServe) << parsed.err;
  EXPECT_FALSE(parsed.config.redis.url);
  EXPECT_EQ(parsed.config.redis.cache, app::RedisCacheMode::kAuto);
  EXPECT_EQ(parsed.config.redis.timeout.count(), 50);
}

TEST_F(RedisConfigTest, FlagsAndVariables) {
  const app::CommandLine parsed = Serve(
      {"--redis", "redis://10.0.0.5:6380/2", "--redis-cache", "on", "--redis-timeout-ms", "20"});
  ASSERT_EQ(parsed.action, app::CommandLine::Action::kServe) << parsed.err;
  ASSERT_TRUE(parsed.config.redis.url);
  EXPECT_EQ(parsed.config.redis.url->host, "10.0.0.5");
  EXPECT_EQ(parsed.config.redis.url->port, 6380);
  EXPECT_EQ(parsed.config.redis.url->database, 2);
  EXPECT_EQ(parsed.config.redis.cache, app::RedisCacheMode::kOn);
  EXPECT_EQ(parsed.config.redis.timeout.count(), 20);
  setenv("FLASHSALE_REDIS", "redis://cache:7000", 1);
  setenv("FLASHSALE_REDIS_CACHE", "off", 1);
  const app::CommandLine from_env = Serve({});
  ASSERT_EQ(from_env.action, app::CommandLine::Action::kServe) << from_env.err;
  ASSERT_TRUE(from_env.config.redis.url);
  EXPECT_EQ(from_env.config.redis.url->port, 7000);
  EXPECT_EQ(from_env.config.redis.cache, app::RedisCacheMode::kOff);
  const app::CommandLine flag_wins = Serve({"--redis", "redis://other"});
  ASSERT_TRUE(flag_wins.config.redis.url);
  EXPECT_EQ(flag_wins.config.redis.url->host, "other");
}

TEST_F(RedisConfigTest, ThePasswordComesFromTheUrlOrAFileNotBoth) {
  const std::string file = ::testing::TempDir() + "/flashsale-redis-password";
  std::ofstream(file, std::ios::binary | std::ios::trunc) << "from-a-file\n";
  const app::CommandLine from_file =
      Serve({"--redis", "redis://cache:7000", "--redis-password-file", file});
  ASSERT_EQ(from_file.action, app::CommandLine::Action::kServe) << from_file.err;
  EXPECT_EQ(from_file.config.redis.url->password, "from-a-file");
  const app::CommandLine from_url = Serve({"--redis", "redis://:in-the-url@cache"});
  ASSERT_EQ(from_url.action, app::CommandLine::Action::kServe) << from_url.err;
  EXPECT_EQ(from_url.config.redis.url->password, "in-the-url");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--redis", "redis://:x@cache", "--redis-password-file", file},
           {"--redis-password-file", file},
           {"--redis", "redis://cache", "--redis-password-file", file + ".missing"}}) {
    const app::CommandLine parsed = Serve(args);
    EXPECT_EQ(parsed.exit_code, app::kExitBadConfig) << args[1];
    EXPECT_EQ(parsed.err.find("in-the-url"), std::string::npos);
  }
}

TEST_F(RedisConfigTest, BadValuesExitWithCode2) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--redis", "localhost:6379"},
                                             {"--redis", "redis://h:99999"},
                                             {"--redis-cache", "maybe"},
                                             {"--redis-timeout-ms", "0"},
                                             {"--redis-timeout-ms", "1001"}}) {
    const app::CommandLine parsed = Serve(args);
    EXPECT_EQ(parsed.action, app::CommandLine::Action::kExit) << args[1];
    EXPECT_EQ(parsed.exit_code, app::kExitBadConfig) << args[1];
  }
}

}  // namespace
}  // namespace fs::redis
