// Goal: the fairness layer through HTTP against the real binary. With
// --rate-limit on, a flood from one client (one user, one IP, one device) gets 429
// RATE_LIMITED with Retry-After and RateLimit-* headers while other clients are served, and
// the refused requests change nothing; a flood of many accounts from one IP is throttled on
// the IP; a device driving many accounts is detected as a bot; the JWT tier claim raises the
// burst; X-Forwarded-For is ignored from untrusted peers and honoured from trusted ones, all
// of its field lines combined;
// --rate-limit off lets the same flood through; throttling is counted in /metrics.
// Every test client talks from 127.0.0.1: distinct client IPs come from X-Forwarded-For with
// 127.0.0.1 as a trusted proxy.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/server_test.h"

namespace fs::itest {
namespace {

// The default bursts (RPM/5) with a refill of one request per minute: the server runs on
// the wall clock, and with the default rates a token would come back every 0.3-0.6 s, so on a
// loaded machine a count could be off by one. With these rates no test lives long enough to
// see a refill, and the counts are exact.
constexpr char kTestTiers[] = "bot=1:2,new=1:10,normal=1:20,premium=1:40";
constexpr int kNormalBurst = 20;
constexpr int kPremiumBurst = 40;

ServerOptions WithFlags(std::vector<std::string> flags) {
  ServerOptions options;
  options.extra_args = std::move(flags);
  return options;
}

struct Client {
  std::string user_id;
  std::string forwarded_for;  // empty: no header
  std::string user_agent = "itest-agent";
  std::string device_id;  // empty: no header
  std::string token;      // empty: MintToken(user_id)
};

HttpResponse ReserveAs(HttpClient& http, const std::string& sku, const Client& who) {
  HttpHeaders headers = {
      {"Authorization", "Bearer " + (who.token.empty() ? MintToken(who.user_id) : who.token)},
      {"User-Agent", who.user_agent},
      {"Accept-Language", "en"}};
  if (!who.forwarded_for.empty()) headers.push_back({"X-Forwarded-For", who.forwarded_for});
  if (!who.device_id.empty()) headers.push_back({"X-Device-Id", who.device_id});
  return http.Post("/api/v1/products/" + sku + "/reserve", R"({"quantity":1})", std::move(headers));
}

::testing::AssertionResult IsRateLimited(const HttpResponse& response) {
  auto error = IsError(response, 429, "RATE_LIMITED");
  if (!error) return error;
  for (const char* header :
       {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}) {
    if (!response.Header(header)) {
      return ::testing::AssertionFailure() << "429 without " << header;
    }
  }
  if (std::stoi(*response.Header("Retry-After")) < 1) {
    return ::testing::AssertionFailure() << "Retry-After < 1";
  }
  return ::testing::AssertionSuccess();
}

// The value of the sample `metric{labels}` in a /metrics page, or -1.
double SampleValue(const std::string& page, const std::string& metric_with_labels) {
  for (const std::string& line :
       MetricSamples(page, metric_with_labels.substr(0, metric_with_labels.find('{')))) {
    if (line.rfind(metric_with_labels + " ", 0) == 0) {
      return std::stod(line.substr(metric_with_labels.size() + 1));
    }
  }
  return -1;
}

class RateLimitTest : public ServerTest {
 protected:
  RateLimitTest()
      : ServerTest(WithFlags({"--rate-limit", "on", "--trusted-proxies", "127.0.0.1/32,::1",
                              "--rate-limit-tiers", kTestTiers})) {}
};

TEST_F(RateLimitTest, FloodFromOneClientIsThrottledWhileOthersAreServed) {
  ASSERT_TRUE(CreateSaleOk(client(), BigSale("flood")));
  const Client flooder{"flooder", "203.0.113.66", "flood-bot/1.0", "", ""};
  int created = 0;
  int throttled = 0;
  for (int i = 0; i < 60; ++i) {
    const HttpResponse response = ReserveAs(client(), "flood", flooder);
    if (response.status == 201) {
      ++created;
    } else {
      ASSERT_TRUE(IsRateLimited(response)) << response.Describe();
      EXPECT_EQ(response.Header("RateLimit-Limit"), "1");
      EXPECT_EQ(response.Header("RateLimit-Remaining"), "0");
      ++throttled;
    }
  }
  EXPECT_EQ(created, kNormalBurst);
  EXPECT_EQ(throttled, 60 - kNormalBurst);
  // Others (own user, IP and device) are served while the flooder is refused.
  for (int i = 0; i < 10; ++i) {
    const Client honest{"honest-" + std::to_string(i), "198.51.100." + std::to_string(i + 1),
                        "Mozilla/5.0 (" + std::to_string(i) + ")", "", ""};
    EXPECT_EQ(ReserveAs(client(), "flood", honest).status, 201) << honest.user_id;
    EXPECT_TRUE(IsRateLimited(ReserveAs(client(), "flood", flooder)));
  }
  // The refused requests changed nothing: exactly the 201s hold stock.
  const auto counters = GetAdminCounters(client(), "flood");
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->reserved, kNormalBurst + 10);
  const SkuSnapshot rows = ReadSku("flood");
  EXPECT_EQ(rows.rows.size(), static_cast<std::size_t>(kNormalBurst + 10));

