#include "ratelimit/tiers.h"

#include <algorithm>
#include <charconv>

namespace fs::ratelimit {
namespace {

constexpr std::array<Tier, kTierCount> kTiers = {Tier::kBot, Tier::kNew, Tier::kNormal,
                                                 Tier::kPremium};

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool ParseInt(std::string_view text, std::int64_t& value) {
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  return !text.empty() && error == std::errc() && ptr == end;
}

base::Status Invalid(std::string_view entry, std::string_view why) {
  return base::InvalidArgument("--rate-limit-tiers entry '" + std::string(entry) +
                               "': " + std::string(why));
}

}  // namespace

std::string_view TierName(Tier tier) {
  switch (tier) {
    case Tier::kBot:
      return "bot";
    case Tier::kNew:
      return "new";
    case Tier::kNormal:
      return "normal";
    case Tier::kPremium:
      return "premium";
  }
  return "normal";
}

Tier TierFromClaim(std::string_view claim) {
  for (Tier tier : kTiers) {
    if (TierName(tier) == claim) return tier;
  }
  return Tier::kNormal;
}

std::int64_t DefaultBurst(std::int64_t requests_per_minute) {
  return std::max<std::int64_t>(1, requests_per_minute / 5);
}

TierTable DefaultTierTable() {
  TierTable table{};
  const std::int64_t rates[kTierCount] = {10, 50, 100, 200};
  for (std::size_t i = 0; i < kTierCount; ++i) table[i] = {rates[i], DefaultBurst(rates[i])};
  return table;
}

base::Result<TierTable> ParseTierTable(std::string_view text, TierTable base) {
  TierTable table = base;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view entry = Trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (entry.empty()) continue;
    const std::size_t equals = entry.find('=');
    if (equals == std::string_view::npos) return Invalid(entry, "expected NAME=RPM[:BURST]");
    const std::string_view name = Trim(entry.substr(0, equals));
    const auto known = std::find_if(kTiers.begin(), kTiers.end(),
                                    [name](Tier tier) { return TierName(tier) == name; });
    if (known == kTiers.end()) return Invalid(entry, "tier must be bot, new, normal or premium");
    std::string_view numbers = Trim(entry.substr(equals + 1));
    const std::size_t colon = numbers.find(':');
    std::int64_t rpm = 0;
    if (!ParseInt(Trim(numbers.substr(0, colon)), rpm) || rpm < 1 || rpm > kRequestsPerMinuteMax) {
      return Invalid(entry, "requests per minute must be an integer in 1..1000000");
    }
    std::int64_t burst = DefaultBurst(rpm);
    if (colon != std::string_view::npos) {
      if (!ParseInt(Trim(numbers.substr(colon + 1)), burst) || burst < 1 || burst > rpm * 60) {
        return Invalid(entry, "burst must be an integer in 1..RPM*60");
      }
    }
    table[static_cast<std::size_t>(*known)] = {rpm, burst};
  }
  return table;
}

std::string FormatTierTable(const TierTable& table) {
  std::string text;
  for (std::size_t i = 0; i < kTierCount; ++i) {
    const TierLimit& limit = table[i];
    if (!text.empty()) text += ',';
    text += TierName(static_cast<Tier>(i));
    text += '=' + std::to_string(limit.requests_per_minute);
    if (limit.burst != DefaultBurst(limit.requests_per_minute)) {
      text += ':' + std::to_string(limit.burst);
    }
  }
  return text;
}

}  // namespace fs::ratelimit
