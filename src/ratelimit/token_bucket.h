// A token bucket in exact integer arithmetic, and a bounded LRU map of keyed state.
//
// Tokens are counted in units of 1/60000 request: a bucket refilling at R requests per
// minute gains exactly R units per millisecond, so refill never rounds and never drifts.
// The rate is passed on every call rather than stored, so an identity whose tier changes
// (detected as a bot, cool-down over) keeps its bucket and is judged at the new rate at once.
//
// Thread-safety: TokenBucket and LruMap are plain values, not synchronized; the owner
// (RateLimiter) guards them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

#include "base/check.h"
#include "ratelimit/tiers.h"

namespace fs::ratelimit {

inline constexpr std::int64_t kUnitsPerRequest = 60'000;  // ms per minute

struct BucketView {
  std::int64_t units = 0;     // after refill, before taking
  std::int64_t capacity = 0;  // burst * kUnitsPerRequest
};

class TokenBucket {
 public:
  // A new bucket starts full: the first burst of a newcomer is allowed.
  TokenBucket(const TierLimit& limit, std::int64_t now_ms)
      : units_(limit.burst * kUnitsPerRequest), updated_ms_(now_ms) {}

  // Refills up to the limit's capacity for the time since the last call. Time going
  // backwards (a clock step) refills nothing rather than draining.
  BucketView Refill(const TierLimit& limit, std::int64_t now_ms) {
    const std::int64_t capacity = limit.burst * kUnitsPerRequest;
    if (now_ms > updated_ms_) {
      const std::int64_t elapsed_ms = now_ms - updated_ms_;
      // Capped before multiplying: elapsed * rate could overflow after years of idleness.
      const std::int64_t gain =
          elapsed_ms >= kUnitsPerRequest * 60 ? capacity : elapsed_ms * limit.requests_per_minute;
      units_ = std::min(capacity, units_ + gain);
      updated_ms_ = now_ms;
    }
    // A lowered tier shrinks the capacity: excess tokens go at once.
    units_ = std::min(units_, capacity);
    return {units_, capacity};
  }
  // REQUIRES: Refill() was just called and showed at least one request's worth.
  void Take() {
    FS_CHECK(units_ >= kUnitsPerRequest);
    units_ -= kUnitsPerRequest;
  }
  std::int64_t units() const { return units_; }

 private:
  std::int64_t units_;
  std::int64_t updated_ms_;
};

// Whole requests left in a view.
inline std::int64_t WholeRequests(std::int64_t units) { return units / kUnitsPerRequest; }
// Milliseconds until `units` reach `target_units` at `limit`'s rate (0 when already there).
inline std::int64_t MillisUntil(std::int64_t units, std::int64_t target_units,
                                const TierLimit& limit) {
  if (units >= target_units) return 0;
  const std::int64_t missing = target_units - units;
  return (missing + limit.requests_per_minute - 1) / limit.requests_per_minute;
}

// A map with a fixed maximum size that evicts the least recently used entry to make room.
// Every client-keyed map of the limiter is one of these: memory stays bounded whatever
// number of identities an attacker invents. Evicting a bucket forgets its debt, so the
// maximum must comfortably exceed the identities active within a refill period.
template <typename Value>
class LruMap {
 public:
  explicit LruMap(std::size_t entries_max) : entries_max_(entries_max) {
    FS_CHECK(entries_max_ > 0);
  }

  // The value for `key`, marked most recently used; nullptr when absent.
  Value* Find(const std::string& key) {
    auto found = map_.find(key);
    if (found == map_.end()) return nullptr;
    order_.splice(order_.begin(), order_, found->second.position);
    return &found->second.value;
  }
  // The value for `key`, inserted from `make()` (evicting the oldest entry when full).
  template <typename Make>
  Value& FindOrInsert(const std::string& key, Make make) {
    if (Value* value = Find(key)) return *value;
    if (map_.size() >= entries_max_) {
      map_.erase(order_.back());
      order_.pop_back();
      ++evictions_;
    }
    order_.push_front(key);
    auto [it, inserted] = map_.emplace(key, Entry{make(), order_.begin()});
    FS_CHECK(inserted);
    return it->second.value;
  }
  std::size_t size() const { return map_.size(); }
  std::size_t entries_max() const { return entries_max_; }
  std::uint64_t evictions() const { return evictions_; }

 private:
  struct Entry {
    Value value;
    std::list<std::string>::iterator position;
  };
  std::size_t entries_max_;
  std::list<std::string> order_;  // most recently used first
  std::unordered_map<std::string, Entry> map_;
  std::uint64_t evictions_ = 0;
};

}  // namespace fs::ratelimit
