// Goal: --redis against a real redis-server, black-box through
// HTTP. Two flashsale processes sharing one Redis share one user's limit (the user gets the
// burst once in total, not once per node); when Redis stops mid-run the nodes keep serving
// with local buckets (same 429 shape), /readyz says degraded and the metrics show the
// fallback, and once Redis is back the shared buckets are used again; the availability cache
// (--redis-cache on) is deleted on every reserve, so a read after a 201 shows the new count;
// an Idempotency-Key replays with Redis down and after Redis lost its data; requests admitted
// asynchronously keep their path, headers and body, and a bad token costs no bucket.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_server.h"
#include "support/server_test.h"

namespace fs::itest {
namespace {

// Bursts as in ratelimit_test.cc: a refill of one request per minute keeps counts exact.
constexpr char kTestTiers[] = "bot=1:2,new=1:10,normal=1:20,premium=1:40";
constexpr int kNormalBurst = 20;

ServerOptions RedisNode(const RedisServer& redis, std::vector<std::string> more = {}) {
  ServerOptions options;
  options.extra_args = {"--redis",  redis.url(),         "--rate-limit", "on", "--rate-limit-tiers",
                        kTestTiers, "--trusted-proxies", "127.0.0.1/32"};
  for (std::string& arg : more) options.extra_args.push_back(std::move(arg));
  return options;
}

HttpResponse ReserveFrom(HttpClient& http, const std::string& sku, const std::string& user,
                         const std::string& client_ip, const std::string& key = "") {
  HttpHeaders headers = {{"Authorization", "Bearer " + MintToken(user)},
                         {"User-Agent", "redis-itest/" + user},
                         {"X-Forwarded-For", client_ip}};
  if (!key.empty()) headers.push_back({"Idempotency-Key", key});
  return http.Post("/api/v1/products/" + sku + "/reserve", R"({"quantity":1})", std::move(headers));
}

// The value of an unlabelled or fully labelled sample, or -1.
double Metric(std::uint16_t port, const std::string& sample) {
  HttpClient http(port);
  const HttpResponse page = http.Get("/metrics");
  for (const std::string& line : MetricSamples(page.body, sample.substr(0, sample.find('{')))) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

struct Tally {
  int created = 0;
  int throttled = 0;
  int other = 0;
};

// `count` reserves as `user` from `client_ip` against `port`, counting the answers.
Tally Fire(std::uint16_t port, const std::string& sku, const std::string& user,
           const std::string& client_ip, int count) {
  HttpClient http(port);
  Tally tally;
  for (int i = 0; i < count; ++i) {
    const HttpResponse response = ReserveFrom(http, sku, user, client_ip);
    if (response.status == 201) {
      ++tally.created;
    } else if (response.status == 429) {
      ++tally.throttled;
      const bool shaped = IsError(response, 429, "RATE_LIMITED") &&
                          response.Header("Retry-After") && response.Header("RateLimit-Limit") &&
                          response.Header("RateLimit-Remaining") &&
                          response.Header("RateLimit-Reset");
      if (!shaped) ++tally.other;
    } else {
      ++tally.other;
    }
  }
  return tally;
}

class RedisClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.Start()); }
  RedisServer redis_;
};

