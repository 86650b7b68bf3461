// Rate-limit tiers and their token-bucket parameters, and the parsing of the
// --rate-limit-tiers flag ("bot=10,new=50,normal=100,premium=200", each optionally ":BURST").
// Thread-safety: plain values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace fs::ratelimit {

// Ordered from strictest to most generous: detection may only move an identity down
// (std::min of tiers). The values index arrays and label metrics; append-only.
enum class Tier : std::uint8_t { kBot = 0, kNew = 1, kNormal = 2, kPremium = 3 };
inline constexpr std::size_t kTierCount = 4;

std::string_view TierName(Tier tier);
// The tier named by a JWT `tier` claim; absent, empty or unknown claims mean kNormal
// (an unknown claim must never raise a limit).
Tier TierFromClaim(std::string_view claim);

struct TierLimit {
  std::int64_t requests_per_minute = 0;  // steady refill rate
  std::int64_t burst = 0;                // bucket capacity: requests allowed at once
};

// Requests per minute at most for any tier: keeps the bucket arithmetic (units of
// 1/60000 request, int64) far from overflow while allowing 1M requests/min per identity.
inline constexpr std::int64_t kRequestsPerMinuteMax = 1'000'000;

using TierTable = std::array<TierLimit, kTierCount>;

// bot 10, new 50, normal 100, premium 200 requests/min; burst defaults to a fifth of the
// minute's allowance (at least 1): a person double-clicking or retrying passes, a script
// cannot front-load a minute of requests.
TierTable DefaultTierTable();
std::int64_t DefaultBurst(std::int64_t requests_per_minute);

// Parses "name=RPM[:BURST],..." over `base` (tiers not named keep their values).
// kInvalidArgument for unknown names, non-numbers, RPM outside 1..kRequestsPerMinuteMax or a
// burst outside 1..RPM*60 (a burst above an hour's allowance is a typo).
base::Result<TierTable> ParseTierTable(std::string_view text, TierTable base);
// The table as ParseTierTable reads it: "bot=10,new=50,...", ":BURST" only where the burst is
// not DefaultBurst(RPM).
std::string FormatTierTable(const TierTable& table);

}  // namespace fs::ratelimit
