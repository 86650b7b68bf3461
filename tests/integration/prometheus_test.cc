// Goal: the product's metrics, alert rules and dashboard against a real Prometheus (Debian's
// prometheus and promtool). A node serves its metrics on --metrics-listen (its public port
// answers 404 for /metrics); Prometheus scrapes it and a port where nothing listens, with
// deploy/prometheus/alerts.yml loaded; after a little traffic (reserves granted, refused and
// rejected, checkouts paid and declined) every query of deploy/grafana/flashsale.json parses
// and returns data, the gateway calls arrive, and FlashsaleTargetDown fires for the dead
// target only (visible in /api/v1/alerts) while FlashsaleOversell stays quiet. And
// `promtool check metrics` finds nothing in /metrics but the three gauges the design names.
// Scrape and rule evaluation run every second; the rules' hold times (`for:`) are shortened
// to 1 s here (promtool test rules checks them in alerts_test.yml).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/temp_dir.h"
#include "support/flashsale_api.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/prometheus_server.h"
#include "support/server_process.h"

namespace fs::itest {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Scrapes come every second; the bound is for a loaded CI box.
constexpr auto kDataTimeout = 45s;

// The port of "flashsale metrics on http://127.0.0.1:PORT/metrics"; 0 when not printed.
std::uint16_t MetricsPort(const ServerProcess& server) {
  std::smatch match;
  const std::string out = server.StdoutText();
  if (!std::regex_search(out, match, std::regex(R"(metrics on http://127\.0\.0\.1:([0-9]+))"))) {
    return 0;
  }
  return static_cast<std::uint16_t>(std::stoi(match[1]));
}

HttpResponse Checkout(HttpClient& client, const std::string& user, const std::string& reservation,
                      const std::string& payment_method) {
  return client.Post("/api/v1/checkout",
                     "{\"reservation_id\":" + JsonQuote(reservation) +
                         ",\"payment_method_id\":" + JsonQuote(payment_method) + "}",
                     UserAuth(user));
}

// Reserves granted, refused (sold out) and rejected (no token); checkouts paid and declined.
void DriveTraffic(HttpClient& client, const std::string& sku, int round) {
  SaleSpec sale;
  sale.sku_id = sku;
  sale.total_stock = 2;
  ASSERT_TRUE(CreateSaleOk(client, sale));
  std::vector<std::string> reservations;
  for (int i = 0; i < 3; ++i) {
    const std::string user = "user-" + std::to_string(round) + "-" + std::to_string(i);
    const HttpResponse reserved = Reserve(client, ReserveRequest().Sku(sku).User(user));
    if (i < 2) {
      ASSERT_EQ(reserved.status, 201) << reserved.Describe();
      const auto body = ParseReservation(reserved.body);
      ASSERT_TRUE(body.has_value());
      reservations.push_back(body->reservation_id);
    } else {
      ASSERT_EQ(reserved.status, 409) << reserved.Describe();  // sold out
    }
  }
  const char* methods[] = {"pm_card_visa", "pm_card_chargeDeclined"};
  for (int i = 0; i < 2; ++i) {
    const std::string user = "user-" + std::to_string(round) + "-" + std::to_string(i);
    const HttpResponse checkout =
        Checkout(client, user, reservations[static_cast<std::size_t>(i)], methods[i]);
    ASSERT_EQ(checkout.status, 202) << checkout.Describe();
  }
  EXPECT_EQ(client.Post("/api/v1/products/" + sku + "/reserve", "{\"quantity\":1}").status, 401);
}

struct FiringAlert {
  std::string name;
  std::string instance;
  std::string severity;
  std::string runbook;
};

std::vector<FiringAlert> FiringAlerts(const PrometheusServer& prometheus) {
  std::vector<FiringAlert> alerts;
  const auto answer = prometheus.Api("alerts");
  if (!answer || !answer->HasMember("data")) return alerts;
  for (const auto& alert : (*answer)["data"]["alerts"].GetArray()) {
    if (std::string(alert["state"].GetString()) != "firing") continue;
    const auto& labels = alert["labels"];
    alerts.push_back({labels["alertname"].GetString(),
                      labels.HasMember("instance") ? labels["instance"].GetString() : "",
                      labels.HasMember("severity") ? labels["severity"].GetString() : "",
                      alert["annotations"].HasMember("runbook")
                          ? alert["annotations"]["runbook"].GetString()
                          : ""});
  }
  return alerts;
}

TEST(PrometheusTest, ScrapesANodeAnswersEveryDashboardQueryAndFiresTargetDown) {
  ServerOptions options;
  // Rate limiting on (the harness turns it off by default): the throttled share panels need
  // its series. The tiers are wide so that this traffic is not throttled.
  options.extra_args = {"--metrics-listen",   "127.0.0.1:0",
                        "--rate-limit",       "on",
                        "--rate-limit-tiers", "bot=60000,new=60000,normal=60000,premium=60000"};
  ServerProcess node(options);
  ASSERT_TRUE(node.Start());
  const std::uint16_t metrics_port = MetricsPort(node);
  ASSERT_NE(metrics_port, 0) << node.StdoutText();
  HttpClient client(node.port());
  // The public port keeps its metrics to itself; the metrics port serves them and only them.
  EXPECT_EQ(client.Get("/metrics").status, 404);
  HttpClient metrics_client(metrics_port);
  const HttpResponse scraped = metrics_client.Get("/metrics");
  ASSERT_EQ(scraped.status, 200) << scraped.Describe();
  EXPECT_EQ(MetricSamples(scraped.body, "flashsale_build_info").size(), 1u) << scraped.body;
  EXPECT_EQ(metrics_client.Get("/api/v1/products").status, 404);

  const std::uint16_t dead_port = FreePort();  // nothing listens here
  ASSERT_NE(dead_port, 0);
  const std::string node_target = "127.0.0.1:" + std::to_string(metrics_port);
  const std::string dead_target = "127.0.0.1:" + std::to_string(dead_port);
  PrometheusOptions prometheus_options;
  prometheus_options.targets = {node_target, dead_target};
  prometheus_options.rules = AlertRulesWithShortHolds();
  PrometheusServer prometheus(prometheus_options);
  ASSERT_TRUE(prometheus.Start());
  const auto rules = prometheus.Api("rules");
  ASSERT_TRUE(rules.has_value());
  ASSERT_EQ((*rules)["data"]["groups"].Size(), 1u);
  EXPECT_EQ((*rules)["data"]["groups"][0]["rules"].Size(), 11u);

  int round = 0;
  const std::vector<std::string> without_data = DashboardQueriesWithoutData(prometheus, [&] {
    ASSERT_NO_FATAL_FAILURE(DriveTraffic(client, "prom-" + std::to_string(round), round));
    ++round;
  });
  EXPECT_TRUE(without_data.empty());

  // The gateway calls of the paid and declined checkouts reached Prometheus.
  const auto calls_deadline = Clock::now() + kDataTimeout;
  bool calls_seen = false;
  while (!calls_seen && Clock::now() < calls_deadline) {
    const auto answer =
        prometheus.Query("sum(flashsale_payment_gateway_calls_total{outcome=\"declined\"}) >= 1");
    calls_seen = answer && (*answer)["data"]["result"].Size() == 1;
    if (!calls_seen) std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(calls_seen) << "no declined gateway call in Prometheus";

  // FlashsaleTargetDown fires for the dead target, not for the node.
  const auto alert_deadline = Clock::now() + kDataTimeout;
  std::vector<FiringAlert> firing;
  bool target_down = false;
  while (!target_down && Clock::now() < alert_deadline) {
    firing = FiringAlerts(prometheus);
    for (const FiringAlert& alert : firing) {
      if (alert.name == "FlashsaleTargetDown" && alert.instance == dead_target) target_down = true;
    }
    if (!target_down) std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(target_down) << "FlashsaleTargetDown never fired";
  for (const FiringAlert& alert : firing) {
    EXPECT_NE(alert.name, "FlashsaleOversell");
    EXPECT_NE(alert.name, "FlashsaleEngineUnhealthy");
    if (alert.name == "FlashsaleTargetDown") {
      EXPECT_EQ(alert.instance, dead_target);
      EXPECT_EQ(alert.severity, "critical");
      EXPECT_EQ(alert.runbook, "docs/operations.md#flashsaletargetdown");
    }
  }
  EXPECT_TRUE(node.Stop());
}

// The lines `promtool check metrics` prints for a scrape (it reads stdin).
std::vector<std::string> PromtoolProblems(const std::string& page) {
  const std::filesystem::path dir = test_common::MakeTempDirOrAbort("flashsale-promtool");
  const std::filesystem::path file = dir / "metrics.txt";
  std::ofstream(file) << page;
  const std::string command = "/usr/bin/promtool check metrics < " + file.string() + " 2>&1";
  std::vector<std::string> lines;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run promtool";
    return lines;
  }
  char buffer[1024];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) {
    std::string line(buffer);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  ::pclose(pipe);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return lines;
}

TEST(PrometheusTest, PromtoolFindsOnlyTheDesignGaugesInMetrics) {
  ASSERT_EQ(::access("/usr/bin/promtool", X_OK), 0)
      << "promtool is missing (install prometheus, see scripts/debian-packages.txt)";
  ServerProcess node;
  ASSERT_TRUE(node.Start());
  HttpClient client(node.port());
  ASSERT_NO_FATAL_FAILURE(DriveTraffic(client, "lint", 0));
  const HttpResponse page = client.Get("/metrics");
  ASSERT_EQ(page.status, 200);
  const std::vector<std::string> problems = PromtoolProblems(page.body);
  const std::set<std::string> expected = {
      "flashsale_oversell_count non-histogram and non-summary metrics should not have \"_count\" "
      "suffix",
      "flashsale_reserved_count non-histogram and non-summary metrics should not have \"_count\" "
      "suffix",
      "flashsale_sold_count non-histogram and non-summary metrics should not have \"_count\" "
      "suffix"};
  EXPECT_EQ(std::set<std::string>(problems.begin(), problems.end()), expected)
      << "promtool check metrics said:\n"
      << [&] {
           std::string all;
           for (const std::string& line : problems) all += line + "\n";
           return all;
         }();
  EXPECT_TRUE(node.Stop());
}

}  // namespace
}  // namespace fs::itest
