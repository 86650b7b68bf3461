// JSON response bodies (RapidJSON Writer). RenderReservation is also the engine's
// Options::render_reservation, so the body stored with an idempotency key and the body of the
// first 201 are produced by the same function and a replay is byte-identical.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/types.h"

namespace fs::http {

// {"reservation_id","sku_id","user_id","quantity","status","expires_at"}
std::string RenderReservation(const core::Reservation& reservation);

// {"error":{"code":...,"message":...}}
std::string RenderError(std::string_view code, std::string_view message);

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
// {"status": status}
std::string RenderStatusBody(std::string_view status);

}  // namespace fs::http
