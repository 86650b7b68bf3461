// Goal: the in-memory reference store (store/memory) and the SQLite store keep the same
// contract, so model and simulation tests may use the memory store in the database's place:
// what one commits the other commits, what one refuses the other refuses with the same code
// (kInternal for a broken guard) and leaves nothing of the batch, and both load and count the
// same state. Every test runs once per store.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/store_rows.h"
#include "common/temp_database_test.h"
#include "core/order.h"
#include "core/queue_types.h"
#include "store/memory/memory_store.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::store {
namespace {

using base::StatusCode;

// A writer bug the database refuses: by a guard (kInternal) or by a declarative constraint
// (kInvalidArgument, a data error the engine retries the batch without). Nothing is applied.
bool Refused(const base::Status& status) {
  return status.code() == StatusCode::kInternal || status.code() == StatusCode::kInvalidArgument;
}
using core::ReservationStatus;
using test_rows::kT0;
using test_rows::MakeReservation;
using test_rows::MakeSale;
using testing::HasSubstr;

enum class Backend { kMemory, kSqlite };

class StoreContractTest : public test_common::TempDatabaseTest,
                          public testing::WithParamInterface<Backend> {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempDatabaseTest::SetUp());
    if (GetParam() == Backend::kMemory) {
      store_ = std::make_unique<MemoryStore>();
      return;
    }
    SqliteOptions options;
    options.background_checkpoint = false;
    auto opened = SqliteStore::Open(path_, options);
    ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
    store_ = std::move(*opened);
  }
  void TearDown() override {
    store_.reset();
    TempDatabaseTest::TearDown();
  }

  base::Status Commit(core::Mutations mutations) { return store_->Commit(mutations); }

  core::Mutation Changed(const std::string& id, ReservationStatus from, ReservationStatus to) {
    return core::ReservationStatusChanged{id, "sku-a", from, to, kT0 + base::Millis(5)};
  }

  StoredCounters Counters() {
    auto counters = store_->ReadCounters();
    EXPECT_TRUE(counters.has_value());
    if (!counters || counters->empty()) return {};
    return counters->front();
  }

  core::Order OrderFor(const core::Reservation& reservation) {
    core::Order order;
    order.order_id = "o-" + reservation.reservation_id;
    order.reservation_id = reservation.reservation_id;
    order.sku_id = reservation.sku_id;
    order.user_id = reservation.user_id;
    order.quantity = reservation.quantity;
    order.amount_cents = 19'999 * reservation.quantity;
    order.currency = "EUR";
    order.payment_method_id = "pm-1";
    order.next_attempt_at = kT0;
    order.created_at = kT0;
    order.updated_at = kT0;
    return order;
  }

  std::unique_ptr<Store> store_;
};

TEST_P(StoreContractTest, CommitsAndLoadsInCreationOrder) {
  ASSERT_TRUE(Commit({core::SaleCreated{MakeSale("sku-b", 10, 2)},
                      core::SaleCreated{MakeSale("sku-a", 10, 2)}})
                  .ok());
  ASSERT_TRUE(Commit({core::ReservationCreated{MakeReservation("r-2", "sku-a", "u-1", 1)},
                      core::ReservationCreated{MakeReservation("r-1", "sku-a", "u-2", 2)}})
                  .ok());
  auto loaded = store_->Load(kT0);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  ASSERT_EQ(loaded->sales.size(), 2u);
  EXPECT_EQ(loaded->sales[0].sku_id, "sku-b");
  EXPECT_EQ(loaded->sales[1].per_user_limit, 2);
  ASSERT_EQ(loaded->reservations.size(), 2u);
  EXPECT_EQ(loaded->reservations[0].reservation_id, "r-2");
  EXPECT_EQ(loaded->reservations[1].quantity, 2);
  auto counters = store_->ReadCounters();
  ASSERT_TRUE(counters.has_value());
  ASSERT_EQ(counters->size(), 2u);
  EXPECT_EQ((*counters)[0].sku_id, "sku-a");  // by sku_id
  EXPECT_EQ((*counters)[0].held, 3);
}

TEST_P(StoreContractTest, RefusesOversellAndKeepsNothingOfTheBatch) {
  ASSERT_TRUE(Commit({core::SaleCreated{MakeSale("sku-a", 2, 5)}}).ok());
  const base::Status status =
      Commit({core::ReservationCreated{MakeReservation("r-1", "sku-a", "u-1", 1)},
              core::ReservationCreated{MakeReservation("r-2", "sku-a", "u-2", 2)}});
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("no_oversell"));
  EXPECT_THAT(status.message(), HasSubstr("mutation 1"));
  EXPECT_EQ(Counters().held, 0);
  auto loaded = store_->Load(kT0);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(loaded->reservations.empty());
}