TEST_F(RedisClusterTest, TwoNodesShareOneUsersLimit) {
  ServerProcess node_a(RedisNode(redis_));
  ServerProcess node_b(RedisNode(redis_));
  ASSERT_TRUE(node_a.Start());
  ASSERT_TRUE(node_b.Start());
  ASSERT_TRUE(AwaitRedisState(node_a.port(), "up"));
  ASSERT_TRUE(AwaitRedisState(node_b.port(), "up"));
  // Each node has its own embedded store; the same sale exists on both.
  for (ServerProcess* node : {&node_a, &node_b}) {
    HttpClient admin(node->port());
    ASSERT_TRUE(CreateSaleOk(admin, BigSale("shared")));
  }
  // One user fires at both nodes at once, a full burst at each.
  Tally at_a;
  Tally at_b;
  std::thread fire_a(
      [&] { at_a = Fire(node_a.port(), "shared", "alice", "198.51.100.7", kNormalBurst); });
  std::thread fire_b(
      [&] { at_b = Fire(node_b.port(), "shared", "alice", "198.51.100.7", kNormalBurst); });
  fire_a.join();
  fire_b.join();
  EXPECT_EQ(at_a.created + at_b.created, kNormalBurst) << "the limit must hold across nodes";
  EXPECT_EQ(at_a.throttled + at_b.throttled, kNormalBurst);
  EXPECT_EQ(at_a.other + at_b.other, 0);
  EXPECT_EQ(Metric(node_a.port(), "flashsale_ratelimit_fallback_total"), 0);
  EXPECT_EQ(Metric(node_b.port(), "flashsale_ratelimit_fallback_total"), 0);
  EXPECT_EQ(Metric(node_a.port(), "flashsale_redis_up"), 1);
  const double throttled =
      Metric(node_a.port(), "flashsale_throttled_total{reason=\"user_limit\",tier=\"normal\"}") +
      Metric(node_b.port(), "flashsale_throttled_total{reason=\"user_limit\",tier=\"normal\"}");
  EXPECT_EQ(throttled, kNormalBurst);
}

TEST_F(RedisClusterTest, RedisOutageFallsBackToLocalBucketsAndRecovers) {
  ServerProcess node(RedisNode(redis_));
  ASSERT_TRUE(node.Start());
  ASSERT_TRUE(AwaitRedisState(node.port(), "up"));
  HttpClient http(node.port());
  ASSERT_TRUE(CreateSaleOk(http, BigSale("outage")));
  const Tally before = Fire(node.port(), "outage", "before", "198.51.100.10", kNormalBurst + 5);
  EXPECT_EQ(before.created, kNormalBurst);
  EXPECT_EQ(before.other, 0);
  EXPECT_EQ(redis_.Command({"EXISTS", "fs:rl:b:u:before"}), ":1");

  // A client keeps firing while Redis goes away: every answer is a 201 or a proper 429.
  std::atomic<bool> keep_firing{true};
  Tally across_the_stop;
  std::thread steady([&] {
    while (keep_firing.load()) {
      const Tally one = Fire(node.port(), "outage", "steady", "198.51.100.13", 1);
      across_the_stop.created += one.created;
      across_the_stop.throttled += one.throttled;
      across_the_stop.other += one.other;
    }
  });
  ASSERT_TRUE(redis_.Stop());
  ASSERT_TRUE(AwaitRedisState(node.port(), "down"));
  keep_firing.store(false);
  steady.join();
  EXPECT_EQ(across_the_stop.other, 0);
  EXPECT_GT(across_the_stop.created + across_the_stop.throttled, 0);
  EXPECT_NE(http.Get("/readyz").body.find("degraded"), std::string::npos);
  EXPECT_EQ(Metric(node.port(), "flashsale_redis_up"), 0);
  // Served and limited by the node's own buckets, with the same 429s.
  const Tally during = Fire(node.port(), "outage", "during", "198.51.100.11", kNormalBurst + 5);
  EXPECT_EQ(during.created, kNormalBurst);
  EXPECT_EQ(during.throttled, 5);
  EXPECT_EQ(during.other, 0);
  EXPECT_GE(Metric(node.port(), "flashsale_ratelimit_fallback_total"), kNormalBurst + 5);
  const std::string log = node.StderrLog();
  EXPECT_NE(log.find("down ("), std::string::npos) << "the outage is logged";

  ASSERT_TRUE(redis_.Start());  // empty, same port
  ASSERT_TRUE(AwaitRedisState(node.port(), "up"));
  const double fallbacks = Metric(node.port(), "flashsale_ratelimit_fallback_total");
  const Tally after = Fire(node.port(), "outage", "after", "198.51.100.12", kNormalBurst + 5);
  EXPECT_EQ(after.created, kNormalBurst);
  EXPECT_EQ(after.other, 0);
  EXPECT_EQ(redis_.Command({"EXISTS", "fs:rl:b:u:after"}), ":1") << "shared buckets used again";
  EXPECT_EQ(Metric(node.port(), "flashsale_ratelimit_fallback_total"), fallbacks);
  EXPECT_GE(Metric(node.port(), "flashsale_redis_reconnects_total"), 1);
  // One line per transition, not one per request.
  std::size_t down_lines = 0;
  for (std::size_t at = log.find("down ("); at != std::string::npos;
       at = log.find("down (", at + 1)) {
    ++down_lines;
  }
  EXPECT_EQ(down_lines, 1U);
}

