// Goal: throttled reserve attempts and bot detections are in the audit trail, through HTTP
// against the real binary with --rate-limit on. A flood from one user gets 429s and each 429
// is a THROTTLED reserve attempt (failure_reason RATE_LIMITED, the limiter's reason and tier in
// the metadata, the user, SKU, client IP and device fingerprint) in a chain that still
// verifies; a device driving many accounts leaves a BOT_DETECTED event; and a flood larger
// than --audit-throttled-per-second is written partly as per-identity counts whose sum equals
// the number of 429s answered, with the aggregation counted in /metrics.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "support/server_test.h"

namespace fs::itest {
namespace {

// Refill of one request per minute (as in ratelimit_test.cc): no test lives long enough to see
// a refill, so the number of 429s depends only on the requests sent.
constexpr char kTestTiers[] = "bot=1:2,new=1:10,normal=1:20,premium=1:40";

ServerOptions RateLimited(std::vector<std::string> more_flags = {}) {
  ServerOptions options;
  options.extra_args = {"--rate-limit",       "on",      "--trusted-proxies", "127.0.0.1/32,::1",
                        "--rate-limit-tiers", kTestTiers};
  for (auto& flag : more_flags) options.extra_args.push_back(std::move(flag));
  return options;
}

// Room for every flood: stock and per-user limit far above what a test reserves.
const SaleSpec kFloodSale{.sku_id = "flood",
                          .total_stock = 10'000,
                          .per_user_limit = 1'000,
                          .starts_at = std::nullopt,
                          .ends_at = std::nullopt};

class AuditThrottleTest : public ServerTest {
 protected:
  explicit AuditThrottleTest(ServerOptions options = RateLimited())
      : ServerTest(std::move(options)) {}

  HttpResponse ReserveAs(const std::string& sku, const std::string& user, const std::string& ip,
                         const std::string& device = "phone-1") {
    HttpHeaders headers = UserAuth(user);
    headers.push_back({"User-Agent", "itest-agent/1.0"});
    headers.push_back({"X-Forwarded-For", ip});
    headers.push_back({"X-Device-Id", device});
    return client().Post("/api/v1/products/" + sku + "/reserve", R"({"quantity":1})", headers);
  }

  // Sends `count` reserves as `user`; returns how many were answered 429 (the rest must be 201).
  int Flood(const std::string& sku, const std::string& user, const std::string& ip, int count) {
    int throttled = 0;
    for (int i = 0; i < count; ++i) {
      const HttpResponse response = ReserveAs(sku, user, ip);
      if (response.status == 429) {
        EXPECT_TRUE(IsError(response, 429, "RATE_LIMITED"));
        throttled_request_ids_.insert(response.Header("X-Request-Id").value_or(""));
        ++throttled;
      } else {
        EXPECT_EQ(response.status, 201) << response.Describe();
      }
    }
    return throttled;
  }

  // A reserve by a client nobody throttles: its answer comes after its batch's commit, and
  // that batch wrote the throttled events offered before it (no waiting on the clock).
  void WriteThroughABatch() {
    ASSERT_EQ(ReserveAs("flood", "bystander", "198.51.100.200", "laptop-9").status, 201);
  }

  // The X-Request-Id of every 429 Flood() was answered.
  std::set<std::string> throttled_request_ids_;

