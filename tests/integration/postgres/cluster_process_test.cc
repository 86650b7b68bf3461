// Goal: three real flashsale processes (no load balancer yet) on one PostgreSQL database
// behave as one sale. 5,000 users race for 500 units across the nodes, some users firing at
// two nodes at the same instant: exactly 500 reservations, everyone else refused, no user over
// the limit, counters equal to the rows, and every node's availability reaches 0. kill -9 of
// one node in the middle of a race: every 201 it gave is in the database, the other nodes
// carry on, and its held stock expires (expired by the surviving nodes). PostgreSQL restarted
// in the middle of a sale: clients get 503 UNAVAILABLE during the outage, the nodes resume by
// themselves, every acknowledged reservation is stored and the counters still equal the rows.
// The saga in cluster mode: reserve on one node, check out on another, read the order on a
// third; each order is charged once by one node at a time (its lease) although every node's
// payment worker sees it, and the outbox reaches the sink once, from one relay leader, in
// order per SKU.
#include <gtest/gtest.h>

#include <fstream>
#include <latch>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pg_environment.h"
#include "support/fake_gateway.h"
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
  virtual std::vector<std::string> ExtraArgs() { return {}; }

  void SetUp() override {
    const std::string url = FreshDatabaseUrl();
    for (int i = 0; i < kNodes; ++i) {
      ServerOptions options;
      options.extra_args = {"--store", url, "--threads", "2"};
      for (auto& arg : ExtraArgs()) options.extra_args.push_back(arg);
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

  // One closed-loop reservation load per node, `threads` connections each.
  std::vector<std::unique_ptr<ReserveLoad>> StartLoads(const std::string& sku_id, int threads) {
    std::vector<std::unique_ptr<ReserveLoad>> loads;
    for (int i = 0; i < kNodes; ++i) {
      LoadOptions options;
      options.sku_id = sku_id;
      options.user_prefix = "node" + std::to_string(i);
      options.thread_count = threads;
      loads.push_back(std::make_unique<ReserveLoad>(node(i).port(), options));
    }
    return loads;
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
        const HttpResponse response =
            client.Post("/api/v1/products/cluster-race/reserve", "{\"quantity\":1}", auth[i]);
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
    for (const auto& [status, count] : statuses[static_cast<std::size_t>(t)])
      total[status] += count;
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
  std::vector<std::unique_ptr<ReserveLoad>> loads = StartLoads("cluster-kill", 4);
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
                       " reservation_id = ANY(" +
                       IdArray(killed) + ")"),
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
  std::vector<std::unique_ptr<ReserveLoad>> loads = StartLoads("cluster-outage", 3);
  for (auto& load : loads) ASSERT_TRUE(load->WaitForAcknowledged(50, std::chrono::seconds(30)));
  ASSERT_TRUE(TestPostgres().Stop());
  // During the outage: a clear 503 UNAVAILABLE from every node.
  for (int i = 0; i < kNodes; ++i) {
    HttpClient client(node(i).port());
    HttpResponse response;
    for (int attempt = 0; attempt < 100; ++attempt) {
      response =
          client.Post("/api/v1/products/cluster-outage/reserve", "{\"quantity\":1}",
                      UserAuth("probe-" + std::to_string(i) + "-" + std::to_string(attempt)));
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

class ClusterSagaTest : public ClusterProcessTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--payment-gateway",        "http",
            "--payment-gateway-url",    gateway_.url(),
            "--payment-retry-schedule", "30ms,60ms,120ms",
            "--payment-timeout-ms",     "2000"};
  }
  // Every gateway key fails once with a 500 and is retried: exactly two requests per order
  // unless two nodes charged the same order at once.
  FakeGateway gateway_{FakeGatewayOptions{1, 0, std::chrono::milliseconds(400), 0}};
};

std::string Field(const HttpResponse& response, const char* name) {
  auto json = ParseJson(response.body);
  if (!json || !json->IsObject()) return "";
  return StringField(*json, name).value_or("");
}

TEST_F(ClusterSagaTest, ReserveCheckoutAndPayAcrossNodesChargesEachOrderOnce) {
  constexpr int kBuyers = 24;
  SaleSpec sale;
  sale.sku_id = "cluster-saga";
  sale.total_stock = 100;
  CreateSale(sale);
  std::vector<std::string> orders;
  for (int u = 0; u < kBuyers; ++u) {
    const std::string user = "buyer-" + std::to_string(u);
    HttpClient reserve_node(node(u % kNodes).port());
    const HttpResponse reserved =
        Reserve(reserve_node, ReserveRequest().Sku("cluster-saga").User(user));
    ASSERT_EQ(reserved.status, 201) << reserved.Describe();
    // Checkout on another node: it must know the reservation the first node just made.
    HttpClient checkout_node(node((u + 1) % kNodes).port());
    const std::string body = "{\"reservation_id\":" + JsonQuote(Field(reserved, "reservation_id")) +
                             ",\"payment_method_id\":\"pm_card_visa\"}";
    const HttpResponse checkout = checkout_node.Post("/api/v1/checkout", body, UserAuth(user));
    ASSERT_EQ(checkout.status, 202) << checkout.Describe();
    orders.push_back(Field(checkout, "order_id"));
  }
  // Every order ends PAID, read from a third node.
  for (int u = 0; u < kBuyers; ++u) {
    HttpClient reader(node((u + 2) % kNodes).port());
    const std::string path = "/api/v1/orders/" + orders[static_cast<std::size_t>(u)];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    HttpResponse order = reader.Get(path, UserAuth("buyer-" + std::to_string(u)));
    while (Field(order, "status") != "PAID" && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      order = reader.Get(path, UserAuth("buyer-" + std::to_string(u)));
    }
    EXPECT_EQ(Field(order, "status"), "PAID") << order.Describe();
  }
  const auto charges = gateway_.ChargesByKey();
  const auto requests = gateway_.RequestsByKey();
  EXPECT_EQ(charges.size(), static_cast<std::size_t>(kBuyers));
  for (const auto& order_id : orders) {
    EXPECT_EQ(charges.count(order_id) == 1 ? charges.at(order_id) : 0, 1) << order_id;
    EXPECT_EQ(requests.count(order_id) == 1 ? requests.at(order_id) : 0, 2) << order_id;
  }
  EXPECT_EQ(QueryValue("SELECT sold FROM skus"), std::to_string(kBuyers));
  EXPECT_EQ(QueryValue("SELECT count(*) FROM orders WHERE status = 2"), std::to_string(kBuyers));

  // Events: 4 per buyer (reservation.created, checkout.requested, payment.succeeded,
  // order.confirmed), published once across all nodes' logs, each SKU's in order.
  const std::size_t expected = static_cast<std::size_t>(kBuyers) * 4;
  std::vector<std::string> lines;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    lines.clear();
    for (int i = 0; i < kNodes; ++i) {
      std::ifstream file(node(i).data_dir() / "events.jsonl");
      for (std::string line; std::getline(file, line);) lines.push_back(line);
    }
    if (lines.size() >= expected) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  std::set<std::string> ids;
  std::int64_t last_sequence = 0;
  for (int i = 0; i < kNodes; ++i) {
    std::ifstream file(node(i).data_dir() / "events.jsonl");
    for (std::string line; std::getline(file, line);) {
      auto json = ParseJson(line);
      ASSERT_TRUE(json && json->IsObject()) << line;
      EXPECT_TRUE(ids.insert(StringField(*json, "event_id").value_or("")).second) << line;
      const std::int64_t sequence = IntField(*json, "sequence").value_or(0);
      EXPECT_EQ(sequence, last_sequence + 1) << line;
      last_sequence = sequence;
    }
  }
  EXPECT_EQ(ids.size(), expected);
}

}  // namespace
}  // namespace fs::itest
