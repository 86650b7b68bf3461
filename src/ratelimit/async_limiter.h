// AsyncLimiter: a rate limiter whose check may wait on the network (the buckets shared by all
// nodes in Redis, src/redis/shared_rate_limiter.h). The HTTP layer holds it through this
// interface, so it never depends on a Redis client.
// Thread-safety: implementations are safe from any thread.
#pragma once

#include <functional>

#include "ratelimit/rate_limiter.h"

namespace fs::ratelimit {

using DecisionCallback = std::function<void(Decision)>;

class AsyncLimiter {
 public:
  virtual ~AsyncLimiter() = default;
  // Decides `identity`'s request. `done` runs exactly once, on any thread (the caller's or a
  // client thread), and must not block: post the answer to the caller's executor.
  virtual void Check(RequestIdentity identity, DecisionCallback done) = 0;
  // Throttling counters of both modes together (shared and local fallback).
  virtual LimiterSnapshot Snapshot() const = 0;
};

}  // namespace fs::ratelimit
