// Goal: the fairness layer's pure logic is exact. Token buckets refill at the tier's rate to
// the burst and never beyond, a refused request takes nothing, tiers from claims and the
// --rate-limit-tiers flag parse (and bad values are refused); IP/CIDR/X-Forwarded-For parsing
// follows the trust rules; fingerprints are stable and field-separated; bot detection moves
// an IP or a many-accounts fingerprint to the bot tier for the cool-down only; maps stay
// bounded. Time is a ManualClock: no sleeps.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ratelimit/client_identity.h"
#include "ratelimit/rate_limiter.h"
#include "ratelimit/tiers.h"
#include "ratelimit/token_bucket.h"

namespace fs::ratelimit {
namespace {

using std::chrono::milliseconds;

IpAddress Ip(std::string_view text) {
  auto address = IpAddress::Parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress{});
}

RequestIdentity Who(std::string user, std::string_view ip = "198.51.100.1",
                    std::string fingerprint = "fp-1", Tier tier = Tier::kNormal) {
  return RequestIdentity{std::move(user), Ip(ip), std::move(fingerprint), tier};
}

// Detection off (thresholds out of reach) so bucket tests see only buckets.
LimiterOptions BucketsOnly() {
  LimiterOptions options;
  options.ip_requests_per_second_max = 1'000'000;
  options.fingerprint_user_ids_max = 1'000;
  return options;
}

int AllowedOf(RateLimiter& limiter, const RequestIdentity& who, int attempts) {
  int allowed = 0;
  for (int i = 0; i < attempts; ++i) allowed += limiter.Check(who).allowed ? 1 : 0;
  return allowed;
}

TEST(TiersTest, DefaultsMatchTheIssue) {
  const TierTable table = DefaultTierTable();
  EXPECT_EQ(table[0].requests_per_minute, 10);
  EXPECT_EQ(table[1].requests_per_minute, 50);
  EXPECT_EQ(table[2].requests_per_minute, 100);
  EXPECT_EQ(table[3].requests_per_minute, 200);
  EXPECT_EQ(table[2].burst, 20);
  EXPECT_EQ(table[0].burst, 2);
}

TEST(TiersTest, ClaimsMapToTiersAndUnknownIsNormal) {
  EXPECT_EQ(TierFromClaim("bot"), Tier::kBot);
  EXPECT_EQ(TierFromClaim("new"), Tier::kNew);
  EXPECT_EQ(TierFromClaim("premium"), Tier::kPremium);
  EXPECT_EQ(TierFromClaim(""), Tier::kNormal);
  EXPECT_EQ(TierFromClaim("PREMIUM"), Tier::kNormal);
  EXPECT_EQ(TierFromClaim("vip"), Tier::kNormal);
}

TEST(TiersTest, ParsesTheFlag) {
  auto table = ParseTierTable("bot=5, normal=120:30,premium=600", DefaultTierTable());
  ASSERT_TRUE(table.has_value());
  EXPECT_EQ((*table)[0].requests_per_minute, 5);
  EXPECT_EQ((*table)[0].burst, 1);
  EXPECT_EQ((*table)[1].requests_per_minute, 50);  // untouched
  EXPECT_EQ((*table)[2].requests_per_minute, 120);
  EXPECT_EQ((*table)[2].burst, 30);
  EXPECT_EQ((*table)[3].burst, 120);
}

TEST(TiersTest, FormatsWhatItParses) {
  EXPECT_EQ(FormatTierTable(DefaultTierTable()), "bot=10,new=50,normal=100,premium=200");
  const std::string custom = "bot=5,new=50,normal=120:30,premium=600";
  auto table = ParseTierTable(custom, DefaultTierTable());
  ASSERT_TRUE(table.has_value());
  EXPECT_EQ(FormatTierTable(*table), custom);
  auto again = ParseTierTable(FormatTierTable(*table), DefaultTierTable());
  ASSERT_TRUE(again.has_value());
  for (std::size_t i = 0; i < kTierCount; ++i) {
    EXPECT_EQ((*again)[i].requests_per_minute, (*table)[i].requests_per_minute);
    EXPECT_EQ((*again)[i].burst, (*table)[i].burst);
  }
}

TEST(TiersTest, RefusesBadFlags) {
  for (const char* bad : {"vip=10", "bot", "bot=", "bot=0", "bot=-1", "bot=10x", "bot=10:0",
                          "bot=1:61", "bot=1000001", "normal=100:"}) {
    EXPECT_FALSE(ParseTierTable(bad, DefaultTierTable()).has_value()) << bad;
  }
}

TEST(TokenBucketTest, RefillsAtTheRateUpToTheBurst) {
  const TierLimit limit{60, 3};  // one request per second, burst 3
  TokenBucket bucket(limit, 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_GE(bucket.Refill(limit, 0).units, kUnitsPerRequest);
    bucket.Take();
  }
  EXPECT_LT(bucket.Refill(limit, 999).units, kUnitsPerRequest);
  EXPECT_EQ(bucket.Refill(limit, 1000).units, kUnitsPerRequest);
  EXPECT_EQ(bucket.Refill(limit, 1'000'000).units, 3 * kUnitsPerRequest);         // capped at burst
  EXPECT_EQ(bucket.Refill(limit, 5).units, 3 * kUnitsPerRequest);                 // clock step back
  EXPECT_EQ(bucket.Refill(TierLimit{60, 1}, 2'000'000).units, kUnitsPerRequest);  // shrinks
}

TEST(TokenBucketTest, MillisUntilRoundsUp) {
  const TierLimit limit{100, 20};
  EXPECT_EQ(MillisUntil(kUnitsPerRequest, kUnitsPerRequest, limit), 0);
  EXPECT_EQ(MillisUntil(0, kUnitsPerRequest, limit), 600);
  EXPECT_EQ(MillisUntil(1, kUnitsPerRequest, limit), 600);
  EXPECT_EQ(MillisUntil(kUnitsPerRequest - 100, kUnitsPerRequest, limit), 1);
}

TEST(LruMapTest, EvictsTheLeastRecentlyUsed) {
  LruMap<int> map(2);
  map.FindOrInsert("a", [] { return 1; });
  map.FindOrInsert("b", [] { return 2; });
  ASSERT_NE(map.Find("a"), nullptr);  // a is now the most recent
  map.FindOrInsert("c", [] { return 3; });
  EXPECT_EQ(map.size(), 2u);
  EXPECT_EQ(map.Find("b"), nullptr);
  EXPECT_NE(map.Find("a"), nullptr);
  EXPECT_NE(map.Find("c"), nullptr);
  EXPECT_EQ(map.evictions(), 1u);
}

TEST(RateLimiterTest, BurstThenSteadyRatePerTier) {
  struct Case {
    Tier tier;
    int burst;
    int per_minute;
  };
  for (const Case& c : {Case{Tier::kBot, 2, 10}, Case{Tier::kNew, 10, 50},
                        Case{Tier::kNormal, 20, 100}, Case{Tier::kPremium, 40, 200}}) {
    base::ManualClock clock(base::TimeFromMillis(1'000'000));
    RateLimiter limiter(BucketsOnly(), clock);
    const RequestIdentity who = Who("alice", "198.51.100.1", "fp", c.tier);
    EXPECT_EQ(AllowedOf(limiter, who, c.burst + 5), c.burst) << TierName(c.tier);
    clock.Advance(milliseconds(60'000));  // one minute refills per_minute, capped at burst
    EXPECT_EQ(AllowedOf(limiter, who, c.burst + 5), std::min(c.burst, c.per_minute));
    // Steady state: one request every 60000/per_minute ms always passes.
    const int interval_ms = 60'000 / c.per_minute;
    for (int i = 0; i < 50; ++i) {
      clock.Advance(milliseconds(interval_ms));
      ASSERT_TRUE(limiter.Check(who).allowed) << TierName(c.tier) << " step " << i;
    }
  }
}

TEST(RateLimiterTest, RefusalTakesNothingAndReportsHeaders) {
  base::ManualClock clock(base::TimeFromMillis(0));
  RateLimiter limiter(BucketsOnly(), clock);
  const RequestIdentity who = Who("alice");
  Decision last;
  for (int i = 0; i < 20; ++i) last = limiter.Check(who);
  EXPECT_TRUE(last.allowed);
  EXPECT_EQ(last.remaining, 0);
  EXPECT_EQ(last.limit.requests_per_minute, 100);
  EXPECT_EQ(last.reset_seconds, 12);  // 20 requests at 100/min
  for (int i = 0; i < 10; ++i) {
    const Decision refused = limiter.Check(who);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.reason, ThrottleReason::kUserLimit);
    EXPECT_EQ(refused.retry_after_seconds, 1);  // 0.6 s rounds up
  }
  clock.Advance(milliseconds(600));  // exactly one request's refill: refusals took nothing
  EXPECT_TRUE(limiter.Check(who).allowed);
  EXPECT_FALSE(limiter.Check(who).allowed);
  EXPECT_EQ(limiter.Snapshot().throttled[0][static_cast<std::size_t>(Tier::kNormal)], 11u);
}

TEST(RateLimiterTest, EachDimensionLimitsOnItsOwn) {
  base::ManualClock clock(base::TimeFromMillis(0));
  RateLimiter limiter(BucketsOnly(), clock);
  // One IP, many users and fingerprints: the IP bucket runs out.
  int allowed = 0;
  Decision last;
  for (int i = 0; i < 30; ++i) {
    last = limiter.Check(Who("u" + std::to_string(i), "203.0.113.9", "fp" + std::to_string(i)));
    allowed += last.allowed ? 1 : 0;
  }
  EXPECT_EQ(allowed, 20);
  EXPECT_EQ(last.reason, ThrottleReason::kIpLimit);
  // One fingerprint, many users and IPs: the fingerprint bucket runs out.
  allowed = 0;
  for (int i = 0; i < 30; ++i) {
    last = limiter.Check(Who("v" + std::to_string(i), "192.0.2." + std::to_string(i), "shared"));
    allowed += last.allowed ? 1 : 0;
  }
  EXPECT_EQ(allowed, 20);
  EXPECT_EQ(last.reason, ThrottleReason::kFingerprintLimit);
  // Someone else is untouched.
  EXPECT_TRUE(limiter.Check(Who("carol", "192.0.2.200", "carol-phone")).allowed);
}

TEST(RateLimiterTest, IpOver100PerSecondBecomesBotForTheCooldown) {
  base::ManualClock clock(base::TimeFromMillis(0));
  LimiterOptions options;
  options.tiers = *ParseTierTable("bot=10,normal=100000:100000", DefaultTierTable());
  options.cooldown = milliseconds(60'000);
  std::vector<std::string> events;
  RateLimiter limiter(options, clock, [&events](const LimiterEvent& event) {
    if (event.kind == LimiterEvent::Kind::kBotDetected) events.emplace_back(event.reason);
  });
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(
        limiter.Check(Who("u" + std::to_string(i), "203.0.113.7", "fp" + std::to_string(i))).tier,
        Tier::kNormal);
  }
  const Decision over = limiter.Check(Who("u100", "203.0.113.7", "fp100"));
  EXPECT_EQ(over.tier, Tier::kBot);
  EXPECT_EQ(over.tier_reason, TierReason::kBotIpRate);
  EXPECT_EQ(events, std::vector<std::string>{"bot_ip_rate"});
  clock.Advance(milliseconds(59'000));
  EXPECT_EQ(limiter.Check(Who("x", "203.0.113.7", "other")).tier, Tier::kBot);
  EXPECT_EQ(limiter.Check(Who("y", "203.0.113.8", "other2")).tier, Tier::kNormal);
  clock.Advance(milliseconds(1'001));
  EXPECT_EQ(limiter.Check(Who("x", "203.0.113.7", "other")).tier, Tier::kNormal);
}

TEST(RateLimiterTest, FingerprintDrivingManyUsersFlagsDeviceAndAccounts) {
  base::ManualClock clock(base::TimeFromMillis(0));
  LimiterOptions options = BucketsOnly();
  options.fingerprint_user_ids_max = 3;
  options.fingerprint_window = milliseconds(10'000);
  RateLimiter limiter(options, clock);
  for (int i = 0; i < 3; ++i) {
    clock.Advance(milliseconds(100));
    EXPECT_EQ(limiter.Check(Who("acct" + std::to_string(i), "192.0.2.1", "farm")).tier,
              Tier::kNormal);
  }
  const Decision fourth = limiter.Check(Who("acct3", "192.0.2.1", "farm"));
  EXPECT_EQ(fourth.tier, Tier::kBot);
  EXPECT_EQ(fourth.tier_reason, TierReason::kBotFingerprintUsers);
  // The accounts it drove are bots from any device; the farm device for any account.
  EXPECT_EQ(limiter.Check(Who("acct0", "192.0.2.50", "clean-phone")).tier, Tier::kBot);
  EXPECT_EQ(limiter.Check(Who("someone", "192.0.2.51", "farm")).tier, Tier::kBot);
  EXPECT_EQ(limiter.Check(Who("honest", "192.0.2.52", "own-phone")).tier, Tier::kNormal);
  EXPECT_EQ(
      limiter.Snapshot().detections[static_cast<std::size_t>(TierReason::kBotFingerprintUsers)],
      1u);
  // Same users slowly (outside the window) are not a detection.
  RateLimiter slow(options, clock);
  for (int i = 0; i < 10; ++i) {
    clock.Advance(milliseconds(4'000));
    EXPECT_EQ(slow.Check(Who("s" + std::to_string(i % 3), "192.0.2.9", "family")).tier,
              Tier::kNormal);
  }
}

TEST(RateLimiterTest, SuspiciousCidrGetsStricterTierButNeverRaises) {
  base::ManualClock clock(base::TimeFromMillis(0));
  LimiterOptions options = BucketsOnly();
  options.suspicious_cidrs = *CidrList::Parse("100.64.0.0/10,2001:db8::/32", "--suspicious-cidrs");
  options.suspicious_tier = Tier::kNew;
  RateLimiter limiter(options, clock);
  const Decision vpn = limiter.Check(Who("a", "100.64.1.1", "f1", Tier::kPremium));
  EXPECT_EQ(vpn.tier, Tier::kNew);
  EXPECT_EQ(vpn.tier_reason, TierReason::kSuspiciousCidr);
  EXPECT_EQ(limiter.Check(Who("b", "2001:db8::9", "f2")).tier, Tier::kNew);
  EXPECT_EQ(limiter.Check(Who("c", "100.64.1.2", "f3", Tier::kBot)).tier, Tier::kBot);
  EXPECT_EQ(limiter.Check(Who("d", "100.128.0.1", "f4")).tier, Tier::kNormal);
}

TEST(RateLimiterTest, MapsStayBounded) {
  base::ManualClock clock(base::TimeFromMillis(0));
  LimiterOptions options = BucketsOnly();
  options.entries_max = 50;
  RateLimiter limiter(options, clock);
  for (int i = 0; i < 1000; ++i) {
    limiter.Check(Who("u" + std::to_string(i),
                      "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250),
                      "f" + std::to_string(i)));
  }
  const LimiterSnapshot snapshot = limiter.Snapshot();
  EXPECT_EQ(snapshot.tracked_identities, 150u);
  EXPECT_EQ(snapshot.evictions, 3u * 950u);
}

TEST(ClientIdentityTest, ParsesAddresses) {
  struct Case {
    const char* text;
    bool ok;
    const char* canonical;
  };
  for (const Case& c :
       {Case{"1.2.3.4", true, "1.2.3.4"}, Case{"::1", true, "::1"},
        Case{"2001:DB8:0:0::5", true, "2001:db8::5"}, Case{"::ffff:10.0.0.1", true, "10.0.0.1"},
        Case{"0.0.0.0", true, "0.0.0.0"}, Case{"255.255.255.255", true, "255.255.255.255"},
        Case{"192.168.100.20", true, "192.168.100.20"}, Case{"", false, ""},
        Case{" 1.2.3.4", false, ""}, Case{"1.2.3.4:80", false, ""}, Case{"[::1]", false, ""},
        Case{"256.1.1.1", false, ""}, Case{"unknown", false, ""},
        Case{"fe80::1%eth0", false, ""}}) {
    const auto address = IpAddress::Parse(c.text);
    EXPECT_EQ(address.has_value(), c.ok) << c.text;
    if (address) {
      EXPECT_EQ(address->ToString(), c.canonical) << c.text;
    }
  }
}

TEST(ClientIdentityTest, CidrMembership) {
  struct Case {
    const char* cidr;
    const char* address;
    bool inside;
  };
  for (const Case& c :
       {Case{"10.0.0.0/8", "10.255.1.2", true}, Case{"10.0.0.0/8", "11.0.0.1", false},
        Case{"192.168.1.0/25", "192.168.1.127", true},
        Case{"192.168.1.0/25", "192.168.1.128", false}, Case{"0.0.0.0/0", "8.8.8.8", true},
        Case{"0.0.0.0/0", "::1", false}, Case{"127.0.0.1", "127.0.0.1", true},
        Case{"127.0.0.1", "127.0.0.2", false}, Case{"2001:db8::/32", "2001:db8:ffff::1", true},
        Case{"2001:db8::/32", "2001:db9::1", false}, Case{"::/0", "::1", true},
        Case{"10.0.0.0/8", "::ffff:10.1.1.1", true}}) {
    const auto cidr = Cidr::Parse(c.cidr);
    ASSERT_TRUE(cidr.has_value()) << c.cidr;
    EXPECT_EQ(cidr->Contains(Ip(c.address)), c.inside) << c.cidr << " " << c.address;
  }
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x",
                          "example.com/8", "10.0.0.0/-1"}) {
    EXPECT_FALSE(Cidr::Parse(bad).has_value()) << bad;
  }
  EXPECT_FALSE(CidrList::Parse("10.0.0.0/8,bogus", "--trusted-proxies").has_value());
  auto list = CidrList::Parse(" 10.0.0.0/8 , ,::1 ", "--trusted-proxies");
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), 2u);
}

TEST(ClientIdentityTest, ForwardedForFollowsTrust) {
  const CidrList trusted = *CidrList::Parse("10.0.0.0/8,::1", "--trusted-proxies");
  struct Case {
    const char* peer;
    const char* header;  // nullptr: absent
    const char* client;
  };
  for (const Case& c : {
           Case{"203.0.113.5", "1.1.1.1", "203.0.113.5"},     // untrusted peer: ignored
           Case{"10.0.0.2", nullptr, "10.0.0.2"},             // trusted peer, no header
           Case{"10.0.0.2", "198.51.100.7", "198.51.100.7"},  // one hop
           Case{"10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.9", "198.51.100.7"},  // right-most
           Case{"10.0.0.2", "10.0.0.8,10.0.0.9", "10.0.0.8"},  // all trusted: left-most
           Case{"10.0.0.2", "6.6.6.6, garbage", "10.0.0.2"},   // garbage: stop at the proxy
           Case{"::1", "2001:db8::7", "2001:db8::7"},          // IPv6 proxy
           Case{"10.0.0.2", "", "10.0.0.2"},
       }) {
    const auto header = c.header ? std::optional<std::string_view>(c.header) : std::nullopt;
    EXPECT_EQ(ResolveClientIp(Ip(c.peer), header, trusted).ToString(), c.client)
        << c.peer << " / " << (c.header ? c.header : "(none)");
  }
}

TEST(ClientIdentityTest, FingerprintIsStableHexAndSeparatesFields) {
  const IpAddress ip = Ip("198.51.100.1");
  const std::string a = DeviceFingerprint({"Mozilla/5.0", "en", ""}, ip);
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(a, DeviceFingerprint({"Mozilla/5.0", "en", ""}, ip));
  EXPECT_NE(a, DeviceFingerprint({"Mozilla/5.0", "en", "device-1"}, ip));
  EXPECT_NE(a, DeviceFingerprint({"Mozilla/5.0", "en", ""}, Ip("198.51.100.2")));
  EXPECT_NE(DeviceFingerprint({"ab", "c", ""}, ip), DeviceFingerprint({"a", "bc", ""}, ip));
}

}  // namespace
}  // namespace fs::ratelimit
