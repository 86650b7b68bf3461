#include "engine/fairness_audit.h"

#include <utility>

#include "base/check.h"

namespace fs::engine {
namespace {

// The error code a throttled attempt was answered with: a refusal's failure_reason is its
// error code; the limiter's own reason and the tier go to the metadata.
constexpr std::string_view kThrottledFailureReason = "RATE_LIMITED";

void AppendKeyPart(std::string& key, std::string_view part) {
  key += std::to_string(part.size());
  key += ':';
  key += part;
}

// Length-prefixed, so no two identities share a key whatever bytes they hold.
std::string AggregateKey(const FairnessEvent& event) {
  std::string key;
  key.reserve(32 + event.user_id.size() + event.client_ip.size() + event.device_fingerprint.size() +
              event.reason.size() + event.tier.size());
  key += event.kind == FairnessEvent::Kind::kThrottled ? 'T' : 'B';
  AppendKeyPart(key, event.reason);
  AppendKeyPart(key, event.tier);
  AppendKeyPart(key, event.user_id);
  if (event.sku_id) AppendKeyPart(key, *event.sku_id);
  key += '|';
  AppendKeyPart(key, event.client_ip);
  AppendKeyPart(key, event.device_fingerprint);
  return key;
}

std::optional<std::string> UnlessEmpty(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return text;
}

core::AuditEvent EventOf(const FairnessEvent& event, core::AuditMetadata& metadata, base::Time at) {
  core::AuditEvent out;
  if (event.kind == FairnessEvent::Kind::kThrottled) {
    out.type = core::AuditEventType::kReserveAttempt;
    out.outcome = core::AuditOutcome::kThrottled;
    out.failure_reason = std::string(kThrottledFailureReason);
  } else {
    out.type = core::AuditEventType::kBotDetected;
    out.outcome = core::AuditOutcome::kSuccess;
  }
  out.user_id = UnlessEmpty(event.user_id);
  out.sku_id = event.sku_id;
  out.occurred_at = at;
  out.client_ip = UnlessEmpty(event.client_ip);
  out.device_fingerprint = UnlessEmpty(event.device_fingerprint);
  out.metadata = metadata.Build();
  return out;
}

}  // namespace

FairnessAuditChannel::FairnessAuditChannel(FairnessAuditOptions options) : options_(options) {
  FS_CHECK(options_.events_per_batch_max >= 1);
  FS_CHECK(options_.aggregates_max >= 1);
}

void FairnessAuditChannel::Offer(FairnessEvent event) {
  stats_.offered.fetch_add(1, std::memory_order_relaxed);
  const std::int64_t second = base::ToMillis(event.at) / 1000;
  base::MutexLock lock(mutex_);
  if (second > window_second_) {  // threads may race across a second: never go back
    window_second_ = second;
    window_count_ = 0;
  }
  if (window_count_ < options_.individual_per_second_max &&
      queue_.size() < options_.queue_capacity) {
    ++window_count_;
    queue_.push_back(std::move(event));
    return;
  }
  Aggregate(std::move(event));
}

void FairnessAuditChannel::Aggregate(FairnessEvent event) {
  stats_.aggregated.fetch_add(1, std::memory_order_relaxed);
  const base::Time at = event.at;
  std::string key = AggregateKey(event);
  auto it = aggregates_.find(key);
  if (it == aggregates_.end() && aggregates_.size() >= options_.aggregates_max) {
    // Too many identities to tell apart: still counted, per kind, reason and tier (a bounded
    // set of keys, so the map outgrows aggregates_max by at most a few dozen entries).
    stats_.unattributed.fetch_add(1, std::memory_order_relaxed);
    event.user_id.clear();
    event.sku_id.reset();
    event.client_ip.clear();
    event.device_fingerprint.clear();
    key = AggregateKey(event);
    it = aggregates_.find(key);
  }
  if (it == aggregates_.end()) {
    it = aggregates_.emplace(key, FairnessAggregate{std::move(event), 0, at, at}).first;
    aggregate_order_.push_back(std::move(key));
  }
  FairnessAggregate& aggregate = it->second;
  ++aggregate.count;
  if (at < aggregate.first_at) aggregate.first_at = at;
  if (at > aggregate.last_at) aggregate.last_at = at;
}

FairnessDrain FairnessAuditChannel::Drain(base::Time now, DrainScope scope) {
  const bool all = scope == DrainScope::kAll;
  const std::size_t bound = all ? SIZE_MAX : options_.events_per_batch_max;
  FairnessDrain drain;
  base::MutexLock lock(mutex_);
  while (!queue_.empty() && drain.events.size() < bound) {
    drain.events.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  while (!aggregate_order_.empty() && drain.aggregates.size() < bound) {
    auto it = aggregates_.find(aggregate_order_.front());
    FS_CHECK(it != aggregates_.end());
    const bool due = it->second.first_at + options_.aggregate_interval <= now;
    if (!all && !due) break;  // the order is by opening time: the rest are younger
    drain.aggregates.push_back(std::move(it->second));
    aggregates_.erase(it);
    aggregate_order_.pop_front();
  }
  return drain;
}

bool FairnessAuditChannel::empty() const {
  base::MutexLock lock(mutex_);
  return queue_.empty() && aggregates_.empty();
}

std::vector<core::AuditEvent> FairnessAuditEvents(const FairnessDrain& drain) {
  std::vector<core::AuditEvent> out;
  out.reserve(drain.events.size() + drain.aggregates.size());
  for (const FairnessEvent& event : drain.events) {
    core::AuditMetadata metadata;
    metadata.Add("reason", event.reason).Add("tier", event.tier);
    if (!event.request_id.empty()) metadata.Add("request_id", event.request_id);
    out.push_back(EventOf(event, metadata, event.at));
  }
  for (const FairnessAggregate& aggregate : drain.aggregates) {
    core::AuditMetadata metadata;
    metadata.Add("reason", aggregate.sample.reason)
        .Add("tier", aggregate.sample.tier)
        .Add("count", aggregate.count)
        .Add("first_at_ms", base::ToMillis(aggregate.first_at))
        .Add("last_at_ms", base::ToMillis(aggregate.last_at));
    out.push_back(EventOf(aggregate.sample, metadata, aggregate.last_at));
  }
  return out;
}

}  // namespace fs::engine
