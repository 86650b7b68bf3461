// Goal: the SQLite store keeps what the checkout saga writes (orders, their status and retry
// state, outbox events with gapless per-SKU sequences) across a reopen, the outbox reader sees
// committed events in order and keeps its cursor, and the database's own guards refuse a
// second order for a reservation, an order whose amount or reservation is wrong, an illegal
// order transition, a sold reservation without a PAID order, and an outbox sequence gap.
#include <gtest/gtest.h>

#include <filesystem>
#include <variant>

#include "audit/audit_reader.h"
#include "common/temp_database_test.h"
#include "core/ledger.h"
#include "store/sqlite/sqlite_outbox.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::store {
namespace {

using base::TimeFromMillis;
using std::chrono::milliseconds;

core::Sale MakeSale() {
  core::Sale sale;
  sale.sku_id = "tee";
  sale.name = "Tee";
  sale.price_cents = 700;
  sale.currency = "EUR";
  sale.total_stock = 5;
  sale.per_user_limit = 2;
  sale.reservation_ttl_seconds = 60;
  return sale;
}

class SagaStoreTest : public test_common::TempDatabaseTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempDatabaseTest::SetUp());
    auto store = SqliteStore::Open(path_, {});
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    store_ = std::move(*store);
    ASSERT_TRUE(Batch([&] { inventory_.CreateSale(MakeSale(), now_); }).ok());
  }
  void TearDown() override {
    store_.reset();
    TempDatabaseTest::TearDown();
  }

  // Runs `commands` as one inventory batch and commits it; returns the commit status.
  template <typename Commands>
  base::Status Batch(Commands commands) {
    inventory_.BeginBatch();
    commands();
    const base::Status status = store_->Commit(inventory_.mutations());
    if (status.ok()) {
      inventory_.CommitBatch();
    } else {
      inventory_.RollbackBatch();
    }
    return status;
  }

  // A reservation checked out into a PENDING order; returns the order.
  core::Order CheckedOut(const std::string& suffix) {
    core::Order order;
    EXPECT_TRUE(Batch([&] {
                  inventory_.Reserve({"tee", "user-" + suffix, 1, ""}, {}, "r-" + suffix, now_);
                  auto result = inventory_.Checkout(
                      {"r-" + suffix, "user-" + suffix, "pm_card_visa", ""}, "o-" + suffix, now_);
                  EXPECT_EQ(result.outcome, core::CheckoutOutcome::kCreated);
                  order = *result.order;
                }).ok());
    return order;
  }

  // Commits hand-made mutations (bypassing the writer) to exercise the database's guards.
  base::Status Raw(const core::Mutations& mutations) { return store_->Commit(mutations); }

  std::unique_ptr<SqliteStore> store_;
  core::Ledger inventory_;
  core::RetrySchedule schedule_{{milliseconds(50)}};
  base::Time now_ = TimeFromMillis(1'700'000'000'000);
};

TEST_F(SagaStoreTest, OrdersAndEventsSurviveAReopen) {
  const core::Order paid = CheckedOut("a");
  const core::Order retried = CheckedOut("b");
  ASSERT_TRUE(Batch([&] {
                inventory_.RecordPayment({paid.order_id, 1, core::ChargeOutcome::kSucceeded, ""},
                                         schedule_, now_);
                inventory_.RecordPayment(
                    {retried.order_id, 1, core::ChargeOutcome::kRetryable, "timeout"}, schedule_,
                    now_);
              }).ok());
  store_.reset();
  auto reopened = SqliteStore::Open(path_, {});
  ASSERT_TRUE(reopened.has_value());
  auto loaded = (*reopened)->Load(now_);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  // Recovery loads the open order only; the PAID one (and its PURCHASED reservation) stays in
  // the database, read there on request, its units in the sale's counters.
  ASSERT_EQ(loaded->orders.size(), 1u);
  EXPECT_EQ(loaded->orders[0].order_id, retried.order_id);
  EXPECT_EQ(loaded->orders[0].status, core::OrderStatus::kPending);
  EXPECT_EQ(loaded->orders[0].attempts, 1);
  EXPECT_EQ(loaded->orders[0].next_attempt_at, now_ + milliseconds(50));
  ASSERT_EQ(loaded->counters.size(), 1u);
  EXPECT_EQ(loaded->counters[0].sold, 1);
  EXPECT_EQ(loaded->counters[0].held, 1);
  auto reader = audit::AuditReader::Open(path_);
  ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
  auto stored = (*reader)->ReadOrder(paid.order_id);
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->status, core::OrderStatus::kPaid);
  EXPECT_EQ((*stored)->amount_cents, 700);
  auto paid_list = (*reader)->ReadOrdersWithStatus(core::OrderStatus::kPaid, 10);
  ASSERT_TRUE(paid_list.has_value());
  ASSERT_EQ(paid_list->size(), 1u);
  EXPECT_EQ((*paid_list)[0].order_id, paid.order_id);
  ASSERT_EQ(loaded->event_sequences.size(), 1u);
  // 2 x (reservation.created, checkout.requested) + payment.succeeded + order.confirmed.
  EXPECT_EQ(loaded->event_sequences[0], (std::pair<std::string, std::int64_t>{"tee", 6}));

  core::Ledger again;
  for (const auto& sale : loaded->sales) again.LoadSale(sale);
  for (const auto& reservation : loaded->reservations) again.LoadReservation(reservation);
  for (const auto& order : loaded->orders) again.LoadOrder(order);
  for (const auto& c : loaded->counters) {
    EXPECT_EQ(again.LoadStoredCounts(c.sku_id, c.held, c.sold), "");
  }
  for (const auto& u : loaded->user_units) {
    EXPECT_EQ(again.LoadStoredUserUnits(u.sku_id, u.user_id, u.units), "");
  }
  again.CheckInvariants();
  EXPECT_EQ(again.DueOrders(now_ + milliseconds(50), 10).size(), 1u);
}

