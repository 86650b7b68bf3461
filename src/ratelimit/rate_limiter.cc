#include "ratelimit/rate_limiter.h"

#include <algorithm>

#include "base/check.h"

namespace fs::ratelimit {
namespace {

std::int64_t CeilSeconds(std::int64_t millis) { return (millis + 999) / 1000; }

LimiterEvent MakeEvent(LimiterEvent::Kind kind, std::string_view reason, Tier tier,
                       const RequestIdentity& identity, const std::string& ip_key,
                       std::int64_t now_ms) {
  LimiterEvent event;
  event.kind = kind;
  event.reason = reason;
  event.tier = tier;
  event.user_id = identity.user_id;
  event.client_ip = ip_key;
  event.fingerprint = identity.fingerprint;
  event.at = base::TimeFromMillis(now_ms);
  return event;
}

// The client-facing numbers of a decision from its tightest bucket.
void FillNumbers(Decision& decision, const CheckOutcome& outcome) {
  const TierLimit& limit = decision.limit;
  decision.allowed = outcome.allowed;
  if (!outcome.allowed) {
    decision.reason = outcome.tightest;
    decision.retry_after_seconds = std::max<std::int64_t>(
        1, CeilSeconds(MillisUntil(outcome.tightest_units, kUnitsPerRequest, limit)));
  }
  decision.remaining = WholeRequests(outcome.tightest_units);
  decision.reset_seconds =
      CeilSeconds(MillisUntil(outcome.tightest_units, outcome.capacity_units, limit));
}

}  // namespace

std::string_view ThrottleReasonName(ThrottleReason reason) {
  switch (reason) {
    case ThrottleReason::kUserLimit:
      return "user_limit";
    case ThrottleReason::kIpLimit:
      return "ip_limit";
    case ThrottleReason::kFingerprintLimit:
      return "fingerprint_limit";
  }
  return "user_limit";
}

std::string_view TierReasonName(TierReason reason) {
  switch (reason) {
    case TierReason::kClaim:
      return "claim";
    case TierReason::kSuspiciousCidr:
      return "suspicious_cidr";
    case TierReason::kBotIpRate:
      return "bot_ip_rate";
    case TierReason::kBotFingerprintUsers:
      return "bot_fingerprint_users";
  }
  return "claim";
}

RateLimiter::RateLimiter(LimiterOptions options, const base::Clock& clock,
                         LimiterEventHook on_event)
    : options_(std::move(options)),
      clock_(clock),
      on_event_(std::move(on_event)),
      buckets_{LruMap<TokenBucket>(options_.entries_max), LruMap<TokenBucket>(options_.entries_max),
               LruMap<TokenBucket>(options_.entries_max)},
      ip_rates_(options_.entries_max),
      fingerprint_users_(options_.entries_max),
      flags_(options_.entries_max) {
  for (const TierLimit& limit : options_.tiers) {
    FS_CHECK(limit.requests_per_minute >= 1);
    FS_CHECK(limit.burst >= 1);
  }
  FS_CHECK(options_.fingerprint_user_ids_max >= 1);
}

void RateLimiter::Raise(const std::string& key, TierReason reason, std::int64_t now_ms) {
  Flag& flag = flags_.FindOrInsert(key, [] { return Flag{}; });
  flag.until_ms = now_ms + options_.cooldown.count();
  flag.reason = reason;
}

void RateLimiter::Detect(const RequestIdentity& identity, const std::string& ip_key,
                         std::int64_t now_ms, std::vector<LimiterEvent>& events) {
  auto detected = [&](TierReason reason) {
    events.push_back(MakeEvent(LimiterEvent::Kind::kBotDetected, TierReasonName(reason), Tier::kBot,
                               identity, ip_key, now_ms));
    detections_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  };
  RateWindow& rate = ip_rates_.FindOrInsert(ip_key, [now_ms] { return RateWindow{now_ms, 0}; });
  if (now_ms - rate.start_ms >= 1000 || now_ms < rate.start_ms) rate = RateWindow{now_ms, 0};
  ++rate.count;
  // Reported once per window (at the crossing), not on every later request.
  if (rate.count == options_.ip_requests_per_second_max + 1) {
    Raise("i:" + ip_key, TierReason::kBotIpRate, now_ms);
    detected(TierReason::kBotIpRate);
  }

  if (identity.fingerprint.empty()) return;
  UserWindow& users = fingerprint_users_.FindOrInsert(identity.fingerprint, [now_ms] {
    return UserWindow{now_ms, {}, false};
  });
  if (now_ms - users.start_ms >= options_.fingerprint_window.count() || now_ms < users.start_ms) {
    users = UserWindow{now_ms, {}, false};
  }
  const bool seen = std::find(users.user_ids.begin(), users.user_ids.end(), identity.user_id) !=
                    users.user_ids.end();
  if (seen) return;
  users.user_ids.push_back(identity.user_id);
  if (users.user_ids.size() <= options_.fingerprint_user_ids_max) return;
  // Over the threshold: the device and every account it drove in this window are bots.
  // Later new user ids keep getting flagged; the list is trimmed so it stays bounded.
  Raise("f:" + identity.fingerprint, TierReason::kBotFingerprintUsers, now_ms);
  for (const std::string& user_id : users.user_ids) {
    Raise("u:" + user_id, TierReason::kBotFingerprintUsers, now_ms);
  }
  if (!users.reported) {
    users.reported = true;
    detected(TierReason::kBotFingerprintUsers);
  }
  users.user_ids.erase(users.user_ids.begin());
}

Decision RateLimiter::EffectiveTier(const RequestIdentity& identity, const std::string& ip_key,
                                    std::int64_t now_ms) {
  Decision decision;
  decision.tier = identity.claimed_tier;
  decision.tier_reason = TierReason::kClaim;
  if (options_.suspicious_cidrs.Contains(identity.client_ip) &&
      options_.suspicious_tier < decision.tier) {
    decision.tier = options_.suspicious_tier;
    decision.tier_reason = TierReason::kSuspiciousCidr;
  }
  const std::string keys[] = {"u:" + identity.user_id, "i:" + ip_key, "f:" + identity.fingerprint};
  for (const std::string& key : keys) {
    const Flag* flag = flags_.Find(key);
    if (flag == nullptr || flag->until_ms <= now_ms) continue;
    decision.tier = Tier::kBot;
    decision.tier_reason = flag->reason;
    break;
  }
  decision.limit = options_.tiers[static_cast<std::size_t>(decision.tier)];
  return decision;
}

Decision RateLimiter::Check(const RequestIdentity& identity) {
  const std::int64_t now_ms = base::ToMillis(clock_.Now());
  const std::string ip_key = identity.client_ip.ToString();
  std::vector<LimiterEvent> events;
  Decision decision;
  {
    base::MutexLock lock(mutex_);
    Detect(identity, ip_key, now_ms, events);
    decision = EffectiveTier(identity, ip_key, now_ms);
    const TierLimit& limit = decision.limit;
    const std::string* keys[kDimensionCount] = {&identity.user_id, &ip_key, &identity.fingerprint};
    std::array<TokenBucket*, kDimensionCount> buckets{};
    std::size_t tightest = kUser;
    std::int64_t tightest_units = 0;
    std::int64_t capacity = 0;
    for (std::size_t d = 0; d < kDimensionCount; ++d) {
      buckets[d] = &buckets_[d].FindOrInsert(
          *keys[d], [&limit, now_ms] { return TokenBucket(limit, now_ms); });
      const BucketView view = buckets[d]->Refill(limit, now_ms);
      capacity = view.capacity;
      if (d == kUser || view.units < tightest_units) {
        tightest = d;
        tightest_units = view.units;
      }
    }
    CheckOutcome outcome;
    outcome.allowed = tightest_units >= kUnitsPerRequest;
    outcome.tightest = static_cast<ThrottleReason>(tightest);
    outcome.capacity_units = capacity;
    if (outcome.allowed) {
      for (TokenBucket* bucket : buckets) bucket->Take();
      tightest_units -= kUnitsPerRequest;
    }
    outcome.tightest_units = tightest_units;
    FillNumbers(decision, outcome);
  }
  Report(identity, ip_key, decision, now_ms, events);
  return decision;
}

Decision RateLimiter::Record(const RequestIdentity& identity, const CheckOutcome& outcome) {
  const std::int64_t now_ms = base::ToMillis(clock_.Now());
  const std::string ip_key = identity.client_ip.ToString();
  std::vector<LimiterEvent> events;
  for (TierReason reason : {TierReason::kBotIpRate, TierReason::kBotFingerprintUsers}) {
    if (!outcome.detected[static_cast<std::size_t>(reason)]) continue;
    detections_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
    events.push_back(MakeEvent(LimiterEvent::Kind::kBotDetected, TierReasonName(reason), Tier::kBot,
                               identity, ip_key, now_ms));
  }
  Decision decision;
  decision.tier = outcome.tier;
  decision.tier_reason = outcome.tier_reason;
  decision.limit = options_.tiers[static_cast<std::size_t>(outcome.tier)];
  FillNumbers(decision, outcome);
  Report(identity, ip_key, decision, now_ms, events);
  return decision;
}

void RateLimiter::Report(const RequestIdentity& identity, const std::string& ip_key,
                         const Decision& decision, std::int64_t now_ms,
                         std::vector<LimiterEvent>& events) {
  if (!decision.allowed) {
    throttled_[static_cast<std::size_t>(decision.reason)][static_cast<std::size_t>(decision.tier)]
        .fetch_add(1, std::memory_order_relaxed);
    events.push_back(MakeEvent(LimiterEvent::Kind::kThrottled, ThrottleReasonName(decision.reason),
                               decision.tier, identity, ip_key, now_ms));
  }
  if (on_event_) {
    for (const LimiterEvent& event : events) on_event_(event);
  }
}

LimiterSnapshot RateLimiter::Snapshot() const {
  LimiterSnapshot snapshot;
  for (std::size_t r = 0; r < kThrottleReasonCount; ++r) {
    for (std::size_t t = 0; t < kTierCount; ++t) {
      snapshot.throttled[r][t] = throttled_[r][t].load(std::memory_order_relaxed);
    }
  }
  for (std::size_t r = 0; r < kTierReasonCount; ++r) {
    snapshot.detections[r] = detections_[r].load(std::memory_order_relaxed);
  }
  base::MutexLock lock(mutex_);
  for (const auto& map : buckets_) {
    snapshot.tracked_identities += map.size();
    snapshot.evictions += map.evictions();
  }
  return snapshot;
}

}  // namespace fs::ratelimit