TEST_P(StoreContractTest, RefusesAStockBelowHeldAndSold) {
  ASSERT_TRUE(Commit({core::SaleCreated{MakeSale("sku-a", 5, 5)},
                      core::ReservationCreated{MakeReservation("r-1", "sku-a", "u-1", 3)}})
                  .ok());
  EXPECT_EQ(Commit({core::SaleStockChanged{"sku-a", 5, 2}}).code(), StatusCode::kInternal);
  EXPECT_EQ(Commit({core::SaleStockChanged{"sku-a", 4, 6}}).code(), StatusCode::kInternal);
  EXPECT_TRUE(Commit({core::SaleStockChanged{"sku-a", 5, 3}}).ok());
  EXPECT_EQ(Counters().total_stock, 3);
}

TEST_P(StoreContractTest, RefusesThePerUserLimit) {
  ASSERT_TRUE(Commit({core::SaleCreated{MakeSale("sku-a", 10, 2)},
                      core::ReservationCreated{MakeReservation("r-1", "sku-a", "u-1", 2)}})
                  .ok());
  const base::Status status =
      Commit({core::ReservationCreated{MakeReservation("r-2", "sku-a", "u-1", 1)}});
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("per-user limit exceeded"));
  // Released units leave the user's count.
  ASSERT_TRUE(
      Commit({Changed("r-1", ReservationStatus::kReserved, ReservationStatus::kReleased)}).ok());
  EXPECT_TRUE(Commit({core::ReservationCreated{MakeReservation("r-2", "sku-a", "u-1", 2)}}).ok());
}

TEST_P(StoreContractTest, MovesUnitsAlongLegalTransitionsOnly) {
  ASSERT_TRUE(Commit({core::SaleCreated{MakeSale("sku-a", 10, 5)},
                      core::ReservationCreated{MakeReservation("r-1", "sku-a", "u-1", 2)}})
                  .ok());
  ASSERT_TRUE(
      Commit({Changed("r-1", ReservationStatus::kReserved, ReservationStatus::kCheckoutPending)})
          .ok());
  ASSERT_TRUE(
      Commit({Changed("r-1", ReservationStatus::kCheckoutPending, ReservationStatus::kPurchased)})
          .ok());
  EXPECT_EQ(Counters().held, 0);
  EXPECT_EQ(Counters().sold, 2);
  const base::Status illegal =
      Commit({Changed("r-1", ReservationStatus::kPurchased, ReservationStatus::kReleased)});
  EXPECT_EQ(illegal.code(), StatusCode::kInternal);
  EXPECT_THAT(illegal.message(), HasSubstr("illegal reservation status transition"));
  const base::Status stale =
      Commit({Changed("r-1", ReservationStatus::kReserved, ReservationStatus::kExpired)});
  EXPECT_EQ(stale.code(), StatusCode::kInternal);
  EXPECT_THAT(stale.message(), HasSubstr("matched 0 rows"));
}

TEST_P(StoreContractTest, ACheckoutFollowsItsOrder) {
  const core::Reservation reservation = MakeReservation("r-1", "sku-a", "u-1", 1);
  ASSERT_TRUE(
      Commit({core::SaleCreated{MakeSale("sku-a", 10, 5)}, core::ReservationCreated{reservation},
              Changed("r-1", ReservationStatus::kReserved, ReservationStatus::kCheckoutPending),
              core::OrderCreated{OrderFor(reservation)}})
          .ok());
  core::Order wrong = OrderFor(reservation);
  wrong.order_id = "o-second";
  EXPECT_TRUE(Refused(Commit({core::OrderCreated{wrong}})));
  // Not purchased while the order is PENDING.
  EXPECT_EQ(
      Commit({Changed("r-1", ReservationStatus::kCheckoutPending, ReservationStatus::kPurchased)})
          .code(),
      StatusCode::kInternal);
  core::Order paid = OrderFor(reservation);
  paid.status = core::OrderStatus::kPaid;
  ASSERT_TRUE(
      Commit({core::OrderStatusChanged{core::OrderStatus::kPending, paid},
              Changed("r-1", ReservationStatus::kCheckoutPending, ReservationStatus::kPurchased)})
          .ok());
  core::Order back = paid;
  back.status = core::OrderStatus::kPending;
  EXPECT_EQ(Commit({core::OrderStatusChanged{core::OrderStatus::kPaid, back}}).code(),
            StatusCode::kInternal);
  // A final order (and its ended reservation) is not loaded: its units are in the counters.
  auto loaded = store_->Load(kT0);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(loaded->orders.empty());
  EXPECT_TRUE(loaded->reservations.empty());
  ASSERT_EQ(loaded->counters.size(), 1u);
  EXPECT_EQ(loaded->counters[0].held, 0);
  EXPECT_EQ(loaded->counters[0].sold, reservation.quantity);
  ASSERT_EQ(loaded->user_units.size(), 1u);
  EXPECT_EQ(loaded->user_units[0].units, reservation.quantity);
}

