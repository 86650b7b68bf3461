// Goal: --metrics-listen HOST:PORT (and FLASHSALE_METRICS_LISTEN): absent by default (the
// metrics stay on --listen), parsed like --listen (IPv6 in brackets, port 0 = any free), and a
// malformed value is refused naming the flag.
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

class ConfigMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::getenv("FLASHSALE_METRICS_LISTEN"), nullptr)
        << "FLASHSALE_METRICS_LISTEN is set in the test environment";
  }
  void TearDown() override { unsetenv("FLASHSALE_METRICS_LISTEN"); }
};

TEST_F(ConfigMetricsTest, MetricsListenDefaultFlagVariableAndErrors) {
  const CommandLine defaults = Serve({});
  ASSERT_EQ(defaults.action, CommandLine::Action::kServe) << defaults.err;
  EXPECT_FALSE(defaults.config.metrics_listen.has_value());

  const CommandLine flag = Serve({"--metrics-listen", "[::1]:9102"});
  ASSERT_EQ(flag.action, CommandLine::Action::kServe) << flag.err;
  ASSERT_TRUE(flag.config.metrics_listen.has_value());
  EXPECT_EQ(flag.config.metrics_listen->host, "::1");
  EXPECT_EQ(flag.config.metrics_listen->port, 9102);

  setenv("FLASHSALE_METRICS_LISTEN", "127.0.0.1:0", 1);
  const CommandLine variable = Serve({});
  ASSERT_EQ(variable.action, CommandLine::Action::kServe) << variable.err;
  ASSERT_TRUE(variable.config.metrics_listen.has_value());
  EXPECT_EQ(variable.config.metrics_listen->host, "127.0.0.1");
  EXPECT_EQ(variable.config.metrics_listen->port, 0);
  unsetenv("FLASHSALE_METRICS_LISTEN");

  for (const char* bad : {"9102", "127.0.0.1:", "127.0.0.1:70000", "::1:9102"}) {
    const CommandLine refused = Serve({"--metrics-listen", bad});
    EXPECT_EQ(refused.action, CommandLine::Action::kExit) << bad;
    EXPECT_NE(refused.exit_code, 0) << bad;
    EXPECT_NE(refused.err.find("--metrics-listen"), std::string::npos) << refused.err;
  }
}

}  // namespace
}  // namespace fs::app
