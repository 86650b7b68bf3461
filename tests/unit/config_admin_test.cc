// Goal: the command line of the operator CLI (`flashsale admin ...`) and of the tools' --json
// and --manifest. Each admin command maps to its admin route, method and body (the sale's
// optional fields only when given, ids escaped in the path); --url, FLASHSALE_URL and the
// default; the token from FLASHSALE_ADMIN_TOKEN or a file, never both, never none (exit 2);
// options may follow the command's words; usage errors exit 2. The post-event report's tally
// counts refusals by reason and aggregated throttled attempts by their count.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app/admin_cli.h"
#include "app/config.h"
#include "audit/sale_report.h"

namespace fs::app {
namespace {

constexpr char kToken[] = "unit-admin-token-0123456789abcdef";

CommandLine Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "flashsale");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

class ConfigAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name :
         {"FLASHSALE_URL", "FLASHSALE_ADMIN_TOKEN", "FLASHSALE_ADMIN_TOKEN_FILE"}) {
      ASSERT_EQ(std::getenv(name), nullptr) << name << " is set in the test environment";
    }
    setenv("FLASHSALE_ADMIN_TOKEN", kToken, 1);
  }
  void TearDown() override {
    unsetenv("FLASHSALE_URL");
    unsetenv("FLASHSALE_ADMIN_TOKEN");
    unsetenv("FLASHSALE_ADMIN_TOKEN_FILE");
  }

  // Parses `admin args...`; a failure unless it is an admin command.
  AdminConfig Admin(std::vector<std::string> args) {
    args.insert(args.begin(), "admin");
    const CommandLine parsed = Parse(args);
    EXPECT_EQ(parsed.action, CommandLine::Action::kAdmin) << parsed.err;
    return parsed.admin;
  }
};

TEST_F(ConfigAdminTest, EachCommandCallsItsRoute) {
  struct Case {
    std::vector<std::string> args;
    net::HttpMethod method;
    std::string path;
    std::string body;
  };
  const std::vector<Case> cases = {
      {{"sales", "show", "tee"}, net::HttpMethod::kGet, "/admin/v1/skus/tee", ""},
      {{"sales", "open", "tee"}, net::HttpMethod::kPost, "/admin/v1/skus/tee/open", ""},
      {{"sales", "close", "tee"}, net::HttpMethod::kPost, "/admin/v1/skus/tee/close", ""},
      {{"sales", "stock", "tee", "--delta", "-5"},
       net::HttpMethod::kPost,
       "/admin/v1/skus/tee/stock",
       R"({"delta":-5})"},
      {{"orders", "list", "--status", "NEEDS_ATTENTION"},
       net::HttpMethod::kGet,
       "/admin/v1/orders?status=NEEDS_ATTENTION",
       ""},
      {{"orders", "resolve", "o/1 2", "--outcome", "paid"},
       net::HttpMethod::kPost,
       "/admin/v1/orders/o%2F1%202/resolve",
       R"({"outcome":"paid"})"},
      {{"reconcile", "--sku", "tee"},
       net::HttpMethod::kGet,
       "/admin/v1/skus/tee/reconciliation",
       ""},
      {{"audit", "verify"}, net::HttpMethod::kGet, "/admin/v1/audit/verify", ""},
  };
  for (const Case& test : cases) {
    const AdminCall call = AdminCallOf(Admin(test.args));
    EXPECT_EQ(call.method, test.method) << test.args[0];
    EXPECT_EQ(call.path, test.path);
    EXPECT_EQ(call.body, test.body);
  }
}

TEST_F(ConfigAdminTest, CreateSendsOnlyTheFieldsGiven) {
  AdminCall call =
      AdminCallOf(Admin({"sales", "create", "tee", "--name", "A \"tee\"", "--price-cents", "1999",
                         "--currency", "EUR", "--total-stock", "50"}));
  EXPECT_EQ(call.method, net::HttpMethod::kPost);
  EXPECT_EQ(call.path, "/admin/v1/skus");
  EXPECT_EQ(call.body, R"({"sku_id":"tee","name":"A \"tee\"","price_cents":1999,"currency":"EUR",)"
                       R"("total_stock":50})");
  call = AdminCallOf(Admin({"sales",
                            "create",
                            "tee",
                            "--name",
                            "T",
                            "--price-cents",
                            "1",
                            "--currency",
                            "EUR",
                            "--total-stock",
                            "5",
                            "--per-user-limit",
                            "2",
                            "--reservation-ttl-seconds",
                            "60",
                            "--starts-at",
                            "2026-11-24T10:00:00Z",
                            "--waiting-room",
                            "--tag",
                            "a",
                            "--tag",
                            "b",
                            "--category",
                            "Shirts"}));
  EXPECT_EQ(call.body,
            R"({"sku_id":"tee","name":"T","price_cents":1,"currency":"EUR","total_stock":5,)"
            R"("per_user_limit":2,"reservation_ttl_seconds":60,)"
            R"("starts_at":"2026-11-24T10:00:00Z","waiting_room":true,"category":"Shirts",)"
            R"("tags":["a","b"]})");
}