  const std::string page = client().Get("/metrics").body;
  EXPECT_EQ(SampleValue(page, R"(flashsale_throttled_total{reason="user_limit",tier="normal"})"),
            60 - kNormalBurst + 10)
      << page;
  EXPECT_EQ(SampleValue(page, "flashsale_rate_limit_enabled"), 1);
  EXPECT_TRUE(server_.WaitForStderr("ratelimit event=throttled reason=user_limit"));
}

TEST_F(RateLimitTest, ManyAccountsFromOneIpAreThrottledOnTheIp) {
  ASSERT_TRUE(CreateSaleOk(client(), BigSale("one-ip")));
  int created = 0;
  HttpResponse last;
  for (int i = 0; i < 40; ++i) {
    // Each account on its own device: only the IP is shared.
    last = ReserveAs(client(), "one-ip",
                     Client{"acct-" + std::to_string(i), "203.0.113.77", "agent",
                            "device-" + std::to_string(i), ""});
    created += last.status == 201 ? 1 : 0;
  }
  EXPECT_EQ(created, kNormalBurst);
  EXPECT_TRUE(IsRateLimited(last)) << last.Describe();
  EXPECT_EQ(
      ReserveAs(client(), "one-ip", Client{"elsewhere", "203.0.113.78", "agent", "", ""}).status,
      201);
  const std::string page = client().Get("/metrics").body;
  EXPECT_EQ(SampleValue(page, R"(flashsale_throttled_total{reason="ip_limit",tier="normal"})"),
            40 - kNormalBurst);
}

// A proxy that appends its own X-Forwarded-For line (HAProxy's `option forwardfor`) leaves
// the client's forged line first: every line counts, combined in order, so the address the
// trusted proxy appended is the one judged.
TEST_F(RateLimitTest, EveryForwardedForLineCounts) {
  ASSERT_TRUE(CreateSaleOk(client(), BigSale("two-lines")));
  int created = 0;
  HttpResponse last;
  for (int i = 0; i < 40; ++i) {
    HttpHeaders headers = {{"Authorization", "Bearer " + MintToken("line-" + std::to_string(i))},
                           {"User-Agent", "agent"},
                           {"X-Device-Id", "device-" + std::to_string(i)},
                           {"X-Forwarded-For", "198.18.0." + std::to_string(i + 1)},
                           {"X-Forwarded-For", "203.0.113.55"}};
    last = client().Post("/api/v1/products/two-lines/reserve", R"({"quantity":1})",
                         std::move(headers));
    created += last.status == 201 ? 1 : 0;
  }
  EXPECT_EQ(created, kNormalBurst);
  EXPECT_TRUE(IsRateLimited(last)) << last.Describe();
}

TEST_F(RateLimitTest, DeviceDrivingManyAccountsBecomesBot) {
  ASSERT_TRUE(CreateSaleOk(client(), BigSale("farm")));
  // Default: more than 5 user ids from one fingerprint within 10 s is a bot; the bot tier's
  // burst is 2, so from the sixth account on the device is refused almost at once.
  int created = 0;
  for (int i = 0; i < 12; ++i) {
    const HttpResponse response =
        ReserveAs(client(), "farm",
                  Client{"farm-" + std::to_string(i), "203.0.113.90", "farm/1", "rig-1", ""});
    created += response.status == 201 ? 1 : 0;
  }
  EXPECT_LT(created, 12);
  EXPECT_GE(created, 5);
  const std::string page = client().Get("/metrics").body;
  EXPECT_EQ(SampleValue(page, R"(flashsale_bot_detections_total{reason="bot_fingerprint_users"})"),
            1);
  EXPECT_GT(
      SampleValue(page, R"(flashsale_throttled_total{reason="fingerprint_limit",tier="bot"})") +
          SampleValue(page, R"(flashsale_throttled_total{reason="user_limit",tier="bot"})") +
          SampleValue(page, R"(flashsale_throttled_total{reason="ip_limit",tier="bot"})"),
      0);
  EXPECT_TRUE(server_.WaitForStderr("event=bot_detected reason=bot_fingerprint_users"));
}

TEST_F(RateLimitTest, PremiumClaimGetsTheLargerBurst) {
  ASSERT_TRUE(CreateSaleOk(client(), BigSale("premium")));
  const auto exp =
      std::chrono::duration_cast<std::chrono::seconds>(
          (std::chrono::system_clock::now() + std::chrono::hours(1)).time_since_epoch())
          .count();
  const std::string token =
      CraftToken(R"({"alg":"HS256","typ":"JWT"})",
                 R"({"sub":"vip","tier":"premium","exp":)" + std::to_string(exp) + "}", kJwtSecret);
  int created = 0;
  for (int i = 0; i < 60; ++i) {
    created +=
        ReserveAs(client(), "premium", Client{"vip", "198.51.100.200", "vip", "", token}).status ==
                201
            ? 1
            : 0;
  }
  EXPECT_EQ(created, kPremiumBurst);
}

class UntrustedPeerTest : public ServerTest {
 protected:
  UntrustedPeerTest()
      : ServerTest(WithFlags({"--rate-limit", "on", "--rate-limit-tiers", kTestTiers})) {}
};

TEST_F(UntrustedPeerTest, ForwardedForIsIgnoredFromUntrustedPeers) {
  ASSERT_TRUE(CreateSaleOk(client(), BigSale("xff")));
  // Spoofed, all different: without trust they are all the peer 127.0.0.1.
  int created = 0;
  HttpResponse last;
  for (int i = 0; i < 30; ++i) {
    last = ReserveAs(client(), "xff",
                     Client{"spoof-" + std::to_string(i), "198.51.100." + std::to_string(i + 1),
                            "agent", "dev-" + std::to_string(i), ""});
    created += last.status == 201 ? 1 : 0;
  }
  EXPECT_EQ(created, kNormalBurst);
  EXPECT_TRUE(IsRateLimited(last)) << last.Describe();
}

TEST_F(RateLimitTest, ForwardedForIsHonouredFromTrustedPeers) {
  ASSERT_TRUE(CreateSaleOk(client(), BigSale("xff-trusted")));
  for (int i = 0; i < 30; ++i) {
    // The right-most untrusted hop counts: the left-most (client-written) part is ignored.
    const Client who{"user-" + std::to_string(i), "6.6.6.6, 198.51.100." + std::to_string(i + 1),
                     "agent", "dev-" + std::to_string(i), ""};
    EXPECT_EQ(ReserveAs(client(), "xff-trusted", who).status, 201) << i;
  }
}

class DetectionTest : public ServerTest {
 protected:
  // Generous buckets so only detection and the suspicious range bite; a low IP-rate
  // threshold so the test needs no timing: 21 requests back-to-back always fit in a second.
  DetectionTest()
      : ServerTest(WithFlags({"--rate-limit", "on", "--trusted-proxies", "127.0.0.1/32",
                              "--rate-limit-tiers", "bot=1:2,new=100000:1000,normal=100000:1000",
                              "--bot-ip-requests-per-second", "20", "--suspicious-cidrs",
                              "192.0.2.0/24", "--suspicious-tier", "bot"})) {}
};

TEST_F(DetectionTest, FastIpBecomesBotAndSuspiciousRangeIsStricter) {
  ASSERT_TRUE(CreateSaleOk(client(), BigSale("detect")));
  int created = 0;
  for (int i = 0; i < 60; ++i) {
    created +=
        ReserveAs(client(), "detect", Client{"fast", "203.0.113.5", "agent", "", ""}).status == 201
            ? 1
            : 0;
  }
  // 20 pass at the normal tier; the 21st marks the IP as a bot, whose burst is 2.
  EXPECT_GE(created, 20);
  EXPECT_LE(created, 22);
  const HttpResponse refused =
      ReserveAs(client(), "detect", Client{"fast", "203.0.113.5", "agent", "", ""});
  EXPECT_TRUE(IsRateLimited(refused)) << refused.Describe();
  EXPECT_EQ(refused.Header("RateLimit-Limit"), "1");  // the bot tier
  // Another account from the flagged IP is a bot too; another IP is not.
  EXPECT_EQ(ReserveAs(client(), "detect", Client{"other", "203.0.113.5", "x", "", ""}).status, 429);
  EXPECT_EQ(ReserveAs(client(), "detect", Client{"other", "203.0.113.6", "x", "", ""}).status, 201);
  // A suspicious range is judged at the bot tier from the first request: burst 2.
  int vpn_created = 0;
  for (int i = 0; i < 5; ++i) {
    vpn_created +=
        ReserveAs(client(), "detect", Client{"vpn-user", "192.0.2.44", "agent", "", ""}).status ==
                201
            ? 1
            : 0;
  }
  EXPECT_EQ(vpn_created, 2);
  const std::string page = client().Get("/metrics").body;
  EXPECT_EQ(SampleValue(page, R"(flashsale_bot_detections_total{reason="bot_ip_rate"})"), 1);
  EXPECT_TRUE(server_.WaitForStderr("event=bot_detected reason=bot_ip_rate"));
}

class RateLimitOffTest : public ServerTest {
 protected:
  RateLimitOffTest() : ServerTest(WithFlags({"--rate-limit", "off"})) {}
};

TEST_F(RateLimitOffTest, FloodPassesWhenOff) {
  ASSERT_TRUE(CreateSaleOk(client(), BigSale("off")));
  for (int i = 0; i < 60; ++i) {
    EXPECT_EQ(ReserveAs(client(), "off", Client{"flooder", "", "bot", "", ""}).status, 201) << i;
  }
  const std::string page = client().Get("/metrics").body;
  EXPECT_EQ(SampleValue(page, "flashsale_rate_limit_enabled"), 0);
}

}  // namespace
}  // namespace fs::itest
