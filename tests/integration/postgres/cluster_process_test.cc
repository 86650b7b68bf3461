// Goal: three real flashsale processes (no load balancer yet) on one PostgreSQL database
// behave as one sale. 5,000 users race for 500 units across the nodes, some users firing at
// two nodes at the same instant: exactly 500 reservations, everyone else refused, no user over
// the limit, counters equal to the rows, and every node's availability reaches 0. kill -9 of
// one node in the middle of a race: every 201 it gave is in the database, the other nodes
// carry on, and its held stock expires (expired by the surviving nodes). PostgreSQL restarted
// in the middle of a sale: clients get 503 UNAVAILABLE during the outage, the nodes resume by
// themselves, every acknowledged reservation is stored and the counters still equal the rows.
#include <gtest/gtest.h>

#include <latch>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pg_environment.h"
#include "support/flashsale_api.h"
#include "support/http_client.h"
#include "support/reserve_load.h"
#include "support/server_process.h"

namespace fs::itest {
namespace {

constexpr int kNodes = 3;

std::string QueryValue(const std::string& sql) {
  std::string value;
  EXPECT_TRUE(TestPostgres().Query(CurrentDatabase(), sql, value));
  return value;
}

// A PostgreSQL array literal of ids (they are UUIDs: no quoting needed).
std::string IdArray(const std::vector<Acknowledged>& acknowledged) {
  std::string out = "'{";
  for (std::size_t i = 0; i < acknowledged.size(); ++i) {
    if (i > 0) out += ',';
    out += acknowledged[i].reservation_id;
  }
  return out + "}'::text[]";
}

// Polls `sql` until it returns `expected` or `timeout` passes; returns the last value.
std::string WaitForValue(const std::string& sql, const std::string& expected,
                         std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string value = QueryValue(sql);
  while (value != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    value = QueryValue(sql);
  }
  return value;
}

class ClusterProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = FreshDatabaseUrl();
    for (int i = 0; i < kNodes; ++i) {
      ServerOptions options;
      options.extra_args = {"--store", url, "--threads", "2"};
      nodes_.push_back(std::make_unique<ServerProcess>(options));
    }
    // Started from this thread: a child is killed when the thread that spawned it ends. (The
    // migrations' race between nodes is PgStoreTest.MigrationsAreIdempotentWhenNodesStartAtOnce.)
    for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(node(i).Start()) << "node " << i;
  }

  ServerProcess& node(int i) { return *nodes_[static_cast<std::size_t>(i)]; }

