// The writer's requests and what it decided about them, as values: the commands the ledger
// (core/ledger.h) takes and the results it returns, with their outcome enums.
// Thread-safety: plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/order.h"
#include "core/rules.h"
#include "core/types.h"

namespace fs::core {

enum class ReserveOutcome : std::uint8_t {
  kReserved,
  kReplayed,              // same Idempotency-Key, same request: the stored answer
  kIdempotencyKeyReused,  // same key, different request
  kSkuNotFound,
  kSoldOut,
  kLimitExceeded,
  kSaleNotOpen,
  kSaleClosed,
  kQueuePassRequired,  // a waiting-room sale and no pass presented (core/waiting_room.h)
  kQueuePassInvalid,   // a pass that is forged, another's, unknown, expired or used
};

// What the Redis idempotency fast path (RedisServices::ClaimIdempotencyKey,
// src/redis/redis_services.h) saw for a reserve's Idempotency-Key before it reached the writer. A
// hint, never the truth: kFirstSeen can be wrong when Redis lost its data, kSeenBefore when the
// first request was refused or never committed. The single-node engine keeps every key of the last
// 24 h in memory and ignores it; a store shared by several nodes may skip its own lookup of a key
// only on kFirstSeen and must still insert under its unique key (docs/architecture.md,
// "Idempotency").
enum class IdempotencyHint : std::uint8_t { kUnknown, kFirstSeen, kSeenBefore };

struct ReserveCommand {
  std::string sku_id;
  std::string user_id;
  std::int32_t quantity = 1;
  std::string idempotency_key;  // empty: none
  // Who asked, for the audit trail (absent when unknown, e.g. in benchmarks).
  // (Default initializers keep 4-field aggregate initialization warning-free.)
  std::optional<std::string> client_ip = std::nullopt;
  std::optional<std::string> device_fingerprint = std::nullopt;
  IdempotencyHint idempotency_hint = IdempotencyHint::kUnknown;
  // The HTTP request's X-Request-Id: recorded in the audit metadata and the outbox event of the
  // decision. Empty: none (not recorded).
  std::string request_id{};
};

struct ReserveResult {
  ReserveOutcome outcome = ReserveOutcome::kSoldOut;
  std::optional<Reservation> reservation;   // set for kReserved
  std::optional<IdempotencyRecord> replay;  // set for kReplayed
};

enum class ReleaseOutcome : std::uint8_t {
  kReleased,
  kAlreadyReleased,
  kNotFound,  // unknown id, or not the caller's
  kExpired,
  kNotActive,  // checkout pending or purchased
};

struct ReleaseResult {
  ReleaseOutcome outcome = ReleaseOutcome::kNotFound;
  std::optional<Reservation> reservation;
};

enum class CreateSaleOutcome : std::uint8_t { kCreated, kAlreadyExists, kInvalid };

struct CreateSaleResult {
  CreateSaleOutcome outcome = CreateSaleOutcome::kInvalid;
  std::string invalid_reason;
  std::optional<Sale> sale;
};

// Operator actions on an existing sale (open early, close, adjust stock).
enum class AdminSaleOutcome : std::uint8_t {
  kChanged,
  kSkuNotFound,
  kStockBelowCommitted,  // the new total would be below held + sold
  kStockOutOfRange,      // the new total would be negative or above kTotalStockMax
  kInvalidDetails,       // the patched name or details break a rule (core/rules.h)
};

// An operator's change of what buyers read about a sale: each field set is replaced (an empty
// string clears a detail). PATCH /admin/v1/skus/{sku}.
struct SalePatch {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::string> image_url;
  std::optional<std::string> category;
  std::optional<std::vector<std::string>> tags;
};

struct AdminSaleResult {
  AdminSaleOutcome outcome = AdminSaleOutcome::kSkuNotFound;
  std::optional<Sale> sale;  // after the action (set unless kSkuNotFound)
  std::optional<StockCounters> counters;
};

// A consistent view of one sale for readers.
struct SaleSnapshot {
  Sale sale;
  StockCounters counters;
};

// --- Checkout and the payment saga ---------------------------------------------------------

enum class CheckoutOutcome : std::uint8_t {
  kCreated,
  kReplayed,              // same Idempotency-Key, same request: the stored answer
  kIdempotencyKeyReused,  // same key, different request
  kReservationNotFound,   // unknown id, or not the caller's
  kReservationExpired,
  kReservationNotActive,  // already in checkout, purchased or released
};

struct CheckoutCommand {
  std::string reservation_id;
  std::string user_id;
  std::string payment_method_id;
  std::string idempotency_key;  // empty: none
  std::string buyer_email{};    // the token's `email` claim (never a body field); empty: none
  std::string request_id{};     // the HTTP request's X-Request-Id, kept with the order; or empty
  std::string traceparent{};    // the request's sampled server span (Order::traceparent); or empty
};

struct CheckoutResult {
  CheckoutOutcome outcome = CheckoutOutcome::kReservationNotFound;
  std::optional<Order> order;               // set for kCreated
  std::optional<IdempotencyRecord> replay;  // set for kReplayed
};

// What the payment worker learned from one gateway call for an order.
struct PaymentReport {
  std::string order_id;
  std::int32_t attempt = 1;  // 1-based: the order's attempts before the call, plus one
  ChargeOutcome outcome = ChargeOutcome::kRetryable;
  std::string reason;  // declines and transient failures: why (for failure_reason and logs)
  // kRetryable: the gateway's Retry-After (zero when none); the next attempt waits at least this.
  std::chrono::milliseconds retry_after{0};
};

enum class PaymentReportOutcome : std::uint8_t {
  kPaid,
  kFailed,
  kRetryScheduled,
  kNeedsAttention,
  kStale,  // the order is no longer PENDING or the attempt was already recorded
  kOrderNotFound,
};

struct PaymentReportResult {
  PaymentReportOutcome outcome = PaymentReportOutcome::kOrderNotFound;
  std::optional<Order> order;
};

enum class ResolveChoice : std::uint8_t { kPaid, kFailed };

enum class ResolveOutcome : std::uint8_t {
  kResolved,
  kOrderNotFound,
  kNotNeedsAttention,  // only NEEDS_ATTENTION orders are settled by hand
};

struct ResolveResult {
  ResolveOutcome outcome = ResolveOutcome::kOrderNotFound;
  std::optional<Order> order;
};

// The reply a keyed request that created something answered, stored with its idempotency key
// and replayed byte-identically to a repeat. Opaque to core: the edge chooses status and body.
struct StoredReply {
  std::int32_t status = 0;
  std::string body;
};

// What a repeat must match to be replayed rather than refused as a reused key. Persisted in
// idempotency records: never change the format.
std::string ReserveFingerprint(const ReserveCommand& command);
std::string CheckoutFingerprint(const CheckoutCommand& command);

std::string_view ReserveOutcomeName(ReserveOutcome outcome);
std::string_view CheckoutOutcomeName(CheckoutOutcome outcome);

}  // namespace fs::core
