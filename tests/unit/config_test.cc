// Goal: `flashsale` configuration parses every flag and its FLASHSALE_* variable (the flag
// wins), applies the documented defaults, and refuses every invalid value with exit code 2 and
// a message naming the flag; --help and --version exit 0. No server is started.

#include "app/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fs::app {
namespace {

constexpr char kSecret[] = "test-jwt-secret-0123456789abcdef0";
constexpr char kToken[] = "test-admin-token-0123456789abcdef";
constexpr char kEnvSecret[] = "env-secret-0123456789abcdef012345";
constexpr char kEnvToken[] = "env-token-0123456789abcdef0123456";

constexpr const char* kEnvNames[] = {"FLASHSALE_LISTEN",
                                     "FLASHSALE_DATA_DIR",
                                     "FLASHSALE_DEMO",
                                     "FLASHSALE_JWT_SECRET",
                                     "FLASHSALE_ADMIN_TOKEN",
                                     "FLASHSALE_JWT_SECRET_FILE",
                                     "FLASHSALE_ADMIN_TOKEN_FILE",
                                     "FLASHSALE_THREADS",
                                     "FLASHSALE_SQLITE_SYNCHRONOUS",
                                     "FLASHSALE_BATCH_SIZE_MAX",
                                     "FLASHSALE_INBOX_CAPACITY",
                                     "FLASHSALE_LOG_LEVEL",
                                     "FLASHSALE_IDLE_TIMEOUT_SECONDS"};

// Clears every FLASHSALE_* variable for the test and restores the previous values after.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kEnvNames) {
      const char* value = std::getenv(name);
      if (value != nullptr) saved_[name] = value;
      unsetenv(name);
    }
  }
  void TearDown() override {
    for (const char* name : kEnvNames) unsetenv(name);
    for (const auto& [name, value] : saved_) setenv(name.c_str(), value.c_str(), 1);
  }

  static CommandLine Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "flashsale");
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
  }

  // Parses `serve` with valid secrets plus `args`.
  static CommandLine Serve(std::vector<std::string> args) {
    std::vector<std::string> full = {"serve", "--jwt-secret", kSecret, "--admin-token", kToken};
    full.insert(full.end(), args.begin(), args.end());
    return Parse(full);
  }

 private:
  std::map<std::string, std::string> saved_;
};

