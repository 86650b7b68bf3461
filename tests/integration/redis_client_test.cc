// Goal: the Redis client module (src/redis) against a real redis-server: the shared rate-limit
// script decides exactly like the local RateLimiter, request for request, on the same clock
// (refill, burst, tiers, suspicious ranges, both bot detections); EVALSHA recovers from
// NOSCRIPT with one SCRIPT LOAD; concurrent commands are pipelined and each caller's commands
// stay in order; a stopped Redis makes the client fail fast, report down, and reconnect by
// itself; a Redis that stops answering is treated as down after the command timeout; a Redis
// with a password is used with AUTH, and a wrong or missing password leaves the client down.

#include "redis/redis_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "ratelimit/rate_limiter.h"
#include "redis/rate_limit_script.h"
#include "redis/shared_rate_limiter.h"
#include "support/redis_server.h"

namespace fs::redis {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kHealthChangeTimeout{10'000};

ClientOptions OptionsFor(const itest::RedisServer& server) {
  ClientOptions options;
  options.url = *ParseRedisUrl(server.url());
  return options;
}

base::Result<Reply> RunCommand(RedisClient& client, std::vector<std::string> argv) {
  std::promise<base::Result<Reply>> promise;
  client.Execute(std::move(argv),
                 [&promise](base::Result<Reply> reply) { promise.set_value(std::move(reply)); });
  return promise.get_future().get();
}

// The client reports health from its own thread; there is no event to wait on from here.
::testing::AssertionResult AwaitHealth(const RedisClient& client, Health wanted) {
  const auto deadline = std::chrono::steady_clock::now() + kHealthChangeTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (client.health() == wanted) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(milliseconds(5));
  }
  return ::testing::AssertionFailure() << "client never became " << HealthName(wanted);
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }
  itest::RedisServer server_;
};

ratelimit::RequestIdentity Identity(std::string user, std::string ip, std::string fingerprint,
                                    ratelimit::Tier tier = ratelimit::Tier::kNormal) {
  ratelimit::RequestIdentity identity;
  identity.user_id = std::move(user);
  identity.client_ip = *ratelimit::IpAddress::Parse(ip);
  identity.fingerprint = std::move(fingerprint);
  identity.claimed_tier = tier;
  return identity;
}

