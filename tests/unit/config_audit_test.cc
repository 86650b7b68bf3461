// Goal: the issue-5 command line: --audit-checkpoint-seconds and --audit-throttled-per-second
// (flag and variable, bounds), and
// the offline tools `audit verify`, `audit export` and `reconcile` parse into their actions
// with their options, without secrets, and refuse what they do not know.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "app/config.h"

namespace fs::app {
namespace {

CommandLine Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "flashsale");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

// Clears the variables these tests read and restores nothing they did not set.
class ConfigAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"FLASHSALE_AUDIT_CHECKPOINT_SECONDS", "FLASHSALE_DATA_DIR",
                             "FLASHSALE_AUDIT_THROTTLED_PER_SECOND"}) {
      ASSERT_EQ(std::getenv(name), nullptr) << name << " is set in the test environment";
    }
  }
  void TearDown() override {
    unsetenv("FLASHSALE_AUDIT_CHECKPOINT_SECONDS");
    unsetenv("FLASHSALE_DATA_DIR");
    unsetenv("FLASHSALE_AUDIT_THROTTLED_PER_SECOND");
  }
};

TEST_F(ConfigAuditTest, CheckpointIntervalDefaultFlagVariableAndBounds) {
  const std::vector<std::string> serve = {"serve", "--jwt-secret",
                                          "test-jwt-secret-0123456789abcdef0", "--admin-token",
                                          "test-admin-token-0123456789abcdef"};
  EXPECT_EQ(Parse(serve).config.audit_checkpoint, std::chrono::seconds(60));
  auto with_flag = serve;
  with_flag.insert(with_flag.end(), {"--audit-checkpoint-seconds", "5"});
  EXPECT_EQ(Parse(with_flag).config.audit_checkpoint, std::chrono::seconds(5));
  setenv("FLASHSALE_AUDIT_CHECKPOINT_SECONDS", "7", 1);
  EXPECT_EQ(Parse(serve).config.audit_checkpoint, std::chrono::seconds(7));
  for (const char* bad : {"0", "86401", "x", "-1"}) {
    auto args = serve;
    args.insert(args.end(), {"--audit-checkpoint-seconds", bad});
    const CommandLine parsed = Parse(args);
    EXPECT_EQ(parsed.exit_code, kExitBadConfig) << bad;
    EXPECT_NE(parsed.err.find("--audit-checkpoint-seconds"), std::string::npos) << parsed.err;
  }
}

TEST_F(ConfigAuditTest, ThrottledPerSecondDefaultFlagVariableAndBounds) {
  const std::vector<std::string> serve = {"serve", "--jwt-secret",
                                          "test-jwt-secret-0123456789abcdef0", "--admin-token",
                                          "test-admin-token-0123456789abcdef"};
  EXPECT_EQ(Parse(serve).config.audit_throttled_per_second, 1000u);
  setenv("FLASHSALE_AUDIT_THROTTLED_PER_SECOND", "25", 1);
  EXPECT_EQ(Parse(serve).config.audit_throttled_per_second, 25u);
  struct Case {
    const char* value;
    int exit_code;
    std::size_t expected;
  };
  // 0 is allowed: every throttled attempt is then written as part of a count.
  for (const Case& c :
       {Case{"0", 0, 0}, Case{"100000", 0, 100'000}, Case{"100001", kExitBadConfig, 0},
        Case{"-1", kExitBadConfig, 0}, Case{"many", kExitBadConfig, 0}}) {
    auto args = serve;
    args.insert(args.end(), {"--audit-throttled-per-second", c.value});
    const CommandLine parsed = Parse(args);
    EXPECT_EQ(parsed.exit_code, c.exit_code) << c.value << ": " << parsed.err;
    if (c.exit_code == 0) {
      EXPECT_EQ(parsed.config.audit_throttled_per_second, c.expected);
    }
  }
}

TEST_F(ConfigAuditTest, ToolsParseIntoTheirActions) {
  CommandLine parsed = Parse({"audit", "verify", "--data-dir", "/d"});
  EXPECT_EQ(parsed.action, CommandLine::Action::kAuditVerify) << parsed.err;
  EXPECT_EQ(parsed.tool.data_dir, "/d");
  parsed = Parse({"audit", "export", "--data-dir", "/d", "--output", "/o.jsonl"});
  EXPECT_EQ(parsed.action, CommandLine::Action::kAuditExport) << parsed.err;
  EXPECT_EQ(parsed.tool.output, "/o.jsonl");
  parsed = Parse({"reconcile", "--data-dir", "/d", "--sku", "tee"});
  EXPECT_EQ(parsed.action, CommandLine::Action::kReconcile) << parsed.err;
  EXPECT_EQ(parsed.tool.sku_id, "tee");
  setenv("FLASHSALE_DATA_DIR", "/env", 1);
  parsed = Parse({"reconcile"});
  EXPECT_EQ(parsed.action, CommandLine::Action::kReconcile);
  EXPECT_EQ(parsed.tool.data_dir, "/env");

  EXPECT_EQ(Parse({"audit"}).exit_code, kExitBadConfig);
  EXPECT_EQ(Parse({"audit", "rewrite"}).exit_code, kExitBadConfig);
  EXPECT_EQ(Parse({"reconcile", "--data-dir", ""}).exit_code, kExitBadConfig);
  EXPECT_EQ(Parse({"audit", "verify", "--sku", "x"}).exit_code, kExitBadConfig);
}

}  // namespace
}  // namespace fs::app
