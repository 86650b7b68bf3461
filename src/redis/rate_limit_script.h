// The shared token-bucket check: one Lua script that runs the same algorithm as
// ratelimit::RateLimiter::Check (detection, flags, effective tier, three buckets) atomically
// inside Redis, so one round trip decides a request for every node at once. This file holds
// the script and the pure parts around it: the keys and arguments of a call, and the reading
// of its reply into a ratelimit::CheckOutcome.
//
// Keys (all under "fs:rl:"; one Redis instance, not Redis Cluster: the script also writes the
// bot flags of the other user ids a fingerprint drove, which it cannot declare in advance):
//   b:u:<user> b:i:<ip> b:f:<fingerprint>   buckets, "<units>:<updated ms>"; expire
//                                            when they would be full again (forgetting a full
//                                            bucket is exact: a new one starts full)
//   flag:u:<user> flag:i:<ip> flag:f:<fp>   bot flags, value = TierReason, expire = cool-down
//   ipr:<ip>                                requests of the IP in its current second
//   fpu:<fp>                                user ids of the fingerprint in its window
// Times are the calling node's clock (milliseconds since the epoch; nodes run NTP). A node
// whose clock is behind refills nothing until it catches up, so skew can only tighten limits.
//
// Thread-safety: pure functions and constants.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "ratelimit/rate_limiter.h"
#include "redis/reply.h"

namespace fs::redis {

inline constexpr std::string_view kRateLimitKeyPrefix = "fs:rl:";

// The Lua source of the check.
const std::string& RateLimitScriptBody();

struct ScriptCall {
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

// The EVALSHA keys and arguments that check `identity` at `now_ms` under `options`.
ScriptCall BuildRateLimitCall(const ratelimit::RequestIdentity& identity,
                              const ratelimit::LimiterOptions& options, std::int64_t now_ms);

// The script's reply {allowed, tier, tier_reason, tightest, tightest_units, capacity_units,
// detected_ip_rate, detected_fingerprint_users}. kInternal when the reply is an error or has
// another shape or an out-of-range value (then the caller falls back to local buckets).
base::Result<ratelimit::CheckOutcome> ParseRateLimitReply(const Reply& reply);

}  // namespace fs::redis
