// Goal: releasing a new build and restarting nodes under load fail no request and lose no
// acknowledgement. Real nodes on one PostgreSQL database behind a real HAProxy (health checks
// on GET /readyz every 200 ms, DOWN after 2 failures), a steady reservation load with
// idempotency keys through the balancer (some grants released at once):
//   - blue-green: two "blue" nodes serve; two "green" nodes start (their port answers /readyz
//     503 "starting" until they recovered), the balancer moves to them (the Service selector
//     switch), the blue nodes get SIGTERM and exit 0;
//   - rolling restart: each node in turn gets SIGTERM (/readyz 503 at once, still serving for
//     --shutdown-delay-seconds, so the balancer takes it out first), exits 0, starts again on
//     the same port and is back in the balancer.
// Either way: no transport error and no 5xx seen by the load, every 201 is in the database,
// the counters equal the rows, no user is over the limit, and a replay of every
// acknowledged idempotency key returns the first answer. A node that starts before its
// database answers: the port is bound at once, /healthz 200, /readyz 503 "starting", writes
// 503, and it serves once PostgreSQL is back.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pg_environment.h"
#include "support/flashsale_api.h"
#include "support/free_port.h"
#include "support/haproxy_server.h"
#include "support/http_client.h"
#include "support/reserve_load.h"
#include "support/server_process.h"

namespace fs::itest {
namespace {

using std::chrono::seconds;

constexpr char kSku[] = "drill";
constexpr int kLoadThreads = 8;

class DeployDrillTest : public ::testing::Test {
 protected:
  void SetUp() override { url_ = FreshDatabaseUrl(); }

  // A node on a fixed port (a balancer's backend address does not change across restarts),
  // with a short delay between /readyz 503 and the listener closing: several health checks.
  std::unique_ptr<ServerProcess> StartNode(std::uint16_t port) {
    ServerOptions options;
    options.extra_args = {"--store",
                          url_,
                          "--listen",
                          "127.0.0.1:" + std::to_string(port),
                          "--threads",
                          "2",
                          "--idle-timeout-seconds",
                          "150",
                          "--trusted-proxies",
                          "127.0.0.1/32",
                          "--shutdown-delay-seconds",
                          "2"};
    auto node = std::make_unique<ServerProcess>(options);
    EXPECT_TRUE(node->Start()) << "node on port " << port;
    return node;
  }

  void StartBalancer(const std::vector<std::uint16_t>& ports, HaproxyOptions options = {}) {
    std::string error;
    balancer_ = HaproxyServer::Create(ports, error, std::move(options));
    ASSERT_NE(balancer_, nullptr) << error;
  }

  void CreateSale() {
    HttpClient client(balancer_->port());
    SaleSpec sale;
    sale.sku_id = kSku;
    sale.total_stock = 1'000'000;
    ASSERT_TRUE(CreateSaleOk(client, sale));
  }

  std::unique_ptr<ReserveLoad> StartLoad() {
    LoadOptions options;
    options.sku_id = kSku;
    options.user_prefix = "drill";
    options.thread_count = kLoadThreads;
    options.release_every = 7;
    options.idempotency_keys = true;
    return std::make_unique<ReserveLoad>(balancer_->port(), options);
  }

  // Waits for `more` acknowledgements beyond the count now.
  static bool AcknowledgeMore(const ReserveLoad& load, std::int64_t more) {
    return load.WaitForAcknowledged(load.acknowledged_count() + more, seconds(60));
  }

