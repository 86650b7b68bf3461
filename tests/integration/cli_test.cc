// Goal: the command-line contract of `flashsale serve`. Every setting works as a flag and as a
// FLASHSALE_* environment variable; the server refuses to start without a JWT secret and an
// admin token unless --demo is given; --demo creates the open sale demo-sku (10,000 units) once
// and prints a ready-made user token that works; the tuning flags are accepted and invalid
// values are refused with a non-zero exit code instead of a crash.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/server_test.h"

namespace fs::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The value after `prefix` on the first stdout line that contains it, waiting (bounded) for
// the server to print it.
std::string StdoutValue(const ServerProcess& server, const std::string& prefix) {
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (true) {
    const std::string text = server.StdoutText();
    const std::size_t begin = text.find(prefix);
    if (begin != std::string::npos) {
      const std::size_t value = begin + prefix.size();
      const std::size_t end = text.find('\n', value);
      if (end != std::string::npos) return text.substr(value, end - value);
    }
    if (std::chrono::steady_clock::now() >= deadline) return "";
    std::this_thread::sleep_for(milliseconds(10));
  }
}

::testing::AssertionResult ExitedWithFailureCode(const ServerProcess& server) {
  const std::optional<int> status = server.last_wait_status();
  if (!status) return ::testing::AssertionFailure() << "the process never ended";
  if (WIFSIGNALED(*status)) {
    return ::testing::AssertionFailure()
           << "the process died of signal " << WTERMSIG(*status) << " instead of exiting";
  }
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) == 0) {
    return ::testing::AssertionFailure() << "the process exited with code 0";
  }
  return ::testing::AssertionSuccess();
}

TEST(CliTest, EnvironmentVariablesConfigureTheServer) {
  ServerOptions options;
  options.config_source = ConfigSource::kEnvironment;
  options.extra_env = {{"FLASHSALE_IDLE_TIMEOUT_SECONDS", "1"}, {"FLASHSALE_THREADS", "2"}};
  ServerProcess server(options);
  ASSERT_TRUE(server.Start());
  HttpClient client(server.port());
  SaleSpec sale;
  sale.sku_id = "env";
  ASSERT_TRUE(CreateSaleOk(client, sale));
  EXPECT_EQ(Reserve(client, ReserveRequest().Sku("env").User("alice")).status, 201);
  EXPECT_TRUE(std::filesystem::exists(server.database_path()));

  // FLASHSALE_IDLE_TIMEOUT_SECONDS took effect: a silent client is dropped after ~1 s.
  RawConnection silent(server.port());
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(silent.ReadUntilClosed(seconds(6)).closed);
  EXPECT_TRUE(server.Stop());
}

