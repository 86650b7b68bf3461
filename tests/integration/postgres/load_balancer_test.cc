// Goal: three real flashsale nodes on one PostgreSQL database behind a real HAProxy (round
// robin, health checks on GET /readyz) behave as one sale for clients that only know the load
// balancer. 5,000 users race for 500 units through the balancer: exactly 500 reservations,
// counters equal to the rows, no user over the limit, every node took its share. One user
// firing at two different nodes at the same instant, round after round, never gets more than
// the per-user limit. kill -9 of a node in the middle of a race through the balancer: every 201
// any node gave is in the database, the balancer marks the dead node DOWN and routes around it
// (no error after that), and the dead node's held stock expires through the others. The whole
// saga through the balancer: reserve, check out, the simulated gateway's test cards reach PAID
// (and FAILED for a declined card), and an unpaid reservation expires.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pg_environment.h"
#include "support/flashsale_api.h"
#include "support/haproxy_server.h"
#include "support/http_client.h"
#include "support/server_process.h"

namespace fs::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kNodes = 3;
constexpr char kNodeHeader[] = "X-Flashsale-Node";

std::string Sql(const std::string& sql) {
  std::string value;
  EXPECT_TRUE(TestPostgres().Query(CurrentDatabase(), sql, value)) << sql;
  return value;
}

// Calls `read` (every 20 ms) until `done(value)` or `timeout` passes; returns the last value.
template <typename Read, typename Done>
auto Eventually(Read read, Done done, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto value = read();
  while (!done(value) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
    value = read();
  }
  return value;
}

std::string Field(const HttpResponse& response, const char* name) {
  auto json = ParseJson(response.body);
  if (!json || !json->IsObject()) return "";
  return StringField(*json, name).value_or("");
}

class LoadBalancerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = FreshDatabaseUrl();
    std::vector<std::uint16_t> ports;
    for (int i = 0; i < kNodes; ++i) {
      ServerOptions options;
      // The balancer keeps idle connections to the nodes: the nodes must not close them first.
      options.extra_args = {
          "--store",           url,           "--threads", "2", "--idle-timeout-seconds", "150",
          "--trusted-proxies", "127.0.0.1/32"};
      nodes_.push_back(std::make_unique<ServerProcess>(options));
      // Started from this thread: a child is killed when the thread that spawned it ends.
      ASSERT_TRUE(nodes_.back()->Start()) << "node " << i;
      ports.push_back(nodes_.back()->port());
    }
    std::string error;
    balancer_ = HaproxyServer::Create(ports, error);
    ASSERT_NE(balancer_, nullptr) << error;
    ASSERT_TRUE(balancer_->WaitForAllUp(seconds(10)));
  }

  ServerProcess& node(int i) { return *nodes_[static_cast<std::size_t>(i)]; }
  std::uint16_t balancer_port() const { return balancer_->port(); }

  void CreateSale(const SaleSpec& sale) {
    HttpClient client(balancer_port());
    ASSERT_TRUE(CreateSaleOk(client, sale));
  }

  std::vector<std::unique_ptr<ServerProcess>> nodes_;
  std::unique_ptr<HaproxyServer> balancer_;
};

