#include "redis/rate_limit_script.h"

namespace fs::redis {
namespace {

// KEYS: 1-3 buckets (user, ip, fingerprint), 4-6 flags (same order), 7 ip rate, 8 fingerprint
// users. ARGV: 1 now_ms, 2 claimed tier, 3 suspicious (0/1), 4 suspicious tier,
// 5-12 rpm/burst of tiers 0-3, 13 ip requests/s max, 14 fingerprint user ids max,
// 15 fingerprint window ms, 16 cool-down ms, 17 user id, 18 has fingerprint (0/1),
// 19 prefix of user flag keys. Numbers stay below 2^53 (units <= 3.6e12), exact in Lua.
constexpr char kScript[] = R"lua(
local now = tonumber(ARGV[1])
local cooldown = tonumber(ARGV[16])
local unit = 60000
local detected_ip, detected_fp = 0, 0
local ip_start = tonumber(redis.call('HGET', KEYS[7], 's'))
local ip_count
if ip_start == nil or now - ip_start >= 1000 or now < ip_start then
  redis.call('HSET', KEYS[7], 's', now, 'n', 1)
  redis.call('PEXPIRE', KEYS[7], 2000)
  ip_count = 1
else
  ip_count = redis.call('HINCRBY', KEYS[7], 'n', 1)
end
if ip_count == tonumber(ARGV[13]) + 1 then
  redis.call('SET', KEYS[5], 2, 'PX', cooldown)
  detected_ip = 1
end
if ARGV[18] == '1' then
  local users = KEYS[8]
  local window = tonumber(ARGV[15])
  local start = tonumber(redis.call('HGET', users, 's'))
  if start == nil or now - start >= window or now < start then
    redis.call('DEL', users)
    redis.call('HSET', users, 's', now, 'n', 0, 'r', 0)
    redis.call('PEXPIRE', users, window)
  end
  local me = 'u:' .. ARGV[17]
  if redis.call('HSETNX', users, me, 1) == 1 then
    local n = redis.call('HINCRBY', users, 'n', 1)
    local max = tonumber(ARGV[14])
    if n > max then
      redis.call('SET', KEYS[6], 3, 'PX', cooldown)
      for _, field in ipairs(redis.call('HKEYS', users)) do
        if string.sub(field, 1, 2) == 'u:' then
          redis.call('SET', ARGV[19] .. string.sub(field, 3), 3, 'PX', cooldown)
          if field ~= me then redis.call('HDEL', users, field) end
        end
      end
      redis.call('HSET', users, 'n', max)
      if redis.call('HGET', users, 'r') == '0' then
        redis.call('HSET', users, 'r', 1)
        detected_fp = 1
      end
    end
  end
end
local tier = tonumber(ARGV[2])
local tier_reason = 0
if ARGV[3] == '1' and tonumber(ARGV[4]) < tier then
  tier = tonumber(ARGV[4])
  tier_reason = 1
end
local flags = redis.call('MGET', KEYS[4], KEYS[5], KEYS[6])
for i = 1, 3 do
  if flags[i] then
    tier = 0
    tier_reason = tonumber(flags[i])
    break
  end
end
local rpm = tonumber(ARGV[5 + 2 * tier])
local capacity = tonumber(ARGV[6 + 2 * tier]) * unit
local units, times = {}, {}
local tightest, tightest_units = 1, 0
local buckets = redis.call('MGET', KEYS[1], KEYS[2], KEYS[3])
for d = 1, 3 do
  local u, t
  if buckets[d] then
    local us, ts = string.match(buckets[d], '^(%d+):(%d+)$')
    u, t = tonumber(us), tonumber(ts)
  end
  if u == nil or t == nil then u, t = capacity, now end
  if now > t then
    local elapsed = now - t
    local gain = capacity
    if elapsed < 3600000 then gain = elapsed * rpm end
    u = math.min(capacity, u + gain)
    t = now
  end
  u = math.min(u, capacity)
  units[d], times[d] = u, t
  if d == 1 or u < tightest_units then tightest, tightest_units = d, u end
end
local allowed = 0
if tightest_units >= unit then
  allowed = 1
  tightest_units = tightest_units - unit
end
for d = 1, 3 do
  local u = units[d]
  if allowed == 1 then u = u - unit end
  redis.call('SET', KEYS[d], string.format('%d:%d', u, times[d]), 'PX',
             math.floor((capacity - u + rpm - 1) / rpm) + 1000)
end
return {allowed, tier, tier_reason, tightest - 1, tightest_units, capacity, detected_ip, detected_fp}
)lua";

std::string Prefixed(std::string_view middle, std::string_view key) {
  std::string out(kRateLimitKeyPrefix);
  out += middle;
  out += key;
  return out;
}

}  // namespace

