// Goal: a real Prometheus scraping two cluster nodes (one PostgreSQL database) with the alert
// rules loaded: both targets are up, every node exports its own series (build info, the
// cluster counters), the rows one node commits reach the other (flashsale_cluster_rows_synced_total
// grows), and every query of the dashboard parses and returns data across the two nodes.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pg_environment.h"
#include "support/flashsale_api.h"
#include "support/http_client.h"
#include "support/prometheus_server.h"
#include "support/server_process.h"

namespace fs::itest {
namespace {

using Clock = std::chrono::steady_clock;

// The value of a query that returns one sample, or nullopt.
std::optional<double> ScalarOf(const PrometheusServer& prometheus, const std::string& promql) {
  const auto answer = prometheus.Query(promql);
  if (!answer || !answer->HasMember("data")) return std::nullopt;
  const auto& result = (*answer)["data"]["result"];
  if (result.Size() != 1) return std::nullopt;
  return std::stod(result[0]["value"][1].GetString());
}

// Polls until `promql` has one sample >= `at_least` (bounded: scrapes come every second).
bool WaitForAtLeast(const PrometheusServer& prometheus, const std::string& promql,
                    double at_least) {
  const auto deadline = Clock::now() + std::chrono::seconds(45);
  while (Clock::now() < deadline) {
    const auto value = ScalarOf(prometheus, promql);
    if (value && *value >= at_least) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

TEST(ClusterPrometheusTest, TwoNodesScrapedWithRulesAndDashboardData) {
  const std::string url = FreshDatabaseUrl();
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  std::vector<std::string> targets;
  for (int i = 0; i < 2; ++i) {
    ServerOptions options;
    options.extra_args = {"--store",
                          url,
                          "--threads",
                          "1",
                          "--rate-limit",
                          "on",
                          "--rate-limit-tiers",
                          "bot=60000,new=60000,normal=60000,premium=60000"};
    nodes.push_back(std::make_unique<ServerProcess>(options));
    ASSERT_TRUE(nodes.back()->Start()) << "node " << i;
    targets.push_back("127.0.0.1:" + std::to_string(nodes.back()->port()));
  }
  PrometheusOptions prometheus_options;
  prometheus_options.targets = targets;
  prometheus_options.rules = AlertRulesWithShortHolds();
  PrometheusServer prometheus(prometheus_options);
  ASSERT_TRUE(prometheus.Start());

  HttpClient first(nodes[0]->port());
  HttpClient second(nodes[1]->port());
  int round = 0;
  const std::vector<std::string> without_data = DashboardQueriesWithoutData(prometheus, [&] {
    SaleSpec sale;
    sale.sku_id = "cluster-prom-" + std::to_string(round);
    sale.total_stock = 3;
    ASSERT_TRUE(CreateSaleOk(first, sale));
    // Reserves on both nodes, on the one sale: each node applies the other's rows.
    for (int i = 0; i < 4; ++i) {
      HttpClient& client = i % 2 == 0 ? first : second;
      const std::string user = "u" + std::to_string(round) + "-" + std::to_string(i);
      const int status = Reserve(client, ReserveRequest().Sku(sale.sku_id).User(user)).status;
      ASSERT_TRUE(status == 201 || status == 409) << status;
    }
    ++round;
  });
  EXPECT_TRUE(without_data.empty());

  EXPECT_TRUE(WaitForAtLeast(prometheus, "count(up{job=\"flashsale\"} == 1)", 2));
  EXPECT_TRUE(WaitForAtLeast(prometheus, "count(flashsale_build_info)", 2));
  EXPECT_TRUE(WaitForAtLeast(prometheus, "count(flashsale_cluster_refresh_failures_total)", 2));
  EXPECT_TRUE(WaitForAtLeast(prometheus, "sum(flashsale_cluster_rows_synced_total)", 1))
      << "no node applied another node's rows";
  // No oversell across the cluster.
  const auto oversold = ScalarOf(prometheus, "max(flashsale_oversell_count)");
  ASSERT_TRUE(oversold.has_value());
  EXPECT_EQ(*oversold, 0.0);
  for (auto& node : nodes) EXPECT_TRUE(node->Stop());
}

}  // namespace
}  // namespace fs::itest
