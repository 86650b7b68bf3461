// Goal: Redis stopped in the middle of a cluster sale changes nothing that matters.
// Three real flashsale processes on one PostgreSQL database share one real redis-server
// (--redis, --redis-cache auto: the availability cache and the idempotency fast path are on
// with a shared store). 3,000 users race for 300 units across the nodes and redis-server is
// stopped while the sale is selling: exactly 300 reservations, everyone else refused, counters
// equal to the rows, no user over the limit. Idempotency-Keys sent to two different nodes, before
// and after the stop, each yield one reservation. /readyz stays 200 and says degraded while
// Redis is down; after Redis is back the nodes are ready again and still reserve.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pg_environment.h"
#include "support/flashsale_api.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/server_process.h"

namespace fs::itest {
namespace {

constexpr int kNodes = 3;

// The reservation id of a 201, or "" (with the response in the failure message).
std::string ReservedId(const HttpResponse& response) {
  EXPECT_EQ(response.status, 201) << response.Describe();
  const auto reservation = ParseReservation(response.body);
  return reservation ? reservation->reservation_id : "";
}

class RedisClusterSaleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start());
    const std::string url = FreshDatabaseUrl();
    for (int i = 0; i < kNodes; ++i) {
      ServerOptions options;
      options.extra_args = {"--store", url,          "--threads",     "2",
                            "--redis", redis_.url(), "--redis-cache", "auto"};
      nodes_.push_back(std::make_unique<ServerProcess>(options));
    }
    // Started from this thread: a child is killed when the thread that spawned it ends.
    for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(node(i).Start()) << "node " << i;
    for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(AwaitRedisState(node(i).port(), "up"));
  }

  ServerProcess& node(int i) { return *nodes_[static_cast<std::size_t>(i)]; }

  // `user` sends `key` to node `first`, then the same key to node `second`: both answers must
  // be the same reservation. Returns its id.
  std::string ReserveOnTwoNodes(const std::string& user, const std::string& key, int first,
                                int second) {
    HttpClient first_client(node(first).port());
    HttpClient second_client(node(second).port());
    const ReserveRequest request = ReserveRequest().Sku("redis-idem").User(user).Key(key);
    const std::string id = ReservedId(Reserve(first_client, request));
    EXPECT_FALSE(id.empty()) << user;
    EXPECT_EQ(ReservedId(Reserve(second_client, request)), id)
        << user << ": node " << first << " then node " << second;
    return id;
  }

  RedisServer redis_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

