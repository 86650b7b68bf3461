// The bounded side channel that brings the fairness layer's decisions into the audit trail:
// reserve attempts the rate limiter refused (429 RATE_LIMITED, outcome THROTTLED) and bot
// detections (BOT_DETECTED). They are decided on the HTTP threads, before the writer, and are
// written by the writer in its next batch, inside the chain (never after, never beside it).
//
// A bot flood can be 100k throttled requests a second, more than the writer can afford to
// write one by one, so everything is bounded and nothing disappears silently:
//   * at most `individual_per_second_max` events a second (by the event's own time) and at
//     most `queue_capacity` waiting are kept as individual events;
//   * the rest are counted exactly per (kind, identity, SKU, reason, tier) into an aggregate,
//     written as ONE event with {"count":N,"first_at_ms":..,"last_at_ms":..} once it is
//     `aggregate_interval` old; at most `aggregates_max` identities are tracked, beyond that
//     the count goes to an aggregate without identity (per kind, reason and tier);
//   * the writer takes at most `events_per_batch_max` individual events and as many due
//     aggregates per batch.
// So the counts of the THROTTLED events (1 for an individual event) add up to the 429s
// answered, and the writer writes at most about individual_per_second_max +
// aggregates_max / aggregate_interval fairness events a second whatever the flood.
//
// Thread-safety: Offer() from any thread (a short mutex around a deque push or a hash-map
// update; it never waits for the writer). Drain() from the
// writer thread only. stats() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/thread_annotations.h"
#include "core/audit.h"

namespace fs::engine {

// One decision of the fairness layer, as the HTTP layer saw it.
struct FairnessEvent {
  enum class Kind : std::uint8_t {
    kThrottled,    // a reserve attempt answered 429 RATE_LIMITED
    kBotDetected,  // an identity was moved to the bot tier
  };
  Kind kind = Kind::kThrottled;
  std::string user_id;
  std::optional<std::string> sku_id;  // the SKU asked for (throttled reserves)
  std::string client_ip;
  std::string device_fingerprint;
  std::string reason;  // the limiter's reason, e.g. "user_limit", "bot_ip_rate"
  std::string tier;    // the tier the identity was judged at, e.g. "normal", "bot"
  base::Time at{};
  // The attempt's X-Request-Id (throttled reserves), in an individual event's metadata; an
  // aggregate names none (it stands for many requests).
  std::string request_id{};
};

// Attempts counted together because they came faster than they could be written one by one.
struct FairnessAggregate {
  FairnessEvent sample;  // identity fields empty (and sku absent) when unattributed
  std::int64_t count = 0;
  base::Time first_at{};
  base::Time last_at{};
};

struct FairnessAuditOptions {
  // Individual events accepted per second of event time. An honest client is throttled a
  // handful of times a second; 1000 keeps every one of them individually while a flood
  // costs the writer at most ~1000 rows a second (~5 ms of its time).
  std::size_t individual_per_second_max = 1000;
  // Individual events waiting for the writer at most (~300 bytes each): a stalled writer
  // (slow disk) turns the excess into aggregates instead of growing memory.
  std::size_t queue_capacity = 4096;
  // Distinct identities counted in aggregates at most (~400 bytes each).
  std::size_t aggregates_max = 4096;
  // Individual events, and separately due aggregates, written per batch at most, so one batch
  // never carries more than 2 x this many fairness rows next to its own work.
  std::size_t events_per_batch_max = 256;
  // An aggregate is written once its first attempt is this old: one row per flooding
  // identity per interval.
  std::chrono::milliseconds aggregate_interval{1000};
};

struct FairnessAuditStats {
  std::atomic<std::uint64_t> offered{0};       // every Offer()
  std::atomic<std::uint64_t> aggregated{0};    // counted into an aggregate, not kept alone
  std::atomic<std::uint64_t> unattributed{0};  // of those: identity dropped (map full)
};

// What one batch writes.
struct FairnessDrain {
  std::vector<FairnessEvent> events;
  std::vector<FairnessAggregate> aggregates;
  bool empty() const { return events.empty() && aggregates.empty(); }
};

enum class DrainScope : std::uint8_t {
  kDue,  // up to the per-batch bounds; aggregates only once aggregate_interval old
  kAll,  // everything (shutdown)
};

class FairnessAuditChannel {
 public:
  explicit FairnessAuditChannel(FairnessAuditOptions options);

  void Offer(FairnessEvent event);
  FairnessDrain Drain(base::Time now, DrainScope scope);
  bool empty() const;
  const FairnessAuditStats& stats() const { return stats_; }
  const FairnessAuditOptions& options() const { return options_; }

 private:
  void Aggregate(FairnessEvent event) REQUIRES(mutex_);

  const FairnessAuditOptions options_;
  FairnessAuditStats stats_;
  mutable base::Mutex mutex_;
  std::deque<FairnessEvent> queue_ GUARDED_BY(mutex_);
  std::int64_t window_second_ GUARDED_BY(mutex_) = 0;
  std::size_t window_count_ GUARDED_BY(mutex_) = 0;
  std::unordered_map<std::string, FairnessAggregate> aggregates_ GUARDED_BY(mutex_);
  std::deque<std::string> aggregate_order_ GUARDED_BY(mutex_);  // keys, oldest first
};

// The audit events (not yet chained) for what a batch drained: individual events first, in
// arrival order, then the aggregates. Format in docs/storage.md ("THROTTLED and BOT_DETECTED").
std::vector<core::AuditEvent> FairnessAuditEvents(const FairnessDrain& drain);

}  // namespace fs::engine
