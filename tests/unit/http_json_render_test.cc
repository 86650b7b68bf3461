// Goal: response bodies have exactly the public field names, order and formats of the contract:
// RFC 3339 UTC times with milliseconds, null for absent times, counters in the admin view only,
// escaped strings, and the error envelope {"error":{"code","message"}}. The reservation body
// is deterministic, so an idempotent replay can be byte-identical.

#include <gtest/gtest.h>

#include "base/time_format.h"
#include "http/json_render.h"

namespace fs::http {
namespace {

base::Time At(const char* text) { return *base::ParseRfc3339(text); }

core::Sale TestSale() {
  core::Sale sale;
  sale.sku_id = "cap";
  sale.name = "Cap \"red\"";
  sale.price_cents = 1999;
  sale.currency = "USD";
  sale.total_stock = 10;
  sale.per_user_limit = 2;
  sale.reservation_ttl_seconds = 60;
  sale.starts_at = At("2030-01-01T00:00:00Z");
  sale.created_at = At("2029-12-31T23:00:00.5Z");
  return sale;
}

TEST(HttpJsonRenderTest, Reservation) {
  core::Reservation reservation;
  reservation.reservation_id = "r-1";
  reservation.sku_id = "cap";
  reservation.user_id = "alice";
  reservation.quantity = 2;
  reservation.status = core::ReservationStatus::kReserved;
  reservation.expires_at = At("2030-01-01T00:02:00.250Z");
  const std::string expected =
      R"({"reservation_id":"r-1","sku_id":"cap","user_id":"alice","quantity":2,)"
      R"("status":"RESERVED","expires_at":"2030-01-01T00:02:00.250Z"})";
  EXPECT_EQ(RenderReservation(reservation), expected);
  EXPECT_EQ(RenderReservation(reservation), RenderReservation(reservation));
  reservation.status = core::ReservationStatus::kReleased;
  EXPECT_NE(RenderReservation(reservation).find(R"("status":"RELEASED")"), std::string::npos);
}

TEST(HttpJsonRenderTest, PublicSaleHasNoCounters) {
  const core::StockCounters counters{10, 3, 2};
  EXPECT_EQ(RenderPublicSale(TestSale(), counters, core::SaleStatus::kOpen),
            R"({"sku_id":"cap","name":"Cap \"red\"","price_cents":1999,"currency":"USD",)"
            R"("total_stock":10,"per_user_limit":2,"reservation_ttl_seconds":60,)"
            R"("starts_at":"2030-01-01T00:00:00.000Z","ends_at":null,"waiting_room":false,)"
            R"("description":null,"image_url":null,"category":null,"tags":[],)"
            R"("available":5,)"
            R"("status":"OPEN"})");
  core::Sale detailed = TestSale();
  detailed.details = {"Wool, \"warm\"", "/img/cap.png", "Hats", {"winter", "wool"}};
  EXPECT_NE(RenderPublicSale(detailed, counters, core::SaleStatus::kOpen)
                .find(R"("description":"Wool, \"warm\"","image_url":"/img/cap.png",)"
                      R"("category":"Hats","tags":["winter","wool"])"),
            std::string::npos);
}

TEST(HttpJsonRenderTest, AdminSaleHasCountersAndCreatedAt) {
  const core::StockCounters counters{10, 3, 2};
  EXPECT_EQ(RenderAdminSale(TestSale(), counters, core::SaleStatus::kScheduled),
            R"({"sku_id":"cap","name":"Cap \"red\"","price_cents":1999,"currency":"USD",)"
            R"("total_stock":10,"per_user_limit":2,"reservation_ttl_seconds":60,)"
            R"("starts_at":"2030-01-01T00:00:00.000Z","ends_at":null,"waiting_room":false,)"
            R"("description":null,"image_url":null,"category":null,"tags":[],)"
            R"("available":5,)"
            R"("reserved":3,"sold":2,"status":"SCHEDULED",)"
            R"("created_at":"2029-12-31T23:00:00.500Z"})");
}

TEST(HttpJsonRenderTest, AvailabilityErrorAndStatus) {
  EXPECT_EQ(RenderAvailability("cap", 0, core::SaleStatus::kSoldOut),
            R"({"sku_id":"cap","available":0,"status":"SOLD_OUT"})");
  EXPECT_EQ(RenderError("SOLD_OUT", "none \"left\"\n"),
            R"({"error":{"code":"SOLD_OUT","message":"none \"left\"\n"}})");
  EXPECT_EQ(RenderStatusBody("ok"), R"({"status":"ok"})");
  EXPECT_EQ(
      RenderStatusError("starting", "UNAVAILABLE", "wait", "r\"1"),
      R"({"status":"starting","error":{"code":"UNAVAILABLE","message":"wait","request_id":"r\"1"}})");
}

}  // namespace
}  // namespace fs::http