TEST_F(RedisClusterTest, AvailabilityCacheIsDeletedOnEveryReserve) {
  ServerProcess node(RedisNode(redis_, {"--redis-cache", "on"}));
  ASSERT_TRUE(node.Start());
  ASSERT_TRUE(AwaitRedisState(node.port(), "up"));
  HttpClient http(node.port());
  SaleSpec sale = BigSale("cached");
  sale.total_stock = 50;
  ASSERT_TRUE(CreateSaleOk(http, sale));
  ASSERT_EQ(AvailableUnits(http, "cached"), 50);
  ASSERT_EQ(AvailableUnits(http, "cached"), 50);
  EXPECT_GE(Metric(node.port(), "flashsale_availability_cache_total{result=\"hit\"}"), 1);
  EXPECT_EQ(redis_.Command({"EXISTS", "fs:avail:cached"}), ":1");
  for (int i = 1; i <= 10; ++i) {
    const HttpResponse reserved =
        ReserveFrom(http, "cached", "buyer-" + std::to_string(i), "198.51.100.8");
    ASSERT_EQ(reserved.status, 201) << reserved.body;
    EXPECT_EQ(AvailableUnits(http, "cached"), 50 - i) << "a read after a 201 shows the new count";
    EXPECT_EQ(AvailableUnits(http, "cached"), 50 - i);
  }
  EXPECT_GE(
      Metric(node.port(), "flashsale_availability_cache_invalidations_total{result=\"sent\"}"), 10);
  // Redis down: the node's own state answers, still current.
  ASSERT_TRUE(redis_.Stop());
  ASSERT_TRUE(AwaitRedisState(node.port(), "down"));
  ASSERT_EQ(ReserveFrom(http, "cached", "buyer-down", "198.51.100.8").status, 201);
  EXPECT_EQ(AvailableUnits(http, "cached"), 39);
}

TEST_F(RedisClusterTest, IdempotencyHoldsWithRedisDownAndAfterRedisLostItsData) {
  ServerProcess node(RedisNode(redis_, {"--redis-cache", "on"}));
  ASSERT_TRUE(node.Start());
  ASSERT_TRUE(AwaitRedisState(node.port(), "up"));
  HttpClient http(node.port());
  ASSERT_TRUE(CreateSaleOk(http, BigSale("idem")));

  const HttpResponse first = ReserveFrom(http, "idem", "carol", "198.51.100.9", "key-1");
  ASSERT_EQ(first.status, 201);
  const HttpResponse again = ReserveFrom(http, "idem", "carol", "198.51.100.9", "key-1");
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("Idempotent-Replayed"), "true");
  EXPECT_EQ(Metric(node.port(), "flashsale_idempotency_fast_path_total{result=\"seen\"}"), 1);

  // Redis lost its data: the fast path says "first seen", the writer still replays.
  ASSERT_EQ(redis_.Command({"FLUSHALL"}), "+OK");
  const HttpResponse after_flush = ReserveFrom(http, "idem", "carol", "198.51.100.9", "key-1");
  EXPECT_EQ(after_flush.status, 201);
  EXPECT_EQ(after_flush.body, first.body);

  // Redis down: the key still replays, and a new key still reserves once.
  ASSERT_TRUE(redis_.Stop());
  ASSERT_TRUE(AwaitRedisState(node.port(), "down"));
  const HttpResponse while_down = ReserveFrom(http, "idem", "carol", "198.51.100.9", "key-1");
  EXPECT_EQ(while_down.status, 201);
  EXPECT_EQ(while_down.body, first.body);
  const HttpResponse new_key = ReserveFrom(http, "idem", "carol", "198.51.100.9", "key-2");
  ASSERT_EQ(new_key.status, 201);
  const HttpResponse new_key_again = ReserveFrom(http, "idem", "carol", "198.51.100.9", "key-2");
  EXPECT_EQ(new_key_again.body, new_key.body);
  EXPECT_GE(Metric(node.port(), "flashsale_idempotency_fast_path_total{result=\"unknown\"}"), 2);
  ASSERT_TRUE(node.Stop());
  auto db = Database::OpenReadOnly(node.database_path());
  ASSERT_TRUE(db);
  auto sku = (*db)->ReadSku("idem");
  ASSERT_TRUE(sku);
  EXPECT_EQ(sku->rows.size(), 2U) << "two keys, two reservations";
}

