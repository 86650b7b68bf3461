// Prometheus series of the fairness layer (src/ratelimit): throttled requests by reason and
// tier, bot detections by reason, tracked identities and evictions of the bounded maps.
// Thread-safety: pure rendering of a snapshot; safe from any thread.
#pragma once

#include "metrics/prometheus.h"
#include "ratelimit/rate_limiter.h"

namespace fs::metrics {

// `snapshot` is nullptr when rate limiting is off: then only flashsale_rate_limit_enabled 0.
void WriteRateLimitMetrics(const ratelimit::LimiterSnapshot* snapshot, TextWriter& writer);

}  // namespace fs::metrics