TEST_F(RedisClusterSaleTest, RedisStoppedMidSaleStillZeroOversellAndIdempotencyHolds) {
  constexpr int kUnits = 300;
  constexpr int kUsers = 3000;
  constexpr int kEarlyThreads = 6;  // race before and while Redis stops
  constexpr int kEarlyUsersPerThread = 20;
  constexpr int kLateThreads = 24;  // race once the stop was issued
  constexpr int kThreads = kEarlyThreads + kLateThreads;
  constexpr int kEarlyUsers = kEarlyThreads * kEarlyUsersPerThread;  // < kUnits: stock remains
  constexpr int kStopAfter = kEarlyUsers / 2;                        // 201s before the stop
  constexpr int kIdemUsers = 15;
  {
    HttpClient admin(node(0).port());
    SaleSpec race;
    race.sku_id = "redis-race";
    race.total_stock = kUnits;
    race.reservation_ttl_seconds = 600;
    ASSERT_TRUE(CreateSaleOk(admin, race));
    SaleSpec idem = BigSale("redis-idem");
    idem.reservation_ttl_seconds = 600;
    ASSERT_TRUE(CreateSaleOk(admin, idem));
  }

  // Idempotency before the stop: each key goes to two different nodes.
  std::vector<std::string> before_ids;
  for (int u = 0; u < kIdemUsers; ++u) {
    before_ids.push_back(ReserveOnTwoNodes("idem-before-" + std::to_string(u),
                                           "key-before-" + std::to_string(u), u % kNodes,
                                           (u + 1) % kNodes));
  }

  // --redis-cache auto turned the idempotency fast path on: the shared store is in use.
  EXPECT_EQ(redis_.Command({"EXISTS", "fs:idem:idem-before-0\nkey-before-0"}), ":1");

  // The race: early threads take at most kEarlyUsers units, so the stop lands while stock is
  // left; late threads start once the stop was issued and sell the rest with Redis gone.
  std::vector<std::vector<std::string>> plan(kThreads);
  for (int u = 0; u < kEarlyUsers; ++u) {
    plan[static_cast<std::size_t>(u % kEarlyThreads)].push_back("user-" + std::to_string(u));
  }
  for (int u = kEarlyUsers; u < kUsers; ++u) {
    plan[static_cast<std::size_t>(kEarlyThreads + u % kLateThreads)].push_back("user-" +
                                                                               std::to_string(u));
  }
  std::vector<std::map<int, int>> statuses(kThreads);
  std::vector<std::map<std::string, int>> granted(kThreads);
  std::atomic<int> early_created{0};
  std::atomic<bool> redis_stopped{false};
  std::atomic<int> created_after_stop{0};
  std::latch early_start(kEarlyThreads + 1);
  std::latch late_start(kLateThreads + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const auto index = static_cast<std::size_t>(t);
      const bool early = t < kEarlyThreads;
      HttpClient client(node(t % kNodes).port());
      std::vector<HttpHeaders> auth;
      for (const auto& user : plan[index]) auth.push_back(UserAuth(user));
      client.Get("/healthz");
      (early ? early_start : late_start).arrive_and_wait();
      for (std::size_t i = 0; i < plan[index].size(); ++i) {
        const HttpResponse response =
            client.Post("/api/v1/products/redis-race/reserve", "{\"quantity\":1}", auth[i]);
        ++statuses[index][response.status];
        if (response.status == 201) {
          ++granted[index][plan[index][i]];
          if (early) early_created.fetch_add(1);
          if (redis_stopped.load()) created_after_stop.fetch_add(1);
        } else if (response.status == 409) {
          const std::string code = ErrorCode(response);
          EXPECT_TRUE(code == "SOLD_OUT" || code == "LIMIT_EXCEEDED") << response.Describe();
        } else {
          ADD_FAILURE() << "node " << t % kNodes << ": " << response.Describe();
        }
      }
    });
  }
  early_start.arrive_and_wait();
  // No event to wait on from outside: poll the early threads' progress.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (early_created.load() < kStopAfter && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const bool stopped = static_cast<bool>(redis_.Stop());
  redis_stopped.store(true);
  late_start.arrive_and_wait();
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(stopped);
  ASSERT_GE(early_created.load(), kStopAfter);

  std::map<int, int> total;
  std::map<std::string, int> per_user;
  for (std::size_t t = 0; t < static_cast<std::size_t>(kThreads); ++t) {
    for (const auto& [status, count] : statuses[t]) total[status] += count;
    for (const auto& [user, count] : granted[t]) per_user[user] += count;
  }
  EXPECT_EQ(total[201], kUnits);
  EXPECT_EQ(total[409], kUsers - kUnits);
  EXPECT_EQ(total.size(), 2u) << "only 201 and 409 expected";
  // At least the stock the early threads could not take was sold with Redis stopped.
  EXPECT_GE(created_after_stop.load(), kUnits - kEarlyUsers);
  for (const auto& [user, count] : per_user) EXPECT_LE(count, 1) << user;
  EXPECT_EQ(QueryCurrentDatabase("SELECT count(*) FROM reservations WHERE sku_id = 'redis-race'"),
            std::to_string(kUnits));
  EXPECT_EQ(QueryCurrentDatabase("SELECT held FROM skus WHERE sku_id = 'redis-race'"),
            std::to_string(kUnits));
  EXPECT_EQ(QueryCurrentDatabase("SELECT count(*) FROM (SELECT user_id FROM reservations GROUP BY"
                                 " sku_id, user_id HAVING sum(quantity) > 1) over_limit"),
            "0");

  // Redis down: every node is still ready (200) and says degraded.
  for (int i = 0; i < kNodes; ++i) {
    ASSERT_TRUE(AwaitRedisState(node(i).port(), "down")) << "node " << i;
    HttpClient client(node(i).port());
    const HttpResponse ready = client.Get("/readyz");
    EXPECT_EQ(ready.status, 200);
    EXPECT_NE(ready.body.find("\"status\":\"degraded\""), std::string::npos) << ready.body;
  }

  // Idempotency after the stop: new keys on two nodes, and the keys from before on the third.
  for (int u = 0; u < kIdemUsers; ++u) {
    ReserveOnTwoNodes("idem-after-" + std::to_string(u), "key-after-" + std::to_string(u),
                      (u + 2) % kNodes, u % kNodes);
    HttpClient third(node((u + 2) % kNodes).port());
    const ReserveRequest again = ReserveRequest()
                                     .Sku("redis-idem")
                                     .User("idem-before-" + std::to_string(u))
                                     .Key("key-before-" + std::to_string(u));
    EXPECT_EQ(ReservedId(Reserve(third, again)), before_ids[static_cast<std::size_t>(u)])
        << "key-before-" << u << " replayed on node " << (u + 2) % kNodes;
  }
  // One row per key, counters equal to the rows.
  EXPECT_EQ(QueryCurrentDatabase("SELECT count(*) FROM reservations WHERE sku_id = 'redis-idem'"),
            std::to_string(2 * kIdemUsers));
  EXPECT_EQ(QueryCurrentDatabase("SELECT count(DISTINCT user_id) FROM reservations"
                                 " WHERE sku_id = 'redis-idem'"),
            std::to_string(2 * kIdemUsers));
  EXPECT_EQ(QueryCurrentDatabase("SELECT held FROM skus WHERE sku_id = 'redis-idem'"),
            std::to_string(2 * kIdemUsers));

  // Redis back (empty, same port): every node is ready again and still reserves.
  ASSERT_TRUE(redis_.Start());
  for (int i = 0; i < kNodes; ++i) {
    ASSERT_TRUE(AwaitRedisState(node(i).port(), "up")) << "node " << i;
    HttpClient client(node(i).port());
    const HttpResponse ready = client.Get("/readyz");
    EXPECT_EQ(ready.status, 200);
    EXPECT_NE(ready.body.find("\"status\":\"ok\""), std::string::npos) << ready.body;
    EXPECT_FALSE(ReservedId(Reserve(client, ReserveRequest()
                                                .Sku("redis-idem")
                                                .User("after-restart-" + std::to_string(i))
                                                .Key("key-restart-" + std::to_string(i))))
                     .empty())
        << "node " << i;
  }
  EXPECT_EQ(QueryCurrentDatabase("SELECT held = (SELECT count(*) FROM reservations WHERE"
                                 " sku_id = 'redis-idem') FROM skus WHERE sku_id = 'redis-idem'"),
            "t");
}

}  // namespace
}  // namespace fs::itest
