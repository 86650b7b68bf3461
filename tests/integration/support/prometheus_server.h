// PrometheusServer: a real Prometheus (Debian's /usr/bin/prometheus) for tests, on 127.0.0.1
// at a free port, in its own temporary directory (configuration, rule file, TSDB). It scrapes
// the given targets' /metrics every `scrape_interval` and evaluates the rule file as often, so
// a test sees series and alerts within seconds. Start() waits until /-/ready answers 200. A
// missing binary fails the test (CI installs prometheus from scripts/debian-packages.txt).
// The child gets SIGKILL if the test process dies; the destructor stops it and removes the
// directory, and prints the server's log when the test failed.
//
// Thread-safety: none; drive it from the test's main thread.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fs::itest {

inline constexpr char kPrometheusBinary[] = "/usr/bin/prometheus";

struct PrometheusOptions {
  // "127.0.0.1:PORT" of each target; the scrape job is named "flashsale".
  std::vector<std::string> targets;
  // The rule file's text (loaded as rule_files); empty: no rules.
  std::string rules;
  std::chrono::seconds scrape_interval{1};
};

class PrometheusServer {
 public:
  explicit PrometheusServer(PrometheusOptions options);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // REQUIRES: not running.
  ::testing::AssertionResult Start();
  std::uint16_t port() const { return port_; }

  // GET /api/v1/<path> (e.g. "query?query=up"); nullopt when the answer is not JSON.
  std::optional<rapidjson::Document> Api(const std::string& path) const;
  // An instant query: the API's answer ({"status":..., "data":{"result":[...]}}, or an error
  // with "errorType" for a query that does not parse).
  std::optional<rapidjson::Document> Query(const std::string& promql) const;
  std::string Log() const;

 private:
  ::testing::AssertionResult WaitUntilReady();

  const PrometheusOptions options_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// deploy/prometheus/alerts.yml with every hold time (`for:`) cut to 1 s: the tests check the
// expressions against live data; promtool test rules checks the hold times.
std::string AlertRulesWithShortHolds();

struct PanelQuery {
  std::string panel;
  std::string expr;
};
// Every target expression of every panel of deploy/grafana/flashsale.json, with Grafana's
// $__rate_interval as 1m; records a failure when a panel does not use the datasource variable.
std::vector<PanelQuery> DashboardQueries();

// Runs every dashboard query until each has returned data, calling `drive` (traffic) before
// each round, for at most 45 s. A query Prometheus refuses (not valid PromQL) fails the test at
// once. Returns the queries that never returned data (each also a failure).
std::vector<std::string> DashboardQueriesWithoutData(const PrometheusServer& prometheus,
                                                     const std::function<void()>& drive);

}  // namespace fs::itest