  void ExpectChainValid() {
    const HttpResponse response = client().Get("/admin/v1/audit/verify", AdminAuth());
    ASSERT_EQ(response.status, 200) << response.Describe();
    auto body = ParseJson(response.body);
    ASSERT_TRUE(body);
    EXPECT_TRUE((*body)["valid"].GetBool()) << response.body;
  }
};

bool IsThrottledAttempt(const rapidjson::Document& event) {
  return StringField(event, "event_type") == "RESERVE_ATTEMPT" &&
         StringField(event, "outcome") == "THROTTLED";
}

// The attempts an event stands for: its metadata "count", or 1.
std::int64_t AttemptsOf(const rapidjson::Document& event) {
  auto metadata = ParseJson(*StringField(event, "metadata"));
  if (!metadata) return -1000'000;  // not JSON: fails any sum
  return IntField(*metadata, "count").value_or(1);
}

TEST_F(AuditThrottleTest, EveryThrottledReserveIsAnAuditEventWithItsReason) {
  ASSERT_TRUE(CreateSaleOk(client(), kFloodSale));
  const int throttled = Flood("flood", "flooder", "203.0.113.66", 30);
  ASSERT_EQ(throttled, 10);  // the burst of 20 passes
  WriteThroughABatch();

  const auto events = AuditEvents(client(), "user_id=flooder");
  int successes = 0;
  int throttled_events = 0;
  for (const auto& event : events) {
    if (StringField(event, "outcome") == "SUCCESS") {
      ++successes;
      continue;
    }
    ASSERT_TRUE(IsThrottledAttempt(event)) << *StringField(event, "event_type");
    ++throttled_events;
    EXPECT_EQ(StringField(event, "failure_reason"), "RATE_LIMITED");
    EXPECT_EQ(StringField(event, "sku_id"), "flood");
    EXPECT_EQ(StringField(event, "client_ip"), "203.0.113.66");
    EXPECT_EQ(StringField(event, "device_fingerprint")->size(), 64u);
    auto metadata = ParseJson(*StringField(event, "metadata"));
    ASSERT_TRUE(metadata);
    EXPECT_EQ(StringField(*metadata, "reason"), "user_limit");
    EXPECT_EQ(StringField(*metadata, "tier"), "normal");
    EXPECT_FALSE(IntField(*metadata, "count").has_value());  // one event per attempt
    // The attempt's request id, as its 429 answer named it.
    EXPECT_EQ(throttled_request_ids_.count(StringField(*metadata, "request_id").value_or("")), 1u)
        << *StringField(event, "metadata");
  }
  EXPECT_EQ(successes, 20);
  EXPECT_EQ(throttled_events, throttled);
  ExpectChainValid();
}

TEST_F(AuditThrottleTest, ADeviceDrivingManyAccountsLeavesABotDetectedEvent) {
  ASSERT_TRUE(CreateSaleOk(client(), kFloodSale));
  // One device, six accounts within the window (the default threshold is 5).
  for (int i = 0; i < 6; ++i) {
    const int status =
        ReserveAs("flood", "acct-" + std::to_string(i), "203.0.113.77", "farm-1").status;
    EXPECT_TRUE(status == 201 || status == 429) << status;  // the 6th is judged as a bot
  }
  WriteThroughABatch();
  const auto events = AuditEvents(client(), "user_id=acct-5");
  bool detected = false;
  for (const auto& event : events) {
    if (StringField(event, "event_type") != "BOT_DETECTED") continue;
    detected = true;
    EXPECT_EQ(StringField(event, "client_ip"), "203.0.113.77");
    auto metadata = ParseJson(*StringField(event, "metadata"));
    ASSERT_TRUE(metadata);
    EXPECT_EQ(StringField(*metadata, "reason"), "bot_fingerprint_users");
    EXPECT_EQ(StringField(*metadata, "tier"), "bot");
  }
  EXPECT_TRUE(detected);
  ExpectChainValid();
}

class AuditThrottleBoundTest : public AuditThrottleTest {
 protected:
  AuditThrottleBoundTest()
      : AuditThrottleTest(RateLimited({"--audit-throttled-per-second", "5"})) {}
};

TEST_F(AuditThrottleBoundTest, AFloodBeyondTheBoundIsCountedExactly) {
  ASSERT_TRUE(CreateSaleOk(client(), kFloodSale));
  const int throttled = Flood("flood", "flooder", "203.0.113.66", 200);
  ASSERT_GE(throttled, 180);
  const HttpResponse metrics = client().Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  const auto aggregated = MetricSamples(metrics.body, "flashsale_audit_fairness_aggregated_total");
  ASSERT_EQ(aggregated.size(), 1u);
  EXPECT_NE(aggregated[0], "flashsale_audit_fairness_aggregated_total 0");

  // A graceful stop writes the aggregates that are not due yet.
  ASSERT_TRUE(server_.Restart());
  Reconnect();
  std::int64_t attempts = 0;
  int aggregate_events = 0;
  for (const auto& event : AuditEvents(client(), "user_id=flooder")) {
    if (!IsThrottledAttempt(event)) continue;
    const std::int64_t count = AttemptsOf(event);
    if (count > 1) ++aggregate_events;
    attempts += count;
  }
  EXPECT_EQ(attempts, throttled);
  EXPECT_GE(aggregate_events, 1);
  ExpectChainValid();
}

}  // namespace
}  // namespace fs::itest
