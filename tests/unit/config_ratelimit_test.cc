// Goal: the rate-limit flags of `flashsale serve` parse into the limiter's options,
// are off by default, read their FLASHSALE_* variables (the flag winning), and refuse bad
// values with exit code 2.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "app/config.h"

namespace fs::app {
namespace {

constexpr const char* kRateLimitEnv[] = {"FLASHSALE_RATE_LIMIT",
                                         "FLASHSALE_RATE_LIMIT_TIERS",
                                         "FLASHSALE_RATE_LIMIT_ENTRIES_MAX",
                                         "FLASHSALE_TRUSTED_PROXIES",
                                         "FLASHSALE_SUSPICIOUS_CIDRS",
                                         "FLASHSALE_SUSPICIOUS_TIER",
                                         "FLASHSALE_BOT_IP_REQUESTS_PER_SECOND",
                                         "FLASHSALE_BOT_FINGERPRINT_USER_IDS",
                                         "FLASHSALE_BOT_COOLDOWN_SECONDS"};

class RateLimitConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kRateLimitEnv) unsetenv(name);
  }
  void TearDown() override {
    for (const char* name : kRateLimitEnv) unsetenv(name);
  }
  static CommandLine Serve(std::vector<std::string> args) {
    std::vector<std::string> full = {"flashsale",     "serve",
                                     "--jwt-secret",  "test-jwt-secret-0123456789abcdef0",
                                     "--admin-token", "test-admin-token-0123456789abcdef"};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const std::string& arg : full) argv.push_back(arg.c_str());
    return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
  }
};

TEST_F(RateLimitConfigTest, OnByDefaultWithTheIssueTiers) {
  const CommandLine parsed = Serve({});
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  const RateLimitConfig& config = parsed.config.rate_limit;
  EXPECT_EQ(config.mode, RateLimitMode::kOn);
  EXPECT_EQ(config.limiter.tiers[0].requests_per_minute, 10);
  EXPECT_EQ(config.limiter.tiers[3].requests_per_minute, 200);
  EXPECT_EQ(config.limiter.entries_max, 100'000u);
  EXPECT_EQ(config.limiter.ip_requests_per_second_max, 100);
  EXPECT_EQ(config.limiter.fingerprint_user_ids_max, 5u);
  EXPECT_EQ(config.limiter.cooldown, std::chrono::seconds(300));
  EXPECT_EQ(config.limiter.suspicious_tier, ratelimit::Tier::kNew);
  EXPECT_TRUE(config.trusted_proxies.empty());
}

TEST_F(RateLimitConfigTest, FlagsAndEnvironment) {
  setenv("FLASHSALE_RATE_LIMIT", "on", 1);
  setenv("FLASHSALE_TRUSTED_PROXIES", "10.0.0.0/8", 1);
  setenv("FLASHSALE_BOT_COOLDOWN_SECONDS", "60", 1);
  const CommandLine parsed =
      Serve({"--rate-limit-tiers", "normal=120:30", "--trusted-proxies", "10.0.0.0/8,::1",
             "--suspicious-cidrs", "100.64.0.0/10", "--suspicious-tier", "bot",
             "--bot-ip-requests-per-second", "50", "--bot-fingerprint-user-ids", "3",
             "--rate-limit-entries-max", "1000"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  const RateLimitConfig& config = parsed.config.rate_limit;
  EXPECT_EQ(config.mode, RateLimitMode::kOn);
  EXPECT_EQ(config.limiter.tiers[2].requests_per_minute, 120);
  EXPECT_EQ(config.limiter.tiers[2].burst, 30);
  EXPECT_EQ(config.trusted_proxies.size(), 2u);  // the flag won over the variable
  EXPECT_EQ(config.limiter.suspicious_cidrs.size(), 1u);
  EXPECT_EQ(config.limiter.suspicious_tier, ratelimit::Tier::kBot);
  EXPECT_EQ(config.limiter.ip_requests_per_second_max, 50);
  EXPECT_EQ(config.limiter.fingerprint_user_ids_max, 3u);
  EXPECT_EQ(config.limiter.entries_max, 1000u);
  EXPECT_EQ(config.limiter.cooldown, std::chrono::seconds(60));
}

TEST_F(RateLimitConfigTest, RefusesBadValues) {
  const std::vector<std::vector<std::string>> bad = {{"--rate-limit", "yes"},
                                                     {"--rate-limit-tiers", "vip=5"},
                                                     {"--trusted-proxies", "10.0.0.1/8"},
                                                     {"--suspicious-cidrs", "nonsense"},
                                                     {"--suspicious-tier", "gold"},
                                                     {"--bot-ip-requests-per-second", "0"},
                                                     {"--bot-fingerprint-user-ids", "-1"},
                                                     {"--bot-cooldown-seconds", "x"},
                                                     {"--rate-limit-entries-max", "0"}};
  for (const auto& args : bad) {
    const CommandLine parsed = Serve(args);
    EXPECT_EQ(parsed.action, CommandLine::Action::kExit) << args[0] << " " << args[1];
    EXPECT_EQ(parsed.exit_code, kExitBadConfig) << args[0] << " " << args[1];
    EXPECT_NE(parsed.err.find(args[0]), std::string::npos) << parsed.err;
  }
}

}  // namespace
}  // namespace fs::app
