// Goal: --log-format json|text and --access-log off|errors|all (and their FLASHSALE_*
// variables, the flag winning) parse to their values; without them the format follows the
// terminal (auto) and the access log logs errors; anything else is refused naming the flag.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "app/config.h"

namespace fs::app {
namespace {

CommandLine Serve(std::vector<std::string> extra) {
  std::vector<std::string> args = {"flashsale",     "serve",
                                   "--jwt-secret",  "test-jwt-secret-0123456789abcdef0",
                                   "--admin-token", "test-admin-token-0123456789abcdef"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

class ConfigLoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::getenv("FLASHSALE_LOG_FORMAT"), nullptr);
    ASSERT_EQ(std::getenv("FLASHSALE_ACCESS_LOG"), nullptr);
  }
  void TearDown() override {
    unsetenv("FLASHSALE_LOG_FORMAT");
    unsetenv("FLASHSALE_ACCESS_LOG");
  }
};

TEST_F(ConfigLoggingTest, Defaults) {
  const CommandLine parsed = Serve({});
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  EXPECT_EQ(parsed.config.log_format, LogFormatChoice::kAuto);
  EXPECT_EQ(parsed.config.access_log, AccessLogChoice::kErrors);
}

TEST_F(ConfigLoggingTest, FlagsParse) {
  const struct {
    std::vector<std::string> args;
    LogFormatChoice format;
    AccessLogChoice access_log;
  } cases[] = {
      {{"--log-format", "json", "--access-log", "all"},
       LogFormatChoice::kJson,
       AccessLogChoice::kAll},
      {{"--log-format", "text", "--access-log", "off"},
       LogFormatChoice::kText,
       AccessLogChoice::kOff},
      {{"--log-format=json", "--access-log=errors"},
       LogFormatChoice::kJson,
       AccessLogChoice::kErrors},
  };
  for (const auto& c : cases) {
    const CommandLine parsed = Serve(c.args);
    ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
    EXPECT_EQ(parsed.config.log_format, c.format);
    EXPECT_EQ(parsed.config.access_log, c.access_log);
  }
}

TEST_F(ConfigLoggingTest, VariablesApplyAndTheFlagWins) {
  setenv("FLASHSALE_LOG_FORMAT", "text", 1);
  setenv("FLASHSALE_ACCESS_LOG", "all", 1);
  const CommandLine from_env = Serve({});
  ASSERT_EQ(from_env.action, CommandLine::Action::kServe) << from_env.err;
  EXPECT_EQ(from_env.config.log_format, LogFormatChoice::kText);
  EXPECT_EQ(from_env.config.access_log, AccessLogChoice::kAll);
  const CommandLine flag = Serve({"--log-format", "json", "--access-log", "off"});
  ASSERT_EQ(flag.action, CommandLine::Action::kServe) << flag.err;
  EXPECT_EQ(flag.config.log_format, LogFormatChoice::kJson);
  EXPECT_EQ(flag.config.access_log, AccessLogChoice::kOff);
}

TEST_F(ConfigLoggingTest, InvalidValuesAreRefused) {
  const struct {
    std::vector<std::string> args;
    std::string flag;
  } cases[] = {
      {{"--log-format", "xml"}, "--log-format"},
      {{"--log-format", "JSON"}, "--log-format"},
      {{"--access-log", "some"}, "--access-log"},
      {{"--access-log", ""}, "--access-log"},
  };
  for (const auto& c : cases) {
    const CommandLine parsed = Serve(c.args);
    EXPECT_EQ(parsed.action, CommandLine::Action::kExit);
    EXPECT_EQ(parsed.exit_code, kExitBadConfig);
    EXPECT_NE(parsed.err.find(c.flag), std::string::npos) << parsed.err;
  }
}

}  // namespace
}  // namespace fs::app
