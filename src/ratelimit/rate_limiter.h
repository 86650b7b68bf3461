// RateLimiter: the per-request admission decision of the fairness layer. Each request is
// charged to three token buckets at once (user id, client IP, device fingerprint); it passes
// only if all three have a whole token, and then one token is taken from each. A refused
// request takes nothing (it "changes nothing"), so a throttled client's wait is predictable.
//
// Every identity is judged at its *effective tier*: the JWT tier claim (default normal),
// lowered to --suspicious-tier when the client IP is in a suspicious CIDR (VPN/proxy ranges),
// and to bot while any of its identities is flagged. Flags come from detection, which sees
// every checked request:
//   * an IP sending more than `ip_requests_per_second_max` requests within one second;
//   * a fingerprint used for more than `fingerprint_user_ids_max` distinct user ids within
//     `fingerprint_window` (one device driving many accounts);
// and last `cooldown` (the IP / the fingerprint and every user id seen with it).
//
// Memory: every client-keyed map is an LruMap of `entries_max` entries (see token_bucket.h).
// Time comes from the injected clock; nothing here does I/O.
//
// Every decision that throttles, and every detection, is reported to the `on_event` hook
// (the audit trail attaches here; the app logs it) and counted (flashsale_throttled_total,
// flashsale_bot_detections_total).
//
// Thread-safety: Check() and Snapshot() are safe from any thread (one internal mutex; the
// critical section is a few hash lookups). `on_event` runs on the calling thread, outside the
// lock, and must not block.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/thread_annotations.h"
#include "ratelimit/client_identity.h"
#include "ratelimit/tiers.h"
#include "ratelimit/token_bucket.h"

