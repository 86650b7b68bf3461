// Parsing and validation of what clients send: JSON bodies (RapidJSON), the bearer token,
// the idempotency key and path ids. Every failure is an InvalidArgument Status whose message
// is safe to show the client (it becomes a 400 INVALID_REQUEST). Unknown JSON fields are
// ignored; known fields with a wrong type or value are refused.
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "core/inventory.h"
#include "core/types.h"

namespace fs::http {

// Reservation ids are UUIDs (36 bytes); anything far longer cannot exist and is not looked up.
inline constexpr std::size_t kReservationIdBytesMax = 64;

struct ReserveBody {
  std::optional<std::string> sku_id;           // required by POST /api/v1/reserve only
  std::int32_t quantity = 1;                   // absent: 1 unit
  std::optional<std::string> idempotency_key;  // body "idempotency_key"
  std::optional<std::string> queue_pass;       // body "queue_pass" (waiting-room sales)
};

// An empty body means all defaults. REQUIRES nothing of `body` (any bytes).
base::Result<ReserveBody> ParseReserveBody(std::string_view body);

// The effective key from the Idempotency-Key header and the body field: either may be
// given, both only if equal. Returns "" when neither is present.
base::Result<std::string> ResolveIdempotencyKey(std::optional<std::string_view> header_key,
                                                const std::optional<std::string>& body_key);

// The queue pass from the X-Queue-Pass header and the body field: either may be given, both
// only if equal. nullopt when neither is present.
base::Result<std::optional<std::string>> ResolveQueuePass(
    std::optional<std::string_view> header_pass, const std::optional<std::string>& body_pass);

// 1..kIdempotencyKeyBytesMax bytes of visible ASCII (0x21-0x7E). kInvalidArgument naming
// `field` (the header or body field the key came in) otherwise.
base::Status ValidateIdempotencyKey(std::string_view key, std::string_view field);

// A sale definition for POST /admin/v1/skus, checked with core::ValidateSale too.
base::Result<core::Sale> ParseSaleBody(std::string_view body);
// PATCH /admin/v1/skus/{sku}: name, description, image_url, category and tags only (any other
// field is refused, naming it); null clears a detail.
base::Result<core::SalePatch> ParseSalePatch(std::string_view body);

// The token of an "Authorization: Bearer <token>" header (scheme case-insensitive);
// nullopt when the header is missing, has another scheme, or an empty token.
std::optional<std::string_view> BearerToken(std::optional<std::string_view> authorization);

// Body of POST /api/v1/checkout: {"reservation_id","payment_method_id","idempotency_key"?}.
struct CheckoutBody {
  std::string reservation_id;
  std::string payment_method_id;
  std::optional<std::string> idempotency_key;
};
base::Result<CheckoutBody> ParseCheckoutBody(std::string_view body);

// Body of POST /admin/v1/orders/{id}/resolve: {"outcome":"paid"|"failed"}.
base::Result<core::ResolveChoice> ParseResolveBody(std::string_view body);

// Body of POST /demo/v1/token: {"user_id"}, 1-255 bytes of printable UTF-8 (what a token's
// subject may be).
base::Result<std::string> ParseDemoTokenBody(std::string_view body);

// The value of query parameter `name` in `target` ("/x?a=1&b=2"), undecoded; nullopt if absent.
std::optional<std::string_view> QueryParameter(std::string_view target, std::string_view name);

// GET /api/v1/orders/{id}?wait_seconds=N: how long a read of a PENDING order may be held,
// 0 (the default: answer at once) to kOrderWaitSecondsMax.
inline constexpr int kOrderWaitSecondsMax = 30;
base::Result<std::chrono::seconds> ParseWaitSeconds(std::string_view target);

// Whether `id` could be a reservation id at all (length and printable ASCII).
bool IsPlausibleReservationId(std::string_view id);

}  // namespace fs::http
