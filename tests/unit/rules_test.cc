// Goal: the pure sale rules decide every reserve request correctly, including boundaries
// (exact stock, exact per-user limit, start/end instants) and invalid sale definitions.
#include "core/rules.h"

#include <gtest/gtest.h>

#include "base/time_format.h"

namespace fs::core {
namespace {

using base::TimeFromMillis;

Sale MakeSale() {
  Sale sale;
  sale.sku_id = "sku-1";
  sale.name = "Phone";
  sale.price_cents = 1999;
  sale.currency = "USD";
  sale.total_stock = 10;
  sale.per_user_limit = 2;
  return sale;
}

struct DecideCase {
  const char* name;
  std::int64_t held;
  std::int64_t sold;
  std::int32_t user_units;
  std::int32_t quantity;
  ReserveDecision expected;
};

TEST(DecideReserveTest, Table) {
  const DecideCase cases[] = {
      {"plenty", 0, 0, 0, 1, ReserveDecision::kGrant},
      {"last unit", 9, 0, 0, 1, ReserveDecision::kGrant},
      {"last unit held and sold mix", 4, 5, 0, 1, ReserveDecision::kGrant},
      {"none left", 10, 0, 0, 1, ReserveDecision::kSoldOut},
      {"none left after sales", 3, 7, 0, 1, ReserveDecision::kSoldOut},
      {"asks two, one left", 9, 0, 0, 2, ReserveDecision::kSoldOut},
      {"at the limit", 0, 0, 2, 1, ReserveDecision::kLimitExceeded},
      {"would pass the limit", 0, 0, 1, 2, ReserveDecision::kLimitExceeded},
      {"exactly the limit", 0, 0, 1, 1, ReserveDecision::kGrant},
      {"more than the limit at once", 0, 0, 0, 3, ReserveDecision::kLimitExceeded},
      {"limit checked before stock", 10, 0, 2, 1, ReserveDecision::kLimitExceeded},
  };
  const Sale sale = MakeSale();
  for (const auto& c : cases) {
    StockCounters counters{sale.total_stock, c.held, c.sold};
    EXPECT_EQ(DecideReserve(sale, counters, c.user_units, c.quantity, TimeFromMillis(0)),
              c.expected)
        << c.name;
  }
}

TEST(DecideReserveTest, Schedule) {
  Sale sale = MakeSale();
  sale.starts_at = TimeFromMillis(1000);
  sale.ends_at = TimeFromMillis(2000);
  const StockCounters counters{10, 0, 0};
  EXPECT_EQ(DecideReserve(sale, counters, 0, 1, TimeFromMillis(999)),
            ReserveDecision::kSaleNotOpen);
  EXPECT_EQ(DecideReserve(sale, counters, 0, 1, TimeFromMillis(1000)), ReserveDecision::kGrant);
  EXPECT_EQ(DecideReserve(sale, counters, 0, 1, TimeFromMillis(1999)), ReserveDecision::kGrant);
  EXPECT_EQ(DecideReserve(sale, counters, 0, 1, TimeFromMillis(2000)),
            ReserveDecision::kSaleClosed);
  sale.override_state = SaleOverride::kOpened;
  EXPECT_EQ(DecideReserve(sale, counters, 0, 1, TimeFromMillis(999)), ReserveDecision::kGrant);
  sale.override_state = SaleOverride::kClosed;
  EXPECT_EQ(DecideReserve(sale, counters, 0, 1, TimeFromMillis(1500)),
            ReserveDecision::kSaleClosed);
}

TEST(ComputeSaleStatusTest, SoldOutAndOpen) {
  Sale sale = MakeSale();
  EXPECT_EQ(ComputeSaleStatus(sale, {10, 0, 0}, TimeFromMillis(0)), SaleStatus::kOpen);
  EXPECT_EQ(ComputeSaleStatus(sale, {10, 4, 6}, TimeFromMillis(0)), SaleStatus::kSoldOut);
  sale.total_stock = 0;
  EXPECT_EQ(ComputeSaleStatus(sale, {0, 0, 0}, TimeFromMillis(0)), SaleStatus::kSoldOut);
}

TEST(ValidateSaleTest, Table) {
  EXPECT_EQ(ValidateSale(MakeSale()), "");
  struct Case {
    const char* name;
    void (*mutate)(Sale&);
  };
  const Case invalid[] = {
      {"empty sku", [](Sale& s) { s.sku_id = ""; }},
      {"sku with slash", [](Sale& s) { s.sku_id = "a/b"; }},
      {"sku too long", [](Sale& s) { s.sku_id = std::string(65, 'a'); }},
      {"empty name", [](Sale& s) { s.name = ""; }},
      {"negative price", [](Sale& s) { s.price_cents = -1; }},
      {"lowercase currency", [](Sale& s) { s.currency = "usd"; }},
      {"long currency", [](Sale& s) { s.currency = "USDX"; }},
      {"negative stock", [](Sale& s) { s.total_stock = -1; }},
      {"huge stock", [](Sale& s) { s.total_stock = kTotalStockMax + 1; }},
      {"zero limit", [](Sale& s) { s.per_user_limit = 0; }},
      {"zero ttl", [](Sale& s) { s.reservation_ttl_seconds = 0; }},
      {"ttl over a day", [](Sale& s) { s.reservation_ttl_seconds = 86401; }},
      {"ends before starts",
       [](Sale& s) {
         s.starts_at = TimeFromMillis(2000);
         s.ends_at = TimeFromMillis(1000);
       }},
  };
  for (const auto& c : invalid) {
    Sale sale = MakeSale();
    c.mutate(sale);
    EXPECT_NE(ValidateSale(sale), "") << c.name;
  }
}

TEST(ReservationStateMachineTest, AllowedEdgesOnly) {
  using S = ReservationStatus;
  const S all[] = {S::kReserved, S::kCheckoutPending, S::kPurchased, S::kExpired, S::kReleased};
  int allowed = 0;
  for (S from : all) {
    for (S to : all) allowed += IsAllowedTransition(from, to) ? 1 : 0;
  }
  EXPECT_EQ(allowed, 5);
  EXPECT_TRUE(IsAllowedTransition(S::kReserved, S::kCheckoutPending));
  EXPECT_TRUE(IsAllowedTransition(S::kReserved, S::kExpired));
  EXPECT_TRUE(IsAllowedTransition(S::kReserved, S::kReleased));
  EXPECT_TRUE(IsAllowedTransition(S::kCheckoutPending, S::kPurchased));
  EXPECT_TRUE(IsAllowedTransition(S::kCheckoutPending, S::kReleased));
  EXPECT_FALSE(IsAllowedTransition(S::kExpired, S::kReserved));
  EXPECT_FALSE(IsAllowedTransition(S::kCheckoutPending, S::kExpired));
}

TEST(TimeFormatTest, RoundTripAndRejects) {
  const auto t = base::ParseRfc3339("2026-11-24T10:20:30.123Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(base::FormatRfc3339(*t), "2026-11-24T10:20:30.123Z");
  EXPECT_EQ(base::FormatRfc3339(TimeFromMillis(0)), "1970-01-01T00:00:00.000Z");
  const auto offset = base::ParseRfc3339("2026-11-24T12:20:30+02:00");
  ASSERT_TRUE(offset.has_value());
  EXPECT_EQ(base::FormatRfc3339(*offset), "2026-11-24T10:20:30.000Z");
  EXPECT_EQ(base::FormatRfc3339(*base::ParseRfc3339("2024-02-29T23:59:59.5Z")),
            "2024-02-29T23:59:59.500Z");
  for (const char* bad :
       {"", "2026-11-24", "2026-11-24T10:20:30", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z", "2026-11-24T24:00:00Z", "2026-11-24T10:20:30.Z",
        "2026-11-24T10:20:30Zjunk", "abcd-ef-ghTij:kl:mnZ", "2026-11-24T10:20:30+0200"}) {
    EXPECT_FALSE(base::ParseRfc3339(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace fs::core