TEST_F(LoadBalancerTest, FiveThousandUsersRaceForFiveHundredUnitsThroughTheBalancer) {
  constexpr int kUnits = 500;
  constexpr int kUsers = 5000;
  constexpr int kThreads = 48;
  SaleSpec sale;
  sale.sku_id = "lb-race";
  sale.total_stock = kUnits;
  sale.reservation_ttl_seconds = 600;
  CreateSale(sale);

  std::vector<std::map<int, int>> statuses(kThreads);
  std::vector<std::map<std::string, int>> granted(kThreads);
  std::vector<std::map<std::string, int>> granted_by_node(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const auto index = static_cast<std::size_t>(t);
      std::vector<std::string> users;
      std::vector<HttpHeaders> auth;
      for (int u = t; u < kUsers; u += kThreads) {
        users.push_back("user-" + std::to_string(u));
        auth.push_back(UserAuth(users.back()));
      }
      HttpClient client(balancer_port());
      client.Get("/healthz");
      start.arrive_and_wait();
      for (std::size_t i = 0; i < users.size(); ++i) {
        const HttpResponse response =
            client.Post("/api/v1/products/lb-race/reserve", "{\"quantity\":1}", auth[i]);
        ++statuses[index][response.status];
        if (response.status == 201) {
          ++granted[index][users[i]];
          ++granted_by_node[index][response.Header(kNodeHeader).value_or("?")];
        } else {
          EXPECT_TRUE(IsError(response, 409, "SOLD_OUT")) << response.Describe();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::map<int, int> total;
  std::map<std::string, int> per_user;
  std::map<std::string, int> per_node;
  for (std::size_t t = 0; t < kThreads; ++t) {
    for (const auto& [status, count] : statuses[t]) total[status] += count;
    for (const auto& [user, count] : granted[t]) per_user[user] += count;
    for (const auto& [name, count] : granted_by_node[t]) per_node[name] += count;
  }
  EXPECT_EQ(total[201], kUnits);
  EXPECT_EQ(total[409], kUsers - kUnits);
  EXPECT_EQ(total.size(), 2u) << "only 201 and 409 expected";
  for (const auto& [user, count] : per_user) EXPECT_LE(count, 1) << user;
  // Round robin: every node answered a third of the requests, and granted some of the units.
  const auto stats = balancer_->ServerStats();
  ASSERT_EQ(stats.size(), static_cast<std::size_t>(kNodes));
  for (int i = 0; i < kNodes; ++i) {
    const std::string name = "node" + std::to_string(i);
    const HaproxyServerStat& stat = stats.at(name);
    EXPECT_GE(stat.responses_2xx + stat.responses_4xx, kUsers / kNodes - kThreads) << name;
    EXPECT_EQ(stat.responses_5xx, 0) << name;
    EXPECT_GT(per_node[name], 0) << name;
  }
  // The database: exactly the units, counters equal the rows, nobody over the limit.
  EXPECT_EQ(Sql("SELECT count(*) FROM reservations"), std::to_string(kUnits));
  EXPECT_EQ(Sql("SELECT held FROM skus"), std::to_string(kUnits));
  EXPECT_EQ(Sql(kCountersEqualRows), "t");
  EXPECT_EQ(Sql(kUsersOverLimit), "0");
  // What any node reports through the balancer agrees (each refreshes from the database
  // within ~50 ms while idle).
  HttpClient client(balancer_port());
  for (int read = 0; read < kNodes; ++read) {
    const std::optional<AdminCounters> counters = Eventually(
        [&] { return GetAdminCounters(client, "lb-race"); },
        [&](const auto& value) { return value && value->reserved == kUnits; }, seconds(5));
    ASSERT_TRUE(counters.has_value());
    EXPECT_EQ(counters->reserved, kUnits);
    EXPECT_EQ(counters->available, 0);
    EXPECT_EQ(counters->sold, 0);
  }
}

// The balancer replaces a client's own X-Forwarded-For with the client's address: a forged
// header reaches no node, so the audit records where the request really came from.
TEST_F(LoadBalancerTest, ClientSentForwardedForDoesNotPassTheBalancer) {
  SaleSpec sale;
  sale.sku_id = "lb-forged";
  sale.total_stock = 10;
  CreateSale(sale);
  HttpClient client(balancer_port());
  const HttpResponse response = client.Post(
      "/api/v1/products/lb-forged/reserve", R"({"quantity":1})",
      {{"Authorization", "Bearer " + MintToken("forger")}, {"X-Forwarded-For", "203.0.113.9"}});
  ASSERT_EQ(response.status, 201) << response.Describe();
  EXPECT_EQ(Sql("SELECT client_ip FROM audit_events WHERE user_id = 'forger'"), "127.0.0.1");
}

// Raw 0xFF and Latin-1 idempotency keys through the balancer (they once stopped every write
// of the node that took them): each node answers 400 naming the header and keeps writing.
TEST_F(LoadBalancerTest, RawNonAsciiKeysThroughTheBalancerStopNoNode) {
  SaleSpec sale;
  sale.sku_id = "lb-raw";
  sale.total_stock = 100;
  sale.per_user_limit = 10;
  CreateSale(sale);
  HttpClient client(balancer_port());
  for (int round = 0; round < kNodes; ++round) {  // round robin: every node gets both
    for (const std::string& raw : {std::string("\xff"), std::string("caf\xe9")}) {
      const HttpResponse refused = client.Post(
          "/api/v1/products/lb-raw/reserve", R"({"quantity":1})",
          {{"Authorization", "Bearer " + MintToken("mallory")}, {"Idempotency-Key", raw}});
      ASSERT_TRUE(IsError(refused, 400, "INVALID_REQUEST")) << refused.Describe();
      EXPECT_NE(refused.body.find("Idempotency-Key"), std::string::npos) << refused.body;
    }
  }
  for (int i = 0; i < kNodes; ++i) {
    HttpClient direct(node(i).port());
    EXPECT_EQ(direct.Get("/readyz").status, 200) << "node " << i;
    const HttpResponse reserved =
        direct.Post("/api/v1/products/lb-raw/reserve", R"({"quantity":1})",
                    {{"Authorization", "Bearer " + MintToken("user-" + std::to_string(i))},
                     {"Idempotency-Key", "fine-" + std::to_string(i)}});
    EXPECT_EQ(reserved.status, 201) << "node " << i << ": " << reserved.Describe();
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM reservations WHERE sku_id = 'lb-raw'"), "3");
  EXPECT_EQ(Sql("SELECT count(*) FROM reservations WHERE user_id = 'mallory'"), "0");
}

// A sale created on node 0 is readable on every other node at once (a node that does not know
// a SKU reads the database before answering 404); a close and a restock on node 0 are seen on
// the others within one refresh (the next batch, or the writer's 50 ms idle wake).
TEST_F(LoadBalancerTest, ASaleMadeOnOneNodeIsReadOnEveryNodeAtOnce) {
  HttpClient first(node(0).port());
  SaleSpec sale;
  sale.sku_id = "lb-seen";
  sale.total_stock = 40;
  ASSERT_TRUE(CreateSaleOk(first, sale));
  for (int i = 1; i < kNodes; ++i) {
    HttpClient other(node(i).port());
    EXPECT_EQ(other.Get("/api/v1/products/lb-seen/availability").status, 200) << "node " << i;
    EXPECT_EQ(other.Get("/api/v1/products/lb-seen").status, 200) << "node " << i;
    EXPECT_EQ(other.Get("/admin/v1/skus/lb-seen", AdminAuth()).status, 200) << "node " << i;
    EXPECT_TRUE(IsError(other.Get("/api/v1/products/lb-never/availability"), 404, "SKU_NOT_FOUND"));
  }
  ASSERT_EQ(first.Post("/admin/v1/skus/lb-seen/stock", R"({"delta":10})", AdminAuth()).status, 200);
  ASSERT_EQ(first.Post("/admin/v1/skus/lb-seen/close", "", AdminAuth()).status, 200);
  for (int i = 1; i < kNodes; ++i) {
    HttpClient other(node(i).port());
    const auto seen =
        Eventually([&] { return GetAdminCounters(other, "lb-seen"); },
                   [](const std::optional<AdminCounters>& c) { return c && c->status == "CLOSED"; },
                   seconds(2));
    ASSERT_TRUE(seen.has_value()) << "node " << i;
    EXPECT_EQ(seen->status, "CLOSED") << "node " << i;
    EXPECT_EQ(seen->total_stock, 50) << "node " << i;
  }
}

// The catalog on a cluster: a sale created through one node is listed and found through every
// node as soon as that node's single product read shows it.
TEST_F(LoadBalancerTest, TheCatalogOfEveryNodeListsASaleMadeOnAnother) {
  HttpClient first(node(0).port());
  SaleSpec sale;
  sale.sku_id = "lb-listed";
  sale.name = "Crème Sneaker Cluster";
  ASSERT_TRUE(CreateSaleOk(first, sale));
  for (int i = 1; i < kNodes; ++i) {
    HttpClient other(node(i).port());
    ASSERT_EQ(other.Get("/api/v1/products/lb-listed").status, 200) << "node " << i;
    const HttpResponse found = other.Get("/api/v1/products?q=creme+clust");
    ASSERT_EQ(found.status, 200) << found.Describe();
    EXPECT_NE(found.body.find("\"lb-listed\""), std::string::npos) << "node " << i << found.body;
  }
}

TEST_F(LoadBalancerTest, OneUserAtTwoNodesAtTheSameInstantNeverExceedsTheLimit) {
  constexpr int kRounds = 300;
  SaleSpec sale;
  sale.sku_id = "lb-twins";
  sale.total_stock = 100'000;
  sale.per_user_limit = 1;
  sale.reservation_ttl_seconds = 600;
  CreateSale(sale);
  // Two threads, each with a keep-alive connection to every node; in round r they fire the
  // same user's request at two different nodes, released together by a barrier.
  std::vector<std::vector<HttpResponse>> responses(2, std::vector<HttpResponse>(kRounds));
  std::vector<HttpHeaders> auth;
  for (int r = 0; r < kRounds; ++r) auth.push_back(UserAuth("twin-" + std::to_string(r)));
  std::barrier sync(2);
  std::vector<std::thread> threads;
  for (int k = 0; k < 2; ++k) {
    threads.emplace_back([&, k] {
      std::vector<std::unique_ptr<HttpClient>> clients;
      for (int i = 0; i < kNodes; ++i) {
        clients.push_back(std::make_unique<HttpClient>(node(i).port()));
        clients.back()->Get("/healthz");
      }
      for (int r = 0; r < kRounds; ++r) {
        HttpClient& client = *clients[static_cast<std::size_t>((r + k) % kNodes)];
        sync.arrive_and_wait();
        responses[static_cast<std::size_t>(k)][static_cast<std::size_t>(r)] =
            client.Post("/api/v1/products/lb-twins/reserve", "{\"quantity\":1}",
                        auth[static_cast<std::size_t>(r)]);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  int granted = 0;
  for (int r = 0; r < kRounds; ++r) {
    const HttpResponse& a = responses[0][static_cast<std::size_t>(r)];
    const HttpResponse& b = responses[1][static_cast<std::size_t>(r)];
    // Stock is plenty: exactly one of the two wins, the other is refused by the limit.
    EXPECT_EQ((a.status == 201) + (b.status == 201), 1)
        << "round " << r << ": " << a.Describe() << " / " << b.Describe();
    const HttpResponse& loser = a.status == 201 ? b : a;
    EXPECT_TRUE(IsError(loser, 409, "LIMIT_EXCEEDED")) << "round " << r;
    granted += (a.status == 201) + (b.status == 201);
  }
  EXPECT_EQ(granted, kRounds);
  EXPECT_EQ(Sql("SELECT count(*) FROM reservations"), std::to_string(kRounds));
  EXPECT_EQ(Sql(kUsersOverLimit), "0");
  EXPECT_EQ(Sql(kCountersEqualRows), "t");
}

// A closed-loop reserve load through the balancer, recording which node answered each 201 and
// the statuses before and after the killed node was marked DOWN.
struct RecordedGrant {
  std::string reservation_id;
  std::string node;
  bool after_down = false;
};

TEST_F(LoadBalancerTest, KillOneNodeMidRaceTheBalancerRoutesAroundItAndItsHoldsExpire) {
  constexpr int kThreads = 6;
  SaleSpec sale;
  sale.sku_id = "lb-kill";
  sale.total_stock = 1'000'000;
  sale.reservation_ttl_seconds = 3;
  CreateSale(sale);
  std::atomic<bool> stop{false};
  std::atomic<bool> down{false};
  std::atomic<std::int64_t> acknowledged{0};
  std::mutex mutex;
  std::vector<RecordedGrant> grants;                 // guarded by mutex
  std::map<int, std::int64_t> statuses_before_down;  // guarded by mutex
  std::map<int, std::int64_t> statuses_after_down;   // guarded by mutex
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(balancer_port());
      for (int n = 0; !stop.load(std::memory_order_acquire); ++n) {
        const bool after_down = down.load(std::memory_order_acquire);
        const HttpResponse response =
            Reserve(client, ReserveRequest().Sku("lb-kill").User("k" + std::to_string(t) + "-" +
                                                                 std::to_string(n)));
        std::lock_guard<std::mutex> lock(mutex);
        ++(after_down ? statuses_after_down : statuses_before_down)[response.status];
        if (response.status != 201) continue;
        const auto body = ParseReservation(response.body);
        EXPECT_TRUE(body.has_value()) << response.body;
        if (!body) continue;
        grants.push_back(
            {body->reservation_id, response.Header(kNodeHeader).value_or("?"), after_down});
        acknowledged.fetch_add(1, std::memory_order_release);
      }
    });
  }
  auto wait_for_acknowledged = [&](std::int64_t count) {
    return Eventually([&] { return acknowledged.load(std::memory_order_acquire); },
                      [&](std::int64_t value) { return value >= count; }, seconds(30)) >= count;
  };
  EXPECT_TRUE(wait_for_acknowledged(300));
  node(1).Kill9();
  // The health checks (every 200 ms, DOWN after 2 failures) take the node out.
  EXPECT_TRUE(balancer_->WaitForStatus("node1", "DOWN", seconds(5)));
  down.store(true, std::memory_order_release);
  // The others carry on.
  EXPECT_TRUE(wait_for_acknowledged(acknowledged.load() + 300));
  stop.store(true, std::memory_order_release);
  for (auto& thread : threads) thread.join();

  std::map<std::string, int> by_node;
  std::string killed_ids = "'{";
  std::string all_ids = "'{";
  for (const RecordedGrant& grant : grants) {
    ++by_node[grant.node];
    if (grant.node == "node1") {
      EXPECT_FALSE(grant.after_down) << "a DOWN node answered " << grant.reservation_id;
      killed_ids += (killed_ids.size() > 2 ? "," : "") + grant.reservation_id;
    }
    all_ids += (all_ids.size() > 2 ? "," : "") + grant.reservation_id;
  }
  killed_ids += "}'::text[]";
  all_ids += "}'::text[]";
  ASSERT_GT(by_node["node1"], 0) << "the killed node granted nothing before it died";
  EXPECT_GT(by_node["node0"], by_node["node1"]);
  EXPECT_GT(by_node["node2"], by_node["node1"]);
  // Every 201 any node gave, the killed one's included, is in the database.
  EXPECT_EQ(Sql("SELECT count(*) FROM reservations WHERE reservation_id = ANY(" + all_ids + ")"),
            std::to_string(grants.size()));
  // Requests in flight on the node when it died are not retried (a POST may have been
  // applied): the balancer answers 502/503, or closes the client's connection when the dead
  // node's connection was a reused keep-alive one (status 0 here, as when a server closes an
  // idle connection). At most one such answer per client connection; once the node is DOWN,
  // every request succeeds.
  std::int64_t failed_before_down = 0;
  for (const auto& [status, count] : statuses_before_down) {
    EXPECT_TRUE(status == 201 || status == 502 || status == 503 || status == 0)
        << count << " x status " << status;
    if (status != 201) failed_before_down += count;
  }
  EXPECT_LE(failed_before_down, kThreads);
  EXPECT_EQ(statuses_after_down.size(), 1u);
  EXPECT_GE(statuses_after_down[201], 300);
  // Its held stock expires through the surviving nodes (TTL 3 s), exactly once each.
  EXPECT_EQ(Eventually([] { return Sql("SELECT held FROM skus"); },
                       [](const std::string& held) { return held == "0"; }, seconds(30)),
            "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM reservations WHERE status = 4 AND reservation_id = ANY(" +
                killed_ids + ")"),
            std::to_string(by_node["node1"]));
  EXPECT_EQ(Sql(kCountersEqualRows), "t");
  EXPECT_EQ(Sql("SELECT count(*) FROM audit_events WHERE event_type = 'EXPIRY'"),
            Sql("SELECT count(*) FROM reservations"));
}

TEST_F(LoadBalancerTest, WholeSagaThroughTheBalancerReachesPaidAndUnpaidHoldsExpire) {
  constexpr int kBuyers = 6;
  SaleSpec sale;
  sale.sku_id = "lb-saga";
  sale.total_stock = 20;
  CreateSale(sale);
  SaleSpec short_sale;
  short_sale.sku_id = "lb-expiry";
  short_sale.total_stock = 5;
  short_sale.reservation_ttl_seconds = 1;
  CreateSale(short_sale);

  HttpClient client(balancer_port());
  // Each step of a buyer goes to the next node in the rotation.
  std::vector<std::pair<std::string, std::string>> orders;  // user, order id
  for (int u = 0; u < kBuyers; ++u) {
    const std::string user = "buyer-" + std::to_string(u);
    const HttpResponse reserved = Reserve(client, ReserveRequest().Sku("lb-saga").User(user));
    ASSERT_EQ(reserved.status, 201) << reserved.Describe();
    const std::string card = u == 0 ? "pm_card_chargeDeclined" : "pm_card_visa";
    const std::string body = "{\"reservation_id\":" + JsonQuote(Field(reserved, "reservation_id")) +
                             ",\"payment_method_id\":" + JsonQuote(card) + "}";
    HttpHeaders headers = UserAuth(user);
    headers.push_back({"Idempotency-Key", "checkout-" + user});
    const HttpResponse checkout = client.Post("/api/v1/checkout", body, headers);
    ASSERT_EQ(checkout.status, 202) << checkout.Describe();
    // The retry of the same checkout (another node) answers the same order.
    const HttpResponse again = client.Post("/api/v1/checkout", body, headers);
    EXPECT_EQ(Field(again, "order_id"), Field(checkout, "order_id")) << again.Describe();
    orders.emplace_back(user, Field(checkout, "order_id"));
  }
  const HttpResponse unpaid = Reserve(client, ReserveRequest().Sku("lb-expiry").User("idle"));
  ASSERT_EQ(unpaid.status, 201) << unpaid.Describe();

  for (std::size_t u = 0; u < orders.size(); ++u) {
    const std::string& user = orders[u].first;
    const std::string& order_id = orders[u].second;
    const std::string expected = u == 0 ? "FAILED" : "PAID";
    const HttpResponse order = Eventually(
        [&] { return client.Get("/api/v1/orders/" + order_id, UserAuth(user)); },
        [&](const HttpResponse& value) { return Field(value, "status") == expected; }, seconds(20));
    EXPECT_EQ(Field(order, "status"), expected) << order.Describe();
  }
  // The unpaid hold expires (TTL 1 s) and its unit is available again on every node.
  const std::string unpaid_id = Field(unpaid, "reservation_id");
  const HttpResponse reservation =
      Eventually([&] { return GetReservation(client, unpaid_id, "idle"); },
                 [](const HttpResponse& value) { return ReservationStatusOf(value) == "EXPIRED"; },
                 seconds(20));
  EXPECT_EQ(ReservationStatusOf(reservation), "EXPIRED") << reservation.Describe();
  for (int read = 0; read < kNodes; ++read) {
    EXPECT_EQ(Eventually([&] { return AvailableUnits(client, "lb-expiry"); },
                         [](std::int64_t available) { return available == 5; }, seconds(5)),
              5);
  }
  // The database: one paid order per good card, the declined buyer's unit not sold.
  EXPECT_EQ(Sql("SELECT sold FROM skus WHERE sku_id = 'lb-saga'"), std::to_string(kBuyers - 1));
  EXPECT_EQ(Sql("SELECT count(*) FROM orders WHERE status = 2"), std::to_string(kBuyers - 1));
  EXPECT_EQ(Sql("SELECT count(*) FROM orders"), std::to_string(kBuyers));
  EXPECT_EQ(Sql(kCountersEqualRows), "t");
}

}  // namespace
}  // namespace fs::itest