  void CreateSale(const SaleSpec& sale) {
    HttpClient client(node(0).port());
    ASSERT_TRUE(CreateSaleOk(client, sale));
  }

  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

TEST_F(ClusterProcessTest, FiveThousandUsersRaceForFiveHundredUnitsAcrossThreeNodes) {
  constexpr int kUnits = 500;
  constexpr int kUsers = 5000;
  constexpr int kDoubleUsers = 100;  // each fires at two nodes at the same instant
  constexpr int kThreads = 60;       // 20 keep-alive connections per node
  SaleSpec sale;
  sale.sku_id = "cluster-race";
  sale.total_stock = kUnits;
  sale.reservation_ttl_seconds = 600;
  CreateSale(sale);

  std::vector<std::vector<std::string>> plan(kThreads);
  for (int u = 0; u < kUsers; ++u) {
    std::string user = "user-" + std::to_string(u);
    if (u < kDoubleUsers) {
      // Threads 2u and 2u+1 (mod 60) talk to different nodes.
      plan[static_cast<std::size_t>((2 * u) % kThreads)].push_back(user);
      plan[static_cast<std::size_t>((2 * u + 1) % kThreads)].push_back(user);
    } else {
      plan[static_cast<std::size_t>(u % kThreads)].push_back(user);
    }
  }
  std::vector<std::map<int, int>> statuses(kThreads);
  std::vector<std::map<std::string, int>> granted(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const auto index = static_cast<std::size_t>(t);
      HttpClient client(node(t % kNodes).port());
      std::vector<HttpHeaders> auth;
      for (const auto& user : plan[index]) auth.push_back(UserAuth(user));
      client.Get("/healthz");
      start.arrive_and_wait();
      for (std::size_t i = 0; i < plan[index].size(); ++i) {
        const HttpResponse response = client.Post(
            "/api/v1/products/cluster-race/reserve", "{\"quantity\":1}", auth[i]);
        ++statuses[index][response.status];
        if (response.status == 201) ++granted[index][plan[index][i]];
        if (response.status == 409) {
          const std::string code = ErrorCode(response);
          EXPECT_TRUE(code == "SOLD_OUT" || code == "LIMIT_EXCEEDED") << response.Describe();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::map<int, int> total;
  std::map<std::string, int> per_user;
  for (int t = 0; t < kThreads; ++t) {
    for (const auto& [status, count] : statuses[static_cast<std::size_t>(t)]) total[status] += count;
    for (const auto& [user, count] : granted[static_cast<std::size_t>(t)]) per_user[user] += count;
  }
  EXPECT_EQ(total[201], kUnits);
  EXPECT_EQ(total[409], kUsers + kDoubleUsers - kUnits);
  EXPECT_EQ(total.size(), 2u) << "only 201 and 409 expected";
  for (const auto& [user, count] : per_user) EXPECT_LE(count, 1) << user;
  EXPECT_EQ(QueryValue("SELECT count(*) FROM reservations"), std::to_string(kUnits));
  EXPECT_EQ(QueryValue("SELECT held FROM skus"), std::to_string(kUnits));
  EXPECT_EQ(QueryValue("SELECT count(*) FROM (SELECT user_id FROM reservations GROUP BY user_id"
                       " HAVING sum(quantity) > 1) over_limit"),
            "0");
  // Availability is served from each node's memory, refreshed from the database while idle.
  for (int i = 0; i < kNodes; ++i) {
    HttpClient client(node(i).port());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::int64_t available = AvailableUnits(client, "cluster-race");
    while (available != 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      available = AvailableUnits(client, "cluster-race");
    }
    EXPECT_EQ(available, 0) << "node " << i;
  }
}

TEST_F(ClusterProcessTest, KillOneNodeMidRaceKeepsItsAnswersAndExpiresItsHolds) {
  SaleSpec sale;
  sale.sku_id = "cluster-kill";
  sale.total_stock = 1'000'000;
  sale.reservation_ttl_seconds = 3;
  CreateSale(sale);
  std::vector<std::unique_ptr<ReserveLoad>> loads;
  for (int i = 0; i < kNodes; ++i) {
    LoadOptions options;
    options.sku_id = "cluster-kill";
    options.user_prefix = "node" + std::to_string(i);
    options.thread_count = 4;
    loads.push_back(std::make_unique<ReserveLoad>(node(i).port(), options));
  }
  ASSERT_TRUE(loads[1]->WaitForAcknowledged(150, std::chrono::seconds(30)));
  node(1).Kill9();
  // The others carry on.
  const std::int64_t before = loads[0]->acknowledged_count() + loads[2]->acknowledged_count();
  ASSERT_TRUE(loads[0]->WaitForAcknowledged(before / 2 + 200, std::chrono::seconds(30)));
  ASSERT_TRUE(loads[2]->WaitForAcknowledged(before / 2 + 200, std::chrono::seconds(30)));
  std::vector<LoadResult> results;
  for (auto& load : loads) {
    load->RequestStop();
    results.push_back(load->Join());
  }
  const std::vector<Acknowledged>& killed = results[1].acknowledged;
  ASSERT_GE(killed.size(), 150u);
  // Every 201 the killed node gave is in the database.
  EXPECT_EQ(QueryValue("SELECT count(*) FROM reservations WHERE reservation_id = ANY(" +
                       IdArray(killed) + ")"),
            std::to_string(killed.size()));
  for (int i : {0, 2}) {
    EXPECT_EQ(results[static_cast<std::size_t>(i)].status_counts.count(503), 0u);
    EXPECT_TRUE(results[static_cast<std::size_t>(i)].problems.empty());
  }
  // Its held stock expires: only the surviving nodes can expire it.
  EXPECT_EQ(WaitForValue("SELECT held FROM skus", "0", std::chrono::seconds(30)), "0");
  EXPECT_EQ(QueryValue("SELECT count(*) FROM reservations WHERE status = 4 AND"
                       " reservation_id = ANY(" + IdArray(killed) + ")"),
            std::to_string(killed.size()));
  EXPECT_EQ(QueryValue("SELECT count(*) FROM audit_events WHERE event_type = 'EXPIRY'"),
            QueryValue("SELECT count(*) FROM reservations"));
}

TEST_F(ClusterProcessTest, PostgresRestartMidSaleAnswers503ThenResumes) {
  SaleSpec sale;
  sale.sku_id = "cluster-outage";
  sale.total_stock = 1'000'000;
  sale.reservation_ttl_seconds = 600;
  CreateSale(sale);
  std::vector<std::unique_ptr<ReserveLoad>> loads;
  for (int i = 0; i < kNodes; ++i) {
    LoadOptions options;
    options.sku_id = "cluster-outage";
    options.user_prefix = "node" + std::to_string(i);
    options.thread_count = 3;
    loads.push_back(std::make_unique<ReserveLoad>(node(i).port(), options));
  }
  for (auto& load : loads) ASSERT_TRUE(load->WaitForAcknowledged(50, std::chrono::seconds(30)));
  ASSERT_TRUE(TestPostgres().Stop());
  // During the outage: a clear 503 UNAVAILABLE from every node.
  for (int i = 0; i < kNodes; ++i) {
    HttpClient client(node(i).port());
    HttpResponse response;
    for (int attempt = 0; attempt < 100; ++attempt) {
      response = client.Post("/api/v1/products/cluster-outage/reserve", "{\"quantity\":1}",
                             UserAuth("probe-" + std::to_string(i) + "-" +
                                      std::to_string(attempt)));
      if (response.status == 503) break;
    }
    EXPECT_TRUE(IsError(response, 503, "UNAVAILABLE")) << "node " << i;
  }
  std::vector<std::int64_t> at_restart;
  for (auto& load : loads) at_restart.push_back(load->acknowledged_count());
  ASSERT_TRUE(TestPostgres().Start());
  // Service resumes by itself on every node.
  for (std::size_t i = 0; i < loads.size(); ++i) {
    EXPECT_TRUE(loads[i]->WaitForAcknowledged(at_restart[i] + 100, std::chrono::seconds(30)))
        << "node " << i;
  }
  std::int64_t acknowledged = 0;
  std::int64_t unavailable = 0;
  std::vector<Acknowledged> all;
  for (auto& load : loads) {
    load->RequestStop();
    LoadResult result = load->Join();
    acknowledged += static_cast<std::int64_t>(result.acknowledged.size());
    unavailable += result.status_counts[503];
    EXPECT_EQ(result.status_counts.count(500), 0u);
    EXPECT_TRUE(result.problems.empty());
    all.insert(all.end(), result.acknowledged.begin(), result.acknowledged.end());
  }
  EXPECT_GT(unavailable, 0);
  // Nothing acknowledged was lost and nothing is corrupted: counters equal the rows.
  EXPECT_EQ(QueryValue("SELECT count(*) FROM reservations WHERE reservation_id = ANY(" +
                       IdArray(all) + ")"),
            std::to_string(acknowledged));
  EXPECT_EQ(QueryValue("SELECT held = (SELECT coalesce(sum(quantity), 0) FROM reservations"
                       " WHERE status IN (1, 2)) FROM skus"),
            "t");
  EXPECT_EQ(QueryValue("SELECT count(*) = max(event_id) FROM audit_events"), "t");
  for (int i = 0; i < kNodes; ++i) {
    HttpClient client(node(i).port());
    EXPECT_EQ(client.Get("/readyz").status, 200) << "node " << i;
  }
}

}  // namespace
}  // namespace fs::itest