TEST_F(RedisClientTest, ScriptDecidesLikeTheLocalLimiter) {
  ratelimit::LimiterOptions options;
  options.tiers = *ratelimit::ParseTierTable("bot=6:2,new=30:4,normal=60:6,premium=120:10",
                                             ratelimit::DefaultTierTable());
  options.ip_requests_per_second_max = 12;
  options.fingerprint_user_ids_max = 3;
  options.fingerprint_window = milliseconds(5'000);
  options.cooldown = milliseconds(60'000);
  options.suspicious_cidrs = *ratelimit::CidrList::Parse("10.9.0.0/16", "test");
  base::ManualClock clock(base::TimeFromMillis(1'790'000'000'000));
  ratelimit::RateLimiter local(options, clock);
  ratelimit::RateLimiter recorder(options, clock);
  RedisClient client(OptionsFor(server_), {&SharedRateLimiter::CheckScript()}, {});
  ASSERT_TRUE(AwaitHealth(client, Health::kUp));

  // A mix: steady users, a premium user, a suspicious range, one device driving many
  // accounts, and one IP flooding; time moves in uneven steps so refills are partial.
  std::vector<ratelimit::RequestIdentity> crowd = {
      Identity("u1", "192.0.2.1", "fp-a"),
      Identity("u2", "192.0.2.2", "fp-b", ratelimit::Tier::kPremium),
      Identity("u3", "10.9.1.1", "fp-c", ratelimit::Tier::kPremium),
      Identity("u4", "192.0.2.4", "")};
  for (int i = 0; i < 6; ++i) {
    crowd.push_back(Identity("farm-" + std::to_string(i), "192.0.2.50", "fp-farm"));
  }
  for (int i = 0; i < 4; ++i) {
    crowd.push_back(
        Identity("flood-" + std::to_string(i), "192.0.2.99", "fp-flood-" + std::to_string(i)));
  }
  int allowed = 0;
  int refused = 0;
  for (int step = 0; step < 400; ++step) {
    // Steps 200-239: the four flood identities (one IP) back to back, 1 ms apart.
    const bool flood_phase = step >= 200 && step < 240;
    const ratelimit::RequestIdentity& who =
        flood_phase ? crowd[crowd.size() - 4 + static_cast<std::size_t>(step % 4)]
                    : crowd[static_cast<std::size_t>(step * 7 + step / 5) % crowd.size()];
    clock.Advance(milliseconds(flood_phase ? 1 : (step * 37) % 173));
    const ratelimit::Decision expected = local.Check(who);
    const ScriptCall call = BuildRateLimitCall(who, options, base::ToMillis(clock.Now()));
    std::promise<base::Result<Reply>> promise;
    client.EvalSha(SharedRateLimiter::CheckScript(), call.keys, call.args,
                   [&promise](base::Result<Reply> reply) { promise.set_value(std::move(reply)); });
    const base::Result<Reply> reply = promise.get_future().get();
    ASSERT_TRUE(reply) << reply.error().ToString();
    const auto outcome = ParseRateLimitReply(*reply);
    ASSERT_TRUE(outcome) << outcome.error().ToString();
    const ratelimit::Decision shared = recorder.Record(who, *outcome);
    SCOPED_TRACE("step " + std::to_string(step) + " user " + who.user_id);
    ASSERT_EQ(shared.allowed, expected.allowed);
    ASSERT_EQ(shared.tier, expected.tier);
    ASSERT_EQ(shared.tier_reason, expected.tier_reason);
    ASSERT_EQ(shared.remaining, expected.remaining);
    ASSERT_EQ(shared.reset_seconds, expected.reset_seconds);
    if (!expected.allowed) {
      ASSERT_EQ(shared.reason, expected.reason);
      ASSERT_EQ(shared.retry_after_seconds, expected.retry_after_seconds);
    }
    (expected.allowed ? allowed : refused) += 1;
  }
  EXPECT_GT(allowed, 50);
  EXPECT_GT(refused, 50);
  const ratelimit::LimiterSnapshot a = local.Snapshot();
  const ratelimit::LimiterSnapshot b = recorder.Snapshot();
  EXPECT_EQ(a.throttled, b.throttled);
  EXPECT_EQ(a.detections, b.detections);
  EXPECT_GE(b.detections[static_cast<std::size_t>(ratelimit::TierReason::kBotFingerprintUsers)],
            1U);
  EXPECT_GE(b.detections[static_cast<std::size_t>(ratelimit::TierReason::kBotIpRate)], 1U);
}

TEST_F(RedisClientTest, NoScriptIsLoadedAndRetriedOnce) {
  const Script script("return tonumber(ARGV[1]) + 1");
  RedisClient client(OptionsFor(server_), {&script}, {});
  ASSERT_TRUE(AwaitHealth(client, Health::kUp));
  ASSERT_EQ(server_.Command({"SCRIPT", "FLUSH"}), "+OK");
  std::promise<base::Result<Reply>> promise;
  client.EvalSha(script, {}, {"41"},
                 [&promise](base::Result<Reply> reply) { promise.set_value(std::move(reply)); });
  const base::Result<Reply> reply = promise.get_future().get();
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->type, Reply::Type::kInteger) << reply->text;
  EXPECT_EQ(reply->integer, 42);
  EXPECT_EQ(client.stats().script_reloads.value(), 1U);
}

TEST_F(RedisClientTest, ConcurrentCommandsArePipelinedInOrder) {
  RedisClient client(OptionsFor(server_), {}, {});
  ASSERT_TRUE(AwaitHealth(client, Health::kUp));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::atomic<int> out_of_order{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread appends to its own list; replies must come back in its order.
      std::vector<std::promise<void>> done(kPerThread);
      auto last = std::make_shared<std::atomic<std::int64_t>>(0);
      for (int i = 0; i < kPerThread; ++i) {
        client.Execute({"RPUSH", "list-" + std::to_string(t), std::to_string(i)},
                       [&, last, i](base::Result<Reply> reply) {
                         if (!reply || reply->type != Reply::Type::kInteger) {
                           failed.fetch_add(1);
                         } else if (reply->integer != i + 1 || last->load() != i) {
                           out_of_order.fetch_add(1);
                         }
                         last->store(i + 1);
                         done[static_cast<std::size_t>(i)].set_value();
                       });
      }
      for (auto& promise : done) promise.get_future().wait();
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(out_of_order.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(server_.Command({"LLEN", "list-" + std::to_string(t)}), ":500");
  }
  EXPECT_GE(client.stats().commands.value(), static_cast<std::uint64_t>(kThreads * kPerThread));
}

TEST_F(RedisClientTest, StoppedRedisFailsFastAndTheClientReconnects) {
  std::atomic<int> downs{0};
  std::atomic<int> ups{0};
  RedisClient client(OptionsFor(server_), {&SharedRateLimiter::CheckScript()},
                     [&](Health health, const base::Status&) {
                       (health == Health::kUp ? ups : downs).fetch_add(1);
                     });
  ASSERT_TRUE(AwaitHealth(client, Health::kUp));
  ASSERT_TRUE(server_.Stop());
  ASSERT_TRUE(AwaitHealth(client, Health::kDown));
  // Refused on the caller's thread, before the call returns: nobody waits for a dead Redis.
  bool answered_inline = false;
  client.Execute({"PING"}, [&answered_inline](base::Result<Reply> reply) {
    answered_inline = !reply && reply.error().code() == base::StatusCode::kUnavailable;
  });
  EXPECT_TRUE(answered_inline);
  ASSERT_TRUE(server_.Start());
  ASSERT_TRUE(AwaitHealth(client, Health::kUp));
  const base::Result<Reply> pong = RunCommand(client, {"PING"});
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->text, "PONG");
  // The scripts were loaded on reconnect: no NOSCRIPT round trip.
  std::promise<base::Result<Reply>> promise;
  const ScriptCall call = BuildRateLimitCall(
      [] {
        ratelimit::RequestIdentity identity;
        identity.user_id = "x";
        identity.client_ip = *ratelimit::IpAddress::Parse("192.0.2.1");
        identity.fingerprint = "f";
        return identity;
      }(),
      ratelimit::LimiterOptions{}, 1'790'000'000'000);
  client.EvalSha(SharedRateLimiter::CheckScript(), call.keys, call.args,
                 [&promise](base::Result<Reply> reply) { promise.set_value(std::move(reply)); });
  const base::Result<Reply> checked = promise.get_future().get();
  ASSERT_TRUE(checked);
  EXPECT_TRUE(ParseRateLimitReply(*checked));
  EXPECT_EQ(client.stats().script_reloads.value(), 0U);
  EXPECT_EQ(client.stats().reconnects.value(), 1U);
  EXPECT_EQ(downs.load(), 1) << "one report per transition";
  EXPECT_EQ(ups.load(), 2);
}

TEST_F(RedisClientTest, UnansweredCommandTimesOutAndMarksDown) {
  ClientOptions options = OptionsFor(server_);
  options.command_timeout = milliseconds(50);
  RedisClient client(options, {}, {});
  ASSERT_TRUE(AwaitHealth(client, Health::kUp));
  // Redis holds every client's commands for 1 s: far past the 50 ms timeout.
  ASSERT_EQ(server_.Command({"CLIENT", "PAUSE", "1000", "ALL"}), "+OK");
  // A reply after the pause would be a nil; failing means the 50 ms timeout struck.
  const base::Result<Reply> reply = RunCommand(client, {"GET", "k"});
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code(), base::StatusCode::kUnavailable);
  EXPECT_GE(client.stats().errors.value(), 1U);
  ASSERT_TRUE(AwaitHealth(client, Health::kUp));  // reconnects after the pause
}

TEST(RedisPasswordTest, TheClientAuthenticatesAndAWrongPasswordIsDown) {
  itest::RedisServer server("a-redis-password-0123");
  ASSERT_TRUE(server.Start());
  ClientOptions options;
  options.url = *ParseRedisUrl(server.url());
  ASSERT_EQ(options.url.password, "a-redis-password-0123");
  RedisClient client(options, {&SharedRateLimiter::CheckScript()}, {});
  ASSERT_TRUE(AwaitHealth(client, Health::kUp));
  const base::Result<Reply> pong = RunCommand(client, {"PING"});
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->text, "PONG");

  ClientOptions wrong = options;
  wrong.url.password = "not-the-password";
  RedisClient refused(wrong, {}, {});
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_NE(refused.health(), Health::kUp);
  EXPECT_FALSE(RunCommand(refused, {"PING"}));

  ClientOptions none = options;
  none.url.password.clear();
  RedisClient anonymous(none, {&SharedRateLimiter::CheckScript()}, {});
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_NE(anonymous.health(), Health::kUp);
}

}  // namespace
}  // namespace fs::redis
