// A PaymentGateway decorator that counts every call by outcome and times it
// (flashsale_payment_gateway_calls_total{outcome}, flashsale_payment_gateway_latency_seconds):
// the payment error-rate alert reads these.
// Thread-safety: as the wrapped gateway; the metrics are atomics.
#pragma once

#include <memory>

#include "metrics/flashsale_metrics.h"
#include "payment/gateway.h"

namespace fs::payment {

// REQUIRES: `metrics` outlives the returned gateway.
std::unique_ptr<PaymentGateway> NewMeteredGateway(std::unique_ptr<PaymentGateway> gateway,
                                                  metrics::GatewayMetrics& metrics);

}  // namespace fs::payment