  // What every drill must show once the load stopped.
  void ExpectNothingFailedAndNothingLost(const LoadResult& result) {
    EXPECT_TRUE(result.problems.empty()) << result.problems.front();
    ASSERT_FALSE(result.acknowledged.empty());
    for (const auto& [status, count] : result.status_counts) {
      // 201 reserved, 200 released; 0 would be a transport error, 5xx a failed request.
      EXPECT_TRUE(status == 201 || status == 200) << count << " x status " << status;
    }
    std::string ids = "'{";
    for (const Acknowledged& ack : result.acknowledged) {
      ids += (ids.size() > 2 ? "," : "") + ack.reservation_id;
    }
    ids += "}'::text[]";
    EXPECT_EQ(QueryCurrentDatabase("SELECT count(*) FROM reservations WHERE reservation_id = ANY(" +
                                   ids + ")"),
              std::to_string(result.acknowledged.size()));
    EXPECT_EQ(QueryCurrentDatabase(kCountersEqualRows), "t");
    EXPECT_EQ(QueryCurrentDatabase(kUsersOverLimit), "0");
    // A client that lost an answer retries with its key and gets the first answer, whichever
    // node (of the new colour) it reaches.
    HttpClient client(balancer_->port());
    std::size_t replays = 0;
    for (std::size_t i = 0; i < result.acknowledged.size(); i += 5, ++replays) {
      const Acknowledged& ack = result.acknowledged[i];
      const HttpResponse replay =
          Reserve(client, ReserveRequest()
                              .Sku(kSku)
                              .User(ack.user_id)
                              .Quantity(static_cast<std::int32_t>(ack.quantity))
                              .Key(IdempotencyKeyOf(ack.user_id)));
      ASSERT_EQ(replay.status, 201) << replay.Describe();
      const auto body = ParseReservation(replay.body);
      ASSERT_TRUE(body.has_value()) << replay.body;
      EXPECT_EQ(body->reservation_id, ack.reservation_id);
    }
    EXPECT_GT(replays, 0u);
    for (const auto& [name, stat] : balancer_->ServerStats()) {
      EXPECT_EQ(stat.responses_5xx, 0) << name;
    }
  }

