// SharedRateLimiter: the token buckets of every node kept in Redis. Each check is one EVALSHA
// of the rate-limit script (rate_limit_script.h): one round trip, atomic, so a user's limit
// holds across nodes (two nodes together grant ~the limit, not twice it).
//
// Fallback: while Redis is down, or when a check fails (timeout, error reply), the request is
// decided by the node's local buckets (`local`, the same RateLimiter a single node uses) and
// counted in fallbacks(). The local buckets only see the requests of the fallback periods, so
// during an outage each node grants up to the limit on its own (N nodes: up to N x the limit);
// the health transition is logged once by whoever owns the client (RedisServices).
// Either way the answer is a ratelimit::Decision made by the same code, so the 429, its
// headers, the metrics and the audit hook are identical in both modes.
//
// Thread-safety: Check() and Snapshot() are safe from any thread. `done` runs on the Redis
// client thread, or on the caller's thread when Redis is down.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/clock.h"
#include "ratelimit/async_limiter.h"
#include "redis/redis_client.h"

namespace fs::redis {

class SharedRateLimiter final : public ratelimit::AsyncLimiter {
 public:
  // REQUIRES: `client`, `local` and `clock` outlive the limiter; `client` was given Script()
  // among its scripts.
  SharedRateLimiter(RedisClient& client, ratelimit::RateLimiter& local, const base::Clock& clock);

  // The rate-limit script (load it on connect).
  static const Script& CheckScript();

  void Check(ratelimit::RequestIdentity identity, ratelimit::DecisionCallback done) override;
  ratelimit::LimiterSnapshot Snapshot() const override { return local_.Snapshot(); }

  // Checks decided by the local buckets because Redis was down or failed.
  std::uint64_t fallbacks() const { return fallbacks_.load(std::memory_order_relaxed); }

 private:
  ratelimit::Decision Fallback(const ratelimit::RequestIdentity& identity);

  RedisClient& client_;
  ratelimit::RateLimiter& local_;
  const base::Clock& clock_;
  std::atomic<std::uint64_t> fallbacks_{0};
  std::atomic<bool> reported_bad_reply_{false};
};

}  // namespace fs::redis