TEST(CliTest, RefusesToStartWithoutSecrets) {
  struct Case {
    std::string name;
    std::vector<std::string> args;
  };
  const std::vector<Case> cases = {
      {"neither", {}},
      {"admin token only", {"--admin-token", kAdminToken}},
      {"jwt secret only", {"--jwt-secret", kJwtSecret}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ServerOptions options;
    options.credentials = Credentials::kOmitted;
    options.extra_args = c.args;
    ServerProcess server(options);
    EXPECT_FALSE(server.Start()) << "started without both secrets and without --demo";
    EXPECT_TRUE(ExitedWithFailureCode(server));
  }
}

// Secrets under 32 bytes refuse to start (exit 2, naming the flag); secrets read from files
// (--jwt-secret-file, FLASHSALE_ADMIN_TOKEN_FILE) serve and authenticate like inline ones.
TEST(CliTest, ShortSecretsRefuseToStartAndFilesServe) {
  {
    ServerOptions options;
    options.credentials = Credentials::kOmitted;
    options.extra_args = {"--jwt-secret", "too-short-a-secret", "--admin-token", kAdminToken};
    ServerProcess server(options);
    EXPECT_FALSE(server.Start()) << "started with a 18-byte JWT secret";
    EXPECT_TRUE(ExitedWithFailureCode(server));
    EXPECT_NE(server.StderrLog().find("--jwt-secret must be at least 32 bytes"), std::string::npos)
        << server.StderrLog();
  }
  const std::filesystem::path dir = ::testing::TempDir();
  const std::filesystem::path secret_file = dir / "flashsale-cli-jwt-secret";
  const std::filesystem::path token_file = dir / "flashsale-cli-admin-token";
  std::ofstream(secret_file) << kJwtSecret << "\n";
  std::ofstream(token_file) << kAdminToken << "\n";
  ServerOptions options;
  options.credentials = Credentials::kOmitted;
  options.extra_args = {"--jwt-secret-file", secret_file.string()};
  options.extra_env = {{"FLASHSALE_ADMIN_TOKEN_FILE", token_file.string()}};
  ServerProcess server(options);
  ASSERT_TRUE(server.Start());
  HttpClient client(server.port());
  SaleSpec sale;
  sale.sku_id = "from-files";
  ASSERT_TRUE(CreateSaleOk(client, sale));  // the admin token from the file
  EXPECT_EQ(Reserve(client, ReserveRequest().Sku("from-files").User("alice")).status, 201);
  EXPECT_TRUE(server.Stop());
  std::filesystem::remove(secret_file);
  std::filesystem::remove(token_file);
}

TEST(CliTest, DemoModeCreatesTheDemoSaleAndPrintsAWorkingToken) {
  ServerOptions options;
  options.credentials = Credentials::kOmitted;
  options.extra_args = {"--demo"};
  ServerProcess server(options);
  ASSERT_TRUE(server.Start());
  HttpClient client(server.port());

  const auto availability = GetAvailability(client, "demo-sku");
  ASSERT_TRUE(availability) << "no demo-sku right after the listening line";
  EXPECT_EQ(availability->available, 10'000);
  EXPECT_EQ(availability->status, "OPEN");

  const std::string token = StdoutValue(server, "export TOKEN=");
  ASSERT_FALSE(token.empty()) << "no ready-made token in:\n" << server.StdoutText();
  const HttpResponse reserved =
      client.Post("/api/v1/products/demo-sku/reserve", R"({"quantity":1})",
                  {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(reserved.status, 201) << reserved.Describe();
  EXPECT_EQ(AvailableUnits(client, "demo-sku"), 9'999);

  const std::string admin_token = StdoutValue(server, "Generated admin token: ");
  ASSERT_FALSE(admin_token.empty()) << server.StdoutText();
  const HttpResponse admin =
      client.Get("/admin/v1/skus/demo-sku", {{"Authorization", "Bearer " + admin_token}});
  EXPECT_EQ(admin.status, 200) << admin.Describe();

  // A restart with --demo keeps the existing sale instead of recreating it.
  ASSERT_TRUE(server.Restart());
  HttpClient after(server.port());
  EXPECT_EQ(AvailableUnits(after, "demo-sku"), 9'999);
  EXPECT_TRUE(server.Stop());
}

TEST(CliTest, DemoViaEnvironmentUsesTheGivenSecrets) {
  ServerOptions options;
  options.extra_env = {{"FLASHSALE_DEMO", "1"}};
  ServerProcess server(options);
  ASSERT_TRUE(server.Start());
  HttpClient client(server.port());
  EXPECT_EQ(AvailableUnits(client, "demo-sku"), 10'000);
  EXPECT_EQ(Reserve(client, ReserveRequest().Sku("demo-sku").User("alice")).status, 201);
  const auto counters = GetAdminCounters(client, "demo-sku");
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->reserved, 1);
  EXPECT_TRUE(server.Stop());
}

TEST(CliTest, TuningFlagsAreAccepted) {
  ServerOptions options;
  options.extra_args = {"--threads",        "3",    "--sqlite-synchronous",   "normal",
                        "--batch-size-max", "16",   "--inbox-capacity",       "1000",
                        "--log-level",      "warn", "--idle-timeout-seconds", "5"};
  ServerProcess server(options);
  ASSERT_TRUE(server.Start());
  HttpClient client(server.port());
  SaleSpec sale;
  sale.sku_id = "tuned";
  ASSERT_TRUE(CreateSaleOk(client, sale));
  EXPECT_EQ(Reserve(client, ReserveRequest().Sku("tuned").User("alice")).status, 201);
  EXPECT_TRUE(server.Stop());
}

TEST(CliTest, InvalidFlagValuesAreRefused) {
  const std::vector<std::vector<std::string>> cases = {
      {"--sqlite-synchronous", "sometimes"},
      {"--threads", "-1"},
      {"--threads", "many"},
      {"--batch-size-max", "0"},
      {"--inbox-capacity", "0"},
      {"--inbox-capacity", "lots"},
      {"--log-level", "loud"},
      {"--idle-timeout-seconds", "-5"},
      {"--no-such-flag"},
  };
  for (const auto& args : cases) {
    std::string name;
    for (const std::string& arg : args) name += arg + " ";
    SCOPED_TRACE(name);
    ServerOptions options;
    options.extra_args = args;
    ServerProcess server(options);
    EXPECT_FALSE(server.Start()) << "started with " << name;
    EXPECT_TRUE(ExitedWithFailureCode(server));
  }
}

}  // namespace
}  // namespace fs::itest
