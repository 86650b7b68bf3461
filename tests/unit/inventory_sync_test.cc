// Goal: the ledger's Sync* calls (a node applying rows other nodes committed) bring memory to
// the stored state: counters, user units and the expiry queue follow the reservations in any
// order of arrival, applying the same rows twice changes nothing, orders move in and out of
// the payment queue, event sequences and the audit head follow, and the result passes the
// full recount (CheckInvariants) and decides the next reservation as one writer would.
#include <gtest/gtest.h>

#include <string>

#include "core/ledger.h"

namespace fs::core {
namespace {

const Time kT0 = base::TimeFromMillis(1'800'000'000'000);

Sale MakeSale(std::int64_t stock, std::int32_t limit) {
  Sale sale;
  sale.sku_id = "sku";
  sale.name = "Sale";
  sale.price_cents = 100;
  sale.currency = "USD";
  sale.total_stock = stock;
  sale.per_user_limit = limit;
  sale.reservation_ttl_seconds = 60;
  sale.created_at = kT0;
  return sale;
}

Reservation MakeReservation(const std::string& id, const std::string& user,
                            ReservationStatus status) {
  Reservation r;
  r.reservation_id = id;
  r.sku_id = "sku";
  r.user_id = user;
  r.quantity = 1;
  r.status = status;
  r.created_at = kT0;
  r.expires_at = kT0 + std::chrono::seconds(60);
  r.updated_at = kT0;
  return r;
}

TEST(InventorySyncTest, CountersFollowTheStoredRowsInAnyOrder) {
  Ledger inventory;
  inventory.SyncSale(MakeSale(2, 1));
  inventory.SyncReservation(MakeReservation("a", "ann", ReservationStatus::kReserved));
  inventory.SyncReservation(MakeReservation("b", "bob", ReservationStatus::kReserved));
  // A third hold arrives before the release that made room for it (one refresh's rows).
  inventory.SyncReservation(MakeReservation("c", "cid", ReservationStatus::kReserved));
  inventory.SyncReservation(MakeReservation("a", "ann", ReservationStatus::kReleased));
  inventory.CheckSynced();
  auto sale = inventory.FindSale("sku");
  ASSERT_TRUE(sale);
  EXPECT_EQ(sale->counters.held, 2);
  EXPECT_EQ(inventory.UserUnits("sku", "ann"), 0);
  EXPECT_EQ(inventory.UserUnits("sku", "cid"), 1);
  inventory.CheckInvariants();
}

TEST(InventorySyncTest, ApplyingTheSameRowsTwiceChangesNothing) {
  Ledger inventory;
  inventory.SyncSale(MakeSale(5, 2));
  for (int round = 0; round < 2; ++round) {
    inventory.SyncReservation(MakeReservation("a", "ann", ReservationStatus::kReserved));
    inventory.SyncReservation(MakeReservation("b", "ann", ReservationStatus::kPurchased));
    IdempotencyRecord record;
    record.user_id = "ann";
    record.key = "k";
    record.request_fingerprint = "reserve|sku|1";
    record.http_status = 201;
    record.response_body = "a";
    record.created_at = kT0;
    inventory.SyncIdempotency(record);
    inventory.SyncEventSequence("sku", 3);
    inventory.CheckSynced();
  }
  auto sale = inventory.FindSale("sku");
  EXPECT_EQ(sale->counters.held, 1);
  EXPECT_EQ(sale->counters.sold, 1);
  EXPECT_EQ(inventory.UserUnits("sku", "ann"), 2);
  EXPECT_EQ(inventory.idempotency_count(), 1u);
  EXPECT_EQ(inventory.EventSequence("sku"), 3);
  inventory.SyncEventSequence("sku", 2);  // never moves back
  EXPECT_EQ(inventory.EventSequence("sku"), 3);
  inventory.CheckInvariants();
}

TEST(InventorySyncTest, DecisionsAfterASyncSeeOtherNodesRows) {
  Ledger inventory;
  inventory.SyncSale(MakeSale(2, 1));
  inventory.SyncReservation(MakeReservation("a", "ann", ReservationStatus::kReserved));
  inventory.SyncReservation(MakeReservation("b", "bob", ReservationStatus::kReserved));
  inventory.CheckSynced();
  inventory.BeginBatch();
  EXPECT_EQ(inventory.Reserve({"sku", "cid", 1, ""}, {}, "c", kT0).outcome,
            ReserveOutcome::kSoldOut);
  inventory.CommitBatch();
  // Another node expired ann's hold: the unit is free again and ann may reserve again.
  inventory.SyncReservation(MakeReservation("a", "ann", ReservationStatus::kExpired));
  inventory.CheckSynced();
  inventory.BeginBatch();
  EXPECT_EQ(inventory.Reserve({"sku", "bob", 1, ""}, {}, "d", kT0).outcome,
            ReserveOutcome::kLimitExceeded);
  EXPECT_EQ(inventory.Reserve({"sku", "ann", 1, ""}, {}, "e", kT0).outcome,
            ReserveOutcome::kReserved);
  inventory.CommitBatch();
  // The expired hold left the expiry queue's live entries: nothing else is due.
  inventory.BeginBatch();
  EXPECT_EQ(inventory.ExpireDue(kT0 + std::chrono::seconds(61), 100), 2u);  // b and e
  inventory.CommitBatch();
  inventory.CheckInvariants();
}

TEST(InventorySyncTest, OrdersJoinAndLeaveThePaymentQueue) {
  Ledger inventory;
  inventory.SyncSale(MakeSale(2, 1));
  inventory.SyncReservation(MakeReservation("a", "ann", ReservationStatus::kCheckoutPending));
  Order order;
  order.order_id = "o";
  order.reservation_id = "a";
  order.sku_id = "sku";
  order.user_id = "ann";
  order.quantity = 1;
  order.amount_cents = 100;
  order.currency = "USD";
  order.status = OrderStatus::kPending;
  order.payment_method_id = "pm";
  order.next_attempt_at = kT0;
  inventory.SyncOrder(order);
  EXPECT_EQ(inventory.DueOrders(kT0, 10).size(), 1u);
  order.status = OrderStatus::kPaid;
  inventory.SyncReservation(MakeReservation("a", "ann", ReservationStatus::kPurchased));
  inventory.SyncOrder(order);
  inventory.CheckSynced();
  EXPECT_TRUE(inventory.DueOrders(kT0, 10).empty());
  EXPECT_EQ(inventory.FindSale("sku")->counters.sold, 1);
  inventory.CheckInvariants();
}

TEST(InventorySyncTest, TheAuditHeadFollowsTheStoredChain) {
  Ledger inventory;
  inventory.SyncAuditHead({7, "h7"});  // audit off: ignored
  EXPECT_EQ(inventory.audit_head().event_id, 0);
  inventory.EnableAudit([](std::string_view) { return std::string(64, 'x'); }, {});
  inventory.SyncAuditHead({7, "h7"});
  EXPECT_EQ(inventory.audit_head().event_id, 7);
}

}  // namespace
}  // namespace fs::core