const std::string& RateLimitScriptBody() {
  static const std::string body(kScript);
  return body;
}

ScriptCall BuildRateLimitCall(const ratelimit::RequestIdentity& identity,
                              const ratelimit::LimiterOptions& options, std::int64_t now_ms) {
  const std::string ip = identity.client_ip.ToString();
  ScriptCall call;
  call.keys = {Prefixed("b:u:", identity.user_id),
               Prefixed("b:i:", ip),
               Prefixed("b:f:", identity.fingerprint),
               Prefixed("flag:u:", identity.user_id),
               Prefixed("flag:i:", ip),
               Prefixed("flag:f:", identity.fingerprint),
               Prefixed("ipr:", ip),
               Prefixed("fpu:", identity.fingerprint)};
  const bool suspicious = options.suspicious_cidrs.Contains(identity.client_ip);
  call.args = {std::to_string(now_ms), std::to_string(static_cast<int>(identity.claimed_tier)),
               suspicious ? "1" : "0", std::to_string(static_cast<int>(options.suspicious_tier))};
  for (const ratelimit::TierLimit& limit : options.tiers) {
    call.args.push_back(std::to_string(limit.requests_per_minute));
    call.args.push_back(std::to_string(limit.burst));
  }
  call.args.push_back(std::to_string(options.ip_requests_per_second_max));
  call.args.push_back(std::to_string(options.fingerprint_user_ids_max));
  call.args.push_back(std::to_string(options.fingerprint_window.count()));
  call.args.push_back(std::to_string(options.cooldown.count()));
  call.args.push_back(identity.user_id);
  call.args.push_back(identity.fingerprint.empty() ? "0" : "1");
  call.args.push_back(Prefixed("flag:u:", ""));
  return call;
}

base::Result<ratelimit::CheckOutcome> ParseRateLimitReply(const Reply& reply) {
  if (reply.is_error()) return base::Internal("rate-limit script failed: " + reply.text);
  const auto values = IntegerArray(reply, 8);
  if (!values) return base::Internal("rate-limit script returned an unexpected reply");
  const auto& v = *values;
  const bool flags_ok =
      (v[0] == 0 || v[0] == 1) && (v[6] == 0 || v[6] == 1) && (v[7] == 0 || v[7] == 1);
  const bool enums_ok =
      v[1] >= 0 && v[1] < static_cast<std::int64_t>(ratelimit::kTierCount) && v[2] >= 0 &&
      v[2] < static_cast<std::int64_t>(ratelimit::kTierReasonCount) && v[3] >= 0 &&
      v[3] < static_cast<std::int64_t>(ratelimit::kThrottleReasonCount);
  const bool units_ok = v[4] >= 0 && v[5] >= ratelimit::kUnitsPerRequest && v[4] <= v[5];
  if (!flags_ok || !enums_ok || !units_ok) {
    return base::Internal("rate-limit script returned out-of-range values");
  }
  ratelimit::CheckOutcome outcome;
  outcome.allowed = v[0] == 1;
  outcome.tier = static_cast<ratelimit::Tier>(v[1]);
  outcome.tier_reason = static_cast<ratelimit::TierReason>(v[2]);
  outcome.tightest = static_cast<ratelimit::ThrottleReason>(v[3]);
  outcome.tightest_units = v[4];
  outcome.capacity_units = v[5];
  outcome.detected[static_cast<std::size_t>(ratelimit::TierReason::kBotIpRate)] = v[6] == 1;
  outcome.detected[static_cast<std::size_t>(ratelimit::TierReason::kBotFingerprintUsers)] =
      v[7] == 1;
  return outcome;
}

}  // namespace fs::redis
