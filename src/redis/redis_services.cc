#include "redis/redis_services.h"

#include <charconv>
#include <initializer_list>

#include "log/log_output.h"

namespace fs::redis {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kAvailabilityPrefix = "fs:avail:";
constexpr std::string_view kIdempotencyPrefix = "fs:idem:";

std::string AvailabilityKey(const std::string& sku_id) {
  return std::string(kAvailabilityPrefix) + sku_id;
}

std::int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

void LogHealth(const RedisUrl& url, Health health, const base::Status& reason) {
  if (health == Health::kUp) {
    log::Logger("redis")->info(
        "redis {} up: shared rate limits, availability cache and idempotency fast path "
        "in use",
        url.ToString());
    return;
  }
  log::Logger("redis")->warn(
      "redis {} down ({}): rate limits fall back to this node's local buckets, "
      "availability is read from local state, the idempotency fast path is skipped "
      "(the database stays the truth); reconnecting in the background",
      url.ToString(), reason.message());
}

void WriteCounter(metrics::TextWriter& writer, std::string_view name, std::string_view help,
                  const metrics::Counter& counter) {
  writer.Family(name, help, metrics::MetricType::kCounter);
  writer.SampleUnsigned(name, {}, counter.value());
}

struct ResultCounter {
  std::string_view result;
  const metrics::Counter* counter;
};

// One counter family with a `result` label.
void WriteByResult(metrics::TextWriter& writer, std::string_view name, std::string_view help,
                   std::initializer_list<ResultCounter> counters) {
  writer.Family(name, help, metrics::MetricType::kCounter);
  for (const ResultCounter& entry : counters) {
    writer.SampleUnsigned(name, {{"result", entry.result}}, entry.counter->value());
  }
}

}  // namespace

std::string EncodeCounters(const core::StockCounters& counters) {
  return std::to_string(counters.total) + ":" + std::to_string(counters.held) + ":" +
         std::to_string(counters.sold);
}

std::optional<core::StockCounters> DecodeCounters(std::string_view text) {
  std::int64_t values[3] = {};
  const char* cursor = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (cursor == end || *cursor != ':') return std::nullopt;
      ++cursor;
    }
    const auto [next, error] = std::from_chars(cursor, end, values[i]);
    if (error != std::errc() || next == cursor || values[i] < 0) return std::nullopt;
    cursor = next;
  }
  if (cursor != end) return std::nullopt;
  // held + sold <= total, checked without computing the sum or available(): each value may be
  // up to INT64_MAX, and a value from Redis must not overflow the subtraction.
  if (values[1] > values[0] || values[2] > values[0] - values[1]) return std::nullopt;
  return core::StockCounters{values[0], values[1], values[2]};
}

RedisServices::RedisServices(ServicesOptions options, ratelimit::RateLimiter* local_limiter,
                             const base::Clock& clock)
    : options_(std::move(options)),
      client_(options_.client, {&SharedRateLimiter::CheckScript()},
              [url = options_.client.url](Health health, const base::Status& reason) {
                LogHealth(url, health, reason);
              }) {
  if (local_limiter != nullptr) {
    limiter_ = std::make_unique<SharedRateLimiter>(client_, *local_limiter, clock);
  }
}

RedisServices::~RedisServices() { client_.Stop(); }

bool RedisServices::CacheBypassed() const {
  return SteadyNanos() < bypass_until_nanos_.load(std::memory_order_acquire);
}

void RedisServices::OnSkusChanged(const std::vector<std::string>& sku_ids) {
  if (!cache_enabled() || sku_ids.empty()) return;
  std::vector<std::string> argv;
  argv.reserve(sku_ids.size() + 1);
  argv.push_back("DEL");
  for (const std::string& sku_id : sku_ids) argv.push_back(AvailabilityKey(sku_id));
  base::MutexLock lock(refill_mutex_);
  client_.Execute(std::move(argv), [this](base::Result<Reply> reply) {
    if (reply && !reply->is_error()) return invalidations_sent_.Increment();
    invalidations_failed_.Increment();
    // The key may still hold the old value: do not trust the cache until it has expired.
    const std::int64_t until =
        SteadyNanos() +
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_.availability_ttl).count();
    bypass_until_nanos_.store(until, std::memory_order_release);
  });
}

std::optional<core::StockCounters> RedisServices::Refill(const std::string& sku_id) {
  FS_CHECK(published_ != nullptr);
  base::MutexLock lock(refill_mutex_);
  std::optional<core::StockCounters> counters = published_(sku_id);
  if (!counters) return std::nullopt;
  client_.Execute({"SET", AvailabilityKey(sku_id), EncodeCounters(*counters), "PX",
                   std::to_string(options_.availability_ttl.count())},
                  [](const base::Result<Reply>&) {});  // a lost refill is only a later miss
  return counters;
}

