// JSON response bodies (RapidJSON Writer). RenderReservation and RenderCheckout also make the
// bodies stored with an idempotency key (replies.h, StoredReplies), so a replay is
// byte-identical to the first answer.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/order.h"
#include "core/types.h"
#include "core/waiting_room.h"

namespace fs::http {

// {"reservation_id","sku_id","user_id","quantity","status","expires_at"}
std::string RenderReservation(const core::Reservation& reservation);

// Checkout's 202 body: {"order_id","reservation_id","status","amount_cents","currency"}.
std::string RenderCheckout(const core::Order& order);
// {"order_id","reservation_id","sku_id","status","amount_cents","currency","failure_reason"}
std::string RenderOrder(const core::Order& order);
// Admin list: {"orders":[order + "user_id","payment_method_id","attempts","created_at",
// "updated_at"]}.
std::string RenderAdminOrders(const std::vector<core::Order>& orders);
std::string RenderAdminOrder(const core::Order& order);

// {"error":{"code":...,"message":...}}
std::string RenderError(std::string_view code, std::string_view message);
// An error body of RenderError's with "request_id" added to its "error" object, as the server
// sends every error (http/server.cc); any other body is returned as it is.
std::string WithErrorRequestId(std::string body, std::string_view request_id);

// Public product view: the sale's public fields plus "available" and "status".
std::string RenderPublicSale(const core::Sale& sale, const core::StockCounters& counters,
                             core::SaleStatus status);
// Admin view: every sale field plus "available", "reserved" (held), "sold", "status",
// "created_at".
std::string RenderAdminSale(const core::Sale& sale, const core::StockCounters& counters,
                            core::SaleStatus status);
// {"sku_id","available","status"}
std::string RenderAvailability(std::string_view sku_id, std::int64_t available,
                               core::SaleStatus status);
// A queue ticket: {"ticket","sku_id","status","position","estimated_wait_seconds",
// "poll_after_ms","joined_at"} plus "pass" and "pass_expires_at" when `pass` is given
// (admitted, and only to the ticket's owner). position, estimated_wait_seconds and
// poll_after_ms are null when they do not apply.
std::string RenderQueueTicket(const core::TicketView& view, const std::string* pass);
// {"status": status}
std::string RenderStatusBody(std::string_view status);
// A readiness answer that is also an error: {"status": status, "error": {"code", "message",
// "request_id"}}.
std::string RenderStatusError(std::string_view status, std::string_view code,
                              std::string_view message, std::string_view request_id);

}  // namespace fs::http
