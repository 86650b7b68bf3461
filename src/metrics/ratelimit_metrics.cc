#include "metrics/ratelimit_metrics.h"

#include <string>

namespace fs::metrics {

void WriteRateLimitMetrics(const ratelimit::LimiterSnapshot* snapshot, TextWriter& writer) {
  writer.Family("flashsale_rate_limit_enabled", "1 when per-client rate limiting is on.",
                MetricType::kGauge);
  writer.SampleUnsigned("flashsale_rate_limit_enabled", {}, snapshot != nullptr ? 1 : 0);
  if (snapshot == nullptr) return;
  writer.Family("flashsale_throttled_total",
                "Requests refused with 429 RATE_LIMITED, by the bucket that ran out (reason) and "
                "the identity's effective tier.",
                MetricType::kCounter);
  for (std::size_t r = 0; r < ratelimit::kThrottleReasonCount; ++r) {
    for (std::size_t t = 0; t < ratelimit::kTierCount; ++t) {
      const std::string reason(
          ratelimit::ThrottleReasonName(static_cast<ratelimit::ThrottleReason>(r)));
      const std::string tier(ratelimit::TierName(static_cast<ratelimit::Tier>(t)));
      writer.SampleUnsigned("flashsale_throttled_total", {{"reason", reason}, {"tier", tier}},
                            snapshot->throttled[r][t]);
    }
  }
  writer.Family("flashsale_bot_detections_total",
                "Identities moved to the bot tier by detection, by reason.", MetricType::kCounter);
  for (ratelimit::TierReason reason :
       {ratelimit::TierReason::kBotIpRate, ratelimit::TierReason::kBotFingerprintUsers}) {
    writer.SampleUnsigned("flashsale_bot_detections_total",
                          {{"reason", std::string(ratelimit::TierReasonName(reason))}},
                          snapshot->detections[static_cast<std::size_t>(reason)]);
  }
  writer.Family("flashsale_rate_limit_identities",
                "Token buckets held (user + IP + fingerprint maps; each map is bounded).",
                MetricType::kGauge);
  writer.SampleUnsigned("flashsale_rate_limit_identities", {}, snapshot->tracked_identities);
  writer.Family("flashsale_rate_limit_evictions_total",
                "Buckets evicted (least recently used) to keep the maps bounded.",
                MetricType::kCounter);
  writer.SampleUnsigned("flashsale_rate_limit_evictions_total", {}, snapshot->evictions);
}

}  // namespace fs::metrics
