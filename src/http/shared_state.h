// SharedState: what the HTTP layer asks of the state shared by all nodes (Redis, see
// src/redis/redis_services.h): the availability cache, the idempotency fast path, and whether
// that shared state is reachable (/readyz says "degraded" when it is not). The HTTP layer sees
// only this interface, so it never depends on a Redis client.
// Thread-safety: implementations are safe from any thread. Callbacks run exactly once, on any
// thread, and must not block: post the answer to the caller's executor.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/inventory.h"
#include "core/types.h"

namespace fs::http {

class SharedState {
 public:
  virtual ~SharedState() = default;

  // True in cluster mode (--redis-cache): availability reads go through the cache and keyed
  // reserves claim their key first. False: the node's published state is the fast path, the
  // writer's records decide idempotency alone, and neither is asked of Redis.
  virtual bool cache_enabled() const = 0;
  // The counters of `sku_id` from the cache; on a miss, the node's published counters (which
  // refill the cache). nullopt on an error, while Redis is down, or for an unknown SKU: the
  // caller answers from its own published state.
  virtual void GetCounters(const std::string& sku_id,
                           std::function<void(std::optional<core::StockCounters>)> done) = 0;

  // Marks `user_id`'s `key` as seen (SET NX with a 24 h TTL) and says whether it was new.
  // kUnknown when Redis is down or failed: the writer then decides as if there were no hint.
  virtual void ClaimIdempotencyKey(const std::string& user_id, const std::string& key,
                                   std::function<void(core::IdempotencyHint)> done) = 0;

  // False while Redis is unreachable: the node serves from local state and says so.
  virtual bool up() const = 0;
  // Prometheus series of the shared state (flashsale_redis_*, cache, fast path, fallback).
  virtual std::string RenderMetrics() const = 0;
};

}  // namespace fs::http