  std::string url_;
  std::unique_ptr<HaproxyServer> balancer_;
};

TEST_F(DeployDrillTest, BlueGreenReleaseUnderLoadFailsNoRequestAndLosesNoAcknowledgement) {
  const std::vector<std::uint16_t> ports = {FreePort(), FreePort(), FreePort(), FreePort()};
  std::unique_ptr<ServerProcess> blue[] = {StartNode(ports[0]), StartNode(ports[1])};
  HaproxyOptions options;
  options.disabled_servers = {2, 3};  // green: no traffic until the switch
  StartBalancer(ports, options);
  ASSERT_TRUE(balancer_->WaitForStatus("node0", "UP", seconds(10)));
  ASSERT_TRUE(balancer_->WaitForStatus("node1", "UP", seconds(10)));
  CreateSale();
  auto load = StartLoad();
  ASSERT_TRUE(AcknowledgeMore(*load, 200));

  // The new build starts beside the old one; it takes no traffic yet.
  std::unique_ptr<ServerProcess> green[] = {StartNode(ports[2]), StartNode(ports[3])};
  ASSERT_TRUE(AcknowledgeMore(*load, 100));
  // The switch: green in, blue out (new requests only; nothing in flight is cut).
  EXPECT_EQ(balancer_->Command("enable server nodes/node2"), "\n");
  EXPECT_EQ(balancer_->Command("enable server nodes/node3"), "\n");
  ASSERT_TRUE(balancer_->WaitForStatus("node2", "UP", seconds(10)));
  ASSERT_TRUE(balancer_->WaitForStatus("node3", "UP", seconds(10)));
  EXPECT_EQ(balancer_->Command("disable server nodes/node0"), "\n");
  EXPECT_EQ(balancer_->Command("disable server nodes/node1"), "\n");
  const auto blue_2xx = [this] {
    auto stats = balancer_->ServerStats();
    return stats["node0"].responses_2xx + stats["node1"].responses_2xx;
  };
  const std::int64_t blue_answers_at_switch = blue_2xx();
  // The old build goes: SIGTERM, a graceful exit.
  for (auto& node : blue) EXPECT_TRUE(node->Stop());
  ASSERT_TRUE(AcknowledgeMore(*load, 300));
  load->RequestStop();
  const LoadResult result = load->Join();

  auto stats = balancer_->ServerStats();
  EXPECT_GT(blue_answers_at_switch, 0);
  // Only what was in flight at the switch (one request per load thread at most) finished on
  // blue afterwards.
  EXPECT_LE(blue_2xx() - blue_answers_at_switch, kLoadThreads);
  EXPECT_GT(stats["node2"].responses_2xx, 0);
  EXPECT_GT(stats["node3"].responses_2xx, 0);
  ExpectNothingFailedAndNothingLost(result);
  for (auto& node : green) EXPECT_TRUE(node->Stop());
}

TEST_F(DeployDrillTest, RollingRestartUnderLoadFailsNoRequestAndLosesNoAcknowledgement) {
  const std::vector<std::uint16_t> ports = {FreePort(), FreePort()};
  std::unique_ptr<ServerProcess> nodes[] = {StartNode(ports[0]), StartNode(ports[1])};
  StartBalancer(ports);
  ASSERT_TRUE(balancer_->WaitForAllUp(seconds(10)));
  CreateSale();
  auto load = StartLoad();
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string name = "node" + std::to_string(i);
    ASSERT_TRUE(AcknowledgeMore(*load, 200));
    // SIGTERM: out of the balancer while still serving, then a graceful exit.
    EXPECT_TRUE(nodes[i]->Stop()) << name;
    EXPECT_EQ(balancer_->ServerStats()[name].status, "DOWN");
    const std::int64_t answers_before_restart = balancer_->ServerStats()[name].responses_2xx;
    // The same build again on the same port: in the balancer once it recovered.
    ASSERT_TRUE(nodes[i]->Start()) << name;
    ASSERT_TRUE(balancer_->WaitForStatus(name, "UP", seconds(10)));
    ASSERT_TRUE(AcknowledgeMore(*load, 200));
    EXPECT_GT(balancer_->ServerStats()[name].responses_2xx, answers_before_restart)
        << name << " took no traffic after its restart";
  }
  load->RequestStop();
  const LoadResult result = load->Join();
  ExpectNothingFailedAndNothingLost(result);
  for (auto& node : nodes) EXPECT_TRUE(node->Stop());
}

TEST_F(DeployDrillTest, NodeStartingBeforeItsDatabaseAnswersStartingThenServes) {
  const std::uint16_t port = FreePort();
  ASSERT_TRUE(TestPostgres().Stop());
  // The probes a supervisor makes while the node waits for PostgreSQL (from another thread:
  // Start() below returns only once the node serves).
  HttpResponse healthz;
  HttpResponse readyz;
  HttpResponse reserve;
  bool database_started = false;
  std::thread prober([&] {
    HttpClient client(port);
    const auto deadline = std::chrono::steady_clock::now() + seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      readyz = client.Get("/readyz");
      if (readyz.status == 503) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    healthz = client.Get("/healthz");
    reserve = Reserve(client, ReserveRequest().Sku(kSku).User("early"));
    database_started = static_cast<bool>(TestPostgres().Start());
  });
  ServerOptions options;
  options.extra_args = {
      "--store", url_, "--listen", "127.0.0.1:" + std::to_string(port), "--store-wait-seconds",
      "60"};
  options.ready_timeout = std::chrono::milliseconds(60'000);
  ServerProcess node(options);
  const auto started = node.Start();
  prober.join();
  ASSERT_TRUE(database_started);
  ASSERT_TRUE(started);
  EXPECT_EQ(healthz.status, 200) << healthz.Describe();
  EXPECT_EQ(readyz.status, 503) << readyz.Describe();
  EXPECT_NE(readyz.body.find(R"("status":"starting")"), std::string::npos) << readyz.body;
  EXPECT_EQ(readyz.Header("Retry-After").value_or(""), "1");
  EXPECT_EQ(reserve.status, 503) << reserve.Describe();
  EXPECT_NE(reserve.body.find(R"("code":"UNAVAILABLE")"), std::string::npos) << reserve.body;
  // Recovered: ready, and it serves.
  HttpClient client(node.port());
  EXPECT_EQ(client.Get("/readyz").status, 200);
  SaleSpec sale;
  sale.sku_id = kSku;
  ASSERT_TRUE(CreateSaleOk(client, sale));
  EXPECT_EQ(Reserve(client, ReserveRequest().Sku(kSku).User("early")).status, 201);
  EXPECT_TRUE(node.Stop());
}

}  // namespace
}  // namespace fs::itest
