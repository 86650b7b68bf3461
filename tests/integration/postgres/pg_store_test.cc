// Goal: the PostgreSQL store keeps the SQLite store's contract against a real PostgreSQL 15:
// every mutation kind is stored and loaded back; migrations are idempotent even when several
// nodes start at once; the database itself refuses an oversell, a per-user-limit violation,
// an illegal transition, a second order per reservation, a reused idempotency key and any
// edit of the audit trail, whether they come from a buggy writer (kInternal, nothing stored)
// or from SQL typed directly; and a writer's batch reads exactly the rows another writer
// committed since its last batch.
#include "store/postgres/pg_store.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/store_rows.h"
#include "pg_environment.h"
#include "store/postgres/pg_schema.h"

namespace fs::store {
namespace {

using base::StatusCode;
using base::TimeFromMillis;
using core::ReservationStatus;
using itest::CurrentDatabase;
using itest::FreshDatabaseUrl;
using itest::TestPostgres;

using test_rows::kT0;
using test_rows::MakeReservation;
using test_rows::MakeSale;
using test_rows::Numbered;

std::unique_ptr<PgStore> OpenStore(const std::string& url) {
  PgOptions options;
  options.url = url;
  auto store = PgStore::Open(options);
  EXPECT_TRUE(store) << (store ? "" : store.error().ToString());
  return store ? std::move(*store) : nullptr;
}

std::string QueryValue(const std::string& sql) {
  std::string value;
  EXPECT_TRUE(TestPostgres().Query(CurrentDatabase(), sql, value));
  return value;
}

std::string ExecuteState(const std::string& sql) {
  std::string sqlstate;
  TestPostgres().Execute(CurrentDatabase(), sql, sqlstate);
  return sqlstate;
}

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = FreshDatabaseUrl();
    store_ = OpenStore(url_);
    ASSERT_NE(store_, nullptr);
  }

  std::string url_;
  std::unique_ptr<PgStore> store_;
};

TEST_F(PgStoreTest, MigrationsAreIdempotentWhenNodesStartAtOnce) {
  std::vector<std::thread> starters;
  std::vector<int> opened(4, 0);
  for (std::size_t i = 0; i < opened.size(); ++i) {
    starters.emplace_back([&, i] { opened[i] = OpenStore(url_) != nullptr ? 1 : 0; });
  }
  for (auto& thread : starters) thread.join();
  for (int ok : opened) EXPECT_EQ(ok, 1);
  const std::string version = std::to_string(store::pg::kSchemaVersion);
  EXPECT_EQ(QueryValue("SELECT count(*) FROM schema_version"), version);  // each applied once
  EXPECT_EQ(QueryValue("SELECT max(version) FROM schema_version"), version);
}