TEST_F(RedisClusterTest, AdmittedRequestsKeepTheirPathHeadersAndBody) {
  // The shared check completes after the handler returned: the request is copied and
  // dispatched again. Every route behind the limiter must see the same request.
  ServerProcess node(RedisNode(redis_));
  ASSERT_TRUE(node.Start());
  ASSERT_TRUE(AwaitRedisState(node.port(), "up"));
  HttpClient http(node.port());
  ASSERT_TRUE(CreateSaleOk(http, BigSale("admit")));
  const HttpResponse reserved = Reserve(http, ReserveRequest()
                                                  .Sku("admit")
                                                  .User("dave")
                                                  .Key("body-key", KeyPlacement::kBody)
                                                  .Via(ReserveRoute::kBody));
  ASSERT_EQ(reserved.status, 201) << reserved.body;
  const auto reservation = ParseReservation(reserved.body);
  ASSERT_TRUE(reservation);
  const HttpResponse replayed = Reserve(http, ReserveRequest()
                                                  .Sku("admit")
                                                  .User("dave")
                                                  .Key("body-key", KeyPlacement::kHeader)
                                                  .Via(ReserveRoute::kProduct));
  EXPECT_EQ(replayed.body, reserved.body) << "key from the body, then from the header";
  const HttpResponse fetched = GetReservation(http, reservation->reservation_id, "dave");
  EXPECT_EQ(fetched.status, 200);
  EXPECT_EQ(ReservationStatusOf(fetched), "RESERVED");
  EXPECT_EQ(GetReservation(http, reservation->reservation_id, "erin").status, 404);
  const HttpResponse released = ReleaseReservation(http, reservation->reservation_id, "dave");
  EXPECT_EQ(released.status, 200);
  EXPECT_EQ(ReservationStatusOf(released), "RELEASED");
  EXPECT_EQ(redis_.Command({"EXISTS", "fs:rl:b:u:dave"}), ":1");
  // A bad token is answered 401 before any bucket is touched.
  const HttpResponse forged =
      http.Post("/api/v1/products/admit/reserve", R"({"quantity":1})",
                {{"Authorization", "Bearer " + CraftToken(R"({"alg":"HS256","typ":"JWT"})",
                                                          R"({"sub":"mallory","exp":4102444800})",
                                                          "wrong-secret")}});
  EXPECT_TRUE(IsError(forged, 401, "UNAUTHENTICATED"));
  EXPECT_TRUE(IsError(http.Post("/api/v1/products/admit/reserve", R"({"quantity":1})"), 401,
                      "UNAUTHENTICATED"));
  EXPECT_EQ(redis_.Command({"EXISTS", "fs:rl:b:u:mallory"}), ":0");
}

}  // namespace
}  // namespace fs::itest