void RedisServices::GetCounters(const std::string& sku_id,
                                std::function<void(std::optional<core::StockCounters>)> done) {
  if (!cache_enabled() || client_.health() == Health::kDown || CacheBypassed()) {
    cache_errors_.Increment();
    return done(std::nullopt);
  }
  client_.Execute({"GET", AvailabilityKey(sku_id)},
                  [this, sku_id, done = std::move(done)](base::Result<Reply> reply) {
                    if (!reply || reply->is_error()) {
                      cache_errors_.Increment();
                      return done(std::nullopt);
                    }
                    if (reply->type == Reply::Type::kString) {
                      if (auto counters = DecodeCounters(reply->text)) {
                        cache_hits_.Increment();
                        return done(counters);
                      }
                    }
                    cache_misses_.Increment();
                    done(Refill(sku_id));
                  });
}

void RedisServices::ClaimIdempotencyKey(const std::string& user_id, const std::string& key,
                                        std::function<void(core::IdempotencyHint)> done) {
  if (client_.health() == Health::kDown) {
    idempotency_unknown_.Increment();
    return done(core::IdempotencyHint::kUnknown);
  }
  // The same scoping as the writer's map: user id, newline, key.
  client_.Execute({"SET", std::string(kIdempotencyPrefix) + user_id + "\n" + key, "1", "NX", "PX",
                   std::to_string(options_.idempotency_ttl.count())},
                  [this, done = std::move(done)](base::Result<Reply> reply) {
                    if (!reply || reply->is_error()) {
                      idempotency_unknown_.Increment();
                      return done(core::IdempotencyHint::kUnknown);
                    }
                    if (reply->is_nil()) {
                      idempotency_seen_.Increment();
                      return done(core::IdempotencyHint::kSeenBefore);
                    }
                    idempotency_first_seen_.Increment();
                    done(core::IdempotencyHint::kFirstSeen);
                  });
}

std::string RedisServices::RenderMetrics() const {
  metrics::TextWriter writer;
  const ClientStats& stats = client_.stats();
  writer.Family("flashsale_redis_up", "1 while the node's Redis connection is up.",
                metrics::MetricType::kGauge);
  writer.SampleUnsigned("flashsale_redis_up", {}, up() ? 1 : 0);
  WriteCounter(writer, "flashsale_redis_commands_total", "Redis commands answered.",
               stats.commands);
  WriteCounter(writer, "flashsale_redis_errors_total",
               "Redis commands failed: down, timeout, I/O error, full queue or error reply.",
               stats.errors);
  WriteCounter(writer, "flashsale_redis_reconnects_total",
               "Connections to Redis made after the first.", stats.reconnects);
  WriteCounter(writer, "flashsale_redis_script_reloads_total",
               "EVALSHA answered NOSCRIPT and retried after SCRIPT LOAD.", stats.script_reloads);
  writer.Family("flashsale_redis_command_latency_seconds",
                "Redis command latency, from queueing to the reply.",
                metrics::MetricType::kHistogram);
  writer.HistogramSamples("flashsale_redis_command_latency_seconds", stats.latency.Read());
  writer.Family("flashsale_ratelimit_fallback_total",
                "Rate-limit checks decided by the node's local buckets because Redis was down "
                "or failed.",
                metrics::MetricType::kCounter);
  writer.SampleUnsigned("flashsale_ratelimit_fallback_total", {},
                        limiter_ ? limiter_->fallbacks() : 0);
  WriteByResult(writer, "flashsale_availability_cache_total",
                "Availability reads through the Redis cache: hit, miss (refilled from the "
                "node's state) or error (Redis down or failed; answered from the node's state).",
                {{"hit", &cache_hits_}, {"miss", &cache_misses_}, {"error", &cache_errors_}});
  WriteByResult(writer, "flashsale_availability_cache_invalidations_total",
                "DELs of cached availability after committed batches, by result.",
                {{"sent", &invalidations_sent_}, {"failed", &invalidations_failed_}});
  WriteByResult(writer, "flashsale_idempotency_fast_path_total",
                "Idempotency-Keys claimed in Redis (SET NX) before the writer: first_seen, seen "
                "(a duplicate: the writer replays) or unknown (Redis down or failed).",
                {{"first_seen", &idempotency_first_seen_},
                 {"seen", &idempotency_seen_},
                 {"unknown", &idempotency_unknown_}});
  return writer.Take();
}

}  // namespace fs::redis