TEST_F(ConfigTest, DefaultsWithRequiredSecrets) {
  const CommandLine parsed = Serve({});
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  const Config& config = parsed.config;
  EXPECT_EQ(config.listen_host, "127.0.0.1");
  EXPECT_EQ(config.listen_port, 8080);
  EXPECT_EQ(config.data_dir, "data");
  EXPECT_EQ(config.demo, DemoMode::kOff);
  EXPECT_EQ(config.jwt_secret, kSecret);
  EXPECT_EQ(config.admin_token, kToken);
  EXPECT_EQ(config.threads, DefaultIoThreads(std::thread::hardware_concurrency()));
  EXPECT_EQ(config.sqlite_synchronous, store::SqliteOptions::Synchronous::kFull);
  EXPECT_EQ(config.batch_size_max, 4096u);
  EXPECT_EQ(config.inbox_capacity, 100'000u);
  EXPECT_EQ(config.log_level, LogLevel::kInfo);
  EXPECT_EQ(config.idle_timeout, std::chrono::seconds(30));
  EXPECT_EQ(config.shutdown_delay, std::chrono::seconds(5));
  EXPECT_EQ(config.drain_timeout, std::chrono::seconds(10));
}

// The defaults are written once (Config, or the options of the module they configure): the
// parsed defaults equal them, the modules' own defaults agree, and --help shows them.
TEST_F(ConfigTest, DefaultsAreWrittenOnce) {
  const CommandLine parsed = Serve({});
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  const Config& config = parsed.config;
  const Config defaults;
  EXPECT_EQ(config.batch_size_max, engine::Options{}.batch_size_max);
  EXPECT_EQ(config.inbox_capacity, engine::Options{}.inbox_capacity);
  EXPECT_EQ(config.payment_concurrency, payment::WorkerOptions{}.concurrency);
  EXPECT_EQ(config.audit_throttled_per_second,
            engine::FairnessAuditOptions{}.individual_per_second_max);
  EXPECT_EQ(config.payment_retry_schedule.delays, core::DefaultRetrySchedule().delays);
  EXPECT_EQ(config.payment_retry_schedule.delays, defaults.payment_retry_schedule.delays);
  EXPECT_EQ(config.payment_timeout, defaults.payment_timeout);
  EXPECT_EQ(config.payment_simulated_latency, defaults.payment_simulated_latency);
  EXPECT_EQ(config.payment_gateway, defaults.payment_gateway);
  EXPECT_EQ(config.events, defaults.events);
  EXPECT_EQ(config.kafka_topic, defaults.kafka_topic);
  EXPECT_EQ(config.audit_checkpoint, defaults.audit_checkpoint);
  EXPECT_EQ(config.rate_limit.mode, RateLimitMode::kOn);
  EXPECT_EQ(config.rate_limit.limiter.entries_max, defaults.rate_limit.limiter.entries_max);
  EXPECT_EQ(config.rate_limit.limiter.cooldown, defaults.rate_limit.limiter.cooldown);
  EXPECT_EQ(config.rate_limit.limiter.suspicious_tier, defaults.rate_limit.limiter.suspicious_tier);
  for (std::size_t i = 0; i < ratelimit::kTierCount; ++i) {
    EXPECT_EQ(config.rate_limit.limiter.tiers[i].requests_per_minute,
              defaults.rate_limit.limiter.tiers[i].requests_per_minute);
    EXPECT_EQ(config.rate_limit.limiter.tiers[i].burst, defaults.rate_limit.limiter.tiers[i].burst);
  }
  EXPECT_EQ(config.redis.cache, defaults.redis.cache);
  EXPECT_EQ(config.redis.timeout, defaults.redis.timeout);
  EXPECT_EQ(config.waiting_room.prequeue, defaults.waiting_room.prequeue);
  EXPECT_EQ(config.waiting_room.admit_per_second, defaults.waiting_room.admit_per_second);
  EXPECT_EQ(config.waiting_room.pass_ttl, defaults.waiting_room.pass_ttl);

  const CommandLine help = Parse({"serve", "--help"});
  for (const char* shown :
       {"bot=10,new=50,normal=100,premium=200", "1s,2s,4s,8s,16s,32s,1m,2m,5m,10m",
        "127.0.0.1:8080", "4096", "100000", "flashsale.events", "simulated"}) {
    EXPECT_NE(help.out.find(shown), std::string::npos) << shown << "\n" << help.out;
  }
}

TEST_F(ConfigTest, JwtChecks) {
  const CommandLine defaults = Serve({});
  ASSERT_EQ(defaults.action, CommandLine::Action::kServe) << defaults.err;
  EXPECT_EQ(defaults.config.jwt.leeway, std::chrono::seconds(30));
  EXPECT_TRUE(defaults.config.jwt.issuer.empty());
  EXPECT_TRUE(defaults.config.jwt.audience.empty());
  const CommandLine set =
      Serve({"--jwt-leeway-seconds", "5", "--jwt-issuer", "https://id", "--jwt-audience", "shop"});
  ASSERT_EQ(set.action, CommandLine::Action::kServe) << set.err;
  EXPECT_EQ(set.config.jwt.leeway, std::chrono::seconds(5));
  EXPECT_EQ(set.config.jwt.issuer, "https://id");
  EXPECT_EQ(set.config.jwt.audience, "shop");
  for (const char* bad : {"-1", "3601", "x"}) {
    const CommandLine refused = Serve({"--jwt-leeway-seconds", bad});
    EXPECT_EQ(refused.exit_code, kExitBadConfig) << bad;
    EXPECT_NE(refused.err.find("--jwt-leeway-seconds"), std::string::npos) << refused.err;
  }
}

// One core is the writer's: I/O threads take the rest, at least one.
TEST(DefaultIoThreadsTest, LeavesTheWriterACore) {
  EXPECT_EQ(DefaultIoThreads(0), 1u);  // unknown
  EXPECT_EQ(DefaultIoThreads(1), 1u);
  EXPECT_EQ(DefaultIoThreads(2), 1u);
  EXPECT_EQ(DefaultIoThreads(3), 2u);
  EXPECT_EQ(DefaultIoThreads(16), 15u);
  EXPECT_EQ(DefaultIoThreads(100'000), 256u);  // http::kThreadsMax
}

TEST_F(ConfigTest, EveryFlag) {
  const CommandLine parsed = Parse({"serve",
                                    "--listen",
                                    "0.0.0.0:0",
                                    "--data-dir",
                                    "/tmp/d",
                                    "--demo",
                                    "--threads",
                                    "3",
                                    "--sqlite-synchronous",
                                    "normal",
                                    "--batch-size-max",
                                    "64",
                                    "--inbox-capacity",
                                    "10",
                                    "--log-level",
                                    "debug",
                                    "--idle-timeout-seconds",
                                    "5",
                                    "--shutdown-delay-seconds",
                                    "0",
                                    "--drain-timeout-seconds",
                                    "30",
                                    "--store-wait-seconds",
                                    "7"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  const Config& config = parsed.config;
  EXPECT_EQ(config.listen_host, "0.0.0.0");
  EXPECT_EQ(config.listen_port, 0);
  EXPECT_EQ(config.data_dir, "/tmp/d");
  EXPECT_EQ(config.demo, DemoMode::kOn);
  EXPECT_TRUE(config.jwt_secret.empty());  // --demo makes one at startup
  EXPECT_EQ(config.threads, 3u);
  EXPECT_EQ(config.sqlite_synchronous, store::SqliteOptions::Synchronous::kNormal);
  EXPECT_EQ(config.batch_size_max, 64u);
  EXPECT_EQ(config.inbox_capacity, 10u);
  EXPECT_EQ(config.log_level, LogLevel::kDebug);
  EXPECT_EQ(config.idle_timeout, std::chrono::seconds(5));
  EXPECT_EQ(config.store_wait, std::chrono::seconds(7));
  EXPECT_EQ(config.shutdown_delay, std::chrono::seconds(0));
  EXPECT_EQ(config.drain_timeout, std::chrono::seconds(30));
}

TEST_F(ConfigTest, EnvironmentVariables) {
  setenv("FLASHSALE_LISTEN", "[::1]:9000", 1);
  setenv("FLASHSALE_DATA_DIR", "/tmp/env", 1);
  setenv("FLASHSALE_DEMO", "1", 1);
  setenv("FLASHSALE_JWT_SECRET", kEnvSecret, 1);
  setenv("FLASHSALE_ADMIN_TOKEN", kEnvToken, 1);
  setenv("FLASHSALE_THREADS", "2", 1);
  setenv("FLASHSALE_SQLITE_SYNCHRONOUS", "off", 1);
  setenv("FLASHSALE_BATCH_SIZE_MAX", "128", 1);
  setenv("FLASHSALE_INBOX_CAPACITY", "256", 1);
  setenv("FLASHSALE_LOG_LEVEL", "error", 1);
  setenv("FLASHSALE_IDLE_TIMEOUT_SECONDS", "7", 1);
  const CommandLine parsed = Parse({"serve"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  const Config& config = parsed.config;
  EXPECT_EQ(config.listen_host, "::1");
  EXPECT_EQ(config.listen_port, 9000);
  EXPECT_EQ(config.data_dir, "/tmp/env");
  EXPECT_EQ(config.demo, DemoMode::kOn);
  EXPECT_EQ(config.jwt_secret, kEnvSecret);
  EXPECT_EQ(config.admin_token, kEnvToken);
  EXPECT_EQ(config.threads, 2u);
  EXPECT_EQ(config.sqlite_synchronous, store::SqliteOptions::Synchronous::kOff);
  EXPECT_EQ(config.batch_size_max, 128u);
  EXPECT_EQ(config.inbox_capacity, 256u);
  EXPECT_EQ(config.log_level, LogLevel::kError);
  EXPECT_EQ(config.idle_timeout, std::chrono::seconds(7));
}

TEST_F(ConfigTest, FlagWinsOverEnvironment) {
  setenv("FLASHSALE_THREADS", "2", 1);
  setenv("FLASHSALE_JWT_SECRET", kEnvSecret, 1);
  const CommandLine parsed = Serve({"--threads", "5"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  EXPECT_EQ(parsed.config.threads, 5u);
  EXPECT_EQ(parsed.config.jwt_secret, kSecret);
}

TEST_F(ConfigTest, DemoFalseInEnvironmentStillNeedsSecrets) {
  setenv("FLASHSALE_DEMO", "0", 1);
  const CommandLine parsed = Parse({"serve"});
  EXPECT_EQ(parsed.action, CommandLine::Action::kExit);
  EXPECT_EQ(parsed.exit_code, kExitBadConfig);
}

TEST_F(ConfigTest, SecretsAreRequiredWithoutDemo) {
  const CommandLine no_secret = Parse({"serve", "--admin-token", kToken});
  EXPECT_EQ(no_secret.exit_code, kExitBadConfig);
  EXPECT_NE(no_secret.err.find("--jwt-secret"), std::string::npos) << no_secret.err;
  const CommandLine no_token = Parse({"serve", "--jwt-secret", kSecret});
  EXPECT_EQ(no_token.exit_code, kExitBadConfig);
  EXPECT_NE(no_token.err.find("--admin-token"), std::string::npos) << no_token.err;
  const CommandLine demo = Parse({"serve", "--demo"});
  EXPECT_EQ(demo.action, CommandLine::Action::kServe) << demo.err;
}

// Secrets of fewer than 32 bytes refuse to start, the demo's included; each can be read from
// a file (one trailing newline dropped) named by a flag or a _FILE variable, not both ways.
TEST_F(ConfigTest, SecretsAreLongAndMayComeFromFiles) {
  const std::string short_secret(31, 'x');
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"serve", "--jwt-secret", short_secret, "--admin-token", kToken},
        std::vector<std::string>{"serve", "--jwt-secret", kSecret, "--admin-token", short_secret},
        std::vector<std::string>{"serve", "--demo", "--admin-token", "t"}}) {
    const CommandLine refused = Parse(args);
    EXPECT_EQ(refused.exit_code, kExitBadConfig) << args[2];
    EXPECT_NE(refused.err.find("at least 32 bytes"), std::string::npos) << refused.err;
  }
  EXPECT_EQ(Parse({"serve", "--jwt-secret", std::string(32, 'x'), "--admin-token", kToken}).action,
            CommandLine::Action::kServe);

  const std::string dir = ::testing::TempDir();
  const std::string secret_file = dir + "/flashsale-config-secret";
  const std::string token_file = dir + "/flashsale-config-token";
  const auto write = [](const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  };
  write(secret_file, std::string(kSecret) + "\n");
  write(token_file, std::string(kToken) + "\r\n");
  const CommandLine from_flags =
      Parse({"serve", "--jwt-secret-file", secret_file, "--admin-token-file", token_file});
  ASSERT_EQ(from_flags.action, CommandLine::Action::kServe) << from_flags.err;
  EXPECT_EQ(from_flags.config.jwt_secret, kSecret);
  EXPECT_EQ(from_flags.config.admin_token, kToken);
  setenv("FLASHSALE_JWT_SECRET_FILE", secret_file.c_str(), 1);
  setenv("FLASHSALE_ADMIN_TOKEN_FILE", token_file.c_str(), 1);
  const CommandLine from_env = Parse({"serve"});
  ASSERT_EQ(from_env.action, CommandLine::Action::kServe) << from_env.err;
  EXPECT_EQ(from_env.config.jwt_secret, kSecret);
  EXPECT_EQ(from_env.config.admin_token, kToken);
  // Both ways at once is ambiguous.
  const CommandLine both = Parse({"serve", "--jwt-secret", kSecret});
  EXPECT_EQ(both.exit_code, kExitBadConfig);
  EXPECT_NE(both.err.find("not both"), std::string::npos) << both.err;
  unsetenv("FLASHSALE_JWT_SECRET_FILE");
  unsetenv("FLASHSALE_ADMIN_TOKEN_FILE");
  // A missing, empty or short file names the flag.
  write(token_file, "short\n");
  const CommandLine short_file =
      Parse({"serve", "--jwt-secret", kSecret, "--admin-token-file", token_file});
  EXPECT_NE(short_file.err.find("--admin-token must be at least 32 bytes"), std::string::npos)
      << short_file.err;
  write(token_file, "\n");
  const CommandLine empty_file =
      Parse({"serve", "--jwt-secret", kSecret, "--admin-token-file", token_file});
  EXPECT_NE(empty_file.err.find("--admin-token-file"), std::string::npos) << empty_file.err;
  const CommandLine missing =
      Parse({"serve", "--jwt-secret-file", dir + "/no-such-file", "--admin-token", kToken});
  EXPECT_EQ(missing.exit_code, kExitBadConfig);
  EXPECT_NE(missing.err.find("--jwt-secret-file: cannot read"), std::string::npos) << missing.err;
  std::remove(secret_file.c_str());
  std::remove(token_file.c_str());
}

TEST_F(ConfigTest, InvalidValuesExitTwoNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  const std::vector<Case> cases = {
      {{"--threads", "0"}, "--threads"},
      {{"--threads", "-1"}, "--threads"},
      {{"--threads", "abc"}, "--threads"},
      {{"--threads", "0x10"}, "--threads"},
      {{"--threads", "4x"}, "--threads"},
      {{"--threads", "257"}, "--threads"},
      {{"--threads", ""}, "--threads"},
      {{"--batch-size-max", "0"}, "--batch-size-max"},
      {{"--batch-size-max", "65537"}, "--batch-size-max"},
      {{"--inbox-capacity", "0"}, "--inbox-capacity"},
      {{"--inbox-capacity", "10000001"}, "--inbox-capacity"},
      {{"--idle-timeout-seconds", "0"}, "--idle-timeout-seconds"},
      {{"--idle-timeout-seconds", "3601"}, "--idle-timeout-seconds"},
      {{"--shutdown-delay-seconds", "-1"}, "--shutdown-delay-seconds"},
      {{"--shutdown-delay-seconds", "601"}, "--shutdown-delay-seconds"},
      {{"--drain-timeout-seconds", "601"}, "--drain-timeout-seconds"},
      {{"--store-wait-seconds", "-1"}, "--store-wait-seconds"},
      {{"--store-wait-seconds", "601"}, "--store-wait-seconds"},
      {{"--log-level", "verbose"}, "--log-level"},
      {{"--sqlite-synchronous", "FULL"}, "--sqlite-synchronous"},
      {{"--sqlite-synchronous", "extra"}, "--sqlite-synchronous"},
      {{"--listen", "8080"}, "--listen"},
      {{"--listen", ":8080"}, "--listen"},
      {{"--listen", "localhost:"}, "--listen"},
      {{"--listen", "localhost:65536"}, "--listen"},
      {{"--listen", "localhost:http"}, "--listen"},
      {{"--listen", "::1:8080"}, "--listen"},
      {{"--listen", "[::1:8080"}, "--listen"},
      {{"--data-dir", ""}, "--data-dir"},
  };
  for (const Case& test : cases) {
    SCOPED_TRACE(test.args[0] + " " + test.args[1]);
    const CommandLine parsed = Serve(test.args);
    EXPECT_EQ(parsed.action, CommandLine::Action::kExit);
    EXPECT_EQ(parsed.exit_code, kExitBadConfig);
    EXPECT_NE(parsed.err.find(test.flag), std::string::npos) << parsed.err;
  }
}

TEST_F(ConfigTest, InvalidEnvironmentValueExitsTwo) {
  setenv("FLASHSALE_THREADS", "many", 1);
  const CommandLine parsed = Serve({});
  EXPECT_EQ(parsed.exit_code, kExitBadConfig);
  EXPECT_NE(parsed.err.find("--threads"), std::string::npos) << parsed.err;
}

TEST_F(ConfigTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Parse({}).exit_code, kExitBadConfig);          // no subcommand
  EXPECT_EQ(Parse({"launch"}).exit_code, kExitBadConfig);  // unknown subcommand
  EXPECT_EQ(Serve({"--no-such-flag"}).exit_code, kExitBadConfig);
  EXPECT_EQ(Serve({"--threads"}).exit_code, kExitBadConfig);  // missing value
}

TEST_F(ConfigTest, HelpAndVersionExitZero) {
  const CommandLine version = Parse({"--version"});
  EXPECT_EQ(version.action, CommandLine::Action::kExit);
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("flashsale ", 0), 0u) << version.out;
  const CommandLine help = Parse({"serve", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("FLASHSALE_JWT_SECRET"), std::string::npos) << help.out;
}

TEST_F(ConfigTest, ListenAddressesAndUrls) {
  auto v4 = ParseListenAddress("127.0.0.1:0");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 0);
  auto name = ParseListenAddress("localhost:65535");
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(name->host, "localhost");
  EXPECT_EQ(name->port, 65535);
  auto v6 = ParseListenAddress("[::]:8080");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::");
  EXPECT_EQ(HttpUrl("127.0.0.1", 8080), "http://127.0.0.1:8080");
  EXPECT_EQ(HttpUrl("::1", 80), "http://[::1]:80");
}

}  // namespace
}  // namespace fs::app
