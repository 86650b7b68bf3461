// RedisServices: everything a node keeps in Redis (--redis), behind http::SharedState:
//   * shared rate limits (SharedRateLimiter; falls back to the node's local buckets);
//   * the availability cache: key fs:avail:<sku> = "total:held:sold", PX 5 s as a safety net,
//     DELeted after every committed batch that changed the SKU (OnSkusChanged, the engine's
//     writer thread), refilled on a miss from the node's published state. Used only when
//     `availability_cache` is on (cluster mode); a single node reads its published state;
//   * the idempotency fast path: SET fs:idem:<user>\n<key> NX PX 24 h before a reserve reaches
//     the writer, giving the command a core::IdempotencyHint (see docs/architecture.md for
//     exactly what it does and does not guarantee);
//   * health for /readyz and the flashsale_redis_* metrics.
//
// Ordering: one connection per node keeps its commands in FIFO order. The engine publishes a
// batch's state before it calls OnSkusChanged, and a refill reads the published state and
// queues its SET under the same mutex as the DEL is queued, so a refill can never put back a
// value older than this node's last DEL. After a DEL could not be sent (Redis down), the
// cache is bypassed for one TTL so a value the DEL should have removed is never served.
//
// Thread-safety: every public method is safe from any thread; OnSkusChanged never blocks on
// Redis (it only queues a command).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/thread_annotations.h"
#include "http/shared_state.h"
#include "metrics/prometheus.h"
#include "ratelimit/rate_limiter.h"
#include "redis/redis_client.h"
#include "redis/shared_rate_limiter.h"

namespace fs::redis {

enum class AvailabilityCacheMode : std::uint8_t { kOff, kOn };

struct ServicesOptions {
  ClientOptions client;
  AvailabilityCacheMode availability_cache = AvailabilityCacheMode::kOff;
  // Cached availability lives at most this long even if a DEL is lost: the 5 s.
  std::chrono::milliseconds availability_ttl{5000};
  // Idempotency keys are kept as long as the writer keeps them (engine::Options).
  std::chrono::milliseconds idempotency_ttl{std::chrono::hours(24)};
};

// The node's published counters of a SKU; nullopt for an unknown SKU.
using PublishedCounters = std::function<std::optional<core::StockCounters>(const std::string&)>;

class RedisServices final : public http::SharedState {
 public:
  // Starts the client (connecting in the background). `local_limiter` may be nullptr (rate
  // limiting off): then no shared limiter exists. REQUIRES: `clock` and `local_limiter`
  // outlive this object.
  RedisServices(ServicesOptions options, ratelimit::RateLimiter* local_limiter,
                const base::Clock& clock);
  ~RedisServices() override;

  // Where refills read from. REQUIRES: called once, before any read is served.
  void SetPublishedCounters(PublishedCounters published) { published_ = std::move(published); }
  // The shared limiter, or nullptr when rate limiting is off.
  ratelimit::AsyncLimiter* limiter() { return limiter_.get(); }

  // The engine's hook after a committed batch: deletes the cached availability of `sku_ids`.
  void OnSkusChanged(const std::vector<std::string>& sku_ids);

  // Finishes queued commands and stops the client. Call after the engine stopped.
  void Stop() { client_.Stop(); }

  // http::SharedState
  bool cache_enabled() const override {
    return options_.availability_cache == AvailabilityCacheMode::kOn;
  }
  void GetCounters(const std::string& sku_id,
                   std::function<void(std::optional<core::StockCounters>)> done) override;
  void ClaimIdempotencyKey(const std::string& user_id, const std::string& key,
                           std::function<void(core::IdempotencyHint)> done) override;
  bool up() const override { return client_.health() == Health::kUp; }
  std::string RenderMetrics() const override;

  const RedisClient& client() const { return client_; }

 private:
  // Reads the published counters and queues their SET (under refill_mutex_).
  std::optional<core::StockCounters> Refill(const std::string& sku_id);
  bool CacheBypassed() const;

  const ServicesOptions options_;
  RedisClient client_;
  std::unique_ptr<SharedRateLimiter> limiter_;
  PublishedCounters published_;
  base::Mutex refill_mutex_;  // orders refill SETs against DELs (see the header comment)
  // steady_clock nanoseconds until which cached values are not trusted (a DEL was lost).
  std::atomic<std::int64_t> bypass_until_nanos_{0};

  metrics::Counter cache_hits_;
  metrics::Counter cache_misses_;
  metrics::Counter cache_errors_;  // Redis down or failed: answered from published state
  metrics::Counter invalidations_sent_;
  metrics::Counter invalidations_failed_;
  metrics::Counter idempotency_first_seen_;
  metrics::Counter idempotency_seen_;
  metrics::Counter idempotency_unknown_;
};

// "total:held:sold" and back (the cached value). nullopt for anything else.
std::string EncodeCounters(const core::StockCounters& counters);
std::optional<core::StockCounters> DecodeCounters(std::string_view text);

}  // namespace fs::redis
