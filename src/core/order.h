// Orders, payment attempts and outbox events: the domain values of checkout and the payment
// saga, and the pure rules that decide them. No I/O, no clock: time is an argument.
// Persisted enums are append-only: their numeric values are stored (docs/storage.md).
// Thread-safety: plain values and pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"

namespace fs::core {

// Persisted: append-only values.
enum class OrderStatus : std::uint8_t {
  kPending = 1,         // created by checkout; the payment worker charges it
  kPaid = 2,            // charged; the reservation is PURCHASED (held -> sold)
  kFailed = 3,          // declined (or resolved as failed); the reservation is RELEASED
  kNeedsAttention = 4,  // retries exhausted; stock stays held until an operator resolves it
};

struct Order {
  std::string order_id;  // also the gateway's idempotency key: a retry never charges twice
  std::string reservation_id;
  std::string sku_id;
  std::string user_id;
  std::int32_t quantity = 0;
  std::int64_t amount_cents = 0;
  std::string currency;
  OrderStatus status = OrderStatus::kPending;
  std::string failure_reason;  // empty unless FAILED or NEEDS_ATTENTION
  std::string payment_method_id;
  // Where the order's confirmation or failure notice goes: the checkout token's `email` claim
  // (base::IsValidEmailAddress), empty when it had none. Immutable, like the amount.
  std::string buyer_email;
  // The X-Request-Id of the checkout that created the order (empty when none): its events carry
  // it and the payment worker sends it to the gateway, so one id follows the purchase.
  std::string request_id;
  // The `traceparent` of the checkout's server span when its trace was sampled, so the payment
  // gateway calls join that trace. Memory only, never stored: an order read back from the
  // store (a restart, another node's commit) has none and its calls start traces of their own.
  std::string traceparent{};
  std::int32_t attempts = 0;  // gateway calls finished so far
  Time next_attempt_at{};     // PENDING: when the worker may call the gateway next
  Time created_at{};
  Time updated_at{};
};

std::string_view OrderStatusName(OrderStatus status);
std::optional<OrderStatus> OrderStatusFromInt(int value);
std::optional<OrderStatus> OrderStatusFromName(std::string_view name);
bool IsAllowedOrderTransition(OrderStatus from, OrderStatus to);

// payment_method_id: 1..kPaymentMethodIdBytesMax bytes of [A-Za-z0-9_-].
inline constexpr std::size_t kPaymentMethodIdBytesMax = 128;
bool IsValidPaymentMethodId(std::string_view payment_method_id);

// Waits between gateway attempts that failed transiently. delays[i] is the wait after the
// (i+1)-th failed attempt; after delays.size() + 1 failed attempts the order needs attention.
// Each wait is spread by up to ±jitter_percent, differently for each order (a hash of the order
// id and the attempt: deterministic, no clock or random source in core), so the orders a
// gateway outage failed together do not all retry in the same instant.
struct RetrySchedule {
  std::vector<std::chrono::milliseconds> delays;
  std::int32_t jitter_percent = 0;
};
// The spread of DefaultRetrySchedule and of a parsed --payment-retry-schedule.
inline constexpr std::int32_t kRetryJitterPercent = 20;
// A gateway's Retry-After is honoured up to this long (a longer one is a provider's bug).
inline constexpr std::chrono::milliseconds kRetryAfterMax{std::chrono::minutes(10)};
// At most this many retries: bounds the saga's lifetime and the schedule flag.
inline constexpr std::size_t kRetryScheduleLengthMax = 64;
// 1s,2s,4s,8s,16s,32s,1m,2m,5m,10m: about 20 minutes of retries before a human looks.
RetrySchedule DefaultRetrySchedule();
// "50ms,100ms,1s,2m": numbers with unit ms, s or m; 1..kRetryScheduleLengthMax entries, each
// positive. nullopt when malformed.
std::optional<RetrySchedule> ParseRetrySchedule(std::string_view text);

// What one gateway call said.
enum class ChargeOutcome : std::uint8_t {
  kSucceeded,
  kDeclined,   // final: the card was refused
  kRetryable,  // timeout, connection error, 5xx: the charge may or may not have happened
};

// What the saga does after a transient failure.
struct RetryDecision {
  enum class Kind : std::uint8_t { kRetry, kNeedsAttention };
  Kind kind = Kind::kRetry;
  Time next_attempt_at{};
};
// `attempts_done` counts the failed attempt just made; `retry_after` is the gateway's own ask
// (Retry-After; zero when none): the next attempt is not before it. REQUIRES: attempts_done >= 1.
RetryDecision DecideRetry(const RetrySchedule& schedule, std::int32_t attempts_done, Time now,
                          std::string_view order_id = {},
                          std::chrono::milliseconds retry_after = std::chrono::milliseconds(0));

// An event in the transactional outbox: written in the same transaction as the change it
// describes. `sequence` numbers the events of one SKU from 1 without gaps.
struct OutboxEvent {
  std::string event_id;  // "<sku_id>:<sequence>", unique
  std::string type;      // "reservation.created", "order.confirmed", ...
  std::string sku_id;
  std::string user_id;
  std::int64_t sequence = 0;
  Time occurred_at{};
  std::string payload_json;  // a JSON object
};

namespace event_type {
inline constexpr std::string_view kReservationCreated = "reservation.created";
inline constexpr std::string_view kReservationExpired = "reservation.expired";
inline constexpr std::string_view kReservationReleased = "reservation.released";
inline constexpr std::string_view kCheckoutRequested = "checkout.requested";
inline constexpr std::string_view kPaymentSucceeded = "payment.succeeded";
inline constexpr std::string_view kPaymentFailed = "payment.failed";
inline constexpr std::string_view kOrderConfirmed = "order.confirmed";
inline constexpr std::string_view kOrderFailed = "order.failed";
inline constexpr std::string_view kOrderNeedsAttention = "order.needs_attention";
inline constexpr std::string_view kSaleUpdated = "sale.updated";
}  // namespace event_type

// Payload JSON of the events (no JSON library in core: only strings we escape ourselves).
// Every payload carries "request_id", the X-Request-Id of the HTTP request behind the decision
// (the order's checkout for order events), only when there was one.
std::string ReservationEventPayload(const Reservation& reservation,
                                    std::string_view request_id = {});
std::string OrderEventPayload(const Order& order);
// order.confirmed and order.failed, what the buyer is told: the order's fields plus
// "sale_name" and "buyer_email" (null when the order has none). The address is personal data:
// only these two events carry it, for the notification consumers (e-mail).
std::string OrderNotificationPayload(const Order& order, std::string_view sale_name);
// `text` as a JSON string literal with quotes.
std::string JsonString(std::string_view text);

}  // namespace fs::core
