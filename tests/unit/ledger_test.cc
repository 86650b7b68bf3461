// Goal: the ledger is one object with one undo journal: a batch that changes every part (a
// sale, a reservation, an order, the audit chain, a waiting room) is undone as a whole; a
// stored idempotent reply is replayed byte for byte as it was given; and once the writer
// thread owns the ledger, a batch begun on any other thread stops the process.
#include "core/ledger.h"

#include <gtest/gtest.h>

#include <thread>

namespace fs::core {
namespace {

const Time kT0 = base::TimeFromMillis(1'800'000'000'000);

Sale MakeSale(const std::string& sku_id, WaitingRoomMode room) {
  Sale sale;
  sale.sku_id = sku_id;
  sale.name = "Sale " + sku_id;
  sale.price_cents = 250;
  sale.currency = "EUR";
  sale.total_stock = 5;
  sale.per_user_limit = 2;
  sale.reservation_ttl_seconds = 60;
  sale.waiting_room = room;
  // Inside the default 15-minute pre-queue window, so joins are open.
  if (room == WaitingRoomMode::kOn) sale.starts_at = kT0 + std::chrono::minutes(10);
  return sale;
}

std::string HashOf(std::string_view bytes) { return std::string(64, bytes.empty() ? '0' : 'b'); }

TEST(LedgerTest, OneRollbackUndoesEveryPart) {
  Ledger ledger;
  ledger.EnableAudit(&HashOf, AuditHead{});
  ledger.BeginBatch();
  ASSERT_EQ(ledger.CreateSale(MakeSale("plain", WaitingRoomMode::kOff), kT0).outcome,
            CreateSaleOutcome::kCreated);
  ledger.CommitBatch();
  const AuditHead head = ledger.audit_head();

  ledger.BeginBatch();
  const ReserveCommand reserve{"plain", "ann", 1, "key-1"};
  ASSERT_EQ(ledger.Reserve(reserve, {}, "r1", kT0).outcome, ReserveOutcome::kReserved);
  ledger.StoreReply(reserve, StoredReply{201, "first"}, kT0);
  ASSERT_EQ(ledger.Checkout({"r1", "ann", "pm_card_visa", ""}, "o1", kT0).outcome,
            CheckoutOutcome::kCreated);
  ASSERT_EQ(ledger.CreateSale(MakeSale("queued", WaitingRoomMode::kOn), kT0).outcome,
            CreateSaleOutcome::kCreated);
  ASSERT_EQ(ledger.JoinQueue("queued", "bob", "t1", kT0).outcome, JoinOutcome::kJoined);
  ASSERT_EQ(ledger.AdjustStock("plain", 3, kT0).outcome, AdminSaleOutcome::kChanged);
  EXPECT_FALSE(ledger.mutations().empty());
  ledger.RollbackBatch();

  EXPECT_EQ(ledger.FindReservation("r1"), nullptr);
  EXPECT_EQ(ledger.FindOrder("o1"), nullptr);
  EXPECT_EQ(ledger.idempotency_count(), 0u);
  EXPECT_FALSE(ledger.FindSale("queued").has_value());
  EXPECT_FALSE(ledger.HasRoom("queued"));
  EXPECT_TRUE(ledger.RoomStats().empty());
  EXPECT_EQ(ledger.FindSale("plain")->sale.total_stock, 5);
  EXPECT_EQ(ledger.FindSale("plain")->counters.held, 0);
  EXPECT_EQ(ledger.UserUnits("plain", "ann"), 0);
  EXPECT_EQ(ledger.EventSequence("plain"), 0);
  EXPECT_EQ(ledger.audit_head().event_id, head.event_id);
  EXPECT_EQ(ledger.audit_head().event_hash, head.event_hash);
  ledger.CheckInvariants();
}

TEST(LedgerTest, AStoredReplyIsReplayedAsItWasGiven) {
  Ledger ledger;
  ledger.BeginBatch();
  ASSERT_EQ(ledger.CreateSale(MakeSale("plain", WaitingRoomMode::kOff), kT0).outcome,
            CreateSaleOutcome::kCreated);
  const ReserveCommand reserve{"plain", "ann", 1, "key-1"};
  ASSERT_EQ(ledger.Reserve(reserve, {}, "r1", kT0).outcome, ReserveOutcome::kReserved);
  const std::string body = "{\"reservation_id\":\"r1\",\"note\":\"\\u00e9\"}";
  ledger.StoreReply(reserve, StoredReply{201, body}, kT0);
  int stored = 0;
  for (const Mutation& mutation : ledger.mutations()) {
    if (const auto* record = std::get_if<IdempotencyStored>(&mutation)) {
      ++stored;
      EXPECT_EQ(record->record.http_status, 201);
      EXPECT_EQ(record->record.response_body, body);
      EXPECT_EQ(record->record.request_fingerprint, ReserveFingerprint(reserve));
    }
  }
  EXPECT_EQ(stored, 1);
  ledger.CommitBatch();

  ledger.BeginBatch();
  const ReserveResult replay = ledger.Reserve(reserve, {}, "r2", kT0);
  ASSERT_EQ(replay.outcome, ReserveOutcome::kReplayed);
  EXPECT_EQ(replay.replay->http_status, 201);
  EXPECT_EQ(replay.replay->response_body, body);
  EXPECT_TRUE(ledger.mutations().empty());  // a replay changes nothing
  ledger.CommitBatch();
}

TEST(LedgerDeathTest, ABatchOffTheOwnerThreadStopsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Ledger ledger;
  ledger.owner().Bind();
  ledger.BeginBatch();  // the owner thread passes
  ledger.CommitBatch();
  EXPECT_DEATH(
      {
        std::thread other([&ledger] { ledger.BeginBatch(); });
        other.join();
      },
      "FS_CHECK failed");
  ledger.owner().Unbind();
}

}  // namespace
}  // namespace fs::core