TEST_P(StoreContractTest, OutboxSequencesAreGapFree) {
  ASSERT_TRUE(Commit({core::SaleCreated{MakeSale("sku-a", 10, 5)}}).ok());
  core::OutboxEvent event;
  event.type = "reservation.created";
  event.sku_id = "sku-a";
  event.user_id = "u-1";
  event.occurred_at = kT0;
  event.payload_json = "{}";
  event.sequence = 1;
  event.event_id = "sku-a:1";
  ASSERT_TRUE(Commit({core::EventAppended{event}}).ok());
  event.sequence = 3;
  event.event_id = "sku-a:3";
  EXPECT_EQ(Commit({core::EventAppended{event}}).code(), StatusCode::kInternal);
  event.event_id = "sku-a:2";
  EXPECT_EQ(Commit({core::EventAppended{event}}).code(), StatusCode::kInternal);  // not <sku>:<seq>
  auto loaded = store_->Load(kT0);
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->event_sequences.size(), 1u);
  EXPECT_EQ(loaded->event_sequences[0].second, 1);
}

TEST_P(StoreContractTest, AQueuePassIsUsedOnceByItsHolder) {
  ASSERT_TRUE(Commit({core::SaleCreated{MakeSale("sku-a", 10, 5)},
                      core::WaitingRoomCreated{core::WaitingRoomRecord{"sku-a", kT0, {}, 0, {}}}})
                  .ok());
  core::QueueTicket ticket;
  ticket.ticket_id = "t-1";
  ticket.sku_id = "sku-a";
  ticket.user_id = "u-1";
  ticket.join_seq = 1;
  ticket.joined_at = kT0;
  ASSERT_TRUE(Commit({core::QueueTicketIssued{ticket}}).ok());
  core::QueueTicket gap = ticket;
  gap.ticket_id = "t-3";
  gap.user_id = "u-3";
  gap.join_seq = 3;
  EXPECT_EQ(Commit({core::QueueTicketIssued{gap}}).code(), StatusCode::kInternal);
  EXPECT_EQ(Commit({core::WaitingRoomDrawn{"sku-a", 7, 2, kT0}}).code(), StatusCode::kInternal);
  ASSERT_TRUE(Commit({core::WaitingRoomDrawn{"sku-a", 7, 1, kT0}}).ok());
  ASSERT_TRUE(Commit({core::QueueTicketAdmitted{"sku-a", "t-1", kT0 + base::Millis(1),
                                                kT0 + base::Millis(60'000)}})
                  .ok());
  ASSERT_TRUE(Commit({core::ReservationCreated{MakeReservation("r-1", "sku-a", "u-1", 1)},
                      core::ReservationCreated{MakeReservation("r-2", "sku-a", "u-2", 1)}})
                  .ok());
  EXPECT_EQ(Commit({core::QueuePassUsed{"sku-a", "t-1", "r-2", kT0 + base::Millis(2)}}).code(),
            StatusCode::kInternal);  // another user's reservation
  ASSERT_TRUE(Commit({core::QueuePassUsed{"sku-a", "t-1", "r-1", kT0 + base::Millis(2)}}).ok());
  EXPECT_EQ(Commit({core::QueuePassUsed{"sku-a", "t-1", "r-1", kT0 + base::Millis(3)}}).code(),
            StatusCode::kInternal);  // used twice
  auto loaded = store_->Load(kT0);
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->queue_tickets.size(), 1u);
  EXPECT_EQ(loaded->queue_tickets[0].used_reservation_id, "r-1");
  ASSERT_EQ(loaded->waiting_rooms.size(), 1u);
  EXPECT_EQ(loaded->waiting_rooms[0].draw_seed, 7u);
}

TEST_P(StoreContractTest, LoadsIdempotencyRecordsSinceAndPrunes) {
  core::IdempotencyRecord old_record;
  old_record.user_id = "u-1";
  old_record.key = "k-old";
  old_record.request_fingerprint = "reserve|sku-a|1";
  old_record.http_status = 201;
  old_record.response_body = "{}";
  old_record.created_at = kT0;
  core::IdempotencyRecord new_record = old_record;
  new_record.key = "k-new";
  new_record.created_at = kT0 + base::Millis(10);
  ASSERT_TRUE(
      Commit({core::IdempotencyStored{new_record}, core::IdempotencyStored{old_record}}).ok());
  EXPECT_TRUE(Refused(Commit({core::IdempotencyStored{old_record}})));
  auto loaded = store_->Load(kT0);
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->idempotency.size(), 2u);
  EXPECT_EQ(loaded->idempotency[0].key, "k-old");  // by creation time
  ASSERT_TRUE(Commit({core::IdempotencyPruned{kT0 + base::Millis(1)}}).ok());
  loaded = store_->Load(kT0);
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->idempotency.size(), 1u);
  EXPECT_EQ(loaded->idempotency[0].key, "k-new");
}

std::string BackendName(const testing::TestParamInfo<Backend>& param) {
  return param.param == Backend::kMemory ? "Memory" : "Sqlite";
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreContractTest,
                         testing::Values(Backend::kMemory, Backend::kSqlite), BackendName);

}  // namespace
}  // namespace fs::store