TEST_F(SagaStoreTest, OutboxReaderSeesCommittedEventsInOrderAndKeepsItsCursor) {
  CheckedOut("a");
  CheckedOut("b");
  auto outbox = SqliteOutbox::Open(path_);
  ASSERT_TRUE(outbox.has_value()) << outbox.error().ToString();
  EXPECT_EQ(*(*outbox)->LoadCursor("log"), 0);
  auto events = (*outbox)->ReadAfter(0, 3);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 3u);
  for (std::size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].event.sequence, static_cast<std::int64_t>(i + 1));
  }
  EXPECT_EQ((*events)[0].event.type, "reservation.created");
  EXPECT_EQ((*events)[1].event.type, "checkout.requested");
  ASSERT_TRUE((*outbox)->SaveCursor("log", (*events)[2].id).ok());
  // A cursor never moves back.
  ASSERT_TRUE((*outbox)->SaveCursor("log", 1).ok());
  EXPECT_EQ(*(*outbox)->LoadCursor("log"), (*events)[2].id);
  EXPECT_EQ(*(*outbox)->LoadCursor("webhook"), 0);
  auto rest = (*outbox)->ReadAfter((*events)[2].id, 100);
  ASSERT_TRUE(rest.has_value());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ(rest->front().event.sequence, 4);
  // The newest id, for the relay's backlog metric.
  EXPECT_EQ(*(*outbox)->LastId(), rest->back().id);
}

TEST_F(SagaStoreTest, DatabaseRefusesWhatTheWriterMustNeverDo) {
  const core::Order order = CheckedOut("a");
  core::Order second = order;
  second.order_id = "o-second";
  EXPECT_EQ(Raw({core::OrderCreated{second}}).code(), base::StatusCode::kInvalidArgument)
      << "a second order for one reservation";

  core::Order cheap = order;
  cheap.order_id = "o-cheap";
  ASSERT_TRUE(Batch([&] { inventory_.Reserve({"tee", "user-c", 1, ""}, {}, "r-c", now_); }).ok());
  cheap.reservation_id = "r-c";
  cheap.user_id = "user-c";
  EXPECT_EQ(Raw({core::OrderCreated{cheap}}).code(), base::StatusCode::kInternal)
      << "an order for a reservation that is not in checkout";

  core::Order paid = order;
  paid.status = core::OrderStatus::kPaid;
  core::Order back = paid;
  back.status = core::OrderStatus::kPending;
  EXPECT_EQ(Raw({core::OrderStatusChanged{core::OrderStatus::kPending, paid},
                 core::OrderStatusChanged{core::OrderStatus::kPaid, back}})
                .code(),
            base::StatusCode::kInternal)
      << "PAID -> PENDING";
  EXPECT_EQ(Raw({core::ReservationStatusChanged{order.reservation_id, "tee",
                                                core::ReservationStatus::kCheckoutPending,
                                                core::ReservationStatus::kPurchased, now_}})
                .code(),
            base::StatusCode::kInternal)
      << "sold while its order is still PENDING";

  core::OutboxEvent gap;
  gap.event_id = "tee:99";
  gap.type = "reservation.created";
  gap.sku_id = "tee";
  gap.user_id = "u";
  gap.sequence = 99;
  gap.payload_json = "{}";
  EXPECT_EQ(Raw({core::EventAppended{gap}}).code(), base::StatusCode::kInternal)
      << "an outbox sequence gap";
  core::OutboxEvent not_json = gap;
  not_json.event_id = "tee:4";
  not_json.sequence = inventory_.EventSequence("tee") + 1;
  not_json.payload_json = "{oops";
  EXPECT_EQ(Raw({core::EventAppended{not_json}}).code(), base::StatusCode::kInvalidArgument)
      << "a payload that is not JSON (a CHECK: one command's data)";
  // Nothing of the refused batches was stored: the writer's view still matches.
  EXPECT_TRUE(Batch([&] {
                inventory_.RecordPayment({order.order_id, 1, core::ChargeOutcome::kSucceeded, ""},
                                         schedule_, now_);
              }).ok());
}

}  // namespace
}  // namespace fs::store
