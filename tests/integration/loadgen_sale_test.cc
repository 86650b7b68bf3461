// Goal: a short `sale` run of the real load generator (build/flashsale-loadgen, as a
// subprocess with --json) against the real server: 2,000 users over a 1 s ramp for 200 units,
// a tenth of the winners abandoning. Asserts correctness only, never speed: every user is
// answered, the sale sells out, the load generator's invariant check passes, and its view
// agrees with the database rows (held + sold = granted - abandoned, nobody over the limit).

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "support/server_test.h"

namespace fs::itest {
namespace {

constexpr std::int64_t kUnits = 200;
constexpr int kUsers = 2000;

class LoadgenSaleTest : public ServerTest {};

struct LoadgenRun {
  int exit_code = -1;
  std::string stdout_text;
};

LoadgenRun RunLoadgen(const std::string& arguments) {
  const std::string command = std::string("'") + FLASHSALE_LOADGEN_BINARY + "' " + arguments;
  LoadgenRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char chunk[4096];
  std::size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) run.stdout_text.append(chunk, n);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::uint64_t UintAt(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64() : 0;
}

TEST_F(LoadgenSaleTest, SaleRunKeepsEveryInvariant) {
  const std::string args =
      "--port " + std::to_string(server_.port()) + " --jwt-secret " + kJwtSecret +
      " --admin-token " + kAdminToken + " --scenario sale --sku lg-sale --create-stock " +
      std::to_string(kUnits) + " --users " + std::to_string(kUsers) +
      " --ramp 1 --connections 32 --abandon-share 0.1 --duration 30 --order-polls-max 20" +
      " --order-poll-interval-ms 20 --json --no-progress";
  const LoadgenRun run = RunLoadgen(args);
  ASSERT_EQ(run.exit_code, 0) << run.stdout_text;
  const auto report = ParseJson(run.stdout_text);
  ASSERT_TRUE(report.has_value()) << run.stdout_text;
  const rapidjson::Value& r = *report;

  // Every user was answered, and the sale sold out at some point.
  const rapidjson::Value& reserve = r["endpoints"]["reserve"];
  EXPECT_EQ(UintAt(reserve, "requests"), static_cast<std::uint64_t>(kUsers));
  EXPECT_EQ(UintAt(reserve, "transport_errors"), 0u);
  EXPECT_GE(UintAt(reserve["status"], "201"), static_cast<std::uint64_t>(kUnits));
  EXPECT_GT(UintAt(reserve["error_codes"], "SOLD_OUT"), 0u);
  EXPECT_TRUE(r["sold_out_after_seconds"].IsNumber()) << run.stdout_text;

  // The load generator's own end-of-run judgement.
  ASSERT_TRUE(r["invariants"]["checked"].GetBool());
  EXPECT_TRUE(r["invariants"]["ok"].GetBool()) << run.stdout_text;
  for (const auto& check : r["invariants"]["checks"].GetArray()) {
    const std::string name = check["name"].GetString();
    const std::string verdict = check["verdict"].GetString();
    EXPECT_NE(verdict, "FAIL") << name << ": " << check["detail"].GetString();
    if (name != "counters = rows (reconciliation)") {
      EXPECT_EQ(verdict, "pass") << name;
    }
  }

  // Its view agrees with the durable rows.
  const SkuSnapshot rows = ReadSku("lg-sale");
  ASSERT_TRUE(rows.sku_found);
  EXPECT_EQ(rows.total_stock, kUnits);
  EXPECT_LE(rows.held + rows.sold, kUnits);
  const std::int64_t failed_orders =
      r["orders"].HasMember("FAILED") ? r["orders"]["FAILED"].GetInt64() : 0;
  const std::int64_t kept = static_cast<std::int64_t>(UintAt(r["units"], "honest")) -
                            static_cast<std::int64_t>(UintAt(r, "abandoned")) - failed_orders;
  EXPECT_EQ(rows.held + rows.sold, kept);
  EXPECT_EQ(rows.QuantitySum(kStatusReserved) + rows.QuantitySum(kStatusCheckoutPending),
            rows.held);
  EXPECT_EQ(rows.QuantitySum(kStatusPurchased), rows.sold);
  EXPECT_EQ(rows.RowCount(kStatusReleased), static_cast<std::int64_t>(UintAt(r, "abandoned")));
  for (const auto& [user, units] : rows.UnitsByUser()) EXPECT_LE(units, 1) << user;
}

}  // namespace
}  // namespace fs::itest
