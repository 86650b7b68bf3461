// Helpers that speak flashsale's public HTTP contract for black-box tests: tokens,
// sale creation, reserve calls, reads of availability and admin counters, JSON parsing and
// assertions on the error shape {"error":{"code","message"}}.
// Thread-safety: pure functions, plus calls on a caller-owned HttpClient.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/http_client.h"

namespace fs::itest {

using WallTime = std::chrono::system_clock::time_point;

// ---- tokens -------------------------------------------------------------------------------

// A valid HS256 JWT for `user_id` under kJwtSecret, expiring `lifetime` from now.
std::string MintToken(std::string_view user_id,
                      std::chrono::seconds lifetime = std::chrono::hours(1));
// {"Authorization": "Bearer <MintToken(user_id)>"}
HttpHeaders UserAuth(std::string_view user_id);
// Like UserAuth, the token also carrying the claim "email": `email` (the buyer's address).
HttpHeaders UserAuthWithEmail(std::string_view user_id, std::string_view email);
// {"Authorization": "Bearer <kAdminToken>"}
HttpHeaders AdminAuth();
// Three base64url parts joined by dots: header JSON, payload JSON, and an HS256 signature of
// the first two under `secret` (empty secret: empty signature). For forging bad tokens.
std::string CraftToken(std::string_view header_json, std::string_view payload_json,
                       std::string_view secret);

// ---- time ---------------------------------------------------------------------------------

// RFC 3339 UTC with milliseconds, e.g. "2026-11-24T10:00:00.000Z".
std::string FormatTime(WallTime t);
std::optional<WallTime> ParseTime(std::string_view text);
std::int64_t ToUnixMillis(WallTime t);

// ---- JSON ---------------------------------------------------------------------------------

// nullopt when `text` is not valid JSON.
std::optional<rapidjson::Document> ParseJson(std::string_view text);
// Quotes `text` as a JSON string literal.
std::string JsonQuote(std::string_view text);
// The string member `field` of object `value`, or nullopt when absent or not a string.
std::optional<std::string> StringField(const rapidjson::Value& value, const char* field);
// The integer member `field` of object `value`, or nullopt when absent or not an integer.
std::optional<std::int64_t> IntField(const rapidjson::Value& value, const char* field);

// The string member `field` of a response's JSON object body, or "" when there is none.
std::string BodyField(const HttpResponse& response, const char* field);
// The error code of an error response, or "" when the body is not {"error":{"code","message"}}.
std::string ErrorCode(const HttpResponse& response);
// Succeeds when `response` has `status`, a JSON content type, and the body
// {"error":{"code":<code>,"message":<non-empty string>}}.
::testing::AssertionResult IsError(const HttpResponse& response, int status, std::string_view code);

// ---- sales --------------------------------------------------------------------------------

struct SaleSpec {
  std::string sku_id;
  std::string name = "Limited sneaker";
  std::int64_t price_cents = 12999;
  std::string currency = "EUR";
  std::int64_t total_stock = 100;
  std::int32_t per_user_limit = 1;
  std::int32_t reservation_ttl_seconds = 120;
  std::optional<std::string> starts_at;  // RFC 3339; absent when nullopt
  std::optional<std::string> ends_at;

  std::string ToJson() const;
};

// POST /admin/v1/skus with the admin token.
HttpResponse CreateSale(HttpClient& client, const SaleSpec& sale);
// CreateSale that must answer 201.
::testing::AssertionResult CreateSaleOk(HttpClient& client, const SaleSpec& sale);
// A sale that neither sells out nor hits its per-user limit in a test (10,000 units, 1,000
// per user): what limits a request is then something else, e.g. the rate limiter.
SaleSpec BigSale(std::string sku_id);

// ---- reservations -------------------------------------------------------------------------

enum class ReserveRoute : std::uint8_t {
  kProduct,  // POST /api/v1/products/{sku}/reserve {"quantity":N}
  kBody,     // POST /api/v1/reserve {"sku_id":..., "quantity":N}
};

enum class KeyPlacement : std::uint8_t { kHeader, kBody };

struct ReserveRequest {
  std::string sku_id;
  std::string user_id;
  std::int32_t quantity = 1;
  std::string idempotency_key;  // empty: none
  KeyPlacement key_placement = KeyPlacement::kHeader;
  ReserveRoute route = ReserveRoute::kProduct;

