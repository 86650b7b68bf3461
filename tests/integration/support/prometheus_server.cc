#include "support/prometheus_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "common/temp_dir.h"
#include "net/http_client.h"
#include "support/child_process.h"
#include "support/flashsale_api.h"
#include "support/free_port.h"
#include "support/http_client.h"

namespace fs::itest {
namespace {

using Clock = std::chrono::steady_clock;

// Prometheus opens its TSDB and rules in about a second; this bound is for a loaded box.
constexpr std::chrono::seconds kReadyTimeout{30};
constexpr std::chrono::seconds kStopTimeout{10};
// Dashboard data needs two scrapes after the traffic; the bound is for a loaded CI box.
constexpr std::chrono::seconds kDataTimeout{45};

}  // namespace

PrometheusServer::PrometheusServer(PrometheusOptions options)
    : options_(std::move(options)), dir_(test_common::MakeTempDirOrAbort("flashsale-prometheus")) {}

PrometheusServer::~PrometheusServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + kStopTimeout;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);  // no-op when it has exited
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (::testing::Test::HasFailure()) {
    std::cerr << "---- prometheus log (tail) ----\n"
              << Log().substr(Log().size() > 4000 ? Log().size() - 4000 : 0) << "\n---- end ----\n";
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string PrometheusServer::Log() const {
  std::ifstream in(dir_ / "prometheus.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

::testing::AssertionResult PrometheusServer::Start() {
  if (pid_ > 0) return ::testing::AssertionFailure() << "prometheus already running";
  if (::access(kPrometheusBinary, X_OK) != 0) {
    return ::testing::AssertionFailure()
           << kPrometheusBinary
           << " is missing (install prometheus, see scripts/debian-packages.txt)";
  }
  port_ = FreePort();
  if (port_ == 0) return ::testing::AssertionFailure() << "no free port";
  const std::string interval = std::to_string(options_.scrape_interval.count()) + "s";
  std::ofstream config(dir_ / "prometheus.yml");
  config << "global:\n  scrape_interval: " << interval << "\n  evaluation_interval: " << interval
         << "\n";
  if (!options_.rules.empty()) {
    std::ofstream(dir_ / "rules.yml") << options_.rules;
    config << "rule_files:\n  - " << (dir_ / "rules.yml").string() << "\n";
  }
  config << "scrape_configs:\n  - job_name: flashsale\n    static_configs:\n      - targets:\n";
  for (const std::string& target : options_.targets) config << "          - '" << target << "'\n";
  config.close();
  std::vector<std::string> args = {
      kPrometheusBinary, "--config.file=" + (dir_ / "prometheus.yml").string(),
      "--storage.tsdb.path=" + (dir_ / "data").string(),
      "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
  // The temp dir as working directory: its relative defaults (console templates) stay there.
  ::testing::AssertionResult spawned =
      SpawnChild(std::move(args), dir_ / "prometheus.log", dir_, pid_);
  if (!spawned) return spawned;
  return WaitUntilReady();
}

::testing::AssertionResult PrometheusServer::WaitUntilReady() {
  const auto deadline = Clock::now() + kReadyTimeout;
  HttpClient client(port_, std::chrono::milliseconds(1000));
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return ::testing::AssertionFailure() << "prometheus exited at start:\n" << Log();
    }
    if (client.Get("/-/ready").status == 200) return ::testing::AssertionSuccess();
    // Polling a port that is not listening yet: no event to wait for.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ::testing::AssertionFailure() << "prometheus not ready:\n" << Log();
}

std::optional<rapidjson::Document> PrometheusServer::Api(const std::string& path) const {
  HttpClient client(port_);
  const HttpResponse response = client.Get("/api/v1/" + path);
  return ParseJson(response.body);
}

std::optional<rapidjson::Document> PrometheusServer::Query(const std::string& promql) const {
  return Api("query?query=" + net::PercentEncode(promql));
}

namespace {

std::string ReadSourceFile(const std::string& relative) {
  std::ifstream in(std::string(FLASHSALE_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The number of samples an instant query returned; -1 (with a failure) when it was refused.
int ResultCount(const PrometheusServer& prometheus, const PanelQuery& query) {
  const auto answer = prometheus.Query(query.expr);
  if (!answer || !answer->HasMember("status")) {
    ADD_FAILURE() << query.panel << ": no JSON answer for " << query.expr;
    return -1;
  }
  if (std::string((*answer)["status"].GetString()) != "success") {
    ADD_FAILURE() << query.panel << ": Prometheus refused " << query.expr << ": "
                  << (answer->HasMember("error") ? (*answer)["error"].GetString() : "");
    return -1;
  }
  return static_cast<int>((*answer)["data"]["result"].Size());
}

}  // namespace

std::string AlertRulesWithShortHolds() {
  const std::string rules = ReadSourceFile("deploy/prometheus/alerts.yml");
  EXPECT_NE(rules.find("groups:"), std::string::npos) << "deploy/prometheus/alerts.yml";
  return std::regex_replace(rules, std::regex(R"(for: [0-9]+[smh])"), "for: 1s");
}

std::vector<PanelQuery> DashboardQueries() {
  std::vector<PanelQuery> queries;
  const auto dashboard = ParseJson(ReadSourceFile("deploy/grafana/flashsale.json"));
  if (!dashboard || !dashboard->IsObject() || !dashboard->HasMember("panels")) {
    ADD_FAILURE() << "deploy/grafana/flashsale.json is not a dashboard";
    return queries;
  }
  for (const auto& panel : (*dashboard)["panels"].GetArray()) {
    EXPECT_EQ(std::string(panel["datasource"]["uid"].GetString()), "${datasource}")
        << panel["title"].GetString();
    for (const auto& target : panel["targets"].GetArray()) {
      const std::string expr = std::regex_replace(std::string(target["expr"].GetString()),
                                                  std::regex(R"(\$__rate_interval)"), "1m");
      queries.push_back({panel["title"].GetString(), expr});
    }
  }
  return queries;
}

std::vector<std::string> DashboardQueriesWithoutData(const PrometheusServer& prometheus,
                                                     const std::function<void()>& drive) {
  const std::vector<PanelQuery> queries = DashboardQueries();
  EXPECT_GE(queries.size(), 20u);
  std::set<std::string> without_data;
  for (const PanelQuery& query : queries) without_data.insert(query.expr);
  const auto deadline = Clock::now() + kDataTimeout;
  while (!without_data.empty() && Clock::now() < deadline) {
    drive();
    if (::testing::Test::HasFatalFailure()) break;
    for (const PanelQuery& query : queries) {
      if (without_data.count(query.expr) == 0) continue;
      const int count = ResultCount(prometheus, query);
      if (count < 0) return {query.expr};  // refused: already a failure
      if (count > 0) without_data.erase(query.expr);
    }
    // Waiting for the next scrape (every second): there is no event to wait on.
    if (!without_data.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  for (const std::string& expr : without_data) ADD_FAILURE() << "no data for: " << expr;
  return {without_data.begin(), without_data.end()};
}

}  // namespace fs::itest
