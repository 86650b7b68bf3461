// PaymentGateway: charges a payment method. Calls block the calling payment-worker thread
// (never the writer). The order id is the idempotency key: a gateway that sees the same key
// twice charges once and answers with the first result, so retries and restarts never charge
// twice.
// Thread-safety: Charge() may be called from several worker threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "core/order.h"

namespace fs::payment {

struct ChargeRequest {
  std::string idempotency_key;  // the order id
  std::int64_t amount_cents = 0;
  std::string currency;
  std::string payment_method_id;
  std::int32_t attempt = 1;  // 1-based
  // The X-Request-Id of the order's checkout (core::Order::request_id), sent as X-Request-Id
  // on every gateway call of the order; empty: none.
  std::string request_id{};
  // The call's W3C `traceparent` (the worker's client span), sent as that header; empty: none.
  std::string traceparent{};
};

struct ChargeResult {
  core::ChargeOutcome outcome = core::ChargeOutcome::kRetryable;
  std::string reason;                        // declines and transient failures
  std::chrono::milliseconds retry_after{0};  // kRetryable: the gateway's Retry-After, if any
};

class PaymentGateway {
 public:
  virtual ~PaymentGateway() = default;
  virtual ChargeResult Charge(const ChargeRequest& request) = 0;
};

// In-process gateway with Stripe's test cards: pm_card_visa succeeds, pm_card_chargeDeclined
// is declined, pm_card_flaky times out on attempts 1 and 2 then succeeds, pm_card_timeout
// always times out. Every call takes `latency` (a timeout takes it too). Any other payment
// method is declined (payment_method_unknown).
std::unique_ptr<PaymentGateway> NewSimulatedGateway(std::chrono::milliseconds latency);

}  // namespace fs::payment

namespace fs::payment {

struct HttpGatewayOptions {
  std::string url;  // "https://HOST[:PORT]" or "http://..." (an optional path prefix is kept)
  // One call's deadline (connect, TLS, send, receive). A timeout is retried with the same key.
  std::chrono::milliseconds timeout{5000};
  std::string api_key;  // sent as "Authorization: Bearer <key>"; empty: none
  std::string ca_file;  // https: trusted CAs (--tls-ca-file); empty: the system's
};

// A Stripe-style gateway: POST {url}/v1/payment_intents, form-encoded amount, currency,
// payment_method and confirm=true, with the order id in the Idempotency-Key header, over the
// product's outbound client (verified TLS, kept connections). A 2xx answer is decided by the
// PaymentIntent's `status`: succeeded is paid; requires_payment_method or canceled is
// declined (reason from last_payment_error's decline_code or code, else the status); any other
// status (processing, requires_action, ...) is not final and is asked again on the retry
// schedule until it is or the retries run out: a retry POSTs with the same key (which replays
// the first answer, naming the intent) and then GETs {url}/v1/payment_intents/{id} for the
// intent's current status. 402 and any other 4xx: declined (reason from the body's
// decline_code or code when present); 409, 429, 5xx, timeouts, connection and certificate
// errors: retryable.
// Errors: kInvalidArgument when the url is not http(s)://HOST[:PORT][/prefix].
base::Result<std::unique_ptr<PaymentGateway>> NewHttpGateway(const HttpGatewayOptions& options);

}  // namespace fs::payment