TEST_F(ConfigAdminTest, UrlTokenAndOutput) {
  AdminConfig config = Admin({"audit", "verify"});
  EXPECT_EQ(config.url, kAdminUrlDefault);
  EXPECT_EQ(config.admin_token, kToken);
  EXPECT_EQ(config.format, OutputFormat::kText);
  setenv("FLASHSALE_URL", "http://node-1:8080/", 1);
  config = Admin({"audit", "verify", "--json"});  // options after the command's words
  EXPECT_EQ(config.url, "http://node-1:8080");
  EXPECT_EQ(config.format, OutputFormat::kJson);
  config = Admin({"--url", "https://node-2", "audit", "verify"});  // the flag wins
  EXPECT_EQ(config.url, "https://node-2");

  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("admin-token-" + std::to_string(getpid()));
  std::ofstream(file) << "from-a-file-0123456789abcdef012345\n";
  unsetenv("FLASHSALE_ADMIN_TOKEN");
  config = Admin({"--admin-token-file", file.string(), "audit", "verify"});
  EXPECT_EQ(config.admin_token, "from-a-file-0123456789abcdef012345");
  setenv("FLASHSALE_ADMIN_TOKEN_FILE", file.string().c_str(), 1);
  EXPECT_EQ(Admin({"audit", "verify"}).admin_token, "from-a-file-0123456789abcdef012345");
  setenv("FLASHSALE_ADMIN_TOKEN", kToken, 1);  // and a file: which one was meant?
  CommandLine both = Parse({"admin", "audit", "verify"});
  EXPECT_EQ(both.action, CommandLine::Action::kExit);
  EXPECT_EQ(both.exit_code, kExitBadConfig);
  std::filesystem::remove(file);
}

TEST_F(ConfigAdminTest, UsageErrorsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {"admin"},
      {"admin", "sales", "show"},
      {"admin", "sales", "stock", "tee"},
      {"admin", "sales", "stock", "tee", "--delta", "1.5"},
      {"admin", "sales", "create", "tee", "--name", "T"},
      {"admin", "orders", "list"},
      {"admin", "orders", "list", "--status", "LOST"},
      {"admin", "orders", "resolve", "o1", "--outcome", "maybe"},
      {"admin", "reconcile"},
      {"admin", "--url", "ftp://x", "audit", "verify"},
      {"audit", "export", "--manifest", "m.json"},
  };
  for (const auto& args : cases) {
    const CommandLine parsed = Parse(args);
    EXPECT_EQ(parsed.action, CommandLine::Action::kExit) << ::testing::PrintToString(args);
    EXPECT_EQ(parsed.exit_code, kExitBadConfig) << ::testing::PrintToString(args);
  }
  unsetenv("FLASHSALE_ADMIN_TOKEN");
  const CommandLine no_token = Parse({"admin", "audit", "verify"});
  EXPECT_EQ(no_token.exit_code, kExitBadConfig);
  EXPECT_NE(no_token.err.find("FLASHSALE_ADMIN_TOKEN"), std::string::npos) << no_token.err;
}

TEST_F(ConfigAdminTest, ToolsTakeJsonAndManifest) {
  CommandLine parsed = Parse({"reconcile", "--data-dir", "/d", "--json"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kReconcile) << parsed.err;
  EXPECT_EQ(parsed.tool.format, OutputFormat::kJson);
  parsed = Parse(
      {"audit", "export", "--data-dir", "/d", "--output", "/o", "--json", "--manifest", "/m"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kAuditExport) << parsed.err;
  EXPECT_EQ(parsed.tool.format, OutputFormat::kJson);
  EXPECT_EQ(parsed.tool.manifest, "/m");
  parsed = Parse({"report", "--data-dir", "/d", "--sku", "tee"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kReport) << parsed.err;
  EXPECT_EQ(parsed.tool.format, OutputFormat::kText);
  EXPECT_EQ(parsed.tool.sku_id, "tee");
}

core::AuditEvent Attempt(core::AuditOutcome outcome, std::string sku,
                         std::optional<std::string> reason, std::string metadata = "{}") {
  core::AuditEvent event;
  event.type = core::AuditEventType::kReserveAttempt;
  event.outcome = outcome;
  event.sku_id = std::move(sku);
  event.failure_reason = std::move(reason);
  event.metadata = std::move(metadata);
  return event;
}

TEST(SaleReportTallyTest, CountsRefusalsAndThrottledAttemptsOfTheSale) {
  audit::SaleReportTally tally(std::string("tee"));
  tally.Add(Attempt(core::AuditOutcome::kSuccess, "tee", std::nullopt));
  tally.Add(Attempt(core::AuditOutcome::kFailed, "tee", "SOLD_OUT"));
  tally.Add(Attempt(core::AuditOutcome::kFailed, "tee", "SOLD_OUT"));
  tally.Add(Attempt(core::AuditOutcome::kFailed, "other", "SOLD_OUT"));  // another sale
  tally.Add(Attempt(core::AuditOutcome::kThrottled, "tee", "RATE_LIMITED",
                    R"({"reason":"user","tier":"normal"})"));
  tally.Add(Attempt(core::AuditOutcome::kThrottled, "tee", "RATE_LIMITED",
                    R"({"reason":"ip","tier":"bot","count":40,"first_at_ms":1,"last_at_ms":2})"));
  core::AuditEvent detection;
  detection.type = core::AuditEventType::kBotDetected;
  detection.sku_id = "tee";
  tally.Add(detection);
  audit::SaleReport report;
  tally.Finish(report);
  EXPECT_EQ(report.reserve_attempts, 1 + 2 + 1 + 40);
  EXPECT_EQ(report.reserve_succeeded, 1);
  EXPECT_EQ(report.refusals_by_reason, (std::map<std::string, std::int64_t>{{"SOLD_OUT", 2}}));
  EXPECT_EQ(report.throttled, 41);
  EXPECT_EQ(report.throttled_bot, 40);
  EXPECT_EQ(report.bot_detections, 1);
  const std::string json = audit::RenderSaleReportJson(report);
  EXPECT_NE(json.find(R"("throttled_share":0.9318)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("sku_id":"tee")"), std::string::npos) << json;
}

}  // namespace
}  // namespace fs::app