namespace fs::ratelimit {

// Which bucket ran out. Metric label values; append-only.
enum class ThrottleReason : std::uint8_t { kUserLimit = 0, kIpLimit = 1, kFingerprintLimit = 2 };
inline constexpr std::size_t kThrottleReasonCount = 3;
std::string_view ThrottleReasonName(ThrottleReason reason);

// Why an identity has the tier it has. Metric label values; append-only.
enum class TierReason : std::uint8_t {
  kClaim = 0,                // the JWT tier claim or the default
  kSuspiciousCidr = 1,       // client IP in --suspicious-cidrs
  kBotIpRate = 2,            // detection: the IP exceeded the per-second rate
  kBotFingerprintUsers = 3,  // detection: the fingerprint drove too many user ids
};
inline constexpr std::size_t kTierReasonCount = 4;
std::string_view TierReasonName(TierReason reason);

struct LimiterOptions {
  TierTable tiers = DefaultTierTable();
  // Entries per client-keyed map (each of: user, IP and fingerprint buckets; flags; detection
  // windows). 100k identities active within a refill period is far beyond one node's
  // legitimate audience; each entry is ~150 bytes, so all maps together stay under ~100 MiB.
  std::size_t entries_max = 100'000;
  // Detection: an IP sending more than this many requests within one second is a bot. The
  // issue fixes 100/s; a large NAT of humans does not click 100 times a second.
  std::int64_t ip_requests_per_second_max = 100;
  // Detection: a fingerprint used for more than this many user ids within the window.
  // A shared family device may log in as 2-3 people; 5 in 10 s is a script.
  std::size_t fingerprint_user_ids_max = 5;
  std::chrono::milliseconds fingerprint_window{10'000};
  // How long a detected identity stays in the bot tier.
  std::chrono::milliseconds cooldown{300'000};
  // Client IPs in these ranges are judged at `suspicious_tier` at most.
  CidrList suspicious_cidrs;
  Tier suspicious_tier = Tier::kNew;
};

struct RequestIdentity {
  std::string user_id;
  IpAddress client_ip;
  std::string fingerprint;
  Tier claimed_tier = Tier::kNormal;
};

struct Decision {
  bool allowed = true;
  Tier tier = Tier::kNormal;
  TierReason tier_reason = TierReason::kClaim;
  ThrottleReason reason = ThrottleReason::kUserLimit;  // meaningful when !allowed
  TierLimit limit;                                     // of `tier`
  std::int64_t remaining = 0;                          // whole requests left in the tightest bucket
  std::int64_t reset_seconds = 0;                      // until the tightest bucket is full again
  std::int64_t retry_after_seconds = 0;  // when refused: until one request is allowed (>= 1)
};

// Reported to the hook: a throttled request or a detection.
struct LimiterEvent {
  enum class Kind : std::uint8_t { kThrottled, kBotDetected };
  Kind kind = Kind::kThrottled;
  std::string_view reason;  // ThrottleReasonName (throttled) or TierReasonName (detected)
  Tier tier = Tier::kNormal;
  std::string_view user_id;
  std::string client_ip;
  std::string_view fingerprint;
  base::Time at{};
};
using LimiterEventHook = std::function<void(const LimiterEvent&)>;

struct LimiterSnapshot {
  // throttled[reason][tier]
  std::array<std::array<std::uint64_t, kTierCount>, kThrottleReasonCount> throttled{};
  std::array<std::uint64_t, kTierReasonCount> detections{};  // kBotIpRate, kBotFingerprintUsers
  std::size_t tracked_identities = 0;                        // buckets in all three maps
  std::uint64_t evictions = 0;
};

// One check's outcome as plain numbers: what Check() computes under its lock, and what the
// shared (cross-node) buckets compute atomically in Redis (src/redis/shared_rate_limiter.h),
// so both modes answer with the same Decision, metrics and events.
struct CheckOutcome {
  bool allowed = false;
  Tier tier = Tier::kNormal;
  TierReason tier_reason = TierReason::kClaim;
  ThrottleReason tightest = ThrottleReason::kUserLimit;  // the bucket with the fewest tokens
  std::int64_t tightest_units = 0;                // after taking (allowed) or as found (refused)
  std::int64_t capacity_units = 0;                // of the tier's buckets
  std::array<bool, kTierReasonCount> detected{};  // detections this check made
};

class RateLimiter {
 public:
  // REQUIRES: `clock` outlives the limiter; every tier has rpm >= 1 and burst >= 1.
  RateLimiter(LimiterOptions options, const base::Clock& clock, LimiterEventHook on_event = {});

  Decision Check(const RequestIdentity& identity);
  // A check decided elsewhere (the shared buckets): the Decision Check() would give for the
  // same numbers, counted and reported like a local one. Touches no local bucket.
  Decision Record(const RequestIdentity& identity, const CheckOutcome& outcome);
  LimiterSnapshot Snapshot() const;
  const LimiterOptions& options() const { return options_; }

 private:
  struct RateWindow {
    std::int64_t start_ms = 0;
    std::int64_t count = 0;
  };
  struct UserWindow {
    std::int64_t start_ms = 0;
    std::vector<std::string> user_ids;  // at most fingerprint_user_ids_max + 1
    bool reported = false;              // the detection of this window was reported
  };
  struct Flag {
    std::int64_t until_ms = 0;
    TierReason reason = TierReason::kClaim;
  };
  enum Dimension : std::size_t { kUser = 0, kIp = 1, kFingerprint = 2, kDimensionCount = 3 };

  // Both run under mutex_; they append detections to `events`.
  void Detect(const RequestIdentity& identity, const std::string& ip_key, std::int64_t now_ms,
              std::vector<LimiterEvent>& events) REQUIRES(mutex_);
  void Raise(const std::string& key, TierReason reason, std::int64_t now_ms) REQUIRES(mutex_);
  // Counts a refusal, appends its event and hands all `events` to the hook (no lock held).
  void Report(const RequestIdentity& identity, const std::string& ip_key, const Decision& decision,
              std::int64_t now_ms, std::vector<LimiterEvent>& events);
  Decision EffectiveTier(const RequestIdentity& identity, const std::string& ip_key,
                         std::int64_t now_ms) REQUIRES(mutex_);

  const LimiterOptions options_;
  const base::Clock& clock_;
  const LimiterEventHook on_event_;

  mutable base::Mutex mutex_;
  std::array<LruMap<TokenBucket>, kDimensionCount> buckets_ GUARDED_BY(mutex_);
  LruMap<RateWindow> ip_rates_ GUARDED_BY(mutex_);
  LruMap<UserWindow> fingerprint_users_ GUARDED_BY(mutex_);
  LruMap<Flag> flags_ GUARDED_BY(mutex_);  // "u:"/"i:"/"f:" + key

  std::array<std::array<std::atomic<std::uint64_t>, kTierCount>, kThrottleReasonCount> throttled_{};
  std::array<std::atomic<std::uint64_t>, kTierReasonCount> detections_{};
};

}  // namespace fs::ratelimit
