#include "payment/metered_gateway.h"

#include <chrono>

namespace fs::payment {
namespace {

class MeteredGateway final : public PaymentGateway {
 public:
  MeteredGateway(std::unique_ptr<PaymentGateway> gateway, metrics::GatewayMetrics& metrics)
      : gateway_(std::move(gateway)), metrics_(metrics) {}

  ChargeResult Charge(const ChargeRequest& request) override {
    const auto started = std::chrono::steady_clock::now();
    ChargeResult result = gateway_->Charge(request);
    metrics_.latency.Observe(std::chrono::steady_clock::now() - started);
    switch (result.outcome) {
      case core::ChargeOutcome::kSucceeded:
        metrics_.succeeded.Increment();
        break;
      case core::ChargeOutcome::kDeclined:
        metrics_.declined.Increment();
        break;
      case core::ChargeOutcome::kRetryable:
        metrics_.error.Increment();
        break;
    }
    return result;
  }

 private:
  std::unique_ptr<PaymentGateway> gateway_;
  metrics::GatewayMetrics& metrics_;
};

}  // namespace

std::unique_ptr<PaymentGateway> NewMeteredGateway(std::unique_ptr<PaymentGateway> gateway,
                                                  metrics::GatewayMetrics& metrics) {
  return std::make_unique<MeteredGateway>(std::move(gateway), metrics);
}

}  // namespace fs::payment
