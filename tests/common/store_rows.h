// Rows for store tests (SQLite and PostgreSQL): a sale, a RESERVED reservation, numbered ids.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "base/clock.h"
#include "core/types.h"

namespace fs::store::test_rows {

inline const base::Time kT0 = base::TimeFromMillis(1'700'000'000'000);

inline core::Sale MakeSale(const std::string& sku_id, std::int64_t total_stock,
                           std::int32_t per_user_limit) {
  core::Sale sale;
  sale.sku_id = sku_id;
  sale.name = "Phone " + sku_id;
  sale.price_cents = 19'999;
  sale.currency = "EUR";
  sale.total_stock = total_stock;
  sale.per_user_limit = per_user_limit;
  sale.reservation_ttl_seconds = 120;
  sale.created_at = kT0;
  return sale;
}

inline core::Reservation MakeReservation(const std::string& id, const std::string& sku_id,
                                         const std::string& user_id, std::int32_t quantity) {
  core::Reservation reservation;
  reservation.reservation_id = id;
  reservation.sku_id = sku_id;
  reservation.user_id = user_id;
  reservation.quantity = quantity;
  reservation.status = core::ReservationStatus::kReserved;
  reservation.created_at = kT0 + base::Millis(1);
  reservation.expires_at = kT0 + base::Millis(120'001);
  reservation.updated_at = kT0 + base::Millis(1);
  return reservation;
}

// Appends instead of `"r-" + std::to_string(n)`, which trips GCC 12's false -Wrestrict at -O3.
inline std::string Numbered(const char* prefix, int number) {
  std::string out(prefix);
  out += std::to_string(number);
  return out;
}

}  // namespace fs::store::test_rows