  // Fluent setters: ReserveRequest().Sku("tee").User("alice").Quantity(2).
  ReserveRequest& Sku(std::string value) {
    sku_id = std::move(value);
    return *this;
  }
  ReserveRequest& User(std::string value) {
    user_id = std::move(value);
    return *this;
  }
  ReserveRequest& Quantity(std::int32_t value) {
    quantity = value;
    return *this;
  }
  ReserveRequest& Key(std::string value, KeyPlacement placement = KeyPlacement::kHeader) {
    idempotency_key = std::move(value);
    key_placement = placement;
    return *this;
  }
  ReserveRequest& Via(ReserveRoute value) {
    route = value;
    return *this;
  }
};

HttpResponse Reserve(HttpClient& client, const ReserveRequest& request);

// Reserve that must answer 201 (a failure is recorded otherwise); the reservation id, or "".
std::string ReserveOk(HttpClient& client, const ReserveRequest& request);

// What a 201 reserve (or a GET/DELETE of a reservation) returned.
struct ReservationBody {
  std::string reservation_id;
  std::string sku_id;
  std::string user_id;
  std::int64_t quantity = 0;
  std::string status;
  std::string expires_at;
};
// Parses a reservation body; nullopt when it is not JSON or a field is missing or has the
// wrong type (quantity must be an integer, the rest strings).
std::optional<ReservationBody> ParseReservation(std::string_view body);

// The "status" of a reservation body, or "" when the response is not one.
std::string ReservationStatusOf(const HttpResponse& response);

// GET /api/v1/reservations/{id} as `user_id`.
HttpResponse GetReservation(HttpClient& client, std::string_view reservation_id,
                            std::string_view user_id);
// DELETE /api/v1/reservations/{id} as `user_id`.
HttpResponse ReleaseReservation(HttpClient& client, std::string_view reservation_id,
                                std::string_view user_id);

// ---- orders -------------------------------------------------------------------------------

// POST /api/v1/checkout of `reservation_id` as `user_id` with `payment_method_id` (the
// simulated gateway's pm_card_visa pays, pm_card_chargeDeclined fails, pm_card_timeout ends
// NEEDS_ATTENTION after the retries).
HttpResponse CheckoutReservation(HttpClient& client, std::string_view user_id,
                                 std::string_view reservation_id,
                                 std::string_view payment_method_id);
// The order's status once it is no longer PENDING (the saga settles it asynchronously), read
// by GET /api/v1/orders/{id} as `user_id` every 10 ms up to `timeout`; records a failure and
// returns the last status when it is still PENDING then.
std::string SettledOrderStatus(HttpClient& client, std::string_view order_id,
                               std::string_view user_id,
                               std::chrono::milliseconds timeout = std::chrono::seconds(20));

// ---- reads --------------------------------------------------------------------------------

struct Availability {
  std::string sku_id;
  std::int64_t available = 0;
  std::string status;
};
// GET /api/v1/products/{sku}/availability; nullopt unless 200 with the documented fields.
std::optional<Availability> GetAvailability(HttpClient& client, std::string_view sku_id);

// GetAvailability(...).available, or -1 when the read failed.
std::int64_t AvailableUnits(HttpClient& client, std::string_view sku_id);

struct AdminCounters {
  std::int64_t total_stock = 0;
  std::int64_t available = 0;
  std::int64_t reserved = 0;
  std::int64_t sold = 0;
  std::string status;
};
// GET /admin/v1/skus/{sku}; nullopt unless 200 with the documented fields.
std::optional<AdminCounters> GetAdminCounters(HttpClient& client, std::string_view sku_id);

// ---- audit --------------------------------------------------------------------------------

// Every event GET /admin/v1/audit?<filter> returns, in pages of `limit` following
// next_after_id. Records a failure when a page is not 200.
std::vector<rapidjson::Document> AuditEvents(HttpClient& client, const std::string& filter,
                                             int limit = 1000);

// Every sample line of `metric` (bare or with labels) in a Prometheus text page.
std::vector<std::string> MetricSamples(const std::string& page, std::string_view metric);

// True when GET /healthz on a fresh connection answers 200: the server is alive.
bool ServerAlive(std::uint16_t port);

}  // namespace fs::itest