TEST_F(PgStoreTest, EveryMutationKindRoundTrips) {
  core::Mutations batch;
  batch.push_back(core::SaleCreated{MakeSale("sku-1", 10, 2)});
  core::Reservation r1 = MakeReservation("r-1", "sku-1", "alice", 2);
  core::Reservation r2 = MakeReservation("r-2", "sku-1", "bob", 1);
  batch.push_back(core::ReservationCreated{r1});
  batch.push_back(core::ReservationCreated{r2});
  core::IdempotencyRecord record;
  record.user_id = "alice";
  record.key = "key \"quoted\" \\ back";
  record.request_fingerprint = "reserve|sku-1|2";
  record.http_status = 201;
  record.response_body = "{\"reservation_id\":\"r-1\",\"note\":\"a,b {c}\"}";
  record.created_at = kT0;
  batch.push_back(core::IdempotencyStored{record});
  core::AuditEvent event;
  event.event_id = 1;
  event.type = core::AuditEventType::kReserveAttempt;
  event.user_id = "alice";
  event.sku_id = "sku-1";
  event.occurred_at = kT0;
  event.prev_hash = std::string(core::kGenesisHash);
  event.event_hash = std::string(64, 'a');
  batch.push_back(core::AuditAppended{event});
  core::OutboxEvent outbox;
  outbox.event_id = "sku-1:1";
  outbox.type = "reservation.created";
  outbox.sku_id = "sku-1";
  outbox.user_id = "alice";
  outbox.sequence = 1;
  outbox.occurred_at = kT0;
  outbox.payload_json = "{\"reservation_id\":\"r-1\"}";
  batch.push_back(core::EventAppended{outbox});
  ASSERT_TRUE(store_->Commit(batch).ok());

  // Second batch: release, checkout, order, stock and override changes.
  core::Mutations second;
  second.push_back(core::ReservationStatusChanged{"r-2", "sku-1", ReservationStatus::kReserved,
                                                  ReservationStatus::kReleased, kT0});
  second.push_back(core::ReservationStatusChanged{"r-1", "sku-1", ReservationStatus::kReserved,
                                                  ReservationStatus::kCheckoutPending, kT0});
  core::Order order;
  order.order_id = "o-1";
  order.reservation_id = "r-1";
  order.sku_id = "sku-1";
  order.user_id = "alice";
  order.quantity = 2;
  order.amount_cents = 2 * 19'999;
  order.currency = "EUR";
  order.payment_method_id = "pm_card_visa";
  order.next_attempt_at = kT0;
  order.created_at = kT0;
  order.updated_at = kT0;
  second.push_back(core::OrderCreated{order});
  second.push_back(core::SaleStockChanged{"sku-1", 10, 12});
  second.push_back(
      core::SaleOverrideChanged{"sku-1", core::SaleOverride::kNone, core::SaleOverride::kClosed});
  ASSERT_TRUE(store_->Commit(second).ok());

  auto reopened = OpenStore(url_);
  ASSERT_NE(reopened, nullptr);
  auto loaded = reopened->Load(kT0 - std::chrono::hours(1));
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  ASSERT_EQ(loaded->sales.size(), 1u);
  EXPECT_EQ(loaded->sales[0].total_stock, 12);
  EXPECT_EQ(loaded->sales[0].override_state, core::SaleOverride::kClosed);
  EXPECT_EQ(loaded->sales[0].per_user_limit, 2);
  // Recovery loads the active reservation (r-1, in checkout); r-2 ended and stays on disk,
  // its units gone from the counters and bob's user units.
  ASSERT_EQ(loaded->reservations.size(), 1u);
  EXPECT_EQ(loaded->reservations[0].reservation_id, "r-1");
  ASSERT_EQ(loaded->counters.size(), 1u);
  EXPECT_EQ(loaded->counters[0].held, 2);
  ASSERT_EQ(loaded->user_units.size(), 1u);
  EXPECT_EQ(loaded->user_units[0].user_id, "alice");
  EXPECT_EQ(loaded->user_units[0].units, 2);
  ASSERT_EQ(loaded->idempotency.size(), 1u);
  EXPECT_EQ(loaded->idempotency[0].key, record.key);
  EXPECT_EQ(loaded->idempotency[0].response_body, record.response_body);
  ASSERT_EQ(loaded->orders.size(), 1u);
  EXPECT_EQ(loaded->orders[0].amount_cents, 2 * 19'999);
  EXPECT_EQ(loaded->audit_head.event_id, 1);
  EXPECT_EQ(loaded->audit_head.event_hash, std::string(64, 'a'));
  ASSERT_EQ(loaded->event_sequences.size(), 1u);
  EXPECT_EQ(loaded->event_sequences[0].second, 1);
  EXPECT_EQ(loaded->synced_through, 2);
  auto counters = reopened->ReadCounters();
  ASSERT_TRUE(counters);
  ASSERT_EQ(counters->size(), 1u);
  EXPECT_EQ((*counters)[0].held, 2);  // r-1 in checkout
  EXPECT_EQ((*counters)[0].sold, 0);
  EXPECT_EQ(QueryValue("SELECT units FROM user_units WHERE user_id = 'bob'"), "0");
}

TEST_F(PgStoreTest, WriterBugsAreRefusedAndNothingIsStored) {
  ASSERT_TRUE(store_->Commit({core::SaleCreated{MakeSale("sku-1", 3, 1)}}).ok());
  // Oversell: four units of three.
  core::Mutations oversell;
  for (int i = 0; i < 4; ++i) {
    oversell.push_back(core::ReservationCreated{
        MakeReservation(Numbered("r-", i), "sku-1", Numbered("user-", i), 1)});
  }
  base::Status status = store_->Commit(oversell);
  EXPECT_EQ(status.code(), StatusCode::kInternal) << status.ToString();
  EXPECT_NE(status.message().find("no_oversell"), std::string::npos) << status.ToString();
  // Per-user limit: two units for one user at limit 1.
  status = store_->Commit({core::ReservationCreated{MakeReservation("r-a", "sku-1", "ann", 1)},
                           core::ReservationCreated{MakeReservation("r-b", "sku-1", "ann", 1)}});
  EXPECT_EQ(status.code(), StatusCode::kInternal) << status.ToString();
  EXPECT_NE(status.message().find("units_within_limit"), std::string::npos);
  // A status change that matches no row (wrong `from`).
  ASSERT_TRUE(
      store_->Commit({core::ReservationCreated{MakeReservation("r-c", "sku-1", "cid", 1)}}).ok());
  status = store_->Commit({core::ReservationStatusChanged{
      "r-c", "sku-1", ReservationStatus::kCheckoutPending, ReservationStatus::kPurchased, kT0}});
  EXPECT_EQ(status.code(), StatusCode::kInternal) << status.ToString();
  EXPECT_EQ(QueryValue("SELECT count(*) FROM reservations"), "1");
  EXPECT_EQ(QueryValue("SELECT held FROM skus"), "1");
  // The store keeps working after refusals.
  EXPECT_TRUE(
      store_->Commit({core::ReservationCreated{MakeReservation("r-d", "sku-1", "dan", 1)}}).ok());
  EXPECT_EQ(QueryValue("SELECT held FROM skus"), "2");
}

TEST_F(PgStoreTest, DirectSqlCannotBreakTheGuards) {
  ASSERT_TRUE(store_
                  ->Commit({core::SaleCreated{MakeSale("sku-1", 1, 1)},
                            core::ReservationCreated{MakeReservation("r-1", "sku-1", "ann", 1)}})
                  .ok());
  const std::string insert =
      "INSERT INTO reservations (reservation_id, sku_id, user_id, quantity, status,"
      " created_at_ms, expires_at_ms, updated_at_ms, version) VALUES ";
  // Oversell by hand: the second unit of a one-unit sale.
  EXPECT_EQ(ExecuteState(insert + "('r-2', 'sku-1', 'bob', 1, 1, 0, 1, 0, 9)"), "23514");
  // Over the limit by hand (stock raised first so only the limit is in the way).
  EXPECT_EQ(ExecuteState("UPDATE skus SET total_stock = 5"), "");
  EXPECT_EQ(ExecuteState(insert + "('r-3', 'sku-1', 'ann', 1, 1, 0, 1, 0, 9)"), "23514");
  // Counters cannot go below the rows, a reservation cannot be deleted or resurrected.
  EXPECT_EQ(ExecuteState("UPDATE skus SET total_stock = 0"), "23514");
  EXPECT_EQ(ExecuteState("DELETE FROM reservations"), "P0001");
  EXPECT_EQ(ExecuteState("UPDATE reservations SET status = 4"), "");
  EXPECT_EQ(ExecuteState("UPDATE reservations SET status = 1"), "P0001");
  EXPECT_EQ(ExecuteState("UPDATE reservations SET user_id = 'eve'"), "P0001");
  // One order per reservation.
  ASSERT_TRUE(
      store_
          ->Commit({core::ReservationCreated{MakeReservation("r-4", "sku-1", "cid", 1)},
                    core::ReservationStatusChanged{"r-4", "sku-1", ReservationStatus::kReserved,
                                                   ReservationStatus::kCheckoutPending, kT0}})
          .ok());
  const std::string order =
      "INSERT INTO orders (order_id, reservation_id, sku_id, user_id, quantity, amount_cents,"
      " currency, status, failure_reason, payment_method_id, attempts, next_attempt_at_ms,"
      " created_at_ms, updated_at_ms, version) VALUES ";
  EXPECT_EQ(ExecuteState(order + "('o-1', 'r-4', 'sku-1', 'cid', 1, 19999, 'EUR', 1, '', 'pm',"
                                 " 0, 0, 0, 0, 9)"),
            "");
  EXPECT_EQ(ExecuteState(order + "('o-2', 'r-4', 'sku-1', 'cid', 1, 19999, 'EUR', 1, '', 'pm',"
                                 " 0, 0, 0, 0, 9)"),
            "23505");
  // Idempotency keys are unique per user.
  const std::string key =
      "INSERT INTO idempotency_keys (user_id, idem_key, request_fingerprint, http_status,"
      " response_body, created_at_ms, version) VALUES ('ann', 'k', 'f', 201, '{}', 0, 9)";
  EXPECT_EQ(ExecuteState(key), "");
  EXPECT_EQ(ExecuteState(key), "23505");
  // The audit trail is append-only.
  EXPECT_EQ(ExecuteState("INSERT INTO audit_events (event_id, event_type, outcome,"
                         " occurred_at_ms, metadata, prev_hash, event_hash)"
                         " VALUES (1, 'RESERVE_ATTEMPT', 'SUCCESS', 0, '{}', 'p', 'h')"),
            "");
  EXPECT_EQ(ExecuteState("UPDATE audit_events SET outcome = 'FAILED'"), "P0001");
  EXPECT_EQ(ExecuteState("DELETE FROM audit_events"), "P0001");
  EXPECT_EQ(ExecuteState("TRUNCATE audit_events"), "P0001");
  EXPECT_EQ(QueryValue("SELECT count(*) FROM audit_events"), "1");
}

TEST_F(PgStoreTest, ABatchReadsWhatOtherWritersCommittedSinceItsLast) {
  auto other = OpenStore(url_);
  ASSERT_NE(other, nullptr);
  auto loaded = store_->Load(kT0);
  ASSERT_TRUE(loaded);
  std::int64_t synced = loaded->synced_through;

  ASSERT_TRUE(other
                  ->Commit({core::SaleCreated{MakeSale("sku-1", 5, 1)},
                            core::ReservationCreated{MakeReservation("r-1", "sku-1", "ann", 1)}})
                  .ok());
  auto changes = store_->BeginBatch(synced);
  ASSERT_TRUE(changes) << changes.error().ToString();
  EXPECT_EQ(changes->sales.size(), 1u);
  ASSERT_EQ(changes->reservations.size(), 1u);
  EXPECT_EQ(changes->reservations[0].reservation_id, "r-1");
  // Own batch: commits under the lock; its number is one past what it synced.
  ASSERT_TRUE(
      store_->Commit({core::ReservationCreated{MakeReservation("r-2", "sku-1", "bob", 1)}}).ok());
  synced = changes->synced_through + 1;

  ASSERT_TRUE(
      other
          ->Commit({core::ReservationStatusChanged{"r-1", "sku-1", ReservationStatus::kReserved,
                                                   ReservationStatus::kReleased, kT0}})
          .ok());
  auto idle = store_->ReadChanges(synced);
  ASSERT_TRUE(idle) << idle.error().ToString();
  ASSERT_EQ(idle->reservations.size(), 1u);  // only the other writer's change, not r-2
  EXPECT_EQ(idle->reservations[0].status, ReservationStatus::kReleased);
  EXPECT_TRUE(idle->sales.empty());

  // While one writer holds the batch lock, another's batch waits for it.
  auto held = store_->BeginBatch(idle->synced_through);
  ASSERT_TRUE(held);
  std::atomic<bool> other_began{false};
  std::thread waiter([&] {
    auto begun = other->BeginBatch(0);
    other_began.store(true);
    EXPECT_TRUE(begun) << begun.error().ToString();
    if (begun) {
      // It sees the holder's batch, committed before it got the lock.
      bool saw_r3 = false;
      for (const auto& r : begun->reservations) saw_r3 = saw_r3 || r.reservation_id == "r-3";
      EXPECT_TRUE(saw_r3);
      other->AbortBatch();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(other_began.load());
  ASSERT_TRUE(
      store_->Commit({core::ReservationCreated{MakeReservation("r-3", "sku-1", "cid", 1)}}).ok());
  waiter.join();
  EXPECT_TRUE(other_began.load());
}

}  // namespace
}  // namespace fs::store
