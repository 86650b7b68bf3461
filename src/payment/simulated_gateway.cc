#include <thread>

#include "payment/gateway.h"

namespace fs::payment {
namespace {

class SimulatedGateway final : public PaymentGateway {
 public:
  explicit SimulatedGateway(std::chrono::milliseconds latency) : latency_(latency) {}

  ChargeResult Charge(const ChargeRequest& request) override {
    // The simulated network round trip: this thread is a payment worker, never the writer.
    if (latency_.count() > 0) std::this_thread::sleep_for(latency_);
    const std::string& method = request.payment_method_id;
    if (method == "pm_card_visa") return {core::ChargeOutcome::kSucceeded, ""};
    if (method == "pm_card_chargeDeclined")
      return {core::ChargeOutcome::kDeclined, "card_declined"};
    if (method == "pm_card_flaky") {
      if (request.attempt <= 2) return {core::ChargeOutcome::kRetryable, "gateway timeout"};
      return {core::ChargeOutcome::kSucceeded, ""};
    }
    if (method == "pm_card_timeout") return {core::ChargeOutcome::kRetryable, "gateway timeout"};
    return {core::ChargeOutcome::kDeclined, "payment_method_unknown"};
  }

 private:
  const std::chrono::milliseconds latency_;
};

}  // namespace

std::unique_ptr<PaymentGateway> NewSimulatedGateway(std::chrono::milliseconds latency) {
  return std::make_unique<SimulatedGateway>(latency);
}

}  // namespace fs::payment
